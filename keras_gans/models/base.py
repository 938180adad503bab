"""The GAN base class: one `keras.Model` that owns a generator, a discriminator and the
training algorithm of Goodfellow et al. (2014), Algorithm 1.

Every family (vanilla, DCGAN, conditional, WGAN, WGAN-GP) is this class with its own
networks and its paper's defaults; the algorithm exists once, in `train_step`.
"""

import contextlib
import secrets
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_gans import checks
from keras_gans import labels as labels_lib
from keras_gans import losses as losses_lib
from keras_gans.models import networks
from keras_gans.models.sampling import latent_from_seed


def _is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or (
        type(strategy).__name__.startswith("CollectiveAllReduceStrategy")
    )


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def precision_scope(precision):
    """Builds layers under the Keras dtype policy `precision`, then restores the global one."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        yield precision
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _raise_if_not_multiple(size, rows, message):
    """A ValueError for a batch size known before anything runs that is not a multiple of rows."""
    if size is not None and size % rows:
        raise ValueError(
            f"{message}; got a batch of {size}. Batch the data by a multiple of {rows} "
            "(with drop_remainder=True)."
        )


def _non_finite_on_every_replica_if_on_one(grads):
    """Gradients made non-finite on every replica when they are on any one.

    Keras 3.15's LossScaleOptimizer decides whether to apply a step from replica 0's
    gradients alone (loss_scale_optimizer.py, `_tf_apply`: "grads is all-reduced across
    replicas"), but under a tf.distribute strategy `apply` receives each replica's own,
    not yet summed gradients: an overflow on replica 1 would be applied, writing inf/NaN
    into the weights. Sharing one verdict through an all-reduce makes every replica (and
    worker) skip the step, and halve the loss scale, together.
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return grads
    present = [g for g in grads if g is not None]
    non_finite = tf.add_n(
        [tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(g)), tf.float32)) for g in present]
    )
    anywhere = ctx.all_reduce(tf.distribute.ReduceOp.SUM, non_finite) > 0
    return [
        None if g is None else tf.where(anywhere, tf.constant(float("nan"), g.dtype), g)
        for g in grads
    ]


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
        ema_decay: keep an exponential moving average of the generator's trainable
            weights, `ema = ema_decay * ema + (1 - ema_decay) * w` after every generator
            update (Yazici et al., 2019), and generate from it: `generate`, `sample`, the
            sample grids, evaluation and export all use the average; training updates the
            generator itself as before. None (the default) keeps no average.

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
        ema_decay=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim or generator.inputs[0].shape[-1])
        self.num_classes = None if num_classes is None else checks.integer(
            num_classes, "num_classes", 2
        )
        self.pack = checks.integer(pack, "pack")
        self.seed = int(secrets.randbelow(2**31)) if seed is None else int(seed)
        self.image_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        self._check_networks()
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.gp_tracker = keras.metrics.Mean(name="gp")
        # The GAN's own clock for its training noise: one tick per train_step, skipped
        # loss-scaled updates and re-compiled optimizers included (an optimizer's
        # `iterations` stands still on the first and restarts on the second, which
        # would replay z). Saved with the model, so a resumed run draws fresh noise.
        self.train_steps = self.add_weight(
            shape=(), dtype="int64", initializer="zeros", trainable=False, autocast=False,
            aggregation="only_first_replica", name="train_steps",
        )
        # Batches seen by the current evaluate() run: batch i of every evaluation of
        # the same data uses the same z. Not saved.
        self.eval_batches = self.add_weight(
            shape=(), dtype="int64", initializer="zeros", trainable=False, autocast=False,
            aggregation="only_first_replica", name="eval_batches",
        )
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self._ema = None
        if self.ema_decay is not None:
            self._ema = self._averaged_generator_weights()
        self.d_optimizer = None
        self.g_optimizer = None
        self.gan_loss = None
        self.d_steps = self.default_d_steps
        self.gp_weight = self.default_gp_weight
        self.clip_value = self.default_clip_value
        # Both networks exist, so the GAN is built: Keras must not try to build it
        # from the first batch (which under a strategy happens in a replica context).
        self.built = True

    def _averaged_generator_weights(self):
        """The moving averages of the generator's trainable weights, starting from them."""
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), e.g. 0.999; got {self.ema_decay}.")
        if type(self)._train_step is not GAN._train_step:
            raise ValueError(f"{type(self).__name__} keeps no moving average of its generator (ema_decay).")
        averages = []
        for i, var in enumerate(self.generator.trainable_variables):
            average = self.add_weight(
                shape=var.shape, dtype=var.dtype, initializer="zeros", trainable=False,
                autocast=False, aggregation="only_first_replica", name=f"generator_ema_{i}",
            )
            average.assign(var)
            averages.append(average)
        return averages

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
        self.d_steps = checks.integer(
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
        d_vars, g_vars = self._optimized_variables()
        self.d_optimizer.build(d_vars)
        self.g_optimizer.build(g_vars)

    def _optimized_variables(self):
        """(d_optimizer's variables, g_optimizer's variables): the discriminator's and the
        generator's trainable variables; a family with more networks (CycleGAN) lists them all."""
        return self.discriminator.trainable_variables, self.generator.trainable_variables

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
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": losses_lib.serialize(self.gan_loss),
            "d_steps": self.d_steps,
            "gp_weight": self.gp_weight,
            "clip_value": self.clip_value,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["loss"] = losses_lib.deserialize(config["loss"])
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
        """Samples for given z (and labels), in inference mode, float32 in [-1, 1]; from
        the generator's moving average when the GAN keeps one (`ema_decay`)."""
        inputs = z if self.num_classes is None else [z, tf.cast(labels, tf.int32)]
        if self._ema is None:
            return self.generator(inputs, training=False)
        out, _ = self.generator.stateless_call(
            [a.value for a in self._ema],
            [v.value for v in self.generator.non_trainable_variables],
            inputs,
            training=False,
        )
        return out

    def generation_variables(self):
        """The variables `generate` reads (an export tracks these): the generator's, or
        its moving averages and its non-trainable state (batch-norm statistics)."""
        if self._ema is None:
            return list(self.generator.variables)
        return list(self._ema) + list(self.generator.non_trainable_variables)

    def sample(self, n, seed=None, labels=None):
        """`n` samples as a float32 NumPy array in [-1, 1], `[n, *image_shape]`.

        Args:
            n: number of samples.
            seed: integer; the same seed gives the same samples here and from the
                exported `sample` signature. A random one when None.
            labels: conditional GANs: class ids, one per sample; when None the classes
                cycle 0, 1, ..., num_classes - 1.
        """
        n = checks.integer(n, "n")
        if seed is None:
            seed = secrets.randbelow(2**31)
        labels = self.check_labels(labels, n)
        return self.generate(latent_from_seed(n, self.latent_dim, seed), labels).numpy()

    def check_labels(self, labels, n):
        """Labels as an int32 array of length n for a conditional GAN, validated
        (`keras_gans.labels.check_labels`)."""
        return labels_lib.check_labels(labels, n, self.num_classes, name=type(self).__name__)

    # ----- training ------------------------------------------------------------------

    def fit(self, *args, **kwargs):
        if self.d_optimizer is None:
            raise ValueError(
                f"Call compile() on the {type(self).__name__} before fit(): it needs "
                "d_optimizer and g_optimizer (or neither, for the paper defaults)."
            )
        args, kwargs = self._checked_inputs(args, kwargs, self.d_steps)
        if kwargs.get("validation_data") is not None:
            kwargs["validation_data"] = self._checked_validation(kwargs["validation_data"])
        if isinstance(args[0] if args else kwargs.get("x"), tf.data.Dataset):
            # A dataset comes shuffled (or not) by its pipeline; Keras warns otherwise.
            kwargs.setdefault("shuffle", False)
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        """Reports the training objective on data (`d_loss` with the penalty, `g_loss`,
        `d_real`, `d_fake`, `gp`) without updating anything; batch i of every evaluation
        draws the same z, so two evaluations of the same data agree."""
        args, kwargs = self._checked_inputs(args, kwargs, 1)
        self.eval_batches.assign(0)
        return super().evaluate(*args, **kwargs)

    # Every check on the values of a batch runs twice: in the input pipeline, before the
    # step (tf.data is never compiled by XLA), and inside the step. Keras 3.15 compiles
    # the step with XLA when jit_compile is True, and "auto" means True on a GPU without
    # a strategy; XLA drops tf.debugging assertions, so only the first check holds there.

    def _checked_inputs(self, args, kwargs, d_steps):
        """fit/evaluate arguments with a tf.data input wrapped in the batch checks, and
        array inputs checked now, before any step runs."""
        args = list(args)
        data = args[0] if args else kwargs.get("x")
        labels = args[1] if len(args) > 1 else kwargs.get("y")
        if isinstance(data, tf.data.Dataset):
            checked = self._checked_dataset(data, d_steps)
            if args:
                args[0] = checked
            else:
                kwargs["x"] = checked
        elif isinstance(data, (np.ndarray, list)):
            batch_size = kwargs.get("batch_size") or (args[2] if len(args) > 2 else None) or 32
            self._check_arrays(np.asarray(data), labels, d_steps, batch_size)
        return tuple(args), kwargs

    def _checked_validation(self, validation_data):
        if isinstance(validation_data, tf.data.Dataset):
            return self._checked_dataset(validation_data, 1)
        return validation_data

    def _batch_rows(self, d_steps):
        """How many examples each batch must be a multiple of: every replica's share
        splits into d_steps minibatches of whole packs."""
        return self.distribute_strategy.num_replicas_in_sync * d_steps * self.pack

    def _batch_size_message(self, d_steps, replicas=None):
        replicas = self.distribute_strategy.num_replicas_in_sync if replicas is None else replicas
        k, pack = d_steps, self.pack
        if replicas == 1:
            return (
                f"{type(self).__name__} splits each batch (per replica) into d_steps minibatches "
                f"of packs of {pack} sample(s), so its size must be a multiple of "
                f"d_steps * pack = {k} * {pack} = {k * pack}"
            )
        return (
            f"{type(self).__name__} splits each batch into {replicas} replica shares, each into "
            f"d_steps minibatches of packs of {pack} sample(s), so its size must be a multiple "
            f"of replicas * d_steps * pack = {replicas} * {k} * {pack} = {replicas * k * pack}"
        )

    def _check_arrays(self, images, labels, d_steps, batch_size):
        rows = self._batch_rows(d_steps)
        sizes = {min(batch_size, len(images))} | ({len(images) % batch_size} - {0})
        bad = sorted(size for size in sizes if size % rows)
        if bad:
            raise ValueError(
                f"{self._batch_size_message(d_steps)}; {len(images)} examples in batches of "
                f"{batch_size} give batch(es) of {bad}. Pass a batch_size and a number of "
                f"examples that are multiples of {rows}."
            )
        if self.num_classes is not None and labels is not None:
            labels = np.ravel(np.asarray(labels))
            if labels.size != len(images):
                raise ValueError(
                    f"Training data has {labels.size} labels for {len(images)} images."
                )
            self.check_labels(labels, labels.size)

    def _checked_dataset(self, dataset, d_steps):
        """`dataset` with each batch checked as it is read: a bad batch stops fit with an
        InvalidArgumentError before the step that would have used it. A batch size known
        from the dataset's spec is checked now (a ValueError).

        The checked dataset of the last training and the last evaluation dataset is kept:
        calling fit again on the same dataset (one fit per epoch, say) does not trace the
        check again."""
        key = (d_steps, self._batch_rows(d_steps))
        if "_checked_datasets" not in self.__dict__:
            # Outside Keras' attribute tracking: a cache, not state of the model.
            object.__setattr__(self, "_checked_datasets", {})
        last = self._checked_datasets.get(key)
        if last is not None and last[0]() is dataset:
            return last[1]
        checked = self._check_each_batch(dataset, d_steps)
        self._checked_datasets[key] = (weakref.ref(dataset), checked)
        return checked

    def _check_each_batch(self, dataset, d_steps):
        element_is_tuple = isinstance(dataset.element_spec, tuple)
        rows = self._batch_rows(d_steps)
        message = self._batch_size_message(d_steps)
        spec = dataset.element_spec if element_is_tuple or isinstance(dataset.element_spec, dict) else (dataset.element_spec,)
        images_spec, _ = self._unpack(spec)
        _raise_if_not_multiple(images_spec.shape[0], rows, message)

        def check(*element):
            data = element if element_is_tuple else element[0]
            images, labels = self._unpack(data)
            size = tf.shape(images)[0]
            checks = [tf.debugging.Assert(tf.equal(size % rows, 0), [message + ".", "got a batch of", size])]
            checks += self._label_checks(images, labels)
            with tf.control_dependencies(checks):
                return tf.nest.map_structure(tf.identity, data)

        return dataset.map(check).prefetch(tf.data.AUTOTUNE)

    def _unpack(self, data):
        """(images, labels or None) from what fit gives train_step, with the shape and
        label presence checked (a ValueError when the step is traced)."""
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
            return images, None
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} is conditional: fit it on (images, labels) pairs, "
                "e.g. kg.data.load(..., labels=True); got images without labels."
            )
        return images, labels

    def _label_checks(self, images, labels):
        """Assertions on the labels' count and range (none for an unconditional GAN)."""
        if labels is None:
            return []
        labels = tf.reshape(labels, [-1])
        return [
            tf.debugging.assert_equal(
                tf.shape(labels)[0], tf.shape(images)[0],
                message="Training data has a different number of labels than images.",
            ),
            tf.debugging.assert_non_negative(labels, message="Training labels must be >= 0."),
            tf.debugging.assert_less(
                labels, tf.cast(self.num_classes, labels.dtype),
                message=f"Training labels must be < num_classes = {self.num_classes}.",
            ),
        ]

    def _split_data(self, data):
        """(float32 images, int32 labels or None, label checks) for a step."""
        images, labels = self._unpack(data)
        checks = self._label_checks(images, labels)
        if labels is not None:
            labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
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

    def _discriminate_real_and_fake(self, real, fake, labels):
        """Discriminator outputs on a real and a fake minibatch, for a discriminator step.

        A discriminator without batch-dependent layers gives each row the same output
        whether it sees the two minibatches apart or together, so it sees them in one call
        on the concatenated batch (half the kernel launches and weight reads). With
        BatchNormalization the two calls stay apart: normalising real and fake with their
        own batch statistics is the DCGAN paper's algorithm. Spectral normalisation runs
        its power iteration once per call, so one call is one iteration per update, as in
        Miyato et al.'s Algorithm 1.
        """
        if not self._batch_independent_discriminator:
            return (
                self.discriminate(real, labels, training=True),
                self.discriminate(fake, labels, training=True),
            )
        both = tf.concat([real, tf.cast(fake, real.dtype)], axis=0)
        both_labels = None if labels is None else tf.concat([labels, labels], axis=0)
        out = self.discriminate(both, both_labels, training=True)
        return tf.split(out, 2, axis=0)

    @property
    def _batch_independent_discriminator(self):
        """Whether every discriminator output row depends on its own input row only."""
        return not any(
            isinstance(layer, keras.layers.BatchNormalization)
            for layer in self.discriminator._flatten_layers(include_self=False, recursive=True)
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
        with tf.control_dependencies(checks + self._check_batch(real, self.d_steps)):
            return self._train_step(real, labels)

    def _check_batch(self, real, d_steps):
        """A replica's share of the batch must split into d_steps minibatches of whole packs.

        A batch size known when the step is traced is checked then (a ValueError before
        anything runs); an unknown one by an assertion the whole step waits on.
        """
        rows = d_steps * self.pack
        message = self._batch_size_message(d_steps, replicas=1)
        _raise_if_not_multiple(real.shape[0], rows, message)
        if real.shape[0] is not None:
            return []
        return [tf.debugging.assert_equal(tf.shape(real)[0] % rows, 0, message=message + ".")]

    def _train_step(self, real, labels):
        k = self.d_steps
        batch = tf.shape(real)[0]
        m = batch // k
        # 2k + 1 noise streams per iteration: z for each discriminator step, alpha for
        # each penalty, and z for the generator step; then the family's own
        # (`_extra_noise_streams`, none here), from stream + 2k + 1 on.
        stream = self.train_steps * (2 * k + 1 + self._extra_noise_streams())

        d_vars = self.discriminator.trainable_variables
        for j in range(k):
            real_j = real[j::k]
            labels_j = None if labels is None else labels[j::k]
            # Generated outside the tape: the discriminator's gradient needs no path back
            # into the generator, and the penalty's second-order gradient would otherwise
            # be traced through it too (WGAN-GP steps ran at 0.8x the keras.io pattern).
            fake = self._generate_for_training(m, labels_j, stream + j)
            with tf.GradientTape() as tape:
                real_out, fake_out = self._discriminate_real_and_fake(real_j, fake, labels_j)
                d_loss = self.gan_loss.discriminator(real_out, fake_out)
                if self.gp_weight:
                    gp = self._gradient_penalty(real_j, fake, labels_j, stream + k + j)
                    d_loss = d_loss + self.gp_weight * gp
                scaled = self._scaled_for_gradients(d_loss, self.d_optimizer)
            self._apply(self.d_optimizer, tape.gradient(scaled, d_vars), d_vars)
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
            g_loss = self._generator_loss(fake, g_labels, real[k - 1 :: k], stream + 2 * k + 1)
            scaled = self._scaled_for_gradients(g_loss, self.g_optimizer)
        self._apply(self.g_optimizer, tape.gradient(scaled, g_vars), g_vars)
        if self._ema is not None:
            # Every replica holds the same updated weights, so each computes the same
            # average (the variables keep the first replica's).
            for average, var in zip(self._ema, g_vars):
                average.assign(self.ema_decay * average + (1.0 - self.ema_decay) * var)
        self.g_loss_tracker.update_state(g_loss)
        self.train_steps.assign_add(1)
        return self._logs()

    def _extra_noise_streams(self):
        """Noise streams per iteration a family draws in `_generator_loss` (none here)."""
        return 0

    def _generator_loss(self, fake, labels, real, stream):
        """The generator's loss on generated samples `fake`, inside the generator step's tape.

        Here the game's generator loss against the current discriminator. A family may
        override it (Unrolled GAN: against the discriminator unrolled some steps ahead), with
        `real` the last discriminator step's real minibatch and its own noise streams
        `stream`, `stream + 1`, ... (`_extra_noise_streams` of them).
        """
        return self.gan_loss.generator(self.discriminate(fake, labels, training=True))

    def _apply(self, optimizer, grads, variables):
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grads = _non_finite_on_every_replica_if_on_one(grads)
        optimizer.apply(grads, variables)

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
        """The training objective on a batch, without updating anything."""
        real, labels, checks = self._split_data(data)
        with tf.control_dependencies(checks + self._check_batch(real, 1)):
            return self._test_step(real, labels)

    def _test_step(self, real, labels):
        # Evaluation noise streams are negative, so they never meet training's.
        stream = -2 * self.eval_batches - 1
        z = self._noise("normal", [tf.shape(real)[0], self.latent_dim], stream)
        fake = self.generator(z if labels is None else [z, labels], training=False)
        real_out = self.discriminate(real, labels)
        fake_out = self.discriminate(fake, labels)
        d_loss = self.gan_loss.discriminator(real_out, fake_out)
        if self.gp_weight:
            gp = self._gradient_penalty(real, fake, labels, stream - 1)
            d_loss = d_loss + self.gp_weight * gp
            self.gp_tracker.update_state(gp)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(self.gan_loss.generator(fake_out))
        self.d_real_tracker.update_state(self._report(real_out))
        self.d_fake_tracker.update_state(self._report(fake_out))
        self.eval_batches.assign_add(1)
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

    @classmethod
    def from_preset(cls, preset, saved_models_dir=None):
        """A saved GAN of this class, as keras-hub's `from_preset` gives a model.

        `kg.pretrained` owns the files; this checks the class. Any family's
        `from_preset` accepts what `kg.pretrained.load` does: a zoo name
        (`kg.pretrained.list()`), a `.keras` file, a model or run folder holding one,
        or, online, a Keras `hf://` handle or an `https://` URL of a `.keras` file.

        Example:
            gan = kg.models.DCGAN.from_preset("dcgan_mnist")
            gan.fit(more_digits, epochs=2)   # it comes compiled, optimizers and all
        """
        from keras_gans import pretrained

        gan = pretrained.load(preset, saved_models_dir=saved_models_dir, format="keras")
        if not isinstance(gan, cls):
            raise ValueError(f"The preset {preset!r} is a {type(gan).__name__}, not a {cls.__name__}.")
        return gan

    @property
    def precision(self):
        """The Keras dtype policy the networks compute in: "float32", "mixed_float16" or
        "mixed_bfloat16" (their outputs and all variables are float32 in each)."""
        computes = {
            layer.compute_dtype for network in (self.generator, self.discriminator)
            for layer in network.layers
        }
        for precision in ("mixed_float16", "mixed_bfloat16"):
            if precision.removeprefix("mixed_") in computes:
                return precision
        return "float32"

    def save_own_variables(self, store):
        # train_steps (eval_batches belongs to one evaluate() run), then the averages.
        store["0"] = self.train_steps
        for i, average in enumerate(self._ema or []):
            store[f"generator_ema_{i}"] = average

    def load_own_variables(self, store):
        # Files saved before the GAN had its own step counter hold no variable here; the
        # counter then starts at 0.
        if "0" in store:
            self.train_steps.assign(store["0"])
        for i, average in enumerate(self._ema or []):
            key = f"generator_ema_{i}"
            if key not in store:
                raise ValueError(
                    f"This file holds no moving average of the generator ({key}), which the "
                    f"model (ema_decay={self.ema_decay}) expects."
                )
            average.assign(store[key])

    def _keras_config(self):
        """What every Keras model records of itself, whatever its own arguments."""
        return {"name": self.name, "trainable": self.trainable}

    def get_config(self):
        return {
            **self._keras_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "pack": self.pack,
            "seed": self.seed,
            "ema_decay": self.ema_decay,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


class FamilyGAN(GAN):
    """A GAN whose networks are built from a few arguments (a family of the zoo).

    A family's `__init__` states its arguments once, in its signature, and hands its
    `locals()` to `_build_family`, which builds the networks from them
    (`networks.build_pair`) and keeps them as the config. `get_config` returns those
    arguments and the precision the networks were built in, so saving stores the recipe
    and the weights, not the graph, and loading rebuilds the same networks under any
    global policy.
    """

    # 2: "precision" recorded; norm="layer" normalises each example over (H, W, C).
    config_version = 2

    def _build_family(self, given, architecture="auto"):
        """Builds the networks from a family's `locals()` and initialises the GAN.

        The family's own arguments become the config (JSON-ready, the seed as
        resolved); its `**kwargs` go to `keras.Model`.
        """
        arguments = {k: v for k, v in given.items() if k not in ("self", "kwargs", "__class__")}
        generator, discriminator = networks.build_pair(architecture=architecture, **arguments)
        super().__init__(
            generator, discriminator, arguments["latent_dim"], arguments.get("num_classes"),
            pack=arguments["pack"], seed=arguments["seed"], **given.get("kwargs", {}),
        )
        self._family_config = {
            k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()
        } | {"seed": self.seed}

    def get_config(self):
        return {
            **self._keras_config(),
            **self._family_config,
            **({} if self.ema_decay is None else {"ema_decay": self.ema_decay}),
            "precision": self.precision,
            "config_version": self.config_version,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.pop("config_version", 1) < 2 and config.get("norm") == "layer":
            # Version 1 (keras-gans 0.1) meant LayerNormalization over the channels of
            # each position; its models load with the layer they were trained with.
            config["norm"] = "layer_channels"
        precision = config.pop("precision", None)
        if precision is None:  # version 1: the precision was not recorded
            return cls(**config)
        with precision_scope(precision):
            return cls(**config)

    def with_precision(self, precision):
        """A copy computing in `precision`, with the same weights, training step count,
        compile settings and optimizer state (moments and iterations; a fresh loss scale).

        Example:
            gan = keras.models.load_model("dcgan.keras").with_precision("mixed_float16")
        """
        config = dict(self.get_config(), precision=precision)
        twin = type(self).from_config(config)
        twin.set_weights(self.get_weights())
        return self._with_training_state(twin)

    def with_ema(self, ema_decay):
        """A copy keeping a moving average of its generator (`ema_decay`), from here on,
        with the same weights, training step count, compile settings and optimizer state:
        fine-tuning a GAN trained without an average (or with another decay) with one.
        The average starts from the generator's weights (or this GAN's own average).

        Example:
            gan = keras.models.load_model("dcgan.keras").with_ema(0.999)
        """
        twin = type(self).from_config(dict(self.get_config(), ema_decay=ema_decay))
        twin.generator.set_weights(self.generator.get_weights())
        twin.discriminator.set_weights(self.discriminator.get_weights())
        twin.train_steps.assign(self.train_steps)
        starts = self._ema if self._ema is not None else self.generator.trainable_variables
        for average, start in zip(twin._ema, starts):
            average.assign(start)
        return self._with_training_state(twin)

    def _with_training_state(self, twin):
        """`twin` compiled as this GAN is, its optimizers holding this GAN's state."""
        if self.d_optimizer is None:
            return twin
        inner = [_inner(o) for o in (self.d_optimizer, self.g_optimizer)]
        twin.compile(
            *(keras.optimizers.deserialize(keras.optimizers.serialize(o)) for o in inner),
            loss=self.gan_loss, d_steps=self.d_steps, gp_weight=self.gp_weight,
            clip_value=self.clip_value,
        )
        for source, target in zip(inner, (twin.d_optimizer, twin.g_optimizer)):
            for a, b in zip(_inner(target).variables, source.variables):
                a.assign(b)
        return twin


def _inner(optimizer):
    """The optimizer inside a LossScaleOptimizer (or the optimizer itself)."""
    return getattr(optimizer, "inner_optimizer", optimizer)
