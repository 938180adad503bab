"""Export GAN generators and image-to-image translators as versioned SavedModels for TF Serving.

Every export carries the signatures of the serving contract (`keras_gans.contract`:
`serving_default`, `sample`, `sample_png` for a generator; `translate`, `translate_png`
(+ `translate_b_to_a`, `translate_b_to_a_png` for CycleGAN) and `serving_default` for a
translator; their names, dtypes and shapes are defined there, once), and lands in a
version folder numbered by TF Serving's rule (`keras_gans.layout`), written atomically
(`_save_version`, the one home of that rule for both kinds).

`sample` draws `z` with `tf.random.stateless_normal` seeded by `seed`
(`keras_gans.models.sampling.latent_from_seed`), so a seed names the same images
on every server and in every process. Generators of 1-D data (the 2-D toy
mixtures, `image_shape=(2,)`) are not images: their `sample` returns the
float32 points unquantized and they have no `sample_png`.

Requests outside the export's limits fail inside the graph with
`tf.debugging.Assert` (INVALID_ARGUMENT, HTTP 400), so the real
`tensorflow_model_server` enforces them exactly like the embedded server:
`num_samples` (and the rows of `z`) must be in `[1, max_num_samples]`
(`serving_default` accepts 0 rows), `labels` must be class ids in
`[0, num_classes)` with one label per sample (or none).

Example:
    import keras_gans as kg

    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=100)
    version = kg.export.export_generator(gan, "saved_models/dcgan_mnist")
    # saved_models/dcgan_mnist/1/ (version == 1) and saved_models/dcgan_mnist/card.json

    pix2pix = kg.models.Pix2Pix(image_shape=(28, 28, 1))
    kg.export.export_translator(pix2pix, "saved_models/pix2pix_mnist_edges")
"""

import datetime
import os
import secrets
import shutil

from keras_gans import checks, contract, layout, record_paths

# TensorFlow is imported inside the functions that need it.


