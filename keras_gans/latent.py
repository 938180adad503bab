"""Latent-space exploration: interpolation and vector arithmetic (Radford et al., 2016).

A smooth walk between two latent points that gives smoothly changing samples (no sharp
transitions, no sudden memorised images) is the DCGAN paper's evidence that a generator
learned a representation rather than a lookup table (section 6.1); vector arithmetic
z_a - z_b + z_c on latent points (averaged over a few exemplars each, section 6.3) shows that
directions of the latent space carry meaning.

Pure functions work on NumPy (or TF) latents of shape `[D]` or `[N, D]`:

- `lerp(z0, z1, steps)`: z0 + t (z1 - z0), t in [0, 1].
- `slerp(z0, z1, steps)`: along the great circle (Shoemake, 1985; White, 2016, "Sampling
  generative networks"), which stays where N(0, I) puts its mass (norms near sqrt(D)),
  where the straight line passes closer to the origin.
- `arithmetic(a, b, c)`: mean(a) - mean(b) + mean(c).

Helpers turn them into images from any generator (`keras_gans.generators.as_generator`):
a GAN, a `keras_gans.pretrained` model, a SavedModel (its `serving_default` signature, which
takes z), a path to one, or a serving `Client` and a model name. A seed names the latent point that
`sample(1, seed=s)` draws (`keras_gans.models.latent_from_seed`), so the end points of an
interpolation between seeds are exactly those samples.

The `keras-gans sample` command (keras_gans/cli/sample.py) takes `--interpolate
{linear,slerp} --steps 8 --seeds 1,2` and `--arithmetic A,B,C`.

Example:
    import keras_gans as kg
    from keras_gans import latent

    gan = kg.pretrained.load("dcgan_mnist")
    images = latent.interpolation_images(gan, seeds=[1, 2, 3, 4], steps=8, method="slerp")
    kg.images.save_png("walk.png", kg.images.grid(images, cols=8))
    row = latent.arithmetic_images(gan, [1, 5, 9], [2, 6], [3])   # G(a), G(b), G(c), G(a - b + c)
"""

from __future__ import annotations

import numpy as np

from keras_gans import checks, generators

__all__ = [
    "lerp",
    "slerp",
    "interpolate",
    "arithmetic",
    "latent_points",
    "interpolation_images",
    "arithmetic_images",
]

METHODS = ("linear", "slerp")


# --------------------------------------------------------------------------- pure functions


