"""The generator's moving average (`ema_decay`): the average after each generator update,
generation from it everywhere (sample, export), `.keras` round trip, replicas, the refusals."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import keras_gans as kg
from keras_gans.models.sampling import latent_from_seed
from tests import harness

TOY = dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(8,), seed=3)
IMAGE = dict(image_shape=(8, 8, 1), latent_dim=4, g_width=4, d_width=4, seed=3)  # BatchNorm in G


class _GeneratorHistory(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_begin(self, logs=None):
        self.weights.append([v.numpy() for v in self.model.generator.trainable_variables])

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([v.numpy() for v in self.model.generator.trainable_variables])


def _fit(gan, steps=6, strategy=None):
    data = harness.dataset(gan, n=steps * harness.batch_size(gan))
    history = _GeneratorHistory()
    gan.fit(data, epochs=1, verbose=0, callbacks=[history])
    return history.weights


@pytest.mark.parametrize("cls, kwargs", [(kg.models.DCGAN, IMAGE)], ids=["dcgan"])
def test_the_average_follows_every_generator_update(cls, kwargs):
    gan = cls(**kwargs, ema_decay=0.7)
    gan.compile()
    history = _fit(gan)
    expected = [w.astype(np.float64) for w in history[0]]  # starts from the initial weights
    for step in history[1:]:
        expected = [0.7 * e + 0.3 * w for e, w in zip(expected, step)]
    for average, want, live in zip(gan._ema, expected, history[-1]):
        np.testing.assert_allclose(average.numpy(), want, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a.numpy(), w) for a, w in zip(gan._ema, history[-1]))

    # Samples come from the average: the same as a copy of the generator holding it.
    twin = cls(**kwargs)
    twin.generator.set_weights(gan.generator.get_weights())
    for var, average in zip(twin.generator.trainable_variables, gan._ema):
        var.assign(average)
    np.testing.assert_allclose(gan.sample(8, seed=1), twin.sample(8, seed=1), atol=1e-6)
    plain = cls(**kwargs)
    plain.generator.set_weights(gan.generator.get_weights())
    assert not np.allclose(gan.sample(8, seed=1), plain.sample(8, seed=1), atol=1e-4)


def test_the_training_updates_are_those_of_the_gan_without_an_average():
    gans = [kg.models.VanillaGAN(**TOY), kg.models.VanillaGAN(**TOY, ema_decay=0.9)]
    for gan in gans:
        gan.compile()
        _fit(gan, steps=3)
    for a, b in zip(harness.weights(gans[0].generator) + harness.weights(gans[0].discriminator),
                    harness.weights(gans[1].generator) + harness.weights(gans[1].discriminator)):
        np.testing.assert_array_equal(a, b)


def test_round_trip_keeps_the_average_and_the_export_samples_from_it(tmp_path):
    gan = kg.models.DCGAN(**IMAGE, ema_decay=0.8)
    gan.compile()
    _fit(gan, steps=3)
    path = tmp_path / "gan.keras"
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.ema_decay == 0.8 and loaded.get_config()["ema_decay"] == 0.8
    for a, b in zip(gan._ema, loaded._ema):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(gan.sample(4, seed=2), loaded.sample(4, seed=2))
    _fit(loaded, steps=1)  # continues training, average and all

    version = kg.export.export_generator(gan, str(tmp_path / "served"), version=1)
    served = tf.saved_model.load(str(tmp_path / "served" / "1"))
    images = served.signatures["serving_default"](z=tf.constant(latent_from_seed(4, 4, 2)))
    ((_, out),) = images.items()
    np.testing.assert_allclose(out.numpy(), gan.sample(4, seed=2), atol=1e-5)
    assert version is not None


def test_two_replicas_keep_the_average_one_device_does(mirrored):
    with mirrored.scope():
        gan = kg.models.VanillaGAN(**TOY, ema_decay=0.5)
        gan.compile()
    single = kg.models.VanillaGAN(**TOY, ema_decay=0.5)
    single.compile()
    data = harness.dataset(single, n=3 * harness.batch_size(single))
    for model in (gan, single):
        model.fit(data, epochs=1, verbose=0)
    for a, b in zip(gan._ema, single._ema):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5, -0.1])
def test_a_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ValueError, match=rf"ema_decay must be in \(0, 1\), e.g. 0.999; got {decay}"):
        kg.models.VanillaGAN(**TOY, ema_decay=decay)


def test_a_file_without_the_average_is_refused_by_a_model_that_keeps_one(tmp_path):
    gan = kg.models.VanillaGAN(**TOY)
    gan.compile()
    path = tmp_path / "plain.keras"
    gan.save(path)
    averaged = kg.models.VanillaGAN(**TOY, ema_decay=0.9)
    with pytest.raises(ValueError, match="no moving average of the generator"):
        averaged.load_weights(path)


def test_mixed_float16_keeps_a_float32_average_that_follows_the_generator():
    gan = kg.models.DCGAN(**IMAGE, ema_decay=0.7)
    gan.compile()
    twin = gan.with_precision("mixed_float16")
    assert twin.precision == "mixed_float16" and twin.ema_decay == 0.7
    for a, b in zip(gan._ema, twin._ema):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    history = _fit(twin, steps=2)
    expected = history[0]
    for step in history[1:]:
        expected = [0.7 * e + 0.3 * w for e, w in zip(expected, step)]
    for average, want in zip(twin._ema, expected):
        assert average.dtype == "float32"
        np.testing.assert_allclose(average.numpy(), want, rtol=1e-5, atol=1e-6)
    assert np.isfinite(twin.sample(4, seed=0)).all()


def test_with_ema_adds_an_average_to_a_trained_gan_that_goes_on_as_the_same_run():
    gan = kg.models.DCGAN(**IMAGE)
    gan.compile()
    _fit(gan, steps=2)
    twin = gan.with_ema(0.7)
    assert twin.ema_decay == 0.7 and gan.ema_decay is None
    assert int(twin.train_steps.numpy()) == int(gan.train_steps.numpy()) == 2
    for name in ("d_optimizer", "g_optimizer"):
        assert int(getattr(twin, name).iterations.numpy()) == 2
    for average, var in zip(twin._ema, gan.generator.trainable_variables):
        np.testing.assert_array_equal(average.numpy(), var.numpy())
    # The same training from here (weights, optimizer moments, noise stream), now averaged.
    history = _fit(twin, steps=3)
    _fit(gan, steps=3)
    for a, b in zip(twin.generator.get_weights(), gan.generator.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    expected = history[0]
    for step in history[1:]:
        expected = [0.7 * e + 0.3 * w for e, w in zip(expected, step)]
    for average, want in zip(twin._ema, expected):
        np.testing.assert_allclose(average.numpy(), want, rtol=1e-5, atol=1e-6)
    # Another decay on a GAN that keeps one: its average carries over.
    again = twin.with_ema(0.9)
    for a, b in zip(again._ema, twin._ema):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