def _build_serving_module(gan, max_num_samples):
    """A `tf.Module` holding the generator's weights and the signature functions."""
    import tensorflow as tf

    from keras_gans.models.sampling import latent_from_seed, to_uint8

    latent_dim = int(gan.latent_dim)
    num_classes = int(gan.num_classes) if gan.num_classes else None
    image_shape = tuple(int(d) for d in gan.image_shape)
    signature_specs = contract.serving_signatures(latent_dim, image_shape, num_classes)
    max_n = int(max_num_samples)

    def spec(tensor_spec):
        return tf.TensorSpec(tensor_spec.shape, tensor_spec.dtype, name=tensor_spec.name)

    def check(condition, message, *values):
        # The message is formatted in the graph so the request's values appear
        # in the error the client gets, from this server or from TF Serving.
        text = tf.strings.format(message, values, summarize=16) if values else message
        return tf.debugging.Assert(condition, [text])

    def resolve_labels(labels, count, what):
        """The request's labels, or the classes in turn (0, 1, ...) when it sent []."""
        labels = tf.cond(
            tf.equal(tf.size(labels), 0),
            lambda: tf.math.floormod(tf.range(count, dtype=tf.int32), num_classes),
            lambda: labels,
        )
        in_range = tf.logical_and(labels >= 0, labels < num_classes)
        checks = [
            check(
                tf.equal(tf.size(labels), count),
                "labels must hold one class id per " + what + " (or be empty); got {} labels for {}",
                tf.size(labels),
                count,
            ),
            check(
                tf.reduce_all(in_range),
                f"labels must be class ids in [0, {num_classes}); got {{}}",
                tf.boolean_mask(labels, tf.logical_not(in_range)),
            ),
        ]
        return labels, checks

    def generate(z, labels):
        images = gan.generate(z, labels) if num_classes else gan.generate(z)
        return tf.cast(images, tf.float32)

    def draw(num_samples, seed, labels):
        checks = [
            check(
                tf.logical_and(num_samples >= 1, num_samples <= max_n),
                f"num_samples must be between 1 and {max_n} "
                "(max_num_samples of this export); got {}",
                num_samples,
            )
        ]
        if num_classes:
            # After the num_samples check: [] labels expand to num_samples ids.
            with tf.control_dependencies(checks):
                labels, label_checks = resolve_labels(
                    labels, tf.identity(num_samples), "sample (num_samples)"
                )
            checks += label_checks
        with tf.control_dependencies(checks):
            z = latent_from_seed(tf.identity(num_samples), latent_dim, seed)
            return generate(z, labels)

    def serving_default(z, labels=None):
        checks = [
            check(
                tf.shape(z)[0] <= max_n,
                f"z must have at most {max_n} rows "
                "(max_num_samples of this export); got {}",
                tf.shape(z)[0],
            )
        ]
        if num_classes:
            labels, label_checks = resolve_labels(labels, tf.shape(z)[0], "row of z")
            checks += label_checks
        with tf.control_dependencies(checks):
            return {contract.IMAGES: generate(tf.identity(z), labels)}

    def sample(num_samples, seed, labels=None):
        images = draw(num_samples, seed, labels)
        # Points of a toy mixture are not pixels: they stay float32, unclipped.
        return {contract.IMAGES: to_uint8(images) if contract.is_image_shape(image_shape) else images}

    def sample_png(num_samples, seed, labels=None):
        images = draw(num_samples, seed, labels)
        pngs = tf.map_fn(tf.io.encode_png, to_uint8(images), fn_output_signature=tf.string)
        return {contract.IMAGES_BYTES: pngs}

    # The argument names of these functions become the signatures' input aliases.
    if num_classes:

        def serving_default_fn(z, labels):
            return serving_default(z, labels)

        def sample_fn(num_samples, seed, labels):
            return sample(num_samples, seed, labels)

        def sample_png_fn(num_samples, seed, labels):
            return sample_png(num_samples, seed, labels)

    else:

        def serving_default_fn(z):
            return serving_default(z)

        def sample_fn(num_samples, seed):
            return sample(num_samples, seed)

        def sample_png_fn(num_samples, seed):
            return sample_png(num_samples, seed)

    fns = {
        contract.SERVING_DEFAULT: serving_default_fn,
        contract.SAMPLE: sample_fn,
        contract.SAMPLE_PNG: sample_png_fn,
    }

    module = tf.Module(name="generator_serving")
    # Tracking the generator's variables (not the Keras objects) keeps the
    # SavedModel to weights + signatures, and the export fast.
    variables = gan.generation_variables() if hasattr(gan, "generation_variables") else gan.generator.variables
    module.generator_variables = [getattr(v, "value", v) for v in variables]
    signatures = {}
    for name, signature in signature_specs.items():
        function = tf.function(
            fns[name], input_signature=[spec(s) for s in signature.inputs], autograph=False
        )
        signatures[name] = function.get_concrete_function()
    return module, signatures


def _check_gan(gan):
    missing = [
        name
        for name in ("generator", "latent_dim", "num_classes", "image_shape", "generate")
        if not hasattr(gan, name)
    ]
    if missing:
        raise TypeError(
            "export_generator expects a keras_gans GAN (with generator, latent_dim, "
            f"num_classes, image_shape and generate); {type(gan).__name__} lacks "
            f"{', '.join(missing)}"
        )
    if not gan.generator.built:
        raise ValueError("The generator has no weights yet: build or train the GAN first.")


def _update_card(base_path, version, fields, training=None, metrics=None):
    """Writes `base_path/card.json`: `fields` describe the model, `versions` each export.

    The one home of the card's bookkeeping for generators and translators: per exported
    version, when it was exported and how it was trained; the top-level `training` and
    `metrics` describe the latest version only. Paths in `training` and `metrics` are
    written by `keras_gans.record_paths.portable`: model files relative to `base_path`,
    no absolute path of this machine.
    """
    try:
        card = layout.read_card(base_path)
    except (OSError, ValueError):  # An unreadable card is rewritten from scratch.
        card = {}
    versions = card.get("versions", {})
    versions[str(version)] = {
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "training": record_paths.portable(layout.jsonable(training), base_path) if training is not None else None,
        "metrics": record_paths.portable(layout.jsonable(metrics), base_path) if metrics is not None else None,
    }
    card.update({"name": os.path.basename(os.path.abspath(base_path)), **fields})
    card["latest_version"] = max(int(v) for v in versions)
    card["versions"] = dict(sorted(versions.items(), key=lambda kv: int(kv[0])))
    # The top-level "training" and "metrics" describe the latest version: an older
    # version's numbers must not stand for a new one (they stay under "versions").
    if int(version) == card["latest_version"]:
        for key in ("training", "metrics"):
            if versions[str(version)][key] is not None:
                card[key] = versions[str(version)][key]
            else:
                card.pop(key, None)
    return layout.write_card(base_path, card)


