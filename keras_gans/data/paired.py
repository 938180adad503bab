"""Data for image-to-image translation: paired (pix2pix) and unpaired (CycleGAN) image sets.

`load_paired` yields `(a, b)` batches where `b[i]` is the translation of `a[i]` (pix2pix,
Isola et al. 2017); `load_unpaired` yields `(a, b)` batches of two independently shuffled
domains (CycleGAN, Zhu et al. 2017), so `a[i]` and `b[i]` have nothing to do with each
other. Both give float32 NHWC images in [-1, 1] (the convention inside the models) and are
ready for `Pix2Pix.fit` / `CycleGAN.fit`.

Sources:

- an `.npz` file with arrays `a` and `b` (`a_key` / `b_key`; `a_<split>` and `b_<split>`
  when present): uint8 pixels, integers in [0, 255] or floats in [0, 1], shaped
  `[N, H, W]` or `[N, H, W, C]` (C in 1, 3, 4). Paired: the same N, H and W; unpaired:
  any N each.
- two folders of PNG/JPEG images, `"dirA:dirB"` or `(dirA, dirB)`; each folder's `<split>`
  sub-folder when it has one (else the folder itself, read as split "train"). Paired: files
  are matched by name without the extension (`dirA/0001.png` with `dirB/0001.jpg`), and
  every file must have its partner. Unpaired: each folder is any image source `kg.data.load`
  reads.
- TFDS names, downloaded by TFDS when the machine has a network: `cycle_gan/<name>`
  (horse2zebra, facades, ...) for `load_unpaired`, its `trainA`/`trainB` (`testA`/`testB`)
  splits as the two domains; for `load_paired`, any TFDS dataset whose examples hold two
  images (`a_key` and `b_key` name the features; for `div2k` and `cityscapes` they default
  to low -> high resolution and segmentation labels -> photo). Sizes vary in most of these:
  pass `image_size`.
- tasks derived from MNIST, which need no network (`mnist=` an IDX folder such as
  `tests/data/mnist` or `../shared/data/mnist`; without it TFDS's `mnist`). See
  `mnist_task` for their definitions.
- for `load_unpaired(source_a, source_b)`: two single-domain sources, each anything
  `kg.data.load` reads (a TFDS name like `mnist`, an IDX folder, an `.npz` with `x`, an
  image folder).

Example:
    import keras_gans as kg

    pairs = kg.data.load_paired("mnist_edges", mnist="tests/data/mnist", split="test", batch_size=32)
    a, b = next(iter(pairs))                     # edge maps, digits: [32, 28, 28, 1] each
    domains = kg.data.load_unpaired("mnist_invert", mnist="tests/data/mnist", split="test")
    zebras = kg.data.load_unpaired("cycle_gan/horse2zebra", image_size=256, batch_size=1)
    edges, digits, labels = kg.data.mnist_task("mnist_edges", "tests/data/mnist", split="test")
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_gans.data.files import _IMAGE_SUFFIXES, _as_uint8_images, resize
from keras_gans.data.loading import _image_size, _to_float, load, load_arrays

PAIRED_TASKS = ("mnist_edges", "mnist_inpaint")
UNPAIRED_TASKS = ("mnist_invert", "mnist_dilate")
MNIST_TASKS = PAIRED_TASKS + UNPAIRED_TASKS

# mnist_inpaint: an INPAINT_SIZE x INPAINT_SIZE square of INPAINT_VALUE (mid grey, so the
# hole is visible on the black background too), its top-left corner uniform in
# [INPAINT_LOW, INPAINT_HIGH] on both axes: inside the 20 x 20 box MNIST centres digits in.
INPAINT_SIZE = 8
INPAINT_VALUE = 128
INPAINT_LOW, INPAINT_HIGH = 6, 14
# The seed of the tasks' own randomness (inpainting squares, the halves of the unpaired
# tasks): fixed, so a task name means the same data everywhere.
TASK_SEED = 0

# TFDS datasets holding image pairs: {builder name: (A feature, B feature)}, used when
# a_key and b_key are left at their defaults.
TFDS_PAIRS = types.MappingProxyType(
    {
        "div2k": ("lr", "hr"),  # super-resolution: low -> high resolution (sizes differ: image_size)
        "cityscapes": ("segmentation_label", "image_left"),  # pix2pix's labels -> photo
    }
)
_DEFAULT_KEYS = ("a", "b")
_SHUFFLE_BUFFER = 1000  # examples, for TFDS sources (arrays shuffle whole)


# --------------------------------------------------------------------------- MNIST tasks


def _neighbourhood(images, reduce):
    """`reduce` (np.maximum / np.minimum) over each pixel's 3 x 3 neighbourhood, edges replicated."""
    x = np.asarray(images)
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
    h, w = x.shape[1:3]
    out = padded[:, 1 : 1 + h, 1 : 1 + w].copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            reduce(out, padded[:, dy : dy + h, dx : dx + w], out=out)
    return out


