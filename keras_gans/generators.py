"""One interface for anything that generates: an in-process GAN, a SavedModel, a server.

Every kind is a `Generator`: `latent_dim`, `num_classes` (None when unconditional, or
when a SavedModel without a card or a server does not say), `conditional`, `image_shape`,
and

- `generate(z, labels=None)`: float32 NumPy images in [-1, 1] for latent vectors z
  `[n, latent_dim]` (the GAN's generator, a SavedModel's `serving_default` signature, or a
  server's `Predict` on it);
- `sample(n, seed=None, labels=None)`: `generate` of the z that `latent_from_seed` draws
  from the seed, so a seed gives the same images from every kind;
- `sample_uint8(n, seed=None, labels=None)`: uint8 images as a server returns them (the
  export's `sample` signature, in process or over the wire; `to_uint8` of `sample` for a GAN).

Labels are checked once, by `check_labels`, with the same message for every kind.
`as_generator` turns a GAN, a SavedModel (loaded, or a version folder or model base path),
a `.keras` file or a run folder holding `model.keras`, a zoo name, or a serving `Client` and
a model name into one. TensorFlow loads only when a kind needs it: a remote generator
runs with the REST client alone (its `sample` draws z with TensorFlow; `sample_uint8` and
`generate` do not).

Image-to-image translators (pix2pix, CycleGAN) are no generators (they take images, not z)
and have their own small interface, `Translator`: `translate(images, direction="a_to_b")`
gives float32 NumPy images in [-1, 1], from an in-process model (`ModelTranslator`) or an
exported SavedModel (`SavedModelTranslator`, its `translate` / `translate_b_to_a`
signatures); `as_translator` makes one from a model, a path or a zoo name, and
`as_model` gives whichever of the two a path or name holds.

Example:
    from keras_gans import generators
    from keras_gans.serving import Client

    local = generators.as_generator("saved_models/cgan_mnist")
    remote = generators.as_generator(Client("http://localhost:8501"), model="cgan_mnist")
    local.sample(4, seed=7, labels=[0, 1, 2, 3])    # the same images as remote.sample(...)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

from keras_gans import checks, contract, layout
from keras_gans.labels import check_labels  # noqa: F401  (part of this module's API)

__all__ = [
    "Generator",
    "GANGenerator",
    "SavedModelGenerator",
    "RemoteGenerator",
    "SampleOnlyGenerator",
    "as_generator",
    "check_labels",
    "Translator",
    "ModelTranslator",
    "SavedModelTranslator",
    "as_translator",
    "as_model",
    "is_translation_model",
]




def _check_num_samples(n):
    return checks.integer(n, "n")


class Generator:
    """What every kind of generator answers; subclasses implement `_generate` (and may
    override `_sample_uint8`).

    Attributes:
        latent_dim: D, the size of z.
        num_classes: K for a conditional generator when known, else None.
        conditional: whether it takes class labels.
        image_shape: the shape of one sample (`(2,)` for points of 2-D data).
        kind: "gan", "keras" (a GAN loaded from a .keras file), "saved_model", "remote" or
            "sample_only".
        served: True when its images are what a server returns (a SavedModel or a server):
            evaluation measures those through `sample_uint8`.
        max_num_samples: the most samples one call of the export's `sample` signature takes
            (None when there is no limit).
        path, version, card_dir: where it was loaded from (None when not from files).
    """

    kind = "generator"
    served = False
    latent_dim: int
    num_classes: int | None = None
    conditional = False
    image_shape: tuple = ()
    max_num_samples: int | None = None
    path = None
    version = None
    card_dir = None

    def __repr__(self):
        return f"{type(self).__name__}({str(self.path or '')!r})" if self.path else f"{type(self).__name__}()"

    def check_labels(self, labels, n):
        """`check_labels` with this generator's classes."""
        return check_labels(labels, n, self.num_classes, self.conditional, name=repr(self))

    def generate(self, z, labels=None):
        """Images for latent vectors z `[n, latent_dim]` (and labels), float32 NumPy in [-1, 1]."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [n, {self.latent_dim}]; got shape {z.shape}.")
        labels = self.check_labels(labels, len(z))
        return np.asarray(self._generate(z, labels), dtype=np.float32)

    def sample(self, n, seed=None, labels=None):
        """`n` samples, float32 NumPy `[n, *image_shape]` in [-1, 1], z drawn from `seed`.

        Args:
            n: number of samples.
            seed: integer seed of z (`keras_gans.models.latent_from_seed`); random when None.
            labels: conditional generators: one class id per sample (or one for all); None
                for the classes in turn.
        """
        from keras_gans.models.sampling import latent_from_seed

        n = _check_num_samples(n)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        labels = self.check_labels(labels, n)
        return np.asarray(self._generate(latent_from_seed(n, self.latent_dim, seed).numpy(), labels), np.float32)

    def sample_uint8(self, n, seed=None, labels=None):
        """`n` samples as uint8 `[n, *image_shape]`, as a server's `sample` signature returns them."""
        n = _check_num_samples(n)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        return np.asarray(self._sample_uint8(n, seed, self.check_labels(labels, n)))

    def _generate(self, z, labels):
        raise NotImplementedError

    def _sample_uint8(self, n, seed, labels):
        from keras_gans.models.sampling import to_uint8

        return to_uint8(self.sample(n, seed=seed, labels=labels)).numpy()


