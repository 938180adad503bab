"""Export GAN generators as versioned SavedModels for TensorFlow Serving.

Every export carries the signatures of the serving contract (`keras_gans.contract`:
`serving_default`, `sample`, `sample_png`; their names, dtypes and shapes are defined
there, once), and lands in a version folder numbered by TF Serving's rule
(`keras_gans.layout`).

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
"""

import datetime
import os
import secrets
import shutil

from keras_gans import checks, contract, layout

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
    module.generator_variables = [getattr(v, "value", v) for v in gan.generator.variables]
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
    try:
        card = layout.read_card(base_path)
    except (OSError, ValueError):  # An unreadable card is rewritten from scratch.
        card = {}
    image_shape = [int(d) for d in gan.image_shape]
    signatures = contract.serving_signatures(gan.latent_dim, image_shape, gan.num_classes)
    try:
        config = layout.jsonable(gan.get_config())
    except Exception:  # A card without the config is still a card.
        config = None
    versions = card.get("versions", {})
    versions[str(version)] = {
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "training": layout.jsonable(training) if training is not None else None,
        "metrics": layout.jsonable(metrics) if metrics is not None else None,
    }
    card.update(
        {
            "name": os.path.basename(os.path.abspath(base_path)),
            "family": getattr(gan, "family", type(gan).__name__),
            "latent_dim": int(gan.latent_dim),
            "num_classes": int(gan.num_classes) if gan.num_classes else None,
            "image_shape": image_shape,
            "max_num_samples": int(max_num_samples),
            "latest_version": max(int(v) for v in versions),
            "signatures": {sig.name: sig.to_dict() for sig in signatures.values()},
            "config": config,
            "versions": dict(sorted(versions.items(), key=lambda kv: int(kv[0]))),
        }
    )
    # The top-level "training" and "metrics" describe the latest version: an older
    # version's numbers must not stand for a new one (they stay under "versions").
    if int(version) == card["latest_version"]:
        for key in ("training", "metrics"):
            if versions[str(version)][key] is not None:
                card[key] = versions[str(version)][key]
            else:
                card.pop(key, None)
    return layout.write_card(base_path, card)


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
    import tensorflow as tf

    _check_gan(gan)
    checks.integer(max_num_samples, "max_num_samples")
    if version is not None:
        checks.integer(version, "version", 0, " (or None for the next one)")
    base_path = os.fspath(base_path)
    os.makedirs(base_path, exist_ok=True)
    if version is not None and version in layout.version_dirs(base_path):
        raise FileExistsError(
            f"Version {version} already exists at {layout.version_path(base_path, version)}; "
            "exports are immutable: pick another version or leave version=None for the next one"
        )

    module, signatures = _build_serving_module(gan, max_num_samples)
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
            break
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_card(gan, base_path, target, max_num_samples, training=training, metrics=metrics)
    return target
