"""Packing (PacGAN, Lin et al. 2018): the discriminator judges `pack` samples at once.

With `pack=m` and a batch of B real examples split into k = d_steps minibatches, every
discriminator call of a train step (real, fake, gradient-penalty interpolates, the
generator's step) gets B / (k m) inputs (twice that when real and fake share one call),
each m samples concatenated along the last axis (and, when conditional, their m labels). Every family trains with it, saves it, and a batch
that cannot be packed is a clear error before any update.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gans as kg
from tests import harness

VECTOR = dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3)
IMAGE = dict(image_shape=(8, 8, 1), latent_dim=4, g_width=4, d_width=4, seed=3)
FAMILIES = [
    (kg.models.VanillaGAN, VECTOR),
    (kg.models.VanillaGAN, dict(image_shape=(8, 8, 1), latent_dim=4, g_hidden=(8,), d_hidden=(8,), seed=3)),
    (kg.models.DCGAN, IMAGE),
    (kg.models.ConditionalGAN, dict(IMAGE, num_classes=3)),
    (kg.models.ConditionalGAN, dict(VECTOR, num_classes=3)),
    (kg.models.WGAN, IMAGE),
    (kg.models.WGANGP, IMAGE),
    (kg.models.WGANGP, VECTOR),
]
# Traced training and a .keras round trip: every family, on its cheapest shape.
ROUND_TRIP = [FAMILIES[i] for i in (0, 2, 3, 4, 6)] + [(kg.models.WGAN, VECTOR)]


def _ids(cases):
    return [f"{cls.family}-{'image' if len(kw['image_shape']) == 3 else 'vector'}" for cls, kw in cases]


class _Log:
    """What the discriminator was given, call by call (a plain object: Keras leaves it alone)."""

    def __init__(self):
        self.samples, self.labels = [], []


class _Record(keras.layers.Layer):
    def __init__(self, log, field, **kwargs):
        super().__init__(**kwargs)
        self._log, self._field = log, field

    def call(self, x):
        if tf.executing_eagerly():  # not when the model is built symbolically
            getattr(self._log, self._field).append(x.numpy())
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def record_discriminator_inputs(gan):
    """Puts recording layers in front of `gan.discriminator` (same weights); returns the log.

    Call before `compile`, run the step eagerly: the log then holds the actual inputs of
    every discriminator call, including those inside the gradient penalty.
    """
    log, inner = _Log(), gan.discriminator
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype) for t in inner.inputs]
    recorded = [_Record(log, field)(x) for field, x in zip(("samples", "labels"), inputs)]
    if len(inputs) == 1:
        inputs, recorded = inputs[0], recorded[0]
    gan.discriminator = keras.Model(inputs, inner(recorded))
    return log


def pack_by_hand(x, m):
    """[b, ..., c] -> [b / m, ..., m c]: rows i m .. i m + m - 1 side by side, in order."""
    groups = x.reshape(x.shape[0] // m, m, *x.shape[1:])
    return np.concatenate([groups[:, i] for i in range(m)], axis=-1)


@pytest.mark.parametrize("cls, init_kwargs", FAMILIES, ids=_ids(FAMILIES))
def test_the_discriminator_sees_batch_over_m_inputs_of_m_samples(cls, init_kwargs):
    m = 2
    gan = cls(**dict(init_kwargs, pack=m))
    log = record_discriminator_inputs(gan)
    gan.compile(run_eagerly=True)
    k, batch = gan.d_steps, harness.batch_size(gan, m=4)  # 4 packs per discriminator step
    data = harness.tiny_data(gan, batch)
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(batch), epochs=1, verbose=0)

    # k discriminator steps (real and fake, apart or in one call, and the interpolates when
    # penalised), then one generator step.
    joint = gan._batch_independent_discriminator
    calls_per_d_step = (1 if joint else 2) + (1 if gan.gp_weight else 0)
    assert len(log.samples) == k * calls_per_d_step + 1
    channels = gan.image_shape[-1]
    rows = batch // (k * m)
    expected = {(rows, *gan.image_shape[:-1], m * channels)}
    if joint:  # real and fake together: twice the packs
        expected.add((2 * rows, *gan.image_shape[:-1], m * channels))
    assert {x.shape for x in log.samples} == expected
    # The first call judges the real minibatch of step 0 (rows 0, k, 2k, ...), packed (the
    # first half of a joint call).
    real = data[0][0::k]
    np.testing.assert_array_equal(log.samples[0][:rows], pack_by_hand(real, m))
    # Pack member i is channels [i C, (i + 1) C) of the discriminator's input.
    np.testing.assert_array_equal(log.samples[0][1, ..., channels : 2 * channels], real[3])
    if gan.num_classes is not None:
        assert len(log.labels) == len(log.samples)
        assert {y.shape[1:] for y in log.labels} == {(m,)}
        np.testing.assert_array_equal(log.labels[0][:rows], data[1][0::k].reshape(-1, m))
    else:
        assert log.labels == []


@pytest.mark.parametrize("cls, init_kwargs", ROUND_TRIP, ids=_ids(ROUND_TRIP))
def test_every_family_trains_and_round_trips_with_pack_2(cls, init_kwargs, tmp_path):
    gan = cls(**dict(init_kwargs, pack=2))
    gan.compile()
    history = harness.check_fit(gan)
    if gan.gp_weight:
        assert np.all(np.isfinite(history.history["gp"]))
    loaded = harness.check_save_load(gan, tmp_path)
    assert loaded.pack == 2 and loaded.get_config()["pack"] == 2
    channels = gan.image_shape[-1]
    assert loaded.discriminator.inputs[0].shape[1:] == (*gan.image_shape[:-1], 2 * channels)


def test_pack_is_validated():
    with pytest.raises(ValueError, match="pack must be an integer >= 1; got 0"):
        kg.models.VanillaGAN(**dict(VECTOR, pack=0))
    generator, _ = kg.models.networks.build_pair((2,), 2, g_hidden=(8,), d_hidden=(8,))
    _, packed4 = kg.models.networks.build_pair((2,), 2, g_hidden=(8,), d_hidden=(8,), pack=4)
    with pytest.raises(ValueError, match=r"packed 2 at a time, i\.e\. \(4,\)"):
        kg.models.GAN(generator, packed4, pack=2)


# ----- a batch that cannot be packed: a clear error before any update ---------------------


def _fails_before_any_update(gan, data, error, match):
    before = harness.weights(gan)
    with pytest.raises(error, match=match):
        gan.fit(data, epochs=1, verbose=0)
    harness.assert_all_close(harness.weights(gan), before)
    assert int(gan.d_optimizer.iterations.numpy()) == 0
    assert int(gan.g_optimizer.iterations.numpy()) == 0


@pytest.mark.parametrize(
    "pack, d_steps, batch, numbers",
    [(4, 1, 6, r"d_steps \* pack = 1 \* 4 = 4; got a batch of 6"),
     (2, 2, 6, r"d_steps \* pack = 2 \* 2 = 4; got a batch of 6")],
)
def test_a_batch_not_divisible_by_d_steps_times_pack_is_a_value_error(pack, d_steps, batch, numbers):
    gan = kg.models.VanillaGAN(**dict(VECTOR, pack=pack))
    gan.compile(d_steps=d_steps)
    data = tf.data.Dataset.from_tensor_slices(harness.tiny_data(gan, 2 * batch)).batch(batch, drop_remainder=True)
    _fails_before_any_update(gan, data, ValueError, numbers)


def test_a_batch_of_unknown_size_is_checked_when_it_runs():
    # No static batch size (the last batch may be short): the check runs in the graph,
    # still before the step updates anything.
    gan = kg.models.ConditionalGAN(**dict(VECTOR, num_classes=3, pack=4))
    gan.compile()
    data = tf.data.Dataset.from_tensor_slices(harness.tiny_data(gan, 6)).batch(6)
    assert data.element_spec[0].shape[0] is None
    _fails_before_any_update(
        gan, data, tf.errors.InvalidArgumentError, r"multiple of d_steps \* pack = 1 \* 4 = 4\."
    )