def _config_of(model):
    try:
        return layout.jsonable(model.get_config())
    except Exception:  # A card without the config is still a card.
        return None


def write_card(gan, base_path, version, max_num_samples, training=None, metrics=None):
    """Writes (or updates) `base_path/card.json`, the model card beside the versions.

    The card describes the model (family, latent size, classes, image shape,
    the signatures and their limits) and keeps, per exported version, when it
    was exported and how it was trained. TF Serving ignores the file.

    Args:
        gan: the exported GAN.
        base_path: the model's folder (holding the version folders).
        version: the version just exported.
        max_num_samples: the request limit compiled into the export.
        training: optional dict describing how the generator was trained
            (dataset, epochs, steps, optimizers, ...).
        metrics: optional dict of measured metrics (FID, mode coverage, ...).

    Returns:
        The card as a dict.
    """
    image_shape = [int(d) for d in gan.image_shape]
    signatures = contract.serving_signatures(gan.latent_dim, image_shape, gan.num_classes)
    fields = {
        "family": getattr(gan, "family", type(gan).__name__),
        "latent_dim": int(gan.latent_dim),
        "num_classes": int(gan.num_classes) if gan.num_classes else None,
        "image_shape": image_shape,
        "max_num_samples": int(max_num_samples),
        "signatures": {sig.name: sig.to_dict() for sig in signatures.values()},
        "config": _config_of(gan),
    }
    return _update_card(base_path, version, fields, training=training, metrics=metrics)


def _check_version_argument(base_path, version):
    if version is not None:
        checks.integer(version, "version", 0, " (or None for the next one)")
    if version is not None and version in layout.version_dirs(base_path):
        raise FileExistsError(
            f"Version {version} already exists at {layout.version_path(base_path, version)}; "
            "exports are immutable: pick another version or leave version=None for the next one"
        )


def _save_version(module, signatures, base_path, version):
    """Saves `module` with `signatures` as a new version of `base_path`, atomically.

    Written into a hidden temporary folder beside the versions and renamed into place
    once complete, so a server polling `base_path` never sees half a model and a failed
    export leaves the existing versions untouched. The version is `version`, or by
    TF Serving's rule (`layout.next_version`) one above every version-named folder.

    Returns:
        The version number written.
    """
    import tensorflow as tf

    # Hidden and not a number, so TF Serving's version scan ignores it while it is written;
    # created with the umask's permissions (not mkdtemp's 0700), so a server running as
    # another user can read the version it becomes.
    staging = os.path.join(base_path, f".export-tmp-{secrets.token_hex(8)}")
    os.mkdir(staging, 0o777)
    try:
        tf.saved_model.save(
            module,
            staging,
            signatures=signatures,
            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False),
        )
        while True:
            # Above every version-named child, loadable or not (an empty 2/ gives 3).
            target = version if version is not None else layout.next_version(base_path)
            final = os.path.join(base_path, str(target))
            if target in layout.version_dirs(base_path):
                if version is not None:
                    raise FileExistsError(f"Version {version} appeared at {final} during the export")
                continue  # Another exporter took this number; take the next one.
            try:
                os.rename(staging, final)
            except OSError:
                if version is not None or not os.path.exists(final):
                    raise
                continue
            return target
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def export_generator(
    gan,
    base_path,
    version=None,
    max_num_samples=contract.DEFAULT_MAX_NUM_SAMPLES,
    training=None,
    metrics=None,
):
    """Exports `gan`'s generator as `base_path/<version>/`, a SavedModel for TF Serving.

    The SavedModel holds the generator's weights and the signatures of the
    serving contract (see the module docstring): `serving_default`, `sample`
    and, for image generators, `sample_png`. It is written into a hidden
    temporary folder beside the versions and renamed into place once complete,
    so a server polling `base_path` never sees half a model, and a failed
    export leaves the existing versions untouched. `card.json` beside the
    versions is updated afterwards.

    Args:
        gan: a `keras_gans.models.GAN` (any family), built or trained.
        base_path: the model's folder, e.g. `"saved_models/dcgan_mnist"`; its
            name is the model name TF Serving serves it under.
        version: integer version; by default `layout.next_version(base_path)`:
            one more than the highest version-named folder, loadable or not (1
            for the first export). An existing version is never overwritten.
        max_num_samples: the largest `num_samples` (and rows of `z`) a request
            may ask for; checked inside the graph.
        training: optional dict recorded in the card: how it was trained.
        metrics: optional dict recorded in the card: measured metrics.

    Returns:
        The version number written (the folder is `base_path/<version>`).

    Example:
        >>> gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=100)
        >>> export_generator(gan, "saved_models/dcgan_mnist", training={"epochs": 20})
        1
    """
    _check_gan(gan)
    checks.integer(max_num_samples, "max_num_samples")
    base_path = os.fspath(base_path)
    _check_version_argument(base_path, version)
    os.makedirs(base_path, exist_ok=True)
    module, signatures = _build_serving_module(gan, max_num_samples)
    target = _save_version(module, signatures, base_path, version)
    write_card(gan, base_path, target, max_num_samples, training=training, metrics=metrics)
    return target


