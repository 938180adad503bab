"""Run folders: the record beside a training run's checkpoints, and when a run may go on.

A run folder (`keras-gans train --out DIR`) holds the run's checkpoints (`backup/`,
`model.keras`), `history.csv`, `samples/`, `logs/` and `run.json`, its record:

    {"config": {...RUN_KEYS...}, "command": "keras-gans train ...", "status": "running",
     "epochs_done": 3, "epochs": 5, "wall_time_seconds": 81.2}

Before any work, `check_out_folder` decides what a new start in that folder means:

- no run.json and no checkpoints: a new run;
- a `running` run (killed, or stopped) with the same settings: resumed automatically
  (`BackupAndRestore` continues mid-epoch); a `running` run whose folder lost its
  backups (copied without `backup/`, as a committed checkpoint is) continues from its
  `model.keras` at the epoch its record names (`resumes_from_model`);
- a `finished` run: refused unless `resume=True` (train it further with more epochs);
- a run with other settings (`RUN_KEYS`), or checkpoints without run.json: refused,
  naming what differs, so two experiments never mix in one folder.

`run.json` is rewritten atomically after every epoch, so a run killed at any point leaves
a record that names an epoch whose files exist. Its paths travel with the folder
(`keras_gans.record_paths`): `init` and `exported` are relative to the run folder, the
dataset is written as typed (an absolute path relative to the working directory).

Example:
    from keras_gans.training import runs

    config = runs.run_config(settings)        # settings: a dict with every RUN_KEYS entry
    previous = runs.check_out_folder("runs/dcgan", config, resume=False)
    seed = runs.run_seed(config["seed"], previous)
    runs.write_run("runs/dcgan", config | {"seed": seed}, "running", 0, epochs=5, started=time.time())
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from keras_gans import layout, record_paths

RUN_FILENAME = "run.json"
# What makes two runs the same run: resuming with different values would silently mix
# two experiments in one folder.
RUN_KEYS = (
    "model", "dataset", "split", "batch_size", "strategy", "precision", "seed", "latent_dim",
    "width", "hidden", "d_steps", "loss", "lr", "pack", "spectral_norm", "label_projection", "ema_decay",
    "steps_per_epoch", "init",
)
# Keys recorded only since a later version, with the value a record without them meant.
LATER_KEYS = {"label_projection": False}
# Settings that shape a new model, with the value that leaves them unset; with an `init`
# file the model comes from that file instead.
ARCHITECTURE_DEFAULTS = {
    "latent_dim": None, "width": None, "hidden": None, "d_steps": None, "loss": None, "pack": 1,
    "spectral_norm": False, "label_projection": False,
}
# Files of a run that only a run with a run.json may own.
CHECKPOINT_NAMES = ("backup", "model.keras", "history.csv", "history_steps.csv")


def complete_backups(backup_dir: str | os.PathLike) -> list[Path]:
    """The complete backups in `backup_dir` (`epoch-NNNNNN` folders), oldest first.

    A backup is written to a temporary folder and renamed to `epoch-NNNNNN` only once
    complete (`keras_gans.training.callbacks.BackupAndRestore`), so these are the ones a
    resumed run may load.
    """
    root = Path(backup_dir)
    return sorted(root.glob("epoch-*")) if root.exists() else []


class RunFolderError(ValueError):
    """A run folder, or a starting point, that this run may not use (the message says why)."""


def resumes_from_model(out: str | os.PathLike, previous: Mapping | None) -> bool:
    """Whether a continued run starts from `out/model.keras` (at `previous["epochs_done"]`).

    True for a finished run trained further, and for a `running` run with no complete
    backup but a checkpoint of at least one epoch: a run folder copied without its
    `backup/` (a committed checkpoint, resumed on another machine). Otherwise a running
    run is restored by `BackupAndRestore` from `out/backup`, mid-epoch, or starts anew.
    """
    if previous is None:
        return False
    if previous["status"] == "finished":
        return True
    out = Path(out)
    backed_up = bool(complete_backups(out / "backup"))
    return not backed_up and previous.get("epochs_done", 0) > 0 and (out / "model.keras").exists()


def run_config(settings: Mapping) -> dict:
    """The settings that identify a run (`RUN_KEYS`), taken from `settings`.

    Raises:
        KeyError: `settings` lacks one of `RUN_KEYS`.
    """
    return {key: settings[key] for key in RUN_KEYS}


def read_run(out: str | os.PathLike) -> dict | None:
    """The record `out/run.json`, or None when there is none."""
    path = Path(out) / RUN_FILENAME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def check_out_folder(out: str | os.PathLike, config: Mapping, *, resume: bool = False) -> dict | None:
    """Decides between a new run, an automatic resume and a refusal, before any work.

    Args:
        out: the run folder (it need not exist).
        config: this run's `run_config`; a `seed` of None matches any previous seed (the
            run takes the previous one, see `run_seed`).
        resume: allow a finished run to be trained further.

    Returns:
        The previous run's record when this run continues it, None for a new run.

    Raises:
        RunFolderError: `out` holds checkpoints without a record, a run with other
            settings, or a finished run and `resume` is False.
    """
    out = Path(out)
    previous = read_run(out)
    if previous is None:
        leftovers = [p.name for p in out.glob("*") if p.name in CHECKPOINT_NAMES]
        if leftovers:
            raise RunFolderError(
                f"{out} holds another run's files ({', '.join(leftovers)}) but no run.json; "
                "choose a new --out folder."
            )
        return None
    config = dict(config)
    if config.get("seed") is None:
        config["seed"] = previous["config"].get("seed")
    # The record holds the settings as written (record_paths.portable); one written by an
    # older version, as given.
    written = record_paths.portable(config, out)
    recorded = LATER_KEYS | previous["config"]
    differing = {k: (recorded.get(k), v) for k, v in config.items() if recorded.get(k) not in (v, written[k])}
    if differing:
        detail = "; ".join(f"{k}: {old!r} there, {new!r} now" for k, (old, new) in differing.items())
        raise RunFolderError(
            f"{out} holds another run's checkpoints ({detail}). Choose a new --out folder, "
            "or repeat that run's settings to continue it."
        )
    if previous["status"] == "finished" and not resume:
        raise RunFolderError(
            f"{out} holds a finished run of {previous['epochs_done']} epochs. Pass --resume "
            "(with a larger --epochs) to train it further, or choose a new --out folder."
        )
    return previous


def run_seed(seed: int | None, previous: Mapping | None = None) -> int:
    """The seed a run uses: `seed` when given, else the previous run's, else a fresh one."""
    if seed is not None:
        return seed
    if previous is not None and previous["config"].get("seed") is not None:
        return previous["config"]["seed"]
    return secrets.randbelow(2**31)


