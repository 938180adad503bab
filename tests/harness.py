"""The shared family test harness: every GAN family runs the same checks.

A family test gives tiny constructor arguments and calls `run_family_checks`; the
harness fits a few steps, checks the optimizers and metrics, round-trips the model
through `.keras`, continues training from the loaded model, and trains under
MirroredStrategy over two logical CPUs.
"""

import numpy as np
import tensorflow as tf
import keras


def tiny_data(gan, n=32, seed=0):
    """Random samples (and labels) of the GAN's shape, as a tuple for a dataset."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, *gan.image_shape)).astype("float32")
    if getattr(gan, "target_shape", None) is not None:  # an image-to-image model: (a, b) pairs
        return (x, rng.uniform(-1, 1, (n, *gan.target_shape)).astype("float32"))
    if gan.num_classes is None:
        return (x,)
    return (x, rng.integers(0, gan.num_classes, n).astype("int32"))


def batch_size(gan, m=4):
    return m * gan.d_steps * gan.pack


def dataset(gan, n=None, seed=0, m=4):
    """Two batches of m examples per discriminator step (unless n says otherwise)."""
    n = 2 * batch_size(gan, m) if n is None else n
    return tf.data.Dataset.from_tensor_slices(tiny_data(gan, n, seed)).batch(
        batch_size(gan, m), drop_remainder=True
    )


def weights(model):
    return [v.numpy() for v in model.weights]


def optimizer_state(gan):
    return [v.numpy() for v in gan.d_optimizer.variables + gan.g_optimizer.variables]


def assert_all_close(a, b, atol=0.0):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def check_fit(gan, steps=2):
    history = gan.fit(dataset(gan), steps_per_epoch=steps, epochs=1, verbose=0)
    names = {"d_loss", "g_loss", "d_real", "d_fake"} | ({"gp"} if gan.gp_weight else set())
    names |= family_metric_names(gan)
    assert set(history.history) == names
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), (name, values)
    # k discriminator updates per generator update.
    assert int(gan.g_optimizer.iterations.numpy()) == steps
    assert int(gan.d_optimizer.iterations.numpy()) == steps * gan.d_steps
    return history


def family_metric_names(gan):
    """Metrics a family logs besides the GAN's: pix2pix's L1 term, CycleGAN's cycle and
    identity losses."""
    if gan.family == "pix2pix":
        return {"l1"}
    if gan.family == "cyclegan":
        return {"cycle"} | ({"identity"} if gan.identity_weight else set())
    return set()


def check_save_load(gan, tmp_path):
    path = str(tmp_path / f"{gan.family}.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(gan)
    assert loaded.get_config() == gan.get_config()
    if hasattr(gan, "translators"):  # an image-to-image model: the same translations
        for direction, translator in gan.translators.items():
            images = np.random.default_rng(11).uniform(-1, 1, (3, *translator.inputs[0].shape[1:]))
            np.testing.assert_array_equal(loaded.translate(images, direction), gan.translate(images, direction))
    else:
        labels = None if gan.num_classes is None else np.arange(3) % gan.num_classes
        np.testing.assert_array_equal(loaded.sample(3, seed=11, labels=labels), gan.sample(3, seed=11, labels=labels))
    # Resuming: the optimizers come back with their slots and iteration counts.
    assert_all_close(optimizer_state(loaded), optimizer_state(gan))
    assert (loaded.d_steps, loaded.gp_weight, loaded.clip_value) == (gan.d_steps, gan.gp_weight, gan.clip_value)
    # And fit continues from the loaded model as it would have from the original.
    gan.fit(dataset(gan, seed=1), steps_per_epoch=1, epochs=1, verbose=0)
    loaded.fit(dataset(loaded, seed=1), steps_per_epoch=1, epochs=1, verbose=0)
    assert int(loaded.g_optimizer.iterations.numpy()) == int(gan.g_optimizer.iterations.numpy())
    assert_all_close(weights(loaded), weights(gan), atol=1e-5)
    return loaded


def check_mirrored(cls, init_kwargs, strategy, compare_one_device):
    with strategy.scope():
        gan = cls(**init_kwargs)
        gan.compile()
    data = dataset(gan, n=batch_size(gan, 4), m=4)
    gan.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    if compare_one_device:
        # No batch statistics: one step on 2 replicas is the same update as on one
        # device for the same global batch (same seed, so the same noise too).
        single = cls(**init_kwargs)
        single.compile()
        single.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
        assert_all_close(weights(gan.generator), weights(single.generator), atol=2e-5)
        assert_all_close(weights(gan.discriminator), weights(single.discriminator), atol=2e-5)
        changed = [not np.allclose(a, b) for a, b in zip(weights(single), weights(cls(**init_kwargs)))]
        assert any(changed), "the step changed no weight"
    return gan


def run_family_checks(cls, init_kwargs, tmp_path, strategy, compare_one_device):
    gan = cls(**init_kwargs)
    gan.compile()
    check_fit(gan)
    check_save_load(gan, tmp_path)
    check_mirrored(cls, init_kwargs, strategy, compare_one_device)
    return gan
