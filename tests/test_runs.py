"""Run folders (keras_gans.training.runs), called as a library: no argparse, no training."""

import json
import os
import time
from types import SimpleNamespace

import pytest

from keras_gans.training import runs


def settings(**changes):
    """The settings of a small run, as `keras-gans train` would pass them."""
    base = {
        "model": "vanilla_gan", "dataset": "ring8", "split": "train", "batch_size": 50,
        "strategy": "auto", "precision": "float32", "seed": 1, "latent_dim": None, "width": None,
        "hidden": 8, "d_steps": None, "loss": None, "lr": None, "pack": 1, "spectral_norm": False,
        "label_projection": False, "ema_decay": None, "steps_per_epoch": 2, "init": None,
    }
    return base | changes


def write(out, status, epochs_done, epochs=1, **changes):
    out.mkdir(parents=True, exist_ok=True)
    return runs.write_run(out, runs.run_config(settings(**changes)), status, epochs_done,
                          epochs=epochs, started=time.time() - 5, command="keras-gans train ...")


def test_run_config_takes_exactly_the_run_keys():
    config = runs.run_config(settings(epochs=3, out="x", verbose=0))
    assert tuple(config) == runs.RUN_KEYS
    with pytest.raises(KeyError):
        runs.run_config({"model": "dcgan"})


def test_a_new_folder_is_a_new_run(tmp_path):
    assert runs.check_out_folder(tmp_path / "missing", runs.run_config(settings())) is None
    (tmp_path / "empty").mkdir()
    assert runs.check_out_folder(tmp_path / "empty", runs.run_config(settings())) is None
    assert isinstance(runs.run_seed(None, None), int)
    assert runs.run_seed(7, None) == 7


def test_an_unfinished_run_with_the_same_settings_is_resumed(tmp_path):
    write(tmp_path, "running", 1, epochs=3)
    previous = runs.check_out_folder(tmp_path, runs.run_config(settings()))
    assert previous["status"] == "running" and previous["epochs_done"] == 1
    # Without a seed, the run takes the one it started with.
    previous = runs.check_out_folder(tmp_path, runs.run_config(settings(seed=None)))
    assert runs.run_seed(None, previous) == 1
    assert runs.run_seed(5, previous) == 5


def test_a_finished_run_is_refused_without_resume(tmp_path):
    write(tmp_path, "finished", 1)
    with pytest.raises(runs.RunFolderError, match="finished run of 1 epochs") as error:
        runs.check_out_folder(tmp_path, runs.run_config(settings()))
    assert "--resume" in str(error.value)
    assert runs.check_out_folder(tmp_path, runs.run_config(settings()), resume=True)["status"] == "finished"


def test_a_folder_of_another_run_is_refused_naming_what_differs(tmp_path):
    write(tmp_path, "running", 1)
    with pytest.raises(runs.RunFolderError) as error:
        runs.check_out_folder(tmp_path, runs.run_config(settings(dataset="grid25", lr=0.1)), resume=True)
    message = str(error.value)
    assert "another run" in message
    assert "dataset: 'ring8' there, 'grid25' now" in message and "lr: None there, 0.1 now" in message
    assert "batch_size" not in message
    with pytest.raises(runs.RunFolderError, match="seed: 1 there, 2 now"):
        runs.check_out_folder(tmp_path, runs.run_config(settings(seed=2)))


def test_a_record_from_before_a_setting_existed_means_its_unset_value(tmp_path):
    record = write(tmp_path, "running", 1, epochs=3, model="cgan")
    del record["config"]["label_projection"]  # written before --label-projection existed
    (tmp_path / runs.RUN_FILENAME).write_text(json.dumps(record))
    assert runs.check_out_folder(tmp_path, runs.run_config(settings(model="cgan")))["epochs_done"] == 1
    with pytest.raises(runs.RunFolderError, match="label_projection: False there, True now"):
        runs.check_out_folder(tmp_path, runs.run_config(settings(model="cgan", label_projection=True)))


@pytest.mark.parametrize("leftover", ["backup", "model.keras", "history.csv"])
def test_checkpoints_without_a_run_record_are_refused(tmp_path, leftover):
    (tmp_path / leftover).mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(runs.RunFolderError, match=f"another run's files \\({leftover}\\) but no run.json"):
        runs.check_out_folder(tmp_path, runs.run_config(settings()))


def test_the_run_record_is_written_atomically(tmp_path, monkeypatch):
    record = write(tmp_path, "running", 2, epochs=3)
    assert json.loads((tmp_path / "run.json").read_text()) == record
    assert record["config"] == runs.run_config(settings())
    assert (record["status"], record["epochs_done"], record["epochs"]) == ("running", 2, 3)
    assert record["wall_time_seconds"] >= 5 and record["command"] == "keras-gans train ..."

    # A write that fails halfway leaves the previous record whole, and no temporary file.
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path, "finished", 3, epochs=3)
    assert json.loads((tmp_path / "run.json").read_text()) == record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_init_must_be_a_keras_file_and_takes_no_architecture_settings(tmp_path):
    with pytest.raises(runs.RunFolderError, match="--init must be a .keras file"):
        runs.check_init(tmp_path / "run.json", settings())
    init = tmp_path / "gan.keras"
    init.write_bytes(b"")
    runs.check_init(init, settings(hidden=None))
    with pytest.raises(runs.RunFolderError, match="--hidden, --pack cannot be used with --init"):
        runs.check_init(init, settings(pack=4))


def test_init_model_must_match_the_family_and_the_data():
    gan = SimpleNamespace(family="vanilla_gan", image_shape=(2,), num_classes=None)
    runs.check_init_model(gan, "g.keras", "vanilla_gan", (2,), None, "ring8")
    with pytest.raises(runs.RunFolderError, match="holds a vanilla_gan model, not wgan_gp"):
        runs.check_init_model(gan, "g.keras", "wgan_gp", (2,), None, "ring8")
    with pytest.raises(runs.RunFolderError, match=r"shape \(2,\).*\(28, 28, 1\)"):
        runs.check_init_model(gan, "g.keras", "vanilla_gan", (28, 28, 1), None, "mnist")


def test_training_record_names_the_run_and_its_starting_point(tmp_path):
    class Optimizer:
        def __init__(self, steps):
            self.iterations = SimpleNamespace(numpy=lambda: steps)

    gan = SimpleNamespace(g_optimizer=Optimizer(5), d_optimizer=Optimizer(25), d_steps=5,
                          get_compile_config=lambda: {"loss": "wasserstein"})
    start, tuned = tmp_path / "start", tmp_path / "tuned"
    first = write(start, "finished", 1)
    write(tuned, "finished", 1, init=str(start / "model.keras"))
    record = runs.training_record(gan, tuned / "run.json")
    assert record["init_training"] == first
    assert (record["generator_steps"], record["discriminator_steps"], record["loss"]) == (5, 25, "wasserstein")
    assert record["config"]["init"] == str(start / "model.keras")
    # A card beside the starting point wins: it records how a shipped model was trained.
    (start / "card.json").write_text(json.dumps({"training": {"generator_steps": 2}}))
    assert runs.training_record(gan, tuned / "run.json")["init_training"] == {"generator_steps": 2}
    assert set(runs.training_record(gan)) == {"generator_steps", "discriminator_steps", "d_steps", "loss"}
