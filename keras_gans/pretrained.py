"""The pretrained generators shipped in `saved_models/`: list them, load one, read its card.

Each shipped generator is a folder `saved_models/<name>/` holding what TF Serving serves
(version folders, each a SavedModel of the serving contract in `keras_gans.contract`),
and beside them `card.json` (how it was trained, its measured metrics) and `<name>.keras` (the
whole GAN, generator and discriminator with their optimizers, to resume or fine-tune).

`load(name)` returns the `.keras` GAN when there is one, else the latest SavedModel version
wrapped as a `keras_gans.generators.SavedModelGenerator`. Both answer `sample(n, seed=..., labels=...)` with the
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

from keras_gans import layout
from keras_gans.generators import SavedModelGenerator

__all__ = ["ENV_VAR", "saved_models_dir", "list", "path", "card", "load", "SavedModelGenerator"]

ENV_VAR = layout.ZOO_ENV_VAR
_FORMATS = ("auto", "keras", "saved_model")


def saved_models_dir(saved_models_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the shipped models: the argument, else $KERAS_GANS_SAVED_MODELS, else
    the zoo installed with the package (`keras_gans/saved_models/` of a wheel, or
    `saved_models/` at the root of a source checkout)."""
    return layout.zoo_dir(saved_models_dir)


def list(saved_models_dir: str | os.PathLike | None = None) -> list[str]:  # noqa: A001
    """Names of the shipped generators: folders with at least one SavedModel version.

    Other folders (the evaluation classifier's, which is no generator) are not listed.

    Example:
        >>> "dcgan_mnist" in list()
        True
    """
    return layout.model_names(layout.zoo_dir(saved_models_dir))


def path(name: str, saved_models_dir: str | os.PathLike | None = None) -> Path:
    """The base path of generator `name` (what TF Serving's `base_path` points at).

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    return layout.zoo_model(name, saved_models_dir)


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
