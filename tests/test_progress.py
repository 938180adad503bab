"""The progress strip and GIF of a run's grids, and a run's curves across a resume."""

import csv

import numpy as np
from PIL import Image

from keras_gans import cli
from keras_gans.training import progress
from tests.conftest import ROOT

SUBSET = str(ROOT / "tests" / "data" / "mnist")  # 1,000 real test digits
TINY = ["--split", "test", "--width", "4", "--latent-dim", "8", "--batch-size", "20", "--seed", "3",
        "--samples", "4", "--verbose", "0"]


def _grids(folder, epochs, size=(62, 62)):
    for epoch in epochs:
        Image.fromarray(np.full(size, epoch * 20, np.uint8)).save(folder / f"samples_epoch_{epoch:04d}.png")


def test_the_strip_shows_the_first_and_last_epochs_side_by_side_and_the_gif_all(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    _grids(samples, range(1, 11))
    written = progress.write_progress(tmp_path, frames=4)
    assert written["epochs"] == [1, 4, 7, 10]
    strip = np.asarray(Image.open(tmp_path / "progress.png"))
    k, pad = 4, progress.PAD
    assert strip.shape == (62 + progress.LABEL + 2 * pad, k * 62 + (k + 1) * pad, 3)
    # Each frame is its epoch's grid, under its label band.
    top = pad + progress.LABEL
    for i, epoch in enumerate(written["epochs"]):
        left = pad + i * (62 + pad)
        assert (strip[top : top + 62, left : left + 62] == epoch * 20).all()
    gif = Image.open(tmp_path / "progress.gif")
    assert gif.n_frames == 10 and gif.size == (62, 62 + progress.LABEL)

    # Wide grids (translations: a row per image kind) are stacked instead.
    wide = tmp_path / "wide"
    wide.mkdir()
    _grids(wide, (1, 2), size=(30, 200))
    assert cli.main(["progress", str(wide), "--png", str(tmp_path / "wide.png"), "--no-gif"]) == 0
    assert Image.open(tmp_path / "wide.png").size == (200 + 2 * pad, 2 * (30 + progress.LABEL) + 3 * pad)
    assert not (wide / "progress.gif").exists()


def test_progress_of_a_folder_without_grids_is_a_clear_error(tmp_path):
    import pytest

    with pytest.raises(SystemExit, match="holds no sample grids"):
        cli.main(["progress", str(tmp_path)])


def test_a_resumed_run_continues_its_curve_and_its_strip(tmp_path):
    run = tmp_path / "run"
    args = ["train", "dcgan", "--dataset", SUBSET, *TINY, "--steps-per-epoch", "4", "--log-every", "3",
            "--out", str(run)]
    assert cli.main([*args, "--epochs", "1"]) == 0
    assert cli.main([*args, "--epochs", "2", "--resume"]) == 0
    with open(run / "history_steps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # Rows every 3 generator steps and at each epoch's end, counting on across the resume.
    assert [(int(r["step"]), int(r["epoch"])) for r in rows] == [(3, 1), (4, 1), (6, 2), (8, 2)]
    assert len(rows) > 2  # more rows than epochs
    assert (run / "loss_curves.png").stat().st_size > 1000
    assert Image.open(run / "progress.png").size[0] == 2 * (2 * 30 + 2) + 3 * progress.PAD  # epochs 1 and 2
