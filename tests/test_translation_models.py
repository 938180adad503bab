"""The image-to-image families, pix2pix and CycleGAN: the shared family checks, the
networks at every supported size, CycleGAN's history pool, the losses against their
closed forms, mixed precision, XLA, and learning on real digits (slow)."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gans as kg
from keras_gans.models import translation_networks as tn
from keras_gans.models.cyclegan import query_pool
from tests import harness

MNIST_DIR = Path(__file__).parent / "data" / "mnist"
# Tiny and shallow: tracing a step costs more than running it. Two-level U-Nets; a pool
# of 3 fills within the harness's first steps, so later steps swap and a loaded model
# must continue with the same history.
TINY_PIX2PIX = dict(g_width=4, d_width=4, depth=2, seed=3)
TINY_CYCLEGAN = dict(generator="unet", depth=2, g_width=4, d_width=4, pool_size=3, seed=3)
TINY_RESNET_CYCLEGAN = dict(g_width=4, d_width=4, blocks=0, seed=3)
FAMILIES = [
    # (class, tiny constructor arguments): both compare 2 replicas with one device
    # (synchronised BatchNorm, instance norm, the global pool and dropout masks).
    (kg.models.Pix2Pix, TINY_PIX2PIX),
    (kg.models.CycleGAN, TINY_CYCLEGAN),
]


def check_export(model, tmp_path):
    """The exported translate signatures give what `translate` gives, direction by direction."""
    version = kg.export.export_translator(model, tmp_path / "export")
    loaded = tf.saved_model.load(str(tmp_path / "export" / str(version)))
    names = {"a_to_b": "translate", "b_to_a": "translate_b_to_a"}
    for direction, translator in model.translators.items():
        images = np.random.default_rng(5).uniform(-1, 1, (2, *translator.inputs[0].shape[1:])).astype("float32")
        out = loaded.signatures[names[direction]](images=tf.constant(images))["images"]
        np.testing.assert_allclose(out.numpy(), model.translate(images, direction), atol=1e-5)


@pytest.mark.parametrize("cls, init_kwargs", FAMILIES, ids=[c.family for c, _ in FAMILIES])
def test_family(cls, init_kwargs, tmp_path, mirrored):
    model = harness.run_family_checks(cls, init_kwargs, tmp_path, mirrored, compare_one_device=True)
    assert model.latent_dim is None and model.image_shape == model.target_shape == (28, 28, 1)
    assert kg.models.get(cls.family) is cls
    check_export(model, tmp_path)


# ----- networks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, depth, patch, blocks",
    [(28, 5, 16, 6), (32, 5, 16, 6), (64, 6, 16, 6), (128, 7, 34, 6), (256, 8, 70, 9)],
)
def test_networks_scale_with_the_image(size, depth, patch, blocks):
    shape = (size, size, 3)
    assert tn.default_unet_depth(shape) == depth  # down to a 1x1 bottleneck (28 padded to 32)
    assert tn.default_patch_size(shape) == patch  # the paper's 70 on 256, scaled
    assert tn.default_resnet_blocks(shape) == blocks
    assert tn.patch_receptive_field(tn.PATCH_SIZES[patch]) == patch
    x = tf.random.uniform([1, *shape], -1, 1)
    unet = tn.unet_generator(shape, 1, width=2, seed=0)
    bottleneck = unet.get_layer(f"down_{depth - 1}").output
    assert tuple(bottleneck.shape[1:3]) == (1, 1)
    out = unet(x, training=False)
    assert out.shape == (1, size, size, 1) and out.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(out))) <= 1.0
    # The innermost decoder layers have dropout: 3 at 256 pixels (CD512 x 3 in the paper),
    # as many as the authors' code below, and at least one.
    dropped = [l.name for l in unet.layers if isinstance(l, tn.SeededDropout)]
    assert dropped == [f"up_{j}_dropout" for j in range(depth - 2, depth - 2 - max(1, depth - 5), -1)]
    critic = tn.patch_discriminator(shape, width=2, seed=0)
    side = -(-size // 2 ** tn.PATCH_SIZES[patch])
    assert critic(x).shape == (1, side, side, 1)
    if size <= 64:
        resnet = tn.resnet_generator(shape, width=2, blocks=1, seed=0)
        assert resnet(x).shape == (1, size, size, 3)


def test_patch_discriminator_outputs_see_only_their_patch():
    # The output at one position changes with a pixel inside its receptive field only.
    critic = tn.patch_discriminator((64, 64, 1), width=2, patch_size=16, norm="none", seed=0)
    x = np.zeros((1, 64, 64, 1), "float32")
    base = critic(x).numpy()
    near, far = x.copy(), x.copy()
    near[0, 14, 14] = 1.0  # within the 16x16 field of output (7, 7), which centres at 14-15
    far[0, 40, 40] = 1.0
    assert abs(critic(near).numpy()[0, 7, 7, 0] - base[0, 7, 7, 0]) > 0
    assert critic(far).numpy()[0, 7, 7, 0] == base[0, 7, 7, 0]


def test_bad_network_arguments_are_clear():
    with pytest.raises(ValueError, match=r"patch_size must be one of \[16, 34, 70, 142, 286\] .*; got 50"):
        kg.models.Pix2Pix(patch_size=50)
    with pytest.raises(ValueError, match="fewer than 2x2 patches of a 28x28"):
        kg.models.Pix2Pix(patch_size=286)
    with pytest.raises(ValueError, match="multiples of 4; got \\(30, 30\\)"):
        kg.models.CycleGAN(image_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="generator must be one of"):
        kg.models.CycleGAN(generator="vgg")
    with pytest.raises(ValueError, match="identity loss.*got 1 and 3"):
        kg.models.CycleGAN(target_channels=3, g_width=2, d_width=2)


def test_other_channels_and_both_directions():
    pix = kg.models.Pix2Pix(image_shape=(32, 32, 1), target_channels=3, g_width=2, d_width=2, seed=0)
    assert pix.target_shape == (32, 32, 3) and pix.discriminator.inputs[0].shape[-1] == 4
    edges = np.zeros((2, 32, 32, 1), np.uint8)  # uint8 is read as [0, 255]
    assert pix.translate(edges).shape == (2, 32, 32, 3)
    assert pix.translate(edges[0]).shape == (32, 32, 3)
    cyc = kg.models.CycleGAN(image_shape=(32, 32, 1), target_channels=3, generator="unet", g_width=2,
                             d_width=2, identity_weight=0, seed=0)
    assert set(cyc.translators) == {"a_to_b", "b_to_a"} and cyc.generator is cyc.generator_ab
    assert cyc.translate(np.zeros((2, 32, 32, 3), "float32"), "b_to_a").shape == (2, 32, 32, 1)
    with pytest.raises(ValueError, match=r"translates \(b_to_a\) images of shape \(32, 32, 3\); got images of shape \(2, 32, 32, 1\)"):
        cyc.translate(np.zeros((2, 32, 32, 1)), "b_to_a")
    with pytest.raises(ValueError, match="direction\\(s\\) 'a_to_b'; got direction='b_to_a'"):
        pix.translate(edges, "b_to_a")
    with pytest.raises(ValueError, match="use translate"):
        pix.sample(2)


# ----- the history pool -------------------------------------------------------------


def _ids(images):
    """The id of each constant image (its value)."""
    return [int(round(float(v))) for v in np.asarray(images).reshape(len(images), -1)[:, 0]]


_query_pool = tf.function(query_pool)


def _query(pool, stored, ids, seed):
    images = np.asarray(ids, "float32").reshape(-1, 1, 1, 1) * np.ones((1, 2, 2, 1), "float32")
    returned, pool, stored = _query_pool(tf.constant(pool), tf.constant(stored), tf.constant(images),
                                         tf.constant([7, seed], tf.int64))
    return _ids(returned), pool.numpy(), int(stored)


def test_history_pool_fills_first_then_returns_stored_images_half_the_time():
    pool = np.zeros((5, 2, 2, 1), "float32")
    returned, pool, stored = _query(pool, 0, [1, 2, 3], seed=0)
    assert returned == [1, 2, 3] and stored == 3 and _ids(pool) == [1, 2, 3, 0, 0]
    returned, pool2, stored = _query(pool, 3, [4, 5, 6, 7], seed=1)
    assert returned[:2] == [4, 5] and stored == 5  # the last two free slots
    # 4 and 5 filled the empty slots (and were returned); 6 and 7 were returned or swapped
    # for stored images: nothing else is lost or made up.
    assert sorted(returned + _ids(pool2)) == sorted([1, 2, 3, 4, 5] + [4, 5, 6, 7])

    # Full: each new image is swapped for a stored one with probability 0.5.
    pool = np.arange(100, 150, dtype="float32").reshape(50, 1, 1, 1) * np.ones((1, 2, 2, 1), "float32")
    swapped, slots = 0, set()
    for step in range(40):
        before = set(_ids(pool))
        new = list(range(1000 * (step + 1), 1000 * (step + 1) + 50))
        returned, after, stored = _query(pool, 50, new, seed=100 + step)
        assert stored == 50
        assert sorted(returned + _ids(after)) == sorted(list(before) + new)
        # A swap returns a stored image: one from before, or one of this batch stored by
        # an earlier swap (the images are queried in order).
        for i, (r, x) in enumerate(zip(returned, new)):
            swapped += r != x
            assert r == x or r in before or r in new[:i]
        slots |= {i for i, (x, y) in enumerate(zip(_ids(pool), _ids(after))) if x != y}
        pool = after
    assert 0.45 < swapped / 2000 < 0.55, swapped / 2000  # 2000 draws: sd 0.011
    assert len(slots) == 50  # every slot gets replaced


def test_history_pool_is_one_pool_under_xla_and_across_replicas(mirrored):
    images = tf.random.stateless_uniform([8, 2, 2, 1], seed=[1, 2])
    seeds = [tf.constant([3, s], tf.int64) for s in range(3)]

    def run(compiled):
        pool = kg.models.HistoryPool(5, (2, 2, 1))
        call = tf.function(pool, jit_compile=True) if compiled else pool
        outs = [call(images * (s + 1), seed) for s, seed in enumerate(seeds)]
        return [np.asarray(o) for o in outs], pool.images.numpy(), int(pool.stored.numpy())

    eager, xla = run(False), run(True)
    harness.assert_all_close(eager[0] + [eager[1]], xla[0] + [xla[1]])
    assert eager[2] == xla[2] == 5

    # Two replicas, four images each: the same global query as one device.
    with mirrored.scope():
        pool = kg.models.HistoryPool(5, (2, 2, 1))
    step = tf.function(lambda v, seed: mirrored.run(pool, args=(v, seed)))
    outs = []
    for s, seed in enumerate(seeds):
        x = images * (s + 1)
        per_replica = mirrored.experimental_distribute_values_from_function(
            lambda ctx: x[4 * ctx.replica_id_in_sync_group : 4 * (ctx.replica_id_in_sync_group + 1)]
        )
        out = step(per_replica, seed)
        outs.append(np.concatenate([t.numpy() for t in mirrored.experimental_local_results(out)]))
    harness.assert_all_close(outs + [pool.images.numpy()], eager[0] + [eager[1]])


def test_linear_decay():
    schedule = kg.models.LinearDecay(2e-4, constant_steps=10, decay_steps=4)
    rates = [float(schedule(t)) for t in (0, 10, 11, 12, 14, 20)]
    np.testing.assert_allclose(rates, [2e-4, 2e-4, 1.5e-4, 1e-4, 0.0, 0.0], rtol=1e-6)
    model = kg.models.CycleGAN(g_width=2, d_width=2, blocks=0, seed=0)
    model.compile(lr_decay=(10, 4))
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(model.g_optimizer))
    restored.iterations.assign(12)
    assert float(restored.learning_rate) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="lr_decay sets the default optimizers"):
        model.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), lr_decay=(10, 4))
    with pytest.raises(ValueError, match=r"lr_decay must be a pair \(constant_steps, decay_steps\); got 10"):
        model.compile(lr_decay=10)


# ----- the objectives ---------------------------------------------------------------


def _logged_after_one_frozen_step(model, a, b):
    """The metrics of one train step with learning rate 0 (the networks do not move)."""
    model.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    logs = model.fit(tf.data.Dataset.from_tensors((a, b)), epochs=1, verbose=0).history
    return {name: values[0] for name, values in logs.items()}


def _mean_softplus(x):
    return float(np.mean(np.logaddexp(0.0, np.asarray(x, np.float64))))


def test_pix2pix_losses_are_the_papers():
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32") for _ in range(2))
    model = kg.models.Pix2Pix(**dict(TINY_PIX2PIX, dropout=0.0))
    logs = _logged_after_one_frozen_step(model, a, b)
    fake = model.generator(a, training=True).numpy()
    real_out = model.discriminator(np.concatenate([a, b], -1), training=True).numpy()
    fake_out = model.discriminator(np.concatenate([a, fake], -1), training=True).numpy()
    l1 = np.mean(np.abs(b - fake))
    expected = {
        # D: half of -log D(x, y) - log(1 - D(x, G(x))), on logits.
        "d_loss": 0.5 * (_mean_softplus(-real_out) + _mean_softplus(fake_out)),
        # G: -log D(x, G(x)) + 100 * L1.
        "g_loss": _mean_softplus(-fake_out) + 100.0 * l1,
        "l1": l1,
        "d_real": np.mean(1 / (1 + np.exp(-real_out))),
        "d_fake": np.mean(1 / (1 + np.exp(-fake_out))),
    }
    assert set(logs) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(logs[name], value, rtol=2e-5, err_msg=name)
    # evaluate: the same objective in inference mode, on the same batch twice alike.
    evaluated = model.evaluate(tf.data.Dataset.from_tensors((a, b)), verbose=0, return_dict=True)
    assert evaluated == model.evaluate(tf.data.Dataset.from_tensors((a, b)), verbose=0, return_dict=True)
    np.testing.assert_allclose(evaluated["l1"], np.mean(np.abs(b - model.translate(a))), rtol=1e-5)
    model.compile()
    assert isinstance(model.d_optimizer, keras.optimizers.Adam)
    assert (float(model.d_optimizer.learning_rate), model.d_optimizer.beta_1) == pytest.approx((2e-4, 0.5))


def test_cyclegan_losses_are_the_papers():
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32") for _ in range(2))
    model = kg.models.CycleGAN(**TINY_RESNET_CYCLEGAN)  # the pool of 50 is not full yet
    logs = _logged_after_one_frozen_step(model, a, b)
    g, f = (lambda x: model.generator_ab(x).numpy()), (lambda x: model.generator_ba(x).numpy())
    d_a, d_b = (lambda x: model.discriminator_a(x).numpy()), (lambda x: model.discriminator_b(x).numpy())
    fake_b, fake_a = g(a), f(b)  # what the pools return while they fill
    cycle = np.mean(np.abs(f(fake_b) - a)) + np.mean(np.abs(g(fake_a) - b))
    identity = np.mean(np.abs(f(a) - a)) + np.mean(np.abs(g(b) - b))
    expected = {
        # Least squares, each discriminator's objective halved.
        "d_loss": 0.5 * (np.mean((d_a(a) - 1) ** 2) + np.mean(d_a(fake_a) ** 2))
        + 0.5 * (np.mean((d_b(b) - 1) ** 2) + np.mean(d_b(fake_b) ** 2)),
        # E[(D_B(G(a)) - 1)^2] + E[(D_A(F(b)) - 1)^2] + 10 L_cyc + 0.5 * 10 L_id.
        "g_loss": np.mean((d_b(fake_b) - 1) ** 2) + np.mean((d_a(fake_a) - 1) ** 2)
        + 10.0 * cycle + 5.0 * identity,
        "cycle": cycle,
        "identity": identity,
        "d_real": 0.5 * (np.mean(d_a(a)) + np.mean(d_b(b))),
        "d_fake": 0.5 * (np.mean(d_a(fake_a)) + np.mean(d_b(fake_b))),
    }
    assert set(logs) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(logs[name], value, rtol=2e-5, atol=1e-7, err_msg=name)
    # The step put the generated images in the pools.
    assert int(model.pool_b.stored.numpy()) == 4
    np.testing.assert_allclose(model.pool_b.images.numpy()[:4], fake_b, atol=1e-6)


def test_fit_needs_pairs_of_the_right_shapes():
    model = kg.models.Pix2Pix(**TINY_PIX2PIX)
    model.compile()
    images = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match=r"trains on \(a, b\) batches.*got a tuple of 1"):
        model.fit(tf.data.Dataset.from_tensor_slices(images).batch(4), epochs=1, verbose=0)
    wrong = tf.data.Dataset.from_tensor_slices((images, np.zeros((4, 28, 28, 3), "float32"))).batch(4)
    with pytest.raises(ValueError, match=r"B images of shape \(28, 28, 3\).*\(28, 28, 1\) images into \(28, 28, 1\)"):
        model.fit(wrong, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="one discriminator and one generator update.*d_steps=2"):
        model.compile(d_steps=2)
    assert int(model.g_optimizer.iterations.numpy()) == 0


@pytest.mark.parametrize("cls, init_kwargs", FAMILIES, ids=[c.family for c, _ in FAMILIES])
def test_mixed_float16_scales_the_losses_and_loads_under_float32(cls, init_kwargs, tmp_path):
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32") for _ in range(2))

    def one_step(scaled):
        model = cls(**init_kwargs)
        optimizers = [keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05)]
        if scaled:
            # 2^8, not the default 2^15, under which pix2pix's first gradients (100 * L1)
            # overflow float16 and the step is skipped, as dynamic loss scaling does.
            optimizers = [keras.optimizers.LossScaleOptimizer(o, initial_scale=2.0**8) for o in optimizers]
        model.compile(*optimizers)
        before = harness.weights(model)
        model.fit(tf.data.Dataset.from_tensors((a, b)), epochs=1, verbose=0)
        assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 1  # not skipped
        deltas = [w - v for w, v in zip(harness.weights(model), before)]
        return model, np.concatenate([d.ravel() for d in deltas])

    _, full = one_step(False)
    with kg.models.precision_scope("mixed_float16"):
        model, half = one_step(True)
        fresh = cls(**init_kwargs)
        fresh.compile()
    assert model.precision == "mixed_float16"
    assert isinstance(fresh.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(fresh.d_optimizer, keras.optimizers.LossScaleOptimizer)
    # The same update as float32: a missing or doubled loss scale would be 256x off.
    # (BatchNorm's backward pass magnifies 16-bit rounding, as test_mixed_precision notes.)
    assert np.linalg.norm(half - full) < 0.25 * np.linalg.norm(full)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")  # under float32
    assert loaded.precision == "mixed_float16"
    x = a[:2]
    np.testing.assert_array_equal(loaded.translate(x), model.translate(x))
    # And a float32 copy with the same weights and optimizer state.
    twin = model.with_precision("float32")
    assert twin.precision == "float32" and int(twin.g_optimizer.iterations) == 1
    np.testing.assert_allclose(twin.translate(x), model.translate(x), atol=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("cls, init_kwargs", FAMILIES, ids=[c.family for c, _ in FAMILIES])
def test_xla_train_step_is_the_graph_one(cls, init_kwargs):
    """jit_compile=True (Keras' "auto" on a GPU): the same steps, compiled once."""
    data = harness.dataset(cls(**init_kwargs), n=12)  # three steps: the pool fills and swaps
    results = []
    for jit in (False, True):
        model = cls(**init_kwargs)
        # SGD: Adam's first steps are lr * sign(g), which would magnify rounding in tiny gradients.
        model.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), jit_compile=jit)
        model.fit(data, epochs=1, verbose=0)
        results.append(harness.weights(model))  # the pools' images and the dropout counters too
    harness.assert_all_close(results[0], results[1], atol=2e-6)