# --------------------------------------------------------------------------- translators

# The first bytes of the files `translate_png` accepts (PNG: RFC 2083's signature; JPEG:
# the SOI marker and the first marker's 0xFF).
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_CHANNEL_NAMES = {1: "grayscale", 2: "grayscale + alpha", 3: "RGB", 4: "RGBA"}


def translators_of(model):
    """{direction: keras.Model} of a translator: `model.translators`, or a plain image model.

    Args:
        model: a `Pix2Pix` / `CycleGAN` (anything with a `translators` dict of
            "a_to_b" and optionally "b_to_a"), or a `keras.Model` from images
            `[B, H, W, C_a]` to images `[B, H', W', C_b]`, exported as "a_to_b".

    Raises:
        TypeError: `model` is neither.
        ValueError: a translator whose input or output is not a batch of images of
            known size, or an unknown direction.
    """
    import keras

    translators = getattr(model, "translators", None)
    if translators is None:
        if not isinstance(model, keras.Model):
            raise TypeError(
                "export_translator expects a Pix2Pix or CycleGAN (with a `translators` dict) or a "
                f"keras.Model from images to images; got {type(model).__name__}"
            )
        translators = {contract.A_TO_B: model}
    translators = dict(translators)
    unknown = sorted(set(translators) - set(contract.DIRECTIONS))
    if contract.A_TO_B not in translators or unknown:
        raise ValueError(
            f"translators must hold 'a_to_b' and optionally 'b_to_a'; got {sorted(translators)}"
        )
    for direction, network in translators.items():
        if not network.built:
            raise ValueError(f"The {direction} translator has no weights yet: build or train the model first.")
        for what, shape in (("input", _single_shape(network, "input")), ("output", _single_shape(network, "output"))):
            if len(shape) != 4 or any(d is None for d in shape[1:]):
                raise ValueError(
                    f"The {direction} translator's {what} must be a batch of images [batch, H, W, C] of "
                    f"known size; got {list(shape)}"
                )
    return translators


def _single_shape(network, what):
    shape = getattr(network, f"{what}_shape")
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        if len(shape) != 1:
            raise ValueError(f"A translator has one {what}; this network has {len(shape)}")
        shape = shape[0]
    return tuple(shape)


def translator_shapes(translators):
    """(image_shape, target_shape): one A image `[H, W, C_a]` and one B image, as tuples."""
    a_to_b = translators[contract.A_TO_B]
    image_shape = tuple(int(d) for d in _single_shape(a_to_b, "input")[1:])
    target_shape = tuple(int(d) for d in _single_shape(a_to_b, "output")[1:])
    b_to_a = translators.get(contract.B_TO_A)
    if b_to_a is not None:
        given = (tuple(int(d) for d in _single_shape(b_to_a, "input")[1:]),
                 tuple(int(d) for d in _single_shape(b_to_a, "output")[1:]))
        if given != (target_shape, image_shape):
            raise ValueError(
                f"The b_to_a translator maps {list(given[0])} to {list(given[1])}; the a_to_b one maps "
                f"{list(image_shape)} to {list(target_shape)}, so b_to_a must map {list(target_shape)} "
                f"to {list(image_shape)}"
            )
    return image_shape, target_shape