def dilate(images):
    """Grey-level dilation by a 3 x 3 square: each pixel the maximum of its neighbourhood.

    Strokes grow by one pixel on every side (the B domain of "mnist_dilate").
    """
    return _neighbourhood(images, np.maximum)


def edges(images):
    """The external morphological gradient, dilation(x) - x, of uint8 images.

    Bright where a pixel borders a brighter one and is not bright itself: the outline
    just outside each stroke, and dark inside the strokes (the A images of "mnist_edges").
    """
    x = np.asarray(images, np.uint8)
    return (dilate(x).astype(np.int16) - x).clip(0, 255).astype(np.uint8)


def invert(images):
    """255 - x: white digits on black become black digits on white ("mnist_invert")."""
    return (255 - np.asarray(images, np.uint8)).astype(np.uint8)


def inpaint_masks(n, height=28, width=28, seed=TASK_SEED):
    """Boolean masks `[n, H, W, 1]`, True on each example's square hole (see INPAINT_*)."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(INPAINT_LOW, INPAINT_HIGH + 1, size=(n, 2))
    masks = np.zeros((n, height, width, 1), bool)
    for mask, (y, x) in zip(masks, corners):
        mask[y : y + INPAINT_SIZE, x : x + INPAINT_SIZE] = True
    return masks


def mnist_task(task, mnist_dir=None, split="train", seed=TASK_SEED):
    """The arrays of an MNIST-derived translation task: `(a, b, labels)`.

    Paired tasks (pix2pix), one pair per digit, in the source's order:
    - `"mnist_edges"`: a = the digit's edge map (`edges`: dilation minus the digit, its
      outline), b = the digit.
    - `"mnist_inpaint"`: a = the digit with a grey square hole (`INPAINT_SIZE` pixels a
      side, value `INPAINT_VALUE`, placed at random inside the digit's box by `seed`),
      b = the digit.

    Unpaired tasks (CycleGAN): the digits are split in two disjoint halves by a
    permutation drawn from `seed`; A is the first half as it is, B the second half
    transformed, so no B image is the transform of any A image:
    - `"mnist_invert"`: B = inverted digits (`invert`, black on white).
    - `"mnist_dilate"`: B = dilated digits (`dilate`, strokes one pixel thicker).

    The digit class survives every transform, so the shipped classifier
    (`keras_gans.evaluation.load_classifier`) can check that a translation kept it
    (inverted digits: invert them back before classifying).

    Args:
        task: one of `MNIST_TASKS`.
        mnist_dir: a folder of MNIST IDX files (`tests/data/mnist` has the first 1,000
            test digits; `../shared/data/mnist` both splits), or None for TFDS's `mnist`.
        split: "train" or "test".
        seed: the seed of the task's randomness (holes, halves); the default is the one
            `load_paired` / `load_unpaired` use.

    Returns:
        `(a, b, labels)`: uint8 `[N, 28, 28, 1]` arrays; labels int32, `[N]` (the class of
        pair i) for paired tasks, `[N, 2]` (the class of a[i], the class of b[i]) for
        unpaired ones, N being half the digits.

    Example:
        >>> a, b, labels = mnist_task("mnist_invert", "tests/data/mnist", split="test")
        >>> a.shape, b.shape, labels.shape, int(b.max()) - int(b.min())
        ((500, 28, 28, 1), (500, 28, 28, 1), (500, 2), 255)
    """
    given, task = task, _task_name(task)
    if task is None:
        raise ValueError(f"Unknown MNIST task {given!r}; known: {', '.join(MNIST_TASKS)}.")
    images, labels = load_arrays("mnist" if mnist_dir is None else Path(mnist_dir), split=split)
    if labels is None:
        raise ValueError(f"{mnist_dir} has no labels for split {split!r}: the MNIST tasks need the labels file.")
    labels = labels.astype(np.int32)
    if task == "mnist_edges":
        return edges(images), images, labels
    if task == "mnist_inpaint":
        holed = np.where(inpaint_masks(len(images), *images.shape[1:3], seed=seed), np.uint8(INPAINT_VALUE), images)
        return holed.astype(np.uint8), images, labels
    order = np.random.default_rng(seed).permutation(len(images))
    half = len(images) // 2
    ia, ib = order[:half], order[half : 2 * half]
    transform = invert if task == "mnist_invert" else dilate
    return images[ia], transform(images[ib]), np.stack([labels[ia], labels[ib]], axis=1)


def _task_name(source):
    if not isinstance(source, str):
        return None
    name = source.strip().lower().replace("-", "_")
    return name if name in MNIST_TASKS else None


# --------------------------------------------------------------------------- pipelines


def _in_memory(ds):
    # Arrays have no files to shard by: shard by example under multi-worker strategies.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def _float_pairs(ds, batch_size, drop_remainder):
    """Batches (a, b) of uint8 (or float already) images, then converts whole batches to [-1, 1]."""
    if batch_size is not None:
        ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    a_spec, b_spec = ds.element_spec

    def to_float(a, b):
        return (_to_float(a) if a_spec.dtype == tf.uint8 else a), (_to_float(b) if b_spec.dtype == tf.uint8 else b)

    return ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _check_batch_size(batch_size):
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive int or None; got {batch_size!r}.")


def _resized(images, size):
    if size is None or images.shape[1:3] == size:
        return images
    return np.concatenate([resize(images[i : i + 1024], size).numpy() for i in range(0, len(images), 1024)])


def _check_pairs(a, b, where):
    if len(a) != len(b):
        raise ValueError(f"{where}: {len(a)} A images but {len(b)} B images; paired data needs one B per A.")
    if a.shape[1:3] != b.shape[1:3]:
        raise ValueError(
            f"{where}: A images are {a.shape[1]}x{a.shape[2]} and B images {b.shape[1]}x{b.shape[2]} "
            "(height x width); paired images must have the same size (pass image_size= to resize both)."
        )


# --------------------------------------------------------------------------- npz and folders


def _npz_arrays(path, split, keys):
    """The arrays `keys` of an .npz (`<key>_<split>`, else `<key>` for split "train"), as uint8 images."""
    with np.load(path, allow_pickle=False) as f:
        present = set(f.files)
        out = []
        for key in keys:
            if f"{key}_{split}" in present:
                name = f"{key}_{split}"
            elif key in present and split == "train":
                name = key
            else:
                raise ValueError(
                    f"{path} has arrays {sorted(present)}; for split {split!r} expected "
                    f"'{key}_{split}', or '{key}' which is read as split='train' (a_key/b_key name the arrays)."
                )
            out.append(_as_uint8_images(f[name], f"{path}[{name!r}]"))
    return out


def _split_folder(folder, split):
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of images.")
    if (folder / split).is_dir():
        return folder / split
    if split != "train":
        raise ValueError(
            f"{folder} has no {split!r} sub-folder; a folder of images without split sub-folders is read as split='train'."
        )
    return folder


def _image_files(folder):
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def _read_images(files, size, where):
    """uint8 `[N, H, W, C]` from image files: grayscale when every file is, else RGB."""
    from PIL import Image

    gray, sizes = True, set()
    for p in files:
        try:
            with Image.open(p) as im:
                gray &= im.mode in ("1", "L", "LA", "I", "I;16", "F")
                sizes.add(im.size)
        except OSError as e:
            raise ValueError(f"{p}: not a readable image ({e}).") from e
    if len(sizes) > 1 and size is None:
        listing = ", ".join(f"{w}x{h}" for w, h in sorted(sizes))
        raise ValueError(f"{where} has images of several sizes (width x height: {listing}); pass image_size= to resize them.")
    images = []
    for p in files:
        with Image.open(p) as im:
            im = im.convert("L" if gray else "RGB")
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            images.append(np.asarray(im, np.uint8))
    images = np.stack(images)
    return images[..., None] if gray else images


def _paired_folders(dir_a, dir_b, split, size):
    root_a, root_b = _split_folder(dir_a, split), _split_folder(dir_b, split)
    files_a = {p.stem: p for p in _image_files(root_a)}
    files_b = {p.stem: p for p in _image_files(root_b)}
    if not files_a or not files_b:
        empty = root_a if not files_a else root_b
        raise ValueError(f"{empty} has no images (looked for {', '.join(_IMAGE_SUFFIXES)} files).")
    only_a, only_b = sorted(set(files_a) - set(files_b)), sorted(set(files_b) - set(files_a))
    if only_a or only_b:
        detail = "; ".join(
            f"{len(names)} only in {root} (e.g. {', '.join(names[:3])})"
            for names, root in ((only_a, root_a), (only_b, root_b)) if names
        )
        raise ValueError(
            f"Paired folders must hold the same file names (extensions aside), one B image per A image: {detail}."
        )
    names = sorted(files_a)
    a = _read_images([files_a[n] for n in names], size, root_a)
    b = _read_images([files_b[n] for n in names], size, root_b)
    _check_pairs(a, b, f"{root_a} and {root_b}")
    return a, b


def _folder_pair(source):
    """(dirA, dirB) when `source` names two existing folders ("dirA:dirB" or a pair), else None."""
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError(f"A pair of folders is (dirA, dirB); got {len(source)} items: {source!r}.")
        return tuple(Path(s).expanduser() for s in source)
    if isinstance(source, str) and ":" in source and not Path(source).exists():
        parts = source.split(":")
        if len(parts) == 2 and all(p and Path(p).expanduser().is_dir() for p in parts):
            return tuple(Path(p).expanduser() for p in parts)
    return None


# --------------------------------------------------------------------------- TFDS


def _tfds_offline_error(name, data_dir, cause):
    where = f"data_dir={os.fspath(data_dir)!r}" if data_dir else "the default TFDS data_dir"
    return ValueError(
        f"TFDS dataset {name!r} is not prepared in {where} and could not be downloaded ({cause}). "
        "Use local files instead: an .npz with arrays 'a' and 'b', two image folders 'dirA:dirB', "
        f"or an MNIST task ({', '.join(MNIST_TASKS)}, with mnist= a folder of MNIST IDX files); "
        "or pass data_dir= a TFDS data folder where the dataset is already prepared."
    )


def _tfds_load(name, split, data_dir, shuffle, seed):
    """`tfds.load(name, split)` with its info: prepared data first, a download only when online."""
    import tensorflow_datasets as tfds

    from keras_gans.data.tfds_source import load_with_info

    try:
        return load_with_info(
            name, split, data_dir, shuffle, seed,
            lambda reason: _tfds_offline_error(name, data_dir, reason),
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"{name!r} is neither an MNIST task ({', '.join(MNIST_TASKS)}), an existing .npz file, two "
            "image folders 'dirA:dirB', nor a TFDS dataset name."
        ) from None


def _image_features(info):
    import tensorflow_datasets as tfds

    return {k: f for k, f in info.features.items() if isinstance(f, tfds.features.Image)}


def _check_image_size(name, feature_key, feature, size):
    if size is None and any(d is None for d in feature.shape[:2]):
        raise ValueError(
            f"TFDS dataset {name!r}: the images of {feature_key!r} have no fixed size "
            f"({list(feature.shape)}); pass image_size= to resize them."
        )


def _prepare_image(image, size):
    return resize(image, size) if size is not None else image


def _tfds_pairs(name, split, a_key, b_key, data_dir, shuffle, seed, size):
    ds, info = _tfds_load(name, split, data_dir, shuffle, seed)
    images = _image_features(info)
    builder = name.split("/")[0].split(":")[0]
    if (a_key, b_key) == _DEFAULT_KEYS and builder in TFDS_PAIRS:
        a_key, b_key = TFDS_PAIRS[builder]
    missing = [k for k in (a_key, b_key) if k not in images]
    if missing:
        raise ValueError(
            f"TFDS dataset {name!r} has no image feature {', '.join(map(repr, missing))}; its image features are "
            f"{sorted(images)}. Pass a_key= and b_key= to name the A and B images."
        )
    for key in (a_key, b_key):
        _check_image_size(name, key, images[key], size)

    def pair(example):
        return _prepare_image(example[a_key], size), _prepare_image(example[b_key], size)

    ds = ds.map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    return ds


def _tfds_domain(name, split, data_dir, shuffle, seed, size):
    """The unbatched uint8 images of one TFDS split (its "image" feature)."""
    ds, info = _tfds_load(name, split, data_dir, shuffle, seed)
    images = _image_features(info)
    if "image" not in images:
        raise ValueError(f"TFDS dataset {name!r} has no 'image' feature; its image features are {sorted(images)}.")
    _check_image_size(name, "image", images["image"], size)
    ds = ds.map(lambda example: _prepare_image(example["image"], size), num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    return ds


# --------------------------------------------------------------------------- load_paired


def load_paired(
    source,
    split: str = "train",
    batch_size: int | None = 64,
    a_key: str = "a",
    b_key: str = "b",
    shuffle: bool = True,
    seed: int | None = None,
    mnist: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    image_size: int | tuple[int, int] | None = None,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of paired `(a, b)` batches, float32 in [-1, 1], for pix2pix.

    Args:
        source: `"mnist_edges"` / `"mnist_inpaint"` (see `mnist_task`), an `.npz` file,
            two parallel image folders (`"dirA:dirB"` or `(dirA, dirB)`), or a TFDS name
            (see the module docstring).
        split: "train" or "test" (TFDS: its own split names).
        batch_size: pairs per batch; None for unbatched pairs.
        a_key, b_key: the arrays of the `.npz` (`a`, `b`), or the TFDS image features.
        shuffle: shuffle the pairs (a pair stays a pair), reshuffling every epoch.
        seed: seed of the shuffle; None for a fresh one.
        mnist: for the MNIST tasks, a folder of MNIST IDX files; None for TFDS's `mnist`.
        data_dir: TFDS data folder.
        image_size: resize A and B images to this size (int or `(height, width)`).
        drop_remainder: drop the last, smaller batch (static batch shapes).

    Returns:
        Batches `(a, b)`: a float32 `[B, H, W, C_a]`, b float32 `[B, H, W, C_b]`.

    Example:
        >>> ds = load_paired("mnist_inpaint", mnist="tests/data/mnist", split="test", batch_size=16, seed=0)
        >>> [t.shape for t in next(iter(ds))]
        [TensorShape([16, 28, 28, 1]), TensorShape([16, 28, 28, 1])]
    """
    _check_batch_size(batch_size)
    size = _image_size(image_size)
    task = _task_name(source)
    folders = _folder_pair(source)
    if task in UNPAIRED_TASKS:
        raise ValueError(f"{task!r} is an unpaired task (for CycleGAN): use load_unpaired({task!r}, ...).")
    if isinstance(source, str) and source.strip().lower().startswith("cycle_gan/"):
        raise ValueError(f"{source!r} holds two unpaired domains (trainA, trainB): use load_unpaired({source!r}, ...).")
    if task is not None or folders is not None or _is_npz(source):
        if task is not None:
            a, b, _ = mnist_task(task, mnist, split=split)
            a, b = _resized(a, size), _resized(b, size)
        elif folders is not None:
            a, b = _paired_folders(*folders, split, size)
        else:
            a, b = (_resized(x, size) for x in _npz_arrays(Path(source), split, (a_key, b_key)))
            _check_pairs(a, b, str(source))
        ds = tf.data.Dataset.from_tensor_slices((a, b))
        if shuffle:
            ds = ds.shuffle(len(a), seed=seed, reshuffle_each_iteration=True)
        return _in_memory(_float_pairs(ds, batch_size, drop_remainder))
    if isinstance(source, os.PathLike) or (isinstance(source, str) and Path(source).expanduser().exists()):
        state = "" if Path(source).expanduser().exists() else " (it does not exist)"
        raise ValueError(
            f"{source}{state} is neither an .npz file nor two folders: paired folders are given as "
            "'dirA:dirB' or (dirA, dirB)."
        )
    if not isinstance(source, str):
        raise TypeError(f"source must be a name, a path or a pair of folders; got {type(source).__name__} {source!r}.")
    ds = _tfds_pairs(source, split, a_key, b_key, data_dir, shuffle, seed, size)
    return _float_pairs(ds, batch_size, drop_remainder)


def _is_npz(source):
    return isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(".npz") and Path(source).expanduser().is_file()


# --------------------------------------------------------------------------- load_unpaired


def _seeds(seed):
    return (None, None) if seed is None else (seed, seed + 1)


def _array_domain(images, shuffle, seed):
    ds = tf.data.Dataset.from_tensor_slices(images)
    return ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True) if shuffle else ds


