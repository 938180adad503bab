"""Networks of the image-to-image families: U-Net and ResNet-block generators, PatchGAN
discriminators.

- U-Net generator (Isola et al., 2017, Sec. 3.2.1 and Appendix 6.1.1): an encoder of
  stride-2 4x4 convolutions C64-C128-C256-C512-C512-... down to a 1x1 bottleneck, a decoder
  of stride-2 transposed convolutions mirroring it, and a skip connection from each encoder
  layer i to the decoder layer at the same resolution (channels concatenated). Ck is
  Convolution-Norm-ReLU (leaky, 0.2, in the encoder); CDk adds Dropout(0.5) (pix2pix's only
  noise) on the innermost decoder layers (`dropout_layers`); no norm on the first encoder
  layer nor on the bottleneck.
- ResNet generator (Johnson et al., 2016, as CycleGAN uses it, Zhu et al., 2017, Appendix
  7.2): c7s1-64, d128, d256, R256 x blocks, u128, u64, c7s1-C with reflection padding and
  instance normalisation.
- PatchGAN discriminator (Isola et al., Sec. 3.2.2): a fully convolutional classifier whose
  outputs each judge one N x N patch of the input; N = 70 is C64-C128-C256-C512 (4x4
  kernels: three stride 2, one stride 1) and a stride-1 convolution to one logit per patch.
  With n stride-2 layers the receptive field is 16, 34, 70, 142 or 286 pixels for n = 1..5.

Sizes 28, 32, 64, 128 and 256 are supported: the U-Net pads its input by reflection to a
multiple of 2^depth (28 -> 32) and crops its output back, so its bottleneck is 1x1 as in
the paper at every size; the PatchGAN's patch is scaled to the image (`default_patch_size`).
Output layers run in float32 so mixed precision never reaches the losses. Weights are drawn
from N(0, 0.02), as in both papers.
"""

import math

import keras
import tensorflow as tf


TRANSLATION_NORMS = ("batch", "instance", "none")
PATCH_SIZES = {16: 1, 34: 2, 70: 3, 142: 4, 286: 5}  # receptive field -> stride-2 layers
GENERATORS = ("unet", "resnet")


def _seeds(seed, offset):
    """A callable giving each layer its own initializer seed, counted from
    `seed * 1000 + offset` (None when seed is None)."""
    counter = iter(range(offset, offset + 250))
    return lambda: None if seed is None else seed * 1000 + next(counter)


def _init(seeds):
    return keras.initializers.RandomNormal(stddev=0.02, seed=seeds())


def check_norm(norm):
    if norm not in TRANSLATION_NORMS:
        raise ValueError(f"Unknown normalisation {norm!r}; expected one of {TRANSLATION_NORMS}.")


def _norm(norm, name):
    if norm == "batch":
        # Synchronised across replicas, as the other families' BatchNorm (networks.py).
        # Momentum 0.9 and epsilon 1e-5, the authors' PyTorch defaults: with Keras' 0.99
        # the moving statistics that inference uses lag hundreds of steps behind the
        # weights (held-out L1 0.36 in inference mode against 0.22 in training mode after
        # 300 steps on the MNIST edges task; equal with 0.9).
        return keras.layers.BatchNormalization(synchronized=True, momentum=0.9, epsilon=1e-5, name=name)
    if norm == "instance":
        # Instance normalisation (Ulyanov et al., 2016): each example's channel over (H, W),
        # i.e. group normalisation with one group per channel.
        return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    return None


def _apply_norm(x, norm, name):
    layer = _norm(norm, name)
    return x if layer is None else layer(x)


def _image_shape(image_shape, what):
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{what} needs an image shape (H, W, C); got {tuple(image_shape)}.")
    return shape


@keras.saving.register_keras_serializable(package="keras_gans")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by mirroring the image at its borders (no repeated edge).

    Args:
        padding: ((top, bottom), (left, right)) or one int for all four sides.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        self.padding = tuple(tuple(int(p) for p in side) for side in padding)

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        return tf.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        (top, bottom), (left, right) = self.padding
        b, h, w, c = input_shape
        return (b, None if h is None else h + top + bottom, None if w is None else w + left + right, c)

    def get_config(self):
        return {**super().get_config(), "padding": [list(side) for side in self.padding]}