class GANGenerator(Generator):
    """An in-process `keras_gans.models.GAN` (or anything with its `generate(z, labels)`).

    Args:
        gan: the GAN.
        path: the .keras file it was loaded from, if any.
    """

    served = False

    def __init__(self, gan, path=None):
        self.gan = gan
        self.latent_dim = int(gan.latent_dim)
        self.num_classes = getattr(gan, "num_classes", None)
        self.conditional = bool(self.num_classes)
        self.image_shape = tuple(getattr(gan, "image_shape", ()) or ())
        self.kind = "gan" if path is None else "keras"
        if path is not None:
            self.path = Path(path)
            self.card_dir = self.path.parent if layout.has_card(self.path.parent) else None

    def __repr__(self):
        return f"{type(self.gan).__name__}" + (f"({str(self.path)!r})" if self.path else "")

    def _generate(self, z, labels):
        import tensorflow as tf

        # Keras refuses a NumPy z beside tensor labels; tensors for both.
        z = tf.convert_to_tensor(z)
        if self.conditional:
            return np.asarray(self.gan.generate(z, tf.convert_to_tensor(labels)))
        return np.asarray(self.gan.generate(z))


class SavedModelGenerator(Generator):
    """An exported generator (a SavedModel of the serving contract), run in this process.

    `generate` calls its `serving_default` signature (z -> float images, in chunks of the
    export's `max_num_samples`), `sample` draws z from the seed as `GAN.sample` does,
    `sample_uint8` calls its `sample` signature. No Python model class is needed.

    Args:
        path: a SavedModel version folder (`saved_models/<name>/<version>`), or a SavedModel
            already loaded with `tf.saved_model.load` (then there is no card: the classes and
            `max_num_samples` are not known).

    Attributes:
        path, version, card (dict, {} without one), card_dir, signatures (the loaded
        SavedModel's), and those of `Generator`.

    Example:
        g = SavedModelGenerator("saved_models/dcgan_mnist/1")
        g.sample(4, seed=7).shape    # (4, 28, 28, 1)
    """

    kind = "saved_model"
    served = True

    def __init__(self, path):
        import tensorflow as tf

        if hasattr(path, "signatures"):
            self._loaded, self.path, self.card = path, None, {}
        else:
            self.path = Path(path)
            if not layout.is_saved_model(self.path):
                raise ValueError(f"{self.path} is not a SavedModel folder (no saved_model.pb).")
            self.version = layout.parse_version(self.path.name)
            self._loaded = tf.saved_model.load(str(self.path))
            self.card = layout.read_card(self.path.parent)
            self.card_dir = self.path.parent if layout.has_card(self.path.parent) else None
        self.signatures = self._loaded.signatures
        default = self.signatures[contract.SERVING_DEFAULT]
        inputs = default.structured_input_signature[1]
        if contract.Z not in inputs:
            raise ValueError(
                f"{self.path or 'this SavedModel'} takes no z (its serving_default inputs: "
                f"{', '.join(sorted(inputs))}): it is no generator; a translator loads with "
                "as_translator or kg.pretrained.load."
            )
        self.latent_dim = int(inputs[contract.Z].shape[-1])
        self.conditional = contract.LABELS in inputs
        self.image_shape = tuple(int(d) for d in default.structured_outputs[contract.IMAGES].shape[1:])
        self.num_classes = self.card.get("num_classes") if self.conditional else None
        self.max_num_samples = int(self.card.get("max_num_samples") or contract.DEFAULT_MAX_NUM_SAMPLES)
        self._default = default

    def __repr__(self):
        return f"SavedModelGenerator({str(self.path) if self.path else 'loaded'!r})"

    def _generate(self, z, labels):
        import tensorflow as tf

        if self.conditional and labels is None and len(z) > self.max_num_samples:
            raise ValueError(
                f"{self!r} has no card stating its classes: pass labels for more than "
                f"{self.max_num_samples} samples."
            )
        chunks = []
        for start in range(0, len(z), self.max_num_samples):
            stop = start + self.max_num_samples
            inputs = {contract.Z: tf.constant(z[start:stop])}
            if self.conditional:
                # [] asks the export for the classes in turn.
                part = np.zeros([0], np.int32) if labels is None else labels[start:stop]
                inputs[contract.LABELS] = tf.constant(part, tf.int32)
            chunks.append(self._default(**inputs)[contract.IMAGES].numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, *self.image_shape), np.float32)

    def _sample_uint8(self, n, seed, labels):
        import tensorflow as tf

        inputs = {contract.NUM_SAMPLES: tf.constant(n, tf.int32), contract.SEED: tf.constant(seed, tf.int64)}
        if self.conditional:
            inputs[contract.LABELS] = tf.constant(np.zeros([0], np.int32) if labels is None else labels, tf.int32)
        try:
            return self.signatures[contract.SAMPLE](**inputs)[contract.IMAGES].numpy()
        except tf.errors.InvalidArgumentError as error:
            if "max_num_samples" not in str(error):
                raise
            raise ValueError(
                f"{self!r}: {n} samples per call exceed the export's max_num_samples; pass a "
                "smaller batch_size (a path, rather than a loaded SavedModel, reads the limit from card.json)."
            ) from None


