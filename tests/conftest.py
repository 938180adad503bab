"""Shared test setup: two logical CPU devices (for tf.distribute tests) and markers."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# tf.distribute tests run MirroredStrategy over two logical CPUs; devices can only be
# split before TensorFlow initialises them, so it happens once, here.
_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
except RuntimeError:  # already initialised by an earlier import: tests needing 2 skip
    pass


@pytest.fixture(autouse=True)
def _no_global_tensorflow_seed():
    """Every test starts without TensorFlow's global seed, whatever an earlier test (or an
    in-process `keras-gans train`, which seeds everything) set: op-seeded randomness such
    as `Mixture.dataset`'s reshuffle then draws what it draws in a fresh process."""
    tf.random.set_seed(None)
    yield


def shared_mnist_dir():
    """../shared/data/mnist (or $KERAS_GANS_MNIST_DIR), or None for a user without it."""
    path = Path(os.environ.get("KERAS_GANS_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))
    return path if (path / "train-images-idx3-ubyte.gz").exists() else None


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: learning or end-to-end tests (still run in CI)")
    config.addinivalue_line(
        "markers",
        "cards: the shipped cards' numbers reproduced on the full MNIST test split (`make "
        "check-cards`; minutes of evaluation, rerun whenever a card changes, not in `make test`)",
    )


@pytest.fixture(scope="session")
def mirrored():
    """One MirroredStrategy over two logical CPUs for the whole session.

    Several MirroredStrategy objects in one process share TensorFlow's collective
    executor and can collide on collective keys, so the tests share one.
    """
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs two logical CPU devices, configured before TensorFlow started")
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
