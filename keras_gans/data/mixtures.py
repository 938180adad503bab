"""The 2-D Gaussian mixtures of PacGAN (Lin et al., 2018): `ring8` and `grid25`, in published units.

The one home of their centres and sigma: mode-coverage scoring (`keras_gans.evaluation.mode_coverage`)
takes a `Mixture` from here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

MIXTURE_NAMES = ("ring8", "grid25")
# Number of points in one epoch of a toy mixture dataset.
_MIXTURE_EPOCH = 100_000


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
        columns = (points, ids) if labels else (points,)
        if shuffle:
            # One permutation of the whole epoch per pass, drawn in one op from a seed that
            # changes every pass; a shuffle buffer would copy all the points in, one by one.
            epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
            ds = epoch_seeds.flat_map(lambda s: _batches(_permuted(columns, s), batch_size, drop_remainder))
            ds = ds.apply(tf.data.experimental.assert_cardinality(_num_batches(num_samples, batch_size, drop_remainder)))
        else:
            ds = _batches(tuple(tf.constant(c) for c in columns), batch_size, drop_remainder)
        if not labels:
            ds = ds.map(lambda points: points)
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
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    if key == "ring8":
        # arange(8)/8, not linspace(0, 2*pi, 8), which repeats the first centre (7 modes).
        angles = 2.0 * np.pi * np.arange(8) / 8.0
        centers, sigma = np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01
    elif key == "grid25":
        coords = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        centers = np.array([(i, j) for i in coords for j in coords])
        sigma = 0.05
    else:
        raise ValueError(f"Unknown mixture {name!r}; known: {', '.join(MIXTURE_NAMES)}.")
    centers.setflags(write=False)
    return Mixture(key, centers, sigma)


def _permuted(columns, seed):
    """The columns reordered by one random permutation of their rows, from a scalar int64 seed."""
    order = tf.random.experimental.stateless_shuffle(
        tf.range(tf.shape(columns[0])[0]), seed=tf.stack([seed, tf.constant(0, tf.int64)])
    )
    return tuple(tf.gather(c, order) for c in columns)


def _num_batches(rows, batch_size, drop_remainder):
    if batch_size is None:
        return rows
    return rows // batch_size if drop_remainder else -(-rows // batch_size)


def _batches(columns, batch_size, drop_remainder):
    """A dataset of the rows of `columns` in order: one element per row, or batches sliced whole.

    Elements are tuples of the columns; batches are cut by slicing, not assembled row by row.
    """
    if batch_size is None:
        return tf.data.Dataset.from_tensor_slices(columns)
    rows = int(columns[0].shape[0])
    count = _num_batches(rows, batch_size, drop_remainder)
    if drop_remainder:  # [count, batch_size, ...]: batches of a static size
        return tf.data.Dataset.from_tensor_slices(
            tuple(tf.reshape(c[: count * batch_size], [count, batch_size, *c.shape[1:]]) for c in columns)
        )
    return tf.data.Dataset.range(count).map(
        lambda i: tuple(c[i * batch_size : (i + 1) * batch_size] for c in columns)
    )

