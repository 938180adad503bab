"""GAN losses as pure functions of discriminator outputs.

Every discriminator loss takes `(real_output, fake_output)` and every generator loss
takes `fake_output`; outputs are logits (for the log-loss family) or raw critic scores.
Each returns the mean over the batch, a scalar to be minimised. Nothing here knows
about models or optimizers.

Notation follows Goodfellow et al. (2014): D(x) = sigmoid(l(x)) for a logit l, so
log D(x) = -softplus(-l(x)) and log(1 - D(x)) = -softplus(l(x)). Working on logits
keeps the losses finite where sigmoid outputs saturate to 0 or 1.

Example:
    d_loss_fn, g_loss_fn = get("non_saturating")
    d_loss = d_loss_fn(real_logits, fake_logits)
    g_loss = g_loss_fn(fake_logits)
"""

import collections

import keras
import tensorflow as tf


def _mean(x):
    return tf.reduce_mean(tf.cast(x, tf.float32))


@keras.saving.register_keras_serializable(package="keras_gans")
def minimax_discriminator_loss(real_logits, fake_logits):
    """The discriminator side of the minimax game (Goodfellow et al., 2014, Eq. 1).

    D maximises E[log D(x)] + E[log(1 - D(G(z)))]; as a loss to minimise:
    `mean(softplus(-real_logits)) + mean(softplus(fake_logits))`.
    """
    return _mean(tf.nn.softplus(-tf.cast(real_logits, tf.float32))) + _mean(
        tf.nn.softplus(tf.cast(fake_logits, tf.float32))
    )


@keras.saving.register_keras_serializable(package="keras_gans")
def minimax_generator_loss(fake_logits):
    """The generator side of the minimax game (Goodfellow et al., 2014, Eq. 1).

    G minimises E[log(1 - D(G(z)))] = `-mean(softplus(fake_logits))`. Its gradient
    vanishes when D confidently rejects the samples, early in training; see
    `non_saturating_generator_loss`.
    """
    return -_mean(tf.nn.softplus(tf.cast(fake_logits, tf.float32)))


# The non-saturating game changes only the generator's objective.
non_saturating_discriminator_loss = minimax_discriminator_loss


@keras.saving.register_keras_serializable(package="keras_gans")
def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss (Goodfellow et al., 2014, Sec. 3).

    G maximises E[log D(G(z))] instead of minimising E[log(1 - D(G(z)))]: same fixed
    point, strong gradients early on. As a loss: `mean(softplus(-fake_logits))`.
    """
    return _mean(tf.nn.softplus(-tf.cast(fake_logits, tf.float32)))


@keras.saving.register_keras_serializable(package="keras_gans")
def wasserstein_discriminator_loss(real_scores, fake_scores):
    """The WGAN critic loss (Arjovsky et al., 2017, Algorithm 1).

    The critic maximises E[f(x)] - E[f(G(z))], an estimate of the Wasserstein-1
    distance when f is 1-Lipschitz; as a loss: `mean(fake) - mean(real)`.
    """
    return _mean(fake_scores) - _mean(real_scores)


@keras.saving.register_keras_serializable(package="keras_gans")
def wasserstein_generator_loss(fake_scores):
    """The WGAN generator loss (Arjovsky et al., 2017): `-mean(f(G(z)))`."""
    return -_mean(fake_scores)


@keras.saving.register_keras_serializable(package="keras_gans")
def hinge_discriminator_loss(real_scores, fake_scores):
    """The hinge discriminator loss (Lim & Ye, 2017; Miyato et al., 2018).

    `mean(relu(1 - real)) + mean(relu(1 + fake))`.
    """
    return _mean(tf.nn.relu(1.0 - tf.cast(real_scores, tf.float32))) + _mean(
        tf.nn.relu(1.0 + tf.cast(fake_scores, tf.float32))
    )


# The hinge game's generator loss is the Wasserstein one.
hinge_generator_loss = wasserstein_generator_loss


@keras.saving.register_keras_serializable(package="keras_gans")
def least_squares_discriminator_loss(real_outputs, fake_outputs):
    """The least-squares discriminator loss (Mao et al., 2017, Eq. 9, a=0, b=1).

    `0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2)`.
    """
    real = tf.cast(real_outputs, tf.float32)
    fake = tf.cast(fake_outputs, tf.float32)
    return 0.5 * _mean(tf.square(real - 1.0)) + 0.5 * _mean(tf.square(fake))


@keras.saving.register_keras_serializable(package="keras_gans")
def least_squares_generator_loss(fake_outputs):
    """The least-squares generator loss (Mao et al., 2017, Eq. 9, c=1).

    `0.5 * mean((fake - 1)^2)`.
    """
    return 0.5 * _mean(tf.square(tf.cast(fake_outputs, tf.float32) - 1.0))


def gradient_penalty(critic, real, fake, alpha=None, seed=None, epsilon=1e-10):
    """The WGAN-GP gradient penalty (Gulrajani et al., 2017, Algorithm 1).

    `mean((||grad_x critic(x_hat)||_2 - 1)^2)` with `x_hat = real + alpha * (fake - real)`
    and alpha ~ U(0, 1) drawn once per example. The norm is
    `sqrt(sum(grad^2) + epsilon)`: sqrt has no gradient at 0, so without epsilon a
    zero gradient would make the penalty's own gradient NaN.

    Args:
        critic: callable from a batch like `real` to scores `[batch, 1]` or `[batch]`.
        real: real examples, `[batch, ...]`.
        fake: generated examples, same shape as `real`.
        alpha: optional interpolation weights `[batch]` in [0, 1]; drawn when None.
        seed: optional stateless seed (shape `[2]` integers) for alpha.
        epsilon: added under the square root.

    Returns:
        A float32 scalar.

    Example:
        gp = gradient_penalty(critic, real_images, fake_images)
        d_loss = wasserstein_discriminator_loss(r, f) + 10.0 * gp
    """
    real = tf.convert_to_tensor(real)
    fake = tf.cast(tf.convert_to_tensor(fake), real.dtype)
    batch = tf.shape(real)[0]
    if alpha is None:
        if seed is None:
            alpha = tf.random.uniform([batch])
        else:
            alpha = tf.random.stateless_uniform([batch], seed=seed, alg="philox")
    alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1] + [1] * (real.shape.rank - 1))
    interpolated = real + alpha * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated)
    grads = tf.cast(tape.gradient(scores, interpolated), tf.float32)
    axes = list(range(1, real.shape.rank))
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=axes) + epsilon)
    return tf.reduce_mean(tf.square(norm - 1.0))


LossPair = collections.namedtuple("LossPair", ["discriminator", "generator", "probabilities"])
LossPair.__doc__ = """A named GAN game: its discriminator loss, generator loss, and whether
the discriminator's outputs are logits of probabilities (reported as sigmoid(output))."""

