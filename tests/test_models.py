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
    # The projection discriminator (Miyato & Koyama 2018): on images, and packed and
    # spectrally normalised on vectors.
    (kg.models.ConditionalGAN, dict(TINY_IMAGE, num_classes=3, label_projection=True), False),
    (kg.models.ConditionalGAN, dict(image_shape=(2,), num_classes=3, latent_dim=2, g_hidden=(8,), d_hidden=(8,),
                                    label_projection=True, spectral_norm=True, pack=2, seed=3), True),
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
    assert int(gan.d_optimizer.iterations.numpy()) == 0
    assert int(gan.g_optimizer.iterations.numpy()) == 0


# Keras compiles the step with XLA on a GPU (jit_compile="auto"), where tf.debugging
# assertions inside it are dropped: every bad-input check runs both ways.
JIT = pytest.mark.parametrize("jit", [False, True], ids=["eager_graph", "xla"])


@JIT
def test_wrong_image_shape_fails_before_training(jit):
    gan = kg.models.DCGAN(**TINY_IMAGE)
    gan.compile(jit_compile=jit)
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 32, 32, 1), "float32")).batch(4)
    _fails_without_changing_weights(
        gan, lambda: gan.fit(data, epochs=1, verbose=0), ValueError, r"shape \(32, 32, 1\).*\(28, 28, 1\)"
    )


@JIT
def test_conditional_without_labels_fails_before_training(jit):
    gan = kg.models.ConditionalGAN(**dict(TINY_IMAGE, num_classes=3))
    gan.compile(jit_compile=jit)
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 28, 28, 1), "float32")).batch(4)
    _fails_without_changing_weights(
        gan, lambda: gan.fit(data, epochs=1, verbose=0), ValueError, "conditional.*without labels"
    )


@JIT
def test_labels_out_of_range_fail_before_any_update(jit):
    gan = kg.models.ConditionalGAN(**dict(TINY_IMAGE, num_classes=3))
    gan.compile(jit_compile=jit)
    x = np.zeros((8, 28, 28, 1), "float32")
    # NumPy labels are checked before fit starts ...
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\); got \[7\]"):
        gan.fit(x, np.array([0, 1, 2, 7, 0, 1, 2, 0]), batch_size=4, epochs=1, verbose=0)
    # ... and a dataset's batches as they are read, before the step that would use them
    # (a good first batch is trained on; the bad second one stops fit).
    labels = np.array([0, 1, 2, 0, 0, 1, 2, 7], "int32")
    data = tf.data.Dataset.from_tensor_slices((x, labels)).batch(4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be < num_classes = 3"):
        gan.fit(data, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    bad_first = tf.data.Dataset.from_tensor_slices((x, labels[::-1].copy())).batch(4)
    fresh = kg.models.ConditionalGAN(**dict(TINY_IMAGE, num_classes=3))
    fresh.compile(jit_compile=jit)
    _fails_without_changing_weights(
        fresh, lambda: fresh.fit(bad_first, epochs=1, verbose=0), tf.errors.InvalidArgumentError,
        r"labels must be < num_classes = 3",
    )
    negative = tf.data.Dataset.from_tensor_slices((x[:4], np.array([0, -1, 1, 2], "int32"))).batch(4)
    _fails_without_changing_weights(
        fresh, lambda: fresh.fit(negative, epochs=1, verbose=0), tf.errors.InvalidArgumentError,
        r"labels must be >= 0",
    )
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\); got \[5\]"):
        gan.sample(2, seed=0, labels=[0, 5])


@JIT
def test_a_batch_that_does_not_split_into_d_steps_and_packs_fails_before_any_update(jit):
    gan = kg.models.DCGAN(**dict(TINY_IMAGE, pack=2))
    gan.compile(d_steps=2, jit_compile=jit)
    x = np.zeros((10, 28, 28, 1), "float32")
    message = r"multiple of d_steps \* pack = 2 \* 2 = 4"
    # The batch size is unknown when the step is traced (no drop_remainder).
    ragged = tf.data.Dataset.from_tensor_slices(x[:6]).batch(8)  # one batch of 6
    _fails_without_changing_weights(
        gan, lambda: gan.fit(ragged, epochs=1, verbose=0), tf.errors.InvalidArgumentError,
        message + r"\..*got a batch of.*6",
    )
    _fails_without_changing_weights(
        gan, lambda: gan.fit(x, batch_size=8, epochs=1, verbose=0), ValueError,
        message + r"; 10 examples in batches of 8 give batch\(es\) of \[2\]",
    )
    # Known from the dataset: refused when fit starts.
    _fails_without_changing_weights(
        gan, lambda: gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(5, drop_remainder=True), epochs=1, verbose=0),
        ValueError, message + "; got a batch of 5",
    )
    gan.fit(tf.data.Dataset.from_tensor_slices(x[:8]).batch(8), epochs=1, verbose=0)  # a good one trains
    assert int(gan.g_optimizer.iterations.numpy()) == 1


