"""SpectralNormalization (Miyato et al., 2018): sigma, gradient, state, saving, XLA, mixed precision, tf.distribute.

The reference values are computed in NumPy from the matricised kernel W [prod(shape[:-1]), out]
and the stored vector u: one power step v = unit(u W^T), u' = unit(v W), sigma = v W u'^T.
"""

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gans.models.spectral import SpectralNormalization

# name -> (wrapped layer factory, input shape); both kernels have 4 output columns.
LAYERS = {
    "dense": (lambda: keras.layers.Dense(4), (2, 6)),  # kernel (6, 4)
    "conv2d": (lambda: keras.layers.Conv2D(4, 2), (2, 3, 3, 3)),  # kernel (2, 2, 3, 4)
}
SINGULAR_VALUES = (3.0, 1.5, 1.0, 0.5)


def _matrix(w):
    return np.reshape(w, (-1, w.shape[-1]))


def _unit(x):
    return x / np.linalg.norm(x)


def _power_step(u, w):
    """(v, u') of one power iteration from u on the matricised kernel w."""
    v = _unit(u @ _matrix(w).T)
    return v, _unit(v @ _matrix(w))


def _kernel(shape, seed=0):
    """A float32 kernel whose matricisation has the singular values SINGULAR_VALUES."""
    rng = np.random.default_rng(seed)
    m, n = int(np.prod(shape[:-1])), shape[-1]
    left, _ = np.linalg.qr(rng.normal(size=(m, n)))
    right, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return ((left * SINGULAR_VALUES) @ right.T).reshape(shape).astype("float32")


def _layer(name, seed=0, **kwargs):
    """(built SpectralNormalization with a _kernel()-valued W, float32 input x)."""
    make, input_shape = LAYERS[name]
    layer = SpectralNormalization(make(), seed=seed, **kwargs)
    layer.build(input_shape)
    layer.kernel.assign(_kernel(tuple(layer.kernel.shape)))
    x = np.random.default_rng(1).normal(size=input_shape).astype("float32")
    return layer, x


def _upstream(name, x, r):
    """G = dL/dK of L = sum(layer(x; K) * r), computed in NumPy (both layers are linear in K)."""
    if name == "dense":
        return x.T @ r
    kh, kw = 2, 2
    p, q = r.shape[1:3]
    return np.stack([
        np.stack([np.einsum("bpqc,bpqf->cf", x[:, i:i + p, j:j + q], r) for j in range(kw)])
        for i in range(kh)
    ])


def _relative_error(actual, expected):
    return np.linalg.norm(np.asarray(actual) - expected) / np.linalg.norm(expected)


@contextlib.contextmanager
def _global_policy(name):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("name", list(LAYERS))
def test_sigma_converges_to_largest_singular_value(name):
    layer, x = _layer(name)
    for _ in range(50):
        layer(x, training=True)
    w = layer.kernel.numpy()
    normalized = keras.ops.convert_to_numpy(layer.normalized_kernel())
    sigma = np.linalg.norm(w) / np.linalg.norm(normalized)
    np.testing.assert_allclose(sigma, np.linalg.svd(_matrix(w), compute_uv=False)[0], rtol=1e-4)
    np.testing.assert_allclose(np.linalg.svd(_matrix(normalized), compute_uv=False)[0], 1.0, rtol=1e-4)

    # power_iterations=50 in one call is the same iteration as 50 calls of one step.
    many, _ = _layer(name, power_iterations=50)
    many(x, training=True)
    np.testing.assert_allclose(many.u.numpy(), layer.u.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradient_includes_the_sigma_term(name):
    # L(W) = <G, W / sigma(W)> near W, with sigma = v W u^T and u, v constant, so
    # dL/dW = G / sigma - <G, W> / sigma^2 * v^T u   (d sigma / dW = v^T u, an outer product).
    layer, x = _layer(name)
    w, u0 = layer.kernel.numpy().astype("float64"), layer.u.numpy().astype("float64")
    r = np.random.default_rng(2).normal(size=layer.compute_output_shape(x.shape)).astype("float32")
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * r)
    grad = tape.gradient(loss, layer.kernel)

    v, u = _power_step(u0, w)
    np.testing.assert_allclose(layer.u.numpy(), u, rtol=1e-5, atol=1e-6)
    sigma = (v @ _matrix(w) @ u.T).item()
    g = _upstream(name, x.astype("float64"), r.astype("float64"))
    expected = g / sigma - np.sum(g * w) / sigma**2 * (v.T @ u).reshape(w.shape)
    assert _relative_error(grad, expected) < 1e-5
    np.testing.assert_allclose(layer.kernel.numpy(), w, rtol=0, atol=0)  # W itself untouched
    if name == "dense":
        np.testing.assert_allclose(y, x @ (w / sigma), rtol=1e-5, atol=1e-5)  # zero bias


