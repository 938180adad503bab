"""The `keras-gans` command as a user runs it: train, resume, export, and its errors."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_gans.models  # noqa: F401  (registers the model classes for keras.models.load_model)
from keras_gans import cli, record_paths
from tests.conftest import ROOT

SUBSET = str(ROOT / "tests" / "data" / "mnist")  # 1,000 real test digits
TINY = ["--split", "test", "--width", "4", "--latent-dim", "8", "--batch-size", "20", "--seed", "3"]


def keras_gans(*args, timeout=600):
    """Runs `keras-gans ARGS` as a separate process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "keras_gans.cli", *args], capture_output=True, text=True,
        timeout=timeout, cwd=ROOT,
    )


def history_rows(run):
    with open(Path(run) / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_train_writes_grid_curves_history_checkpoint_and_export(tmp_path):
    run, export = tmp_path / "run", tmp_path / "saved" / "dcgan_tiny"
    done = keras_gans("train", "dcgan", "--dataset", SUBSET, *TINY, "--epochs", "2",
                      "--steps-per-epoch", "5", "--out", str(run), "--export", str(export))
    assert done.returncode == 0, done.stderr[-3000:]
    assert [int(r["epoch"]) for r in history_rows(run)] == [1, 2]
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(history_rows(run)[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["samples_epoch_0001.png", "samples_epoch_0002.png"]
    assert (run / "loss_curves.png").stat().st_size > 1000
    assert list((run / "logs").rglob("events.out.tfevents.*")), "no TensorBoard logs"
    gan = keras.models.load_model(run / "model.keras")
    assert int(gan.g_optimizer.iterations.numpy()) == 10
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "finished" and record["epochs_done"] == 2
    assert record["command"].startswith("keras-gans train dcgan --dataset ")
    assert (export / "1" / "saved_model.pb").exists()
    card = json.loads((export / "card.json").read_text())
    assert card["family"] == "dcgan"
    # `keras-gans export` of the run folder adds the next version.
    done = keras_gans("export", str(run), "--to", str(export))
    assert done.returncode == 0, done.stderr[-2000:]
    assert (export / "2" / "saved_model.pb").exists()


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_and_loses_no_epochs(tmp_path):
    steps, epochs = 25, 3
    args = ["train", "wgan_gp", "--dataset", SUBSET, *TINY, "--epochs", str(epochs),
            "--steps-per-epoch", str(steps), "--verbose", "0"]
    whole = keras_gans(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]

    run = tmp_path / "killed"
    command = [sys.executable, "-m", "keras_gans.cli", *args, "--out", str(run)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    # Killed as soon as its first epoch is backed up: in the middle of the second.
    while not list((run / "backup").glob("epoch-*")):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(history_rows(run)) < epochs, "killed too late to test anything"
    assert json.loads((run / "run.json").read_text())["status"] == "running"

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [int(r["epoch"]) for r in history_rows(run)] == list(range(1, epochs + 1))
    # The optimizers came back with the run: their iteration counts continue (a fresh
    # optimizer would have restarted at 0 and ended short of the uninterrupted run).
    resumed = keras.models.load_model(run / "model.keras")
    uninterrupted = keras.models.load_model(tmp_path / "whole" / "model.keras")
    for name in ("g_optimizer", "d_optimizer"):
        a, b = getattr(resumed, name), getattr(uninterrupted, name)
        assert int(a.iterations.numpy()) == int(b.iterations.numpy())
        for slot_a, slot_b in zip(a.variables, b.variables):
            assert slot_a.shape == slot_b.shape
    assert int(resumed.g_optimizer.iterations.numpy()) == epochs * steps
    assert int(resumed.d_optimizer.iterations.numpy()) == epochs * steps * 5


def expect_error(argv, *fragments):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    message = str(exit_info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_unknown_model_lists_the_valid_ones(tmp_path):
    expect_error(["train", "stylegan", "--dataset", SUBSET, "--out", str(tmp_path)],
                 "unknown model 'stylegan'", ", ".join(sorted(sys.modules["keras_gans.models"].FAMILIES)))


def test_flags_a_family_does_not_take_are_refused_by_name(tmp_path):
    expect_error(["train", "unrolled_gan", "--dataset", "ring8", "--width", "8", "--out", str(tmp_path / "r")],
                 "--width does not apply to unrolled_gan")
    assert not (tmp_path / "r").exists()
    expect_error(["train", "dcgan", "--dataset", "ring8", "--label-projection", "--out", str(tmp_path / "d")],
                 "--label-projection does not apply to dcgan")
    assert not (tmp_path / "d").exists()


# A value for each setting that shapes a noise-to-image GAN (runs.ARCHITECTURE_DEFAULTS), as a flag.
_SHAPING_FLAGS = {"latent_dim": ["--latent-dim", "8"], "width": ["--width", "8"], "hidden": ["--hidden", "8"],
                  "d_steps": ["--d-steps", "2"], "loss": ["--loss", "minimax"], "pack": ["--pack", "2"],
                  "spectral_norm": ["--spectral-norm"], "label_projection": ["--label-projection"]}


def test_translators_refuse_every_noise_to_image_setting_by_name(tmp_path):
    from keras_gans.training import runs

    # A new setting of the run record cannot be forgotten here: the table must name it.
    assert set(_SHAPING_FLAGS) == set(runs.ARCHITECTURE_DEFAULTS)
    for key, flag in _SHAPING_FLAGS.items():
        if key == "width":  # the translators' width too
            continue
        out = tmp_path / key
        expect_error(["train", "pix2pix", "--dataset", "mnist_edges", "--mnist", SUBSET, *flag, "--out", str(out)],
                     f"{flag[0]} does not apply to pix2pix (an image-to-image model)")
        assert not out.exists()
    message = expect_error(["train", "cyclegan", "--dataset", "mnist_invert", "--mnist", SUBSET, "--pack", "2",
                            "--spectral-norm", "--out", str(tmp_path / "c")], "do not apply to cyclegan")
    assert "--pack" in message and "--spectral-norm" in message


def test_unknown_dataset_lists_the_valid_ones(tmp_path):
    expect_error(["train", "dcgan", "--dataset", "imagenet21k", "--out", str(tmp_path / "r")],
                 "imagenet21k", "mnist", "ring8")


def test_batch_not_divisible_by_replicas(tmp_path, mirrored):
    expect_error(["train", "vanilla_gan", "--dataset", "ring8", "--batch-size", "3", "--strategy", "mirrored",
                  "--out", str(tmp_path / "r")], "3", "2 replicas")


def test_out_folder_of_another_run_is_not_overwritten(tmp_path):
    run = tmp_path / "run"
    cli.main(["train", "vanilla_gan", "--dataset", "ring8", "--batch-size", "50", "--hidden", "8",
              "--steps-per-epoch", "2", "--seed", "1", "--out", str(run), "--verbose", "0"])
    before = (run / "model.keras").read_bytes()
    expect_error(["train", "vanilla_gan", "--dataset", "grid25", "--batch-size", "50", "--hidden", "8",
                  "--steps-per-epoch", "2", "--out", str(run)], "another run", "dataset: 'ring8' there, 'grid25' now")
    expect_error(["train", "vanilla_gan", "--dataset", "ring8", "--batch-size", "50", "--hidden", "8",
                  "--steps-per-epoch", "2", "--out", str(run)], "finished run of 1 epochs", "--resume")
    assert (run / "model.keras").read_bytes() == before
    # --resume trains the finished run further.
    cli.main(["train", "vanilla_gan", "--dataset", "ring8", "--batch-size", "50", "--hidden", "8",
              "--steps-per-epoch", "2", "--out", str(run), "--resume", "--epochs", "3", "--verbose", "0"])
    assert [int(r["epoch"]) for r in history_rows(run)] == [1, 2, 3]
    assert int(keras.models.load_model(run / "model.keras").g_optimizer.iterations.numpy()) == 6


def test_a_run_folder_copied_without_its_backups_continues_from_its_checkpoint(tmp_path):
    # A committed run in progress: model.keras and a `running` record, no backup/ (a
    # session that ended mid-run; resumed from the commit on another machine).
    run = tmp_path / "run"
    flags = ["train", "vanilla_gan", "--dataset", "ring8", "--batch-size", "50", "--hidden", "8",
             "--steps-per-epoch", "2", "--seed", "1", "--out", str(run), "--verbose", "0"]
    cli.main([*flags, "--epochs", "2"])
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(record | {"status": "running", "epochs": 3}))
    assert not (run / "backup").exists()
    first_grid = run / "samples" / "samples_epoch_0001.png"
    written = first_grid.stat().st_mtime_ns
    cli.main([*flags, "--epochs", "3"])
    assert [int(r["epoch"]) for r in history_rows(run)] == [1, 2, 3]
    assert first_grid.stat().st_mtime_ns == written, "epochs 1 and 2 were trained again"
    assert int(keras.models.load_model(run / "model.keras").g_optimizer.iterations.numpy()) == 6
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


def test_ema_decay_trains_an_averaged_generator_and_bad_values_are_refused_first(tmp_path):
    run = tmp_path / "run"
    cli.main(["train", "vanilla_gan", "--dataset", "ring8", "--batch-size", "50", "--hidden", "8",
              "--steps-per-epoch", "3", "--seed", "1", "--ema-decay", "0.5", "--out", str(run), "--verbose", "0"])
    gan = keras.models.load_model(run / "model.keras")
    assert gan.ema_decay == 0.5
    assert json.loads((run / "run.json").read_text())["config"]["ema_decay"] == 0.5
    # The average trails the trained weights: after 3 updates it differs from them.
    assert any(not np.allclose(a.numpy(), w.numpy()) for a, w in zip(gan._ema, gan.generator.trainable_variables))
    # Another decay is another run.
    expect_error(["train", "vanilla_gan", "--dataset", "ring8", "--batch-size", "50", "--hidden", "8",
                  "--steps-per-epoch", "3", "--ema-decay", "0.9", "--out", str(run), "--resume"],
                 "ema_decay: 0.5 there, 0.9 now")
    expect_error(["train", "vanilla_gan", "--dataset", "ring8", "--ema-decay", "1.5", "--out", str(tmp_path / "a")],
                 "ema_decay must be in (0, 1)", "got 1.5")
    expect_error(["train", "cyclegan", "--dataset", "mnist_invert", "--mnist", SUBSET, "--ema-decay", "0.9",
                  "--out", str(tmp_path / "c")], "--ema-decay does not apply to cyclegan")
    assert not any((tmp_path / name).exists() for name in "ac")


def test_folder_with_checkpoints_but_no_record(tmp_path):
    (tmp_path / "backup").mkdir()
    expect_error(["train", "dcgan", "--dataset", SUBSET, "--out", str(tmp_path)], "another run's files", "backup")


def test_fine_tune_in_another_precision_keeps_weights_and_optimizer_state(tmp_path):
    ring = ["--dataset", "ring8", "--batch-size", "50", "--verbose", "0"]
    first, tuned = tmp_path / "first", tmp_path / "tuned"
    cli.main(["train", "vanilla_gan", *ring, "--hidden", "8", "--steps-per-epoch", "2", "--seed", "1",
              "--out", str(first)])
    cli.main(["train", "vanilla_gan", *ring, "--steps-per-epoch", "1", "--init", str(first / "model.keras"),
              "--lr", "0", "--precision", "mixed_float16", "--out", str(tuned)])
    assert keras.mixed_precision.global_policy().name == "float32"  # the run's policy was its own
    start, end = keras.models.load_model(first / "model.keras"), keras.models.load_model(tuned / "model.keras")
    assert (start.precision, end.precision) == ("float32", "mixed_float16")
    assert isinstance(end.d_optimizer, keras.optimizers.LossScaleOptimizer)
    for a, b in zip(start.generator.get_weights(), end.generator.get_weights()):
        np.testing.assert_array_equal(a, b)  # learning rate 0
    assert int(end.g_optimizer.iterations.numpy()) == 2 + 1
    assert int(end.train_steps.numpy()) == 3
    # With --ema-decay: the same run on, now averaging its generator from the loaded weights.
    averaged = tmp_path / "averaged"
    cli.main(["train", "vanilla_gan", *ring, "--steps-per-epoch", "2", "--init", str(first / "model.keras"),
              "--ema-decay", "0.5", "--out", str(averaged)])
    end = keras.models.load_model(averaged / "model.keras")
    assert end.ema_decay == 0.5 and int(end.g_optimizer.iterations.numpy()) == 2 + 2
    assert any(not np.allclose(a.numpy(), s) for a, s in zip(end._ema, start.generator.get_weights()))


def test_fine_tune_from_a_keras_file_continues_its_weights_and_optimizer(tmp_path):
    ring = ["--dataset", "ring8", "--batch-size", "50", "--verbose", "0"]
    first, shipped = tmp_path / "first", tmp_path / "saved" / "ring_gan"
    cli.main(["train", "vanilla_gan", *ring, "--hidden", "8", "--steps-per-epoch", "2", "--seed", "1",
              "--out", str(first), "--export", str(shipped)])
    cli.main(["export", str(first), "--to", str(shipped), "--with-keras"])
    init = shipped / "ring_gan.keras"

    # A learning rate of 0 leaves the weights where --init put them: they are the init's,
    # not a new model's; the optimizers count on from the init's steps.
    tuned = tmp_path / "tuned"
    cli.main(["train", "vanilla_gan", *ring, "--steps-per-epoch", "3", "--init", str(init), "--lr", "0",
              "--out", str(tuned), "--export", str(shipped)])
    start, end = keras.models.load_model(init), keras.models.load_model(tuned / "model.keras")
    for a, b in zip(start.generator.get_weights(), end.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(end.g_optimizer.iterations.numpy()) == 2 + 3
    card = json.loads((shipped / "card.json").read_text())
    assert card["latest_version"] == 3
    training = card["training"]  # the latest version's, also under card["versions"]["3"]
    # Paths in a card are relative to its folder (keras_gans.record_paths).
    assert training["config"]["init"] == "ring_gan.keras" and training["generator_steps"] == 5
    assert training["init_training"]["generator_steps"] == 2
    # From a run folder's model.keras, the run record beside it.
    again = tmp_path / "again"
    cli.main(["train", "vanilla_gan", *ring, "--steps-per-epoch", "1", "--init", str(tuned / "model.keras"),
              "--out", str(again)])
    cli.main(["export", str(again), "--to", str(shipped)])
    training = json.loads((shipped / "card.json").read_text())["training"]
    run_record = json.loads((tuned / "run.json").read_text())  # its paths relative to its folder
    assert training["init_training"] == record_paths.portable(record_paths.resolve(run_record, tuned), shipped)
    init_training = training["init_training"]
    assert (init_training["config"]["init"], init_training["exported"]) == ("ring_gan.keras", "3")
    assert training["generator_steps"] == 6

    # Flags that would make another model, another family or other data are refused up front.
    expect_error(["train", "vanilla_gan", *ring, "--init", str(init), "--hidden", "16", "--out", str(tmp_path / "a")],
                 "--hidden cannot be used with --init")
    expect_error(["train", "wgan_gp", *ring, "--init", str(init), "--out", str(tmp_path / "b")],
                 "holds a vanilla_gan model, not wgan_gp")
    expect_error(["train", "vanilla_gan", "--dataset", SUBSET, "--split", "test", "--init", str(init),
                  "--out", str(tmp_path / "c")], "shape (2,)", "(28, 28, 1)")
    expect_error(["train", "vanilla_gan", *ring, "--init", str(first / "run.json"), "--out", str(tmp_path / "d")],
                 "--init must be a .keras file")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
