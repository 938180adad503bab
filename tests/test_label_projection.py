"""The projection discriminator (Miyato & Koyama, 2018) of the conditional GAN.

With `label_projection=True` the discriminator's score is psi(h) + <sum_p E[y_p], h>: h its
last features, psi its score layer, E a learned class embedding, summed over the labels of
a packed input. Checked against that closed form in NumPy, on both architectures, packed
and not; then on the paths GPUs take (mixed_float16 with XLA).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gans as kg
from keras_gans.models import networks

CASES = {
    "dcgan": dict(image_shape=(8, 8, 1), latent_dim=4, g_width=4, d_width=4, num_classes=5, seed=3),
    "dcgan-pack2": dict(image_shape=(8, 8, 1), latent_dim=4, g_width=4, d_width=4, num_classes=5, pack=2, seed=3),
    "mlp-pack3": dict(image_shape=(2,), latent_dim=2, g_hidden=(8,), d_hidden=(6, 7), num_classes=5, pack=3, seed=3),
}


def _inputs(discriminator, num_classes, n=6, seed=0):
    rng = np.random.default_rng(seed)
    samples = rng.uniform(-1, 1, (n, *discriminator.inputs[0].shape[1:])).astype("float32")
    labels = rng.integers(0, num_classes, (n, *discriminator.inputs[1].shape[1:])).astype("int32")
    return samples, labels


@pytest.mark.parametrize("case", list(CASES))
def test_the_score_is_the_plain_score_plus_the_projection_of_the_labels(case):
    kwargs = CASES[case]
    d = kg.models.ConditionalGAN(label_projection=True, **kwargs).discriminator
    samples, labels = _inputs(d, kwargs["num_classes"])
    score_layer, projection = d.get_layer("score"), d.get_layer("label_projection")
    features = keras.Model(d.inputs, score_layer.input)([samples, labels]).numpy()
    kernel, bias = (w.numpy() for w in score_layer.weights)
    embedding = projection.kernel.numpy()  # (classes, features): row c is E[c]

    expected = features @ kernel + bias
    expected[:, 0] += np.einsum("bf,bf->b", features, embedding[labels].sum(axis=1))
    np.testing.assert_allclose(d([samples, labels]).numpy(), expected, rtol=1e-5, atol=1e-5)

    # With E at zero the score is the plain discriminator's: the whole difference is the term.
    projection.kernel.assign(np.zeros_like(embedding))
    np.testing.assert_allclose(d([samples, labels]).numpy(), features @ kernel + bias, rtol=1e-5, atol=1e-5)


def test_the_plain_discriminator_has_no_projection_and_the_same_other_weights():
    plain = kg.models.ConditionalGAN(**CASES["dcgan"]).discriminator
    projected = kg.models.ConditionalGAN(label_projection=True, **CASES["dcgan"]).discriminator
    names = {layer.name for layer in plain.layers}
    assert not names & {"label_projection", "projection", "label_counts"}
    # The same seed gives every shared layer the same initial weights: only E is new.
    for layer in plain.layers:
        for a, b in zip(layer.get_weights(), projected.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_spectral_norm_bounds_the_embedding_too():
    kwargs = dict(CASES["mlp-pack3"], spectral_norm=True)
    gan = kg.models.ConditionalGAN(label_projection=True, **kwargs)
    layer = gan.discriminator.get_layer("label_projection_sn")
    labels = np.eye(5, dtype="float32")
    for _ in range(30):  # power iteration converges over training calls
        embedded = layer(labels, training=True).numpy()
    assert np.linalg.norm(embedded, 2) == pytest.approx(1.0, rel=0.02)


def test_a_projection_without_labels_is_refused():
    with pytest.raises(ValueError, match=r"label_projection needs labels .*num_classes=None"):
        networks.dcgan_discriminator((8, 8, 1), 4, num_classes=None, label_projection=True)
    with pytest.raises(ValueError, match=r"label_projection needs labels .*num_classes=None"):
        networks.mlp_discriminator((2,), (4,), num_classes=None, label_projection=True)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_under_xla_keeps_the_score_float32_and_learns_the_embedding(policy):
    with kg.models.precision_scope(policy):
        gan = kg.models.ConditionalGAN(label_projection=True, **CASES["dcgan-pack2"])
        gan.compile(jit_compile=True)
        rng = np.random.default_rng(0)
        data = tf.data.Dataset.from_tensor_slices((
            rng.uniform(-1, 1, (48, 8, 8, 1)).astype("float32"), rng.integers(0, 5, 48).astype("int32"),
        )).batch(16)
        before = gan.discriminator.get_layer("label_projection").kernel.numpy()
        history = gan.fit(data, epochs=1, verbose=0)
        d = gan.discriminator
        assert d.get_layer("projection").compute_dtype == "float32"
        assert d(_inputs(d, 5)).dtype == tf.float32
        for name, values in history.history.items():
            assert np.all(np.isfinite(values)), (name, values)
        after = d.get_layer("label_projection").kernel.numpy()
        assert np.all(np.isfinite(after)) and not np.allclose(before, after)