def test_keras_spectral_normalization_misses_the_sigma_term():
    # Why this module exists: Keras assigns W / sigma to the kernel and differentiates with
    # respect to that value, so its gradient is G (not even G / sigma), far from the above.
    x = np.random.default_rng(1).normal(size=(2, 6)).astype("float32")
    r = np.random.default_rng(2).normal(size=(2, 4)).astype("float32")
    w = _kernel((6, 4))
    ours, _ = _layer("dense")
    theirs = keras.layers.SpectralNormalization(keras.layers.Dense(4))
    theirs.build(x.shape)
    theirs.layer.kernel.assign(w)
    # Keras draws its u unseeded (from whatever state earlier tests left); start both layers
    # from our seeded u, so the power step, and sigma ~ 3, are the same in any test order.
    theirs.vector_u.assign(np.reshape(ours.u.numpy(), theirs.vector_u.shape))
    grads = []
    for layer, u0, kernel in ((ours, ours.u, ours.kernel), (theirs, theirs.vector_u, theirs.layer.kernel)):
        v, u = _power_step(u0.numpy().astype("float64"), w.astype("float64"))
        sigma = (v @ w @ u.T).item()
        g = _upstream("dense", x, r)
        expected = g / sigma - np.sum(g * w) / sigma**2 * (v.T @ u)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True) * r)
        grads.append(_relative_error(tape.gradient(loss, kernel), expected))
    assert grads[0] < 1e-5
    assert grads[1] > 0.5, grads
    assert not np.allclose(theirs.layer.kernel.numpy(), w)  # and Keras overwrote W


@pytest.mark.parametrize("make, x", [
    (lambda: keras.layers.Dense(3, activation="tanh"), np.linspace(-1, 1, 8).reshape(2, 4)),
    (lambda: keras.layers.Conv2D(3, 2, strides=2, padding="same", activation="relu"),
     np.linspace(-1, 1, 50).reshape(1, 5, 5, 2)),
    (lambda: keras.layers.Conv2DTranspose(3, 2, strides=2), np.linspace(-1, 1, 18).reshape(1, 3, 3, 2)),
    (lambda: keras.layers.Embedding(5, 3), np.array([[0, 4, 2]])),
], ids=["dense", "conv2d", "conv2d_transpose", "embedding"])
def test_wrapped_layer_computes_with_the_normalized_kernel(make, x):
    layer = SpectralNormalization(make(), seed=0)
    y = layer(x)
    plain = make()
    plain.build(x.shape)
    plain.set_weights([keras.ops.convert_to_numpy(layer.normalized_kernel()), *layer.layer.get_weights()[1:]])
    np.testing.assert_allclose(y, plain(x), rtol=1e-6, atol=1e-6)