def write_run(
    out: str | os.PathLike,
    config: Mapping,
    status: str,
    epochs_done: int,
    *,
    epochs: int,
    started: float,
    command: str | None = None,
    extra: Mapping | None = None,
) -> dict:
    """Writes the record `out/run.json` atomically (a reader never sees half a file).

    Args:
        out: the run folder (it must exist).
        config: the run's `run_config`.
        status: "running" or "finished".
        epochs_done: epochs completed so far.
        epochs: epochs asked for.
        started: `time.time()` at the run's start, moved back by the wall time of the
            sittings it continues, so `wall_time_seconds` adds up over resumes.
        command: the command line that started this sitting.
        extra: more entries (e.g. `{"exported": "saved_models/x/3"}`).

    Returns:
        The record written: its paths as `keras_gans.record_paths.portable` writes them
        (no absolute path; `init` and `exported` relative to `out`).
    """
    record = {
        "config": dict(config),
        "command": command,
        "status": status,
        "epochs_done": epochs_done,
        "epochs": epochs,
        "wall_time_seconds": round(time.time() - started, 1),
        **(extra or {}),
    }
    record = record_paths.portable(layout.jsonable(record), out)
    layout.write_json(Path(out) / RUN_FILENAME, record)
    return record


def check_init(init: str | os.PathLike, settings: Mapping) -> None:
    """Checks a fine-tuning start: `init` is a .keras file, and no setting shapes a new model.

    Args:
        init: the saved GAN to start from.
        settings: the run's settings; those of `ARCHITECTURE_DEFAULTS` must keep their
            unset values, as the networks, loss and d_steps come from `init`.

    Raises:
        RunFolderError: naming the file, or the settings (as --flags) that conflict.
    """
    path = Path(init)
    if path.suffix != ".keras" or not path.is_file():
        raise RunFolderError(f"--init must be a .keras file saved by keras-gans; got {str(init)!r}")
    conflicting = [
        "--" + key.replace("_", "-")
        for key, unset in ARCHITECTURE_DEFAULTS.items()
        if settings.get(key, unset) != unset
    ]
    if conflicting:
        raise RunFolderError(
            f"{', '.join(conflicting)} cannot be used with --init: the networks, loss and "
            f"d_steps come from {init}. Drop them, or train a new model without --init."
        )


def check_init_model(gan, init: str | os.PathLike, family: str, image_shape, num_classes, dataset: str) -> None:
    """Checks that the GAN loaded from `init` is of `family` and makes the data's samples.

    Raises:
        RunFolderError: another family, sample shape or number of classes.
    """
    if gan.family != family:
        raise RunFolderError(f"--init {init} holds a {gan.family} model, not {family}")
    if tuple(gan.image_shape) != tuple(image_shape) or gan.num_classes != num_classes:
        raise RunFolderError(
            f"--init {init} makes samples of shape {tuple(gan.image_shape)} with "
            f"num_classes={gan.num_classes}; {dataset} has shape {tuple(image_shape)} and "
            f"num_classes={num_classes}."
        )


def training_record(gan, run_json: str | os.PathLike | None = None) -> dict:
    """What a card records of how a generator was trained.

    The run's command and settings (from its run.json, when given and present), how the
    starting point of a fine-tuned run was trained (`init_training`: the card beside a
    shipped .keras file, or the run record beside a run's model.keras), and the steps the
    optimizers took. Model files in it (`init`, `exported`) are paths from the working
    directory (`keras_gans.record_paths.resolve`), for a card to write relative to itself.
    """
    record = {}
    if run_json and Path(run_json).exists():
        record = record_paths.resolve(json.loads(Path(run_json).read_text(encoding="utf-8")), Path(run_json).parent)
    init = (record.get("config") or {}).get("init")
    if init:
        folder = Path(init).parent
        if layout.has_card(folder):
            record["init_training"] = record_paths.resolve(layout.read_card(folder).get("training"), folder)
        elif (folder / RUN_FILENAME).exists():
            record["init_training"] = record_paths.resolve(read_run(folder), folder)
    record["generator_steps"] = int(gan.g_optimizer.iterations.numpy()) if gan.g_optimizer else 0
    record["discriminator_steps"] = int(gan.d_optimizer.iterations.numpy()) if gan.d_optimizer else 0
    if gan.d_optimizer is not None:
        record["d_steps"], record["loss"] = gan.d_steps, gan.get_compile_config()["loss"]
    return record
