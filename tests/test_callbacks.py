"""Callbacks: fixed-z sample grids, the per-epoch CSV, atomic backups."""

import numpy as np
import tensorflow as tf
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


class _Counter:
    """A model's `train_steps` as StepHistory reads it, set by the test."""

    def __init__(self, steps):
        self.train_steps = np.int64(steps)


def _means(values):
    """The running means Keras passes each batch: the mean of the epoch's steps so far."""
    return np.cumsum(values) / np.arange(1, len(values) + 1)


def test_step_history_rows_are_means_over_their_steps_and_a_resume_drops_redone_steps(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    path = tmp_path / "history_steps.csv"
    d_loss = np.array([1.0, 3.0, 2.0, 6.0, 4.0])  # one epoch of 5 steps, logged every 2
    model = _Counter(0)
    history = kg.callbacks.StepHistory(path, every=2, log_dir=tmp_path / "logs")
    history.set_model(model)
    history.on_epoch_begin(0)
    for batch, mean in enumerate(_means(d_loss)):
        model.train_steps += 1
        history.on_train_batch_end(batch, {"d_loss": mean, "g_loss": np.array([mean * 2])})
    history.on_epoch_end(0, {"d_loss": _means(d_loss)[-1], "g_loss": 2 * _means(d_loss)[-1], "fid": 9.0})
    rows = history.read()
    assert [(r["step"], r["epoch"], r["steps"]) for r in rows] == [("2", "1", "2"), ("4", "1", "2"), ("5", "1", "1")]
    np.testing.assert_allclose([float(r["d_loss"]) for r in rows], [2.0, 4.0, 4.0])
    np.testing.assert_allclose([float(r["g_loss"]) for r in rows], [4.0, 8.0, 8.0])
    assert "fid" not in rows[0]  # an epoch-level value is no per-step curve: TensorBoard has it
    history.on_epoch_end(1, {"fid": float("nan")})  # FIDMonitor's epochs without a measurement
    history.on_train_end()
    board = event_accumulator.EventAccumulator(str(tmp_path / "logs"))
    board.Reload()
    assert [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in board.Tensors("fid")] == [(5, 9.0)]

    # Resumed from a backup taken at step 3 (rows 4 and 5 were trained after it): those
    # rows go, and the curve continues from step 3 with the steps trained again.
    resumed = _Counter(3)
    again = kg.callbacks.StepHistory(path, every=2)
    again.set_model(resumed)
    again.on_epoch_begin(1)
    assert [r["step"] for r in again.read()] == ["2"]
    for batch, mean in enumerate(_means([5.0, 7.0])):
        resumed.train_steps += 1
        again.on_train_batch_end(batch, {"d_loss": mean, "g_loss": mean})
    again.on_epoch_end(1, {"d_loss": 6.0, "g_loss": 6.0})
    rows = again.read()
    assert [(r["step"], r["epoch"], r["steps"]) for r in rows] == [("2", "1", "2"), ("4", "2", "1"), ("5", "2", "1")]
    np.testing.assert_allclose([float(r["d_loss"]) for r in rows], [2.0, 5.0, 7.0])


def test_a_fit_writes_step_curves_and_tensorboard_scalars_and_images(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    gan = tiny_gan()
    logs = tmp_path / "logs"
    history = kg.callbacks.StepHistory(tmp_path / "history_steps.csv", every=2, log_dir=logs)
    grid = kg.callbacks.SampleGrid(tmp_path / "samples", n=4, log_dir=logs, every_steps=3)
    gan.fit(harness.dataset(gan).repeat(), steps_per_epoch=3, epochs=2, callbacks=[history, grid], verbose=0)
    rows = history.read()
    assert [int(r["step"]) for r in rows] == [2, 3, 4, 6]  # every 2 steps and at each epoch's end
    assert [int(r["epoch"]) for r in rows] == [1, 1, 2, 2]
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(rows[0])

    figure = kg.callbacks.plot_curves(tmp_path / "history_steps.csv", tmp_path / "loss_curves.png")
    assert (tmp_path / "loss_curves.png").stat().st_size > 1000
    losses = figure.axes[0]
    assert losses.get_xlim() == (0, 6)  # the x axis is generator steps, from the first to the last
    plotted = {line.get_label(): list(line.get_xdata()) for line in losses.get_lines()}
    assert plotted["d_loss"] == [2, 3, 4, 6] and "g_loss" in plotted
    assert [3] in [list(line.get_xdata())[:1] for line in losses.get_lines() if line.get_linestyle() == ":"]

    board = event_accumulator.EventAccumulator(str(logs), size_guidance={event_accumulator.TENSORS: 0})
    board.Reload()
    assert [e.step for e in board.Tensors("steps/d_loss")] == [2, 3, 4, 6]
    np.testing.assert_allclose([float(tf.make_ndarray(e.tensor_proto)) for e in board.Tensors("steps/g_loss")],
                               [float(r["g_loss"]) for r in rows], rtol=1e-6)
    # Grids at steps 3 (every 3 steps, also the end of epoch 1) and 6, one image each:
    # TensorFlow 2's image summaries are [width, height, PNG] string tensors.
    images = board.Tensors("samples")
    assert [e.step for e in images] == [3, 6]
    width, height, png = tf.make_ndarray(images[-1].tensor_proto)
    assert (int(width), int(height)) == (2 * 30 + 2, 2 * 30 + 2) and png.startswith(b"\x89PNG")


def test_a_conditional_grid_has_one_row_per_class(tmp_path):
    gan = kg.models.ConditionalGAN(image_shape=(28, 28, 1), num_classes=3, latent_dim=4, g_width=4, d_width=4, seed=1)
    grid = kg.callbacks.SampleGrid(tmp_path, n=7, seed=0)
    grid.set_model(gan)
    image = grid.image()
    assert image.shape[:2] == (3 * 30 + 2, 2 * 30 + 2)  # 3 classes, 7 // 3 = 2 samples each


def test_step_history_under_a_mirrored_strategy_logs_the_replicas_mean(tmp_path, mirrored):
    with mirrored.scope():
        gan = tiny_gan()
    history = kg.callbacks.StepHistory(tmp_path / "history_steps.csv", every=2)
    gan.fit(harness.dataset(gan, m=8).repeat(), steps_per_epoch=4, epochs=1, callbacks=[history], verbose=0)
    rows = history.read()
    assert [int(r["step"]) for r in rows] == [2, 4]
    # Keras reduces the logs across replicas: the rows' mean is the epoch's mean.
    epoch_mean = np.mean([float(r["d_loss"]) for r in rows])
    np.testing.assert_allclose(epoch_mean, gan.get_metrics_result()["d_loss"], rtol=1e-5)