def test_training_updates_only_u_and_inference_updates_nothing():
    layer, x = _layer("conv2d")
    kernel, u = layer.kernel.numpy(), layer.u.numpy()
    y_inference = layer(x, training=False)
    np.testing.assert_array_equal(layer.u.numpy(), u)
    # Output is a function of (W, u, x): inference runs the same iteration, unstored.
    y_training = layer(x, training=True)
    np.testing.assert_allclose(y_training, y_inference, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
    np.testing.assert_allclose(layer.u.numpy(), _power_step(u, kernel)[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(layer.u.numpy(), u)


def test_stateless_call_uses_the_given_state():
    layer, x = _layer("dense")
    kernel, bias, u = layer.kernel.numpy(), layer.layer.bias.numpy(), layer.u.numpy()
    y = layer(x)
    y_stateless, (u_new,) = layer.stateless_call([2 * kernel, bias + 1], [u], x, training=True)
    # W / sigma(W) is scale invariant, the given bias is the one used, and the new u is
    # returned, not assigned.
    np.testing.assert_allclose(y_stateless, y + 1, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.u.numpy(), u)
    np.testing.assert_allclose(u_new, _power_step(u, kernel)[1], rtol=1e-5, atol=1e-6)


def test_layer_without_kernel_is_rejected():
    with pytest.raises(ValueError, match="kernel.*embeddings.*ReLU"):
        SpectralNormalization(keras.layers.ReLU())(np.ones((1, 2), "float32"))


def test_saving_round_trip(tmp_path):
    inputs = keras.Input((5, 5, 1))
    h = SpectralNormalization(keras.layers.Conv2D(2, 3), seed=1)(inputs)
    h = keras.layers.Flatten()(h)
    outputs = SpectralNormalization(keras.layers.Dense(1), power_iterations=2, seed=2)(h)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(3, 5, 5, 1)).astype("float32")
    model(x, training=True)  # u moved away from its initial value
    model.save(tmp_path / "sn.keras")
    loaded = keras.saving.load_model(tmp_path / "sn.keras")

    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)
    for original, copy in zip(model.layers[1::2], loaded.layers[1::2]):
        assert isinstance(copy, SpectralNormalization)
        assert (copy.power_iterations, copy.seed) == (original.power_iterations, original.seed)
        np.testing.assert_array_equal(copy.u.numpy(), original.u.numpy())
        np.testing.assert_array_equal(copy.kernel.numpy(), original.kernel.numpy())
    # The state is complete: training goes on identically.
    loaded(x, training=True), model(x, training=True)
    np.testing.assert_allclose(loaded.layers[-1].u.numpy(), model.layers[-1].u.numpy(), rtol=1e-6)


def _training_step(layer, x):
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32") ** 2)
    return y, tape.gradient(loss, layer.kernel)


def test_xla_matches_eager():
    eager, x = _layer("conv2d")
    compiled = SpectralNormalization.from_config(eager.get_config())
    compiled.build(x.shape)
    compiled.set_weights(eager.get_weights())

    y, grad = _training_step(eager, x)
    y_xla, grad_xla = tf.function(_training_step, jit_compile=True)(compiled, tf.constant(x))
    np.testing.assert_allclose(y_xla, y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_xla, grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(compiled.u.numpy(), eager.u.numpy(), rtol=1e-5, atol=1e-6)


def test_mixed_float16_keeps_power_iteration_in_float32():
    reference, x = _layer("dense")
    with _global_policy("mixed_float16"):
        direct = SpectralNormalization(keras.layers.Dense(4), seed=0)
        inputs = keras.Input((6,))
        model = keras.Model(inputs, SpectralNormalization(keras.layers.Dense(4), seed=0)(inputs))
        in_model = model.layers[-1]
        direct.build(x.shape)
        for layer in (direct, in_model):
            layer.set_weights(reference.get_weights())
            assert layer.kernel.dtype == layer.u.dtype == "float32"
        y, grad = _training_step(reference, x)
        y_direct, grad_direct = _training_step(direct, x)
        y_model = model(x, training=True)  # the model's float16 autocast scope is active

    assert y_direct.dtype == y_model.dtype == "float16"
    assert grad_direct.dtype == "float32"
    np.testing.assert_allclose(y_direct, y, rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(y_model, y, rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(grad_direct, grad, rtol=1e-2, atol=1e-2)
    # u from a float16 power iteration would be off by ~1e-3.
    for layer in (direct, in_model):
        np.testing.assert_allclose(layer.u.numpy(), reference.u.numpy(), rtol=1e-6, atol=1e-7)


def test_mirrored_strategy_keeps_u_in_sync(mirrored):
    single, x = _layer("dense")
    with mirrored.scope():
        layer = SpectralNormalization.from_config(single.get_config())
        layer.build(x.shape)
    layer.set_weights(single.get_weights())
    _training_step(single, x)

    @tf.function
    def step(x):
        return mirrored.run(_training_step, args=(layer, x))

    step(tf.constant(x))
    replicas = mirrored.experimental_local_results(layer.u.value)
    assert len(replicas) == 2
    np.testing.assert_array_equal(replicas[0].numpy(), replicas[1].numpy())
    np.testing.assert_allclose(replicas[0].numpy(), single.u.numpy(), rtol=1e-6, atol=1e-7)