def test_unconditional_sample_rejects_labels():
    with pytest.raises(ValueError, match="unconditional"):
        kg.models.DCGAN(**TINY_IMAGE).sample(2, labels=[0, 1])


def test_registry():
    assert kg.models.get("wgan_gp") is kg.models.WGANGP
    assert {"cgan", "dcgan", "vanilla_gan", "wgan", "wgan_gp"} <= set(kg.models.FAMILIES)
    with pytest.raises(ValueError, match="Known families: " + ", ".join(sorted(kg.models.FAMILIES)) + r"\."):
        kg.models.get("biggan")


# ----- the training noise, evaluation, saving -----------------------------------------


def _frozen(gan, **compile_kwargs):
    """Compiled with learning rate 0: a batch's losses then change only with the noise."""
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), **compile_kwargs)
    return gan


def test_each_step_draws_fresh_noise_across_recompiles_and_saves(tmp_path):
    gan = _frozen(kg.models.VanillaGAN(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3))
    data = harness.dataset(gan, n=harness.batch_size(gan))
    first = gan.fit(data, epochs=1, verbose=0).history["d_loss"]
    _frozen(gan)  # fresh optimizers: their iterations restart at 0, the GAN's clock does not
    second = gan.fit(data, epochs=1, verbose=0).history["d_loss"]
    assert first != second
    assert int(gan.train_steps.numpy()) == 2 and int(gan.g_optimizer.iterations.numpy()) == 1
    gan.save(tmp_path / "gan.keras")
    loaded = keras.models.load_model(tmp_path / "gan.keras")
    assert int(loaded.train_steps.numpy()) == 2
    _frozen(gan)
    _frozen(loaded)
    third = gan.fit(data, epochs=1, verbose=0).history["d_loss"]
    assert third == loaded.fit(data, epochs=1, verbose=0).history["d_loss"]  # the same step 3
    assert third not in (first, second)


@JIT
def test_evaluate_reports_the_training_objective_the_same_way_twice(jit):
    gan = kg.models.WGANGP(**dict(TINY_IMAGE, pack=2))
    gan.compile(jit_compile=jit)
    data = tf.data.Dataset.from_tensor_slices(harness.tiny_data(gan, 16)).batch(8)
    first = gan.evaluate(data, verbose=0, return_dict=True)
    second = gan.evaluate(data, verbose=0, return_dict=True)
    assert first == second  # the same z (and alpha) for the same batches
    assert set(first) == {"d_loss", "g_loss", "d_real", "d_fake", "gp"}
    assert first["gp"] > 0
    # d_loss is the critic's whole objective: E[f(G(z))] - E[f(x)] + lambda * GP.
    np.testing.assert_allclose(
        first["d_loss"], first["d_fake"] - first["d_real"] + 10.0 * first["gp"], rtol=1e-4, atol=1e-5
    )
    odd = tf.data.Dataset.from_tensor_slices(harness.tiny_data(gan, 7)).batch(7)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"multiple of d_steps \* pack = 1 \* 2 = 2\."):
        gan.evaluate(odd, verbose=0)


