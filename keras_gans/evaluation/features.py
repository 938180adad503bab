"""Feature extractors: the networks that turn images into the features and class probabilities scored.

Image metrics work on the activations of a pluggable feature extractor: anything with
`features(images)` and `probabilities(images)` (see `FeatureExtractor`). Two ship here:
`InceptionV3Extractor` (ImageNet InceptionV3 from `keras.applications`, the usual choice for
natural images) and `MNISTClassifier` (a compact CNN trained on MNIST, the choice for digits,
and the one that works offline: `load_classifier()` loads the shipped one). Its training is
`benchmarks/train_classifier.py`.

Images follow the project's convention: float32 in [-1, 1] (generator outputs) or uint8 in
[0, 255] (exported `sample` outputs, files); both are accepted everywhere.

Example:
    from keras_gans import evaluation
    clf = evaluation.load_classifier()
    features, probabilities = evaluation.compute_activations(clf, test_images)
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import keras
import numpy as np
import tensorflow as tf

from keras_gans.evaluation.scores import Score, label_accuracy

__all__ = [
    "FeatureExtractor",
    "InceptionV3Extractor",
    "MNISTClassifier",
    "build_mnist_classifier",
    "to_float_images",
    "compute_features",
    "compute_probabilities",
    "compute_activations",
    "default_classifier_path",
    "load_classifier",
]


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
                "use the offline MNIST classifier: keras_gans.evaluation.load_classifier() "
                "(the shipped one) or MNISTClassifier.load(path)."
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
        clf = load_classifier()   # the shipped one; or MNISTClassifier.load(path)
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


# --------------------------------------------------------------------------- classifier


def default_classifier_path() -> Path:
    """The shipped MNIST classifier: `<saved_models>/mnist_classifier/classifier.keras`."""
    from keras_gans import pretrained

    return pretrained.saved_models_dir() / "mnist_classifier" / "classifier.keras"


def load_classifier(classifier: Any = None, batch_size: int = 500):
    """A feature extractor: the given one, one loaded from a `.keras` path, or the shipped one.

    Args:
        classifier: None (the shipped MNIST classifier), a path to a `.keras` classifier, or
            a `FeatureExtractor` (returned as it is).
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
    return MNISTClassifier.load(str(path), batch_size=batch_size)
