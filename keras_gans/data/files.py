"""Local image files: folders of MNIST-style IDX files, .npz archives and folders of PNG/JPEG images."""

from __future__ import annotations

import gzip
import os
import types
from pathlib import Path

import numpy as np
import tensorflow as tf

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_SPLIT_PREFIXES = types.MappingProxyType({"train": ("train",), "test": ("t10k", "test")})


def resize(images, size):
    """Resize uint8 images (HWC or NHWC) to `size` with antialiasing; uint8 out."""
    resized = tf.image.resize(images, size, method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def local_arrays(path: Path, split: str, labels: bool | None, size):
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
            [resize(images[i : i + 1024], size).numpy() for i in range(0, len(images), 1024)]
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
