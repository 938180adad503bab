"""Drawing the samples an evaluation scores, from anything that generates, in seeded chunks."""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_gans import checks, generators

__all__ = ["SEED_STRIDE", "generate_samples"]

# Chunk i of an evaluation draws with seed `seed * SEED_STRIDE + i`: evaluations with
# different seeds never share a chunk (below SEED_STRIDE chunks).
SEED_STRIDE = 1_000_003


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
