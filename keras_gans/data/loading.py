"""`load` and `load_arrays`: one entry point for every source, by name or by path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_gans.data.files import local_arrays
from keras_gans.data.mixtures import MIXTURE_NAMES, mixture
from keras_gans.data.tfds_source import TFDS_SPECS, tfds_source

# In-memory caching is used when the decoded (uint8) split is at most this large.
_MEMORY_CACHE_BYTES = 2 << 30
# The shuffle buffer holds the whole split, or at most this many bytes of it.
_SHUFFLE_BUFFER_BYTES = 256 << 20


def dataset_names(kind: str | None = None) -> tuple[str, ...]:
    """Names `load` accepts besides paths: TFDS datasets and 2-D toy mixtures.

    Args:
        kind: None for all names, `"tfds"` for the TFDS image datasets, `"mixture"` for
            the 2-D toy mixtures.

    Returns:
        A sorted tuple of names.

    Example:
        >>> dataset_names("mixture")
        ('grid25', 'ring8')
    """
    if kind is None:
        names = (*TFDS_SPECS, *MIXTURE_NAMES)
    elif kind == "tfds":
        names = tuple(TFDS_SPECS)
    elif kind == "mixture":
        names = MIXTURE_NAMES
    else:
        raise ValueError(f"kind must be None, 'tfds' or 'mixture'; got {kind!r}.")
    return tuple(sorted(names))


def _normalize_name(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _resolve(name_or_path):
    """('tfds' | 'mixture' | 'local', name or Path) for a name or a path."""
    if isinstance(name_or_path, str):
        name = _normalize_name(name_or_path)
        if name in TFDS_SPECS:
            return "tfds", name
        if name in MIXTURE_NAMES:
            return "mixture", name
    elif not isinstance(name_or_path, os.PathLike):
        raise TypeError(
            f"name_or_path must be a dataset name or a path; got {type(name_or_path).__name__} "
            f"{name_or_path!r}."
        )
    path = Path(name_or_path).expanduser()
    if path.exists():
        return "local", path
    raise ValueError(
        f"{str(name_or_path)!r} is neither a known dataset name nor an existing path. Known "
        f"names: {', '.join(dataset_names())}. A path may be a folder of MNIST-style IDX files "
        "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...), an .npz file "
        "with arrays 'x' (and 'y' for labels), or a folder of PNG/JPEG images (one sub-folder "
        "per class for labels)."
    )


def _image_size(image_size) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int):
        size = (image_size, image_size)
    else:
        size = tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError(
            f"image_size must be a positive int or a (height, width) pair; got {image_size!r}."
        )
    return int(size[0]), int(size[1])


def load(
    name_or_path,
    split: str = "train",
    batch_size: int | None = 64,
    labels: bool = False,
    shuffle: bool = True,
    seed: int | None = None,
    data_dir: str | os.PathLike | None = None,
    cache: bool | str = True,
    image_size: int | tuple[int, int] | None = None,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of float32 NHWC images in [-1, 1], ready for `GAN.fit`.

    Bare names (`dataset_names()`) take precedence over paths: a folder called `mnist` in
    the working directory is read as a path only when written as one (`"./mnist"` or a
    `pathlib.Path`).

    Args:
        name_or_path: a TFDS name (`mnist`, `fashion_mnist`, `cifar10`, `celeb_a`), a toy
            mixture (`ring8`, `grid25`), or a path to local files: a folder of IDX files, an
            `.npz` file, or a folder of PNG/JPEG images.
        split: `"train"` or `"test"` (TFDS accepts its own split strings too, e.g.
            `"train[:10%]"`). IDX folders pick the `train-*` or `t10k-*` files; `.npz` files
            read `x_<split>` when present, else `x` for `"train"`; image folders read the
            `<split>` sub-folder when present, else the folder itself for `"train"`.
        batch_size: examples per batch; None for an unbatched dataset.
        labels: yield `(images, labels)` with int32 class ids (component ids for the toy
            mixtures) instead of images alone.
        shuffle: shuffle the examples, reshuffling every epoch.
        seed: seed of the shuffle (and of the toy mixture's points); None for a fresh one.
        data_dir: TFDS data folder, passed to `tfds.load`.
        cache: True to cache the decoded split in memory when it fits (at most 2 GiB of
            uint8 pixels), False not to cache, or a file name for `Dataset.cache(filename)`.
        image_size: resize the images to `image_size` (an int for square images, or
            `(height, width)`); None keeps the source's size (64 x 64 for `celeb_a`). Image
            folders resize every image, so folders with mixed sizes need it.
        drop_remainder: drop the last, smaller batch (keeps batch shapes static).

    Returns:
        Batches of `images` float32 `[B, H, W, C]` in [-1, 1] (or `(images, labels)`), or for
        `ring8` / `grid25` points float32 `[B, 2]`, one epoch of 100,000 points.

    Example:
        >>> ds = load("tests/data/mnist", split="test", batch_size=32, labels=True)
        >>> images, labels = next(iter(ds))
        >>> images.shape, labels.dtype
        (TensorShape([32, 28, 28, 1]), tf.int32)
    """
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None; got {batch_size!r}.")
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise ValueError(f"cache must be True, False or a file name; got {cache!r}.")
    kind, name = _resolve(name_or_path)
    size = _image_size(image_size)

    if kind == "mixture":
        if size is not None:
            raise ValueError(f"image_size applies to images; {name!r} is a 2-D point mixture.")
        return mixture(name).dataset(
            batch_size=batch_size,
            labels=labels,
            shuffle=shuffle,
            seed=seed,
            drop_remainder=drop_remainder,
        )

    if kind == "tfds":
        ds, num_examples, example_shape = tfds_source(
            name, split, labels, shuffle, seed, data_dir, size
        )
        in_memory = False
    else:
        images, ids = local_arrays(name, split, labels, size)
        num_examples, example_shape = len(images), images.shape[1:]
        ds = tf.data.Dataset.from_tensor_slices((images, ids) if labels else images)
        in_memory = True

    example_bytes = int(np.prod(example_shape)) if example_shape is not None else None
    if cache and not in_memory:
        if isinstance(cache, (str, os.PathLike)):
            ds = ds.cache(os.fspath(cache))
        elif num_examples is not None and example_bytes and num_examples * example_bytes <= _MEMORY_CACHE_BYTES:
            ds = ds.cache()
    if shuffle:
        if num_examples is not None and example_bytes:
            buffer = max(1, min(num_examples, _SHUFFLE_BUFFER_BYTES // example_bytes))
        else:
            buffer = 10_000
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    # Batch the uint8 pixels first, then convert whole batches: one op per batch, not per image.
    if batch_size is not None:
        ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    ds = ds.map(
        _to_float_pair if labels else _to_float, num_parallel_calls=tf.data.AUTOTUNE
    )
    if in_memory:
        # Arrays have no files to shard by: shard by example under multi-worker strategies.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(
    name_or_path,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    image_size: int | tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The whole split as numpy arrays: uint8 NHWC images and int32 labels (or None).

    Used by evaluation code (classifiers, FID statistics), which wants the pixels as stored.
    The arguments mean what they mean for `load`.

    Args:
        name_or_path: a TFDS name or a path to local files (see `load`); the toy mixtures
            have no fixed arrays, use `mixture(name).sample(n, seed)`.
        split: `"train"` or `"test"` (or a TFDS split string).
        data_dir: TFDS data folder, passed to `tfds.load`.
        image_size: resize to this size (int or `(height, width)`); None keeps the source's.

    Returns:
        `(images, labels)`: images uint8 `[N, H, W, C]`; labels int32 `[N]`, or None when the
        source has no labels.

    Example:
        >>> images, labels = load_arrays("tests/data/mnist", split="test")
        >>> images.shape, images.dtype, labels[:3]
        ((1000, 28, 28, 1), dtype('uint8'), array([7, 2, 1], dtype=int32))
    """
    kind, name = _resolve(name_or_path)
    size = _image_size(image_size)
    if kind == "mixture":
        raise ValueError(
            f"{name!r} is a 2-D mixture without fixed arrays; draw points with "
            f"mixture({name!r}).sample(n, seed)."
        )
    if kind == "local":
        return local_arrays(name, split, None, size)
    has_labels = TFDS_SPECS[name].label_key is not None
    ds, _, _ = tfds_source(name, split, has_labels, False, None, data_dir, size)
    chunks = list(ds.batch(4096).as_numpy_iterator())
    if not chunks:
        raise ValueError(f"TFDS dataset {name!r} split {split!r} is empty.")
    if has_labels:
        return (
            np.concatenate([c[0] for c in chunks]),
            np.concatenate([c[1] for c in chunks]).astype(np.int32),
        )
    return np.concatenate(chunks), None


def _to_float(images):
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def _to_float_pair(images, labels):
    return _to_float(images), labels
