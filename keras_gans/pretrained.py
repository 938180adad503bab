"""The pretrained models shipped in `saved_models/`: list them, load one, read its card.

Two kinds are shipped: generators (z -> images: `dcgan_mnist`, `cgan_mnist`, ...) and
image-to-image translators (images -> images: `pix2pix_mnist_edges`, `cyclegan_mnist_invert`).
`list()` names the generators (so code that samples every listed name keeps working),
`list(kind="translator")` the translators and `list(kind="all")` both; `kind(name)` says
which a name is (its card's "kind").

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

A translator loads the same way: `load(name)` gives the `.keras` model (a
`kg.models.Pix2Pix` or `kg.models.CycleGAN`), else the latest SavedModel version wrapped as a
`keras_gans.generators.SavedModelTranslator`; both answer `translate(images,
direction="a_to_b")` with float32 NumPy images in [-1, 1] (uint8 or [-1, 1] images in). The
shipped translators' `.keras` files hold the weights without optimizer state (a few MB, not
three times that): the model loads uncompiled; `compile()` it to train further.

Example:
    import keras_gans as kg

    kg.pretrained.list()                   # ['cgan_mnist', 'dcgan_mnist', ...]
    g = kg.pretrained.load("dcgan_mnist")
    images = g.sample(16, seed=7)          # float32 [16, 28, 28, 1] in [-1, 1]
    kg.pretrained.card("dcgan_mnist")["metrics"]

    kg.pretrained.list(kind="translator")  # ['cyclegan_mnist_invert', 'pix2pix_mnist_edges']
    p2p = kg.pretrained.load("pix2pix_mnist_edges")
    edges, digits, labels = kg.data.mnist_task("mnist_edges", "tests/data/mnist", split="test")
    drawn = p2p.translate(edges[:16])      # float32 [16, 28, 28, 1] in [-1, 1]
    cycle = kg.pretrained.load("cyclegan_mnist_invert")
    inverted = cycle.translate(digits[:16])                  # A -> B
    again = cycle.translate(inverted, direction="b_to_a")    # B -> A
"""

from __future__ import annotations

import os
from pathlib import Path

from keras_gans import generators, layout
from keras_gans.generators import SavedModelGenerator, SavedModelTranslator

__all__ = [
    "ENV_VAR", "KINDS", "saved_models_dir", "list", "kind", "path", "card", "load", "SavedModelGenerator",
    "SavedModelTranslator",
]

ENV_VAR = layout.ZOO_ENV_VAR
KINDS = ("generator", "translator")
_FORMATS = ("auto", "keras", "saved_model")


def saved_models_dir(saved_models_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the shipped models: the argument, else $KERAS_GANS_SAVED_MODELS, else
    the zoo installed with the package (`keras_gans/saved_models/` of a wheel, or
    `saved_models/` at the root of a source checkout)."""
    return layout.zoo_dir(saved_models_dir)


def _kind_of(base_path: Path) -> str:
    return "translator" if layout.read_card(base_path).get("kind") == "translator" else "generator"


def list(saved_models_dir: str | os.PathLike | None = None, kind: str = "generator") -> list[str]:  # noqa: A001
    """Names of the shipped models of a kind: folders with at least one SavedModel version.

    Args:
        saved_models_dir: the folder of the shipped models (see `saved_models_dir()`).
        kind: "generator" (the default: models that `sample`), "translator" (models that
            `translate`) or "all".

    Other folders (the evaluation classifier's, which is no model of either kind) are not listed.

    Example:
        >>> "dcgan_mnist" in list(), "pix2pix_mnist_edges" in list(kind="translator")
        (True, True)
    """
    if kind not in (*KINDS, "all"):
        raise ValueError(f"kind must be one of {', '.join(KINDS)} or 'all'; got {kind!r}.")
    root = layout.zoo_dir(saved_models_dir)
    names = layout.model_names(root)
    return names if kind == "all" else [name for name in names if _kind_of(root / name) == kind]


def kind(name: str, saved_models_dir: str | os.PathLike | None = None) -> str:
    """"generator" or "translator": what the shipped model `name` is (its card's "kind").

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    return _kind_of(path(name, saved_models_dir))


def path(name: str, saved_models_dir: str | os.PathLike | None = None) -> Path:
    """The base path of the shipped model `name` (what TF Serving's `base_path` points at).

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    return layout.zoo_model(name, saved_models_dir)


def card(name: str, saved_models_dir: str | os.PathLike | None = None) -> dict:
    """The model card of the shipped model `name` (`card.json`) as a dict; {} when it has none.

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
    """A ready generator or translator: `load(name).sample(n, seed=..., labels=...)` gives
    images, or for a translator `load(name).translate(images, direction=...)`.

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
        A generator: a `keras_gans.models.GAN` (from the `.keras` file: compiled, ready to
        `fit` further), or a `SavedModelGenerator`. Both have `sample`, `generate`,
        `latent_dim`, `num_classes` and `image_shape`, and give the same images for the same
        seed. A translator: a `kg.models.Pix2Pix` / `CycleGAN` (from the `.keras` file), or a
        `SavedModelTranslator`. Both have `translate(images, direction="a_to_b")`,
        `image_shape` and `target_shape`, and give the same images.

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
    if local is not None and local.exists() and (local.suffix == ".keras" or local.is_dir()) and name not in list(saved_models_dir, kind="all"):
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
        return generators.saved_model(local)
    versions = layout.versions(local)
    if not versions:
        raise ValueError(
            f"{local} holds neither a .keras model nor a SavedModel version (integer folders "
            "with a saved_model.pb)."
        )
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise ValueError(f"{shown or local.name} has no version {version!r}; it has {versions}.")
    return generators.saved_model(layout.version_path(local, version))


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