@keras.saving.register_keras_serializable(package="keras_gans")
class SeededDropout(keras.layers.Layer):
    """Dropout whose masks come from a stateless seed and a call counter saved with the model.

    pix2pix's generator has no z: its noise is dropout (Isola et al., Sec. 3.1). Keras'
    `Dropout` draws from a `SeedGenerator` whose state is not saved in a `.keras` file and
    is not replica-aware; here the mask of call t is drawn from (seed, t) for the whole
    global batch and each replica keeps its rows, so training is reproducible from the seed,
    a loaded model continues with the masks the original would have drawn, and one step on
    R replicas drops the same units as on one device for the same global batch.
    Active only when called with `training=True`; inference is deterministic.

    Args:
        rate: fraction of units dropped, in [0, 1).
        seed: integer seed of the masks.
    """

    def __init__(self, rate, seed=0, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(f"Dropout rate must be in [0, 1); got {rate!r}.")
        self.rate = float(rate)
        self.seed = int(seed)
        self.calls = self.add_weight(
            shape=(), dtype="int64", initializer="zeros", trainable=False, autocast=False,
            aggregation="only_first_replica", name="calls",
        )

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        ctx = tf.distribute.get_replica_context()
        replicas = 1 if ctx is None else ctx.num_replicas_in_sync
        replica = 0 if ctx is None else ctx.replica_id_in_sync_group
        rows = tf.shape(inputs)[0]
        shape = tf.concat([[rows * replicas], tf.shape(inputs)[1:]], axis=0)
        seed = tf.stack([tf.constant(self.seed, tf.int64), self.calls.value])
        # Integer draws, compared with rate * 2^24: XLA on the CPU turns philox bits into
        # floats differently from the graph kernels, so float draws would drop other units
        # in a compiled step.
        draws = tf.random.stateless_uniform(shape, seed=seed, minval=0, maxval=2**24, dtype=tf.int32, alg="philox")
        keep = draws >= int(round(self.rate * 2**24))
        keep = keep[replica * rows : (replica + 1) * rows]
        self.calls.assign_add(1)
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return tf.where(keep, inputs * scale, tf.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


# ----- U-Net ------------------------------------------------------------------------


def default_unet_depth(image_shape):
    """Stride-2 levels down to a 1x1 bottleneck (after padding): 28 and 32 -> 5, 64 -> 6,
    128 -> 7, 256 -> 8 (the paper's), never more than 8."""
    return min(8, max(1, math.ceil(math.log2(min(image_shape[:2])))))


def dropout_layers(depth):
    """Decoder layers with dropout, the innermost ones: depth - 5 as in the authors' code
    (their U-Nets of 8 and 7 levels, for 256 and 128 pixels: 3 and 2; the paper's
    CD512-CD512-CD512), and at least one, so every U-Net keeps pix2pix's noise."""
    return max(1, depth - 5)


def unet_padding(image_shape, depth):
    """((top, bottom), (left, right)) reflection padding to a multiple of 2^depth."""
    step = 2**depth
    pads = []
    for size in image_shape[:2]:
        total = -size % step
        if total >= size:
            raise ValueError(
                f"A U-Net of depth {depth} needs images padded to a multiple of {step}, and "
                f"reflection padding cannot add {total} pixels to a side of {size}; "
                "use a smaller depth."
            )
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def unet_generator(
    image_shape,
    output_channels=None,
    width=64,
    depth=None,
    dropout=0.5,
    norm="batch",
    seed=None,
    seed_offset=0,
    name="generator",
):
    """A U-Net from images `[B, H, W, C_in]` in [-1, 1] to `[B, H, W, output_channels]` (tanh).

    Encoder layer i has `width * min(2^i, 8)` channels (C64-C128-C256-C512-C512-...); the
    decoder mirrors it, each layer concatenated with the encoder layer of its resolution;
    the innermost `dropout_layers(depth)` decoder layers have dropout (CD512 in the paper).

    Args:
        image_shape: input (H, W, C_in).
        output_channels: channels of the output; C_in when None.
        width: channels of the first encoder layer (64 in the paper).
        depth: stride-2 levels; `default_unet_depth(image_shape)` (a 1x1 bottleneck) when None.
        dropout: rate of the decoder's dropout; 0 for none (CycleGAN's U-Net option).
        norm: "batch" (pix2pix), "instance" (CycleGAN) or "none".
        seed: seed of the initial weights and of the dropout masks.
        seed_offset: where this network's initializer seeds start (two generators of one
            model start from different kernels).
    """
    image_shape = _image_shape(image_shape, "A U-Net")
    check_norm(norm)
    output_channels = image_shape[-1] if output_channels is None else int(output_channels)
    depth = default_unet_depth(image_shape) if depth is None else int(depth)
    if depth < 1:
        raise ValueError(f"depth must be an integer >= 1; got {depth}.")
    seeds = _seeds(seed, seed_offset)
    dropout_seed = 0 if seed is None else seed * 1000 + seed_offset + 249
    pads = unet_padding(image_shape, depth)

    inputs = keras.Input(shape=image_shape, name="images")
    x = inputs
    if any(p for side in pads for p in side):
        x = ReflectionPadding2D(pads, name="pad")(x)
    skips = []
    for i in range(depth):
        x = keras.layers.Conv2D(
            width * min(2**i, 8), 4, strides=2, padding="same", use_bias=(i == 0 or i == depth - 1 or norm == "none"),
            kernel_initializer=_init(seeds), name=f"down_{i}",
        )(x)
        if 0 < i < depth - 1:
            x = _apply_norm(x, norm, f"down_{i}_norm")
        x = keras.layers.LeakyReLU(0.2, name=f"down_{i}_leaky_relu")(x)
        skips.append(x)
    for j in reversed(range(depth - 1)):
        x = keras.layers.Conv2DTranspose(
            width * min(2**j, 8), 4, strides=2, padding="same", use_bias=(norm == "none"),
            kernel_initializer=_init(seeds), name=f"up_{j}",
        )(x)
        x = _apply_norm(x, norm, f"up_{j}_norm")
        if dropout and j >= depth - 1 - dropout_layers(depth):
            x = SeededDropout(dropout, seed=dropout_seed + 1000 * j, name=f"up_{j}_dropout")(x)
        x = keras.layers.ReLU(name=f"up_{j}_relu")(x)
        x = keras.layers.Concatenate(name=f"skip_{j}")([x, skips[j]])
    x = keras.layers.Conv2DTranspose(
        output_channels, 4, strides=2, padding="same", kernel_initializer=_init(seeds), name="up_out",
    )(x)
    if any(p for side in pads for p in side):
        x = keras.layers.Cropping2D(pads, name="crop")(x)
    x = keras.layers.Activation("tanh", dtype="float32", name="output")(x)
    return keras.Model(inputs, x, name=name)


# ----- ResNet -----------------------------------------------------------------------


def default_resnet_blocks(image_shape):
    """Residual blocks of CycleGAN's ResNet generator: 6 below 256 pixels, 9 from 256
    (Zhu et al., Appendix 7.2: 6 for 128 x 128 training images, 9 for 256 x 256 and above)."""
    return 9 if min(image_shape[:2]) >= 256 else 6


def resnet_generator(
    image_shape,
    output_channels=None,
    width=64,
    blocks=None,
    norm="instance",
    seed=None,
    seed_offset=0,
    name="generator",
):
    """CycleGAN's ResNet generator: c7s1-w, d2w, d4w, R4w x blocks, u2w, uw, c7s1-C (tanh).

    c7s1-k is a 7x7 stride-1 convolution (reflection padded) with norm and ReLU; dk a 3x3
    stride-2 convolution, uk a 3x3 stride-1/2 transposed convolution, Rk a residual block of
    two reflection-padded 3x3 convolutions. H and W must be multiples of 4 (28, 32, 64, ...).

    Args:
        image_shape: input (H, W, C_in).
        output_channels: channels of the output; C_in when None.
        width: channels of the first layer (64 in the paper).
        blocks: residual blocks; `default_resnet_blocks(image_shape)` when None.
        norm: "instance" (the paper), "batch" or "none".
        seed: seed of the initial weights.
        seed_offset: where this network's initializer seeds start.
    """
    image_shape = _image_shape(image_shape, "A ResNet generator")
    check_norm(norm)
    if image_shape[0] % 4 or image_shape[1] % 4:
        raise ValueError(
            f"The ResNet generator downsamples twice, so H and W must be multiples of 4; "
            f"got {image_shape[:2]}."
        )
    output_channels = image_shape[-1] if output_channels is None else int(output_channels)
    blocks = default_resnet_blocks(image_shape) if blocks is None else int(blocks)
    if blocks < 0:
        raise ValueError(f"blocks must be an integer >= 0; got {blocks}.")
    seeds = _seeds(seed, seed_offset)
    bias = norm == "none"

    def conv(x, channels, kernel, name, strides=1, pad=0, transpose=False):
        if pad:
            x = ReflectionPadding2D(pad, name=f"{name}_pad")(x)
        layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
        return layer(
            channels, kernel, strides=strides, padding="same" if strides > 1 else "valid",
            use_bias=bias, kernel_initializer=_init(seeds), name=name,
        )(x)

    def norm_relu(x, name):
        x = _apply_norm(x, norm, f"{name}_norm")
        return keras.layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input(shape=image_shape, name="images")
    x = norm_relu(conv(inputs, width, 7, "c7s1_in", pad=3), "c7s1_in")
    x = norm_relu(conv(x, 2 * width, 3, "down_0", strides=2), "down_0")
    x = norm_relu(conv(x, 4 * width, 3, "down_1", strides=2), "down_1")
    for i in range(blocks):
        y = norm_relu(conv(x, 4 * width, 3, f"res_{i}_a", pad=1), f"res_{i}_a")
        y = _apply_norm(conv(y, 4 * width, 3, f"res_{i}_b", pad=1), norm, f"res_{i}_b_norm")
        x = keras.layers.Add(name=f"res_{i}")([x, y])
    x = norm_relu(conv(x, 2 * width, 3, "up_0", strides=2, transpose=True), "up_0")
    x = norm_relu(conv(x, width, 3, "up_1", strides=2, transpose=True), "up_1")
    x = ReflectionPadding2D(3, name="c7s1_out_pad")(x)
    x = keras.layers.Conv2D(
        output_channels, 7, kernel_initializer=_init(seeds), name="c7s1_out",
    )(x)
    x = keras.layers.Activation("tanh", dtype="float32", name="output")(x)
    return keras.Model(inputs, x, name=name)


# ----- PatchGAN ---------------------------------------------------------------------


def patch_receptive_field(layers):
    """The receptive field of a PatchGAN with `layers` stride-2 convolutions (4x4 kernels,
    then one stride-1 layer and the stride-1 output): r = 4, 7, then 2r + 2 per stride-2 layer."""
    r = 7
    for _ in range(layers):
        r = 2 * r + 2
    return r


def default_patch_size(image_shape):
    """The patch scaled to the image as the paper's 70 is to 256: the largest of 16, 34, 70,
    142, 286 not above 70 * size / 256, and at least 16 (28, 32, 64 -> 16; 128 -> 34;
    256 -> 70)."""
    target = 70 * min(image_shape[:2]) / 256
    fitting = [p for p in PATCH_SIZES if p <= target]
    return max(fitting) if fitting else min(PATCH_SIZES)


def patch_layers(patch_size, image_shape):
    """Stride-2 layers of a PatchGAN with receptive field `patch_size` on `image_shape`."""
    if patch_size not in PATCH_SIZES:
        raise ValueError(
            f"patch_size must be one of {sorted(PATCH_SIZES)} (the receptive fields of 1-5 "
            f"stride-2 layers); got {patch_size!r}."
        )
    layers = PATCH_SIZES[patch_size]
    if 2**layers >= min(image_shape[:2]):
        raise ValueError(
            f"A {patch_size}x{patch_size} PatchGAN halves the image {layers} times, leaving "
            f"fewer than 2x2 patches of a {image_shape[0]}x{image_shape[1]} image; use a "
            "smaller patch_size."
        )
    return layers


def patch_discriminator(
    input_shape,
    width=64,
    patch_size=None,
    norm="batch",
    seed=None,
    seed_offset=500,
    name="discriminator",
):
    """A PatchGAN: `[B, H, W, C]` -> one logit (score) per patch, `[B, H', W', 1]`.

    C64-C128-...-C(width * min(2^n, 8)) with LeakyReLU(0.2), no norm on the first layer,
    then a stride-1 convolution to one output per position. For pix2pix the input is the
    condition and the image concatenated along the channels; for CycleGAN one image.

    Args:
        input_shape: (H, W, C) of what it judges.
        width: channels of the first layer (64 in the paper).
        patch_size: receptive field, 16/34/70/142/286; `default_patch_size` when None.
        norm: "batch" (pix2pix), "instance" (CycleGAN) or "none".
        seed: seed of the initial weights.
        seed_offset: where this network's initializer seeds start.
    """
    input_shape = _image_shape(input_shape, "A PatchGAN")
    check_norm(norm)
    patch_size = default_patch_size(input_shape) if patch_size is None else patch_size
    layers = patch_layers(patch_size, input_shape)
    seeds = _seeds(seed, seed_offset)
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    for i in range(layers + 1):
        stride = 2 if i < layers else 1
        x = keras.layers.Conv2D(
            width * min(2**i, 8), 4, strides=stride, padding="same",
            use_bias=(i == 0 or norm == "none"), kernel_initializer=_init(seeds), name=f"conv_{i}",
        )(x)
        if i > 0:
            x = _apply_norm(x, norm, f"conv_{i}_norm")
        x = keras.layers.LeakyReLU(0.2, name=f"conv_{i}_leaky_relu")(x)
    x = keras.layers.Conv2D(
        1, 4, padding="same", dtype="float32", kernel_initializer=_init(seeds), name="patch_scores",
    )(x)
    return keras.Model(inputs, x, name=name)


def check_generator_kind(kind):
    if kind not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}; got {kind!r}.")