def _dims(tensor_info):
    return tuple(int(d["size"]) for d in tensor_info["tensor_shape"]["dim"])


class RemoteGenerator(Generator):
    """A generator served by TF Serving (or `keras-gans serve`), over REST or gRPC.

    Reads `latent_dim`, `conditional` and `image_shape` from the served `serving_default`
    signature. A server does not state the number of classes: pass `num_classes` to have
    labels checked here (the server checks them anyway).

    Args:
        client: a `keras_gans.serving.Client`.
        model: the served model's name.
        version: a served version; None for the latest.
        num_classes: K of a conditional model, when known.
    """

    kind = "remote"
    served = True

    def __init__(self, client, model, version=None, num_classes=None):
        if not isinstance(model, str) or not model:
            raise ValueError(f"a serving Client needs model=<the served model's name>; got {model!r}.")
        self.client, self.model, self.version = client, model, version
        signature = client.signature(model, contract.SERVING_DEFAULT, version)
        self.latent_dim = _dims(signature["inputs"][contract.Z])[-1]
        self.conditional = contract.LABELS in signature["inputs"]
        ((_, images),) = signature["outputs"].items()
        self.image_shape = _dims(images)[1:]
        self.num_classes = num_classes if self.conditional else None

    def __repr__(self):
        return f"RemoteGenerator({self.model!r} at {self.client.url})"

    def _generate(self, z, labels):
        labels = None if labels is None else labels.tolist()
        return np.asarray(self.client.predict(self.model, z, labels=labels, version=self.version), np.float32)

    def _sample_uint8(self, n, seed, labels):
        labels = None if labels is None else labels.tolist()
        return self.client.sample(self.model, n, seed=seed, labels=labels, version=self.version)


