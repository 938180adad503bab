"""Wasserstein GANs: weight clipping (Arjovsky et al., 2017) and gradient penalty
(Gulrajani et al., 2017)."""

import keras
from keras import ops

from keras_gans.models import base


@keras.saving.register_keras_serializable(package="keras_gans")
class TorchRMSprop(keras.optimizers.RMSprop):
    """RMSprop with PyTorch's update rule, as the WGAN authors trained with it.

    Their code (github.com/martinarjovsky/WassersteinGAN, main.py) calls PyTorch's
    `optim.RMSprop(params, lr=5e-5)`: v <- 0.99 v + 0.01 g^2, w <- w - lr g / (sqrt(v) + 1e-8).
    Keras' RMSprop defaults to rho = 0.9 and divides by sqrt(v + 1e-7), which caps a
    step at lr g / 3.2e-4 for small v; a clipped critic's gradients are small, so the
    cap would bind where the paper's optimizer does not.

    Args:
        learning_rate: 5e-5 in the paper.
        rho: decay of the squared-gradient average (PyTorch's alpha).
        epsilon: added to sqrt(v).
        **kwargs: other `keras.optimizers.Optimizer` arguments; no momentum, not centered.
    """

    def __init__(self, learning_rate=5e-5, rho=0.99, epsilon=1e-8, momentum=0.0, centered=False, **kwargs):
        if momentum or centered:
            raise ValueError(
                f"TorchRMSprop is the plain update; got momentum={momentum!r}, "
                f"centered={centered!r}. Use keras.optimizers.RMSprop for those."
            )
        super().__init__(learning_rate=learning_rate, rho=rho, epsilon=epsilon, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self._velocities[self._get_variable_index(variable)]
        self.assign(velocity, self.rho * velocity + (1 - self.rho) * ops.square(gradient))
        self.assign_sub(variable, lr * gradient / (ops.sqrt(velocity) + self.epsilon))


class _WassersteinFamily(base.FamilyGAN):
    default_loss = "wasserstein"
    default_d_steps = 5
    default_norm = "batch"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=100,
        g_width=64,
        d_width=64,
        g_hidden=(256, 256),
        d_hidden=(256, 256),
        norm=None,
        spectral_norm=False,
        pack=1,
        seed=None,
        **kwargs,
    ):
        norm = self.default_norm if norm is None else norm
        self._build_family(locals())

    @property
    def critic(self):
        """The discriminator, by its WGAN name: it outputs a score, not a probability."""
        return self.discriminator


@keras.saving.register_keras_serializable(package="keras_gans")
class WGAN(_WassersteinFamily):
    """Wasserstein GAN with weight clipping (Arjovsky et al., 2017, Algorithm 1).

    The critic f has no sigmoid; it maximises E[f(x)] - E[f(G(z))] over n_critic = 5
    updates per generator update, each followed by clipping every critic weight to
    [-c, c], c = 0.01; RMSProp(5e-5) for both networks as the authors' code runs it
    (`TorchRMSprop`); the paper's m is 64.
    DCGAN networks for images (BatchNorm critic, as in the paper), MLPs for vectors.

    Args:
        image_shape: (H, W, C) images or (d,) vectors.
        latent_dim: size of z.
        g_width, d_width: DCGAN widths; g_hidden, d_hidden: MLP widths.
        norm: critic normalisation ("batch" by default, "layer" or "none").
        spectral_norm: spectral normalisation on the critic.
        pack: PacGAN packing.
        seed: seed of the initial weights and of the training noise.

    Example:
        gan = WGAN(image_shape=(28, 28, 1))
        gan.compile()   # TorchRMSprop(5e-5), n_critic = 5, c = 0.01
        gan.fit(kg.data.load("mnist", batch_size=5 * 64), epochs=20)
    """

    family = "wgan"
    default_clip_value = 0.01

    def default_optimizers(self):
        """RMSprop(5e-5) as the authors' code runs it: `TorchRMSprop`, not Keras' defaults."""
        return TorchRMSprop(5e-5), TorchRMSprop(5e-5)


@keras.saving.register_keras_serializable(package="keras_gans")
class WGANGP(_WassersteinFamily):
    """WGAN with gradient penalty (Gulrajani et al., 2017, Algorithm 1).

    Critic loss E[f(G(z))] - E[f(x)] + lambda E[(||grad f(x_hat)||_2 - 1)^2] with
    x_hat = x + alpha (G(z) - x), alpha ~ U(0, 1) per example, lambda = 10;
    n_critic = 5; Adam(1e-4, beta_1=0.5, beta_2=0.9). The penalty is per example, so
    the critic uses LayerNorm, not BatchNorm.

    Args:
        image_shape: (H, W, C) images or (d,) vectors.
        latent_dim: size of z.
        g_width, d_width: DCGAN widths; g_hidden, d_hidden: MLP widths.
        norm: critic normalisation ("layer" by default: each example over (H, W, C), as
            in the authors' code; or "none").
        spectral_norm: spectral normalisation on the critic.
        pack: PacGAN packing.
        seed: seed of the initial weights and of the training noise.

    Example:
        gan = WGANGP(image_shape=(2,), latent_dim=2)
        gan.compile()   # Adam(1e-4, 0.5, 0.9), n_critic = 5, lambda = 10
        gan.fit(kg.data.load("ring8", batch_size=5 * 256), steps_per_epoch=100, epochs=5)
    """

    family = "wgan_gp"
    default_gp_weight = 10.0
    default_norm = "layer"

    def default_optimizers(self):
        return (
            keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
            keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        )
