"""The SavedModel folder layout: version folders, model folders, cards and atomic JSON.

A model's *base path* (what TF Serving's `base_path` points at) holds one folder per
version and, beside them, files TF Serving ignores:

    saved_models/dcgan_mnist/          base path; the model is served as "dcgan_mnist"
        1/saved_model.pb, variables/   version 1 (a SavedModel)
        2/...                          version 2
        card.json                      the model card (how it was trained, its metrics)
        dcgan_mnist.keras              the whole GAN, to resume or fine-tune

The version rule is TF Serving's, in one function (`parse_version`): a child of the base
path is a version when its whole name parses as an int64, the way
`tensorflow_serving/sources/storage_path/file_system_storage_path_source.cc`
(`ParseVersionNumber`, `absl::SimpleAtoi`) reads it. Every other name (cards, `.keras`
files, the exporter's hidden `.export-tmp-*` folders) is ignored. Two views follow from it:

- `version_dirs`: every child TF Serving reads as a version, loadable or not. The server
  polls these (TF Serving aspires the highest one even when it is empty and fails to load
  it), and the exporter numbers a new version above all of them, so nothing is overwritten.
- `versions` / `latest_version`: only the versions holding a SavedModel. Everything that
  loads a model from disk (pretrained, evaluate, latent exploration, `keras-gans sample
  --model-path`) uses these, so an empty or half-copied `2/` beside a complete `1/` gives 1
  everywhere.

This module imports nothing beyond the standard library.

Example:
    from keras_gans import layout

    layout.versions("saved_models/dcgan_mnist")        # [1, 2]
    layout.latest_version("saved_models/dcgan_mnist")  # 2
    layout.model_names("saved_models")                 # ['cgan_mnist', 'dcgan_mnist', ...]
    layout.read_card("saved_models/dcgan_mnist")["family"]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, NamedTuple

CARD_FILENAME = "card.json"
# What TensorFlow's SavedModel loaders look for in a SavedModel folder
# (tensorflow/cc/saved_model/constants.h: kSavedModelFilenamePb, kSavedModelFilenamePbTxt).
SAVED_MODEL_FILENAMES = ("saved_model.pb", "saved_model.pbtxt")

# absl::SimpleAtoi: optional ASCII whitespace (absl::ascii_isspace: space, \t, \n, \v, \f,
# \r) on both sides, an optional sign, then decimal digits only. Written out rather than
# \s and \d, which in Python also match Unicode spaces and digits TF Serving rejects.
_VERSION_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t\n\v\f\r]*")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# --------------------------------------------------------------------------- versions


def parse_version(name: str) -> int | None:
    """The version number of a base-path child named `name`, or None if it is no version.

    TF Serving's rule (`ParseVersionNumber` = `absl::SimpleAtoi` into an int64): the whole
    name must be a decimal integer in int64 range, with optional surrounding ASCII
    whitespace and sign; leading zeros are allowed. So "1", "0042" (42), " 7 " and "+5"
    are versions, and so is "-3": TF Serving's code accepts negative numbers (its REST
    paths cannot address them). "1.0", "1_0", "0x10", "1e3", "", "card.json",
    ".export-tmp-1abc" and numbers beyond int64 are not versions.

    Example:
        >>> [parse_version(n) for n in ("1", "0042", "card.json")]
        [1, 42, None]
    """
    match = _VERSION_RE.fullmatch(name)
    if match is None:
        return None
    value = int(match.group(1))
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def version_dirs(base_path: str | os.PathLike) -> dict[int, Path]:
    """Every child of `base_path` that TF Serving reads as a version: {version: path}, sorted.

    Whether it holds a SavedModel is not checked (see `versions` for that), nor whether it
    is a folder: TF Serving aspires any child whose name parses. When two names give the
    same number ("1" and "01"), the last in byte order wins, as in TF Serving
    (`IndexChildrenByVersion` over its sorted children). A missing base path has none.
    """
    try:
        children = sorted(os.listdir(base_path))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found = {}
    for child in children:
        version = parse_version(child)
        if version is not None:
            found[version] = Path(base_path) / child
    return dict(sorted(found.items()))


def is_saved_model(path: str | os.PathLike) -> bool:
    """True when `path` is a SavedModel folder (holds `saved_model.pb` or `.pbtxt`)."""
    return any(os.path.isfile(os.path.join(path, name)) for name in SAVED_MODEL_FILENAMES)


def versions(base_path: str | os.PathLike) -> list[int]:
    """The versions of `base_path` that hold a SavedModel, ascending.

    An empty or half-copied version folder is skipped, so it never shadows a complete one.

    Example:
        >>> versions("saved_models/dcgan_mnist")
        [1, 2]
    """
    return [v for v, path in version_dirs(base_path).items() if is_saved_model(path)]


def latest_version(base_path: str | os.PathLike) -> int | None:
    """The highest version of `base_path` holding a SavedModel, or None when there is none."""
    found = versions(base_path)
    return found[-1] if found else None


def version_path(base_path: str | os.PathLike, version: int) -> Path:
    """The folder of `version` under `base_path` ("0042" for 42 if that is its name).

    Raises:
        ValueError: `base_path` has no child named as that version.
    """
    found = version_dirs(base_path)
    if version not in found:
        raise ValueError(f"{base_path} has no version {version!r}; it has {list(found)}.")
    return found[version]


def next_version(base_path: str | os.PathLike) -> int:
    """The version a new export takes: one more than every version-named child, at least 1.

    Counted over `version_dirs`, loadable or not: an empty `2/` beside `1/` gives 3, so an
    export never writes into (or renames onto) a folder that is already there, and the new
    version is the one TF Serving serves next.
    """
    return max([0, *version_dirs(base_path)]) + 1


class SavedModelLocation(NamedTuple):
    """Where a SavedModel named by a path lives.

    Attributes:
        path: the SavedModel folder (holding saved_model.pb).
        base_path: the folder beside the versions, where `card.json` lives (the parent of
            `path` when a version folder was given).
        version: the version number, or None when the folder's name is no version.
    """

    path: Path
    base_path: Path
    version: int | None


def find_saved_model(path: str | os.PathLike) -> SavedModelLocation | None:
    """The SavedModel at `path`: `path` itself, or a base path's latest loadable version.

    Returns None when `path` is neither a SavedModel folder nor a base path with a version
    holding one.

    Example:
        >>> find_saved_model("saved_models/dcgan_mnist").version
        2
    """
    path = Path(path)
    if is_saved_model(path):
        return SavedModelLocation(path, path.parent, parse_version(path.name))
    version = latest_version(path)
    if version is None:
        return None
    return SavedModelLocation(version_dirs(path)[version], path, version)


# --------------------------------------------------------------------------- model folders


def is_model_dir(path: str | os.PathLike) -> bool:
    """True when `path` is a model base path: it has at least one version holding a SavedModel."""
    return latest_version(path) is not None


def model_names(root: str | os.PathLike) -> list[str]:
    """Names of the model folders under `root` (e.g. `saved_models/`), sorted.

    A model folder is a sub-folder with at least one version holding a SavedModel; hidden
    names are skipped. Other folders (the evaluation classifier's, a half-written export)
    are not models. A missing `root` has none.
    """
    try:
        children = sorted(os.listdir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [
        name
        for name in children
        if not name.startswith(".") and os.path.isdir(os.path.join(root, name)) and is_model_dir(Path(root) / name)
    ]


ZOO_ENV_VAR = "KERAS_GANS_SAVED_MODELS"


def zoo_dir(given: str | os.PathLike | None = None) -> Path:
    """The folder of the shipped models: `given`, else $KERAS_GANS_SAVED_MODELS, else the zoo
    installed with the package (`keras_gans/saved_models/` of a wheel, or `saved_models/` at
    the root of a source checkout)."""
    if given is not None:
        return Path(given)
    if os.environ.get(ZOO_ENV_VAR):
        return Path(os.environ[ZOO_ENV_VAR])
    package = Path(__file__).resolve().parent
    installed = package / "saved_models"  # a wheel installs the zoo inside the package
    return installed if installed.is_dir() else package.parent / "saved_models"


def zoo_model(name: str, given: str | os.PathLike | None = None) -> Path:
    """The base path of the shipped generator `name` in `zoo_dir(given)`.

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    root = zoo_dir(given)
    names = model_names(root)
    if not isinstance(name, str) or name not in names:
        raise ValueError(
            f"Unknown pretrained generator {name!r}. Available in {root}: "
            f"{', '.join(names) if names else 'none (no folder with a SavedModel version)'}."
        )
    return root / name


# --------------------------------------------------------------------------- cards and JSON


def card_path(base_path: str | os.PathLike) -> Path:
    """`base_path/card.json`, the model card beside the versions (TF Serving ignores it)."""
    return Path(base_path) / CARD_FILENAME


def has_card(base_path: str | os.PathLike) -> bool:
    """True when `base_path` holds a `card.json`."""
    return card_path(base_path).is_file()


def read_card(base_path: str | os.PathLike) -> dict:
    """The model card of `base_path` as a dict; {} when it has none.

    Raises:
        ValueError: the card is not a JSON object (the message names the file).
    """
    path = card_path(base_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        card = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(card, dict):
        raise ValueError(f"{path} must hold a JSON object; got {type(card).__name__}.")
    return card


def write_card(base_path: str | os.PathLike, card: dict) -> dict:
    """Writes `card` as `base_path/card.json`, atomically (see `write_json`); returns it."""
    write_json(card_path(base_path), card)
    return card


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (cards record it for the files they name)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data: dicts (keys as str), lists, str, numbers, bool, None.

    Tuples become lists; NumPy arrays and scalars (anything with `tolist()`) their Python
    values; paths their text; any other object its `repr`, so a record never fails to
    serialise.
    """
    if value is None or type(value) in (str, bool, int, float):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if callable(getattr(value, "tolist", None)):  # NumPy arrays and scalars, without NumPy
        return jsonable(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    for kind in (bool, int, float, str):  # subclasses (enums, ...) as their base type
        if isinstance(value, kind):
            return kind(value)
    return repr(value)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` to `path` atomically: a temporary file beside it, then `os.replace`.

    A reader (a polling server, another process reading the card) sees the old content or
    the new, never half a file; a failed write leaves the old file as it was. The file gets
    the permissions of a normally created one (0666 less the umask).
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    # A hidden name that is no version: a server polling the folder ignores it.
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Writes `jsonable(data)` to `path` as indented JSON, atomically (see `write_text`)."""
    write_text(path, json.dumps(jsonable(data), indent=2) + "\n")
