"""Tests for keras_gans.data: real MNIST, the committed subset, TFDS (mocked), npz, image
folders and the PacGAN 2-D mixtures.

Tests on the full MNIST need ../shared/data/mnist (or $KERAS_GANS_MNIST_DIR) and skip
without it; everything else runs from a plain clone.
"""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_gans import data
from keras_gans.data import tfds_source

SUBSET = Path(__file__).resolve().parent / "data" / "mnist"
SUBSET_COUNTS = [85, 126, 116, 107, 110, 87, 87, 99, 89, 94]  # labels of the first 1,000


def _shared_mnist_dir():
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    path = Path(os.environ.get("KERAS_GANS_MNIST_DIR", default))
    files = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return path if all((path / f).exists() for f in files) else None


@pytest.fixture(scope="module")
def shared_mnist():
    path = _shared_mnist_dir()
    if path is None:
        pytest.skip("full MNIST not found at ../shared/data/mnist (set KERAS_GANS_MNIST_DIR)")
    return path


@pytest.fixture(scope="module")
def mnist_test(shared_mnist):
    return data.load_arrays(shared_mnist, split="test")


@pytest.fixture(scope="module")
def mnist_train(shared_mnist):
    return data.load_arrays(shared_mnist, split="train")


# --- full MNIST (../shared) -------------------------------------------------------------


