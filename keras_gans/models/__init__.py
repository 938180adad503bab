"""The GAN families of the zoo, and a registry from family name to class.

Example:
    gan = kg.models.get("dcgan")(image_shape=(28, 28, 1))
"""

from keras_gans.models.base import GAN, FamilyGAN, precision_scope
from keras_gans.models.sampling import latent_from_seed, to_uint8
from keras_gans.models.conditional import ConditionalGAN
from keras_gans.models.cyclegan import CycleGAN, HistoryPool, LinearDecay
from keras_gans.models.dcgan import DCGAN
from keras_gans.models.pix2pix import Pix2Pix, TranslationGAN
from keras_gans.models.spectral import SpectralNormalization
from keras_gans.models.unrolled import UnrolledGAN
from keras_gans.models.vanilla import VanillaGAN
from keras_gans.models.wgan import WGAN, WGANGP, TorchRMSprop

FAMILIES = {
    cls.family: cls for cls in (VanillaGAN, DCGAN, ConditionalGAN, WGAN, WGANGP, UnrolledGAN, Pix2Pix, CycleGAN)
}


def get(name):
    """The GAN class of a family name; the error for an unknown name lists them."""
    if name not in FAMILIES:
        raise ValueError(f"Unknown GAN family {name!r}. Known families: {', '.join(sorted(FAMILIES))}.")
    return FAMILIES[name]


__all__ = [
    "GAN", "FamilyGAN", "VanillaGAN", "DCGAN", "ConditionalGAN", "WGAN", "WGANGP", "TorchRMSprop",
    "SpectralNormalization", "UnrolledGAN", "Pix2Pix", "CycleGAN", "TranslationGAN", "HistoryPool",
    "LinearDecay", "FAMILIES", "get", "latent_from_seed", "precision_scope", "to_uint8",
]