class SampleOnlyGenerator(Generator):
    """Any object with `sample(n, seed=, labels=)` (and optionally `num_classes`), e.g. a fake
    generator in a test of evaluation. It has no latent input: `generate` is not available.
    Its samples are what the object returns."""

    kind = "sample_only"
    latent_dim = None

    def __init__(self, obj):
        self.obj = obj
        self.num_classes = getattr(obj, "num_classes", None)
        self.conditional = bool(getattr(obj, "conditional", self.num_classes))

    def __repr__(self):
        return type(self.obj).__name__

    def generate(self, z, labels=None):
        raise TypeError(f"{self!r} has no latent input; it only samples.")

    def sample(self, n, seed=None, labels=None):
        n = _check_num_samples(n)
        labels = self.check_labels(labels, n)
        if self.conditional:
            return np.asarray(self.obj.sample(n, seed=seed, labels=labels))
        return np.asarray(self.obj.sample(n, seed=seed))

    def _sample_uint8(self, n, seed, labels):
        raise TypeError(f"{self!r} only samples as it does; it has no uint8 sampling.")


def _is_client(obj):
    from keras_gans.serving.client import Client

    return isinstance(obj, Client)


def _from_path(spec, saved_models_dir=None):
    """A `Generator` or a `Translator`, whichever the path or zoo name holds."""
    path = Path(spec)
    if not path.exists():
        if os.sep in str(spec) or str(spec).endswith(".keras"):
            raise ValueError(f"{spec} does not exist.")
        path = layout.zoo_model(str(spec), saved_models_dir)
    keras_file = None
    if path.is_file() and path.suffix == ".keras":
        keras_file = path
    elif path.is_dir() and (path / "model.keras").exists() and not layout.is_saved_model(path):
        keras_file = path / "model.keras"
    if keras_file is not None:
        import keras

        import keras_gans.models  # noqa: F401  (registers the model classes)

        model = keras.models.load_model(keras_file, compile=False)
        if is_translation_model(model):
            return ModelTranslator(model, path=keras_file)
        return GANGenerator(model, path=keras_file)
    found = layout.find_saved_model(path)
    if found is None:
        raise ValueError(
            f"{spec} is not a generator: expected a .keras file, a run folder with model.keras, a "
            "SavedModel version folder, a base path with version folders, or a name in saved_models/."
        )
    return saved_model(found.path)


def saved_model(path):
    """A `SavedModelTranslator` or a `SavedModelGenerator` for the SavedModel version folder
    `path`: a translator when its card says so (`"kind": "translator"`) or, without a card,
    when its signatures are the translator ones."""
    path = Path(path)
    card = layout.read_card(path.parent)
    if card:
        translator = card.get("kind") == "translator"
    else:
        import tensorflow as tf

        translator = contract.TRANSLATE in tf.saved_model.load(str(path)).signatures
    return SavedModelTranslator(path) if translator else SavedModelGenerator(path)


def as_generator(source, model=None, version=None, *, num_classes=None, saved_models_dir=None):
    """A `Generator` from anything that generates.

    Args:
        source: a `Generator` (returned as is); a `keras_gans` GAN; a SavedModel loaded with
            `tf.saved_model.load`; a path to a SavedModel version folder, to a model base path
            (its latest loadable version), to a `.keras` file or to a run folder holding
            `model.keras`; the name of a shipped generator (its latest SavedModel version);
            a `keras_gans.serving.Client` with `model=`, or a `(Client, model)` pair; or any
            object with `sample(n, seed=, labels=)` (a `SampleOnlyGenerator`).
        model: the served model's name, with a `Client`.
        version: the served version, with a `Client`; None for the latest.
        num_classes: K of a served conditional model (a server does not state it).
        saved_models_dir: where zoo names are looked up (see `layout.zoo_dir`).

    Raises:
        ValueError: nothing loadable at a path (unknown names list the shipped ones); a
            Client without a model name.
        TypeError: an object that does not generate.

    Example:
        gen = as_generator("saved_models/dcgan_mnist")
        images = gen.sample(16, seed=7)
    """
    if isinstance(source, Generator):
        return source
    if isinstance(source, tuple) and len(source) == 2 and _is_client(source[0]):
        source, model = source
    if _is_client(source):
        return RemoteGenerator(source, model, version, num_classes)
    if isinstance(source, Translator) or is_translation_model(source):
        raise ValueError(
            f"a {type(source).__name__} is an image-to-image translator, not a generator: it takes "
            "images, not z (as_translator gives one)."
        )
    if hasattr(source, "generate") and hasattr(source, "latent_dim"):
        return GANGenerator(source)
    if hasattr(source, "signatures"):
        return SavedModelGenerator(source)
    if isinstance(source, (str, os.PathLike)):
        found = _from_path(source, saved_models_dir)
        if isinstance(found, Translator):
            raise ValueError(
                f"{source} is an image-to-image translator ({found.family}), not a generator: it "
                "takes images, not z (as_translator, or kg.pretrained.load, gives one)."
            )
        return found
    if hasattr(source, "sample"):
        return SampleOnlyGenerator(source)
    raise TypeError(
        f"cannot generate from a {type(source).__name__}: expected a GAN, a SavedModel (or its path), "
        "a .keras path, a zoo name, a serving Client with model=, or an object with sample(n, seed=, labels=)."
    )