# ----- learning on real digits ------------------------------------------------------


def _digits_task(task):
    a, b, labels = kg.data.mnist_task(task, MNIST_DIR, split="test")
    to_float = lambda x: x.astype("float32") / 127.5 - 1.0  # noqa: E731
    return to_float(a), to_float(b), labels


@pytest.mark.slow
def test_pix2pix_turns_edge_maps_into_digits_the_classifier_recognises():
    edges, digits, labels = _digits_task("mnist_edges")
    train, held = slice(0, 800), slice(800, 1000)
    model = kg.models.Pix2Pix(g_width=16, d_width=16, seed=0)
    model.compile()  # the paper's: Adam(2e-4, 0.5), lambda = 100
    data = tf.data.Dataset.from_tensor_slices((edges[train], digits[train])).shuffle(800, seed=0)
    model.fit(data.batch(16, drop_remainder=True).repeat(), steps_per_epoch=700, epochs=1, verbose=0)
    out = model.translate(edges[held])
    l1, identity_l1 = np.mean(np.abs(out - digits[held])), np.mean(np.abs(edges[held] - digits[held]))
    classifier = kg.evaluation.load_classifier()
    accuracy = classifier.accuracy(out, labels[held]).value
    print(f"pix2pix held-out L1 {l1:.3f} (identity {identity_l1:.3f}), classifier accuracy {accuracy:.3f} "
          f"(edge maps {classifier.accuracy(edges[held], labels[held]).value:.3f}, "
          f"digits {classifier.accuracy(digits[held], labels[held]).value:.3f})")
    # Seed 0: L1 0.40 (identity) -> 0.10; accuracy 0.17 on the edge maps, 0.90 on the
    # translations (0.92 after 800 steps), 0.99 on the digits. Learning comes in a jump
    # after ~500 steps (0.78 at 500).
    assert l1 < 0.5 * identity_l1, (l1, identity_l1)
    assert accuracy > 0.8, accuracy


