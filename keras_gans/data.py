"""Input pipelines for GAN training: TFDS datasets, local files and 2-D toy mixtures.

Every image pipeline yields float32 NHWC images in [-1, 1] (the convention inside the
models), optionally with int32 class ids. Images come from:

- a TFDS name (`mnist`, `fashion_mnist`, `cifar10`, `celeb_a`), downloaded by TFDS when the
  machine has a network, or read from `data_dir` where it is already prepared;
- local files: a folder of MNIST-style IDX files (`train-*` / `t10k-*`, gzipped or not), an
  `.npz` file with `x` (and `y`), or a folder of PNG/JPEG images (one sub-folder per class
  gives labels).

The 2-D mixtures `ring8` and `grid25` follow the PacGAN protocol (Lin et al. 2018) for
mode-collapse studies and keep their published coordinates (they are not rescaled).

Example:
    import keras_gans as kg

    ds = kg.data.load("../shared/data/mnist", split="train", batch_size=128)
    images, labels = kg.data.load_arrays("../shared/data/mnist", split="test")
    points = kg.data.load("ring8", batch_size=512)
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import socket
import types
from pathlib import Path

import numpy as np
import tensorflow as tf

# ---------------------------------------------------------------------------------------
# Names


@dataclasses.dataclass(frozen=True)
class _TfdsSpec:
    """How to read one TFDS dataset: its TFDS name, feature keys and preprocessing."""

    tfds_name: str
    label_key: str | None = "label"
    center_crop: int | None = None  # side of the square centre crop, before resizing
    image_size: tuple[int, int] | None = None  # default output size (after the crop)


# CelebA: the 108 x 108 centre crop of the aligned 218 x 178 faces, resized to 64 x 64, as in
# the DCGAN paper's code (carpedm20/DCGAN-tensorflow) and most GAN papers since.
_TFDS_SPECS = types.MappingProxyType(
    {
        "mnist": _TfdsSpec("mnist"),
        "fashion_mnist": _TfdsSpec("fashion_mnist"),
        "cifar10": _TfdsSpec("cifar10"),
        "celeb_a": _TfdsSpec("celeb_a", label_key=None, center_crop=108, image_size=(64, 64)),
    }
)
_MIXTURE_NAMES = ("ring8", "grid25")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_SPLIT_PREFIXES = types.MappingProxyType({"train": ("train",), "test": ("t10k", "test")})
# In-memory caching is used when the decoded (uint8) split is at most this large.
_MEMORY_CACHE_BYTES = 2 << 30
# The shuffle buffer holds the whole split, or at most this many bytes of it.
_SHUFFLE_BUFFER_BYTES = 256 << 20
# Number of points in one epoch of a toy mixture dataset.
_MIXTURE_EPOCH = 100_000


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
        names = (*_TFDS_SPECS, *_MIXTURE_NAMES)
    elif kind == "tfds":
        names = tuple(_TFDS_SPECS)
    elif kind == "mixture":
        names = _MIXTURE_NAMES
    else:
        raise ValueError(f"kind must be None, 'tfds' or 'mixture'; got {kind!r}.")
    return tuple(sorted(names))


def _normalize_name(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _resolve(name_or_path):
    """('tfds' | 'mixture' | 'local', name or Path) for a name or a path."""
    if isinstance(name_or_path, str):
        name = _normalize_name(name_or_path)
        if name in _TFDS_SPECS:
            return "tfds", name
        if name in _MIXTURE_NAMES:
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


# ---------------------------------------------------------------------------------------
# Public entry points


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
        ds, num_examples, example_shape = _tfds_source(
            name, split, labels, shuffle, seed, data_dir, size
        )
        in_memory = False
    else:
        images, ids = _local_arrays(name, split, labels, size)
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
    ds = ds.map(
        _to_float_pair if labels else _to_float, num_parallel_calls=tf.data.AUTOTUNE
    )
    if batch_size is not None:
        ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
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
        return _local_arrays(name, split, None, size)
    has_labels = _TFDS_SPECS[name].label_key is not None
    ds, _, _ = _tfds_source(name, split, has_labels, False, None, data_dir, size)
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


# ---------------------------------------------------------------------------------------
# TFDS


def _network_available(host: str = "storage.googleapis.com", timeout: float = 5.0) -> bool:
    """Whether TFDS can plausibly download: a proxy is configured or `host` answers."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_error(name: str, data_dir, cause: str) -> ValueError:
    where = f"data_dir={os.fspath(data_dir)!r}" if data_dir else "the default TFDS data_dir"
    return ValueError(
        f"TFDS dataset {name!r} is not prepared in {where} and could not be downloaded "
        f"({cause}). Point load() at local files instead: a folder of MNIST-style IDX files "
        "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz; e.g. load('/path/to/mnist')), an .npz file with arrays "
        "'x' (uint8 [N, H, W(, C)]) and optionally 'y', or a folder of PNG/JPEG images (one "
        "sub-folder per class for labels); or pass data_dir= a TFDS data folder where the "
        "dataset is already prepared."
    )