def load_unpaired(
    source_a,
    source_b=None,
    split: str = "train",
    batch_size: int | None = 64,
    shuffle: bool = True,
    seed: int | None = None,
    mnist: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    image_size: int | tuple[int, int] | None = None,
    a_key: str = "a",
    b_key: str = "b",
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of `(a, b)` batches from two unpaired domains, for CycleGAN.

    The two domains are shuffled independently (seeds `seed` and `seed + 1`) and zipped:
    an epoch ends when the smaller domain is used up; every epoch reshuffles both.

    Args:
        source_a: with `source_b` None, both domains: `"mnist_invert"` / `"mnist_dilate"`
            (or a paired task, its halves shuffled apart), a TFDS `cycle_gan/<name>`
            (splits `<split>A` and `<split>B`), an `.npz` with `a` and `b`, or
            `"dirA:dirB"`. With `source_b`, domain A alone: anything `kg.data.load`
            reads (TFDS name, IDX folder, `.npz` with `x`, image folder).
        source_b: domain B, like `source_a`; None when `source_a` holds both.
        split: "train" or "test".
        batch_size: examples of each domain per batch; None for unbatched pairs.
        shuffle: shuffle each domain, reshuffling every epoch.
        seed: seed of the shuffles; None for fresh ones.
        mnist: for the MNIST tasks, a folder of MNIST IDX files; None for TFDS's `mnist`.
        data_dir: TFDS data folder.
        image_size: resize both domains to this size (int or `(height, width)`).
        a_key, b_key: the arrays of a two-domain `.npz`.
        drop_remainder: drop the last, smaller batch (static batch shapes).

    Returns:
        Batches `(a, b)` of float32 images in [-1, 1], `[B, H, W, C_a]` and `[B, H, W, C_b]`.

    Example:
        >>> ds = load_unpaired("mnist_dilate", mnist="tests/data/mnist", split="test", batch_size=8, seed=1)
        >>> [t.shape for t in next(iter(ds))]
        [TensorShape([8, 28, 28, 1]), TensorShape([8, 28, 28, 1])]
    """
    _check_batch_size(batch_size)
    size = _image_size(image_size)
    seed_a, seed_b = _seeds(seed)
    in_memory = True
    if source_b is not None:
        kwargs = dict(split=split, batch_size=None, shuffle=shuffle, data_dir=data_dir, image_size=image_size)
        domain_a = load(source_a, seed=seed_a, **kwargs)
        domain_b = load(source_b, seed=seed_b, **kwargs)
        in_memory = False  # kg.data.load sets each domain's own sharding
    else:
        task = _task_name(source_a)
        folders = _folder_pair(source_a)
        if task is not None:
            a, b, _ = mnist_task(task, mnist, split=split)
            if task in PAIRED_TASKS:  # the pairs' two sides, drawn apart
                order = np.random.default_rng(TASK_SEED).permutation(len(a))
                half = len(a) // 2
                a, b = a[order[:half]], b[order[half : 2 * half]]
            domain_a, domain_b = (_array_domain(_resized(x, size), shuffle, s) for x, s in ((a, seed_a), (b, seed_b)))
        elif folders is not None:
            kwargs = dict(split=split, batch_size=None, shuffle=shuffle, image_size=image_size)
            domain_a = load(folders[0], seed=seed_a, **kwargs)
            domain_b = load(folders[1], seed=seed_b, **kwargs)
            in_memory = False
        elif _is_npz(source_a):
            a, b = (_resized(x, size) for x in _npz_arrays(Path(source_a), split, (a_key, b_key)))
            domain_a, domain_b = _array_domain(a, shuffle, seed_a), _array_domain(b, shuffle, seed_b)
        elif isinstance(source_a, str) and not Path(source_a).expanduser().exists():
            domain_a = _tfds_domain(source_a, f"{split}A", data_dir, shuffle, seed_a, size)
            domain_b = _tfds_domain(source_a, f"{split}B", data_dir, shuffle, seed_b, size)
            in_memory = False
        else:
            raise ValueError(
                f"{source_a!r} does not hold two domains: give an unpaired MNIST task ({', '.join(UNPAIRED_TASKS)}), "
                "a TFDS cycle_gan/<name>, an .npz with 'a' and 'b', 'dirA:dirB', or both source_a and source_b."
            )
    ds = _float_pairs(tf.data.Dataset.zip((domain_a, domain_b)), batch_size, drop_remainder)
    return _in_memory(ds) if in_memory else ds
