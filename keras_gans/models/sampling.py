"""How the zoo draws and quantises samples: z from a stateless seed, images to uint8.

One home for both, shared by `GAN.sample`, the exported `sample` signatures and
`kg.pretrained`'s SavedModel wrapper, so a seed gives the same images everywhere.
"""

import tensorflow as tf


def latent_from_seed(num_samples, latent_dim, seed):
    """z ~ N(0, I), `[num_samples, latent_dim]` float32, from a stateless integer seed.

    The same seed gives the same z in any process and on any server: `GAN.sample` and
    the exported `sample` signature both draw z here.
    """
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.random.stateless_normal([num_samples, latent_dim], seed=seed, alg="philox")


def to_uint8(images):
    """Images in [-1, 1] -> uint8 in [0, 255], rounding to nearest."""
    scaled = tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 127.5, 0.0, 255.0)
    return tf.cast(tf.round(scaled), tf.uint8)