def _build_translator_module(translators, max_batch_size):
    """A `tf.Module` holding the translators' weights and the translator signature functions."""
    import tensorflow as tf

    from keras_gans.models.sampling import to_uint8

    image_shape, target_shape = translator_shapes(translators)
    directions = tuple(d for d in contract.DIRECTIONS if d in translators)
    signature_specs = contract.translator_signatures(image_shape, target_shape, directions)
    shapes = {contract.A_TO_B: (image_shape, target_shape), contract.B_TO_A: (target_shape, image_shape)}
    max_n = int(max_batch_size)

    def check(condition, message, *values):
        # Formatted in the graph: the request's values appear in the error the client
        # gets, from this server or from TF Serving (INVALID_ARGUMENT, HTTP 400).
        text = tf.strings.format(message, values, summarize=16) if values else message
        return tf.debugging.Assert(condition, [text])

    def batch_check(count, name, what):
        # Not 0 either: TensorFlow's convolutions mis-shape empty batches ("input depth
        # must be evenly divisible by filter depth" in the next layer).
        return check(
            tf.logical_and(count >= 1, count <= max_n),
            f"{name}: between 1 and {max_n} {what} per request (max_batch_size of this export); got {{}}",
            count,
        )

    def run(direction, images):
        return tf.cast(translators[direction](images, training=False), tf.float32)

    def make_translate(direction):
        name = contract.translate_signature_name(direction)
        (h, w, c), _ = shapes[direction]

        def translate(images):
            # A fully convolutional network would run on other sizes too, and TF Serving's
            # runtime does not check fed shapes against the signature: check them here.
            checks = [
                check(
                    tf.reduce_all(tf.equal(tf.shape(images)[1:], [h, w, c])),
                    f"{name}: images must have shape [n, {h}, {w}, {c}]; got {{}}",
                    tf.shape(images),
                ),
                batch_check(tf.shape(images)[0], name, "images"),
            ]
            with tf.control_dependencies(checks):
                return {contract.IMAGES: run(direction, tf.identity(images))}

        return translate

    def make_translate_png(direction):
        name = contract.translate_signature_name(direction, png=True)
        (h, w, c), _ = shapes[direction]
        expected = f"{h}x{w} {_CHANNEL_NAMES.get(c, f'{c}-channel')} PNG or JPEG images ({c} channel{'s' if c > 1 else ''})"

        def decode(args):
            data, index = args
            is_image = tf.logical_or(
                tf.equal(tf.strings.substr(data, 0, len(_PNG_SIGNATURE)), _PNG_SIGNATURE),
                tf.equal(tf.strings.substr(data, 0, len(_JPEG_SIGNATURE)), _JPEG_SIGNATURE),
            )
            with tf.control_dependencies([
                check(
                    is_image,
                    f"{name}: images_bytes[{{}}] is not a PNG or JPEG file ({{}} bytes, starting with "
                    f"neither the PNG nor the JPEG signature); expected {expected}",
                    index,
                    tf.strings.length(data),
                )
            ]):
                image = tf.io.decode_image(tf.identity(data), channels=0, dtype=tf.uint8, expand_animations=False)
            shape = tf.shape(image)
            size_ok = tf.reduce_all(tf.equal(shape[:2], [h, w]))
            with tf.control_dependencies([
                check(
                    size_ok,
                    f"{name}: images_bytes[{{}}] is a {{}}x{{}} image (height x width); expected {expected}",
                    index, shape[0], shape[1],
                )
            ]):
                channels_check = check(
                    tf.equal(shape[2], c),
                    f"{name}: images_bytes[{{}}] has {{}} channel(s); expected {expected}",
                    index, shape[2],
                )
            with tf.control_dependencies([channels_check]):
                return tf.reshape(image, [h, w, c])

        def translate_png(images_bytes):
            count = tf.shape(images_bytes)[0]
            with tf.control_dependencies([batch_check(count, name, "images")]):
                pixels = tf.map_fn(
                    decode,
                    (images_bytes, tf.range(count)),
                    fn_output_signature=tf.TensorSpec([h, w, c], tf.uint8),
                )
            translated = run(direction, tf.cast(pixels, tf.float32) / 127.5 - 1.0)
            pngs = tf.map_fn(tf.io.encode_png, to_uint8(translated), fn_output_signature=tf.string)
            return {contract.IMAGES_BYTES: pngs}

        return translate_png

    module = tf.Module(name="translator_serving")
    # The networks' variables only (not the Keras objects): weights + signatures.
    module.translator_variables = [
        getattr(v, "value", v) for direction in directions for v in translators[direction].variables
    ]
    signatures = {}
    for direction in directions:
        for png, make in ((False, make_translate), (True, make_translate_png)):
            name = contract.translate_signature_name(direction, png)
            spec = signature_specs[name].inputs[0]
            function = tf.function(
                make(direction),
                input_signature=[tf.TensorSpec(spec.shape, spec.dtype, name=spec.name)],
                autograph=False,
            )
            signatures[name] = function.get_concrete_function()
    signatures[contract.SERVING_DEFAULT] = signatures[contract.TRANSLATE]
    return module, signatures, (image_shape, target_shape, directions)


