"""CycleGAN: unpaired image-to-image translation with cycle consistency (Zhu et al., 2017)."""

import keras
import tensorflow as tf
from keras import ops

from keras_gans import checks
from keras_gans import losses as losses_lib
from keras_gans.models import translation_networks as tn
from keras_gans.models.pix2pix import TranslationGAN, _l1, _weight


def query_pool(pool, stored, images, seed, probability=0.5):
    """One query of Shrivastava et al.'s (2017) image history buffer, as CycleGAN uses it.

    Each image of the batch, in order: while the pool is not full it is stored and
    returned; once full, with probability `probability` a uniformly chosen stored image
    is returned and the new one takes its place, otherwise the new image is returned
    (Zhu et al., Sec. 4: "a history of generated images rather than the ones produced
    by the latest generators", a buffer of 50). Stateless: the draws come from `seed`.

    Args:
        pool: `[size, H, W, C]` stored images.
        stored: int32 scalar, how many slots hold an image (they fill from 0).
        images: `[n, H, W, C]` new images.
        seed: `[2]` integer stateless seed.
        probability: chance of returning a stored image once the pool is full.

    Returns:
        `(returned [n, H, W, C], new pool, new stored)`.
    """
    size = int(pool.shape[0])
    n = tf.shape(images)[0]
    coin_seed, slot_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    # Integer draws: XLA on the CPU turns philox bits into floats differently from the
    # graph kernels, so float draws would give a compiled step another history.
    coins = tf.random.stateless_uniform([n], seed=coin_seed, minval=0, maxval=2**24, dtype=tf.int32, alg="philox")
    slots = tf.random.stateless_uniform([n], seed=slot_seed, minval=0, maxval=size, dtype=tf.int32, alg="philox")
    stored = tf.cast(stored, tf.int32)

    # tf.gather, not pool[slot]: XLA compiles a slice with a computed start as a constant
    # start, which here would recompile the train step for every new seed.
    def body(i, pool, stored, returned):
        image = tf.gather(images, i)
        filling = stored < size
        swap = tf.logical_and(tf.logical_not(filling), tf.gather(coins, i) < int(probability * 2**24))
        slot = tf.where(filling, stored, tf.gather(slots, i))
        returned = tf.tensor_scatter_nd_update(returned, [[i]], [tf.where(swap, tf.gather(pool, slot), image)])
        pool = tf.where(tf.logical_or(filling, swap), tf.tensor_scatter_nd_update(pool, [[slot]], [image]), pool)
        return i + 1, pool, stored + tf.cast(filling, tf.int32), returned

    _, pool, stored, returned = tf.while_loop(
        lambda i, *_: i < n, body, [tf.constant(0), pool, stored, images]
    )
    return returned, pool, stored


