"""The pretrained generators shipped in `saved_models/`: list them, load one, read its card.

Each shipped generator is a folder `saved_models/<name>/` holding what TF Serving serves
(version folders, each a SavedModel of the serving contract in `keras_gans.contract`),
and beside them `card.json` (how it was trained, its measured metrics) and `<name>.keras` (the
whole GAN, generator and discriminator with their optimizers, to resume or fine-tune).

`load(name)` returns the `.keras` GAN when there is one, else the latest SavedModel version
wrapped as a `SavedModelGenerator`. Both answer `sample(n, seed=..., labels=...)` with the
same thing: float32 NumPy images `[n, H, W, C]` in [-1, 1], z drawn by
`keras_gans.models.latent_from_seed` from the seed, so a seed gives the same images from
either (and, quantized to uint8, from a server's `sample` signature).

The folder is the zoo installed with the package (`saved_models/` of the repository, which a
wheel installs as `keras_gans/saved_models/`); the environment variable
`KERAS_GANS_SAVED_MODELS` or the `saved_models_dir` argument point elsewhere.

Example:
    import keras_gans as kg

    kg.pretrained.list()                   # ['cgan_mnist', 'dcgan_mnist', ...]
    g = kg.pretrained.load("dcgan_mnist")
    images = g.sample(16, seed=7)          # float32 [16, 28, 28, 1] in [-1, 1]
    kg.pretrained.card("dcgan_mnist")["metrics"]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_gans import contract, layout

__all__ = ["ENV_VAR", "saved_models_dir", "list", "path", "card", "load", "SavedModelGenerator"]

ENV_VAR = "KERAS_GANS_SAVED_MODELS"
_FORMATS = ("auto", "keras", "saved_model")


def _resolve_dir(given):
    if given is not None:
        return Path(given)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    package = Path(__file__).resolve().parent
    installed = package / "saved_models"  # a wheel installs the zoo inside the package
    return installed if installed.is_dir() else package.parent / "saved_models"


def saved_models_dir(saved_models_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the shipped models: the argument, else $KERAS_GANS_SAVED_MODELS, else
    the zoo installed with the package (`keras_gans/saved_models/` of a wheel, or
    `saved_models/` at the root of a source checkout)."""
    return _resolve_dir(saved_models_dir)


def list(saved_models_dir: str | os.PathLike | None = None) -> list[str]:  # noqa: A001
    """Names of the shipped generators: folders with at least one SavedModel version.

    Other folders (the evaluation classifier's, which is no generator) are not listed.

    Example:
        >>> "dcgan_mnist" in list()
        True
    """
    return layout.model_names(_resolve_dir(saved_models_dir))


def path(name: str, saved_models_dir: str | os.PathLike | None = None) -> Path:
    """The base path of generator `name` (what TF Serving's `base_path` points at).

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    root = _resolve_dir(saved_models_dir)
    names = list(root)
    if not isinstance(name, str) or name not in names:
        raise ValueError(
            f"Unknown pretrained generator {name!r}. Available in {root}: "
            f"{', '.join(names) if names else 'none (no folder with a SavedModel version)'}."
        )
    return root / name


def card(name: str, saved_models_dir: str | os.PathLike | None = None) -> dict:
    """The model card of generator `name` (`card.json`) as a dict; {} when it has none.

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    return layout.read_card(path(name, saved_models_dir))


REMOTE_PREFIXES = ("hf://", "https://", "http://")


def load(
    name: str,
    saved_models_dir: str | os.PathLike | None = None,
    version: int | None = None,
    format: str = "auto",  # noqa: A002
):
    """A ready generator: `load(name).sample(n, seed=..., labels=...)` gives images.

    Args:
        name: a preset: a name from `list()`; a local path (a `.keras` file, a model
            folder holding `<folder>.keras`, a run folder holding `model.keras`, a model base
            path or a SavedModel version folder); or, online, a Keras `hf://owner/repo`
            handle or an `http(s)://` URL of a `.keras` file (downloaded once, cached by
            `keras.utils.get_file`).
        saved_models_dir: the folder of the shipped models (see `saved_models_dir()`).
        version: a SavedModel version; None for the latest. Giving one implies
            format "saved_model".
        format: "auto" (the `.keras` file when there is one, else the latest SavedModel),
            "keras" (the `.keras` file, an error when absent) or "saved_model".

    Returns:
        A `keras_gans.models.GAN` (from the `.keras` file: compiled, ready to `fit` further),
        or a `SavedModelGenerator`. Both have `sample`, `generate`, `latent_dim`,
        `num_classes` and `image_shape`, and give the same images for the same seed.

    Raises:
        ValueError: unknown name (listing the available ones), version or format; a
            remote preset that cannot be fetched.

    Example:
        g = load("cgan_mnist")
        sevens = g.sample(8, seed=0, labels=[7] * 8)
    """
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {', '.join(_FORMATS)}; got {format!r}.")
    if isinstance(name, str) and name.startswith(REMOTE_PREFIXES):
        if version is not None or format == "saved_model":
            raise ValueError(f"A remote preset is a .keras file; {name} has no SavedModel versions.")
        return _load_keras(_fetch(name) if not name.startswith("hf://") else name, name)
    local = Path(name) if isinstance(name, (str, os.PathLike)) else None
    if local is not None and local.exists() and (local.suffix == ".keras" or local.is_dir()) and name not in list(saved_models_dir):
        return _load_local(local, version, format)
    base = path(name, saved_models_dir)
    return _load_local(base, version, format, keras_file=base / f"{name}.keras", shown=name)


