"""DCGAN: deep convolutional GAN of Radford et al. (2016)."""

import keras

from keras_gans.models import base


@keras.saving.register_keras_serializable(package="keras_gans")
class DCGAN(base.FamilyGAN):
    """Deep convolutional GAN (Radford et al., 2016).

    Strided transposed convolutions in the generator, strided convolutions in the
    discriminator, no pooling, BatchNorm in both (not on the discriminator's input layer
    nor the generator's output), ReLU/LeakyReLU(0.2), tanh output, N(0, 0.02) weights,
    Adam(2e-4, beta_1=0.5).

    Args:
        image_shape: (H, W, C), square, e.g. (28, 28, 1), (32, 32, 3) or (64, 64, 3).
        latent_dim: size of z (100 in the paper).
        g_width: channels of the generator's last hidden layer (doubling towards z).
        d_width: channels of the discriminator's first layer (doubling with depth).
        norm: discriminator normalisation: "batch", "layer" or "none".
        spectral_norm: spectral normalisation on the discriminator instead of `norm`.
        pack: PacGAN packing.
        seed: seed of the initial weights and of the training noise.

    Example:
        gan = DCGAN(image_shape=(28, 28, 1), latent_dim=100)
        gan.compile()   # Adam(2e-4, 0.5) for both, non-saturating loss
        gan.fit(kg.data.load("mnist", batch_size=128), epochs=20)
    """

    family = "dcgan"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=100,
        g_width=64,
        d_width=64,
        norm="batch",
        spectral_norm=False,
        pack=1,
        seed=None,
        **kwargs,
    ):
        self._build_family(locals(), architecture="dcgan")
