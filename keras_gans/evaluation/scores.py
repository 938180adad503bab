"""The score math: FID, Inception Score, KID, class balance and label accuracy, with sample counts.

Every function takes arrays (features, class probabilities) and returns a `Score` that states
how many samples it saw: FID and KID depend on the number of samples (FID is biased upwards for
small sets), so a number without its sample counts cannot be compared with another. The math
runs in float64; tests check it against NumPy/SciPy and closed forms. Turning images into the
features these take is `keras_gans.evaluation.features`.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(500, 4))
    >>> round(fid(x, x).value, 6)
    0.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable

import numpy as np
import tensorflow as tf

from keras_gans import layout

__all__ = [
    "Score",
    "feature_moments",
    "frechet_distance",
    "fid",
    "inception_score",
    "kid",
    "MeanStderr",
    "mean_and_stderr",
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