def test_a_loss_object_keeps_its_probabilities_flag_through_save(tmp_path):
    gan = kg.models.VanillaGAN(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3)
    custom = kg.losses.LossPair(kg.losses.least_squares_discriminator_loss, kg.losses.least_squares_generator_loss, True)
    for loss, probabilities in ((kg.losses.get("non_saturating"), True), (custom, True), (kg.losses.get("hinge"), False)):
        gan.compile(loss=loss)
        gan.save(tmp_path / "gan.keras")
        loaded = keras.models.load_model(tmp_path / "gan.keras")
        assert loaded.gan_loss.probabilities is probabilities
        assert tuple(loaded.gan_loss) == tuple(gan.gan_loss)


def test_generator_and_discriminator_start_from_different_kernels():
    gan = kg.models.VanillaGAN(image_shape=(8,), latent_dim=8, g_hidden=(8, 8), d_hidden=(8, 8), seed=3)
    g = [w.numpy() for w in gan.generator.weights if w.path.endswith("kernel")]
    d = [w.numpy() for w in gan.discriminator.weights if w.path.endswith("kernel")]
    same_shape = [(a, b) for a in g for b in d if a.shape == b.shape]
    assert len(same_shape) >= 2
    for a, b in same_shape:
        assert not np.allclose(a, b)
    # Still reproducible from the seed.
    again = kg.models.VanillaGAN(image_shape=(8,), latent_dim=8, g_hidden=(8, 8), d_hidden=(8, 8), seed=3)
    harness.assert_all_close(harness.weights(again), harness.weights(gan))


def test_wgan_gp_critic_normalises_each_example_over_height_width_and_channels():
    gan = kg.models.WGANGP(**TINY_IMAGE)
    norm = gan.critic.get_layer("norm_1")
    features = keras.Model(gan.critic.inputs, norm.input)(tf.random.normal([3, 28, 28, 1]))
    # x 100: the N(0, 0.02) convolutions give features of variance ~1e-4, on which the
    # epsilon (1e-5) would show. Scale 1 and offset 0 at initialisation.
    out = norm(features * 100.0).numpy()
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.var(axis=(1, 2, 3)), 1.0, rtol=1e-2)
    # Not each position's channel vector on its own (keras-gans 0.1's "layer").
    assert np.abs(out.mean(axis=-1)).max() > 0.1
    assert norm.gamma.shape == (features.shape[-1],)  # a scale per channel


def test_a_version_1_config_loads_with_the_layer_norm_it_was_trained_with():
    config = kg.models.WGANGP(**TINY_IMAGE).get_config()
    assert config["config_version"] == 2 and config["precision"] == "float32"
    v1 = {k: v for k, v in config.items() if k not in ("config_version", "precision")}
    old = kg.models.WGANGP.from_config(v1)
    assert isinstance(old.critic.get_layer("norm_1"), keras.layers.LayerNormalization)
    assert old.get_config()["norm"] == "layer_channels"
    assert isinstance(kg.models.WGANGP.from_config(config).critic.get_layer("norm_1"), keras.layers.GroupNormalization)


def test_spectral_norm_families_use_miyatos_reparameterisation():
    gan = kg.models.DCGAN(**dict(TINY_IMAGE, norm="none", spectral_norm=True))
    wrapped = [l for l in gan.discriminator.layers if isinstance(l, kg.models.SpectralNormalization)]
    assert len(wrapped) == 3  # two convolutions and the score
    assert not any(isinstance(l, keras.layers.SpectralNormalization) for l in gan.discriminator.layers)


