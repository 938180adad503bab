"""UnrolledGAN (Metz et al., 2017): the shared family checks, the unrolled surrogate's
gradient, the reproduced optimizer steps, the noise streams, mixed precision, and (slow)
more ring8 modes than the plain GAN."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import keras_gans as kg
from keras_gans.models import unrolled
from tests import harness

TOY = dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3)


@pytest.mark.parametrize(
    "init_kwargs",
    [dict(TOY, unroll_steps=2), dict(TOY, unroll_steps=2, second_order=False, pack=2)],
    ids=["second_order", "first_order-packed"],
)
def test_family(init_kwargs, tmp_path, mirrored):
    # No batch statistics: two replicas must unroll exactly the discriminator one device does.
    gan = harness.run_family_checks(kg.models.UnrolledGAN, init_kwargs, tmp_path, mirrored, True)
    config = gan.get_config()
    assert (config["unroll_steps"], config["second_order"]) == (2, init_kwargs.get("second_order", True))
    assert kg.models.get("unrolled_gan") is kg.models.UnrolledGAN


def test_defaults_follow_the_authors_2d_setup():
    gan = kg.models.UnrolledGAN(seed=0)
    assert (gan.unroll_steps, gan.second_order, gan.latent_dim, gan.image_shape) == (5, True, 256, (2,))
    gan.compile()
    d, g = gan.d_optimizer, gan.g_optimizer
    assert isinstance(d, keras.optimizers.Adam) and isinstance(g, keras.optimizers.Adam)
    assert (float(d.learning_rate), float(g.learning_rate)) == pytest.approx((1e-4, 1e-3))
    assert (d.beta_1, d.epsilon) == (0.5, 1e-8)


def _step_vanilla_and_unrolled(steps, **unrolled_kwargs):
    ring = kg.data.mixture("ring8")
    data = tf.data.Dataset.from_tensor_slices(ring.sample(32 * steps, seed=0)).batch(32)
    gans = [kg.models.VanillaGAN(**TOY), kg.models.UnrolledGAN(**TOY, **unrolled_kwargs)]
    for gan in gans:
        gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
        gan.fit(data, epochs=1, verbose=0)
    return gans


def test_zero_unroll_steps_is_the_vanilla_gan_exactly():
    vanilla, gan = _step_vanilla_and_unrolled(2, unroll_steps=0)
    for a, b in zip(harness.weights(vanilla), harness.weights(gan)):
        np.testing.assert_array_equal(a, b)
    # And unrolling changes the generator's update, not the discriminator's (one step:
    # the next discriminator step would see the other generator).
    vanilla, gan = _step_vanilla_and_unrolled(1, unroll_steps=3)
    for a, b in zip(harness.weights(vanilla.discriminator), harness.weights(gan.discriminator)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(harness.weights(vanilla.generator)[0], harness.weights(gan.generator)[0])


def _surrogate_and_gradient(gan, real):
    """f_K and its gradient with respect to the generator's output bias (fixed noise)."""
    bias = gan.generator.get_layer("dense_out").bias

    def surrogate():
        fake = gan._generate_for_training(tf.shape(real)[0], None, 100)
        return gan._generator_loss(fake, None, real, 101)

    with tf.GradientTape() as tape:
        loss = surrogate()
    return surrogate, bias, tape.gradient(loss, bias).numpy()