def _pair(z0, z1):
    a = np.asarray(z0, dtype=np.float64)
    b = np.asarray(z1, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(
            f"z0 and z1 must have one shape, [D] or [N, D]; got {a.shape} and {b.shape}."
        )
    return a, b


def _ts(steps):
    steps = checks.integer(steps, "steps", 2, " (both end points included)")
    return np.linspace(0.0, 1.0, steps)


def _stack(values, a):
    # [steps, ...] -> [steps, D] for vectors, [N, steps, D] for batches.
    out = np.stack(values).astype(np.float32)
    return out if a.ndim == 1 else np.swapaxes(out, 0, 1)


def lerp(z0, z1, steps=8):
    """Linear interpolation z0 + t (z1 - z0) for `steps` values of t from 0 to 1.

    Args:
        z0, z1: latent points `[D]`, or batches `[N, D]` interpolated row by row.
        steps: number of points, both end points included (>= 2).

    Returns:
        float32 `[steps, D]` (or `[N, steps, D]`); the first row is z0, the last z1.

    Example:
        >>> lerp(np.zeros(2), np.ones(2), steps=3)[:, 0].tolist()
        [0.0, 0.5, 1.0]
    """
    a, b = _pair(z0, z1)
    return _stack([(1.0 - t) * a + t * b for t in _ts(steps)], a)


def slerp(z0, z1, steps=8, eps=1e-7):
    """Spherical linear interpolation along the great circle from z0 to z1.

    slerp(t) = sin((1 - t) theta) / sin(theta) z0 + sin(t theta) / sin(theta) z1, with theta the
    angle between z0 and z1 (Shoemake, 1985; for GANs, White, 2016). When the norms of z0 and
    z1 are equal, every point keeps that norm; otherwise the norm changes smoothly between
    them. Nearly parallel (or antiparallel, where the great circle is undefined) points fall
    back to `lerp`.

    Args:
        z0, z1: latent points `[D]`, or batches `[N, D]` interpolated row by row.
        steps: number of points, both end points included (>= 2).
        eps: |sin(theta)| below which the linear form is used.

    Returns:
        float32 `[steps, D]` (or `[N, steps, D]`); the first row is z0, the last z1.

    Example:
        >>> path = slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), steps=3)
        >>> np.round(np.linalg.norm(path, axis=-1), 6).tolist()
        [1.0, 1.0, 1.0]
    """
    a, b = _pair(z0, z1)
    norms = np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.clip(np.sum(a * b, axis=-1, keepdims=True) / np.maximum(norms, 1e-300), -1.0, 1.0)
    theta = np.arccos(cos)
    sin = np.sin(theta)
    degenerate = np.abs(sin) < eps
    safe = np.where(degenerate, 1.0, sin)
    points = []
    for t in _ts(steps):
        spherical = (np.sin((1.0 - t) * theta) * a + np.sin(t * theta) * b) / safe
        points.append(np.where(degenerate, (1.0 - t) * a + t * b, spherical))
    out = _stack(points, a)
    # The end points exactly, not sin(theta) / sin(theta) rounded.
    first, last = (0, -1) if a.ndim == 1 else ((slice(None), 0), (slice(None), -1))
    out[first], out[last] = a, b
    return out


def interpolate(z0, z1, steps=8, method="linear"):
    """`lerp` (method "linear") or `slerp` (method "slerp") between z0 and z1.

    Example:
        >>> interpolate(np.zeros(4), np.ones(4), steps=5, method="slerp").shape
        (5, 4)
    """
    if method == "linear":
        return lerp(z0, z1, steps)
    if method == "slerp":
        return slerp(z0, z1, steps)
    raise ValueError(f"unknown interpolation method {method!r}; known: {', '.join(METHODS)}.")


def arithmetic(z_a, z_b, z_c):
    """Latent vector arithmetic z_a - z_b + z_c (Radford et al., 2016, section 6.3).

    Each operand is one latent point `[D]` or several `[k, D]`, averaged first: the paper
    averages three exemplars per concept ("smiling woman" - "neutral woman" + "neutral
    man"), because single points gave unstable results.

    Returns:
        float32 `[D]`.

    Example:
        >>> arithmetic([3.0, 3.0], [[1.0, 0.0], [1.0, 2.0]], [0.0, 1.0]).tolist()
        [2.0, 3.0]
    """
    means = []
    for name, z in (("z_a", z_a), ("z_b", z_b), ("z_c", z_c)):
        array = np.asarray(z, dtype=np.float64)
        if array.ndim == 2 and array.shape[0] >= 1:
            array = array.mean(axis=0)
        if array.ndim != 1:
            raise ValueError(f"{name} must be a latent point [D] or points [k, D]; got shape {array.shape}.")
        means.append(array)
    if len({m.shape for m in means}) != 1:
        raise ValueError(f"z_a, z_b and z_c must have one latent size; got {[m.shape[0] for m in means]}.")
    return (means[0] - means[1] + means[2]).astype(np.float32)


def latent_points(seeds, latent_dim):
    """The latent point each seed names: row i is the z of `sample(1, seed=seeds[i])`.

    Args:
        seeds: integer seeds.
        latent_dim: D.

    Returns:
        float32 `[len(seeds), D]`.

    Example:
        z = latent_points([1, 2], gan.latent_dim)   # gan.generate(z[:1]) == gan.sample(1, seed=1)
    """
    from keras_gans.models.sampling import latent_from_seed

    seeds = [int(s) for s in np.ravel(seeds)]
    if not seeds:
        raise ValueError("latent_points needs at least one seed.")
    return np.stack([latent_from_seed(1, int(latent_dim), s).numpy()[0] for s in seeds])


def _operand(value, latent_dim):
    """Latent point(s) from an int seed, a list of int seeds, or float latent(s)."""
    array = np.asarray(value)
    if np.issubdtype(array.dtype, np.integer):
        return latent_points(array, latent_dim)
    array = array.astype(np.float32)
    if array.shape[-1] != latent_dim or array.ndim not in (1, 2):
        raise ValueError(
            f"a latent operand must be seeds or float points [{latent_dim}] / [k, {latent_dim}]; "
            f"got shape {array.shape}."
        )
    return array


# --------------------------------------------------------------------------- images


def _row_labels(gen, labels, rows):
    """One class id per row, cycling through `labels` (class 0 when none, for a conditional
    generator); `gen.generate` checks them."""
    if labels is None or not len(np.ravel(labels)):
        return np.zeros(rows, np.int32) if gen.conditional else None
    labels = np.ravel(np.asarray(labels))
    return labels[np.arange(rows) % len(labels)]


def interpolation_images(source, seeds=(0, 1), steps=8, method="linear", labels=None, model=None, version=None):
    """Samples along interpolations between the latent points of consecutive seed pairs.

    Seeds are taken in pairs: `[1, 2, 3, 4]` gives two rows, 1 -> 2 and 3 -> 4. The first
    and last image of a row are `sample(1, seed=...)` of its two seeds.

    Args:
        source: anything `keras_gans.generators.as_generator` takes.
        seeds: an even number of integer seeds; or a float array `[2 * rows, D]` of latent points.
        steps: images per row, end points included.
        method: "linear" or "slerp".
        labels: conditional generators: one class id per row (cycled), default class 0.
        model, version: with a serving `Client`.

    Returns:
        float32 images `[rows * steps, H, W, C]` in [-1, 1], row by row (a grid with
        `cols=steps` shows one interpolation per row).

    Example:
        images = interpolation_images(gan, seeds=[1, 2], steps=8, method="slerp")
    """
    gen = generators.as_generator(source, model, version)
    points = _operand(seeds, gen.latent_dim)
    if points.ndim != 2 or len(points) < 2 or len(points) % 2:
        raise ValueError(f"interpolation needs pairs of seeds (an even number >= 2); got {len(points)}.")
    path = interpolate(points[0::2], points[1::2], steps, method)  # [rows, steps, D]
    rows = path.shape[0]
    row_labels = _row_labels(gen, labels, rows)
    z = path.reshape(-1, gen.latent_dim)
    flat_labels = None if row_labels is None else np.repeat(row_labels, steps)
    return gen.generate(z, flat_labels)


def arithmetic_images(source, a, b, c, labels=None, variations=0, noise=0.25, seed=0, model=None, version=None):
    """Images of the operands and of the result of z_a - z_b + z_c (Radford et al., 2016).

    Each operand is a seed, a list of seeds (their latent points are averaged, as the paper
    averages three exemplars per concept) or float latent point(s).

    Args:
        source: anything `keras_gans.generators.as_generator` takes.
        a, b, c: the operands.
        labels: conditional generators: the class of every image (an int, or a list whose
            first id is used; default 0).
        variations: extra images of the result plus uniform noise in [-noise, noise] (the
            paper shows 8 such), drawn from `seed`.
        noise: the half-width of that noise (0.25 in the paper).
        seed: seed of the noise.
        model, version: with a serving `Client`.

    Returns:
        float32 images `[4 + variations, H, W, C]`: G(mean a), G(mean b), G(mean c),
        G(a - b + c), then the variations.

    Example:
        row = arithmetic_images(gan, [1, 5, 9], [2, 6, 10], [3, 7, 11], variations=4)
    """
    gen = generators.as_generator(source, model, version)
    za, zb, zc = (np.atleast_2d(_operand(v, gen.latent_dim)) for v in (a, b, c))
    result = arithmetic(za, zb, zc)
    z = [za.mean(axis=0), zb.mean(axis=0), zc.mean(axis=0), result]
    if variations:
        rng = np.random.default_rng(seed)
        z += list(result + rng.uniform(-noise, noise, (int(variations), gen.latent_dim)))
    z = np.stack(z).astype(np.float32)
    row_labels = _row_labels(gen, labels, 1)  # the first of the given labels, or class 0
    return gen.generate(z, None if row_labels is None else np.full(len(z), row_labels[0]))

