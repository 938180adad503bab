"""Sample-quality metrics for GANs: FID, Inception Score, KID, mode coverage, class balance.

Image metrics work on the activations of a pluggable feature extractor: anything with
`features(images)` and `probabilities(images)` (see `FeatureExtractor`). Two ship here:
`InceptionV3Extractor` (ImageNet InceptionV3 from `keras.applications`, the usual choice for
natural images) and `MNISTClassifier` (a compact CNN trained on MNIST, the choice for digits,
and the one that works offline; `saved_models/mnist_classifier/classifier.keras`).

Images follow the project's convention: float32 in [-1, 1] (generator outputs) or uint8 in
[0, 255] (exported `sample` outputs, files); both are accepted everywhere.

Every image metric returns a `Score` that states how many samples it saw: FID and KID depend
on the number of samples (FID is biased upwards for small sets), so a number without its sample
counts cannot be compared with another.

Example:
    import keras_gans as kg
    clf = kg.metrics.MNISTClassifier.load("saved_models/mnist_classifier/classifier.keras")
    scores = kg.metrics.evaluate_images(clf, fake_images, real_images)
    print(scores["fid"], scores["inception_score"])
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Iterable, Protocol, runtime_checkable

import keras
import numpy as np
import tensorflow as tf

from keras_gans import layout

__all__ = [
    "Score",
    "FeatureExtractor",
    "InceptionV3Extractor",
    "MNISTClassifier",
    "build_mnist_classifier",
    "train_mnist_classifier",
    "to_float_images",
    "compute_features",
    "compute_probabilities",
    "compute_activations",
    "feature_moments",
    "frechet_distance",
    "fid",
    "inception_score",
    "kid",
    "evaluate_images",
    "ModeCoverage",
    "mixture_modes",
    "mode_coverage",
    "MeanStderr",
    "mean_and_stderr",
    "aggregate_mode_coverage",
    "ClassDistribution",
    "class_distribution",
    "label_accuracy",
]


# --------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class Score:
    """One metric value, with the sample counts it was computed from.

    Args:
        name: metric name ("fid", "kid", "inception_score", "label_accuracy", ...).
        value: the value (for split/subset metrics, the mean over splits/subsets).
        std: standard deviation over splits (IS) or subsets (KID); None when not applicable.
        num_samples: number of generated (evaluated) samples.
        num_reference: number of real (reference) samples, for two-sample metrics.
        details: anything else worth recording (feature dim, splits, extractor name, ...).

    Example:
        >>> s = Score("fid", 3.2, num_samples=10000, num_reference=10000)
        >>> float(s)
        3.2
    """

    name: str
    value: float
    std: float | None = None
    num_samples: int = 0
    num_reference: int | None = None
    details: dict = dataclasses.field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)

    def to_dict(self) -> dict:
        """A JSON-friendly dict (for cards and benchmark tables)."""
        return {
            "name": self.name,
            "value": float(self.value),
            "std": None if self.std is None else float(self.std),
            "num_samples": int(self.num_samples),
            "num_reference": None if self.num_reference is None else int(self.num_reference),
            "details": layout.jsonable(self.details),
        }

    def __str__(self) -> str:
        text = f"{self.name} {self.value:.4g}"
        if self.std is not None:
            text += f" +- {self.std:.2g}"
        text += f" ({self.num_samples} samples"
        if self.num_reference is not None:
            text += f" vs {self.num_reference} reference"
        return text + ")"


# --------------------------------------------------------------------------- input checks


def _as_matrix(values: Any, what: str) -> np.ndarray:
    """A 2-D float array [N, D] from an array-like; errors name `what`."""
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{what} must be 2-D [num_samples, dim], got shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{what} must be numeric, got dtype {array.dtype}.")
    return array


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{what} contains {bad} non-finite values (NaN or inf).")


def _check_same_dim(real: np.ndarray, fake: np.ndarray) -> None:
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real_features have {real.shape[1]} features per sample but fake_features have "
            f"{fake.shape[1]}: compute both with the same extractor."
        )


def _row_batches(array: np.ndarray, batch_size: int, dtype=tf.float64):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    for start in range(0, array.shape[0], batch_size):
        yield tf.cast(tf.convert_to_tensor(array[start : start + batch_size]), dtype)


# --------------------------------------------------------------------------- images


def to_float_images(images: Any) -> tf.Tensor:
    """Images as float32 NHWC in [-1, 1], from uint8 [0, 255] or float [-1, 1].

    Rank-3 input [N, H, W] gets a channel axis. Float input outside [-1, 1] (beyond 1e-3 of
    rounding) is an error rather than a guess: float images in [0, 1] or [0, 255] must be
    converted by the caller (or passed as uint8).

    Args:
        images: array-like or tensor, [N, H, W] or [N, H, W, C], uint8 or floating.

    Example:
        >>> to_float_images(np.full((1, 2, 2), 255, np.uint8)).numpy().max()
        1.0
    """
    x = tf.convert_to_tensor(images)
    if x.shape.rank == 3:
        x = x[..., tf.newaxis]
    if x.shape.rank != 4:
        raise ValueError(
            f"images must be [N, H, W] or [N, H, W, C], got shape {tuple(x.shape)}."
        )
    if x.dtype == tf.uint8:
        return tf.cast(x, tf.float32) / 127.5 - 1.0
    if not x.dtype.is_floating:
        raise TypeError(
            f"images must be uint8 in [0, 255] or float in [-1, 1], got dtype {x.dtype.name}."
        )
    x = tf.cast(x, tf.float32)
    if tf.size(x) > 0:
        lo, hi = float(tf.reduce_min(x)), float(tf.reduce_max(x))
        if lo < -1.001 or hi > 1.001 or math.isnan(lo) or math.isnan(hi):
            raise ValueError(
                f"float images must be in [-1, 1] (generator outputs), got values in "
                f"[{lo:.4g}, {hi:.4g}]; pass uint8 for [0, 255] pixels, or rescale."
            )
    return tf.clip_by_value(x, -1.0, 1.0)


def _image_batches(images: Any, batch_size: int):
    """Yields batches of images from an array/tensor or an iterable of batches.

    An iterable (e.g. a `tf.data.Dataset`) may yield images or `(images, labels)` tuples.
    """
    if isinstance(images, (np.ndarray, tf.Tensor)) or hasattr(images, "__array__"):
        array = images if isinstance(images, tf.Tensor) else np.asarray(images)
        for start in range(0, int(array.shape[0]), batch_size):
            yield array[start : start + batch_size]
        return
    for batch in images:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        elif isinstance(batch, dict):
            if "images" not in batch:
                raise ValueError(
                    f"dict batches must have an 'images' key, got keys {sorted(batch)}."
                )
            batch = batch["images"]
        yield batch


# --------------------------------------------------------------------------- extractors


@runtime_checkable
class FeatureExtractor(Protocol):
    """What the image metrics need from a network: features (FID, KID) and class probabilities (IS).

    `features(images)` -> float array [N, D] (for example a pooled penultimate layer);
    `probabilities(images)` -> float array [N, K], rows summing to 1. Both take images as
    uint8 [0, 255] or float [-1, 1], NHWC (or NHW). Implementations may also offer
    `features_and_probabilities(images)` to get both from one forward pass.
    """

    name: str

    def features(self, images: Any) -> np.ndarray: ...

    def probabilities(self, images: Any) -> np.ndarray: ...


class _KerasExtractor:
    """Shared machinery: a Keras model with outputs [features, probabilities], run in batches."""

    name = "keras_extractor"

    def __init__(self, model: keras.Model, batch_size: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.model = model
        self.batch_size = int(batch_size)
        self._forward = tf.function(self._call, reduce_retracing=True)

    def _preprocess(self, images: tf.Tensor) -> tf.Tensor:
        return images

    def _call(self, images):
        features, probabilities = self.model(self._preprocess(images), training=False)
        return features, probabilities

    def _check_images(self, images: tf.Tensor) -> None:
        pass

    def features_and_probabilities(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """Features [N, D] and class probabilities [N, K] from one pass, in batches."""
        features, probabilities = [], []
        for batch in _image_batches(images, self.batch_size):
            x = to_float_images(batch)
            self._check_images(x)
            f, p = self._forward(x)
            features.append(f.numpy())
            probabilities.append(p.numpy())
        if not features:
            raise ValueError("images is empty: nothing to compute features of.")
        return np.concatenate(features), np.concatenate(probabilities)

    def features(self, images: Any) -> np.ndarray:
        """Features [N, D] (the layer before the classifier), float32."""
        return self.features_and_probabilities(images)[0]

    def probabilities(self, images: Any) -> np.ndarray:
        """Class probabilities [N, K] (softmax outputs), float32."""
        return self.features_and_probabilities(images)[1]

    @property
    def feature_dim(self) -> int:
        return int(self.model.outputs[0].shape[-1])

    @property
    def num_classes(self) -> int:
        return int(self.model.outputs[1].shape[-1])


class InceptionV3Extractor(_KerasExtractor):
    """InceptionV3 (ImageNet) pool features (2048-d) and class probabilities (1000 classes).

    The network of the Inception Score (Salimans et al., 2016) and FID (Heusel et al., 2017),
    here the `keras.applications` port: its numbers track the same quantities but are not
    identical to published values computed with the original TF1 graph
    (`pt_inception-2015-12-05`), so compare runs with each other, not with papers.
    Images are resized to 299x299 (bilinear) and grey images repeated to 3 channels; the
    InceptionV3 preprocessing maps [0, 255] to [-1, 1], the project's float convention.

    The ImageNet weights are downloaded by Keras on first use (into ~/.keras/models/). Offline,
    the download fails and construction raises a RuntimeError saying so.

    Args:
        weights: "imagenet" (download or Keras cache) or a path to the weights file
            (`inception_v3_weights_tf_dim_ordering_tf_kernels.h5`); None for random weights
            (tests only).
        batch_size: images per forward pass.

    Example:
        extractor = InceptionV3Extractor()
        fid(extractor.features(real_uint8), extractor.features(fake_uint8))
    """

    name = "inception_v3"

    def __init__(self, weights: str | None = "imagenet", batch_size: int = 32):
        try:
            base = keras.applications.InceptionV3(include_top=True, weights=weights)
        except Exception as error:  # the download error type depends on the Keras version
            raise RuntimeError(
                f"Could not load the InceptionV3 weights ({weights!r}): {error}. "
                "keras.applications downloads the ImageNet weights from "
                "storage.googleapis.com on first use, which fails on a machine without "
                "internet. Copy 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5' into "
                "~/.keras/models/ (or pass weights=<path to it>), or, for MNIST-like digits, "
                "use the offline MNIST classifier: MNISTClassifier.load("
                "'saved_models/mnist_classifier/classifier.keras')."
            ) from error
        pooled = base.get_layer("avg_pool").output
        model = keras.Model(base.inputs, [pooled, base.outputs[0]], name="inception_v3_fid")
        super().__init__(model, batch_size)

    def _check_images(self, images: tf.Tensor) -> None:
        if images.shape[-1] not in (1, 3):
            raise ValueError(
                f"InceptionV3 takes images with 1 or 3 channels, got shape {tuple(images.shape)}."
            )

    def _preprocess(self, images: tf.Tensor) -> tf.Tensor:
        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        # [-1, 1] is already InceptionV3's input range (preprocess_input: x / 127.5 - 1).
        return tf.image.resize(images, (299, 299), method="bilinear")


def build_mnist_classifier(seed: int = 0, num_classes: int = 10) -> keras.Model:
    """The compact MNIST CNN: inputs [N, 28, 28, 1] in [-1, 1] -> [features (128), probabilities].

    Three 3x3 conv blocks (32, 64, 128 channels, batch norm, ReLU, two max-pools), global
    average pooling to 128 features (the layer used for FID/KID), dropout, a linear layer and a
    softmax (used for IS). About 95k parameters; every initializer and dropout seeded from
    `seed`, so the same seed builds the same network.

    Args:
        seed: seed for initializers and dropout.
        num_classes: size of the softmax.

    Example:
        >>> build_mnist_classifier(seed=1).output_shape
        [(None, 128), (None, 10)]
    """
    seeds = iter(range(seed * 100, seed * 100 + 100))

    def conv(filters, padding="same"):
        return keras.layers.Conv2D(
            filters, 3, padding=padding, use_bias=False,
            kernel_initializer=keras.initializers.HeNormal(seed=next(seeds)),
        )

    inputs = keras.Input((28, 28, 1), name="images")
    x = inputs
    for filters, padding, pool in ((32, "same", True), (64, "same", True), (128, "valid", False)):
        x = conv(filters, padding)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        if pool:
            x = keras.layers.MaxPooling2D()(x)
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)
    x = keras.layers.Dropout(0.2, seed=next(seeds))(features)
    logits = keras.layers.Dense(
        num_classes, name="logits",
        kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
    )(x)
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs, [features, probabilities], name="mnist_classifier")


class MNISTClassifier(_KerasExtractor):
    """A small MNIST CNN as a feature extractor: 128 pooled features and 10-class probabilities.

    The offline stand-in for InceptionV3 on digits: "MNIST IS" (IS with this classifier's
    probabilities, at most 10) and FID/KID in its feature space, as in many GAN papers on
    MNIST. Numbers are comparable only between runs using the same classifier file.

    Args:
        model: a Keras model with input [None, 28, 28, 1] in [-1, 1] and outputs
            [features [None, D], probabilities [None, K]] (see `build_mnist_classifier`).
        batch_size: images per forward pass.

    Example:
        clf = MNISTClassifier.load("saved_models/mnist_classifier/classifier.keras")
        clf.accuracy(test_images, test_labels)
    """

    name = "mnist_classifier"

    def __init__(self, model: keras.Model, batch_size: int = 500):
        if len(model.outputs) != 2:
            raise ValueError(
                f"model must have 2 outputs [features, probabilities], got {len(model.outputs)}."
            )
        if tuple(model.inputs[0].shape[1:]) != (28, 28, 1):
            raise ValueError(
                f"model must take [None, 28, 28, 1] images, got {tuple(model.inputs[0].shape)}."
            )
        super().__init__(model, batch_size)

    @classmethod
    def load(cls, path: str, batch_size: int = 500) -> "MNISTClassifier":
        """Loads a classifier saved by `save` (a `.keras` file)."""
        return cls(keras.saving.load_model(path, compile=False), batch_size=batch_size)

    def save(self, path: str) -> None:
        """Saves the network (no optimizer state) as a `.keras` file."""
        self.model.save(path)

    def _check_images(self, images: tf.Tensor) -> None:
        if tuple(images.shape[1:]) != (28, 28, 1):
            raise ValueError(
                f"MNISTClassifier takes 28x28 grey images ([N, 28, 28] or [N, 28, 28, 1]), "
                f"got shape {tuple(images.shape)}."
            )

    def predict_labels(self, images: Any) -> np.ndarray:
        """The predicted class of each image, int64 [N]."""
        return np.argmax(self.probabilities(images), axis=-1)

    def accuracy(self, images: Any, labels: Any) -> Score:
        """Fraction of `images` classified as `labels`, as a Score (name "accuracy")."""
        score = label_accuracy(self.probabilities(images), labels)
        return dataclasses.replace(score, name="accuracy")


def train_mnist_classifier(
    train_images: Any,
    train_labels: Any,
    test_images: Any,
    test_labels: Any,
    epochs: int = 6,
    seed: int = 0,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    verbose: int | str = "auto",
) -> tuple[MNISTClassifier, dict]:
    """Trains the MNIST evaluation classifier; returns it and a report with its test accuracy.

    Adam with a cosine-decayed learning rate and cross-entropy on logits, a fixed number of
    epochs (the test split is only measured at the end, never used to choose anything).
    Reproducible for a given `seed`: initializers, dropout and shuffling are all seeded.

    Args:
        train_images, train_labels: uint8 [N, 28, 28] (or float in [-1, 1]) and int labels.
        test_images, test_labels: the held-out split, measured once at the end.
        epochs: passes over the training images.
        seed: seed for initializers, dropout and shuffling.
        batch_size: examples per step.
        learning_rate: peak Adam learning rate (cosine decay to 0 over training).
        verbose: passed to `keras.Model.fit`.

    Example:
        clf, report = train_mnist_classifier(x_train, y_train, x_test, y_test, epochs=6)
        report["test_accuracy"]  # ~0.99
        clf.save("saved_models/mnist_classifier/classifier.keras")
    """
    x_train = to_float_images(train_images)
    y_train = tf.cast(tf.convert_to_tensor(train_labels), tf.int32)
    if x_train.shape[0] != y_train.shape[0]:
        raise ValueError(
            f"train_images has {x_train.shape[0]} images but train_labels has "
            f"{y_train.shape[0]} labels."
        )
    network = build_mnist_classifier(seed=seed)
    trainer = keras.Model(network.inputs, network.get_layer("logits").output)
    steps = epochs * math.ceil(x_train.shape[0] / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(x_train.shape[0], seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(2)
    )
    start = time.perf_counter()
    history = trainer.fit(dataset, epochs=epochs, shuffle=False, verbose=verbose)
    train_seconds = time.perf_counter() - start
    classifier = MNISTClassifier(network)
    test_score = classifier.accuracy(test_images, test_labels)
    report = {
        "test_accuracy": float(test_score.value),
        "test_samples": int(test_score.num_samples),
        "train_samples": int(x_train.shape[0]),
        "final_train_accuracy": float(history.history["accuracy"][-1]),
        "final_train_loss": float(history.history["loss"][-1]),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "seed": int(seed),
        "train_seconds": round(train_seconds, 1),
        "num_parameters": int(network.count_params()),
    }
    return classifier, report


def compute_activations(
    extractor: FeatureExtractor, images: Any, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Features [N, D] and probabilities [N, K] of many images, in chunks of `batch_size`.

    Args:
        extractor: a `FeatureExtractor`.
        images: an array/tensor [N, H, W(, C)] (uint8 or float [-1, 1]) or an iterable of
            such batches, e.g. a `tf.data.Dataset` (which may yield `(images, labels)`).
        batch_size: chunk size when `images` is one array.

    Example:
        features, probs = compute_activations(clf, test_images)
    """
    both = getattr(extractor, "features_and_probabilities", None)
    features, probabilities = [], []
    for batch in _image_batches(images, batch_size):
        if both is not None:
            f, p = both(batch)
        else:
            f, p = extractor.features(batch), extractor.probabilities(batch)
        features.append(np.asarray(f))
        probabilities.append(np.asarray(p))
    if not features:
        raise ValueError("images is empty: nothing to compute activations of.")
    return np.concatenate(features), np.concatenate(probabilities)


