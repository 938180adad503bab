"""The GAN base class: one `keras.Model` that owns a generator, a discriminator and the
training algorithm of Goodfellow et al. (2014), Algorithm 1.

Every family (vanilla, DCGAN, conditional, WGAN, WGAN-GP) is this class with its own
networks and its paper's defaults; the algorithm exists once, in `train_step`.
"""

import secrets

import keras
import numpy as np
import tensorflow as tf

from keras_gans import losses as losses_lib


def latent_from_seed(num_samples, latent_dim, seed):
    """z ~ N(0, I), `[num_samples, latent_dim]` float32, from a stateless integer seed.

    The same seed gives the same z in any process and on any server: `GAN.sample` and
    the exported `sample` signature both draw z here.
    """
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.random.stateless_normal([num_samples, latent_dim], seed=seed, alg="philox")


def to_uint8(images):
    """Images in [-1, 1] -> uint8 in [0, 255], rounding to nearest."""
    scaled = tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 127.5, 0.0, 255.0)
    return tf.cast(tf.round(scaled), tf.uint8)


def _is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or (
        type(strategy).__name__.startswith("CollectiveAllReduceStrategy")
    )


def _check_positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


@keras.saving.register_keras_serializable(package="keras_gans")
class GAN(keras.Model):
    """A generative adversarial network trained with `model.fit`.

    Each `train_step` runs one iteration of Goodfellow et al.'s Algorithm 1: the batch is
    split into `d_steps` minibatches of m real examples (rows j, j + k, j + 2k, ... for
    step j); each updates the discriminator against m fresh generated samples; then one
    generator update with fresh z against the updated discriminator. A batch of
    `d_steps * m` examples therefore holds every real example the iteration uses once.

    Args:
        generator: a `keras.Model` from z `[B, latent_dim]` (and int32 labels `[B]` when
            conditional) to samples `[B, *image_shape]`.
        discriminator: a `keras.Model` from (packed) samples (and labels `[B, pack]`) to
            one logit or critic score per input.
        latent_dim: size of z; read from the generator when None.
        num_classes: number of classes of a conditional GAN, None otherwise.
        pack: PacGAN packing m: the discriminator judges `pack` samples at once,
            concatenated along the last axis (Lin et al., 2018).
        seed: integer seed of the training noise (z, gradient-penalty alpha); a random
            one when None. Recorded in the config, so a loaded model continues the same
            noise stream.

    Example:
        gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=64)
        gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                    g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
        gan.fit(dataset, epochs=5)
        images = gan.sample(16, seed=7)   # float32 in [-1, 1]
    """

    family = "gan"
    default_loss = "non_saturating"
    default_d_steps = 1
    default_gp_weight = 0.0
    default_clip_value = None

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        num_classes=None,
        pack=1,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim or generator.inputs[0].shape[-1])
        self.num_classes = None if num_classes is None else _check_positive_int(
            num_classes, "num_classes", 2
        )
        self.pack = _check_positive_int(pack, "pack")
        self.seed = int(secrets.randbelow(2**31)) if seed is None else int(seed)
        self.image_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        self._check_networks()
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.gp_tracker = keras.metrics.Mean(name="gp")
        self.d_optimizer = None
        self.g_optimizer = None
        self.gan_loss = None
        self.d_steps = self.default_d_steps
        self.gp_weight = self.default_gp_weight
        self.clip_value = self.default_clip_value
        # Both networks exist, so the GAN is built: Keras must not try to build it
        # from the first batch (which under a strategy happens in a replica context).
        self.built = True

    def _check_networks(self):
        expected = self.image_shape[:-1] + (self.image_shape[-1] * self.pack,)
        got = tuple(self.discriminator.inputs[0].shape[1:])
        if got != expected:
            raise ValueError(
                f"The discriminator takes inputs of shape {got}, but the generator makes "
                f"samples of shape {self.image_shape}"
                + (f" packed {self.pack} at a time, i.e. {expected}" if self.pack > 1 else "")
                + "."
            )
        conditional = len(self.generator.inputs) > 1
        if conditional != (self.num_classes is not None):
            raise ValueError(
                "A conditional GAN needs num_classes and networks with a label input; got "
                f"num_classes={self.num_classes} and a generator with "
                f"{len(self.generator.inputs)} input(s)."
            )

    # ----- compile -------------------------------------------------------------------

    def default_optimizers(self):
        """Fresh (d_optimizer, g_optimizer) with the family's paper settings."""
        return (
            keras.optimizers.Adam(2e-4, beta_1=0.5),
            keras.optimizers.Adam(2e-4, beta_1=0.5),
        )

    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        loss=None,
        d_steps=None,
        gp_weight=None,
        clip_value=None,
        **kwargs,
    ):
        """Sets the optimizers and the game.

        Args:
            d_optimizer: optimizer of the discriminator (critic).
            g_optimizer: optimizer of the generator. Give both or neither; neither
                means the family's paper defaults (`default_optimizers()`).
            loss: a name from `keras_gans.losses.names()` or a pair of callables
                `(discriminator_loss, generator_loss)`; the family's default when None.
            d_steps: k, discriminator updates per generator update (>= 1).
            gp_weight: lambda of the gradient penalty (WGAN-GP); 0 turns it off.
            clip_value: c of WGAN's weight clipping; None turns it off.
            **kwargs: passed to `keras.Model.compile` (`steps_per_execution`, `jit_compile`).
        """
        if (d_optimizer is None) != (g_optimizer is None):
            missing = "d_optimizer" if d_optimizer is None else "g_optimizer"
            raise ValueError(
                f"compile() needs both d_optimizer and g_optimizer, or neither for the "
                f"{type(self).__name__} defaults; {missing} is missing."
            )
        for key in ("optimizer", "loss_weights", "metrics"):
            if kwargs.get(key) is not None:
                raise ValueError(
                    f"GAN.compile takes d_optimizer/g_optimizer and a GAN loss, not {key}={kwargs[key]!r}."
                )
        if d_optimizer is None:
            d_optimizer, g_optimizer = self.default_optimizers()
        loss = self.default_loss if loss is None else loss
        self.gan_loss = losses_lib.get(loss)
        self._loss_config = loss
        self.d_steps = _check_positive_int(
            self.default_d_steps if d_steps is None else d_steps, "d_steps"
        )
        gp_weight = self.default_gp_weight if gp_weight is None else float(gp_weight)
        if gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0; got {gp_weight}.")
        self.gp_weight = gp_weight
        clip_value = self.default_clip_value if clip_value is None else clip_value
        if clip_value is not None and not float(clip_value) > 0:
            raise ValueError(f"clip_value must be > 0 (or None for no clipping); got {clip_value}.")
        self.clip_value = None if clip_value is None else float(clip_value)

        # No optimizer goes to keras.Model.compile: its default would create an unused
        # RMSprop, and the two GAN optimizers are the ones to save and restore.
        kwargs.pop("optimizer", None)
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._loss_scaled(d_optimizer)
        self.g_optimizer = self._loss_scaled(g_optimizer)
        # Build the optimizer slots now (inside the strategy scope, if any): built
        # lazily they are created in a replica context and fail, and a model restored
        # from a checkpoint or .keras file would skip loading them.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _loss_scaled(self, optimizer):
        # Decided by the layers, not the global policy: that is the policy when the
        # networks were built, which may have been changed back since.
        float16 = any(
            layer.compute_dtype == "float16"
            for network in (self.generator, self.discriminator)
            for layer in network.layers
        )
        if float16 and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def get_compile_config(self):
        if self.d_optimizer is None:
            return {}
        loss = self._loss_config
        if not isinstance(loss, str):
            loss = [keras.saving.serialize_keras_object(fn) for fn in loss[:2]]
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": loss,
            "d_steps": self.d_steps,
            "gp_weight": self.gp_weight,
            "clip_value": self.clip_value,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if not isinstance(config["loss"], str):
            config["loss"] = tuple(
                keras.saving.deserialize_keras_object(fn) for fn in config["loss"]
            )
        self.compile(**config)

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]
        if self.gp_weight:
            trackers.append(self.gp_tracker)
        return trackers

    # ----- inference -----------------------------------------------------------------

    def call(self, inputs, training=False):
        """The generator's output for z (or `(z, labels)` when conditional)."""
        return self.generator(inputs, training=training)

    def generate(self, z, labels=None):
        """Samples for given z (and labels), in inference mode, float32 in [-1, 1]."""
        if self.num_classes is not None:
            return self.generator([z, tf.cast(labels, tf.int32)], training=False)
        return self.generator(z, training=False)

    def sample(self, n, seed=None, labels=None):
        """`n` samples as a float32 NumPy array in [-1, 1], `[n, *image_shape]`.

        Args:
            n: number of samples.
            seed: integer; the same seed gives the same samples here and from the
                exported `sample` signature. A random one when None.
            labels: conditional GANs: class ids, one per sample; when None the classes
                cycle 0, 1, ..., num_classes - 1.
        """
        n = _check_positive_int(n, "n")
        if seed is None:
            seed = secrets.randbelow(2**31)
        labels = self.check_labels(labels, n)
        return self.generate(latent_from_seed(n, self.latent_dim, seed), labels).numpy()

    def check_labels(self, labels, n):
        """Labels as an int32 array of length n for a conditional GAN, validated."""
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(f"{type(self).__name__} is unconditional; it takes no labels.")
            return None
        if labels is None:
            return np.arange(n, dtype=np.int32) % self.num_classes
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full([n], labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"labels must be {n} integer class ids; got {labels.dtype} array of shape {labels.shape}."
            )
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ValueError(
                f"labels must be in [0, {self.num_classes}); got {sorted(set(bad.tolist()))[:10]}."
            )
        return labels.astype(np.int32)

    # ----- training ------------------------------------------------------------------

    def fit(self, *args, **kwargs):
        if self.d_optimizer is None:
            raise ValueError(
                f"Call compile() on the {type(self).__name__} before fit(): it needs "
                "d_optimizer and g_optimizer (or neither, for the paper defaults)."
            )
        data = args[0] if args else kwargs.get("x")
        labels = args[1] if len(args) > 1 else kwargs.get("y")
        if self.num_classes is not None and isinstance(labels, (np.ndarray, list)):
            self.check_labels(np.ravel(labels), np.size(labels))
        if isinstance(data, tf.data.Dataset):
            # A dataset comes shuffled (or not) by its pipeline; Keras warns otherwise.
            kwargs.setdefault("shuffle", False)
        return super().fit(*args, **kwargs)

    def _split_data(self, data):
        """(images, labels or None, label checks) from what fit gives train_step.

        Shapes are checked when the step is traced; label values by assertions that
        the whole step waits on, so a bad batch fails before any update.
        """
        if isinstance(data, dict):
            images, labels = data.get("images"), data.get("labels")
        elif isinstance(data, (tuple, list)):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            images, labels = data, None
        shape = tuple(images.shape[1:])
        if shape != self.image_shape:
            raise ValueError(
                f"Training data has samples of shape {shape}, but {type(self).__name__} "
                f"generates and discriminates samples of shape {self.image_shape}."
            )
        if self.num_classes is None:
            return tf.cast(images, tf.float32), None, []
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} is conditional: fit it on (images, labels) pairs, "
                "e.g. kg.data.load(..., labels=True); got images without labels."
            )
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        checks = [
            tf.debugging.assert_equal(
                tf.shape(labels)[0], tf.shape(images)[0],
                message="Training data has a different number of labels than images.",
            ),
            tf.debugging.assert_non_negative(labels, message="Training labels must be >= 0."),
            tf.debugging.assert_less(
                labels, self.num_classes,
                message=f"Training labels must be < num_classes = {self.num_classes}.",
            ),
        ]
        return tf.cast(images, tf.float32), labels, checks

    def _pack(self, samples):
        """[b, ..., c] -> [b / pack, ..., pack * c]: `pack` samples side by side."""
        if self.pack == 1:
            return samples
        rank = len(self.image_shape) + 1
        x = tf.reshape(samples, [-1, self.pack, *self.image_shape])
        x = tf.transpose(x, [0, *range(2, rank), 1, rank])
        return tf.reshape(x, [-1, *self.image_shape[:-1], self.pack * self.image_shape[-1]])

    def discriminate(self, samples, labels=None, training=False):
        """Discriminator outputs `[b / pack, 1]` for samples (packed here) and labels."""
        packed = self._pack(samples)
        if self.num_classes is None:
            return self.discriminator(packed, training=training)
        return self.discriminator(
            [packed, tf.reshape(labels, [-1, self.pack])], training=training
        )

    def _noise(self, kind, shape_per_replica, stream):
        """Training noise, the same on one device as on R replicas for the same batch.

        The whole global draw is made from (seed, stream) on every replica, which keeps
        its own slice: so one step on R replicas uses exactly the z (and alpha) one
        device would use for the same global batch.
        """
        ctx = tf.distribute.get_replica_context()
        replicas = 1 if ctx is None else ctx.num_replicas_in_sync
        replica = 0 if ctx is None else ctx.replica_id_in_sync_group
        rows = shape_per_replica[0]
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(stream, tf.int64)])
        global_shape = [rows * replicas, *shape_per_replica[1:]]
        if kind == "normal":
            noise = tf.random.stateless_normal(global_shape, seed=seed, alg="philox")
        else:
            noise = tf.random.stateless_uniform(global_shape, seed=seed, alg="philox")
        return noise[replica * rows : (replica + 1) * rows]

    def _generate_for_training(self, m, labels, stream):
        z = self._noise("normal", [m, self.latent_dim], stream)
        inputs = z if self.num_classes is None else [z, labels]
        return self.generator(inputs, training=True)

    def _report(self, outputs):
        if self.gan_loss.probabilities:
            outputs = tf.sigmoid(tf.cast(outputs, tf.float32))
        return tf.reduce_mean(tf.cast(outputs, tf.float32))

    def _scaled_for_gradients(self, loss, optimizer):
        # Each replica's loss is a mean over its share of the batch; gradients are summed
        # across replicas, so divide by their number to get the global-batch mean.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return optimizer.scale_loss(loss / replicas)

    def train_step(self, data):
        real, labels, checks = self._split_data(data)
        with tf.control_dependencies(checks + self._check_batch(real)):
            return self._train_step(real, labels)

    def _check_batch(self, real):
        """The batch must split into d_steps minibatches of whole packs.

        A batch size known when the step is traced is checked then (a ValueError before
        anything runs); an unknown one by an assertion the whole step waits on.
        """
        k, pack = self.d_steps, self.pack
        message = (
            f"{type(self).__name__} splits each batch (per replica) into d_steps minibatches "
            f"of packs of {pack} sample(s), so its size must be a multiple of "
            f"d_steps * pack = {k} * {pack} = {k * pack}"
        )
        size = real.shape[0]
        if size is not None:
            if size % (k * pack):
                raise ValueError(
                    f"{message}; got a batch of {size}. Batch the data by a multiple of "
                    f"{k * pack} (with drop_remainder=True)."
                )
            return []
        return [tf.debugging.assert_equal(tf.shape(real)[0] % (k * pack), 0, message=message + ".")]

    def _train_step(self, real, labels):
        k = self.d_steps
        batch = tf.shape(real)[0]
        m = batch // k
        # 2k + 1 noise streams per iteration: z for each discriminator step, alpha for
        # each penalty, and z for the generator step.
        stream = self.g_optimizer.iterations * (2 * k + 1)

        d_vars = self.discriminator.trainable_variables
        for j in range(k):
            real_j = real[j::k]
            labels_j = None if labels is None else labels[j::k]
            with tf.GradientTape() as tape:
                fake = self._generate_for_training(m, labels_j, stream + j)
                real_out = self.discriminate(real_j, labels_j, training=True)
                fake_out = self.discriminate(fake, labels_j, training=True)
                d_loss = self.gan_loss.discriminator(real_out, fake_out)
                if self.gp_weight:
                    gp = self._gradient_penalty(real_j, fake, labels_j, stream + k + j)
                    d_loss = d_loss + self.gp_weight * gp
                scaled = self._scaled_for_gradients(d_loss, self.d_optimizer)
            self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
            if self.clip_value is not None:
                # WGAN (Arjovsky et al., 2017, Algorithm 1, line 7): w <- clip(w, -c, c).
                for var in d_vars:
                    var.assign(tf.clip_by_value(var, -self.clip_value, self.clip_value))
            self.d_loss_tracker.update_state(d_loss)
            self.d_real_tracker.update_state(self._report(real_out))
            self.d_fake_tracker.update_state(self._report(fake_out))
            if self.gp_weight:
                self.gp_tracker.update_state(gp)

        g_vars = self.generator.trainable_variables
        g_labels = None if labels is None else labels[k - 1 :: k]
        with tf.GradientTape() as tape:
            fake = self._generate_for_training(m, g_labels, stream + 2 * k)
            g_loss = self.gan_loss.generator(self.discriminate(fake, g_labels, training=True))
            scaled = self._scaled_for_gradients(g_loss, self.g_optimizer)
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
        self.g_loss_tracker.update_state(g_loss)
        return self._logs()

    def _gradient_penalty(self, real, fake, labels, stream):
        packed_real, packed_fake = self._pack(real), self._pack(tf.cast(fake, real.dtype))
        alpha = self._noise("uniform", [tf.shape(packed_real)[0]], stream)
        packed_labels = None if labels is None else tf.reshape(labels, [-1, self.pack])

        def critic(x):
            if packed_labels is None:
                return self.discriminator(x, training=True)
            return self.discriminator([x, packed_labels], training=True)

        return losses_lib.gradient_penalty(critic, packed_real, packed_fake, alpha=alpha)

    def test_step(self, data):
        """Evaluates the game on a batch without updating anything."""
        real, labels, checks = self._split_data(data)
        with tf.control_dependencies(checks):
            return self._test_step(real, labels)

    def _test_step(self, real, labels):
        n = tf.shape(real)[0]
        z = tf.random.normal([n, self.latent_dim])
        fake = self.generator(z if labels is None else [z, labels], training=False)
        real_out = self.discriminate(real, labels)
        fake_out = self.discriminate(fake, labels)
        self.d_loss_tracker.update_state(self.gan_loss.discriminator(real_out, fake_out))
        self.g_loss_tracker.update_state(self.gan_loss.generator(fake_out))
        self.d_real_tracker.update_state(self._report(real_out))
        self.d_fake_tracker.update_state(self._report(fake_out))
        return self._logs()

    def _logs(self):
        logs = {m.name: m.result() for m in self.metrics}
        if _is_multi_worker(tf.distribute.get_strategy()):
            # Keras 3.15's fit reduces the logs of a multi-worker run with
            # strategy.reduce("MEAN", v, axis=0) (keras/src/backend/tensorflow/trainer.py,
            # reduce_per_replica), which rejects scalars; shape [1] passes through it.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    # ----- serialization -------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "pack": self.pack,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


class FamilyGAN(GAN):
    """A GAN whose networks are built from a few arguments (a family of the zoo).

    Subclasses build their networks in `__init__`, pass them to `GAN.__init__`, then
    call `self._remember(**arguments)`; `get_config` returns those arguments, so saving
    stores the recipe and the weights, not the graph.
    """

    def _remember(self, **arguments):
        self._family_config = arguments

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self._family_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
