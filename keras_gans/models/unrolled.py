"""UnrolledGAN: the generator plays against the discriminator unrolled k steps ahead
(Metz et al., 2017)."""

import keras
import tensorflow as tf

from keras_gans import checks
from keras_gans.models import base

# The discriminator optimizers whose update `UnrolledGAN` can reproduce as a function of
# the weights (and so differentiate through), and the options it cannot.
_UNROLLABLE = (keras.optimizers.Adam, keras.optimizers.SGD)
_UNSUPPORTED_OPTIONS = (
    "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
    "gradient_accumulation_steps", "loss_scale_factor",
)


@keras.saving.register_keras_serializable(package="keras_gans")
class UnrolledGAN(base.FamilyGAN):
    """Unrolled GAN (Metz et al., 2017, "Unrolled Generative Adversarial Networks"), MLPs.

    The discriminator's update is the GAN's (base class). The generator minimises the
    surrogate objective

        f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D)),
        theta_D^0 = theta_D,
        theta_D^{k+1} = theta_D^k + eta^k * df(theta_G, theta_D^k) / dtheta_D^k,

    the game's generator loss against the discriminator after K more of its own updates
    (K = `unroll_steps`, 5 by default, the value the mode-collapse studies use on the 2-D
    mixtures). With `second_order=True` the gradient flows through the unrolled updates
    (dtheta_D^K / dtheta_G included), which is what lets the generator see how the
    discriminator would answer a move and keeps it from collapsing onto one mode; with
    `second_order=False` the unrolled weights are constants (the paper's first-order
    approximation): the generator's gradient is that of the game's loss against D_K.
    The surrogate is the generator's loss at D_K, not the whole minimax value: the value's
    real-data term E_x[log D_K(x)], which depends on theta_G through the unrolled weights
    only, is left out (the authors' code keeps it; added here it did not cover more modes:
    the authors' ring8 setup of tests/test_unrolled.py, seeds 0-5, 6.5 modes with it, 7.2
    without).

    How the K steps are taken:
    - The discriminator is copied functionally: its current weights as tensors, run with
      `discriminator.stateless_call`; nothing is assigned to its variables, and its real
      next update is the base class's, unchanged.
    - Each step is the discriminator's own optimizer step, reproduced as a function of the
      weights from the optimizer's current state (Adam: its moments m and v, iteration
      count and learning rate, schedules followed step by step, amsgrad included; SGD:
      its momentum): the paper unrolls the discriminator's optimizer, Adam. Other
      optimizers and the options weight decay, gradient clipping, EMA and gradient
      accumulation are refused at `compile`.
    - Each step's loss is the discriminator's loss on the last discriminator step's real
      minibatch (the same one for every unrolled step, as in the authors' code) and on m
      fresh generated samples: fresh z per unrolled step, none reused (the authors' code
      reuses the generator step's samples for every unrolled step).
    - Under a tf.distribute strategy each step's gradient is all-reduced across replicas
      (the all-reduce is differentiable), so R replicas unroll exactly the discriminator one
      device would. Under mixed_float16 each step's loss is scaled by the discriminator's
      current loss scale and its gradient unscaled; an overflow there makes the generator's
      gradients non-finite, and its loss-scaled step is skipped.
    - WGAN clipping (`clip_value`) is applied after each unrolled step, as after a real
      one; a gradient penalty (`gp_weight`) is refused at `compile`.

    Noise streams of one training iteration (see `GAN._noise`), k = `d_steps`,
    K = `unroll_steps`, s = train_steps * (2k + 1 + K): s + j, z of discriminator step j;
    s + k + j, alpha of its penalty (unused); s + 2k, z of the generator step (the samples
    the surrogate loss judges); s + 2k + 1 + i, z of unrolled step i. With K = 0 the layout
    and the update are VanillaGAN's exactly.

    Defaults follow the authors' public 2-D mixture demo (github.com/poolio/unrolled_gan):
    z in R^256, two hidden layers of 128 in each network (ReLU / LeakyReLU(0.2) here, tanh
    there), Adam with beta_1 = 0.5 and epsilon = 1e-8, learning rate 1e-4 for the
    discriminator and 1e-3 for the generator, K = 5.

    `evaluate` reports the plain game's losses (against the current discriminator).

    Args:
        image_shape: shape of one sample, e.g. (2,) for the 2-D mixtures.
        latent_dim: size of z.
        g_hidden: widths of the generator's hidden layers (ReLU).
        d_hidden: widths of the discriminator's hidden layers (LeakyReLU 0.2).
        output_activation: "tanh" (images) or "linear" (vectors); chosen by rank when None.
        unroll_steps: K, discriminator steps unrolled for the generator's loss (>= 0; 0 is
            the plain GAN).
        second_order: differentiate through the unrolled updates (True) or treat the
            unrolled weights as constants (False).
        pack: PacGAN packing.
        seed: seed of the initial weights and of the training noise.

    Example:
        gan = kg.models.UnrolledGAN(image_shape=(2,), latent_dim=8, unroll_steps=5)
        gan.compile()   # Adam(1e-4, 0.5) for D, Adam(1e-3, 0.5) for G
        gan.fit(kg.data.mixture("ring8").dataset(batch_size=512).repeat(),
                steps_per_epoch=2000, epochs=1)
    """

    family = "unrolled_gan"

    def __init__(
        self,
        image_shape=(2,),
        latent_dim=256,
        g_hidden=(128, 128),
        d_hidden=(128, 128),
        output_activation=None,
        unroll_steps=5,
        second_order=True,
        pack=1,
        seed=None,
        **kwargs,
    ):
        given = dict(locals())
        unroll_steps = checks.integer(unroll_steps, "unroll_steps", 0)
        if not isinstance(second_order, bool):
            raise ValueError(f"second_order must be True or False; got {second_order!r}.")
        networks = {k: v for k, v in given.items() if k not in ("unroll_steps", "second_order")}
        self._build_family(networks, architecture="mlp")
        self.unroll_steps = unroll_steps
        self.second_order = second_order
        self._family_config["unroll_steps"] = unroll_steps
        self._family_config["second_order"] = second_order

    def default_optimizers(self):
        """Adam(1e-4, beta_1=0.5) for the discriminator, Adam(1e-3, beta_1=0.5) for the
        generator, epsilon 1e-8 (the authors' 2-D demo)."""
        return (
            keras.optimizers.Adam(1e-4, beta_1=0.5, epsilon=1e-8),
            keras.optimizers.Adam(1e-3, beta_1=0.5, epsilon=1e-8),
        )

    def compile(self, d_optimizer=None, g_optimizer=None, loss=None, d_steps=None,
                gp_weight=None, clip_value=None, **kwargs):
        """As `GAN.compile`; the discriminator's optimizer must be one the unrolled steps
        can reproduce (Adam or SGD, without weight decay, clipping, EMA or accumulation),
        and there is no gradient penalty."""
        if d_optimizer is not None:
            _check_unrollable(d_optimizer)
        if gp_weight:
            raise ValueError(
                f"UnrolledGAN unrolls the discriminator's loss without a gradient penalty; got "
                f"gp_weight={gp_weight!r}. Compile it with gp_weight=0 (or None)."
            )
        super().compile(d_optimizer, g_optimizer, loss=loss, d_steps=d_steps,
                        gp_weight=gp_weight, clip_value=clip_value, **kwargs)

    # ----- the generator's loss against the unrolled discriminator ---------------------

    def _extra_noise_streams(self):
        return self.unroll_steps

    def _generator_loss(self, fake, labels, real, stream):
        weights = [tf.convert_to_tensor(v) for v in self.discriminator.trainable_variables]
        state = [tf.convert_to_tensor(v) for v in self.discriminator.non_trainable_variables]
        optimizer = _Unrolled(self.d_optimizer, self.discriminator.trainable_variables)
        m = tf.shape(real)[0]
        for i in range(self.unroll_steps):
            fake_i = self._generate_for_training(m, labels, stream + i)
            with tf.GradientTape() as tape:
                tape.watch(weights)
                (real_out, fake_out), state = self._stateless_real_and_fake(
                    weights, state, real, fake_i, labels
                )
                d_loss = self.gan_loss.discriminator(real_out, fake_out)
                scaled = self._scaled_for_gradients(d_loss, self.d_optimizer)
            grads = optimizer.unscale(tape.gradient(scaled, weights))
            ctx = tf.distribute.get_replica_context()
            if ctx is not None and ctx.num_replicas_in_sync > 1:
                # Each replica's gradient is of its share of the loss: their sum is the
                # global-batch gradient, which every replica's real step applies too.
                grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            weights = optimizer.step(weights, grads, i)
            if self.clip_value is not None:
                weights = [tf.clip_by_value(w, -self.clip_value, self.clip_value) for w in weights]
        if not self.second_order:
            weights = [tf.stop_gradient(w) for w in weights]
        out, _ = self._stateless_discriminate(weights, state, fake, labels)
        return self.gan_loss.generator(out)

    def _stateless_discriminate(self, weights, state, samples, labels):
        """(discriminator outputs, its new non-trainable state) with the given weights."""
        packed = self._pack(samples)
        inputs = packed if self.num_classes is None else [packed, tf.reshape(labels, [-1, self.pack])]
        return self.discriminator.stateless_call(weights, state, inputs, training=True)

    def _stateless_real_and_fake(self, weights, state, real, fake, labels):
        """As `GAN._discriminate_real_and_fake`, with the given weights: one call on real
        and fake together unless the discriminator has batch statistics."""
        fake = tf.cast(fake, real.dtype)
        if not self._batch_independent_discriminator:
            real_out, state = self._stateless_discriminate(weights, state, real, labels)
            fake_out, state = self._stateless_discriminate(weights, state, fake, labels)
            return (real_out, fake_out), state
        both_labels = None if labels is None else tf.concat([labels, labels], axis=0)
        out, state = self._stateless_discriminate(
            weights, state, tf.concat([real, fake], axis=0), both_labels
        )
        return tuple(tf.split(out, 2, axis=0)), state


