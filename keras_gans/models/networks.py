"""Generator and discriminator builders shared by the GAN families.

Two architectures cover every family:
- MLP (Goodfellow et al., 2014), for vector data such as the 2-D toy mixtures, or
  flattened images;
- DCGAN (Radford et al., 2016): strided (transposed) convolutions, no pooling,
  BatchNorm, ReLU in the generator and LeakyReLU(0.2) in the discriminator, tanh output.

Both take an optional label input (conditional GANs, Mirza & Osindero, 2014) and a
`pack` factor (PacGAN, Lin et al., 2018): a packed discriminator judges `pack` samples
at once, concatenated along the last (feature or channel) axis. Output layers run in
float32 so mixed precision never reaches the losses.
"""

import math

import keras

from keras_gans.models import spectral

NORMS = ("batch", "layer", "none", "layer_channels")
# Initializer seeds: seed * 1000 + offset + layer index, so the generator and the
# discriminator of one seed never start from the same kernels.
_SEED_OFFSETS = {"generator": 0, "discriminator": 500}


def _seeds(seed, network):
    """A callable giving each layer of `network` its own initializer seed (None when
    seed is None)."""
    counter = iter(range(_SEED_OFFSETS[network], _SEED_OFFSETS[network] + 500))
    return lambda: None if seed is None else seed * 1000 + next(counter)


def _dcgan_init(seeds):
    return keras.initializers.RandomNormal(stddev=0.02, seed=seeds())


def _embedding(num_classes, dim, seeds, name):
    init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seeds())
    return keras.layers.Embedding(num_classes, dim, embeddings_initializer=init, name=name)


def _maybe_spectral(layer, spectral_norm, seeds):
    if not spectral_norm:
        return layer
    return spectral.SpectralNormalization(layer, seed=seeds(), name=f"{layer.name}_sn")


def _projection_score(score, features, labels, num_classes, spectral_norm, seeds):
    """`score` plus the projection term of Miyato & Koyama (2018): <sum_p E[y_p], features>.

    E is a learned (num_classes x features) embedding, written as a bias-free Dense on the
    labels' class counts (one-hot for one label, summed over the pack for several), so
    spectral normalisation bounds it like every other layer of the discriminator. The term
    runs in float32, as the score does.
    """
    counts = keras.layers.CategoryEncoding(
        num_classes, output_mode="count", dtype="float32", name="label_counts"
    )(labels)
    dense = keras.layers.Dense(
        features.shape[-1], use_bias=False, dtype="float32",
        kernel_initializer=keras.initializers.GlorotUniform(seeds()), name="label_projection",
    )
    embedded = _maybe_spectral(dense, spectral_norm, seeds)(counts)
    term = keras.layers.Dot(axes=1, dtype="float32", name="projection")([features, embedded])
    return keras.layers.Add(dtype="float32", name="score_and_projection")([score, term])


def _check_projection(label_projection, num_classes):
    if label_projection and not num_classes:
        raise ValueError(
            f"label_projection needs labels (a conditional discriminator); got num_classes={num_classes!r}."
        )


def _batch_norm(name):
    # Batch statistics over the global batch under a tf.distribute strategy (an
    # all-reduce per call), as on one device. Keras' default (synchronized=False) uses
    # each replica's share only and lets the moving statistics drift apart across
    # replicas and workers, so workers of one run would end with different generators.
    return keras.layers.BatchNormalization(synchronized=True, name=name)


@keras.saving.register_keras_serializable(package="keras_gans")
class Maxout(keras.layers.Layer):
    """Maxout (Goodfellow et al., 2013): the maximum over `pieces` consecutive features.

    Input `[..., units * pieces]`, output `[..., units]`: feature j is the largest of
    inputs j * pieces ... j * pieces + pieces - 1.
    """

    def __init__(self, pieces, **kwargs):
        super().__init__(**kwargs)
        self.pieces = int(pieces)

    def call(self, inputs):
        units = inputs.shape[-1] // self.pieces
        grouped = keras.ops.reshape(inputs, (-1, *inputs.shape[1:-1], units, self.pieces))
        return keras.ops.max(grouped, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.pieces)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}


