"""Tests for keras_gans.data.paired: the MNIST-derived translation tasks, npz files, image
folders and TFDS (mocked) for paired (pix2pix) and unpaired (CycleGAN) data.

Everything runs on the 1,000 committed test digits (tests/data/mnist); no ../shared needed.
"""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_gans as kg
from keras_gans.data import paired, tfds_source

SUBSET = Path(__file__).resolve().parent / "data" / "mnist"


@pytest.fixture(scope="module")
def digits():
    return kg.data.load_arrays(SUBSET, split="test")


def _batches(ds):
    return [tuple(t.numpy() for t in batch) for batch in ds]


def _pixels(x):
    return np.round((x + 1.0) * 127.5).astype(np.uint8)


# --- the MNIST tasks ------------------------------------------------------------------


def test_paired_tasks_are_the_documented_transforms(digits):
    images, labels = digits
    a, b, y = kg.data.mnist_task("mnist_edges", SUBSET, split="test")
    assert a.shape == b.shape == (1000, 28, 28, 1) and a.dtype == b.dtype == np.uint8
    np.testing.assert_array_equal(b, images)
    np.testing.assert_array_equal(y, labels)
    # The external gradient: the 3x3 maximum minus the pixel; dark inside full strokes.
    x = images[:5].astype(int)
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
    maximum = np.max([padded[:, i : i + 28, j : j + 28] for i in range(3) for j in range(3)], axis=0)
    np.testing.assert_array_equal(a[:5], maximum - x)
    assert a[images == 255].max() == 0 and a.max() == 255

    holed, b, y = kg.data.mnist_task("mnist-inpaint", SUBSET, split="test")  # names as load's: - or _
    masks = paired.inpaint_masks(1000)
    assert (masks.sum(axis=(1, 2, 3)) == paired.INPAINT_SIZE**2).all()
    np.testing.assert_array_equal(holed[masks], paired.INPAINT_VALUE)
    np.testing.assert_array_equal(holed[~masks], images[~masks])
    rows, cols = np.nonzero(masks.any(axis=2)[..., 0])[1], np.nonzero(masks.any(axis=1)[..., 0])[1]
    assert rows.min() == cols.min() == paired.INPAINT_LOW
    assert rows.max() == cols.max() == paired.INPAINT_HIGH + paired.INPAINT_SIZE - 1
    # Deterministic: the same holes every time (seeded), other holes for another seed.
    np.testing.assert_array_equal(kg.data.mnist_task("mnist_inpaint", SUBSET, split="test")[0], holed)
    assert not np.array_equal(kg.data.mnist_task("mnist_inpaint", SUBSET, split="test", seed=1)[0], holed)


@pytest.mark.parametrize("task, transform", [("mnist_invert", paired.invert), ("mnist_dilate", paired.dilate)])
def test_unpaired_tasks_come_from_disjoint_halves(digits, task, transform):
    images, labels = digits
    a, b, y = kg.data.mnist_task(task, SUBSET, split="test")
    assert a.shape == b.shape == (500, 28, 28, 1) and y.shape == (500, 2) and y.dtype == np.int32
    # Find each image's source digit: A as it is, B through the transform of every digit.
    flat = images.reshape(1000, -1)
    index = {row.tobytes(): i for i, row in enumerate(flat)}
    source_a = [index[row.tobytes()] for row in a.reshape(500, -1)]
    transformed = {row.tobytes(): i for i, row in enumerate(transform(images).reshape(1000, -1))}
    source_b = [transformed[row.tobytes()] for row in b.reshape(500, -1)]
    assert not set(source_a) & set(source_b) and len(set(source_a) | set(source_b)) == 1000
    np.testing.assert_array_equal(y[:, 0], labels[source_a])
    np.testing.assert_array_equal(y[:, 1], labels[source_b])
    assert np.bincount(y[:, 0], minlength=10).min() > 30  # both halves hold every class
    again = kg.data.mnist_task(task, SUBSET, split="test")
    np.testing.assert_array_equal(again[1], b)
    if task == "mnist_invert":
        assert (a.mean() < 60) and (b.mean() > 190)  # white on black, black on white


def test_unknown_task_and_wrong_loader():
    with pytest.raises(ValueError, match="Unknown MNIST task 'mnist_blur'; known: mnist_edges"):
        kg.data.mnist_task("mnist_blur", SUBSET)
    with pytest.raises(ValueError, match="'mnist_invert' is an unpaired task.*load_unpaired"):
        kg.data.load_paired("mnist_invert", mnist=SUBSET)
    with pytest.raises(ValueError, match="no train images file"):
        kg.data.load_paired("mnist_edges", mnist=SUBSET)  # the subset has the test split only
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        kg.data.load_paired("mnist_edges", mnist=SUBSET, split="test", batch_size=0)


# --- load_paired / load_unpaired on the tasks -------------------------------------------