# --------------------------------------------------------------------------- translators


def is_translation_model(obj):
    """True for an in-process image-to-image model: a `kg.models.Pix2Pix` or `CycleGAN`
    (anything with `translators` and `translate`)."""
    return hasattr(obj, "translators") and callable(getattr(obj, "translate", None))


class Translator:
    """What every kind of translator answers; subclasses implement `_translate`.

    Attributes:
        family: "pix2pix", "cyclegan", ... (from the model or its card).
        directions: ("a_to_b",) or ("a_to_b", "b_to_a").
        image_shape: (H, W, C_a) of A images; target_shape: (H, W, C_b) of B images.
        kind: "model" (in process), "keras" (loaded from a .keras file) or "saved_model".
        path, version, card_dir: where it was loaded from (None when not from files).
    """

    kind = "translator"
    served = False
    family = None
    directions: tuple = ()
    image_shape: tuple = ()
    target_shape: tuple = ()
    path = None
    version = None
    card_dir = None

    def __repr__(self):
        return f"{type(self).__name__}({str(self.path or '')!r})"

    def input_shape(self, direction):
        """(H, W, C) of the images `direction` takes."""
        self._check_direction(direction)
        return self.image_shape if direction == contract.A_TO_B else self.target_shape

    def _check_direction(self, direction):
        if direction not in self.directions:
            raise ValueError(
                f"{self!r} translates in the direction(s) {', '.join(map(repr, self.directions))}; "
                f"got direction={direction!r}."
            )

    def translate(self, images, direction=contract.A_TO_B, batch_size=256):
        """Translated images, float32 NumPy in [-1, 1].

        Args:
            images: `[n, H, W, C]` (or one `[H, W, C]` image) of the direction's input domain,
                float in [-1, 1] or uint8 in [0, 255].
            direction: "a_to_b", or "b_to_a" for a CycleGAN.
            batch_size: images per forward pass (at most the export's `max_batch_size`).
        """
        self._check_direction(direction)
        x, single = checks.translation_batch(images, self.input_shape(direction), repr(self), direction)
        out = np.asarray(self._translate(x, direction, checks.integer(batch_size, "batch_size")), np.float32)
        return out[0] if single else out

    def _translate(self, images, direction, batch_size):
        raise NotImplementedError


class ModelTranslator(Translator):
    """An in-process `kg.models.Pix2Pix` / `CycleGAN` (its `translate`, `training=False`).

    Args:
        model: the model.
        path: the .keras file it was loaded from, if any.
    """

    def __init__(self, model, path=None):
        self.model = model
        self.family = getattr(model, "family", type(model).__name__)
        self.directions = tuple(d for d in contract.DIRECTIONS if d in model.translators)
        self.image_shape = tuple(model.image_shape)
        self.target_shape = tuple(model.target_shape)
        self.kind = "model" if path is None else "keras"
        if path is not None:
            self.path = Path(path)
            self.card_dir = self.path.parent if layout.has_card(self.path.parent) else None

    def __repr__(self):
        return type(self.model).__name__ + (f"({str(self.path)!r})" if self.path else "")

    def _translate(self, images, direction, batch_size):
        return self.model.translate(images, direction, batch_size=batch_size)