def test_mnist_test_split_arrays(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int32
    counts = np.bincount(labels, minlength=10)
    assert counts[0] == 980 and counts[1] == 1135


def test_mnist_train_split_arrays(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60000, 28, 28, 1)
    counts = np.bincount(labels, minlength=10)
    assert counts[0] == 5923 and counts[1] == 6742
    assert abs(images.mean() / 255.0 - 0.1307) < 5e-4


def test_mnist_train_dataset(shared_mnist):
    ds = data.load(shared_mnist, split="train", batch_size=500, labels=True, seed=0)
    assert ds.cardinality().numpy() == 60000 // 500
    images, labels = next(iter(ds))
    assert images.shape == (500, 28, 28, 1) and images.dtype == tf.float32
    assert labels.shape == (500,) and labels.dtype == tf.int32
    assert images.numpy().min() >= -1.0 and images.numpy().max() <= 1.0
    assert images.numpy().min() == -1.0 and images.numpy().max() == 1.0


def test_subset_is_the_first_thousand_test_examples(mnist_test):
    images, labels = data.load_arrays(SUBSET, split="test")
    np.testing.assert_array_equal(images, mnist_test[0][:1000])
    np.testing.assert_array_equal(labels, mnist_test[1][:1000])


# --- the committed subset (no ../shared needed) -----------------------------------------


def test_subset_headers_and_labels():
    images = data.read_idx(SUBSET / "t10k-images-idx3-ubyte.gz")
    labels = data.read_idx(SUBSET / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    with gzip.open(SUBSET / "t10k-images-idx3-ubyte.gz") as f:
        assert f.read(8) == bytes.fromhex("00000803000003e8")  # magic, count 1000
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(labels, minlength=10).tolist() == SUBSET_COUNTS


def test_subset_dataset_shapes_range_and_batching():
    ds = data.load(SUBSET, split="test", batch_size=64, labels=True, shuffle=False)
    assert ds.cardinality().numpy() == 15  # 1000 // 64, remainder dropped
    images, labels = next(iter(ds))
    assert images.shape == (64, 28, 28, 1) and images.dtype == tf.float32
    assert labels.dtype == tf.int32 and labels.numpy()[:3].tolist() == [7, 2, 1]
    x = images.numpy()
    assert x.min() == -1.0 and x.max() == 1.0
    # Exactly the affine map of the stored pixels: 0 -> -1, 255 -> 1.
    raw = data.read_idx(SUBSET / "t10k-images-idx3-ubyte.gz")[:64, ..., None]
    np.testing.assert_allclose(x, raw / 127.5 - 1.0, atol=1e-6)

    ds = data.load(SUBSET, split="test", batch_size=64, drop_remainder=False, shuffle=False)
    assert ds.cardinality().numpy() == 16
    ds = data.load(SUBSET, split="test", batch_size=None)
    assert ds.element_spec.shape == (28, 28, 1)


def test_subset_shuffle_is_seeded_and_complete():
    def labels_of(seed):
        ds = data.load(SUBSET, "test", batch_size=100, labels=True, seed=seed)
        return np.concatenate([y for _, y in ds.as_numpy_iterator()])

    a, b, c = labels_of(1), labels_of(1), labels_of(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.bincount(a, minlength=10).tolist() == SUBSET_COUNTS  # every example once


def test_subset_image_size():
    images = next(iter(data.load(SUBSET, "test", batch_size=8, image_size=32)))
    assert images.shape == (8, 32, 32, 1)
    assert images.numpy().min() >= -1.0 and images.numpy().max() <= 1.0


def test_idx_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="no train images file"):
        data.load(SUBSET, split="train")  # the subset has test files only
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load(SUBSET, split="validation")

    bad = tmp_path / "bad"
    bad.mkdir()
    with gzip.open(bad / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes.fromhex("0000080100000002") + b"\x00\x01")  # labels magic
    with pytest.raises(ValueError, match=r"expected uint8 images.*0x00000803"):
        data.load_arrays(bad, "test")
    with gzip.open(bad / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="magic number is 0x504b0304"):
        data.load_arrays(bad, "test")
    with gzip.open(bad / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes.fromhex("00000803000000020000000200000002") + b"\x00" * 5)
    with pytest.raises(ValueError, match=r"shape \(2, 2, 2\) \(8 bytes"):
        data.load_arrays(bad, "test")
    (bad / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="cannot read it as an IDX file"):
        data.load_arrays(bad, "test")

    with gzip.open(bad / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes.fromhex("00000803000000020000000200000002") + b"\x00" * 8)
    with gzip.open(bad / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes.fromhex("0000080100000003") + b"\x00\x01\x02")
    with pytest.raises(ValueError, match="has 3 labels but .* has 2 images"):
        data.load_arrays(bad, "test")
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    images, labels = data.load_arrays(bad, "test")
    assert images.shape == (2, 2, 2, 1) and labels is None
    with pytest.raises(ValueError, match="labels=True, but .* has no labels"):
        data.load(bad, "test", labels=True)


# --- names ------------------------------------------------------------------------------


def test_dataset_names_and_unknown_name():
    assert data.dataset_names() == (
        "celeb_a", "cifar10", "fashion_mnist", "grid25", "mnist", "ring8"
    )
    assert data.dataset_names("mixture") == ("grid25", "ring8")
    with pytest.raises(ValueError) as e:
        data.load("mnits")
    message = str(e.value)
    assert "'mnits'" in message and "mnist, ring8" in message and ".npz" in message
    with pytest.raises(ValueError, match="neither a known dataset name nor an existing path"):
        data.load_arrays("/nonexistent/folder")


# --- TFDS (mocked) ----------------------------------------------------------------------


def test_tfds_mnist_mocked():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=20):
        ds = data.load("mnist", batch_size=8, labels=True, seed=0)
        images, labels = next(iter(ds))
        assert images.shape == (8, 28, 28, 1) and images.dtype == tf.float32
        assert labels.dtype == tf.int32
        assert images.numpy().min() >= -1.0 and images.numpy().max() <= 1.0
        x, y = data.load_arrays("MNIST", split="test")
        assert x.shape == (20, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int32
        assert next(iter(data.load("cifar10", batch_size=4))).shape == (4, 32, 32, 3)


def test_tfds_celeb_a_center_crop_to_64():
    tfds = pytest.importorskip("tensorflow_datasets")
    # A 218 x 178 face whose central 108 x 108 square is white and the rest black: the
    # crop must keep exactly that square, so every output pixel is white.
    face = np.zeros((218, 178, 3), np.uint8)
    face[55:163, 35:143] = 255

    def as_dataset(self, split, **kwargs):
        return tf.data.Dataset.from_tensors({"image": face}).repeat(4)

    with tfds.testing.mock_data(num_examples=4, as_dataset_fn=as_dataset):
        images = next(iter(data.load("celeb_a", batch_size=2)))
        assert images.shape == (2, 64, 64, 3)
        np.testing.assert_allclose(images.numpy(), 1.0)
        assert next(iter(data.load("celeb_a", batch_size=2, image_size=32))).shape == (
            2, 32, 32, 3
        )
        with pytest.raises(ValueError, match="'celeb_a' has no class labels"):
            data.load("celeb_a", labels=True)


def test_tfds_offline_fails_fast_with_advice(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(tfds_source, "_network_available", lambda *a, **k: False)
    with pytest.raises(ValueError) as e:
        data.load("mnist", data_dir=tmp_path)
    message = str(e.value)
    assert "not prepared" in message and "no network" in message
    assert "IDX" in message and ".npz" in message and "PNG/JPEG" in message


def test_tfds_download_error_becomes_value_error(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    import requests

    def fake_load(name, download, **kwargs):
        if not download:
            raise AssertionError(f"Dataset {name}: could not find data in {kwargs['data_dir']}.")
        raise requests.exceptions.ConnectionError("Max retries exceeded")

    monkeypatch.setattr(tfds_source, "_network_available", lambda *a, **k: True)
    monkeypatch.setattr(tfds, "load", fake_load)
    with pytest.raises(ValueError, match="ConnectionError: Max retries exceeded.*local files"):
        data.load("fashion_mnist", data_dir=tmp_path)


# --- npz --------------------------------------------------------------------------------


def test_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8)
    y = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    images, labels = next(iter(data.load(tmp_path / "d.npz", batch_size=10, labels=True,
                                         shuffle=False)))
    assert images.shape == (10, 8, 8, 1) and labels.numpy().tolist() == y.tolist()
    np.testing.assert_allclose(images.numpy()[..., 0], x / 127.5 - 1.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"for split 'test' expected 'x_test'"):
        data.load_arrays(tmp_path / "d.npz", split="test")

    np.savez(tmp_path / "split.npz", x_train=x, x_test=rng.random((4, 8, 8, 3)))
    images, labels = data.load_arrays(tmp_path / "split.npz", split="test")
    assert images.shape == (4, 8, 8, 3) and images.dtype == np.uint8 and labels is None
    with pytest.raises(ValueError, match="has no labels"):
        data.load(tmp_path / "split.npz", labels=True)

    np.savez(tmp_path / "neg.npz", x=rng.standard_normal((4, 8, 8)))
    with pytest.raises(ValueError, match=r"expected uint8 pixels .* got float64"):
        data.load(tmp_path / "neg.npz")


# --- image folders ----------------------------------------------------------------------


def _png(path, size=(6, 4), color=128, mode="L"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_image_folder_flat_and_classes(tmp_path):
    for i in range(3):
        _png(tmp_path / "flat" / f"{i}.png", color=i * 100)
    images, labels = data.load_arrays(tmp_path / "flat")
    assert images.shape == (3, 4, 6, 1) and labels is None  # PIL size is (width, height)
    assert images[:, 0, 0, 0].tolist() == [0, 100, 200]
    with pytest.raises(ValueError, match="has no labels"):
        data.load(tmp_path / "flat", labels=True)

    for name, n in (("dog", 2), ("cat", 3)):
        for i in range(n):
            _png(tmp_path / "classes" / name / f"{i}.png", color=(i, 50, 90), mode="RGB")
    ds = data.load(tmp_path / "classes", batch_size=5, labels=True, shuffle=False)
    images, labels = next(iter(ds))
    assert images.shape == (5, 4, 6, 3)
    assert labels.numpy().tolist() == [0, 0, 0, 1, 1]  # sorted class names: cat 0, dog 1


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no images"):
        data.load(tmp_path / "empty")

    _png(tmp_path / "mixed" / "a.png", size=(6, 4))
    _png(tmp_path / "mixed" / "b.png", size=(6, 4))
    _png(tmp_path / "mixed" / "c.png", size=(5, 5))
    with pytest.raises(ValueError) as e:
        data.load(tmp_path / "mixed")
    message = str(e.value)
    assert "2 different sizes" in message and "6x4" in message and "5x5" in message
    assert "c.png" in message and "image_size" in message
    images = next(iter(data.load(tmp_path / "mixed", batch_size=3, image_size=(4, 6))))
    assert images.shape == (3, 4, 6, 1)

    _png(tmp_path / "layout" / "top.png")
    _png(tmp_path / "layout" / "cls" / "x.png")
    with pytest.raises(ValueError, match="both images .* and class sub-folders"):
        data.load(tmp_path / "layout")
    with pytest.raises(ValueError, match="no 'test' sub-folder"):
        data.load(tmp_path / "mixed", split="test")


# --- 2-D mixtures (PacGAN protocol) -----------------------------------------------------


def test_ring8_centers():
    ring = data.mixture("ring8")
    assert ring.name == "ring8" and ring.sigma == 0.01 and ring.num_modes == 8
    i = np.arange(8)
    expected = np.stack([np.cos(2 * np.pi * i / 8), np.sin(2 * np.pi * i / 8)], axis=1)
    np.testing.assert_allclose(ring.centers, expected, atol=1e-12)
    distances = np.linalg.norm(ring.centers[:, None] - ring.centers[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    np.testing.assert_allclose(distances.min(), 2 * np.sin(np.pi / 8))  # 8 distinct modes
    np.testing.assert_allclose(np.linalg.norm(ring.centers, axis=1), 1.0)
    with pytest.raises(ValueError):
        ring.centers[0, 0] = 5.0  # read-only


def test_grid25_centers():
    grid = data.mixture("grid25")
    assert grid.sigma == 0.05 and grid.num_modes == 25
    expected = {(float(i), float(j)) for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in grid.centers.tolist()} == expected


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_samples(name):
    m = data.mixture(name)
    n = 20_000
    points, ids = m.sample(n, seed=0, return_components=True)
    assert points.shape == (n, 2) and points.dtype == np.float32
    np.testing.assert_array_equal(points, m.sample(n, seed=0))
    # Every sample is nearest its own centre, at the stated spread.
    nearest = np.linalg.norm(points[:, None] - m.centers[None], axis=-1).argmin(axis=1)
    np.testing.assert_array_equal(nearest, ids)
    residual = points - m.centers[ids]
    np.testing.assert_allclose(residual.std(axis=0), m.sigma, rtol=0.03)
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=3 * m.sigma / np.sqrt(n) * 2)
    # Equal weights: each count within 5 binomial standard deviations of n / K.
    counts = np.bincount(ids, minlength=m.num_modes)
    k = m.num_modes
    assert np.all(np.abs(counts - n / k) < 5 * np.sqrt(n * (1 / k) * (1 - 1 / k)))
    # PacGAN's ceiling for "% high quality" (within 3 sigma): 1 - exp(-4.5) = 98.89%.
    high_quality = (np.linalg.norm(residual, axis=1) <= 3 * m.sigma).mean()
    assert abs(high_quality - (1 - np.exp(-4.5))) < 0.004


def test_mixture_dataset():
    ds = data.load("ring8", batch_size=256, seed=3)
    assert ds.cardinality().numpy() == 100_000 // 256
    batch = next(iter(ds))
    assert batch.shape == (256, 2) and batch.dtype == tf.float32
    radii = np.linalg.norm(batch.numpy(), axis=1)
    assert np.all(np.abs(radii - 1.0) < 0.06)  # published coordinates, not rescaled
    points, ids = next(iter(data.load("grid25", batch_size=16, labels=True, seed=0)))
    assert ids.dtype == tf.int32
    np.testing.assert_array_less(
        np.abs(points.numpy() - data.mixture("grid25").centers[ids.numpy()]), 0.3
    )
    with pytest.raises(ValueError, match="2-D point mixture"):
        data.load("ring8", image_size=32)
    with pytest.raises(ValueError, match=r"mixture\('ring8'\).sample"):
        data.load_arrays("ring8")
    with pytest.raises(ValueError, match="known: ring8, grid25"):
        data.mixture("ring7")


def test_mixture_epochs_are_permutations_of_one_draw_reshuffled_every_pass():
    ring = data.mixture("ring8")
    ds = ring.dataset(batch_size=100, labels=True, seed=4, num_samples=1000)
    assert ds.element_spec[0].shape == (100, 2)  # a static batch size, as XLA wants
    points, ids = ring.sample(1000, seed=4, return_components=True)
    epochs = [[np.concatenate(c) for c in zip(*[(p.numpy(), i.numpy()) for p, i in ds])] for _ in range(2)]
    for epoch_points, epoch_ids in epochs:
        # Every drawn point exactly once, with its own component id.
        order = np.lexsort(epoch_points.T)
        np.testing.assert_array_equal(epoch_points[order], points[np.lexsort(points.T)])
        np.testing.assert_array_equal(epoch_ids[order], ids[np.lexsort(points.T)])
    assert not np.array_equal(epochs[0][0], epochs[1][0])  # a new order each pass
    again = [p.numpy() for p, _ in ring.dataset(batch_size=100, labels=True, seed=4, num_samples=1000)]
    np.testing.assert_array_equal(np.concatenate(again), epochs[0][0])  # the seed fixes the passes
    unbatched = ring.dataset(batch_size=None, seed=4, num_samples=10)
    assert unbatched.cardinality().numpy() == 10 and next(iter(unbatched)).shape == (2,)
    tail = ring.dataset(batch_size=300, drop_remainder=False, seed=4, num_samples=1000)
    assert [len(b) for b in tail] == [300, 300, 300, 100] and tail.cardinality().numpy() == 4