@pytest.mark.parametrize("d_optimizer", ["sgd", "adam"])
def test_the_gradient_flows_through_the_unrolled_updates_only_with_second_order(d_optimizer):
    ring = kg.data.mixture("ring8")
    real = tf.constant(ring.sample(32, seed=0))
    # One fixed batch: `Mixture.dataset` reshuffles from TensorFlow's global seed too, which
    # earlier tests set, and the finite differences below need a point away from the
    # networks' kinks, so the point must not depend on the order the tests run in.
    batch = tf.data.Dataset.from_tensors(tf.constant(ring.sample(32, seed=1)))
    gradients = {}
    for second_order in (True, False):
        gan = kg.models.UnrolledGAN(**dict(TOY, unroll_steps=3, second_order=second_order))
        d_opt = keras.optimizers.SGD(0.5) if d_optimizer == "sgd" else keras.optimizers.Adam(0.05)
        gan.compile(d_opt, keras.optimizers.SGD(0.0))  # the generator stays put
        gan.fit(batch, epochs=1, verbose=0)
        surrogate, bias, gradients[second_order] = _surrogate_and_gradient(gan, real)
        if second_order:
            # The total derivative of f_K(theta_G) = f(theta_G, theta_D^K(theta_G)): central
            # differences of the surrogate itself (the unrolled steps rerun at each point).
            # The networks are piecewise linear (ReLU, LeakyReLU): eps = 1e-3 already
            # crosses kinks here, 3e-4 is within float32's resolution of the loss.
            start, eps, numeric = bias.numpy(), 3e-4, []
            for i in range(2):
                values = []
                for sign in (1, -1):
                    moved = start.copy()
                    moved[i] += sign * eps
                    bias.assign(moved)
                    values.append(float(surrogate()))
                numeric.append((values[0] - values[1]) / (2 * eps))
            bias.assign(start)
            np.testing.assert_allclose(gradients[True], numeric, rtol=0.02, atol=1e-3)
        else:
            # First order: the game's gradient against D_K held fixed.
            weights = [tf.convert_to_tensor(v) for v in gan.discriminator.trainable_variables]
            fake_i = [gan._generate_for_training(32, None, 101 + i) for i in range(3)]
            opt = unrolled._Unrolled(gan.d_optimizer, gan.discriminator.trainable_variables)
            for i in range(3):
                with tf.GradientTape() as tape:
                    tape.watch(weights)
                    (r, f), _ = gan._stateless_real_and_fake(weights, [], real, fake_i[i], None)
                    loss = gan.gan_loss.discriminator(r, f)
                weights = opt.step(weights, tape.gradient(loss, weights), i)
            for var, w in zip(gan.discriminator.trainable_variables, weights):
                var.assign(w)
            with tf.GradientTape() as tape:
                fake = gan._generate_for_training(32, None, 100)
                loss = gan.gan_loss.generator(gan.discriminate(fake, training=True))
            expected = tape.gradient(loss, gan.generator.get_layer("dense_out").bias).numpy()
            np.testing.assert_allclose(gradients[False], expected, rtol=1e-5, atol=1e-7)
    assert np.linalg.norm(gradients[True] - gradients[False]) > 0.05 * np.linalg.norm(gradients[True])


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.01, 10), beta_1=0.5),
    lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    lambda: keras.optimizers.SGD(0.1),
    lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
], ids=["adam-cosine", "adam-amsgrad", "sgd", "sgd-nesterov"])
def test_the_unrolled_steps_are_the_discriminator_optimizers_own(make):
    gan = kg.models.UnrolledGAN(**TOY)
    gan.compile(make(), keras.optimizers.SGD(0.0))
    variables = gan.discriminator.trainable_variables
    rng = np.random.default_rng(0)
    grads = [[tf.constant(rng.normal(size=v.shape), tf.float32) for v in variables] for _ in range(4)]
    gan.d_optimizer.apply(grads[0], variables)  # a state that is not the initial one
    # Two steps as a function of the weights, then the same two by the optimizer itself.
    functional = unrolled._Unrolled(gan.d_optimizer, variables)
    weights = [tf.convert_to_tensor(v) for v in variables]
    for i in (0, 1):
        weights = functional.step(weights, grads[1 + i], i)
    for i in (0, 1):
        gan.d_optimizer.apply(grads[1 + i], variables)
    for var, w in zip(variables, weights):
        np.testing.assert_allclose(w.numpy(), var.numpy(), rtol=1e-6, atol=1e-7)


def test_every_unrolled_step_draws_its_own_noise(monkeypatch):
    gan = kg.models.UnrolledGAN(**dict(TOY, unroll_steps=2))
    gan.compile(d_steps=2)
    streams = []
    draw = kg.models.GAN._noise

    def recording(self, kind, shape, stream):
        streams.append(int(stream))
        return draw(self, kind, shape, stream)

    monkeypatch.setattr(kg.models.GAN, "_noise", recording)
    real = tf.constant(kg.data.mixture("ring8").sample(16, seed=0))
    for _ in range(2):
        gan.train_step(real)  # eagerly: the streams are numbers
    # s = step * (2k + 1 + K) = step * 7: D steps s, s + 1; G step s + 4; unrolled s + 5, s + 6.
    assert streams == [0, 1, 4, 5, 6, 7, 8, 11, 12, 13]


