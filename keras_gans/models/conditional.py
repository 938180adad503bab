"""ConditionalGAN: class-conditional GAN of Mirza & Osindero (2014)."""

import keras

from keras_gans.models import base


@keras.saving.register_keras_serializable(package="keras_gans")
class ConditionalGAN(base.FamilyGAN):
    """Conditional GAN (Mirza & Osindero, 2014), with DCGAN networks for images.

    The class label y is fed to both networks: the generator sees [z, embed(y)], the
    discriminator sees the image with one learned H x W label map stacked on its
    channels (for vectors: the sample concatenated with embed(y)) and, with
    `label_projection`, also scores the label against its last features (the projection
    discriminator of Miyato & Koyama, 2018). Train on
    `(images, labels)` pairs; `sample(n, labels=[...])` gives the asked classes.

    Args:
        image_shape: (H, W, C) images (DCGAN networks) or (d,) vectors (MLPs).
        num_classes: number of classes.
        latent_dim: size of z.
        g_width, d_width: DCGAN widths (images).
        g_hidden, d_hidden: MLP widths (vectors).
        embed_dim: size of the generator's label embedding.
        norm: discriminator normalisation: "batch", "layer" or "none".
        spectral_norm: spectral normalisation on the discriminator.
        label_projection: add the projection term <E[y], h> to the discriminator's score
            (h: its last features): the label reaches the score directly, not only
            through the input.
        pack: PacGAN packing.
        seed: seed of the initial weights and of the training noise.

    Example:
        gan = ConditionalGAN(image_shape=(28, 28, 1), num_classes=10)
        gan.compile()
        gan.fit(kg.data.load("mnist", batch_size=128, labels=True), epochs=20)
        sevens = gan.sample(8, seed=1, labels=[7] * 8)
    """

    family = "cgan"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=10,
        latent_dim=100,
        g_width=64,
        d_width=64,
        g_hidden=(256, 256),
        d_hidden=(256, 256),
        embed_dim=50,
        norm="batch",
        spectral_norm=False,
        label_projection=False,
        pack=1,
        seed=None,
        **kwargs,
    ):
        self._build_family(locals())