def _norm_layer(norm, name):
    if norm == "batch":
        return _batch_norm(name)
    if norm == "layer":
        # Layer normalisation as Gulrajani et al.'s WGAN-GP code has it: the statistics
        # of each example over (H, W, C) together, a scale and offset per channel; that
        # is group normalisation with one group.
        return keras.layers.GroupNormalization(groups=1, epsilon=1e-5, name=name)
    if norm == "layer_channels":
        # keras-gans 0.1's "layer": each position's channel vector normalised on its
        # own. Kept so the models trained with it load as they were trained.
        return keras.layers.LayerNormalization(name=name)
    return None


def check_norm(norm):
    if norm not in NORMS:
        raise ValueError(f"Unknown normalisation {norm!r}; expected one of {NORMS}.")


def dcgan_plan(image_shape):
    """(start size, number of stride-2 upsamplings) for a square DCGAN image shape.

    28 -> 7 x 2^2, 32 -> 4 x 2^3, 64 -> 4 x 2^4: halve while even and above 4.
    """
    if len(image_shape) != 3 or image_shape[0] != image_shape[1]:
        raise ValueError(
            f"DCGAN networks need a square image shape (H, W, C); got {tuple(image_shape)}. "
            "Supported sizes include 28, 32 and 64 with 1 or 3 channels."
        )
    size, ups = image_shape[0], 0
    while size % 2 == 0 and size > 4:
        size //= 2
        ups += 1
    if ups == 0 or size > 8:
        raise ValueError(
            f"DCGAN networks need an image size of s * 2^n with s <= 8 and n >= 1 "
            f"(28, 32 and 64, for instance); got {image_shape[0]}."
        )
    return size, ups


def _label_input(name, pack):
    shape = () if pack is None else (pack,)
    return keras.Input(shape=shape, dtype="int32", name=name)


def _generator_inputs(latent_dim, num_classes, embed_dim, seeds):
    """([z] or [z, labels], the tensor the generator starts from: z or [z, embed(labels)])."""
    z = keras.Input(shape=(latent_dim,), name="z")
    if not num_classes:
        return [z], z
    labels = _label_input("labels", None)
    emb = _embedding(num_classes, embed_dim, seeds, "label_embedding")(labels)
    return [z, labels], keras.layers.Concatenate(name="z_and_label")([z, emb])


def mlp_generator(
    latent_dim,
    output_shape,
    hidden=(128, 128),
    num_classes=None,
    embed_dim=16,
    output_activation="tanh",
    batch_norm=False,
    seed=None,
    name="generator",
):
    """An MLP generator: z (and labels) -> Dense/ReLU stack -> `output_shape`.

    With `batch_norm`, each hidden Dense is followed by BatchNorm before its ReLU (the
    generator of PacGAN's 2-D experiments).
    """
    seeds = _seeds(seed, "generator")
    inputs, x = _generator_inputs(latent_dim, num_classes, embed_dim, seeds)
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(
            units, kernel_initializer=keras.initializers.GlorotUniform(seeds()), name=f"dense_{i}"
        )(x)
        if batch_norm:
            x = _batch_norm(f"batch_norm_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    x = keras.layers.Dense(
        math.prod(output_shape),
        kernel_initializer=keras.initializers.GlorotUniform(seeds()),
        name="dense_out",
    )(x)
    x = keras.layers.Activation(output_activation, dtype="float32", name="output")(x)
    x = keras.layers.Reshape(tuple(output_shape), dtype="float32", name="reshape")(x)
    return keras.Model(inputs if num_classes else inputs[0], x, name=name)