def _tfds_source(name, split, labels, shuffle, seed, data_dir, size):
    """(uint8 dataset of images or (images, labels), num_examples or None, example shape)."""
    import tensorflow_datasets as tfds

    spec = _TFDS_SPECS[name]
    if labels and spec.label_key is None:
        raise ValueError(
            f"TFDS dataset {name!r} has no class labels; call load(..., labels=False)."
        )
    kwargs = dict(
        split=split,
        data_dir=None if data_dir is None else os.fspath(data_dir),
        shuffle_files=shuffle,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
        with_info=True,
    )
    try:
        ds, info = tfds.load(spec.tfds_name, download=False, **kwargs)
    except AssertionError:  # TFDS's "could not find data in <data_dir>": not prepared yet.
        # Without a network TFDS retries each file for minutes before failing; fail now.
        if not _network_available():
            raise _offline_error(name, data_dir, "no network connection") from None
        try:
            ds, info = tfds.load(spec.tfds_name, download=True, **kwargs)
        except (OSError, tfds.download.DownloadError) as e:
            raise _offline_error(name, data_dir, f"{type(e).__name__}: {e}") from e

    out_size = size or spec.image_size
    crop = spec.center_crop
    label_key = spec.label_key

    def prepare(example):
        image = example["image"]
        if crop is not None:
            image = tf.image.resize_with_crop_or_pad(image, crop, crop)
        if out_size is not None:
            image = _resize(image, out_size)
        if labels:
            return image, tf.cast(example[label_key], tf.int32)
        return image

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    try:
        num_examples = int(info.splits[split].num_examples)
    except Exception:  # sliced or mocked splits may not know their size
        num_examples = None
    image_spec = ds.element_spec[0] if labels else ds.element_spec
    shape = image_spec.shape
    example_shape = tuple(shape) if shape.is_fully_defined() else None
    return ds, num_examples, example_shape


