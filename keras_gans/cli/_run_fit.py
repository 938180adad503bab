"""The part of `keras-gans train` every family shares: fit in a run folder, then export."""

from pathlib import Path

from keras_gans.training import runs


def fit_in_run_folder(args, previous, started, model, data, work, chief, grid, exporter, noun, *,
                      from_model):
    """`model.fit` with the run folder's callbacks and records, then `--export` (by `exporter`).

    `from_model` says the caller loaded `model` from the run's `model.keras`
    (`runs.resumes_from_model`): fit then continues at the epoch `previous` records.

    The part of a training run every family shares: history.csv (per epoch) and
    history_steps.csv (every `--log-every` generator steps), the sample grid of the family
    (`grid`), TensorBoard (logs/train: Keras' epoch scalars, the per-step curves, the grids),
    the checkpoint and the backup that resumes a killed run, the run record after each
    epoch; at the end the loss curves, the progress strip and the export.
    """
    import keras

    from keras_gans.training import callbacks as run_callbacks

    config = runs.run_config(vars(args))

    def record(status, epochs_done, extra=None):
        runs.write_run(work, config, status, epochs_done, epochs=args.epochs, started=started,
                       command=getattr(args, "command_line", None), extra=extra)

    record("running", (previous or {}).get("epochs_done", 0))
    initial_epoch = previous["epochs_done"] if from_model else 0

    class _RunRecord(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            record("running", epoch + 1)

    callbacks = [
        run_callbacks.HistoryCSV(work / "history.csv"),
        run_callbacks.StepHistory(work / "history_steps.csv", every=args.log_every, log_dir=work / "logs" / "train"),
        grid,
        keras.callbacks.TensorBoard(str(work / "logs"), write_graph=False),
        keras.callbacks.ModelCheckpoint(str(work / "model.keras")),
        _RunRecord(),
        # Last, so a checkpoint is only taken once every other file of the epoch is
        # written: a run killed at any point resumes at an epoch whose files exist.
        run_callbacks.BackupAndRestore(work / "backup"),
    ]
    model.fit(data, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
              initial_epoch=initial_epoch, callbacks=callbacks, verbose=args.verbose)

    if chief:
        from keras_gans.training import progress

        run_callbacks.plot_curves(work / "history_steps.csv", work / "loss_curves.png")
        progress.write_progress(work)
    record("finished", args.epochs)
    if args.export and chief:
        version = exporter(model, args.export, training=runs.training_record(model, work / runs.RUN_FILENAME))
        exported = str(Path(args.export) / str(version))
        record("finished", args.epochs, {"exported": exported})
        print(f"exported the {noun} to {exported}")
    print(f"run folder: {work} (history.csv, history_steps.csv, loss_curves.png, progress.png, "
          "progress.gif, samples/, model.keras, logs/: tensorboard --logdir " + str(work / "logs") + ")")
