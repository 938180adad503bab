"""Paths in the records beside models and runs (card.json, run.json): never absolute.

A card travels with its model folder (shipped in saved_models/, installed with the wheel,
copied to another machine) and a run record with its run folder, so no path in them may
name the folder tree of the machine that wrote them. Two kinds of path are written:

- files of models (the SavedModel a metric was measured on, the classifier, the `--init` a
  run started from, the version a run exported; see `is_model_path`): relative to the
  record's own folder, and read back with `resolve` against that folder;
- everything else (a dataset, a command line): a name or a relative path as the user typed
  it; an absolute one relative to the folder the command ran in, as the command line is.

In memory, records hold paths usable from the working directory (absolute, or relative to
it); `portable` turns a record into what is written, `resolve` turns a written one back.

Example:
    record = {"source": {"path": "/home/me/saved_models/dcgan/3"}, "dataset": {"path": "mnist"}}
    portable(record, "/home/me/saved_models/dcgan")
    # {"source": {"path": "3"}, "dataset": {"path": "mnist"}}
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

# Keys whose value is a model file wherever they appear, and parents whose "path" is one.
MODEL_KEYS = ("init", "exported")
MODEL_PARENTS = ("source", "classifier")


def is_model_path(key: str | None, parent: str | None) -> bool:
    """True for the entries that name a model file: `MODEL_KEYS`, and "path" under `MODEL_PARENTS`."""
    return key in MODEL_KEYS or (key == "path" and parent in MODEL_PARENTS)


def _relative(path: str, start: str) -> str:
    try:
        return os.path.relpath(path, start).replace(os.sep, "/")
    except ValueError:  # Windows: another drive has no relative path; its name is what is left
        return os.path.basename(path)


def _command(line: str, cwd: str) -> str:
    """A command line with its absolute path arguments (`/x`, `--flag=/x`) relative to `cwd`."""
    try:
        tokens = shlex.split(line)
    except ValueError:  # unbalanced quotes: not a line shlex wrote; kept as it is
        return line
    out = []
    for token in tokens:
        flag, eq, value = token.partition("=") if token.startswith("--") else ("", "", token)
        if os.path.isabs(value):
            token = flag + eq + _relative(value, cwd)
        out.append(token)
    return " ".join(shlex.quote(t) for t in out)


def _walk(value, change, key=None, parent=None):
    if isinstance(value, Mapping):
        return {k: _walk(v, change, k, key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, change, key, parent) for v in value]
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        return value
    return change(value, key, parent)


def portable(record, folder: str | os.PathLike, cwd: str | os.PathLike | None = None):
    """`record` as it is written into a card or run record in `folder`: no absolute path.

    Model files (`is_model_path`) become relative to `folder`; any other absolute path (a
    dataset, an argument in a "command" line) becomes relative to `cwd`.

    Args:
        record: JSON-like data (dicts, lists, strings, paths, numbers); not changed.
        folder: the folder of the card or run record.
        cwd: the folder the record's relative paths are relative to (default: the working
            directory).

    Returns:
        A copy of `record`.
    """
    folder = os.path.abspath(folder)
    cwd = os.path.abspath(cwd or os.getcwd())

    def change(value, key, parent):
        if is_model_path(key, parent):
            return _relative(os.path.join(cwd, value), folder)
        if key == "command":
            return _command(value, cwd)
        return _relative(value, cwd) if os.path.isabs(value) else value

    return _walk(record, change)


def resolve(record, folder: str | os.PathLike):
    """`record` read from a card or run record in `folder`, its model files as paths from here.

    The inverse of `portable` for model files (`is_model_path`): each is joined to `folder`
    (an absolute one, from an older record, is kept). Other entries are returned as written.
    """
    folder = os.fspath(folder)

    def change(value, key, parent):
        if is_model_path(key, parent) and not os.path.isabs(value):
            return os.path.normpath(os.path.join(folder, value))
        return value

    return _walk(record, change)


def absolute_paths(record) -> list[str]:
    """The strings of `record` that are, or hold as an argument, an absolute path (for checks)."""
    found = []

    def check(value, key, parent):
        try:
            tokens = shlex.split(value) if key == "command" else [value]
        except ValueError:
            tokens = value.split()
        if any(os.path.isabs(t.partition("=")[2] if t.startswith("--") and "=" in t else t) for t in tokens):
            found.append(value)
        return value

    _walk(record, check)
    return found