def _load_local(local, version, format, keras_file=None, shown=None):  # noqa: A002
    if local.suffix == ".keras":
        if version is not None or format == "saved_model":
            raise ValueError(f"{local} is a .keras file; it has no SavedModel versions.")
        return _load_keras(local, local)
    if keras_file is None:
        keras_file = next((f for f in (local / f"{local.name}.keras", local / "model.keras") if f.exists()), local / f"{local.name}.keras")
    if version is None and format in ("auto", "keras"):
        if keras_file.exists():
            return _load_keras(keras_file, keras_file)
        if format == "keras":
            raise ValueError(
                f"{shown or local} ships no .keras file (expected {keras_file}); use format='saved_model'."
            )
    location = layout.find_saved_model(local)
    if location is not None and location.version is not None and location.path == local:
        if version is not None and version != location.version:
            raise ValueError(f"{local} is version {location.version}, not {version}.")
        return SavedModelGenerator(local)
    versions = layout.versions(local)
    if not versions:
        raise ValueError(
            f"{local} holds neither a .keras GAN nor a SavedModel version (integer folders "
            "with a saved_model.pb)."
        )
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise ValueError(f"{shown or local.name} has no version {version!r}; it has {versions}.")
    return SavedModelGenerator(layout.version_path(local, version))


def _load_keras(file, shown):
    import keras

    import keras_gans.models  # noqa: F401  (registers the model classes with Keras)

    try:
        return keras.models.load_model(file)
    except (OSError, ImportError) as error:  # hf:// offline, or without huggingface_hub
        raise ValueError(f"Could not load the preset {shown}: {error}") from None


def _fetch(url):
    """A remote .keras file, downloaded once into Keras' cache."""
    import keras

    filename = url.rstrip("/").rsplit("/", 1)[-1]
    if not filename.endswith(".keras"):
        raise ValueError(f"A preset URL must name a .keras file; got {url}.")
    try:
        return keras.utils.get_file(filename, origin=url, cache_subdir="keras_gans")
    except Exception as error:  # noqa: BLE001  (urllib's many network errors)
        raise ValueError(f"Could not download the preset {url}: {error}") from None


class SavedModelGenerator:
    """An exported generator (a SavedModel of the serving contract) with the GAN's `sample` API.

    Runs the SavedModel in this process with `tf.saved_model.load`: `generate` calls its
    `serving_default` signature (z -> float images), `sample` draws z from the seed as
    `GAN.sample` does. No Python model class is needed, only TensorFlow.

    Args:
        path: a SavedModel version folder (`saved_models/<name>/<version>`).

    Attributes:
        path, version, latent_dim, image_shape, conditional, num_classes (from the card beside
        the versions; None when unknown), card (dict, {} without one), signatures (the loaded
        SavedModel's, e.g. `signatures["sample"]` for the served uint8 images).

    Example:
        g = SavedModelGenerator("saved_models/dcgan_mnist/1")
        g.sample(4, seed=7).shape    # (4, 28, 28, 1)
    """

    def __init__(self, path: str | os.PathLike):
        import tensorflow as tf

        self.path = Path(path)
        if not layout.is_saved_model(self.path):
            raise ValueError(f"{self.path} is not a SavedModel folder (no saved_model.pb).")
        self.version = layout.parse_version(self.path.name)
        self._loaded = tf.saved_model.load(str(self.path))
        self.signatures = self._loaded.signatures
        default = self.signatures[contract.SERVING_DEFAULT]
        inputs = default.structured_input_signature[1]
        self.latent_dim = int(inputs[contract.Z].shape[-1])
        self.conditional = contract.LABELS in inputs
        self.image_shape = tuple(int(d) for d in default.structured_outputs[contract.IMAGES].shape[1:])
        self.card = layout.read_card(self.path.parent)
        self.num_classes = self.card.get("num_classes") if self.conditional else None
        self.max_num_samples = int(self.card.get("max_num_samples") or contract.DEFAULT_MAX_NUM_SAMPLES)
        self._default = default

    def __repr__(self):
        return f"SavedModelGenerator({str(self.path)!r})"

    def _labels(self, labels, n):
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{self.path} is unconditional; it takes no labels.")
            return None
        if labels is None:
            if self.num_classes:
                return np.arange(n, dtype=np.int32) % self.num_classes
            return None  # the export fills in the classes in turn
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full([n], labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be {n} integer class ids; got {labels.dtype} array of shape {labels.shape}.")
        if self.num_classes and ((labels < 0) | (labels >= self.num_classes)).any():
            raise ValueError(f"labels must be in [0, {self.num_classes}); got {sorted(set(labels.tolist()))[:10]}.")
        return labels.astype(np.int32)

    def generate(self, z, labels=None):
        """Images for latent vectors z `[n, latent_dim]` (and labels), float32 NumPy in [-1, 1].

        Runs `serving_default` in chunks of the export's `max_num_samples` rows.
        """
        import tensorflow as tf

        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [n, {self.latent_dim}]; got shape {z.shape}.")
        labels = self._labels(labels, len(z))
        if self.conditional and labels is None and len(z) > self.max_num_samples:
            raise ValueError(
                f"{self.path} has no card stating its classes: pass labels for more than "
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

    def sample(self, n, seed=None, labels=None):
        """`n` samples as float32 NumPy images in [-1, 1], `[n, *image_shape]`, like `GAN.sample`.

        Args:
            n: number of samples.
            seed: integer seed of z (`latent_from_seed`); random when None.
            labels: conditional models: one class id per sample (or one for all); None for
                the classes in turn.
        """
        import secrets

        from keras_gans.models.sampling import latent_from_seed

        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1; got {n!r}.")
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        z = latent_from_seed(int(n), self.latent_dim, seed).numpy()
        return self.generate(z, labels)
