"""pix2pix: image-to-image translation with a conditional GAN (Isola et al., 2017), and
`TranslationGAN`, what both image-to-image families (pix2pix, CycleGAN) share."""

import inspect
import secrets

import keras
import numpy as np
import tensorflow as tf

from keras_gans import checks
from keras_gans.models import base
from keras_gans.models import translation_networks as tn


def _l1(x, y):
    """Mean absolute difference, in float32."""
    return tf.reduce_mean(tf.abs(tf.cast(x, tf.float32) - tf.cast(y, tf.float32)))


def _weight(value, name):
    value = float(value)
    if not value >= 0:
        raise ValueError(f"{name} must be a number >= 0; got {value!r}.")
    return value


class TranslationGAN(base.FamilyGAN):
    """A GAN that translates images of domain A into domain B: trained with `fit` on
    `(a, b)` batches of float32 images in [-1, 1], used through `translate`.

    The base class's algorithm is the one-step game of the image families: one
    discriminator update and one generator update per batch (`d_steps` = 1), no z (the
    generator's input is an image; `latent_dim` is None). The config is the family's
    constructor arguments and precision, as for the other families, so `.keras` files
    rebuild the networks and load weights, optimizer state and training counters.

    Attributes:
        image_shape: (H, W, C_a), the shape of A images (the generator's input).
        target_shape: (H, W, C_b), the shape of B images.
        translators: {"a_to_b": keras.Model, ...}, the generators by direction.
    """

    family = "translation"

    @staticmethod
    def _resolved_seed(seed):
        return int(secrets.randbelow(2**31)) if seed is None else int(seed)

    def _build_translation(self, given, generator, discriminator):
        """Initialises the GAN with built networks; the family's own arguments (by its
        `__init__` signature, read from `given`, its `locals()`) become the config."""
        names = [
            p for p in inspect.signature(type(self).__init__).parameters
            if p not in ("self", "kwargs")
        ]
        arguments = {name: given[name] for name in names}
        base.GAN.__init__(
            self, generator, discriminator, latent_dim=None, seed=arguments["seed"],
            **given.get("kwargs", {}),
        )
        self.latent_dim = None
        self.image_shape = tuple(int(d) for d in generator.inputs[0].shape[1:])
        self.target_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        self._family_config = {
            k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()
        } | {"seed": self.seed}

    def _check_networks(self):
        given = tuple(self.generator.inputs[0].shape[1:3])
        made = tuple(self.generator.outputs[0].shape[1:3])
        if given != made:
            raise ValueError(
                f"A translation generator keeps the image size; this one takes {given} and "
                f"makes {made}."
            )

    @staticmethod
    def _target_channels(image_shape, target_channels):
        if target_channels is None:
            return image_shape[-1]
        return checks.integer(target_channels, "target_channels")

    # ----- compile -------------------------------------------------------------------

    def compile(self, d_optimizer=None, g_optimizer=None, loss=None, d_steps=None, gp_weight=None,
                clip_value=None, **kwargs):
        """Sets the optimizers (both or neither: Adam(2e-4, beta_1=0.5) for each, the
        paper's) and the GAN game (`loss`, the family's default when None).

        One discriminator update per generator update, no gradient penalty, no clipping:
        `d_steps`, `gp_weight` and `clip_value` are accepted only at those values.
        """
        if d_steps not in (None, 1) or gp_weight not in (None, 0, 0.0) or clip_value is not None:
            raise ValueError(
                f"{type(self).__name__} makes one discriminator and one generator update per "
                f"batch, without gradient penalty or clipping; got d_steps={d_steps!r}, "
                f"gp_weight={gp_weight!r}, clip_value={clip_value!r}."
            )
        super().compile(d_optimizer, g_optimizer, loss=loss, **kwargs)

    # ----- data ----------------------------------------------------------------------

    def _unpack(self, data):
        """(a, b) from a training batch, with both shapes checked (a ValueError when the
        step is traced). The base class calls the second element `labels`; here it is
        the batch of B images."""
        name = type(self).__name__
        if isinstance(data, dict) and "a" in data and "b" in data:
            a, b = data["a"], data["b"]
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            a, b = data
        else:
            what = type(data).__name__ + (f" of {len(data)}" if isinstance(data, (tuple, list)) else "")
            raise ValueError(
                f"{name} trains on (a, b) batches of A and B images (a tuple of two, or a dict "
                f"with keys 'a' and 'b'), e.g. from kg.data.load_paired; got a {what}."
            )
        for images, shape, domain in ((a, self.image_shape, "A"), (b, self.target_shape, "B")):
            got = tuple(images.shape[1:])
            if got != shape:
                raise ValueError(
                    f"Training data has {domain} images of shape {got}, but {name} translates "
                    f"{self.image_shape} images into {self.target_shape} images."
                )
        return a, b

    def _label_checks(self, a, b):
        return [
            tf.debugging.assert_equal(
                tf.shape(a)[0], tf.shape(b)[0],
                message="Training batches must hold as many A images as B images.",
            )
        ]

    def _split_data(self, data):
        a, b = self._unpack(data)
        return tf.cast(a, tf.float32), tf.cast(b, tf.float32), self._label_checks(a, b)

    # ----- inference -----------------------------------------------------------------

    @property
    def translators(self):
        """The generators by direction: {"a_to_b": keras.Model} (and "b_to_a" for CycleGAN)."""
        return {"a_to_b": self.generator}

    def _translator(self, direction):
        translators = self.translators
        if direction not in translators:
            raise ValueError(
                f"{type(self).__name__} translates in the direction(s) "
                f"{', '.join(repr(d) for d in translators)}; got direction={direction!r}."
            )
        return translators[direction]

    def translate(self, images, direction="a_to_b", batch_size=256):
        """Translated images as a float32 NumPy array in [-1, 1], in inference mode.

        Args:
            images: `[N, H, W, C]` (or one `[H, W, C]` image), float in [-1, 1] or uint8
                in [0, 255], of the direction's input domain.
            direction: "a_to_b" (or "b_to_a" for CycleGAN).
            batch_size: images per forward pass.

        Example:
            b = model.translate(a_images)                  # [N, H, W, C_b]
        """
        translator = self._translator(direction)
        x, single = checks.translation_batch(
            images, translator.inputs[0].shape[1:], type(self).__name__, direction
        )
        batch_size = checks.integer(batch_size, "batch_size")
        out = [
            np.asarray(translator(x[i : i + batch_size], training=False))
            for i in range(0, len(x), batch_size)
        ]
        out = np.concatenate(out) if out else np.zeros((0, *translator.outputs[0].shape[1:]), np.float32)
        return out[0] if single else out

    def call(self, inputs, training=False):
        """The A -> B translation of a batch of A images."""
        return self.generator(inputs, training=training)

    def sample(self, n, seed=None, labels=None):
        raise ValueError(
            f"{type(self).__name__} translates images and samples none from noise: use "
            "translate(images, direction=...)."
        )


