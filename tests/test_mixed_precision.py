"""Mixed precision: `mixed_float16` (with loss scaling) and `mixed_bfloat16` (without).

Hidden layers compute in 16 bits; variables, the networks' outputs, the losses and the
gradient penalty stay float32. Under float16, `compile` wraps both optimizers in a
`LossScaleOptimizer` and `train_step` scales each loss before taking its gradient: a
one-step update is compared with float32's, which a missing or doubled scale (2^15)
would miss by far. Short runs of the default settings must stay finite.

The policy is global, so the `policy` fixture sets it and always restores the previous one.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gans as kg
from tests import harness

LOW = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
TOY = dict(image_shape=(2,), latent_dim=2, g_hidden=(16,), d_hidden=(16,), seed=3)
TINY_IMAGE = dict(image_shape=(16, 16, 1), latent_dim=4, g_width=4, d_width=4, seed=3)


# Sets the global policy for a block and restores the previous one.
global_policy = kg.models.precision_scope


@pytest.fixture(params=list(LOW))
def policy(request):
    with global_policy(request.param) as name:
        yield name


def _data(shape, n, seed=0):
    if shape == (2,):
        return kg.data.mixture("ring8").sample(n, seed=seed)
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def _flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


def test_dtypes_and_loss_scale_optimizers(policy):
    gan = kg.models.DCGAN(**TINY_IMAGE)
    gan.compile()
    float16 = policy == "mixed_float16"
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == float16
        inner = optimizer.inner_optimizer if float16 else optimizer
        assert isinstance(inner, keras.optimizers.Adam)
        assert float(inner.learning_rate) == pytest.approx(2e-4)
    # An optimizer that is already loss-scaled is not wrapped twice.
    given = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=2.0**8)
    gan.compile(d_optimizer=given, g_optimizer=keras.optimizers.SGD(0.1))
    assert gan.d_optimizer is given

    # 16-bit computation inside, float32 everywhere it leaves the networks.
    assert gan.generator.get_layer("deconv_0").compute_dtype == LOW[policy]
    assert gan.discriminator.get_layer("conv_1").compute_dtype == LOW[policy]
    assert {v.dtype for v in gan.generator.weights + gan.discriminator.weights} == {"float32"}
    images = gan.generator(tf.random.normal([4, 4]), training=True)
    assert images.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    scores = gan.discriminate(images, training=True)
    assert scores.dtype == tf.float32
    hidden = tf.cast(scores, LOW[policy])
    for name in kg.losses.names():
        game = kg.losses.get(name)
        assert game.discriminator(hidden, hidden).dtype == tf.float32, name
        assert game.generator(hidden).dtype == tf.float32, name
    real = tf.constant(_data(TINY_IMAGE["image_shape"], 4))
    gp = kg.losses.gradient_penalty(gan.discriminator, real, images)
    assert gp.dtype == tf.float32 and np.isfinite(float(gp))


def test_loss_scaling_follows_the_networks_not_the_current_policy():
    with global_policy("mixed_float16"):
        float16_gan = kg.models.VanillaGAN(**TOY)
    with global_policy("float32"):
        float16_gan.compile()  # compiled after the policy was set back
        float32_gan = kg.models.VanillaGAN(**TOY)
    assert isinstance(float16_gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(float16_gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    with global_policy("mixed_float16"):
        float32_gan.compile()  # float32 networks need no loss scaling
    assert not isinstance(float32_gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(float32_gan.g_optimizer, keras.optimizers.LossScaleOptimizer)


@pytest.mark.parametrize("init_kwargs", [TOY, TINY_IMAGE], ids=["toy", "image"])
def test_gradient_penalty_matches_float32(policy, init_kwargs):
    with global_policy("float32"):
        reference = kg.models.WGANGP(**init_kwargs)
    gan = kg.models.WGANGP(**init_kwargs)
    gan.set_weights(reference.get_weights())
    real = tf.constant(_data(gan.image_shape, 8))
    fake = tf.constant(_data(gan.image_shape, 8, seed=1))
    alpha = tf.random.stateless_uniform([8], seed=[0, 2])

    def penalty_and_gradients(model):
        variables = model.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            gp = kg.losses.gradient_penalty(model.discriminator, real, fake, alpha=alpha)
        # The score's bias does not change grad_x f, so its gradient is None.
        return gp, [g for g in tape.gradient(gp, variables) if g is not None]

    gp, grads = penalty_and_gradients(gan)
    gp_ref, grads_ref = penalty_and_gradients(reference)
    assert gp.dtype == tf.float32
    np.testing.assert_allclose(float(gp), float(gp_ref), rtol=1e-2)
    a, b = _flat(grads), _flat(grads_ref)
    assert np.linalg.norm(a - b) <= 0.05 * np.linalg.norm(b)


# (family, constructor arguments, d_steps, tolerance on the relative update error).
# BatchNorm's backward pass subtracts batch means of the incoming gradients, which
# magnifies their 16-bit rounding: hence the DCGAN's looser tolerance.
UPDATE_CASES = {
    "vanilla_toy": (kg.models.VanillaGAN, TOY, 1, 0.02),
    "wgan_gp_toy": (kg.models.WGANGP, TOY, 1, 0.02),
    "dcgan_image": (kg.models.DCGAN, TINY_IMAGE, 1, 0.25),
}


@pytest.mark.parametrize("case", list(UPDATE_CASES))
def test_one_step_update_matches_float32(policy, case):
    cls, init_kwargs, d_steps, tolerance = UPDATE_CASES[case]

    def one_step(scaled):
        gan = cls(**init_kwargs)
        before = [v.numpy() for v in gan.trainable_weights]
        optimizers = [keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01)]
        if scaled:
            # 2^8, not the default 2^15, so the penalty's second-order gradients do not
            # overflow float16 and the step is not skipped (as it is at first by default).
            optimizers = [keras.optimizers.LossScaleOptimizer(o, initial_scale=2.0**8) for o in optimizers]
        gan.compile(*optimizers, d_steps=d_steps)
        data = tf.data.Dataset.from_tensor_slices(_data(gan.image_shape, 8)).batch(8)
        gan.fit(data, epochs=1, verbose=0)
        assert int(gan.d_optimizer.iterations) == d_steps  # no step skipped
        after = [v.numpy() for v in gan.trainable_weights]
        n_g = len(gan.generator.trainable_weights)
        deltas = [b - a for a, b in zip(before, after)]
        return _flat(deltas[:n_g]), _flat(deltas[n_g:])

    low = one_step(scaled=policy == "mixed_float16")
    with global_policy("float32"):
        full = one_step(scaled=False)
    for network, a, b in zip(("generator", "discriminator"), low, full):
        error = np.linalg.norm(a - b) / np.linalg.norm(b)
        assert error <= tolerance, (network, error)


@pytest.mark.parametrize(
    "cls, init_kwargs",
    [(kg.models.WGANGP, TOY), (kg.models.DCGAN, TINY_IMAGE)],
    ids=["wgan_gp_ring8", "dcgan_image"],
)
def test_short_run_stays_finite(policy, cls, init_kwargs):
    steps = 3
    gan = cls(**init_kwargs)
    before = [v.numpy() for v in gan.trainable_weights]
    gan.compile()  # the family's defaults: WGAN-GP with lambda = 10 and 5 critic steps
    batch = 16 * gan.d_steps
    if gan.image_shape == (2,):
        data = kg.data.mixture("ring8").dataset(batch_size=batch, seed=0, num_samples=batch * steps)
    else:
        data = tf.data.Dataset.from_tensor_slices(_data(gan.image_shape, batch * steps)).batch(batch)
    history = gan.fit(data, epochs=1, verbose=0)

    expected = {"d_loss", "g_loss", "d_real", "d_fake"} | ({"gp"} if gan.gp_weight else set())
    assert set(history.history) == expected
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), (name, values)
    after = [v.numpy() for v in gan.weights]
    assert all(np.all(np.isfinite(w)) for w in after)
    assert not np.allclose(_flat(before), _flat(v.numpy() for v in gan.trainable_weights))
    samples = gan.sample(8, seed=1)
    assert samples.dtype == np.float32 and np.all(np.isfinite(samples))

    for optimizer, updates in ((gan.d_optimizer, steps * gan.d_steps), (gan.g_optimizer, steps)):
        if policy == "mixed_float16":
            # Each step with non-finite gradients is skipped and halves the scale (it
            # grows again only after 2,000 finite steps): skipped + applied = all.
            scale = float(optimizer.dynamic_scale)
            skipped = math.log2(optimizer.initial_scale / scale)
            assert skipped == int(skipped) >= 0
            assert int(optimizer.iterations) + int(skipped) == updates
            assert int(optimizer.iterations) >= 1
        else:
            assert int(optimizer.iterations) == updates


# ----- replicas: an overflow anywhere skips the step everywhere ---------------------


@pytest.mark.parametrize("replica", [0, 1])
def test_an_overflow_on_any_replica_skips_the_step_on_every_replica(mirrored, replica):
    # LossScaleOptimizer decides from replica 0's gradients; they must first be shared.
    # Rows x 3000 make the discriminator's float16 activations overflow on one replica.
    with global_policy("mixed_float16"):
        with mirrored.scope():
            gan = kg.models.VanillaGAN(**TOY)
            gan.compile()
        x = _data((2,), 16)
        x[replica * 8 : (replica + 1) * 8] *= 3000.0
        gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=1, verbose=0)
    for network in (gan.discriminator, gan.generator):
        for v in network.weights:
            assert np.all(np.isfinite(v.numpy())), v.path
    # Skipped (not applied) on both replicas: no update, the scale halved once.
    assert int(gan.d_optimizer.iterations.numpy()) == 0
    assert float(gan.d_optimizer.dynamic_scale.numpy()) == gan.d_optimizer.initial_scale / 2
    for local in mirrored.experimental_local_results(gan.discriminator.weights[0]):
        np.testing.assert_array_equal(local.numpy(), gan.discriminator.weights[0].numpy())


# ----- a saved GAN keeps its precision ----------------------------------------------


def _fit_a_little(gan, seed=0):
    """Two steps."""
    batch = 8 * gan.d_steps * gan.pack
    data = tf.data.Dataset.from_tensor_slices(_data(gan.image_shape, 2 * batch, seed)).batch(batch)
    gan.fit(data, epochs=1, verbose=0)


def _computes(gan):
    return {layer.compute_dtype for layer in gan.generator.layers + gan.discriminator.layers}


@pytest.mark.parametrize(
    "trained, loaded", [("mixed_float16", "float32"), ("float32", "mixed_float16"), ("mixed_bfloat16", "float32")]
)
def test_a_saved_gan_loads_in_the_precision_it_was_trained_in(trained, loaded, tmp_path, recwarn):
    with global_policy(trained):
        gan = kg.models.DCGAN(**TINY_IMAGE)
        gan.compile()
        _fit_a_little(gan)
        path = tmp_path / "gan.keras"
        gan.save(path)
    with global_policy(loaded):
        back = keras.models.load_model(path)
    assert back.precision == gan.precision == trained
    assert _computes(back) == _computes(gan)
    assert type(back.d_optimizer) is type(gan.d_optimizer)
    assert not [w for w in recwarn if "Skipping variable loading" in str(w.message)]
    for a, b in zip(gan.d_optimizer.variables + gan.g_optimizer.variables, back.d_optimizer.variables + back.g_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(back.sample(3, seed=1), gan.sample(3, seed=1))


@pytest.mark.parametrize("source, target", [("float32", "mixed_float16"), ("mixed_float16", "float32")])
def test_with_precision_keeps_weights_steps_and_optimizer_state(source, target):
    with global_policy(source):
        gan = kg.models.WGANGP(**TOY)
        gan.compile()
        _fit_a_little(gan)
    twin = gan.with_precision(target)
    assert twin.precision == target and gan.precision == source
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert isinstance(twin.d_optimizer, keras.optimizers.LossScaleOptimizer) == (target == "mixed_float16")
    harness.assert_all_close(harness.weights(twin), harness.weights(gan))
    inner = lambda o: getattr(o, "inner_optimizer", o)  # noqa: E731
    for a, b in zip(inner(gan.d_optimizer).variables, inner(twin.d_optimizer).variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(twin.g_optimizer.iterations.numpy()) == int(gan.g_optimizer.iterations.numpy()) > 0
    assert (twin.d_steps, twin.gp_weight) == (gan.d_steps, gan.gp_weight)
    _fit_a_little(twin, seed=1)  # and it trains on
    assert int(twin.train_steps.numpy()) == 4


def test_the_loss_scale_does_not_stop_the_noise():
    # A skipped (overflowing) step leaves the optimizer's iterations where they were; the
    # GAN's own step counter still moves, so the next step draws new z. With learning
    # rate 0 the losses of one batch differ between steps only through z.
    gan = kg.models.VanillaGAN(**TOY)
    optimizers = [keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.0), initial_scale=float("inf")) for _ in range(2)]
    gan.compile(*optimizers)
    x = _data((2,), 16)
    history = gan.fit(tf.data.Dataset.from_tensor_slices(x).batch(16).repeat(3), epochs=3, steps_per_epoch=1, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 0  # every step skipped: an infinite scale overflows every gradient
    assert int(gan.train_steps.numpy()) == 3
    d_loss = history.history["d_loss"]
    assert len(set(d_loss)) == 3, d_loss