def test_load_paired_keeps_pairs_through_the_shuffle(digits):
    ds = kg.data.load_paired("mnist_edges", mnist=SUBSET, split="test", batch_size=100, seed=3)
    assert ds.cardinality().numpy() == 10
    assert [tuple(s.shape) for s in ds.element_spec] == [(100, 28, 28, 1)] * 2
    batches = _batches(ds)
    a = np.concatenate([x for x, _ in batches])
    b = np.concatenate([y for _, y in batches])
    assert a.dtype == np.float32 and a.min() == -1.0 and b.max() == 1.0
    np.testing.assert_array_equal(_pixels(a), paired.edges(_pixels(b)))  # each a is its b's edge map
    assert not np.array_equal(_pixels(b), digits[0])  # shuffled ...
    np.testing.assert_array_equal(np.sort(_pixels(b).reshape(1000, -1), axis=0),
                                  np.sort(digits[0].reshape(1000, -1), axis=0))  # ... every digit once
    again = np.concatenate([y for _, y in _batches(
        kg.data.load_paired("mnist_edges", mnist=SUBSET, split="test", batch_size=100, seed=3))])
    np.testing.assert_array_equal(again, b)
    # Unshuffled and unbatched, resized.
    ds = kg.data.load_paired("mnist_inpaint", mnist=SUBSET, split="test", batch_size=None, shuffle=False,
                             image_size=32)
    assert [tuple(s.shape) for s in ds.element_spec] == [(32, 32, 1)] * 2


def test_load_unpaired_shuffles_the_domains_apart():
    ds = kg.data.load_unpaired("mnist_invert", mnist=SUBSET, split="test", batch_size=50, seed=0)
    assert ds.cardinality().numpy() == 10
    a_task, b_task, _ = kg.data.mnist_task("mnist_invert", SUBSET, split="test")
    batches = _batches(ds)
    a = _pixels(np.concatenate([x for x, _ in batches]))
    b = _pixels(np.concatenate([y for _, y in batches]))
    key = lambda arr: sorted(row.tobytes() for row in arr.reshape(len(arr), -1))  # noqa: E731
    assert key(a) == key(a_task) and key(b) == key(b_task)
    order = lambda arr, ref: [ref.index(row.tobytes()) for row in arr.reshape(len(arr), -1)]  # noqa: E731
    order_a = order(a, [r.tobytes() for r in a_task.reshape(500, -1)])
    order_b = order(b, [r.tobytes() for r in b_task.reshape(500, -1)])
    assert order_a != order_b  # independent shuffles
    # A paired task read as unpaired: its two sides from disjoint halves.
    a, b = next(iter(kg.data.load_unpaired("mnist_edges", mnist=SUBSET, split="test", batch_size=500, seed=0)))
    assert not np.array_equal(paired.edges(_pixels(b.numpy())), _pixels(a.numpy()))


# --- npz and folders ------------------------------------------------------------------


def test_npz_pairs(tmp_path, digits):
    images = digits[0][:40]
    path = tmp_path / "pairs.npz"
    colour = np.repeat(images, 3, axis=-1)
    np.savez(path, a=images[..., 0], b=colour, a_test=images[:8] / 255.0, b_test=colour[:8])
    a, b = next(iter(kg.data.load_paired(path, batch_size=40, shuffle=False)))
    assert a.shape == (40, 28, 28, 1) and b.shape == (40, 28, 28, 3)
    np.testing.assert_array_equal(_pixels(a.numpy()), images)
    a, b = next(iter(kg.data.load_paired(str(path), split="test", batch_size=8, shuffle=False)))
    np.testing.assert_array_equal(_pixels(a.numpy()), images[:8])

    np.savez(tmp_path / "other.npz", x=images[:10], y=colour[:9])
    with pytest.raises(ValueError, match="10 A images but 9 B images"):
        kg.data.load_paired(tmp_path / "other.npz", a_key="x", b_key="y")
    unpaired = kg.data.load_unpaired(tmp_path / "other.npz", a_key="x", b_key="y", batch_size=3, seed=0)
    assert unpaired.cardinality().numpy() == 3  # the smaller domain's 9 images
    with pytest.raises(ValueError, match=r"expected 'a_test'.*or 'a' which is read as split='train'"):
        kg.data.load_paired(tmp_path / "other.npz", split="test")
    np.savez(tmp_path / "signed.npz", a=images / 127.5 - 1.0, b=images)
    with pytest.raises(ValueError, match=r"floats in \[0, 1\]"):
        kg.data.load_paired(tmp_path / "signed.npz")
    np.savez(tmp_path / "sizes.npz", a=images, b=images[:, :20])
    with pytest.raises(ValueError, match=r"A images are 28x28 and B images 20x28"):
        kg.data.load_paired(tmp_path / "sizes.npz")


def _write_images(folder, images, names, ext=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for image, name in zip(images, names):
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"{name}{ext}")


