"""Every family through the shared harness, plus what is particular to each."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import keras_gans as kg
from tests import harness

TINY_IMAGE = dict(image_shape=(28, 28, 1), latent_dim=4, g_width=4, d_width=4, seed=3)
FAMILIES = [
    # (class, tiny constructor arguments, no batch statistics: compare with one device)
    (kg.models.VanillaGAN, dict(image_shape=(28, 28, 1), latent_dim=4, g_hidden=(8,), d_hidden=(8,), seed=3), True),
    (kg.models.DCGAN, TINY_IMAGE, False),
    (kg.models.DCGAN, dict(TINY_IMAGE, norm="none", spectral_norm=True), False),
    (kg.models.ConditionalGAN, dict(TINY_IMAGE, num_classes=3), False),
    (kg.models.WGAN, TINY_IMAGE, False),
    (kg.models.WGANGP, TINY_IMAGE, False),  # BatchNorm in the generator
    (kg.models.WGANGP, dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3), True),
    (kg.models.VanillaGAN, dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), pack=2, seed=3), True),
    (kg.models.ConditionalGAN, dict(image_shape=(2,), num_classes=3, latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3), True),
]


@pytest.mark.parametrize(
    "cls, init_kwargs, compare",
    FAMILIES,
    ids=[f"{c.family}-{i}" for i, (c, _, _) in enumerate(FAMILIES)],
)
def test_family(cls, init_kwargs, compare, tmp_path, mirrored):
    harness.run_family_checks(cls, init_kwargs, tmp_path, mirrored, compare)


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3)])
def test_dcgan_image_sizes(size, channels):
    gan = kg.models.DCGAN(image_shape=(size, size, channels), latent_dim=4, g_width=4, d_width=4)
    images = gan.sample(2, seed=0)
    assert images.shape == (2, size, size, channels)
    assert images.min() >= -1 and images.max() <= 1
    assert gan.discriminate(tf.constant(images)).shape == (2, 1)


def test_unsupported_image_size_is_clear():
    with pytest.raises(ValueError, match="square"):
        kg.models.DCGAN(image_shape=(28, 32, 1))
    with pytest.raises(ValueError, match="got 36"):
        kg.models.DCGAN(image_shape=(36, 36, 1))


def test_family_defaults_follow_the_papers():
    wgan = kg.models.WGAN(**TINY_IMAGE)
    wgan.compile()
    assert (wgan.d_steps, wgan.clip_value, wgan.gp_weight) == (5, 0.01, 0.0)
    assert isinstance(wgan.d_optimizer, keras.optimizers.RMSprop)
    assert float(wgan.d_optimizer.learning_rate) == pytest.approx(5e-5)
    gp = kg.models.WGANGP(**TINY_IMAGE)
    gp.compile()
    assert (gp.d_steps, gp.clip_value, gp.gp_weight) == (5, None, 10.0)
    assert isinstance(gp.d_optimizer, keras.optimizers.Adam)
    assert (float(gp.d_optimizer.learning_rate), gp.d_optimizer.beta_1, gp.d_optimizer.beta_2) == pytest.approx((1e-4, 0.5, 0.9))
    dcgan = kg.models.DCGAN(**TINY_IMAGE)
    dcgan.compile()
    assert tuple(dcgan.gan_loss) == tuple(kg.losses.get("non_saturating")) and dcgan.d_steps == 1
    # The WGAN critic outputs an unbounded score: no sigmoid on it.
    assert wgan.critic.layers[-1].activation is keras.activations.linear


def test_wgan_clips_every_critic_weight():
    gan = kg.models.WGAN(**TINY_IMAGE)
    gan.compile(d_optimizer=keras.optimizers.SGD(10.0), g_optimizer=keras.optimizers.SGD(1e-3))
    gan.fit(harness.dataset(gan), steps_per_epoch=1, epochs=1, verbose=0)
    for var in gan.discriminator.trainable_variables:
        assert np.abs(var.numpy()).max() <= 0.01 + 1e-7, var.path
    # With a large step, clipping is active: some weights sit on the boundary.
    assert any(np.isclose(np.abs(v.numpy()), 0.01).any() for v in gan.discriminator.trainable_variables)


def test_conditional_sample_gives_the_asked_classes():
    gan = kg.models.ConditionalGAN(**dict(TINY_IMAGE, num_classes=3))
    z = kg.models.latent_from_seed(3, 4, 5)
    by_label = [gan.generate(z, np.full(3, c)).numpy() for c in range(3)]
    assert not np.allclose(by_label[0], by_label[1])
    np.testing.assert_array_equal(gan.sample(3, seed=5, labels=[1, 1, 1]), by_label[1])
    np.testing.assert_array_equal(gan.sample(3, seed=5, labels=[0, 1, 2]), gan.generate(z, [0, 1, 2]).numpy())


def test_sample_is_deterministic_by_seed():
    gan = kg.models.DCGAN(**TINY_IMAGE)
    np.testing.assert_array_equal(gan.sample(4, seed=9), gan.sample(4, seed=9))
    assert not np.array_equal(gan.sample(4, seed=9), gan.sample(4, seed=10))
    z = kg.models.latent_from_seed(4, 4, 9)
    np.testing.assert_array_equal(gan.sample(4, seed=9), gan(z).numpy())


def test_packing_judges_m_samples_at_once():
    gan = kg.models.DCGAN(**dict(TINY_IMAGE, pack=4))
    assert gan.discriminator.inputs[0].shape[1:] == (28, 28, 4)
    x = tf.random.normal([8, 28, 28, 1])
    packed = gan._pack(x)
    assert packed.shape == (2, 28, 28, 4)
    # Sample i of a pack is channel i: concatenated along the channel axis.
    np.testing.assert_array_equal(packed[1, ..., 2], x[6, ..., 0])
    assert gan.discriminate(x).shape == (2, 1)
    vec = kg.models.VanillaGAN(image_shape=(2,), latent_dim=2, pack=2, g_hidden=(4,), d_hidden=(4,))
    np.testing.assert_array_equal(vec._pack(tf.reshape(tf.range(8.0), [4, 2])), [[0, 1, 2, 3], [4, 5, 6, 7]])


# ----- bad input: clear ValueErrors before any training step ------------------------


def test_fit_before_compile():
    gan = kg.models.DCGAN(**TINY_IMAGE)
    with pytest.raises(ValueError, match="compile"):
        gan.fit(harness.dataset(gan), epochs=1, verbose=0)


def test_compile_needs_both_optimizers():
    gan = kg.models.DCGAN(**TINY_IMAGE)
    with pytest.raises(ValueError, match="g_optimizer is missing"):
        gan.compile(d_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="d_optimizer is missing"):
        gan.compile(g_optimizer=keras.optimizers.Adam())


def test_unknown_loss_lists_the_known_ones():
    gan = kg.models.DCGAN(**TINY_IMAGE)
    with pytest.raises(ValueError, match="Unknown GAN loss 'wasserstien'.*hinge, least_squares, minimax, non_saturating, wasserstein"):
        gan.compile(loss="wasserstien")


@pytest.mark.parametrize("d_steps", [0, -1, 1.5])
def test_bad_d_steps(d_steps):
    gan = kg.models.DCGAN(**TINY_IMAGE)
    with pytest.raises(ValueError, match=f"d_steps must be an integer >= 1; got {d_steps}"):
        gan.compile(d_steps=d_steps)


def _fails_without_changing_weights(gan, fn, error, match):
    before = harness.weights(gan)
    with pytest.raises(error, match=match):
        fn()
    harness.assert_all_close(harness.weights(gan), before)


def test_wrong_image_shape_fails_before_training():
    gan = kg.models.DCGAN(**TINY_IMAGE)
    gan.compile()
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 32, 32, 1), "float32")).batch(4)
    _fails_without_changing_weights(
        gan, lambda: gan.fit(data, epochs=1, verbose=0), ValueError, r"shape \(32, 32, 1\).*\(28, 28, 1\)"
    )


def test_conditional_without_labels_fails_before_training():
    gan = kg.models.ConditionalGAN(**dict(TINY_IMAGE, num_classes=3))
    gan.compile()
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 28, 28, 1), "float32")).batch(4)
    _fails_without_changing_weights(
        gan, lambda: gan.fit(data, epochs=1, verbose=0), ValueError, "conditional.*without labels"
    )


def test_labels_out_of_range_fail_before_any_update():
    gan = kg.models.ConditionalGAN(**dict(TINY_IMAGE, num_classes=3))
    gan.compile()
    x = np.zeros((4, 28, 28, 1), "float32")
    # NumPy labels are checked before fit starts ...
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\); got \[3\]"):
        gan.fit(x, np.array([0, 1, 2, 3]), batch_size=4, epochs=1, verbose=0)
    # ... and a dataset's batch by assertions the whole step waits on.
    data = tf.data.Dataset.from_tensor_slices((x, np.array([0, 1, 2, 3], "int32"))).batch(4)
    _fails_without_changing_weights(
        gan, lambda: gan.fit(data, epochs=1, verbose=0), tf.errors.InvalidArgumentError,
        r"labels must be < num_classes = 3",
    )
    assert int(gan.d_optimizer.iterations.numpy()) == 0
    assert int(gan.g_optimizer.iterations.numpy()) == 0
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\); got \[5\]"):
        gan.sample(2, seed=0, labels=[0, 5])


def test_unconditional_sample_rejects_labels():
    with pytest.raises(ValueError, match="unconditional"):
        kg.models.DCGAN(**TINY_IMAGE).sample(2, labels=[0, 1])


def test_registry():
    assert kg.models.get("wgan_gp") is kg.models.WGANGP
    with pytest.raises(ValueError, match="Known families: cgan, dcgan, vanilla_gan, wgan, wgan_gp"):
        kg.models.get("biggan")