def mlp_discriminator(
    input_shape,
    hidden=(128, 128),
    num_classes=None,
    embed_dim=16,
    pack=1,
    spectral_norm=False,
    dropout=0.0,
    maxout=1,
    label_projection=False,
    seed=None,
    name="discriminator",
):
    """An MLP discriminator on (packed) inputs: LeakyReLU(0.2) stack -> one logit/score.

    With `pack=m` its input is `m` samples concatenated along the last axis. With
    `maxout=k > 1` each hidden layer is a maxout layer of k pieces (a Dense of
    width * k, then `Maxout`) instead of Dense + LeakyReLU: the discriminator of
    PacGAN's 2-D experiments (k = 5). Labels enter concatenated with the input and, with
    `label_projection`, also as a projection term on the last hidden layer.
    """
    if int(maxout) < 1:
        raise ValueError(f"maxout must be a number of pieces >= 1 (1: LeakyReLU layers); got {maxout!r}.")
    _check_projection(label_projection, num_classes)
    seeds = _seeds(seed, "discriminator")
    shape = tuple(input_shape[:-1]) + (input_shape[-1] * pack,)
    x_in = keras.Input(shape=shape, name="samples")
    inputs, x = [x_in], keras.layers.Flatten(name="flatten")(x_in)
    if num_classes:
        labels = _label_input("labels", pack)
        inputs.append(labels)
        emb = _embedding(num_classes, embed_dim, seeds, "label_embedding")(labels)
        emb = keras.layers.Flatten(name="flatten_labels")(emb)
        x = keras.layers.Concatenate(name="sample_and_label")([x, emb])
    for i, units in enumerate(hidden):
        dense = keras.layers.Dense(
            units * maxout, kernel_initializer=keras.initializers.GlorotUniform(seeds()), name=f"dense_{i}"
        )
        x = _maybe_spectral(dense, spectral_norm, seeds)(x)
        if maxout > 1:
            x = Maxout(maxout, name=f"maxout_{i}")(x)
        else:
            x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seeds(), name=f"dropout_{i}")(x)
    out = keras.layers.Dense(
        1, dtype="float32", kernel_initializer=keras.initializers.GlorotUniform(seeds()), name="score"
    )
    features, x = x, _maybe_spectral(out, spectral_norm, seeds)(x)
    if label_projection:
        x = _projection_score(x, features, labels, num_classes, spectral_norm, seeds)
    return keras.Model(inputs if num_classes else x_in, x, name=name)


def dcgan_generator(
    latent_dim,
    image_shape,
    width=64,
    num_classes=None,
    embed_dim=50,
    seed=None,
    name="generator",
):
    """A DCGAN generator: z -> Dense -> BN/ReLU -> stride-2 Conv2DTranspose stack -> tanh.

    `width` is the channel count of the last hidden layer; it doubles per layer going
    back towards z, as in Radford et al.'s Figure 1.
    """
    seeds = _seeds(seed, "generator")
    start, ups = dcgan_plan(image_shape)
    channels = image_shape[-1]
    inputs, x = _generator_inputs(latent_dim, num_classes, embed_dim, seeds)
    top = width * 2 ** (ups - 1)
    x = keras.layers.Dense(
        start * start * top, use_bias=False, kernel_initializer=_dcgan_init(seeds), name="project"
    )(x)
    x = _batch_norm("project_bn")(x)
    x = keras.layers.ReLU(name="project_relu")(x)
    x = keras.layers.Reshape((start, start, top), name="reshape")(x)
    for i in range(ups - 1):
        x = keras.layers.Conv2DTranspose(
            top // 2 ** (i + 1),
            4,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_dcgan_init(seeds),
            name=f"deconv_{i}",
        )(x)
        x = _batch_norm(f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    x = keras.layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", kernel_initializer=_dcgan_init(seeds),
        name="deconv_out",
    )(x)
    x = keras.layers.Activation("tanh", dtype="float32", name="output")(x)
    return keras.Model(inputs if num_classes else inputs[0], x, name=name)


