"""Mode coverage of samples from a 2-D Gaussian mixture: modes captured, % high quality, reverse KL.

The protocol of PacGAN (Lin et al., 2018), run over the mixtures of `keras_gans.data.mixture`
("ring8", "grid25"), the project's one home of their centres.

Example:
    >>> from keras_gans import data
    >>> ring = data.mixture("ring8")
    >>> mode_coverage(ring.sample(2500, seed=0), ring).modes_captured
    8
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import numpy as np

from keras_gans.evaluation.scores import MeanStderr, _as_matrix, mean_and_stderr

__all__ = ["ModeCoverage", "mode_coverage", "aggregate_mode_coverage"]


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


def mode_coverage(
    samples: Any,
    centres: Any,
    sigma: float | None = None,
    threshold: float = 3.0,
    batch_size: int = 65536,
) -> ModeCoverage:
    """Modes captured, % high quality and reverse KL of 2-D mixture samples (PacGAN, Lin et al., 2018).

    A sample is high quality when its Euclidean distance to the nearest centre is below
    `threshold` * sigma; a mode is captured when at least one high-quality sample is nearest
    to it. reverse KL = sum_{k: p_k > 0} p_k log(p_k K), with p_k the fraction of high-quality
    samples nearest to mode k. A perfect sampler of an isotropic mixture scores K/K and
    1 - exp(-threshold^2 / 2) high quality (98.89% for 3 sigma); the protocol uses 2,500 samples.

    Args:
        samples: [N, 2] points (any dimension D works, with centres [K, D]).
        centres: [K, D] mixture centres, or a `keras_gans.data.Mixture` (its centres, and
            its sigma unless `sigma` is given).
        sigma: the components' standard deviation (isotropic, shared).
        threshold: distance in sigmas below which a sample is high quality.
        batch_size: samples per distance batch.

    Example:
        >>> from keras_gans import data
        >>> ring = data.mixture("ring8")
        >>> mode_coverage(ring.centers[[0, 0, 1]], ring).modes_captured
        2
    """
    if hasattr(centres, "centers"):  # a data.Mixture
        sigma = centres.sigma if sigma is None else sigma
        centres = centres.centers
    if sigma is None:
        raise ValueError("sigma is required with centres given as an array (or pass a data.Mixture).")
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
