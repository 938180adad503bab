"""Model cards and run records travel: no absolute path of the machine that wrote them."""

import json
import os
from pathlib import Path

import pytest

from keras_gans import cli, record_paths
from keras_gans.training import runs
from tests.conftest import ROOT

SUBSET = ROOT / "tests" / "data" / "mnist"  # 1,000 real test digits
CLASSIFIER = ROOT / "saved_models" / "mnist_classifier" / "classifier.keras"


@pytest.mark.parametrize("card", sorted((ROOT / "saved_models").glob("*/card.json")), ids=lambda p: p.parent.name)
def test_no_shipped_card_holds_an_absolute_path(card):
    data = json.loads(card.read_text())
    assert record_paths.absolute_paths(data) == []
    # The model files they name are there, relative to the card's folder.
    for version in data.get("versions", {}).values():
        metrics = record_paths.resolve(version.get("metrics") or {}, card.parent)
        for key in ("source", "classifier"):
            if key in metrics:
                assert Path(metrics[key]["path"]).exists(), metrics[key]["path"]


def test_portable_paths_are_relative_to_the_folder_and_resolve_back(tmp_path):
    folder = tmp_path / "saved" / "gan"
    record = {
        "source": {"path": str(folder / "3")},
        "classifier": {"path": str(tmp_path / "saved" / "clf" / "c.keras")},
        "config": {"dataset": str(tmp_path / "data"), "init": "runs/a/model.keras", "split": "test"},
        "dataset": {"path": "mnist"},
        "command": f"keras-gans evaluate gan --dataset {tmp_path / 'data'} --classifier={tmp_path / 'c.keras'}",
    }
    written = record_paths.portable(record, folder, cwd=tmp_path)
    assert written["source"]["path"] == "3"
    assert written["classifier"]["path"] == "../clf/c.keras"
    assert written["config"] == {"dataset": "data", "init": "../../runs/a/model.keras", "split": "test"}
    assert written["dataset"] == {"path": "mnist"}
    assert written["command"] == "keras-gans evaluate gan --dataset data --classifier=c.keras"
    assert record_paths.absolute_paths(written) == [] and record_paths.absolute_paths(record) != []
    back = record_paths.resolve(written, folder)
    assert back["source"]["path"] == str(folder / "3")
    assert back["config"]["init"] == str(tmp_path / "runs" / "a" / "model.keras")


def test_cards_and_run_records_written_by_the_commands_hold_no_absolute_path(tmp_path, monkeypatch):
    if not CLASSIFIER.exists():
        pytest.skip(f"no shipped classifier at {CLASSIFIER}")
    # Every path given absolute, from a working directory elsewhere.
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    run, base = tmp_path / "run", tmp_path / "saved" / "tiny"
    assert cli.main(["train", "dcgan", "--dataset", str(SUBSET), "--split", "test", "--width", "4",
                     "--latent-dim", "8", "--batch-size", "20", "--seed", "3", "--samples", "4",
                     "--verbose", "0", "--epochs", "1", "--steps-per-epoch", "2",
                     "--out", str(run), "--export", str(base)]) == 0
    assert cli.main(["evaluate", str(base), "--dataset", str(SUBSET), "--train-dataset", str(SUBSET),
                     "--train-split", "test", "-n", "60", "--batch-size", "60", "--kid-subsets", "2",
                     "--kid-subset-size", "30", "--classifier", str(CLASSIFIER), "--update-card"]) == 0
    record = runs.read_run(run)
    card = json.loads((base / "card.json").read_text())
    assert record_paths.absolute_paths(record) == []
    assert record_paths.absolute_paths(card) == []
    assert record["exported"] == "../saved/tiny/1"
    assert card["metrics"]["source"]["path"] == "1"
    assert card["metrics"]["classifier"]["path"] == os.path.relpath(CLASSIFIER, base)
    assert card["metrics"]["dataset"]["path"] == os.path.relpath(SUBSET, work)  # as a relative --dataset
    assert card["training"]["config"]["dataset"] == os.path.relpath(SUBSET, work)
    # `keras-gans export` of the run: its record's paths, relative to the run folder, are
    # rebased onto the card's folder.
    assert cli.main(["export", str(run), "--to", str(base)]) == 0
    card = json.loads((base / "card.json").read_text())
    assert record_paths.absolute_paths(card) == []
    assert card["versions"]["2"]["training"]["exported"] == "1"