def test_parallel_folders(tmp_path, digits):
    images = digits[0][:6]
    names = [f"{i:03d}" for i in range(6)]
    _write_images(tmp_path / "edges", paired.edges(images), names)
    _write_images(tmp_path / "photos", np.repeat(images, 3, axis=-1), names, ext=".jpg")
    _write_images(tmp_path / "edges" / "test", paired.edges(images[:2]), names[:2])
    _write_images(tmp_path / "photos" / "test", np.repeat(images[:2], 3, axis=-1), names[:2])
    for source in (f"{tmp_path / 'edges'}:{tmp_path / 'photos'}", (tmp_path / "edges", tmp_path / "photos")):
        a, b = next(iter(kg.data.load_paired(source, batch_size=6, shuffle=False)))
        assert a.shape == (6, 28, 28, 1) and b.shape == (6, 28, 28, 3)
        np.testing.assert_array_equal(_pixels(a.numpy()), paired.edges(images))
        assert np.abs(_pixels(b.numpy()[..., :1]).astype(int) - images).mean() < 3  # JPEG
    a, _ = next(iter(kg.data.load_paired(source, split="test", batch_size=2, shuffle=False)))
    np.testing.assert_array_equal(_pixels(a.numpy()), paired.edges(images[:2]))
    a, b = next(iter(kg.data.load_paired(source, batch_size=6, image_size=(16, 20))))
    assert a.shape == (6, 16, 20, 1) and b.shape == (6, 16, 20, 3)

    (tmp_path / "photos" / "005.jpg").unlink()
    _write_images(tmp_path / "photos", images[:1], ["extra"])
    with pytest.raises(ValueError, match=r"same file names.*1 only in .*edges \(e.g. 005\); 1 only in .*photos \(e.g. extra\)"):
        kg.data.load_paired(source)
    # Unpaired folders need no matching names (each is a folder kg.data.load reads).
    _write_images(tmp_path / "horses", images[:5], "abcde")
    _write_images(tmp_path / "zebras", np.repeat(images, 3, axis=-1), names, ext=".jpg")
    ds = kg.data.load_unpaired(f"{tmp_path / 'horses'}:{tmp_path / 'zebras'}", batch_size=2, seed=0)
    assert [tuple(s.shape) for s in ds.element_spec] == [(2, 28, 28, 1), (2, 28, 28, 3)]
    assert ds.cardinality().numpy() == 2  # 5 horses, in batches of 2
    with pytest.raises(ValueError, match="neither an .npz file nor two folders"):
        kg.data.load_paired(tmp_path / "edges")


def test_unpaired_from_two_single_domain_sources(tmp_path, digits):
    np.savez(tmp_path / "inverted.npz", x=paired.invert(digits[0][:300]))
    # The IDX folder has a test split; the npz's 'x' is read as split "train": give each its own.
    with pytest.raises(ValueError, match="expected 'x_test'"):
        kg.data.load_unpaired(SUBSET, tmp_path / "inverted.npz", split="test")
    np.savez(tmp_path / "inverted.npz", x_test=paired.invert(digits[0][:300]))
    ds = kg.data.load_unpaired(SUBSET, tmp_path / "inverted.npz", split="test", batch_size=30, seed=0)
    assert ds.cardinality().numpy() == 10  # the 300 of the smaller domain
    a, b = next(iter(ds))
    assert a.numpy().mean() < -0.5 and b.numpy().mean() > 0.5


# --- TFDS (mocked) ----------------------------------------------------------------------


def test_tfds_paired_and_cycle_gan_mocked():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6):
        # div2k: low -> high resolution by default; sizes vary, so image_size is needed.
        a, b = next(iter(kg.data.load_paired("div2k/bicubic_x2", batch_size=4, image_size=16, seed=0)))
        assert a.shape == b.shape == (4, 16, 16, 3) and a.dtype == tf.float32
        assert -1.0 <= a.numpy().min() and b.numpy().max() <= 1.0
        with pytest.raises(ValueError, match=r"images of 'lr' have no fixed size.*pass image_size="):
            kg.data.load_paired("div2k/bicubic_x2")
        with pytest.raises(ValueError, match=r"no image feature 'edges'; its image features are \['hr', 'lr'\]"):
            kg.data.load_paired("div2k/bicubic_x2", a_key="edges", b_key="hr", image_size=8)

        ds = kg.data.load_unpaired("cycle_gan/horse2zebra", batch_size=2, image_size=32, seed=1)
        a, b = next(iter(ds))
        assert a.shape == b.shape == (2, 32, 32, 3) and a.dtype == b.dtype == tf.float32
        a, b = next(iter(kg.data.load_unpaired("cycle_gan/horse2zebra", split="test", batch_size=1, image_size=8)))
        assert a.shape == (1, 8, 8, 3)
        with pytest.raises(ValueError, match=r"holds two unpaired domains.*load_unpaired"):
            kg.data.load_paired("cycle_gan/horse2zebra")
    with pytest.raises(ValueError, match="nor a TFDS dataset name"):
        kg.data.load_paired("no_such_pairs_anywhere")


def test_tfds_offline_fails_fast_with_advice(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(tfds_source, "_network_available", lambda *a, **k: False)
    with pytest.raises(ValueError) as e:
        kg.data.load_unpaired("cycle_gan/horse2zebra", data_dir=tmp_path, image_size=32)
    message = str(e.value)
    assert "not prepared" in message and "no network" in message
    assert "'a' and 'b'" in message and "dirA:dirB" in message and "mnist_edges" in message
