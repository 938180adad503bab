"""PacGAN's 2-D setup (Lin et al., 2018) as VanillaGAN options: a BatchNorm MLP generator
and a maxout discriminator; the networks, the family checks and the refusals."""

import numpy as np
import pytest
import keras

import keras_gans as kg
from keras_gans.models import networks
from tests import harness

PACGAN_TINY = dict(image_shape=(2,), latent_dim=2, g_hidden=(8, 8), d_hidden=(6,), g_batch_norm=True,
                   d_maxout=3, seed=3)


def test_maxout_is_the_largest_of_each_group_of_pieces():
    x = np.random.default_rng(0).standard_normal([4, 2, 15]).astype("float32")
    out = networks.Maxout(5)(x)
    assert out.shape == (4, 2, 3)
    np.testing.assert_array_equal(np.asarray(out), x.reshape(4, 2, 3, 5).max(axis=-1))


def test_the_networks_are_pacgans():
    gan = kg.models.VanillaGAN(image_shape=(2,), latent_dim=2, g_hidden=(400,) * 4, d_hidden=(200,) * 3,
                               g_batch_norm=True, d_maxout=5, pack=2, seed=0)
    g_layers = [type(layer).__name__ for layer in gan.generator.layers]
    assert g_layers.count("BatchNormalization") == 4 and g_layers.count("ReLU") == 4
    dense = [layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [1000, 1000, 1000, 1]
    assert dense[0].kernel.shape == (4, 1000)  # two packed 2-D points in
    assert [layer.pieces for layer in gan.discriminator.layers if isinstance(layer, networks.Maxout)] == [5] * 3
    assert not any(isinstance(layer, keras.layers.LeakyReLU) for layer in gan.discriminator.layers)
    assert gan._batch_independent_discriminator  # the BatchNorm is the generator's only


def test_family(tmp_path, mirrored):
    # BatchNorm in the generator: two replicas normalise over the global batch, as checked
    # for the DCGAN generators, not bit for bit with one device.
    gan = harness.run_family_checks(kg.models.VanillaGAN, PACGAN_TINY, tmp_path, mirrored, False)
    config = gan.get_config()
    assert (config["g_batch_norm"], config["d_maxout"]) == (True, 3)


@pytest.mark.parametrize("maxout", [0, -2])
def test_maxout_needs_a_piece(maxout):
    with pytest.raises(ValueError, match=f"maxout must be a number of pieces >= 1.*got {maxout}"):
        kg.models.VanillaGAN(image_shape=(2,), d_maxout=maxout)


def test_the_mlp_options_are_refused_for_dcgan_networks():
    with pytest.raises(ValueError, match="MLP networks; got g_batch_norm=True, d_maxout=1"):
        networks.build_pair((28, 28, 1), 4, g_batch_norm=True)