def _resize(images, size):
    """Resize uint8 images (HWC or NHWC) to `size` with antialiasing; uint8 out."""
    resized = tf.image.resize(images, size, method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


# ---------------------------------------------------------------------------------------
# Local files


def _local_arrays(path: Path, split: str, labels: bool | None, size):
    """(uint8 NHWC images, int32 labels or None) from a local path.

    `labels=True` requires labels, False drops them, None returns what the source has.
    """
    if path.is_file() and path.suffix.lower() == ".npz":
        images, ids = _read_npz(path, split)
    elif path.is_dir() and any(path.glob("*-idx3-ubyte*")):
        images, ids = _read_idx_folder(path, split)
    elif path.is_dir():
        images, ids = _read_image_folder(path, split, size)
    else:
        raise ValueError(
            f"{path} is not a folder or an .npz file. Expected a folder of MNIST-style IDX "
            "files, an .npz file with 'x' (and 'y'), or a folder of PNG/JPEG images."
        )
    if labels and ids is None:
        raise ValueError(
            f"labels=True, but {path} (split {split!r}) has no labels: IDX folders need the "
            "*-labels-idx1-ubyte files, .npz files a 'y' array, image folders one sub-folder "
            "per class."
        )
    if size is not None and images.shape[1:3] != size:
        images = np.concatenate(
            [_resize(images[i : i + 1024], size).numpy() for i in range(0, len(images), 1024)]
        )
    return images, (ids if labels is not False else None)


_IDX_DTYPES = types.MappingProxyType(
    {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not), the format of the original MNIST files.

    The header is big-endian: two zero bytes, a type code (0x08 = uint8), the number of
    dimensions, then each dimension as a 32-bit integer; the data follows.

    Args:
        path: an IDX file, e.g. `t10k-images-idx3-ubyte.gz`.

    Returns:
        An array with the dimensions of the header (uint8 for MNIST).

    Example:
        >>> read_idx("tests/data/mnist/t10k-labels-idx1-ubyte.gz").shape
        (1000,)
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read it as an IDX file ({e}).") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file; its magic number is 0x{raw[:4].hex()} (expected "
            "0x00000803 for images, 0x00000801 for labels)."
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header truncated ({len(raw)} bytes, expected {header}).")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: header says shape {dims} ({expected} bytes of data) but the file has "
            f"{len(raw) - header} bytes of data."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, split: str, kind: str) -> Path | None:
    if split not in _SPLIT_PREFIXES:
        raise ValueError(
            f"split must be 'train' or 'test' for an IDX folder; got {split!r} ({folder})."
        )
    found = sorted(
        p
        for prefix in _SPLIT_PREFIXES[split]
        for p in folder.glob(f"{prefix}-{kind}-idx*-ubyte*")
        if p.name.endswith("-ubyte") or p.name.endswith("-ubyte.gz")
    )
    if len(found) > 1:
        raise ValueError(
            f"{folder}: several {split} {kind} files ({', '.join(p.name for p in found)}); "
            "keep one."
        )
    return found[0] if found else None


def _read_idx_folder(folder: Path, split: str):
    images_path = _find_idx(folder, split, "images")
    if images_path is None:
        present = sorted(p.name for p in folder.glob("*-ubyte*"))
        raise ValueError(
            f"{folder}: no {split} images file ({_SPLIT_PREFIXES.get(split, (split,))[0]}-"
            f"images-idx3-ubyte[.gz]); the folder has: {', '.join(present) or 'no IDX files'}."
        )
    images = read_idx(images_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected uint8 images [N, rows, cols] (magic 0x00000803); got "
            f"{images.dtype} with shape {images.shape}."
        )
    ids = None
    labels_path = _find_idx(folder, split, "labels")
    if labels_path is not None:
        ids = read_idx(labels_path)
        if ids.ndim != 1 or ids.dtype != np.uint8:
            raise ValueError(
                f"{labels_path}: expected uint8 labels [N] (magic 0x00000801); got {ids.dtype} "
                f"with shape {ids.shape}."
            )
        if len(ids) != len(images):
            raise ValueError(
                f"{labels_path} has {len(ids)} labels but {images_path} has {len(images)} images."
            )
        ids = ids.astype(np.int32)
    return images[..., None], ids


def _as_uint8_images(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{where}: expected images [N, H, W] or [N, H, W, C] with C in 1, 3, 4; got shape "
            f"{x.shape}."
        )
    if x.dtype == np.uint8:
        return x
    if x.size == 0:
        return x.astype(np.uint8)
    lo, hi = x.min(), x.max()
    if np.issubdtype(x.dtype, np.integer) and lo >= 0 and hi <= 255:
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
        return np.round(x * 255.0).astype(np.uint8)
    raise ValueError(
        f"{where}: expected uint8 pixels (or integers in [0, 255], or floats in [0, 1]); got "
        f"{x.dtype} in [{lo}, {hi}]."
    )


def _read_npz(path: Path, split: str):
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        if f"x_{split}" in keys:
            x_key, y_key = f"x_{split}", f"y_{split}"
        elif "x" in keys and split == "train":
            x_key, y_key = "x", "y"
        else:
            raise ValueError(
                f"{path} has arrays {sorted(keys)}; for split {split!r} expected "
                f"'x_{split}' (and 'y_{split}'), or 'x' (and 'y') which is read as "
                "split='train'."
            )
        x = f[x_key]
        y = f[y_key] if y_key in keys else None
    images = _as_uint8_images(x, f"{path}[{x_key!r}]")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(images),) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"{path}[{y_key!r}]: expected integer class ids of shape ({len(images)},); got "
                f"{y.dtype} with shape {y.shape}."
            )
        y = y.astype(np.int32)
    return images, y


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def _read_image_folder(folder: Path, split: str, size):
    from PIL import Image

    root = folder / split
    if not root.is_dir():
        if split != "train":
            raise ValueError(
                f"{folder} has no {split!r} sub-folder; a folder of images without split "
                "sub-folders is read as split='train'."
            )
        root = folder
    top = sorted(
        p for p in root.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
    )
    class_dirs = sorted(
        d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and _image_files(d)
    )
    if top and class_dirs:
        raise ValueError(
            f"{root} has both images ({top[0].name}, ...) and class sub-folders "
            f"({', '.join(d.name for d in class_dirs)}); put every image in a class sub-folder, "
            "or none."
        )
    if class_dirs:
        files, ids = [], []
        for class_id, d in enumerate(class_dirs):
            class_files = _image_files(d)
            files += class_files
            ids += [class_id] * len(class_files)
        ids = np.asarray(ids, np.int32)
    else:
        files, ids = top, None
    if not files:
        raise ValueError(
            f"{root} has no images (looked for {', '.join(_IMAGE_SUFFIXES)} files in the "
            "folder and in one sub-folder per class)."
        )

    # Headers first (cheap), so a folder with mixed sizes fails before decoding anything.
    sizes: dict[tuple[int, int], list[Path]] = {}
    gray = True
    for p in files:
        try:
            with Image.open(p) as im:
                sizes.setdefault(im.size, []).append(p)
                gray &= im.mode in ("1", "L", "LA", "I", "I;16", "F")
        except OSError as e:
            raise ValueError(f"{p}: not a readable image ({e}).") from e
    if len(sizes) > 1 and size is None:
        listing = "; ".join(
            f"{w}x{h} (width x height): {len(ps)} files, e.g. {ps[0].relative_to(folder)}"
            for (w, h), ps in sorted(sizes.items(), key=lambda kv: -len(kv[1]))
        )
        raise ValueError(
            f"{root} has images of {len(sizes)} different sizes: {listing}. Resize them to one "
            "size, or pass image_size= to resize while loading."
        )

    mode = "L" if gray else "RGB"
    images = []
    for p in files:
        with Image.open(p) as im:
            im = im.convert(mode)
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            images.append(np.asarray(im, np.uint8))
    images = np.stack(images)
    if gray:
        images = images[..., None]
    return images, ids