def dcgan_discriminator(
    image_shape,
    width=64,
    num_classes=None,
    pack=1,
    norm="batch",
    spectral_norm=False,
    label_projection=False,
    seed=None,
    name="discriminator",
):
    """A DCGAN discriminator: stride-2 Conv2D stack with LeakyReLU(0.2) -> one logit/score.

    No normalisation on the first layer (Radford et al.); `norm` picks BatchNorm (DCGAN,
    WGAN), layer normalisation of each example over (H, W, C) (WGAN-GP: the penalty is
    per example, so no batch statistics; "layer_channels" is keras-gans 0.1's per-position
    variant) or none; spectral normalisation replaces it when on. Labels, when given, enter as one
    learned H x W map per packed sample, stacked on the image channels, and, with
    `label_projection`, also as a projection term on the last features (Miyato & Koyama,
    2018): the score becomes psi(h) + <sum_p E[y_p], h>.
    """
    seeds = _seeds(seed, "discriminator")
    check_norm(norm)
    _check_projection(label_projection, num_classes)
    _, downs = dcgan_plan(image_shape)
    height, width_px, channels = image_shape
    x_in = keras.Input(shape=(height, width_px, channels * pack), name="images")
    inputs, x = [x_in], x_in
    if num_classes:
        labels = _label_input("labels", pack)
        inputs.append(labels)
        maps = _embedding(num_classes, height * width_px, seeds, "label_maps")(labels)
        maps = keras.layers.Reshape((pack, height, width_px), name="label_maps_reshape")(maps)
        maps = keras.layers.Permute((2, 3, 1), name="label_maps_channels_last")(maps)
        x = keras.layers.Concatenate(name="images_and_labels")([x_in, maps])
    for i in range(downs):
        conv = keras.layers.Conv2D(
            width * 2**i, 4, strides=2, padding="same", kernel_initializer=_dcgan_init(seeds),
            name=f"conv_{i}",
        )
        x = _maybe_spectral(conv, spectral_norm, seeds)(x)
        layer = None if (i == 0 or spectral_norm) else _norm_layer(norm, f"norm_{i}")
        if layer is not None:
            x = layer(x)
        x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(1, dtype="float32", kernel_initializer=_dcgan_init(seeds), name="score")
    features, x = x, _maybe_spectral(out, spectral_norm, seeds)(x)
    if label_projection:
        x = _projection_score(x, features, labels, num_classes, spectral_norm, seeds)
    return keras.Model(inputs if num_classes else x_in, x, name=name)


def build_pair(
    image_shape,
    latent_dim,
    num_classes=None,
    g_width=64,
    d_width=64,
    g_hidden=(256, 256),
    d_hidden=(256, 256),
    norm="batch",
    spectral_norm=False,
    pack=1,
    embed_dim=None,
    output_activation=None,
    dropout=0.0,
    g_batch_norm=False,
    d_maxout=1,
    label_projection=False,
    architecture="auto",
    seed=None,
):
    """(generator, discriminator) for a sample shape: DCGAN nets for images (rank 3),
    MLPs for vectors (rank 1) or when `architecture="mlp"`.

    The MLP generator's output activation is tanh for images (in [-1, 1]) and linear for
    vectors (the toy mixtures keep their published coordinates) unless given.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if architecture not in ("auto", "mlp", "dcgan"):
        raise ValueError(f"architecture must be 'auto', 'mlp' or 'dcgan'; got {architecture!r}.")
    if architecture == "auto":
        architecture = "dcgan" if len(image_shape) == 3 else "mlp"
    if architecture == "dcgan":
        if g_batch_norm or d_maxout != 1:
            raise ValueError(
                "g_batch_norm and d_maxout are options of the MLP networks; got "
                f"g_batch_norm={g_batch_norm!r}, d_maxout={d_maxout!r} for DCGAN networks."
            )
        kwargs = {} if embed_dim is None else {"embed_dim": embed_dim}
        generator = dcgan_generator(
            latent_dim, image_shape, g_width, num_classes, seed=seed, **kwargs
        )
        discriminator = dcgan_discriminator(
            image_shape, d_width, num_classes, pack, norm, spectral_norm,
            label_projection=label_projection, seed=seed,
        )
        return generator, discriminator
    if output_activation is None:
        output_activation = "tanh" if len(image_shape) == 3 else "linear"
    kwargs = {} if embed_dim is None else {"embed_dim": embed_dim}
    generator = mlp_generator(
        latent_dim, image_shape, g_hidden, num_classes,
        output_activation=output_activation, batch_norm=g_batch_norm, seed=seed, **kwargs,
    )
    discriminator = mlp_discriminator(
        image_shape, d_hidden, num_classes, pack=pack, spectral_norm=spectral_norm,
        dropout=dropout, maxout=int(d_maxout), label_projection=label_projection, seed=seed, **kwargs,
    )
    return generator, discriminator
