"""How good and how diverse are a generator's samples: measured, beside the real data's own values.

`evaluate_generator` draws samples from any generator (an in-memory GAN, a `pretrained` model,
an exported SavedModel or a served one through its `sample` signature, or anything with
`sample(n, seed=..., labels=...)`) and scores them with the MNIST classifier
(`keras_gans.metrics.MNISTClassifier`):

- MNIST FID and KID against the real images, in the classifier's 128-d feature space;
- MNIST IS from its class probabilities;
- unconditional models: the class balance of the samples (per the classifier), as the
  normalized entropy and the smallest and largest class fractions;
- conditional models: label accuracy, the fraction of samples classified as the label asked
  (labels cycling through the classes).

`evaluate_real` gives the same numbers for real data, the reference every generator is read
against: IS of the real test images, FID/KID of a training subset of the same size against
the test images (the floor a perfect generator would reach at this sample count), the real
class balance and the classifier's accuracy.

`memorisation_check` (after Radford et al., 2016 and the GAN literature since) shows each of a
grid of samples beside its nearest training images, in pixel space and in classifier-feature
space, and compares the mean nearest-neighbour distance of samples to the training split with
that of the test split's images: a generator that memorised its training data would be much
closer to it than unseen real digits are.

`report` runs all of this and prints a markdown table; it is `keras-gans evaluate MODEL
--dataset DIR` (keras_gans/cli/evaluate.py).

Example:
    import keras_gans as kg
    from keras_gans import evaluation

    test_images, test_labels = kg.data.load_arrays("../shared/data/mnist", split="test")
    scores = evaluation.evaluate_generator(kg.pretrained.load("dcgan_mnist"), test_images)
    print(evaluation.format_table(scores))
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from keras_gans import checks, generators, layout
from keras_gans import metrics as metrics_lib

__all__ = [
    "default_classifier_path",
    "load_classifier",
    "generate_samples",
    "evaluate_generator",
    "evaluate_real",
    "format_table",
    "nearest_neighbours",
    "MemorisationReport",
    "memorisation_check",
    "update_card",
    "file_sha256",
    "report",
]

# Chunk i of an evaluation draws with seed `seed * SEED_STRIDE + i`: evaluations with
# different seeds never share a chunk (below SEED_STRIDE chunks).
SEED_STRIDE = 1_000_003


# --------------------------------------------------------------------------- classifier


def default_classifier_path() -> Path:
    """The shipped MNIST classifier: `<saved_models>/mnist_classifier/classifier.keras`."""
    from keras_gans import pretrained

    return pretrained.saved_models_dir() / "mnist_classifier" / "classifier.keras"


def load_classifier(classifier: Any = None, batch_size: int = 500):
    """A feature extractor: the given one, one loaded from a `.keras` path, or the shipped one.

    Args:
        classifier: None (the shipped MNIST classifier), a path to a `.keras` classifier, or
            a `keras_gans.metrics.FeatureExtractor` (returned as it is).
        batch_size: images per forward pass when loading.

    Raises:
        ValueError: the classifier file does not exist.
    """
    if classifier is not None and not isinstance(classifier, (str, os.PathLike)):
        return classifier
    path = Path(classifier) if classifier is not None else default_classifier_path()
    if not path.exists():
        raise ValueError(
            f"no classifier at {path}: pass --classifier / classifier= a .keras MNIST classifier "
            "(benchmarks/train_classifier.py trains one)."
        )
    return metrics_lib.MNISTClassifier.load(str(path), batch_size=batch_size)


def generate_samples(generator: Any, num_samples: int, seed: int = 0, batch_size: int = 500, num_classes=None):
    """`num_samples` samples in chunks, and the labels asked of a conditional generator.

    Chunk i (of `batch_size`, capped by an export's `max_num_samples`) is drawn with seed
    `seed * 1_000_003 + i`, so the samples depend on `seed` and `batch_size`; a conditional
    generator is asked for the classes in turn (0, 1, ..., K - 1, 0, ...) over the whole set.

    Args:
        generator: anything `keras_gans.generators.as_generator` takes. A SavedModel or a
            server is measured on its `sample` signature's uint8 images (exactly what a
            server returns); a GAN on its float images.
        num_samples: how many.
        seed: evaluation seed.
        batch_size: samples per call.
        num_classes: K for a conditional generator that does not state it.

    Returns:
        `(images, labels)`: images as the generator gives them (float32 [-1, 1] or uint8),
        labels int32 `[num_samples]` or None for an unconditional generator.
    """
    gen = generators.as_generator(generator)
    checks.integer(num_samples, "num_samples")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    if gen.max_num_samples:
        batch_size = min(batch_size, gen.max_num_samples)
    draw = gen.sample_uint8 if gen.served else gen.sample
    labels = None
    if gen.conditional:
        k = gen.num_classes or num_classes
        if not k:
            raise ValueError("a conditional generator needs num_classes to cycle its labels through.")
        labels = (np.arange(num_samples) % int(k)).astype(np.int32)
    chunks = []
    for i, start in enumerate(range(0, num_samples, batch_size)):
        n = min(batch_size, num_samples - start)
        part = None if labels is None else labels[start : start + n]
        images = np.asarray(draw(n, seed=int(seed) * SEED_STRIDE + i, labels=part))
        if images.shape[0] != n:
            raise ValueError(f"the generator returned {images.shape[0]} samples when asked for {n}.")
        chunks.append(images)
    return np.concatenate(chunks), labels


# --------------------------------------------------------------------------- scores


def _class_scores(probabilities: np.ndarray) -> dict[str, metrics_lib.Score]:
    dist = metrics_lib.class_distribution(probabilities)
    n, details = dist.num_samples, dist.to_dict()
    return {
        # + 0.0: a one-class set has entropy -0.0.
        "class_balance": metrics_lib.Score("class_balance", dist.normalized_entropy + 0.0, num_samples=n, details=details),
        "min_class_fraction": metrics_lib.Score(
            "min_class_fraction", dist.min_fraction, num_samples=n,
            details={"class": int(np.argmin(dist.fractions))},
        ),
        "max_class_fraction": metrics_lib.Score(
            "max_class_fraction", dist.max_fraction, num_samples=n,
            details={"class": int(np.argmax(dist.fractions))},
        ),
    }


def _image_scores(extractor, fake_features, fake_probs, real_features, splits, kid_subsets, kid_subset_size, seed):
    name = getattr(extractor, "name", type(extractor).__name__)
    scores = {
        "fid": metrics_lib.fid(real_features, fake_features),
        "inception_score": metrics_lib.inception_score(fake_probs, splits=min(splits, len(fake_probs))),
        "kid": metrics_lib.kid(
            real_features, fake_features, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        ),
    }
    for score in scores.values():
        score.details["extractor"] = name
    return scores


def evaluate_generator(
    generator_or_gan: Any,
    real_images: Any,
    real_labels: Any = None,
    classifier: Any = None,
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 500,
    *,
    splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    real_features: np.ndarray | None = None,
) -> dict[str, metrics_lib.Score]:
    """MNIST FID, IS and KID of a generator, with its class balance or label accuracy.

    Args:
        generator_or_gan: a GAN, a pretrained model, a SavedModel (loaded, or its path), or
            anything with `sample(n, seed=, labels=)` (see `keras_gans.generators.as_generator`).
        real_images: the reference images (uint8 or float [-1, 1]), e.g. the MNIST test split.
        real_labels: their labels; not needed for the generator's scores (accepted so the
            call mirrors `evaluate_real`).
        classifier: the feature extractor (None: the shipped MNIST classifier; or a path).
        num_samples: generated samples (FID is biased by sample count: compare at equal N).
        seed: evaluation seed (samples, KID subsets).
        batch_size: samples per generator call and per classifier pass.
        splits: IS splits.
        kid_subsets, kid_subset_size: KID subsets.
        real_features: precomputed classifier features of `real_images` (saves recomputing
            them when evaluating several generators).

    Returns:
        {"fid", "inception_score", "kid"} and, for an unconditional generator,
        {"class_balance" (normalized entropy of the predicted classes, 1 = balanced),
        "min_class_fraction", "max_class_fraction"}; for a conditional one, "label_accuracy"
        (on labels cycling through the classes). Each a `Score` stating its sample counts.

    Example:
        scores = evaluate_generator(gan, test_images, num_samples=10000)
        scores["fid"].value, scores["inception_score"].value
    """
    del real_labels  # the generator's scores need none; see evaluate_real
    extractor = load_classifier(classifier, batch_size)
    samples, asked = generate_samples(
        generator_or_gan, num_samples, seed, batch_size, num_classes=getattr(extractor, "num_classes", None)
    )
    fake_features, fake_probs = metrics_lib.compute_activations(extractor, samples, batch_size)
    if real_features is None:
        real_features = metrics_lib.compute_features(extractor, real_images, batch_size)
    scores = _image_scores(
        extractor, fake_features, fake_probs, real_features, splits, kid_subsets, kid_subset_size, seed
    )
    if asked is None:
        scores.update(_class_scores(fake_probs))
    else:
        scores["label_accuracy"] = metrics_lib.label_accuracy(fake_probs, asked)
    return scores


def evaluate_real(
    real_images: Any,
    real_labels: Any = None,
    train_images: Any = None,
    classifier: Any = None,
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 500,
    *,
    splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    real_features: np.ndarray | None = None,
) -> dict[str, metrics_lib.Score]:
    """The real data's own values, the reference for `evaluate_generator`'s.

    IS, class balance (and, with labels, the classifier's accuracy, as "label_accuracy") of
    the real images; with `train_images`, FID and KID of a random training subset of
    `min(num_samples, len(train_images))` images against the real images: what a generator
    sampling the data distribution itself would score at that sample count (the floor).

    Args:
        real_images: the reference images (e.g. the test split).
        real_labels: their labels, for the classifier's accuracy.
        train_images: the training split (for the FID/KID floor).
        classifier, num_samples, seed, batch_size, splits, kid_subsets, kid_subset_size,
            real_features: as for `evaluate_generator`.

    Example:
        floor = evaluate_real(test_images, test_labels, train_images)
        floor["fid"].value   # FID of 10,000 training digits vs the test digits
    """
    extractor = load_classifier(classifier, batch_size)
    features, probs = metrics_lib.compute_activations(extractor, real_images, batch_size)
    if real_features is None:
        real_features = features
    scores = {"inception_score": metrics_lib.inception_score(probs, splits=min(splits, len(probs)))}
    scores["inception_score"].details["extractor"] = getattr(extractor, "name", "")
    if train_images is not None:
        count = min(int(num_samples), len(train_images))
        pick = np.sort(np.random.default_rng(seed).choice(len(train_images), count, replace=False))
        train_features = metrics_lib.compute_features(extractor, np.asarray(train_images)[pick], batch_size)
        scores["fid"] = metrics_lib.fid(real_features, train_features)
        scores["kid"] = metrics_lib.kid(
            real_features, train_features, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
        for key in ("fid", "kid"):
            scores[key].details.update(extractor=getattr(extractor, "name", ""), what="training subset vs real images")
    scores.update(_class_scores(probs))
    if real_labels is not None:
        accuracy = metrics_lib.label_accuracy(probs, np.asarray(real_labels).astype(np.int64))
        scores["label_accuracy"] = dataclasses.replace(
            accuracy, details={**accuracy.details, "what": "classifier accuracy on the real labels"}
        )
    return {key: scores[key] for key in _ORDER if key in scores}


_ORDER = (
    "fid", "inception_score", "kid", "class_balance", "min_class_fraction", "max_class_fraction",
    "label_accuracy",
)
_LABELS = {
    "fid": "FID",
    "inception_score": "IS",
    "kid": "KID",
    "class_balance": "class balance (entropy / log K)",
    "min_class_fraction": "smallest class",
    "max_class_fraction": "largest class",
    "label_accuracy": "label accuracy",
}
_PERCENT = ("min_class_fraction", "max_class_fraction", "label_accuracy")


def _metric_name(key, score):
    label = _LABELS.get(key, key)
    if key in ("fid", "inception_score") and score.details.get("extractor") == "mnist_classifier":
        return "MNIST " + label
    if key == "kid" and score.details.get("extractor") == "mnist_classifier":
        return "KID (MNIST features)"
    if key in ("min_class_fraction", "max_class_fraction") and "class" in score.details:
        return f"{label} (digit {score.details['class']})"
    return label


def _value(key, value):
    if value is None:
        return ""
    return f"{100 * value:.2f}%" if key in _PERCENT else f"{value:.4g}"


def _samples(score):
    if score.num_reference is not None:
        return f"{score.num_samples} vs {score.num_reference}"
    return str(score.num_samples)


def _real_cell(key, score):
    if score is None:
        return ""
    where = _samples(score)
    if key in ("min_class_fraction", "max_class_fraction") and "class" in score.details:
        where = f"digit {score.details['class']}, {where}"
    return f"{_value(key, score.value)} ({where})"


def format_table(scores: dict, real: dict | None = None) -> str:
    """A markdown table: metric, value, +- std, samples (and the real data's value beside them).

    Args:
        scores: from `evaluate_generator`.
        real: from `evaluate_real`, or None.

    Example:
        print(format_table(evaluate_generator(gan, test), evaluate_real(test, labels, train)))
    """
    header = ["metric", "value", "± std", "samples"]
    if real:
        header.append("real data")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    present = set(scores) | set(real or {})
    keys = [k for k in _ORDER if k in present] + [k for k in scores if k not in _ORDER]
    for key in keys:
        score = scores.get(key)
        if score is None:  # the real data's only, e.g. the classifier's accuracy
            name = "classifier accuracy" if key == "label_accuracy" else _metric_name(key, real[key])
            row = [name, "", "", ""]
        else:
            row = [_metric_name(key, score), _value(key, score.value), _value(key, score.std), _samples(score)]
        if real:
            row.append(_real_cell(key, real.get(key)))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- memorisation


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
    from keras_gans import images as images_lib

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
        train_f = metrics_lib.compute_features(extractor, train, batch_size)
        sample_f = metrics_lib.compute_features(extractor, samples, batch_size)
        test_f = metrics_lib.compute_features(extractor, test, batch_size)
        f_sample_d, f_sample_i = nearest_neighbours(sample_f, train_f, k=max(k, 1))
        f_test_d, _ = nearest_neighbours(test_f, train_f, k=1)
        spaces["feature"] = _distance_summary(f_sample_d[:, 0], f_test_d[:, 0])
        grid_idx["feature"] = f_sample_i[:grid_samples, :k]
    grid = None
    if grid_samples and k and samples.ndim == 4:
        grid = _memorisation_grid(samples[:grid_samples], train, grid_idx["pixel"], grid_idx.get("feature"))
        if png_path is not None:
            from keras_gans import images as images_lib

            images_lib.save_png(png_path, grid)
    return MemorisationReport(
        spaces=spaces, num_samples=len(samples), num_test=len(test), num_train=len(train), k=k,
        grid=grid, png_path=None if png_path is None or grid is None else str(png_path),
        grid_indices=grid_idx,
    )


# --------------------------------------------------------------------------- cards


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (cards record it for the files they name)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def update_card(card_dir: str | os.PathLike, record: dict, version: int | None = None) -> dict:
    """Writes `record` (measured metrics) into `card_dir/card.json` under "metrics".

    Also under `versions[<version>]["metrics"]` when the version is known. Atomic (written
    beside, then renamed), like the exporter's own card writes.

    Returns:
        The updated card.
    """
    card = layout.read_card(card_dir)
    record = layout.jsonable(record)
    card["metrics"] = record
    if version is not None:
        card.setdefault("versions", {}).setdefault(str(version), {})["metrics"] = record
    return layout.write_card(card_dir, card)


# --------------------------------------------------------------------------- the whole report


def report(
    model: str | os.PathLike,
    dataset: str | os.PathLike,
    *,
    split: str = "test",
    train_dataset: str | os.PathLike | None = None,
    train_split: str = "train",
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 500,
    classifier: str | os.PathLike | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    floor: bool = True,
    write_card: bool = False,
    memorisation_png: str | os.PathLike | None = None,
    memorisation_samples: int = 1000,
    grid_samples: int = 16,
    k: int = 3,
    json_path: str | os.PathLike | None = None,
    command: str | None = None,
) -> dict:
    """Measures a generator and prints a markdown table of its metrics (`keras-gans evaluate`).

    Args:
        model: a name in saved_models/, a model base path (latest version), a SavedModel
            version folder, a .keras file or a run folder (see `keras_gans.generators.as_generator`).
        dataset, split: the real images to compare with (MNIST IDX folder, .npz, image
            folder or TFDS name).
        train_dataset, train_split: training images for the real floor and the memorisation
            check (default: `dataset`, when it has `train_split`).
        num_samples, seed, batch_size: generated samples, the evaluation seed, images per batch.
        classifier: the MNIST classifier .keras file (default: the shipped one).
        kid_subsets, kid_subset_size: KID's subsets.
        floor: also measure the real data (the values a perfect generator would reach).
        write_card: write the record into the model's card.json (key "metrics").
        memorisation_png: also run the memorisation check and write its grid here.
        memorisation_samples, grid_samples, k: the memorisation check's sample count,
            samples shown, and training neighbours shown per sample.
        json_path: also write the record as JSON there.
        command: the command line recorded (e.g. "keras-gans evaluate dcgan_mnist ...").

    Returns:
        The record (what the card and the JSON file hold).

    Example:
        evaluation.report("dcgan_mnist", "../shared/data/mnist", num_samples=2000)
    """
    from keras_gans import data

    started = time.time()
    gen = generators.as_generator(model)
    info = {"kind": gen.kind, "path": str(gen.path), "version": gen.version, "card_dir": gen.card_dir}
    if write_card and info["card_dir"] is None:
        raise ValueError(
            f"--update-card: {model} has no card.json beside it (cards live in a model's base "
            "path, e.g. saved_models/NAME/card.json)."
        )
    classifier_path = Path(classifier) if classifier else default_classifier_path()
    classifier = load_classifier(classifier_path, batch_size)
    real_images, real_labels = data.load_arrays(dataset, split=split)

    train_images = None
    train_source = train_dataset or dataset
    wants_train = memorisation_png is not None or floor
    if wants_train:
        try:
            train_images, _ = data.load_arrays(train_source, split=train_split)
        except ValueError as error:
            if train_dataset is not None or memorisation_png is not None:
                raise
            print(f"note: no training split ({error}); the floor has no FID/KID.", file=sys.stderr)

    real_features = metrics_lib.compute_features(classifier, real_images, batch_size)
    common = dict(
        classifier=classifier, num_samples=num_samples, seed=seed, batch_size=batch_size,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, real_features=real_features,
    )
    scores = evaluate_generator(gen, real_images, real_labels, **common)
    real = evaluate_real(real_images, real_labels, train_images, **common) if floor else None

    print(f"{info['path']} ({info['kind']}), {num_samples} samples, seed {seed}, "
          f"against {len(real_images)} images of {dataset} ({split})\n")
    print(format_table(scores, real))
    if real is not None and "fid" in real:
        print(f"\nreal data: IS, class balance and accuracy of the {split} split; FID/KID of "
              f"{real['fid'].num_samples} random {train_split} images vs the {split} split.")

    memorisation = None
    if memorisation_png is not None:
        memorisation = memorisation_check(
            gen, train_images, real_images, classifier=classifier,
            num_samples=memorisation_samples, grid_samples=grid_samples, k=k,
            seed=seed, batch_size=batch_size, png_path=memorisation_png,
        )
        print("\nmemorisation check (nearest training image):\n")
        print(memorisation.format_table())
        if memorisation.png_path:
            print(f"\nwrote {memorisation.png_path}: each row a sample, its {k} nearest training images "
                  f"in pixels, a grey tile, its {k} nearest in classifier features.")

    record = {
        "num_samples": num_samples,
        "seed": seed,
        "batch_size": batch_size,
        "command": command,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_seconds": round(time.time() - started, 1),
        "source": {"kind": info["kind"], "path": info["path"], "version": info["version"]},
        "dataset": {"path": str(dataset), "split": split, "num_images": int(len(real_images))},
        "classifier": {"path": str(classifier_path), "sha256": file_sha256(classifier_path)},
        "scores": {key: score.to_dict() for key, score in scores.items()},
        "real": None if real is None else {key: score.to_dict() for key, score in real.items()},
    }
    if real is not None and train_images is not None:
        record["real"]["train"] = {"path": str(train_source), "split": train_split}
    if memorisation is not None:
        record["memorisation"] = memorisation.to_dict()
    if write_card:
        update_card(info["card_dir"], record, info["version"])
        print(f"\nwrote the metrics into {Path(info['card_dir']) / 'card.json'}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        layout.write_json(json_path, record)
    return record
