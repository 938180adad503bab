"""Callbacks: fixed-z sample grids, the per-epoch CSV, atomic backups."""

import numpy as np
from PIL import Image

import keras_gans as kg
from tests import harness


def tiny_gan():
    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=4, g_width=4, d_width=4, seed=3)
    gan.compile()
    return gan


def test_sample_grid_uses_the_same_z_every_epoch(tmp_path):
    gan = tiny_gan()
    grid = kg.callbacks.SampleGrid(tmp_path, n=16, seed=5)
    grid.set_model(gan)
    grid.on_epoch_end(0)
    grid.on_epoch_end(1)  # no training in between: the same z gives the same picture
    first, second = (np.asarray(Image.open(p)) for p in grid.paths)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (4 * 30 + 2, 4 * 30 + 2)  # 4 x 4 digits, 2-pixel gaps
    gan.fit(harness.dataset(gan), steps_per_epoch=1, epochs=1, verbose=0)
    grid.on_epoch_end(2)
    assert not np.array_equal(np.asarray(Image.open(grid.paths[-1])), first)


def test_history_csv_keeps_one_row_per_epoch_when_an_epoch_is_redone(tmp_path):
    history = kg.callbacks.HistoryCSV(tmp_path / "history.csv")
    for epoch, loss in [(0, 1.0), (1, 0.9), (1, 0.8), (2, 0.7)]:  # epoch 2 written twice
        history.on_epoch_end(epoch, {"d_loss": loss, "g_loss": np.array([loss * 2])})
    rows = history.read()
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert float(rows[1]["d_loss"]) == 0.8 and float(rows[1]["g_loss"]) == 1.6
    kg.callbacks.plot_history(tmp_path / "history.csv", tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_backup_restores_the_newest_complete_backup_and_ignores_a_partial_one(tmp_path):
    gan = tiny_gan()
    gan.fit(harness.dataset(gan), steps_per_epoch=2, epochs=1, verbose=0)
    backup = kg.callbacks.BackupAndRestore(tmp_path / "backup")
    backup.set_model(gan)
    backup.on_epoch_end(0)
    saved = harness.weights(gan), harness.optimizer_state(gan)
    # A process killed while writing the next backup leaves only a temporary folder.
    partial = tmp_path / "backup" / ".tmp-epoch-000002"
    partial.mkdir()
    (partial / "latest.weights.h5").write_bytes(b"\x89HDF\r\n truncated")

    fresh = tiny_gan()
    restore = kg.callbacks.BackupAndRestore(tmp_path / "backup")
    restore.set_model(fresh)
    restore.on_train_begin()
    harness.assert_all_close(harness.weights(fresh), saved[0])
    harness.assert_all_close(harness.optimizer_state(fresh), saved[1])
    assert int(fresh.g_optimizer.iterations.numpy()) == 2
    assert fresh._initial_epoch == 1
