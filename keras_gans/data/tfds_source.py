"""TFDS datasets: which names are known, how each is read and preprocessed, and the offline error."""

from __future__ import annotations

import dataclasses
import os
import socket
import types

import tensorflow as tf

from keras_gans.data.files import resize


@dataclasses.dataclass(frozen=True)
class _TfdsSpec:
    """How to read one TFDS dataset: its TFDS name, feature keys and preprocessing."""

    tfds_name: str
    label_key: str | None = "label"
    center_crop: int | None = None  # side of the square centre crop, before resizing
    image_size: tuple[int, int] | None = None  # default output size (after the crop)


# CelebA: the 108 x 108 centre crop of the aligned 218 x 178 faces, resized to 64 x 64, as in
# the DCGAN paper's code (carpedm20/DCGAN-tensorflow) and most GAN papers since.
TFDS_SPECS = types.MappingProxyType(
    {
        "mnist": _TfdsSpec("mnist"),
        "fashion_mnist": _TfdsSpec("fashion_mnist"),
        "cifar10": _TfdsSpec("cifar10"),
        "celeb_a": _TfdsSpec("celeb_a", label_key=None, center_crop=108, image_size=(64, 64)),
    }
)


def load_with_info(tfds_name, split, data_dir, shuffle, seed, offline_error):
    """`tfds.load(tfds_name, split, with_info=True)`: prepared data first, a download only
    when online; `offline_error(reason)` is the exception raised when it cannot download."""
    import tensorflow_datasets as tfds

    kwargs = dict(
        split=split,
        data_dir=None if data_dir is None else os.fspath(data_dir),
        shuffle_files=shuffle,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
        with_info=True,
    )
    try:
        return tfds.load(tfds_name, download=False, **kwargs)
    except AssertionError:  # TFDS's "could not find data in <data_dir>": not prepared yet.
        # Without a network TFDS retries each file for minutes before failing; fail now.
        if not _network_available():
            raise offline_error("no network connection") from None
        try:
            return tfds.load(tfds_name, download=True, **kwargs)
        except (OSError, tfds.download.DownloadError) as e:
            raise offline_error(f"{type(e).__name__}: {e}") from e


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


def tfds_source(name, split, labels, shuffle, seed, data_dir, size):
    """(uint8 dataset of images or (images, labels), num_examples or None, example shape)."""
    spec = TFDS_SPECS[name]
    if labels and spec.label_key is None:
        raise ValueError(
            f"TFDS dataset {name!r} has no class labels; call load(..., labels=False)."
        )
    ds, info = load_with_info(
        spec.tfds_name, split, data_dir, shuffle, seed,
        lambda reason: _offline_error(name, data_dir, reason),
    )

    out_size = size or spec.image_size
    crop = spec.center_crop
    label_key = spec.label_key

    def prepare(example):
        image = example["image"]
        if crop is not None:
            image = tf.image.resize_with_crop_or_pad(image, crop, crop)
        if out_size is not None:
            image = resize(image, out_size)
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
