"""VanillaGAN: the MLP GAN of Goodfellow et al. (2014)."""

import keras

from keras_gans.models import base


@keras.saving.register_keras_serializable(package="keras_gans")
class VanillaGAN(base.FamilyGAN):
    """The original GAN (Goodfellow et al., 2014): MLP generator and discriminator.

    Trained with the non-saturating generator loss by default (`loss="minimax"` gives the
    paper's Eq. 1 as written) and k = `d_steps` discriminator updates per generator update.
    Works on images (flattened by the discriminator) and on vectors such as the 2-D toy
    mixtures.

    Args:
        image_shape: shape of one sample, e.g. (28, 28, 1) or (2,).
        latent_dim: size of z.
        g_hidden: widths of the generator's hidden layers (ReLU).
        d_hidden: widths of the discriminator's hidden layers (LeakyReLU 0.2).
        dropout: dropout rate in the discriminator (the paper used dropout).
        output_activation: "tanh" (images) or "linear" (vectors); chosen by rank when None.
        spectral_norm: spectral normalisation on the discriminator (Miyato et al., 2018).
        pack: PacGAN packing.
        g_batch_norm: BatchNorm before each hidden ReLU of the generator.
        d_maxout: pieces of maxout hidden layers in the discriminator (1: Dense +
            LeakyReLU). `g_batch_norm=True, d_maxout=5` with g_hidden=(400,) * 4,
            d_hidden=(200,) * 3 and latent_dim=2 is PacGAN's 2-D setup.
        seed: seed of the initial weights and of the training noise.

    Example:
        gan = VanillaGAN(image_shape=(2,), latent_dim=2)
        gan.compile(loss="minimax", d_steps=1)
        gan.fit(points_dataset, epochs=10)
    """

    family = "vanilla_gan"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=100,
        g_hidden=(256, 512),
        d_hidden=(512, 256),
        dropout=0.0,
        output_activation=None,
        spectral_norm=False,
        pack=1,
        g_batch_norm=False,
        d_maxout=1,
        seed=None,
        **kwargs,
    ):
        self._build_family(locals(), architecture="mlp")