def test_bad_arguments_are_refused_at_the_boundary():
    with pytest.raises(ValueError, match="unroll_steps must be an integer >= 0; got -1"):
        kg.models.UnrolledGAN(**dict(TOY, unroll_steps=-1))
    with pytest.raises(ValueError, match="second_order must be True or False; got 'yes'"):
        kg.models.UnrolledGAN(**dict(TOY, second_order="yes"))
    gan = kg.models.UnrolledGAN(**TOY)
    with pytest.raises(ValueError, match="Adam and SGD; got d_optimizer=RMSprop"):
        gan.compile(keras.optimizers.RMSprop(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match="Adam and SGD; got d_optimizer=AdamW"):
        gan.compile(keras.optimizers.AdamW(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match="got Adam with clipnorm=1.0"):
        gan.compile(keras.optimizers.Adam(clipnorm=1.0), keras.optimizers.Adam())
    with pytest.raises(ValueError, match="gradient penalty; got gp_weight=10"):
        gan.compile(gp_weight=10)
    assert gan.d_optimizer is None  # nothing half-compiled


def test_mixed_float16_update_matches_float32():
    def one_step(scaled):
        gan = kg.models.UnrolledGAN(**dict(TOY, g_hidden=(16,), d_hidden=(16,), unroll_steps=3))
        before = harness.weights(gan.generator)
        optimizers = [keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2)]
        if scaled:
            optimizers = [keras.optimizers.LossScaleOptimizer(o, initial_scale=2.0**8) for o in optimizers]
        gan.compile(*optimizers)
        data = kg.data.mixture("ring8").dataset(batch_size=16, seed=0)
        gan.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
        assert int(gan.g_optimizer.iterations) == 1  # no step skipped
        return np.concatenate([np.ravel(b - a) for a, b in zip(before, harness.weights(gan.generator))])

    with kg.models.precision_scope("mixed_float16"):
        low = one_step(scaled=True)
    full = one_step(scaled=False)
    assert np.linalg.norm(low - full) <= 0.05 * np.linalg.norm(full)

    # The defaults under mixed_float16 (LossScaleOptimizer, scale 2^15) stay finite.
    with kg.models.precision_scope("mixed_float16"):
        gan = kg.models.UnrolledGAN(**dict(TOY, unroll_steps=3))
        gan.compile()
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        history = gan.fit(kg.data.mixture("ring8").dataset(batch_size=16, seed=0), steps_per_epoch=3, epochs=1, verbose=0)
    assert all(np.all(np.isfinite(v)) for v in history.history.values())
    assert all(np.all(np.isfinite(w)) for w in harness.weights(gan))
    assert int(gan.g_optimizer.iterations) >= 1


# ----------------------------------------------------------------------------- modes


def ring8_coverage(cls, seed, steps=1500, **extra):
    """(mode coverage, fraction of the samples nearest the two most popular centres) of a
    GAN trained on ring8: the networks, optimizers, data and noise of every class alike."""
    ring = kg.data.mixture("ring8")
    gan = cls(image_shape=(2,), latent_dim=8, g_hidden=(128, 128), d_hidden=(128, 128), seed=seed, **extra)
    # The authors' 2-D demo's optimizers (UnrolledGAN's defaults), given to both: Adam with
    # beta_1 = 0.5, the generator's learning rate 10x the discriminator's. jit_compile:
    # the XLA path (Keras' default on a GPU), about twice as fast here.
    gan.compile(
        keras.optimizers.Adam(1e-4, beta_1=0.5, epsilon=1e-8), keras.optimizers.Adam(1e-3, beta_1=0.5, epsilon=1e-8),
        steps_per_execution=100, jit_compile=True,
    )
    gan.fit(ring.dataset(batch_size=256, seed=seed).repeat(), steps_per_epoch=steps, epochs=1, verbose=0)
    samples = gan.sample(2500, seed=10_000 + seed)
    nearest = np.linalg.norm(samples[:, None] - ring.centers[None], axis=-1).argmin(1)
    top_two = np.sort(np.bincount(nearest, minlength=8))[-2:].sum() / len(samples)
    return kg.evaluation.mode_coverage(samples, ring), top_two


@pytest.mark.slow
def test_unrolling_covers_more_ring8_modes_than_the_plain_gan():
    # Same networks, optimizers, iterations, data and seed; only the generator's loss
    # differs. The plain GAN hops from mode to mode (as Metz et al. show): at any time
    # its samples sit near one or two centres, off the 3-sigma discs.
    vanilla, vanilla_top_two = ring8_coverage(kg.models.VanillaGAN, seed=0)
    gan, top_two = ring8_coverage(kg.models.UnrolledGAN, seed=0, unroll_steps=5)
    # Measured at these 1,500 steps, seeds 0-7 (PacGAN's protocol: a mode is captured when
    # a sample within 3 sigma lands nearest it): the plain GAN 0-2 modes, 0-3.1 % high
    # quality, 88-100 % of its samples nearest two centres; Unrolled GAN (K = 5) 5-8 modes
    # (4 more than the plain GAN at least, seed by seed), 1.5-18.7 % high quality, 26-42 %
    # nearest its two most popular centres. Neither is sharp yet (a perfect sampler: 98.9 %).
    assert gan.modes_captured >= vanilla.modes_captured + 3, (gan, vanilla)
    assert gan.modes_captured >= 5 and vanilla.modes_captured <= 2, (gan, vanilla)
    assert vanilla_top_two >= 0.8 and top_two <= 0.6, (vanilla_top_two, top_two)