class SavedModelTranslator(Translator):
    """An exported translator (`kg.export.export_translator`), run in this process through
    its `translate` (A -> B) and `translate_b_to_a` (B -> A) signatures, float32 in and out,
    in chunks of the export's `max_batch_size`. No Python model class is needed.

    Args:
        path: a SavedModel version folder (`saved_models/<name>/<version>`).

    Example:
        t = SavedModelTranslator("saved_models/pix2pix_mnist_edges/1")
        digits = t.translate(edge_maps)     # float32 [n, 28, 28, 1] in [-1, 1]
    """

    kind = "saved_model"
    served = True

    def __init__(self, path):
        import tensorflow as tf

        self.path = Path(path)
        if not layout.is_saved_model(self.path):
            raise ValueError(f"{self.path} is not a SavedModel folder (no saved_model.pb).")
        self.version = layout.parse_version(self.path.name)
        self._loaded = tf.saved_model.load(str(self.path))
        self.signatures = self._loaded.signatures
        if contract.TRANSLATE not in self.signatures:
            raise ValueError(
                f"{self.path} has no {contract.TRANSLATE!r} signature (it has "
                f"{', '.join(sorted(self.signatures))}): it is no translator."
            )
        self.card = layout.read_card(self.path.parent)
        self.card_dir = self.path.parent if self.card else None
        self.family = self.card.get("family")
        self.directions = tuple(
            d for d in contract.DIRECTIONS if contract.translate_signature_name(d) in self.signatures
        )
        forward = self.signatures[contract.TRANSLATE]
        (spec,) = forward.structured_input_signature[1].values()
        self.image_shape = tuple(int(d) for d in spec.shape[1:])
        self.target_shape = tuple(int(d) for d in forward.structured_outputs[contract.IMAGES].shape[1:])
        self.max_batch_size = int(self.card.get("max_batch_size") or contract.DEFAULT_MAX_NUM_SAMPLES)

    def _translate(self, images, direction, batch_size):
        import tensorflow as tf

        signature = self.signatures[contract.translate_signature_name(direction)]
        step = min(batch_size, self.max_batch_size)
        out = [
            signature(**{contract.IMAGES: tf.constant(images[i : i + step])})[contract.IMAGES].numpy()
            for i in range(0, len(images), step)
        ]
        shape = self.target_shape if direction == contract.A_TO_B else self.image_shape
        return np.concatenate(out) if out else np.zeros((0, *shape), np.float32)


def as_translator(source, *, saved_models_dir=None):
    """A `Translator` from a translation model, a path or a zoo name.

    Args:
        source: a `Translator` (returned as is); a `kg.models.Pix2Pix` / `CycleGAN`; a path to
            a SavedModel version folder, a model base path (its latest version), a `.keras`
            file or a run folder holding `model.keras`; or the name of a shipped translator
            (its latest SavedModel version, what a server serves).
        saved_models_dir: where zoo names are looked up (see `layout.zoo_dir`).

    Raises:
        ValueError: nothing loadable there, or a generator rather than a translator.

    Example:
        t = as_translator("pix2pix_mnist_edges")
        digits = t.translate(edge_maps)
    """
    if isinstance(source, Translator):
        return source
    if is_translation_model(source):
        return ModelTranslator(source)
    if isinstance(source, (str, os.PathLike)):
        found = _from_path(source, saved_models_dir)
        if not isinstance(found, Translator):
            raise ValueError(f"{source} is a generator, not an image-to-image translator (as_generator gives one).")
        return found
    raise TypeError(
        f"cannot translate with a {type(source).__name__}: expected a Pix2Pix or CycleGAN, a "
        "translator's SavedModel (or its path), a .keras path or a zoo name."
    )


def as_model(source, *, saved_models_dir=None):
    """`as_translator(source)` when `source` is (or holds) a translator, else `as_generator(source)`."""
    if isinstance(source, Translator) or is_translation_model(source):
        return as_translator(source)
    if isinstance(source, (str, os.PathLike)):
        return _from_path(source, saved_models_dir)
    return as_generator(source, saved_models_dir=saved_models_dir)