@keras.saving.register_keras_serializable(package="keras_gans")
class HistoryPool(keras.layers.Layer):
    """CycleGAN's history of generated images for the discriminator updates (`query_pool`).

    The buffer and its fill count are variables of the model: saved in `.keras` files (a
    loaded model continues with the same history) and updated inside the compiled
    train step, with XLA too. Under a tf.distribute strategy the pool is one pool for the
    global batch: each replica gathers every replica's images, all make the same query
    with the same seed (so they keep identical pools) and each takes back its own rows;
    one step on R replicas therefore returns what one device would for the same global
    batch.

    Args:
        size: images kept (50 in the paper); 0 for no pool (the latest images pass through).
        image_shape: (H, W, C) of the images.
        probability: chance of returning a stored image once the pool is full (0.5).
    """

    def __init__(self, size=50, image_shape=(28, 28, 1), probability=0.5, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.size = checks.integer(size, "pool_size", 0)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.probability = float(probability)
        if self.size:
            self.images = self.add_weight(
                shape=(self.size, *self.image_shape), dtype="float32", initializer="zeros",
                trainable=False, autocast=False, aggregation="only_first_replica", name="images",
            )
            self.stored = self.add_weight(
                shape=(), dtype="int32", initializer="zeros", trainable=False, autocast=False,
                aggregation="only_first_replica", name="stored",
            )
        self.built = True

    def call(self, images, seed):
        """The images to show the discriminator in place of `images` `[n, H, W, C]`."""
        images = tf.cast(images, tf.float32)
        if not self.size:
            return images
        ctx = tf.distribute.get_replica_context()
        replicas = 1 if ctx is None else ctx.num_replicas_in_sync
        batch = images if replicas == 1 else ctx.all_gather(images, axis=0)
        returned, pool, stored = query_pool(self.images.value, self.stored.value, batch, seed, self.probability)
        self.images.assign(pool)
        self.stored.assign(stored)
        if replicas == 1:
            return returned
        rows = tf.shape(images)[0]
        replica = ctx.replica_id_in_sync_group
        return returned[replica * rows : (replica + 1) * rows]

    def compute_output_shape(self, input_shape, seed_shape=None):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(), "size": self.size, "image_shape": list(self.image_shape),
            "probability": self.probability,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate constant for `constant_steps`, then decaying linearly to 0 over
    `decay_steps` (Zhu et al., Sec. 4: 100 epochs at 2e-4, then linearly to 0 over 100).

    lr(t) = initial_learning_rate * (1 - clip((t - constant_steps) / decay_steps, 0, 1)).

    Example:
        steps = 100 * steps_per_epoch
        keras.optimizers.Adam(LinearDecay(2e-4, steps, steps), beta_1=0.5)
    """

    def __init__(self, initial_learning_rate, constant_steps, decay_steps):
        self.initial_learning_rate = float(initial_learning_rate)
        self.constant_steps = checks.integer(constant_steps, "constant_steps", 0)
        self.decay_steps = checks.integer(decay_steps, "decay_steps")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        done = ops.clip((step - self.constant_steps) / self.decay_steps, 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - done)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "constant_steps": self.constant_steps,
            "decay_steps": self.decay_steps,
        }


@keras.saving.register_keras_serializable(package="keras_gans")
class CycleGAN(TranslationGAN):
    """CycleGAN (Zhu et al., 2017): two mappings G: A -> B and F: B -> A learned from
    unpaired images, each with an adversary (D_B judges B images, D_A judges A images).

    The full objective (Eq. 3), with the least-squares GAN loss (Sec. 4) and the identity
    loss of Sec. 5.2:

        L = L_GAN(G, D_B) + L_GAN(F, D_A) + lambda L_cyc(G, F) + lambda_id lambda L_id(G, F),
        L_cyc = E_a[||F(G(a)) - a||_1] + E_b[||G(F(b)) - b||_1],
        L_id  = E_a[||F(a) - a||_1] + E_b[||G(b) - b||_1].

    The generators minimise E[(D_B(G(a)) - 1)^2] + E[(D_A(F(b)) - 1)^2] + the weighted
    L1 terms; each discriminator minimises 0.5 (E[(D(real) - 1)^2] + E[D(fake)^2]) ("we
    divide the objective by 2 while optimizing D") on fakes from a history of 50 generated
    images (`HistoryPool`). lambda = 10, lambda_id = 0.5, Adam(2e-4, beta_1=0.5) for the
    generators together and for the discriminators together, optionally with the paper's
    linear decay (`compile(lr_decay=...)`). Networks: the ResNet generator (6 blocks below
    256 pixels, 9 from 256) or a U-Net, 70x70 PatchGANs (the patch scaled to the image),
    instance normalisation. Each step updates the generators, then the discriminators on
    the images generated before that update, as the authors' code does.

    Logged by fit: `d_loss` (D_A's + D_B's), `g_loss` (the generators' whole objective),
    `d_real` and `d_fake` (mean discriminator outputs on real and pooled generated images),
    `cycle` (L_cyc) and `identity` (L_id, when lambda_id > 0).

    Args:
        image_shape: (H, W, C_a) of A images; H, W multiples of 4 (28, 32, 64, 128, 256).
        target_channels: C_b of B images; C_a when None.
        generator: "resnet" (the paper) or "unet".
        g_width, d_width: first-layer channels of the generators and discriminators (64).
        blocks: residual blocks of the ResNet generators; by image size when None.
        depth: levels of the U-Net generators; down to 1x1 when None.
        patch_size: PatchGAN receptive field; scaled to the image when None.
        cycle_weight: lambda (10).
        identity_weight: lambda_id, a multiple of lambda (0.5); 0 turns it off. Needs
            C_a == C_b.
        pool_size: images in each history pool (50); 0 for none.
        seed: seed of the initial weights and of the pools' draws.

    Example:
        model = CycleGAN(image_shape=(28, 28, 1))
        model.compile(lr_decay=(100 * steps_per_epoch, 100 * steps_per_epoch))
        model.fit(kg.data.load_unpaired(digits, inverted, batch_size=1), epochs=200)
        inverted = model.translate(digits)                      # A -> B
        digits_again = model.translate(inverted, "b_to_a")       # B -> A
    """

    family = "cyclegan"
    default_loss = "least_squares"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        target_channels=None,
        generator="resnet",
        g_width=64,
        d_width=64,
        blocks=None,
        depth=None,
        patch_size=None,
        cycle_weight=10.0,
        identity_weight=0.5,
        pool_size=50,
        seed=None,
        **kwargs,
    ):
        image_shape = tn._image_shape(image_shape, "CycleGAN")
        seed = self._resolved_seed(seed)
        tn.check_generator_kind(generator)
        channels = self._target_channels(image_shape, target_channels)
        if identity_weight and channels != image_shape[-1]:
            raise ValueError(
                f"The identity loss compares G(b) with b, so it needs as many channels in A as "
                f"in B; got {image_shape[-1]} and {channels}. Pass identity_weight=0."
            )
        g_width, d_width = checks.integer(g_width, "g_width"), checks.integer(d_width, "d_width")
        shape_b = image_shape[:2] + (channels,)

        def translator(input_shape, output_channels, offset, name):
            if generator == "resnet":
                return tn.resnet_generator(
                    input_shape, output_channels, g_width, blocks, norm="instance", seed=seed,
                    seed_offset=offset, name=name,
                )
            return tn.unet_generator(
                input_shape, output_channels, g_width, depth, dropout=0.0, norm="instance",
                seed=seed, seed_offset=offset, name=name,
            )

        def critic(input_shape, offset, name):
            return tn.patch_discriminator(
                input_shape, d_width, patch_size, norm="instance", seed=seed, seed_offset=offset,
                name=name,
            )

        generator_ab = translator(image_shape, channels, 0, "generator_ab")
        generator_ba = translator(shape_b, image_shape[-1], 250, "generator_ba")
        discriminator_a = critic(image_shape, 500, "discriminator_a")
        discriminator_b = critic(shape_b, 750, "discriminator_b")
        self._build_translation(locals(), generator_ab, discriminator_b)
        self.generator_ab, self.generator_ba = generator_ab, generator_ba
        self.discriminator_a, self.discriminator_b = discriminator_a, discriminator_b
        self.cycle_weight = _weight(cycle_weight, "cycle_weight")
        self.identity_weight = _weight(identity_weight, "identity_weight")
        self.pool_size = checks.integer(pool_size, "pool_size", 0)
        self.pool_a = HistoryPool(self.pool_size, image_shape, name="pool_a")
        self.pool_b = HistoryPool(self.pool_size, shape_b, name="pool_b")
        self.cycle_tracker = keras.metrics.Mean(name="cycle")
        self.identity_tracker = keras.metrics.Mean(name="identity")

    @property
    def translators(self):
        return {"a_to_b": self.generator_ab, "b_to_a": self.generator_ba}

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker,
                    self.cycle_tracker]
        if self.identity_weight:
            trackers.append(self.identity_tracker)
        return trackers

    def _optimized_variables(self):
        return (
            self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables,
            self.generator_ab.trainable_variables + self.generator_ba.trainable_variables,
        )

    def compile(self, d_optimizer=None, g_optimizer=None, loss=None, lr_decay=None, **kwargs):
        """Sets the optimizers and the GAN game (least squares by default).

        Args:
            d_optimizer: optimizer of both discriminators.
            g_optimizer: optimizer of both generators. Both or neither; neither means
                Adam(2e-4, beta_1=0.5) for each.
            loss: a GAN game name (`keras_gans.losses.names()`) or a pair of functions.
            lr_decay: `(constant_steps, decay_steps)`: the default optimizers' learning
                rate stays 2e-4 for constant_steps optimizer steps, then decays linearly to
                0 over decay_steps (`LinearDecay`; the paper: 100 epochs each). Only with
                the default optimizers; give your own a `LinearDecay` schedule instead.
            **kwargs: as for `GAN.compile` (`jit_compile`, `steps_per_execution`).
        """
        if lr_decay is not None:
            if d_optimizer is not None or g_optimizer is not None:
                raise ValueError(
                    "lr_decay sets the default optimizers' schedule; with your own optimizers "
                    "give them a learning_rate=kg.models.LinearDecay(...) instead."
                )
            try:
                constant_steps, decay_steps = lr_decay
            except (TypeError, ValueError):
                raise ValueError(
                    f"lr_decay must be a pair (constant_steps, decay_steps); got {lr_decay!r}."
                ) from None
            d_optimizer, g_optimizer = (
                keras.optimizers.Adam(LinearDecay(2e-4, constant_steps, decay_steps), beta_1=0.5)
                for _ in range(2)
            )
        super().compile(d_optimizer, g_optimizer, loss=loss, **kwargs)

    def discriminate(self, images, domain="b", training=False):
        """PatchGAN outputs `[B, H', W', 1]` of D_B (domain "b") or D_A ("a") on images."""
        if domain not in ("a", "b"):
            raise ValueError(f"domain must be 'a' or 'b'; got {domain!r}.")
        critic = self.discriminator_b if domain == "b" else self.discriminator_a
        return critic(images, training=training)

    def _generator_adversarial_loss(self, fake_outputs):
        """A generator's adversarial term. For the least-squares game it is the paper's
        E[(D(G(a)) - 1)^2]: `losses.least_squares_generator_loss` is Mao et al.'s, with a
        factor 1/2 the CycleGAN objective does not have, so it is doubled."""
        loss = self.gan_loss.generator(fake_outputs)
        if self.gan_loss.generator is losses_lib.least_squares_generator_loss:
            loss = 2.0 * loss
        return loss

    def _generator_losses(self, a, b, training):
        """(fake_a, fake_b, g_loss, cycle, identity) of one batch."""
        g, f = self.generator_ab, self.generator_ba
        fake_b, fake_a = g(a, training=training), f(b, training=training)
        cycle = _l1(f(fake_b, training=training), a) + _l1(g(fake_a, training=training), b)
        adversarial = self._generator_adversarial_loss(
            self.discriminate(fake_b, "b", training)
        ) + self._generator_adversarial_loss(self.discriminate(fake_a, "a", training))
        g_loss = adversarial + self.cycle_weight * cycle
        identity = tf.constant(0.0)
        if self.identity_weight:
            identity = _l1(f(a, training=training), a) + _l1(g(b, training=training), b)
            g_loss = g_loss + self.identity_weight * self.cycle_weight * identity
        return fake_a, fake_b, g_loss, cycle, identity

    def _discriminator_losses(self, a, b, fake_a, fake_b, training):
        """(d_loss, mean real output, mean fake output) of both discriminators."""
        real_a, real_b = self.discriminate(a, "a", training), self.discriminate(b, "b", training)
        out_a, out_b = self.discriminate(fake_a, "a", training), self.discriminate(fake_b, "b", training)
        d_loss = self.gan_loss.discriminator(real_a, out_a) + self.gan_loss.discriminator(real_b, out_b)
        report_real = 0.5 * (self._report(real_a) + self._report(real_b))
        report_fake = 0.5 * (self._report(out_a) + self._report(out_b))
        return d_loss, report_real, report_fake

    def _pool_seed(self, stream):
        return tf.stack([tf.constant(self.seed, tf.int64), tf.cast(stream, tf.int64)])

    def _train_step(self, a, b):
        d_vars, g_vars = self._optimized_variables()
        with tf.GradientTape() as tape:
            fake_a, fake_b, g_loss, cycle, identity = self._generator_losses(a, b, training=True)
            scaled = self._scaled_for_gradients(g_loss, self.g_optimizer)
        self._apply(self.g_optimizer, tape.gradient(scaled, g_vars), g_vars)

        # Two pool streams per step: one for each pool's draws.
        stream = 2 * self.train_steps
        pooled_a = self.pool_a(tf.stop_gradient(fake_a), self._pool_seed(stream))
        pooled_b = self.pool_b(tf.stop_gradient(fake_b), self._pool_seed(stream + 1))
        with tf.GradientTape() as tape:
            d_loss, real_out, fake_out = self._discriminator_losses(a, b, pooled_a, pooled_b, training=True)
            scaled = self._scaled_for_gradients(d_loss, self.d_optimizer)
        self._apply(self.d_optimizer, tape.gradient(scaled, d_vars), d_vars)
        self._track(d_loss, g_loss, real_out, fake_out, cycle, identity)
        self.train_steps.assign_add(1)
        return self._logs()

    def _test_step(self, a, b):
        fake_a, fake_b, g_loss, cycle, identity = self._generator_losses(a, b, training=False)
        d_loss, real_out, fake_out = self._discriminator_losses(a, b, fake_a, fake_b, training=False)
        self._track(d_loss, g_loss, real_out, fake_out, cycle, identity)
        return self._logs()

    def _track(self, d_loss, g_loss, real_out, fake_out, cycle, identity):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(real_out)
        self.d_fake_tracker.update_state(fake_out)
        self.cycle_tracker.update_state(cycle)
        if self.identity_weight:
            self.identity_tracker.update_state(identity)