def _check_unrollable(optimizer):
    inner = base._inner(optimizer)
    if not isinstance(inner, _UNROLLABLE) or isinstance(inner, keras.optimizers.AdamW):
        raise ValueError(
            "UnrolledGAN reproduces the discriminator's optimizer step to unroll it, which it "
            f"can for Adam and SGD; got d_optimizer={type(inner).__name__}."
        )
    given = {name: getattr(inner, name, None) for name in _UNSUPPORTED_OPTIONS}
    given = {name: value for name, value in given.items() if value}
    if given:
        options = ", ".join(f"{name}={value!r}" for name, value in given.items())
        raise ValueError(
            "UnrolledGAN reproduces the discriminator optimizer's plain update to unroll it; "
            f"got {type(inner).__name__} with {options}. Use it without these options."
        )


def _safe_sqrt(x):
    """sqrt(x) with a zero gradient at x = 0 (not an infinite one, which times a zero
    upstream gradient is NaN): Adam's velocity of a weight whose gradient is always 0."""
    positive = x > 0
    return tf.where(positive, tf.sqrt(tf.where(positive, x, tf.ones_like(x))), tf.zeros_like(x))


class _Unrolled:
    """The discriminator optimizer's next updates as a pure function of the weights.

    Starts from the optimizer's current state (slots, iterations); `step(weights, grads,
    i)` is its update number iterations + i + 1, the same arithmetic as Keras 3.15's
    `Adam.update_step` / `SGD.update_step`, with the state carried in tensors.
    """

    def __init__(self, optimizer, variables):
        self.scale = optimizer.dynamic_scale if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else None
        self.optimizer = opt = base._inner(optimizer)
        index = [opt._get_variable_index(v) for v in variables]
        if isinstance(opt, keras.optimizers.Adam):
            self.m = [tf.convert_to_tensor(opt._momentums[j]) for j in index]
            self.v = [tf.convert_to_tensor(opt._velocities[j]) for j in index]
            self.v_hat = [tf.convert_to_tensor(opt._velocity_hats[j]) for j in index] if opt.amsgrad else None
        else:
            self.m = [tf.convert_to_tensor(opt.momentums[j]) for j in index] if opt.momentum else None

    def unscale(self, grads):
        if self.scale is None:
            return grads
        return [g / tf.cast(self.scale, g.dtype) for g in grads]

    def _learning_rate(self, i):
        opt = self.optimizer
        lr = opt._learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            return tf.cast(lr(opt.iterations + i), tf.float32)
        if callable(lr) and not isinstance(lr, keras.Variable):
            return tf.cast(lr(), tf.float32)
        return tf.cast(tf.convert_to_tensor(lr), tf.float32)

    def step(self, weights, grads, i):
        opt = self.optimizer
        lr = self._learning_rate(i)
        if isinstance(opt, keras.optimizers.Adam):
            local_step = tf.cast(opt.iterations + 1 + i, tf.float32)
            beta_1_power = tf.pow(tf.cast(opt.beta_1, tf.float32), local_step)
            beta_2_power = tf.pow(tf.cast(opt.beta_2, tf.float32), local_step)
            alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            out = []
            for n, (w, g) in enumerate(zip(weights, grads)):
                g = tf.cast(g, w.dtype)
                self.m[n] = self.m[n] + (g - self.m[n]) * (1 - opt.beta_1)
                self.v[n] = self.v[n] + (tf.square(g) - self.v[n]) * (1 - opt.beta_2)
                v = self.v[n]
                if self.v_hat is not None:
                    self.v_hat[n] = v = tf.maximum(self.v_hat[n], v)
                out.append(w - self.m[n] * alpha / (_safe_sqrt(v) + opt.epsilon))
            return out
        out = []
        for n, (w, g) in enumerate(zip(weights, grads)):
            g = tf.cast(g, w.dtype)
            if self.m is None:
                out.append(w - g * lr)
                continue
            self.m[n] = self.m[n] * opt.momentum - g * lr
            if opt.nesterov:
                out.append(w + self.m[n] * opt.momentum - g * lr)
            else:
                out.append(w + self.m[n])
        return out