# ---------------------------------------------------------------------------------------
# 2-D toy mixtures


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """An equal-weight mixture of isotropic 2-D Gaussians (PacGAN's mode-collapse tests).

    Args:
        name: `"ring8"` or `"grid25"` (or any name for a custom mixture).
        centers: float64 array `[K, 2]` of the component means.
        sigma: standard deviation of every component, per coordinate.

    Example:
        >>> ring = mixture("ring8")
        >>> ring.centers.shape, ring.sigma
        ((8, 2), 0.01)
        >>> ring.sample(4, seed=0).shape
        (4, 2)
    """

    name: str
    centers: np.ndarray
    sigma: float

    @property
    def num_modes(self) -> int:
        """Number of components K."""
        return len(self.centers)

    def sample(
        self, n: int, seed: int | None = None, return_components: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Draw `n` points, each from a component chosen uniformly at random.

        Args:
            n: number of points.
            seed: seed of `numpy.random.default_rng`; None for fresh randomness.
            return_components: also return the int32 component id of each point.

        Returns:
            float32 points `[n, 2]` (and int32 component ids `[n]`).

        Example:
            >>> points, ids = mixture("grid25").sample(2500, seed=1, return_components=True)
        """
        rng = np.random.default_rng(seed)
        ids = rng.integers(0, self.num_modes, size=int(n))
        points = self.centers[ids] + self.sigma * rng.standard_normal((int(n), 2))
        points = points.astype(np.float32)
        return (points, ids.astype(np.int32)) if return_components else points

    def dataset(
        self,
        batch_size: int | None = 64,
        labels: bool = False,
        shuffle: bool = True,
        seed: int | None = None,
        drop_remainder: bool = True,
        num_samples: int = _MIXTURE_EPOCH,
    ) -> tf.data.Dataset:
        """A dataset of `num_samples` points (one epoch), float32 `[B, 2]`, in published units.

        The points are drawn once (from `seed`) and reshuffled every epoch; call `.repeat()`
        for an endless stream.

        Args:
            batch_size: points per batch; None for single points.
            labels: yield `(points, component_ids)`.
            shuffle: reshuffle the points every epoch.
            seed: seed of the points and of the shuffle.
            drop_remainder: drop the last, smaller batch.
            num_samples: points per epoch.

        Returns:
            A prefetched `tf.data.Dataset`.

        Example:
            >>> next(iter(mixture("ring8").dataset(batch_size=256, seed=0))).shape
            TensorShape([256, 2])
        """
        points, ids = self.sample(num_samples, seed=seed, return_components=True)
        ds = tf.data.Dataset.from_tensor_slices((points, ids) if labels else points)
        if shuffle:
            ds = ds.shuffle(num_samples, seed=seed, reshuffle_each_iteration=True)
        if batch_size is not None:
            ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def mixture(name: str) -> Mixture:
    """The 2-D Gaussian mixture `ring8` or `grid25`, as in PacGAN (Lin et al. 2018).

    `ring8`: 8 components at (cos 2*pi*i/8, sin 2*pi*i/8), i = 0..7 (radius 1), sigma 0.01.
    `grid25`: 25 components at (i, j) for i, j in {-4, -2, 0, 2, 4}, sigma 0.05.

    Args:
        name: `"ring8"` or `"grid25"`.

    Returns:
        A `Mixture` with read-only centres.

    Example:
        >>> mixture("grid25").num_modes
        25
    """
    key = _normalize_name(name) if isinstance(name, str) else name
    if key == "ring8":
        # arange(8)/8, not linspace(0, 2*pi, 8), which repeats the first centre (7 modes).
        angles = 2.0 * np.pi * np.arange(8) / 8.0
        centers, sigma = np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01
    elif key == "grid25":
        coords = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        centers = np.array([(i, j) for i in coords for j in coords])
        sigma = 0.05
    else:
        raise ValueError(f"Unknown mixture {name!r}; known: {', '.join(_MIXTURE_NAMES)}.")
    centers.setflags(write=False)
    return Mixture(key, centers, sigma)
