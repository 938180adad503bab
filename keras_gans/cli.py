"""The `keras-gans` command: train, export, serve, sample, evaluate.

    keras-gans train dcgan --dataset ../shared/data/mnist --epochs 5 --out runs/dcgan
    keras-gans export runs/dcgan --to saved_models/dcgan_mnist
    keras-gans serve --model_config_file serving/models.config --port 8500 --rest_api_port 8501
    keras-gans sample --server http://localhost:8501 --model dcgan_mnist -n 64 --seed 7 --out grid.png
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# What makes two runs the same run: resuming with different values would silently mix
# two experiments in one folder.
RUN_KEYS = (
    "model", "dataset", "split", "batch_size", "strategy", "precision", "seed", "latent_dim",
    "width", "hidden", "d_steps", "loss", "lr", "pack", "spectral_norm", "steps_per_epoch", "init",
)
# Flags that shape a new model; with --init the model comes from the .keras file instead.
ARCHITECTURE_FLAGS = {
    "latent_dim": None, "width": None, "hidden": None, "d_steps": None, "loss": None, "pack": 1,
    "spectral_norm": False,
}


def _add_train(sub):
    p = sub.add_parser("train", help="train a GAN with model.fit")
    p.add_argument("model", help="family: vanilla_gan, dcgan, cgan, wgan, wgan_gp")
    p.add_argument("--dataset", required=True,
                   help="TFDS name (mnist, fashion_mnist, cifar10, celeb_a), ring8, grid25, or a "
                        "path: folder of MNIST IDX .gz files, .npz, or image folder")
    p.add_argument("--split", default="train")
    p.add_argument("--data-dir", default=None, help="TFDS data_dir")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64,
                   help="m: real examples per discriminator update (global, over all replicas); "
                        "each training step reads d_steps * m examples")
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--strategy", default="auto",
                   help="auto, one_device, mirrored, multi_worker (TF_CONFIG), tpu")
    p.add_argument("--precision", default="float32", choices=PRECISIONS)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", required=True, help="run folder (checkpoints, history, samples)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (e.g. with more --epochs)")
    p.add_argument("--init", default=None, metavar="MODEL.keras",
                   help="fine-tune: start from this saved GAN (e.g. saved_models/dcgan_mnist/"
                        "dcgan_mnist.keras), its weights and optimizer state, instead of a new model")
    p.add_argument("--export", default=None, metavar="BASE_PATH",
                   help="export the generator as a SavedModel version under BASE_PATH at the end")
    p.add_argument("--latent-dim", type=int, default=None)
    p.add_argument("--width", type=int, default=None, help="DCGAN g_width and d_width")
    p.add_argument("--hidden", type=int, default=None, help="MLP hidden width (2 layers)")
    p.add_argument("--d-steps", type=int, default=None, help="k (family default when omitted)")
    p.add_argument("--loss", default=None, help="GAN loss name (family default when omitted)")
    p.add_argument("--lr", type=float, default=None, help="learning rate of both optimizers")
    p.add_argument("--pack", type=int, default=1, help="PacGAN packing m")
    p.add_argument("--spectral-norm", action="store_true")
    p.add_argument("--samples", type=int, default=64, help="samples per epoch grid")
    p.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity (0, 1, 2)")
    p.set_defaults(func=cmd_train)


def _run_config(args):
    return {key: getattr(args, key) for key in RUN_KEYS}


def _check_out_folder(args):
    """Decides between a new run, an automatic resume and a refusal, before any work."""
    out = Path(args.out)
    run_file = out / "run.json"
    if not run_file.exists():
        leftovers = [p.name for p in out.glob("*") if p.name in ("backup", "model.keras", "history.csv")]
        if leftovers:
            raise SystemExit(
                f"error: {out} holds another run's files ({', '.join(leftovers)}) but no run.json; "
                "choose a new --out folder."
            )
        return None
    previous = json.loads(run_file.read_text())
    config = _run_config(args)
    if args.seed is None:
        config["seed"] = previous["config"].get("seed")
    differing = {k: (previous["config"].get(k), v) for k, v in config.items() if previous["config"].get(k) != v}
    if differing:
        detail = "; ".join(f"{k}: {old!r} there, {new!r} now" for k, (old, new) in differing.items())
        raise SystemExit(
            f"error: {out} holds another run's checkpoints ({detail}). Choose a new --out folder, "
            "or repeat that run's settings to continue it."
        )
    if previous["status"] == "finished" and not args.resume:
        raise SystemExit(
            f"error: {out} holds a finished run of {previous['epochs_done']} epochs. Pass --resume "
            "(with a larger --epochs) to train it further, or choose a new --out folder."
        )
    return previous


def _write_run(out, args, status, epochs_done, started, extra=None):
    record = {
        "config": _run_config(args),
        "command": getattr(args, "command_line", None),
        "status": status,
        "epochs_done": epochs_done,
        "epochs": args.epochs,
        "wall_time_seconds": round(time.time() - started, 1),
        **(extra or {}),
    }
    tmp = out / "run.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, out / "run.json")


def _build_gan(args, image_shape, num_classes):
    import keras_gans as kg

    cls = kg.models.get(args.model)
    kwargs = {"image_shape": image_shape, "seed": args.seed, "pack": args.pack}
    if args.latent_dim:
        kwargs["latent_dim"] = args.latent_dim
    if args.spectral_norm:
        kwargs["spectral_norm"] = True
        if args.model != "vanilla_gan":
            kwargs["norm"] = "none"
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if args.width and args.model != "vanilla_gan":
        kwargs.update(g_width=args.width, d_width=args.width)
    if args.hidden:
        kwargs.update(g_hidden=(args.hidden, args.hidden), d_hidden=(args.hidden, args.hidden))
    return cls(**kwargs)


def _check_init(args):
    """--init names a .keras file, and no flag that would shape a different model."""
    path = Path(args.init)
    if path.suffix != ".keras" or not path.is_file():
        raise SystemExit(f"error: --init must be a .keras file saved by keras-gans; got {args.init!r}")
    conflicting = [
        "--" + key.replace("_", "-") for key, default in ARCHITECTURE_FLAGS.items() if getattr(args, key) != default
    ]
    if conflicting:
        raise SystemExit(
            f"error: {', '.join(conflicting)} cannot be used with --init: the networks, loss and "
            f"d_steps come from {args.init}. Drop them, or train a new model without --init."
        )


def _load_init(args, image_shape, num_classes):
    """The GAN of --init, checked against the family asked for and the data, with --lr applied."""
    import keras

    gan = keras.models.load_model(args.init)
    if gan.family != args.model:
        raise SystemExit(f"error: --init {args.init} holds a {gan.family} model, not {args.model}")
    if tuple(gan.image_shape) != tuple(image_shape) or gan.num_classes != num_classes:
        raise SystemExit(
            f"error: --init {args.init} makes samples of shape {tuple(gan.image_shape)} with "
            f"num_classes={gan.num_classes}; {args.dataset} has shape {tuple(image_shape)} and "
            f"num_classes={num_classes}."
        )
    if gan.precision != args.precision:
        # Fine-tuning in another precision: same weights and optimizer state, new layers.
        gan = gan.with_precision(args.precision)
    if gan.d_optimizer is None or gan.g_optimizer is None:
        _compile(gan, args)
    elif args.lr is not None:
        for optimizer in (gan.d_optimizer, gan.g_optimizer):
            optimizer.learning_rate.assign(args.lr)
    return gan


def _compile(gan, args):
    d_opt, g_opt = gan.default_optimizers()
    if args.lr is not None:
        d_opt.learning_rate.assign(args.lr)
        g_opt.learning_rate.assign(args.lr)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, loss=args.loss, d_steps=args.d_steps)


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def _dataset_facts(args, conditional):
    """(sample shape, number of classes or None) of the training data, read cheaply."""
    import keras_gans as kg

    if args.dataset in kg.data.dataset_names("mixture"):
        mixture = kg.data.mixture(args.dataset)
        return (2,), (mixture.num_modes if conditional else None)
    if args.dataset in kg.data.dataset_names("tfds"):
        probe = kg.data.load(args.dataset, split=args.split, batch_size=None, labels=conditional,
                             data_dir=args.data_dir, cache=False, shuffle=False)
        spec = probe.element_spec[0] if conditional else probe.element_spec
        return tuple(int(d) for d in spec.shape), (10 if conditional else None)
    images, labels = kg.data.load_arrays(args.dataset, split=args.split)
    if conditional and labels is None:
        raise ValueError(f"a conditional GAN needs labels, and {args.dataset} has none")
    return images.shape[1:], (int(labels.max()) + 1 if conditional else None)


def cmd_train(args):
    import keras_gans as kg

    if args.model not in kg.models.FAMILIES:
        raise SystemExit(f"error: unknown model {args.model!r}; valid: {', '.join(sorted(kg.models.FAMILIES))}")
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit(f"error: --epochs and --batch-size must be >= 1; got {args.epochs} and {args.batch_size}")
    if args.init is not None:
        _check_init(args)
    previous = _check_out_folder(args)
    if previous is not None and args.seed is None:
        args.seed = previous["config"]["seed"]
    if args.seed is None:
        import secrets

        args.seed = secrets.randbelow(2**31)
    started = time.time() - (previous or {}).get("wall_time_seconds", 0.0)

    import keras

    keras.utils.set_random_seed(args.seed)
    # The policy is global: set for this run only, so a caller in the same process (a
    # test, a notebook) gets its own back.
    with kg.models.precision_scope(args.precision):
        _train(args, previous, started)


def _train(args, previous, started):
    import keras

    import keras_gans as kg

    strategy = kg.distribute.get_strategy(args.strategy)
    cls = kg.models.get(args.model)
    conditional = cls is kg.models.ConditionalGAN
    image_shape, num_classes = _dataset_facts(args, conditional)

    out = Path(args.out)
    chief = _is_chief(strategy)
    work = out if chief else out / f"worker_{strategy.cluster_resolver.task_id}"

    resume_from_model = previous is not None and previous["status"] == "finished"
    with strategy.scope():
        if resume_from_model:
            gan = keras.models.load_model(out / "model.keras")
        elif args.init is not None:
            gan = _load_init(args, image_shape, num_classes)
        else:
            gan = _build_gan(args, image_shape, num_classes)
            _compile(gan, args)
    k = gan.d_steps
    step_batch = kg.distribute.global_batch_size(args.batch_size * k, strategy)
    per_replica = step_batch // strategy.num_replicas_in_sync
    if per_replica % (k * gan.pack):
        raise SystemExit(
            f"error: each replica gets {per_replica} examples per step, which must split into "
            f"d_steps = {k} minibatches of a multiple of pack = {gan.pack}; change --batch-size."
        )
    work.mkdir(parents=True, exist_ok=True)  # only once the model and the batch are known good
    data = kg.data.load(args.dataset, split=args.split, batch_size=step_batch, labels=conditional,
                        seed=args.seed, data_dir=args.data_dir)
    if args.steps_per_epoch:
        data = data.repeat()

    _write_run(work, args, "running", (previous or {}).get("epochs_done", 0), started)
    initial_epoch = previous["epochs_done"] if resume_from_model else 0

    class _RunRecord(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            _write_run(work, args, "running", epoch + 1, started)

    callbacks = [
        kg.callbacks.HistoryCSV(work / "history.csv"),
        kg.callbacks.SampleGrid(work / "samples", n=args.samples, seed=0),
        keras.callbacks.TensorBoard(str(work / "logs"), write_graph=False),
        keras.callbacks.ModelCheckpoint(str(work / "model.keras")),
        _RunRecord(),
        # Last, so a checkpoint is only taken once every other file of the epoch is
        # written: a run killed at any point resumes at an epoch whose files exist.
        kg.callbacks.BackupAndRestore(work / "backup"),
    ]
    gan.fit(data, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
            initial_epoch=initial_epoch, callbacks=callbacks, verbose=args.verbose)

    if chief:
        kg.callbacks.plot_history(work / "history.csv", work / "loss_curves.png")
    _write_run(work, args, "finished", args.epochs, started)
    if args.export and chief:
        version = kg.export.export_generator(
            gan, args.export, training=training_record(gan, work / "run.json")
        )
        exported = str(Path(args.export) / str(version))
        _write_run(work, args, "finished", args.epochs, started, {"exported": exported})
        print(f"exported the generator to {exported}")
    print(f"run folder: {work} (history.csv, loss_curves.png, samples/, model.keras, logs/)")


def training_record(gan, run_json=None):
    """What a card records of how a generator was trained: the run's command and settings
    (from its run.json), and the steps the optimizers took."""
    record = json.loads(Path(run_json).read_text()) if run_json and Path(run_json).exists() else {}
    init = (record.get("config") or {}).get("init")
    if init:
        # A fine-tuned generator: how its starting point was trained, from the card beside
        # a shipped .keras file or the run record beside a run's model.keras.
        card, run = Path(init).parent / "card.json", Path(init).parent / "run.json"
        if card.exists():
            record["init_training"] = json.loads(card.read_text()).get("training")
        elif run.exists():
            record["init_training"] = json.loads(run.read_text())
    record["generator_steps"] = int(gan.g_optimizer.iterations.numpy()) if gan.g_optimizer else 0
    record["discriminator_steps"] = int(gan.d_optimizer.iterations.numpy()) if gan.d_optimizer else 0
    if gan.d_optimizer is not None:
        record["d_steps"], record["loss"] = gan.d_steps, gan.get_compile_config()["loss"]
    return record


def _add_export(sub):
    p = sub.add_parser("export", help="export a trained generator as a TF Serving SavedModel")
    p.add_argument("source", help="a run folder (with model.keras) or a .keras file")
    p.add_argument("--to", required=True, help="model base path, e.g. saved_models/dcgan_mnist")
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--max-num-samples", type=int, default=1024)
    p.add_argument("--with-keras", action="store_true",
                   help="also copy the .keras file beside the versions (NAME/NAME.keras), "
                        "to resume or fine-tune; TF Serving ignores it")
    p.set_defaults(func=cmd_export)


def cmd_export(args):
    import keras

    import keras_gans as kg

    source = Path(args.source)
    path = source / "model.keras" if source.is_dir() else source
    if not path.exists():
        raise SystemExit(f"error: {args.source} is neither a .keras file nor a run folder with model.keras")
    gan = keras.models.load_model(path)
    training = training_record(gan, source / "run.json" if source.is_dir() else None)
    version = kg.export.export_generator(gan, args.to, version=args.version,
                                         max_num_samples=args.max_num_samples, training=training)
    print(f"exported {path} to {Path(args.to) / str(version)}")
    if args.with_keras:
        target = Path(args.to) / f"{Path(args.to).name}.keras"
        tmp = target.with_suffix(".keras.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        print(f"copied {path} to {target}")


def _add_passthrough(sub, name, help_text):
    # Listed for `keras-gans --help`; main() hands their arguments on before parsing.
    sub.add_parser(name, help=help_text, add_help=False)


def _serve(argv):
    from keras_gans.serving import server

    return server.main(argv)


def _serving_config(argv):
    parser = argparse.ArgumentParser(prog="keras-gans serving-config",
                                     description="regenerate models.config for saved_models/")
    parser.add_argument("saved_models", nargs="?", default="saved_models")
    parser.add_argument("--out", default="serving/models.config")
    parser.add_argument("--base-path-prefix", default="/models",
                        help="where the server sees saved_models/ (default /models, as the "
                             "docker-compose and k8s files mount it; \"\" for this machine's absolute paths)")
    args = parser.parse_args(argv)
    from keras_gans.serving import config

    config.write_models_config(args.saved_models, args.out, base_path_prefix=args.base_path_prefix)
    print(f"wrote {args.out}")


def _sample(argv):
    from keras_gans.serving import client

    return client.main(argv)


def _evaluate(argv):
    from keras_gans import evaluation

    return evaluation.main(argv)


PASSTHROUGH = {
    "serve": ("serve SavedModels over TF Serving's REST and gRPC APIs (its flags)", _serve),
    "serving-config": ("write models.config for a saved_models folder", _serving_config),
    "sample": ("request samples from a server and write a grid PNG", _sample),
    "evaluate": ("measure a generator (MNIST FID, IS, KID, class balance)", _evaluate),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="keras-gans", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_export(sub)
    for name, (help_text, _) in PASSTHROUGH.items():
        _add_passthrough(sub, name, help_text)
    try:
        if argv and argv[0] in PASSTHROUGH:
            # These commands own their flags (serve takes tensorflow_model_server's).
            result = PASSTHROUGH[argv[0]][1](argv[1:])
        else:
            args = parser.parse_args(argv)
            args.command_line = "keras-gans " + " ".join(shlex.quote(a) for a in argv)
            result = args.func(args)
    except ValueError as error:  # the project's bad-input errors: one clear line
        raise SystemExit(f"error: {error}") from None
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