def compute_features(extractor: FeatureExtractor, images: Any, batch_size: int = 1000) -> np.ndarray:
    """Features [N, D] of many images (array or iterable of batches), in chunks.

    Example:
        real = compute_features(clf, test_images)
    """
    return _map_batches(extractor.features, images, batch_size, "features")


def compute_probabilities(
    extractor: FeatureExtractor, images: Any, batch_size: int = 1000
) -> np.ndarray:
    """Class probabilities [N, K] of many images (array or iterable of batches), in chunks.

    Example:
        probs = compute_probabilities(clf, fake_images)
    """
    return _map_batches(extractor.probabilities, images, batch_size, "probabilities")


def _map_batches(fn, images: Any, batch_size: int, what: str) -> np.ndarray:
    """`fn` of each chunk of `images`, concatenated; an error names `what` when there is none."""
    chunks = [np.asarray(fn(batch)) for batch in _image_batches(images, batch_size)]
    if not chunks:
        raise ValueError(f"images is empty: nothing to compute {what} of.")
    return np.concatenate(chunks)


# --------------------------------------------------------------------------- FID


def feature_moments(features: Any, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] (unbiased, N - 1) of features, float64, in batches.

    Sums are accumulated in float64 around a shift (the first batch's mean), which avoids the
    cancellation of the naive E[xx^T] - mu mu^T.

    Args:
        features: [N, D] activations, N >= 2.
        batch_size: rows per TensorFlow batch.

    Example:
        >>> mu, sigma = feature_moments(np.random.randn(100, 3))
        >>> sigma.shape
        (3, 3)
    """
    x = _as_matrix(features, "features")
    n, d = x.shape
    if n < 2:
        raise ValueError(f"features needs at least 2 samples for a covariance, got {n}.")
    _check_finite(x, "features")
    shift = tf.reduce_mean(next(_row_batches(x, batch_size)), axis=0)
    total = tf.zeros([d], tf.float64)
    outer = tf.zeros([d, d], tf.float64)
    for batch in _row_batches(x, batch_size):
        centred = batch - shift
        total += tf.reduce_sum(centred, axis=0)
        outer += tf.matmul(centred, centred, transpose_a=True)
    offset = total / n
    covariance = (outer - n * offset[:, None] * offset[None, :]) / (n - 1)
    return (shift + offset).numpy(), covariance.numpy()


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues -> 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet (2-Wasserstein) distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))  (Dowson & Landau, 1982; the FID of
    Heusel et al., 2017). Tr (S1 S2)^(1/2) is computed as Tr (S1^(1/2) S2 S1^(1/2))^(1/2),
    the square root of a symmetric PSD matrix by eigen-decomposition in float64, which stays
    real and stable where a general `sqrtm` of the non-symmetric S1 S2 returns complex noise
    (singular covariances, N < D).

    Args:
        mu1, mu2: means [D].
        sigma1, sigma2: covariances [D, D].

    Returns:
        The squared distance as a float (this function knows no sample counts; `fid` returns
        a `Score` with them).

    Example:
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
        2.0
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 must be vectors of one size, got {mu1.shape} and {mu2.shape}.")
    d = mu1.shape[0]
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (d, d):
            raise ValueError(f"{name} must be [{d}, {d}] to match the means, got {sigma.shape}.")
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        _check_finite(value, name)
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ ((sigma2 + sigma2.T) / 2) @ root1
    trace_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None))))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def fid(real_features: Any, fake_features: Any, batch_size: int = 4096) -> Score:
    """Fréchet Inception Distance between two sets of activations (Heusel et al., 2017).

    FID = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) for Gaussian fits of the
    features. Biased upwards for finite N (Chong & Forsyth, 2020): compare FIDs only at equal
    sample counts, which the returned Score records.

    Args:
        real_features: [N_real, D] activations of real images.
        fake_features: [N_fake, D] activations of generated images.
        batch_size: rows per batch for the moment computation.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(500, 4))
        >>> round(fid(x, x).value, 6)
        0.0
    """
    real = _as_matrix(real_features, "real_features")
    fake = _as_matrix(fake_features, "fake_features")
    _check_same_dim(real, fake)
    mu1, sigma1 = feature_moments(real, batch_size)
    mu2, sigma2 = feature_moments(fake, batch_size)
    value = frechet_distance(mu1, sigma1, mu2, sigma2)
    return Score(
        "fid", value, num_samples=fake.shape[0], num_reference=real.shape[0],
        details={"feature_dim": int(real.shape[1])},
    )


# --------------------------------------------------------------------------- IS


def inception_score(probs: Any, splits: int = 10, batch_size: int = 4096) -> Score:
    """Inception Score: exp(E_x KL(p(y|x) || p(y))), mean and std over splits (Salimans et al., 2016).

    The N samples are cut into `splits` contiguous parts; in each, p(y) is the mean of the
    p(y|x) and the score is exp(mean_x sum_y p(y|x) log p(y|x) - sum_y p(y) log p(y)), the same
    quantity as the KL form computed in one pass (0 log 0 = 0). Ranges from 1 (all predictions
    equal) to K (confident predictions spread evenly over K classes). std is over splits
    (ddof=0, as in the original code).

    Args:
        probs: [N, K] class probabilities (rows sum to 1: softmax outputs, not logits).
        splits: number of parts; 10 in the paper.
        batch_size: rows per TensorFlow batch.

    Example:
        >>> inception_score(np.eye(10)[np.arange(100) % 10], splits=1).value
        10.0
    """
    p = _as_matrix(probs, "probs")
    n, k = p.shape
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be in [1, {n}] for {n} samples, got {splits}.")
    _check_finite(p, "probs")
    low, sums = float(p.min()), p.sum(axis=1)
    if low < 0 or np.max(np.abs(sums - 1)) > 1e-3:
        raise ValueError(
            f"probs must be probabilities (>= 0, rows summing to 1), got min {low:.3g} and row "
            f"sums in [{sums.min():.4g}, {sums.max():.4g}]; apply a softmax to logits first."
        )
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = tf.zeros([k], tf.float64)
        neg_entropy = tf.constant(0.0, tf.float64)
        for batch in _row_batches(part, batch_size):
            marginal += tf.reduce_sum(batch, axis=0)
            neg_entropy += tf.reduce_sum(tf.math.xlogy(batch, batch))
        m = part.shape[0]
        marginal /= m
        mean_kl = neg_entropy / m - tf.reduce_sum(tf.math.xlogy(marginal, marginal))
        scores.append(float(tf.exp(mean_kl)))
    return Score(
        "inception_score", float(np.mean(scores)), std=float(np.std(scores)),
        num_samples=n, details={"splits": int(splits), "num_classes": int(k)},
    )


# --------------------------------------------------------------------------- KID


def _polynomial_kernel_sum(x: tf.Tensor, y: tf.Tensor, block: int) -> tf.Tensor:
    """sum_ij (x_i . y_j / d + 1)^3, over row blocks of x so memory stays block x M."""
    d = tf.cast(tf.shape(x)[1], tf.float64)
    total = tf.constant(0.0, tf.float64)
    for start in range(0, int(x.shape[0]), block):
        k = (tf.matmul(x[start : start + block], y, transpose_b=True) / d + 1.0) ** 3
        total += tf.reduce_sum(k)
    return total


def _unbiased_mmd2(x: tf.Tensor, y: tf.Tensor, block: int) -> float:
    """Unbiased MMD^2 (Gretton et al., 2012) with the cubic polynomial kernel."""
    n, m = int(x.shape[0]), int(y.shape[0])
    d = tf.cast(tf.shape(x)[1], tf.float64)
    diag_x = tf.reduce_sum((tf.reduce_sum(x * x, axis=1) / d + 1.0) ** 3)
    diag_y = tf.reduce_sum((tf.reduce_sum(y * y, axis=1) / d + 1.0) ** 3)
    kxx = (_polynomial_kernel_sum(x, x, block) - diag_x) / (n * (n - 1))
    kyy = (_polynomial_kernel_sum(y, y, block) - diag_y) / (m * (m - 1))
    kxy = _polynomial_kernel_sum(x, y, block) / (n * m)
    return float(kxx + kyy - 2.0 * kxy)


def kid(
    real_features: Any,
    fake_features: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    batch_size: int = 1024,
) -> Score:
    """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Bińkowski et al., 2018).

    MMD^2_u = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1))
              - 2 sum_{i,j} k(x_i, y_j) / m^2,
    averaged over `subsets` random subsets of m = min(subset_size, N_real, N_fake) samples
    drawn without replacement from each set. Unbiased: about 0 (and can be slightly negative)
    when both sets come from one distribution, whatever m. std is over subsets (ddof=0).

    Args:
        real_features: [N_real, D] activations of real images.
        fake_features: [N_fake, D] activations of generated images.
        subsets: number of random subsets (100 in the paper's code).
        subset_size: samples per subset (1000 in the paper's code).
        seed: seed of the subset draws.
        batch_size: kernel rows per TensorFlow block.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> kid(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 1, subsets=5).value > 0
        True
    """
    real = _as_matrix(real_features, "real_features")
    fake = _as_matrix(fake_features, "fake_features")
    _check_same_dim(real, fake)
    _check_finite(real, "real_features")
    _check_finite(fake, "fake_features")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}.")
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(
            f"KID needs subsets of at least 2 samples, got subset_size={subset_size} with "
            f"{real.shape[0]} real and {fake.shape[0]} fake samples."
        )
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = tf.constant(np.asarray(real[rng.choice(real.shape[0], m, replace=False)], np.float64))
        y = tf.constant(np.asarray(fake[rng.choice(fake.shape[0], m, replace=False)], np.float64))
        values.append(_unbiased_mmd2(x, y, batch_size))
    return Score(
        "kid", float(np.mean(values)), std=float(np.std(values)),
        num_samples=fake.shape[0], num_reference=real.shape[0],
        details={"subsets": int(subsets), "subset_size": int(m), "feature_dim": int(real.shape[1])},
    )


def evaluate_images(
    extractor: FeatureExtractor,
    fake_images: Any,
    real_images: Any = None,
    *,
    splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    batch_size: int = 1000,
) -> dict[str, Score]:
    """IS of `fake_images`, and FID and KID against `real_images` when given, with one extractor.

    Args:
        extractor: a `FeatureExtractor` (e.g. `MNISTClassifier`, `InceptionV3Extractor`).
        fake_images: generated images (array or iterable of batches; uint8 or float [-1, 1]).
        real_images: reference images, or None for IS only.
        splits: IS splits.
        kid_subsets, kid_subset_size, seed: KID subsets.
        batch_size: chunk size for feature extraction.

    Returns:
        {"inception_score": Score, "fid": Score, "kid": Score} (the last two with real_images),
        each with `details["extractor"]` naming the extractor.

    Example:
        scores = evaluate_images(clf, gan.sample(10000), test_images)
    """
    name = getattr(extractor, "name", type(extractor).__name__)
    fake_features, fake_probs = compute_activations(extractor, fake_images, batch_size)
    scores = {"inception_score": inception_score(fake_probs, splits=splits)}
    if real_images is not None:
        real_features = compute_features(extractor, real_images, batch_size)
        scores["fid"] = fid(real_features, fake_features)
        scores["kid"] = kid(
            real_features, fake_features, subsets=kid_subsets,
            subset_size=kid_subset_size, seed=seed,
        )
    for score in scores.values():
        score.details["extractor"] = name
    return scores


# --------------------------------------------------------------------------- mode coverage


@dataclasses.dataclass(frozen=True)
class ModeCoverage:
    """Mode-coverage scores of samples from a 2-D Gaussian mixture (PacGAN protocol).

    Attributes:
        modes_captured: modes with at least one high-quality sample nearest to them.
        num_modes: K, the number of mixture components.
        high_quality_fraction: fraction of samples within `threshold` sigmas of their
            nearest centre (`high_quality_percent` gives it in %).
        reverse_kl: KL(p_model || p_true) of the high-quality samples' mode histogram against
            the uniform distribution over modes, natural log, summed over modes with
            p_model > 0 (empty modes contribute 0, as 0 log 0 = 0); NaN when no sample is
            high quality (the histogram is undefined).
        num_samples: number of samples scored.
        mode_counts: high-quality samples per mode, length K.
    """

    modes_captured: int
    num_modes: int
    high_quality_fraction: float
    reverse_kl: float
    num_samples: int
    mode_counts: tuple[int, ...]

    @property
    def high_quality_percent(self) -> float:
        return 100.0 * self.high_quality_fraction

    def to_dict(self) -> dict:
        """A JSON-friendly dict."""
        out = dataclasses.asdict(self)
        out["mode_counts"] = list(self.mode_counts)
        out["high_quality_percent"] = self.high_quality_percent
        return out

    def __str__(self) -> str:
        return (
            f"{self.modes_captured}/{self.num_modes} modes, {self.high_quality_percent:.2f}% "
            f"high quality, reverse KL {self.reverse_kl:.4f} ({self.num_samples} samples)"
        )


def mixture_modes(name: str) -> tuple[np.ndarray, float]:
    """Centres [K, 2] and sigma of the PacGAN 2-D mixtures (Lin et al., 2018).

    "ring8": 8 modes at (cos 2 pi i / 8, sin 2 pi i / 8), i = 0..7, sigma 0.01;
    "grid25": 25 modes at (i, j), i, j in {-4, -2, 0, 2, 4}, sigma 0.05.

    Args:
        name: "ring8" or "grid25".

    Example:
        >>> centres, sigma = mixture_modes("ring8")
        >>> centres.shape, sigma
        ((8, 2), 0.01)
    """
    if name == "ring8":
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01
    if name == "grid25":
        ticks = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
        return np.stack([xs.ravel(), ys.ravel()], axis=1), 0.05
    raise ValueError(f"unknown mixture {name!r}; known: 'grid25', 'ring8'.")


def mode_coverage(
    samples: Any, centres: Any, sigma: float, threshold: float = 3.0, batch_size: int = 65536
) -> ModeCoverage:
    """Modes captured, % high quality and reverse KL of 2-D mixture samples (PacGAN, Lin et al., 2018).

    A sample is high quality when its Euclidean distance to the nearest centre is below
    `threshold` * sigma; a mode is captured when at least one high-quality sample is nearest
    to it. reverse KL = sum_{k: p_k > 0} p_k log(p_k K), with p_k the fraction of high-quality
    samples nearest to mode k. A perfect sampler of an isotropic mixture scores K/K and
    1 - exp(-threshold^2 / 2) high quality (98.89% for 3 sigma); the protocol uses 2,500 samples.

    Args:
        samples: [N, 2] points (any dimension D works, with centres [K, D]).
        centres: [K, D] mixture centres.
        sigma: the components' standard deviation (isotropic, shared).
        threshold: distance in sigmas below which a sample is high quality.
        batch_size: samples per distance batch.

    Example:
        >>> centres, sigma = mixture_modes("ring8")
        >>> mode_coverage(centres[[0, 0, 1]], centres, sigma).modes_captured
        2
    """
    x = _as_matrix(samples, "samples").astype(np.float64)
    c = _as_matrix(centres, "centres").astype(np.float64)
    if x.shape[1] != c.shape[1]:
        raise ValueError(
            f"samples are {x.shape[1]}-D but centres are {c.shape[1]}-D; expected samples "
            f"[N, {c.shape[1]}]."
        )
    if x.shape[0] == 0 or c.shape[0] == 0:
        raise ValueError(f"need samples and centres, got {x.shape[0]} and {c.shape[0]}.")
    if not np.isscalar(sigma) or not sigma > 0:
        raise ValueError(f"sigma must be a positive scalar, got {sigma!r}.")
    num_modes = c.shape[0]
    counts = np.zeros(num_modes, np.int64)
    for start in range(0, x.shape[0], batch_size):
        batch = x[start : start + batch_size]
        squared = np.sum((batch[:, None, :] - c[None, :, :]) ** 2, axis=-1)
        nearest = np.argmin(squared, axis=1)
        # NaN samples compare False here, so they are never high quality.
        good = np.sqrt(squared[np.arange(batch.shape[0]), nearest]) < threshold * sigma
        counts += np.bincount(nearest[good], minlength=num_modes)
    total = int(counts.sum())
    if total:
        p = counts[counts > 0] / total
        reverse_kl = float(np.sum(p * np.log(p * num_modes)))
    else:
        reverse_kl = float("nan")
    return ModeCoverage(
        modes_captured=int(np.count_nonzero(counts)),
        num_modes=int(num_modes),
        high_quality_fraction=total / x.shape[0],
        reverse_kl=reverse_kl,
        num_samples=int(x.shape[0]),
        mode_counts=tuple(int(v) for v in counts),
    )


@dataclasses.dataclass(frozen=True)
class MeanStderr:
    """Mean and standard error (std with ddof=1 over sqrt(n)) of one number over n runs."""

    mean: float
    stderr: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4g} +- {self.stderr:.2g} (n={self.n})"


def mean_and_stderr(values: Iterable[float]) -> MeanStderr:
    """Mean and standard error of the mean of values over runs (e.g. seeds).

    stderr = std(values, ddof=1) / sqrt(n); NaN for a single value (no spread to estimate).

    Example:
        >>> mean_and_stderr([1.0, 2.0, 3.0]).mean
        2.0
    """
    array = np.asarray(list(values), np.float64)
    if array.size == 0:
        raise ValueError("mean_and_stderr needs at least one value, got none.")
    stderr = float(np.std(array, ddof=1) / math.sqrt(array.size)) if array.size > 1 else float("nan")
    return MeanStderr(float(np.mean(array)), stderr, int(array.size))


def aggregate_mode_coverage(results: Iterable[ModeCoverage]) -> dict[str, MeanStderr]:
    """Mean and standard error over runs (seeds) of modes captured, % high quality, reverse KL.

    As PacGAN's Table 1 reports them. A run with no high-quality sample has reverse KL NaN,
    which makes the mean NaN: such a run is reported, not silently dropped.

    Example:
        summary = aggregate_mode_coverage([mode_coverage(s, centres, sigma) for s in runs])
        print(summary["modes_captured"], summary["high_quality_percent"])
    """
    results = list(results)
    if not results:
        raise ValueError("aggregate_mode_coverage needs at least one ModeCoverage, got none.")
    return {
        "modes_captured": mean_and_stderr(r.modes_captured for r in results),
        "high_quality_percent": mean_and_stderr(r.high_quality_percent for r in results),
        "reverse_kl": mean_and_stderr(r.reverse_kl for r in results),
    }


# --------------------------------------------------------------------------- labelled data


@dataclasses.dataclass(frozen=True)
class ClassDistribution:
    """How predicted classes are spread over generated samples.

    Attributes:
        fractions: fraction of samples per class, length K.
        counts: samples per class.
        num_samples: N.
        num_classes: K.
        missing_classes: classes no sample was assigned to.
        normalized_entropy: H(fractions) / log K, 1.0 when perfectly balanced, 0 when one class.
        tv_from_uniform: total variation 0.5 sum_k |f_k - 1/K|, 0 when balanced.
        min_fraction, max_fraction: of the least and most frequent classes.
    """

    fractions: tuple[float, ...]
    counts: tuple[int, ...]
    num_samples: int
    num_classes: int
    missing_classes: tuple[int, ...]
    normalized_entropy: float
    tv_from_uniform: float
    min_fraction: float
    max_fraction: float

    def to_dict(self) -> dict:
        """A JSON-friendly dict."""
        return layout.jsonable(dataclasses.asdict(self))


def class_distribution(probabilities: Any, num_classes: int | None = None) -> ClassDistribution:
    """Fraction of samples per predicted class (argmax), with a balance summary.

    A mode-collapse check for labelled data: a generator of balanced MNIST should give each
    digit ~10% (normalized entropy ~1, total variation from uniform ~0).

    Args:
        probabilities: [N, K] class probabilities (or scores; the argmax is used), or [N]
            integer class ids.
        num_classes: K, needed only when passing class ids.

    Example:
        >>> class_distribution(np.eye(2)[[0, 0, 1, 1]]).normalized_entropy
        1.0
    """
    array = np.asarray(probabilities)
    if array.ndim == 2:
        if num_classes is not None and num_classes != array.shape[1]:
            raise ValueError(
                f"probabilities have {array.shape[1]} classes but num_classes={num_classes}."
            )
        num_classes = array.shape[1]
        labels = np.argmax(array, axis=1)
    elif array.ndim == 1 and np.issubdtype(array.dtype, np.integer):
        if num_classes is None:
            raise ValueError("num_classes is required when passing class ids [N].")
        labels = array
    else:
        raise ValueError(
            f"probabilities must be [N, K] probabilities or [N] integer class ids, got "
            f"shape {array.shape} dtype {array.dtype}."
        )
    if labels.size == 0:
        raise ValueError("class_distribution needs at least one sample, got none.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"class ids must be in [0, {num_classes}), got [{labels.min()}, {labels.max()}]."
        )
    counts = np.bincount(labels, minlength=num_classes)
    fractions = counts / labels.size
    nonzero = fractions[fractions > 0]
    entropy = float(-np.sum(nonzero * np.log(nonzero)))
    return ClassDistribution(
        fractions=tuple(float(f) for f in fractions),
        counts=tuple(int(c) for c in counts),
        num_samples=int(labels.size),
        num_classes=int(num_classes),
        missing_classes=tuple(int(k) for k in np.flatnonzero(counts == 0)),
        normalized_entropy=entropy / math.log(num_classes) if num_classes > 1 else 1.0,
        tv_from_uniform=float(0.5 * np.sum(np.abs(fractions - 1.0 / num_classes))),
        min_fraction=float(fractions.min()),
        max_fraction=float(fractions.max()),
    )


def label_accuracy(probabilities: Any, asked_labels: Any) -> Score:
    """Fraction of samples classified as the label they were generated for (conditional GANs).

    accuracy = mean_i [argmax_k p_k(x_i) == y_i], with y_i the label given to the generator;
    `details["per_class"]` holds the accuracy for each asked label.

    Args:
        probabilities: [N, K] classifier probabilities of the generated samples.
        asked_labels: [N] int labels the samples were generated for.

    Example:
        >>> label_accuracy(np.eye(3)[[0, 1, 2, 2]], [0, 1, 2, 1]).value
        0.75
    """
    p = _as_matrix(probabilities, "probabilities")
    labels = np.asarray(asked_labels)
    if labels.ndim != 1 or labels.shape[0] != p.shape[0]:
        raise ValueError(
            f"asked_labels must be [N] = [{p.shape[0]}] to match probabilities, got shape "
            f"{labels.shape}."
        )
    if p.shape[0] == 0:
        raise ValueError("label_accuracy needs at least one sample, got none.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"asked_labels must be integer class ids, got dtype {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= p.shape[1]:
        raise ValueError(
            f"asked_labels must be in [0, {p.shape[1]}), got [{labels.min()}, {labels.max()}]."
        )
    correct = np.argmax(p, axis=1) == labels
    per_class = {int(k): float(np.mean(correct[labels == k])) for k in np.unique(labels)}
    return Score(
        "label_accuracy", float(np.mean(correct)), num_samples=int(p.shape[0]),
        details={"per_class": per_class},
    )