def test_wgan_rmsprop_follows_the_authors_code():
    gan = kg.models.WGAN(**TINY_IMAGE)
    gan.compile()
    opt = gan.d_optimizer
    assert isinstance(opt, kg.models.TorchRMSprop)
    assert (float(opt.learning_rate), opt.rho, opt.epsilon) == pytest.approx((5e-5, 0.99, 1e-8))
    # Two steps against PyTorch's update, v <- 0.99 v + 0.01 g^2, w -= lr g / (sqrt(v) + 1e-8),
    # over gradients of a clipped critic's size, where Keras' RMSprop (rho 0.9, epsilon 1e-7
    # under the root) is 2-10x off.
    g = np.array([1e-7, 1e-6, 1e-5, 1e-4, 1e-1])
    expected, v = np.zeros(5), np.zeros(5)
    for _ in range(2):
        v = 0.99 * v + 0.01 * g**2
        expected -= 5e-5 * g / (np.sqrt(v) + 1e-8)
    for optimizer, close in ((gan.default_optimizers()[0], True), (keras.optimizers.RMSprop(5e-5), False)):
        var = keras.Variable(np.zeros(5, "float32"))
        for _ in range(2):
            optimizer.apply([tf.constant(g, tf.float32)], [var])
        assert np.allclose(var.numpy(), expected, rtol=1e-5, atol=0) == close
    restored = kg.models.TorchRMSprop.from_config(opt.get_config())
    assert (restored.rho, restored.epsilon) == (opt.rho, opt.epsilon)


def _weights_after_steps(cls, kwargs, joint, monkeypatch, steps=2):
    """The discriminator's and generator's weights after `steps` train steps, with the real and
    fake minibatches seen in one discriminator call (`joint`) or two; None: the model's choice."""
    if joint is not None:
        monkeypatch.setattr(kg.models.GAN, "_batch_independent_discriminator", property(lambda self: joint))
    gan = cls(**kwargs)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.05), g_optimizer=keras.optimizers.SGD(0.05))
    images = np.random.default_rng(0).uniform(-1, 1, (8 * gan.d_steps, *kwargs["image_shape"])).astype("float32")
    labels = None if gan.num_classes is None else np.arange(len(images), dtype="int32") % gan.num_classes
    gan.fit(images, labels, batch_size=8 * gan.d_steps, epochs=steps, shuffle=False, verbose=0)
    monkeypatch.undo()
    return [w.numpy() for w in gan.discriminator.weights + gan.generator.weights]


@pytest.mark.parametrize("cls, kwargs", [
    (kg.models.WGANGP, dict(TINY_IMAGE, norm="layer")),
    (kg.models.VanillaGAN, dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), pack=2, seed=3)),
    (kg.models.ConditionalGAN, dict(image_shape=(2,), num_classes=3, latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3)),
], ids=["wgan_gp-layer-norm", "vanilla-mlp-packed", "cgan-mlp"])
def test_one_discriminator_call_on_real_and_fake_trains_the_same_without_batch_norm(cls, kwargs, monkeypatch):
    joint = _weights_after_steps(cls, kwargs, True, monkeypatch)
    apart = _weights_after_steps(cls, kwargs, False, monkeypatch)
    assert cls(**kwargs)._batch_independent_discriminator
    for a, b in zip(joint, apart):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_batch_norm_discriminators_see_real_and_fake_apart(monkeypatch):
    # BatchNorm normalises by the batch it sees: one call on real and fake together would
    # change the DCGAN algorithm, so the model must keep the two calls.
    default = _weights_after_steps(kg.models.DCGAN, TINY_IMAGE, None, monkeypatch)
    apart = _weights_after_steps(kg.models.DCGAN, TINY_IMAGE, False, monkeypatch)
    joint = _weights_after_steps(kg.models.DCGAN, TINY_IMAGE, True, monkeypatch)
    for a, b in zip(default, apart):
        np.testing.assert_array_equal(a, b)
    assert max(np.max(np.abs(a - b)) for a, b in zip(default, joint)) > 1e-4


def test_fit_again_on_the_same_dataset_reuses_its_checks_and_still_checks():
    gan = kg.models.ConditionalGAN(image_shape=(2,), num_classes=3, latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3)
    gan.compile()
    good = tf.data.Dataset.from_tensor_slices((np.zeros((8, 2), "float32"), np.arange(8) % 3)).batch(4)
    assert gan._checked_dataset(good, 1) is gan._checked_dataset(good, 1)  # traced once
    gan.fit(good, epochs=1, verbose=0)
    gan.fit(good, epochs=1, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices((np.zeros((8, 2), "float32"), np.arange(8))).batch(4)
    assert gan._checked_dataset(bad, 1) is not gan._checked_dataset(good, 1)
    for _ in range(2):
        with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes = 3"):
            gan.fit(bad, epochs=1, verbose=0)