def write_translator_card(model, base_path, version, max_batch_size, training=None, metrics=None):
    """Writes (or updates) `base_path/card.json` for an exported translator.

    Like `write_card`: the family, the A and B image shapes, the directions, the
    signatures and their limit, the config, and per version when it was exported and
    how it was trained. TF Serving ignores the file.

    Returns:
        The card as a dict.
    """
    translators = translators_of(model)
    image_shape, target_shape = translator_shapes(translators)
    directions = [d for d in contract.DIRECTIONS if d in translators]
    signatures = contract.translator_signatures(image_shape, target_shape, directions)
    fields = {
        "family": getattr(model, "family", type(model).__name__),
        "kind": "translator",
        "image_shape": list(image_shape),
        "target_shape": list(target_shape),
        "directions": directions,
        "max_batch_size": int(max_batch_size),
        "signatures": {sig.name: sig.to_dict() for sig in signatures.values()},
        "config": _config_of(model),
    }
    return _update_card(base_path, version, fields, training=training, metrics=metrics)


def export_translator(
    model,
    base_path,
    version=None,
    max_batch_size=contract.DEFAULT_MAX_NUM_SAMPLES,
    training=None,
    metrics=None,
):
    """Exports an image-to-image translator as `base_path/<version>/`, a SavedModel for TF Serving.

    The SavedModel carries the translator signatures of the serving contract
    (`contract.translator_signatures`): `translate` (float32 images in [-1, 1] in and
    out), `translate_png` (PNG or JPEG files in, PNG files out), `serving_default`
    (= `translate`) and, when the model has a B -> A generator (CycleGAN),
    `translate_b_to_a` and `translate_b_to_a_png` in the same version. It is written
    like `export_generator`'s exports: atomically, numbered by TF Serving's version
    rule, never over an existing version; `card.json` is updated beside it.

    The graph checks every request, so the real `tensorflow_model_server` answers
    bad ones as the embedded server does, with INVALID_ARGUMENT (HTTP 400) naming
    what was sent and what was expected: images of another shape, no images or more
    than `max_batch_size`, and for `*_png` bytes that are not a PNG or JPEG file,
    or an image of another size or number of channels. The translators run with
    `training=False`.

    Args:
        model: a `kg.models.Pix2Pix` or `kg.models.CycleGAN` (its `translators`), or
            a plain `keras.Model` from float32 images `[B, H, W, C_a]` in [-1, 1] to
            images `[B, H, W, C_b]` in [-1, 1] (exported as the A -> B direction).
        base_path: the model's folder, e.g. `"saved_models/pix2pix_mnist_edges"`.
        version: integer version; by default one above every version folder.
        max_batch_size: the most images one request may translate.
        training: optional dict recorded in the card: how it was trained.
        metrics: optional dict recorded in the card: measured metrics.

    Returns:
        The version number written.

    Example:
        >>> model = kg.models.Pix2Pix(image_shape=(28, 28, 1))
        >>> export_translator(model, "saved_models/pix2pix_mnist_edges")
        1
    """
    translators = translators_of(model)
    checks.integer(max_batch_size, "max_batch_size")
    base_path = os.fspath(base_path)
    _check_version_argument(base_path, version)
    os.makedirs(base_path, exist_ok=True)
    module, signatures, _ = _build_translator_module(translators, max_batch_size)
    target = _save_version(module, signatures, base_path, version)
    write_translator_card(model, base_path, target, max_batch_size, training=training, metrics=metrics)
    return target