_LOSSES = {
    "minimax": LossPair(minimax_discriminator_loss, minimax_generator_loss, True),
    "non_saturating": LossPair(
        non_saturating_discriminator_loss, non_saturating_generator_loss, True
    ),
    "wasserstein": LossPair(
        wasserstein_discriminator_loss, wasserstein_generator_loss, False
    ),
    "hinge": LossPair(hinge_discriminator_loss, hinge_generator_loss, False),
    "least_squares": LossPair(
        least_squares_discriminator_loss, least_squares_generator_loss, False
    ),
}


def serialize(loss):
    """A JSON-able form of a `LossPair` that `deserialize` turns back into it.

    A registered game is saved by its name; any other pair as its two functions (each
    must be registered with `keras.saving.register_keras_serializable`) and its
    `probabilities` flag, so `d_real`/`d_fake` report the same thing after loading.
    """
    loss = get(loss)
    for name, pair in _LOSSES.items():
        if tuple(pair) == tuple(loss):
            return name
    return {
        "discriminator": keras.saving.serialize_keras_object(loss.discriminator),
        "generator": keras.saving.serialize_keras_object(loss.generator),
        "probabilities": bool(loss.probabilities),
    }


def deserialize(config):
    """The `LossPair` of a `serialize` result (or of a name)."""
    if isinstance(config, str):
        return get(config)
    if isinstance(config, dict):
        return LossPair(
            keras.saving.deserialize_keras_object(config["discriminator"]),
            keras.saving.deserialize_keras_object(config["generator"]),
            bool(config["probabilities"]),
        )
    # Models saved before the flag was kept: a [discriminator, generator] list.
    return get(tuple(keras.saving.deserialize_keras_object(fn) for fn in config))


def names():
    """The names `get` knows, sorted."""
    return sorted(_LOSSES)


def get(loss):
    """The `LossPair` for a loss name, or for a `(discriminator_loss, generator_loss)` pair.

    Args:
        loss: one of `names()`, a `LossPair`, or a pair of callables
            `(discriminator_loss(real_output, fake_output), generator_loss(fake_output))`.

    Example:
        get("wasserstein").discriminator(real_scores, fake_scores)
    """
    if isinstance(loss, LossPair):
        return loss
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(
                f"Unknown GAN loss {loss!r}. Known losses: {', '.join(names())}; "
                "or pass a (discriminator_loss, generator_loss) pair of callables."
            )
        return _LOSSES[loss]
    if (
        isinstance(loss, (tuple, list))
        and len(loss) == 2
        and all(callable(fn) for fn in loss)
    ):
        return LossPair(loss[0], loss[1], False)
    raise ValueError(
        f"loss must be a name ({', '.join(names())}) or a pair of callables "
        f"(discriminator_loss, generator_loss); got {loss!r}."
    )
