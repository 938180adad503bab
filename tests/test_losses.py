"""The losses against closed forms computed independently with NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gans import losses

REAL = np.array([2.0, -1.0, 0.5, 30.0], "float32")
FAKE = np.array([-3.0, 0.25, 1.5, -40.0], "float32")


def log_sigmoid(x):
    return -np.logaddexp(0.0, -np.asarray(x, "float64"))


def test_minimax_matches_goodfellow_eq1():
    # D maximises E log D(x) + E log(1 - D(G(z))); the loss is its negative.
    expected_d = -(log_sigmoid(REAL).mean() + log_sigmoid(-FAKE).mean())
    np.testing.assert_allclose(losses.minimax_discriminator_loss(REAL, FAKE), expected_d, rtol=1e-6)
    # G minimises E log(1 - D(G(z))).
    np.testing.assert_allclose(losses.minimax_generator_loss(FAKE), log_sigmoid(-FAKE).mean(), rtol=1e-6)


def test_non_saturating_generator_maximises_log_d():
    np.testing.assert_allclose(losses.non_saturating_generator_loss(FAKE), -log_sigmoid(FAKE).mean(), rtol=1e-6)
    assert losses.get("non_saturating").discriminator is losses.minimax_discriminator_loss


def test_non_saturating_gradient_does_not_vanish_where_minimax_does():
    # Early in training D rejects fakes confidently (very negative logits): the
    # minimax generator gradient vanishes there, the non-saturating one does not.
    fake = tf.constant([-20.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(fake)
        minimax = losses.minimax_generator_loss(fake)
        non_saturating = losses.non_saturating_generator_loss(fake)
    assert abs(float(tape.gradient(minimax, fake)[0])) < 1e-8
    assert abs(float(tape.gradient(non_saturating, fake)[0])) > 0.99


def test_logit_losses_stay_finite_at_saturation():
    big = np.array([1e4, -1e4], "float32")
    for name in ("minimax", "non_saturating"):
        pair = losses.get(name)
        assert np.isfinite(pair.discriminator(big, -big)) and np.isfinite(pair.generator(big))


def test_wasserstein_hinge_least_squares():
    np.testing.assert_allclose(losses.wasserstein_discriminator_loss(REAL, FAKE), FAKE.mean() - REAL.mean(), rtol=1e-6)
    np.testing.assert_allclose(losses.wasserstein_generator_loss(FAKE), -FAKE.mean(), rtol=1e-6)
    np.testing.assert_allclose(
        losses.hinge_discriminator_loss(REAL, FAKE),
        np.maximum(0, 1 - REAL).mean() + np.maximum(0, 1 + FAKE).mean(), rtol=1e-6,
    )
    np.testing.assert_allclose(losses.hinge_generator_loss(FAKE), -FAKE.mean(), rtol=1e-6)
    np.testing.assert_allclose(
        losses.least_squares_discriminator_loss(REAL, FAKE),
        0.5 * ((REAL - 1) ** 2).mean() + 0.5 * (FAKE**2).mean(), rtol=1e-6,
    )
    np.testing.assert_allclose(losses.least_squares_generator_loss(FAKE), 0.5 * ((FAKE - 1) ** 2).mean(), rtol=1e-6)


def _linear_critic(norm, dim=6, seed=0):
    w = np.random.default_rng(seed).normal(size=(dim, 1)).astype("float32")
    w *= norm / np.linalg.norm(w)
    return lambda x: tf.reshape(x, [tf.shape(x)[0], -1]) @ w


def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic():
    real = tf.random.normal([16, 2, 3])
    fake = tf.random.normal([16, 2, 3])
    assert float(losses.gradient_penalty(_linear_critic(1.0), real, fake)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("norm", [0.0, 0.5, 2.0, 3.0])
def test_gradient_penalty_grows_as_the_norm_departs_from_1(norm):
    real, fake = tf.random.normal([8, 6]), tf.random.normal([8, 6])
    # A linear critic has gradient w everywhere: the penalty is (||w|| - 1)^2.
    gp = float(losses.gradient_penalty(_linear_critic(norm), real, fake))
    assert gp == pytest.approx((norm - 1.0) ** 2, abs=1e-4)


def test_gradient_penalty_has_a_gradient_where_the_critic_is_flat():
    # sqrt(0) has no gradient; the epsilon inside the norm keeps the penalty's own
    # gradient finite for a critic whose input gradient is exactly zero.
    v = tf.Variable(0.0)
    critic = lambda x: v * tf.reduce_sum(x, axis=1, keepdims=True)  # noqa: E731
    with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(critic, tf.ones([4, 3]), tf.zeros([4, 3]))
    grad = tape.gradient(gp, v)
    assert float(gp) == pytest.approx(1.0, abs=1e-4)
    assert np.isfinite(float(grad))


def test_gradient_penalty_interpolates_with_uniform_alpha_per_example():
    seen = []

    def critic(x):
        seen.append(x)
        return tf.reduce_sum(x, axis=1, keepdims=True)

    real, fake = tf.zeros([4000, 2]), tf.ones([4000, 2])
    losses.gradient_penalty(critic, real, fake, seed=tf.constant([1, 2]))
    alpha = seen[0].numpy()
    np.testing.assert_array_equal(alpha[:, 0], alpha[:, 1])  # one alpha per example
    assert alpha.min() >= 0 and alpha.max() <= 1
    # U(0, 1): mean 1/2, variance 1/12 (the keras.io example's N(0, 1) would fail).
    assert alpha[:, 0].mean() == pytest.approx(0.5, abs=0.02)
    assert alpha[:, 0].var() == pytest.approx(1 / 12, abs=0.01)


def test_get_by_name_or_callables():
    assert losses.get("hinge").generator is losses.hinge_generator_loss
    pair = losses.get((losses.hinge_discriminator_loss, losses.least_squares_generator_loss))
    assert pair.generator is losses.least_squares_generator_loss
    with pytest.raises(ValueError, match="Known losses: hinge, least_squares, minimax, non_saturating, wasserstein"):
        losses.get("nonsaturating")
    with pytest.raises(ValueError, match="got 3"):
        losses.get(3)