@keras.saving.register_keras_serializable(package="keras_gans")
class Pix2Pix(TranslationGAN):
    """pix2pix (Isola et al., 2017): a conditional GAN from paired images of A to B.

    The generator G is a U-Net from an A image x to a B image; its noise is dropout (no z;
    Sec. 3.1). The discriminator D is a PatchGAN judging (x, y) pairs, the two images
    concatenated along the channels, one logit per N x N patch. The objective (Eq. 4):

        G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G),
        L_cGAN = E[log D(x, y)] + E[log(1 - D(x, G(x)))],  L_L1 = E[||y - G(x)||_1],

    lambda = 100, with the non-saturating generator loss (G maximises log D(x, G(x))) on
    logits, the discriminator's loss halved ("we divide the objective by 2 while optimizing
    D"), Adam(2e-4, beta_1=0.5) for both, BatchNorm in both networks. Each step makes G(x)
    once, updates D on it, then updates G against the updated D, as the authors' code does.

    Logged by fit: `d_loss` (halved), `g_loss` (adversarial + lambda * L1), `d_real` and
    `d_fake` (mean D(x, y) and D(x, G(x)) as probabilities), and `l1` (L_L1).

    Inference (`translate`, `translators`, the exported signature) runs G with
    `training=False`: no dropout and BatchNorm's moving statistics, so one input gives one
    output. (The paper kept dropout and batch statistics at test time.)

    Args:
        image_shape: (H, W, C_a) of the input (A) images: 28, 32, 64, 128 or 256 pixels
            square, or other sizes the U-Net pads to a multiple of 2^depth.
        target_channels: C_b of the output (B) images; C_a when None.
        g_width: channels of the U-Net's first layer (64 in the paper).
        d_width: channels of the PatchGAN's first layer (64 in the paper).
        depth: U-Net levels; down to a 1x1 bottleneck when None (8 at 256 pixels).
        dropout: rate of the U-Net decoder's dropout (0.5).
        l1_weight: lambda of the L1 term (100).
        patch_size: PatchGAN receptive field (16, 34, 70, 142 or 286); scaled to the image
            when None (70 at 256 pixels, 16 at 28).
        seed: seed of the initial weights and of the dropout masks.

    Example:
        model = Pix2Pix(image_shape=(28, 28, 1))
        model.compile()   # Adam(2e-4, 0.5) for both, non-saturating loss
        model.fit(kg.data.load_paired("mnist_edges", mnist="tests/data/mnist", batch_size=32), epochs=5)
        digits = model.translate(edge_maps)
    """

    family = "pix2pix"
    default_loss = "non_saturating"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        target_channels=None,
        g_width=64,
        d_width=64,
        depth=None,
        dropout=0.5,
        l1_weight=100.0,
        patch_size=None,
        seed=None,
        **kwargs,
    ):
        image_shape = tn._image_shape(image_shape, "Pix2Pix")
        seed = self._resolved_seed(seed)
        channels = self._target_channels(image_shape, target_channels)
        generator = tn.unet_generator(
            image_shape, channels, checks.integer(g_width, "g_width"), depth, dropout,
            norm="batch", seed=seed, name="generator",
        )
        discriminator = tn.patch_discriminator(
            image_shape[:2] + (image_shape[-1] + channels,), checks.integer(d_width, "d_width"),
            patch_size, norm="batch", seed=seed, name="discriminator",
        )
        self._build_translation(locals(), generator, discriminator)
        self.l1_weight = _weight(l1_weight, "l1_weight")
        self.l1_tracker = keras.metrics.Mean(name="l1")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker, self.l1_tracker]

    def discriminate(self, images, condition=None, training=False):
        """PatchGAN logits `[B, H', W', 1]` for (condition, image) pairs: A images and
        (real or translated) B images."""
        return self.discriminator(
            tf.concat([tf.cast(condition, images.dtype), images], axis=-1), training=training
        )

    def _train_step(self, a, b):
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as g_tape:
            fake = self.generator(a, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    real_out, fake_out = self._discriminate_real_and_fake(b, tf.stop_gradient(fake), a)
                    d_loss = 0.5 * self.gan_loss.discriminator(real_out, fake_out)
                    scaled = self._scaled_for_gradients(d_loss, self.d_optimizer)
                self._apply(self.d_optimizer, d_tape.gradient(scaled, d_vars), d_vars)
            adversarial = self.gan_loss.generator(self.discriminate(fake, a, training=True))
            l1 = _l1(b, fake)
            g_loss = adversarial + self.l1_weight * l1
            scaled = self._scaled_for_gradients(g_loss, self.g_optimizer)
        self._apply(self.g_optimizer, g_tape.gradient(scaled, g_vars), g_vars)
        self._track(d_loss, g_loss, real_out, fake_out, l1)
        self.train_steps.assign_add(1)
        return self._logs()

    def _test_step(self, a, b):
        fake = self.generator(a, training=False)
        real_out, fake_out = self.discriminate(b, a), self.discriminate(fake, a)
        d_loss = 0.5 * self.gan_loss.discriminator(real_out, fake_out)
        l1 = _l1(b, fake)
        g_loss = self.gan_loss.generator(fake_out) + self.l1_weight * l1
        self._track(d_loss, g_loss, real_out, fake_out, l1)
        return self._logs()

    def _track(self, d_loss, g_loss, real_out, fake_out, l1):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(self._report(real_out))
        self.d_fake_tracker.update_state(self._report(fake_out))
        self.l1_tracker.update_state(l1)
