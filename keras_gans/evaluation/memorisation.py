"""Does a generator copy its training data? Nearest training images of samples, beside those of test images.

`memorisation_check` (after Radford et al., 2016 and the GAN literature since) shows each of a
grid of samples beside its nearest training images, in pixel space and in classifier-feature
space, and compares the mean nearest-neighbour distance of samples to the training split with
that of the test split's images: a generator that memorised its training data would be much
closer to it than unseen real digits are.

Example:
    report = memorisation_check(gan, train_images, test_images, png_path="nn.png")
    print(report.format_table())
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from keras_gans import images as images_lib
from keras_gans import layout
from keras_gans.evaluation.features import compute_features, load_classifier
from keras_gans.evaluation.sampling import generate_samples

__all__ = ["nearest_neighbours", "MemorisationReport", "memorisation_check"]


def _flat_float(images) -> np.ndarray:
    """Images (uint8 or float [-1, 1]) -> float32 [N, H*W*C] in [-1, 1]."""
    array = np.asarray(images)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 127.5 - 1.0
    return np.asarray(array, np.float32).reshape(len(array), -1)


def nearest_neighbours(queries: Any, references: Any, k: int = 1, batch_size: int = 4096):
    """The k nearest references of each query by Euclidean distance, in batches.

    Squared distances come from ||q||^2 - 2 q.r + ||r||^2 (one matmul per block of
    references, float32), the running k best are kept per query; the distances to the k
    found are then recomputed exactly as ||q - r|| in float64 (so identical vectors are at
    distance 0, not at the rounding error of the expansion). 1,000 queries against 60,000
    MNIST images (784-d) is one pass over the references.

    Args:
        queries: [Q, ...] vectors or images (uint8 images are scaled to [-1, 1]).
        references: [N, ...] of the same size per row.
        k: neighbours per query (<= N).
        batch_size: references (and queries) per block.

    Returns:
        `(distances, indices)`: float64 `[Q, k]` ascending, int64 `[Q, k]` into references.

    Example:
        >>> d, i = nearest_neighbours(np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32))
        >>> i[:, 0].tolist(), d[:, 0].tolist()
        ([0, 1, 2], [0.0, 0.0, 0.0])
    """
    import tensorflow as tf

    q = _flat_float(queries)
    refs = np.asarray(references)
    n = len(refs)
    if q.shape[1] != int(np.prod(refs.shape[1:])):
        raise ValueError(f"queries have {q.shape[1]} values per row but references {int(np.prod(refs.shape[1:]))}.")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}] (the number of references); got {k}.")
    best_d = np.zeros((len(q), k), np.float32)
    best_i = np.zeros((len(q), k), np.int64)
    for qs in range(0, len(q), batch_size):
        qb = tf.constant(q[qs : qs + batch_size])
        q2 = tf.reduce_sum(qb * qb, axis=1, keepdims=True)
        running_d = tf.fill([tf.shape(qb)[0], 0], 0.0)
        running_i = tf.zeros([tf.shape(qb)[0], 0], tf.int64)
        for rs in range(0, n, batch_size):
            rb = tf.constant(_flat_float(refs[rs : rs + batch_size]))
            d2 = q2 - 2.0 * tf.matmul(qb, rb, transpose_b=True) + tf.reduce_sum(rb * rb, axis=1)[None, :]
            kk = min(k, int(rb.shape[0]))
            neg, idx = tf.math.top_k(-d2, kk)
            running_d = tf.concat([running_d, -neg], axis=1)
            running_i = tf.concat([running_i, tf.cast(idx, tf.int64) + rs], axis=1)
            if running_d.shape[1] > k:
                neg, keep = tf.math.top_k(-running_d, k)
                running_d = -neg
                running_i = tf.gather(running_i, keep, batch_dims=1)
        best_d[qs : qs + batch_size] = running_d.numpy()
        best_i[qs : qs + batch_size] = running_i.numpy()
    # Exact distances to the k found, in float64; reorder in case rounding swapped near ties.
    exact = np.sqrt(
        np.sum((q[:, None, :].astype(np.float64) - _flat_float(refs[best_i.ravel()]).reshape(len(q), k, -1)) ** 2, axis=-1)
    )
    order = np.argsort(exact, axis=1, kind="stable")
    return np.take_along_axis(exact, order, 1), np.take_along_axis(best_i, order, 1)


@dataclasses.dataclass
class MemorisationReport:
    """Nearest-neighbour distances of generated samples and of test images to the training split.

    Per space ("pixel": images in [-1, 1] flattened; "feature": the classifier's features), a
    dict with: `samples_to_train` and `test_to_train` (mean distance to the nearest training
    image), their medians, `ratio` (samples / test: near 1 or above is expected; far below 1
    means samples sit unusually close to training images), and `near_copy_fraction`: the
    fraction of samples closer to the training split than all but 1% of test images are
    (`test_quantile_01`, the 1% quantile of the test distances; about 0.01 for a generator
    that does not copy, near 1 for one that does).

    Attributes:
        spaces: {"pixel": {...}, "feature": {...}} (feature only with a classifier).
        num_samples, num_test, num_train: the set sizes.
        grid: the uint8 PNG image (each of `grid_samples` samples, its k pixel neighbours, a
            grey separator, its k feature neighbours), or None.
        png_path: where it was written, or None.
        grid_indices: {"pixel": [g, k], "feature": [g, k]} training indices shown in the grid.
    """

    spaces: dict
    num_samples: int
    num_test: int
    num_train: int
    k: int
    grid: np.ndarray | None = None
    png_path: str | None = None
    grid_indices: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-friendly dict (without the grid pixels)."""
        return {
            "spaces": layout.jsonable(self.spaces),
            "num_samples": self.num_samples,
            "num_test": self.num_test,
            "num_train": self.num_train,
            "k": self.k,
            "png_path": self.png_path,
        }

    def format_table(self) -> str:
        """A markdown table: per space, mean NN distance of samples and of test images to train."""
        lines = [
            "| space | samples -> train (mean NN distance) | test -> train | ratio | near copies |",
            "|---|---|---|---|---|",
        ]
        for space, d in self.spaces.items():
            lines.append(
                f"| {space} | {d['samples_to_train']:.4g} ({self.num_samples} samples) | "
                f"{d['test_to_train']:.4g} ({self.num_test} test images) | {d['ratio']:.3f} | "
                f"{100 * d['near_copy_fraction']:.1f}% |"
            )
        return "\n".join(lines)


def _distance_summary(sample_d, test_d):
    quantile = float(np.quantile(test_d, 0.01))
    samples_mean, test_mean = float(np.mean(sample_d)), float(np.mean(test_d))
    return {
        "samples_to_train": samples_mean,
        "test_to_train": test_mean,
        "samples_median": float(np.median(sample_d)),
        "test_median": float(np.median(test_d)),
        "ratio": samples_mean / test_mean if test_mean > 0 else float("inf"),
        "test_quantile_01": quantile,
        "near_copy_fraction": float(np.mean(sample_d <= quantile)),
    }


def _memorisation_grid(samples, train, pixel_idx, feature_idx):
    samples = images_lib.to_uint8(samples)
    train_tiles = lambda idx: images_lib.to_uint8(np.asarray(train)[idx])  # noqa: E731
    separator = np.full((1, *samples.shape[1:]), 128, np.uint8)
    tiles = []
    for g in range(len(pixel_idx)):
        tiles += [samples[g : g + 1], train_tiles(pixel_idx[g])]
        if feature_idx is not None:
            tiles += [separator, train_tiles(feature_idx[g])]
    cols = 1 + pixel_idx.shape[1] + (0 if feature_idx is None else 1 + feature_idx.shape[1])
    return images_lib.grid(np.concatenate(tiles), cols=cols)


def memorisation_check(
    generator: Any,
    train_images: Any,
    test_images: Any,
    classifier: Any = None,
    num_samples: int = 1000,
    grid_samples: int = 16,
    k: int = 3,
    seed: int = 0,
    batch_size: int = 500,
    png_path: str | os.PathLike | None = None,
    feature_space: bool = True,
    samples: Any = None,
) -> MemorisationReport:
    """Nearest training images of generated samples vs those of test images (memorisation check).

    Draws `num_samples` samples and as many random test images (fewer if the test split is
    smaller), finds each one's nearest training image in pixel space and in the
    classifier's feature space, and reports the mean distances (see `MemorisationReport`).
    The first `grid_samples` samples and their k nearest training images in each space make
    the PNG.

    Args:
        generator: anything `keras_gans.generators.as_generator` takes (ignored when `samples` is given).
        train_images: the training split (uint8 or float [-1, 1]).
        test_images: held-out real images, the reference for "not memorised".
        classifier: feature extractor (None: the shipped MNIST classifier; or a path).
        num_samples: samples (and test images) whose NN distances are averaged.
        grid_samples: samples shown in the PNG (0 for none).
        k: neighbours shown per sample.
        seed: evaluation seed (samples, test subset).
        batch_size: samples per generator call.
        png_path: where to write the PNG (None: not written; the grid is still returned).
        feature_space: also search in classifier-feature space.
        samples: precomputed samples to check instead of drawing from `generator`.

    Example:
        report = memorisation_check(gan, train_images, test_images, png_path="nn.png")
        report.spaces["pixel"]["ratio"]   # ~1 or more: not copying the training set
    """
    extractor = load_classifier(classifier, batch_size) if feature_space else None
    if samples is None:
        num_classes = getattr(extractor, "num_classes", None) or 10
        samples, _ = generate_samples(generator, num_samples, seed, batch_size, num_classes=num_classes)
    samples = np.asarray(samples)
    train = np.asarray(train_images)
    test = np.asarray(test_images)
    if len(test) > len(samples):
        test = test[np.sort(np.random.default_rng(seed).choice(len(test), len(samples), replace=False))]
    grid_samples = min(int(grid_samples), len(samples))
    spaces, grid_idx = {}, {}
    sample_d, sample_i = nearest_neighbours(samples, train, k=max(k, 1))
    test_d, _ = nearest_neighbours(test, train, k=1)
    spaces["pixel"] = _distance_summary(sample_d[:, 0], test_d[:, 0])
    grid_idx["pixel"] = sample_i[:grid_samples, :k]
    if feature_space:
        train_f = compute_features(extractor, train, batch_size)
        sample_f = compute_features(extractor, samples, batch_size)
        test_f = compute_features(extractor, test, batch_size)
        f_sample_d, f_sample_i = nearest_neighbours(sample_f, train_f, k=max(k, 1))
        f_test_d, _ = nearest_neighbours(test_f, train_f, k=1)
        spaces["feature"] = _distance_summary(f_sample_d[:, 0], f_test_d[:, 0])
        grid_idx["feature"] = f_sample_i[:grid_samples, :k]
    grid = None
    if grid_samples and k and samples.ndim == 4:
        grid = _memorisation_grid(samples[:grid_samples], train, grid_idx["pixel"], grid_idx.get("feature"))
        if png_path is not None:
                    images_lib.save_png(png_path, grid)
    return MemorisationReport(
        spaces=spaces, num_samples=len(samples), num_test=len(test), num_train=len(train), k=k,
        grid=grid, png_path=None if png_path is None or grid is None else str(png_path),
        grid_indices=grid_idx,
    )