@pytest.mark.slow
def test_cyclegan_round_trip_keeps_the_digit_class():
    digits, inverted, labels = _digits_task("mnist_invert")  # disjoint halves, unpaired
    train, held = slice(0, 400), slice(400, 500)
    model = kg.models.CycleGAN(g_width=8, d_width=8, blocks=2, seed=0)
    model.compile()  # the paper's: Adam(2e-4, 0.5), lambda = 10, lambda_id = 0.5, pool of 50
    domain = lambda x: tf.data.Dataset.from_tensor_slices(x).shuffle(400, seed=len(x)).repeat()  # noqa: E731
    data = tf.data.Dataset.zip((domain(digits[train]), domain(inverted[train]))).batch(16, drop_remainder=True)
    model.fit(data, steps_per_epoch=300, epochs=1, verbose=0)
    a = digits[held]  # digits the model never saw
    translated = model.translate(a)
    round_trip = model.translate(translated, "b_to_a")
    classifier = kg.evaluation.load_classifier()
    kept = classifier.accuracy(round_trip, labels[held, 0]).value
    legible = classifier.accuracy(-translated, labels[held, 0]).value
    print(f"cyclegan A->B->A classifier accuracy {kept:.3f} (A: {classifier.accuracy(a, labels[held, 0]).value:.3f}); "
          f"A->B inverted back {legible:.3f}; mean pixel A {a.mean():.2f}, A->B {translated.mean():.2f}, "
          f"B {inverted.mean():.2f}")
    # Seed 0: 0.93 after 300 steps (0.27 after 100). The A -> B images are B's (black on
    # white), but their digits are faint and displaced: inverted back, the classifier reads
    # 0.12 of them (0.26 after 1,000 steps); the cycle keeps the class all the same.
    assert kept > 0.85, kept
    assert abs(translated.mean() - inverted.mean()) < 0.25 < abs(a.mean() - inverted.mean())
