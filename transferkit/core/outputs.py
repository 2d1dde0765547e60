"""The output folder (``--out``), checked before any work starts.

transferkit writes into a folder only when the folder is new, empty, or its own: it holds a transferkit
model (``transferkit.json``) or a transferkit run (``run/transferkit-run.json``, the marker written here
before training starts). Any other folder is refused, so a user's files are never mixed with, replaced by
or deleted with a model. The checks run before the data are read and the backbone is loaded, so a wrong
``--out`` costs nothing: a file, the current folder or one above it, a folder that holds or is inside the
training data, a folder that cannot be written, or a disk without room. A folder holding an unfinished run
(an epoch saved, no model since) takes only ``--resume``, with the settings the run started with.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from transferkit.errors import UsageError

RUN_DIR = "run"
RUN_MARKER = "transferkit-run.json"
MIN_FREE_BYTES = 64 * 2**20  # below this no checkpoint of even a small model fits


def is_run(path: str | Path) -> bool:
    """Whether ``path`` holds a run that transferkit started (its marker file)."""
    return (Path(path) / RUN_DIR / RUN_MARKER).is_file()


def unfinished_run(path: str | Path) -> dict[str, Any] | None:
    """The run in ``path`` that has saved an epoch but no model since, or None.

    A run killed or interrupted after an epoch leaves ``run/checkpoints/last.ckpt``; a finished run then
    writes ``transferkit.json``, so a checkpoint newer than the model file (or with no model file at all)
    is work the folder's model does not hold. The run marker records which checkpoint the model was saved
    from (:func:`record_saved_checkpoint`; none yet while a new run trains), which settles it whatever the
    file times (a copy may lose them); a marker from before that record falls back on the times. Returns
    the run marker's fields (``command``, ``created``, ``seed``) with ``checkpoint``, that file's path.

    Example:
        >>> unfinished_run("models/never-made") is None
        True
    """
    folder = Path(path)
    checkpoint = folder / RUN_DIR / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file() or not is_run(folder):
        return None
    model_file = folder / "transferkit.json"
    marker = read_run_marker(folder)
    unfinished = {**marker, "checkpoint": str(checkpoint)}
    if not model_file.is_file():
        return unfinished
    if SAVED_KEY in marker:  # the marker says which checkpoint the model holds (None: none yet, in this run)
        return None if _same_checkpoint(checkpoint, marker[SAVED_KEY]) else unfinished
    # A marker from before that record: file times decide (a copy that lost them may mislead).
    return None if model_file.stat().st_mtime >= checkpoint.stat().st_mtime else unfinished


SAVED_KEY = "saved_checkpoint"  # in the run marker: the checkpoint the folder's model was saved from


def _same_checkpoint(checkpoint: Path, saved: Any) -> bool:
    """Whether ``checkpoint`` is the one recorded as saved: same size and time (cheap), else same digest (a
    copy that lost the file's time)."""
    if not isinstance(saved, dict):
        return False
    stat = checkpoint.stat()
    if stat.st_size != saved.get("size"):
        return False
    from transferkit.datasets.registry import sha256_of

    return stat.st_mtime_ns == saved.get("mtime_ns") or sha256_of(checkpoint) == saved.get("sha256")


def record_saved_checkpoint(path: str | Path) -> None:
    """Record in the run marker which checkpoint the folder's model was just saved from (its sha256).

    File times tell a finished folder from an unfinished one (:func:`unfinished_run`) until the folder is
    copied without them (``cp -r``); the digest settles it then. Called after the model is saved.
    """
    from transferkit.core.artifact import write_json_atomic
    from transferkit.datasets.registry import sha256_of

    folder = Path(path)
    checkpoint = folder / RUN_DIR / "checkpoints" / "last.ckpt"
    marker = read_run_marker(folder)
    if checkpoint.is_file() and marker:
        stat = checkpoint.stat()
        write_json_atomic(folder / RUN_DIR / RUN_MARKER, {**marker, SAVED_KEY: {
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_of(checkpoint)}})


def read_run_marker(path: str | Path) -> dict[str, Any]:
    """The fields of the run marker in ``path`` (``command``, ``created``, ``seed``, ``settings``); {} when
    there is none or it cannot be read."""
    import json

    try:
        marker = json.loads((Path(path) / RUN_DIR / RUN_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def resume_command(run: dict[str, Any]) -> str:
    """The command that continues an unfinished run, from its recorded command line.

    Example:
        >>> resume_command({"command": ["/venv/bin/transferkit", "train", "--out", "m"]})
        'transferkit train --out m --resume'
        >>> resume_command({})
        'the train command that started it, plus --resume (in Python: resume=True)'
    """
    import shlex

    command = run.get("command")
    if not isinstance(command, list) or len(command) < 2 or Path(str(command[0])).name != "transferkit":
        return "the train command that started it, plus --resume (in Python: resume=True)"
    words = ["transferkit", *map(str, command[1:])]
    return shlex.join(words if "--resume" in words else [*words, "--resume"])


def is_transferkit_folder(path: str | Path) -> bool:
    """Whether ``path`` holds a transferkit model or a transferkit run."""
    from transferkit.core.artifact import is_artifact

    return is_artifact(Path(path)) or is_run(path)


def _refuse(out: Any, problem: str, fix: str) -> UsageError:
    return UsageError(problem, file=out if str(out) else '""', fix=fix)


_NEW_FOLDER = "name a new folder, e.g. --out models/my-model"


def check_out(out: str | Path, *, inputs: Iterable[Any] = (), resume: bool = False,
              min_free: int = MIN_FREE_BYTES) -> Path:
    """Refuse an output folder transferkit must not write to; returns it as a Path. Writes nothing.

    ``inputs`` are the data, validation and test paths and a local ``--model`` (other values are ignored).

    Example:
        >>> check_out("models/ants-bees", inputs=["data/hymenoptera"])  # doctest: +SKIP
        PosixPath('models/ants-bees')
    """
    raw = str(out)
    if not raw.strip():
        raise _refuse(out, "the output folder name is empty", _NEW_FOLDER)
    path = Path(raw)
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if path.name in ("", ".", "..") or raw.rstrip("/\\").endswith(("/.", "/..")) or resolved == cwd \
            or resolved in cwd.parents:
        raise _refuse(out, "the output folder is the current folder or one above it", _NEW_FOLDER)
    if path.exists() and not path.is_dir():
        raise _refuse(out, "the output path is a file, not a folder", _NEW_FOLDER)
    for given in inputs:
        if not isinstance(given, (str, Path)) or not str(given):
            continue
        data = Path(given).resolve()
        if resolved == data or resolved in data.parents:
            raise _refuse(out, f"the output folder holds the input {given}; writing there could mix the model "
                          "with its inputs", _NEW_FOLDER + " outside the data")
        if data.is_dir() and data in resolved.parents:
            raise _refuse(out, f"the output folder is inside the input folder {given}; the model would become "
                          "part of the data", _NEW_FOLDER + " outside the data")
    if path.is_dir() and any(path.iterdir()) and not is_transferkit_folder(path):
        raise _refuse(out, "the output folder exists, is not empty and holds no transferkit model or run; "
                      "transferkit does not write among other files", _NEW_FOLDER + ", or empty this one")
    unfinished = unfinished_run(path) if not resume and path.is_dir() else None
    if unfinished is not None:  # a forgotten --resume must not cost the saved epochs (checked in --dry-run too)
        raise _refuse(out, f"holds an unfinished run (its last complete epoch is in {unfinished['checkpoint']})",
                      f"continue it: {resume_command(unfinished)}; or {_afresh(unfinished)}")
    if resume and not is_run(path):
        raise _refuse(out, "--resume: this folder holds no transferkit run to resume",
                      "give the --out of the interrupted run, or start a new run without --resume")
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _refuse(out, f"cannot write to {existing} (permission denied)",
                      "choose a folder you can write to, or fix its permissions")
    require_space(out, min_free)
    return path


def require_space(out: str | Path, needed: int) -> None:
    """Refuse to start when the disk of ``out`` has less than ``needed`` bytes free.

    Example:
        >>> require_space(".", 1)
    """
    resolved = Path(out).resolve()
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise _refuse(out, f"only {free / 2**20:.0f} MiB free on the disk of the output folder; this run needs "
                      f"about {needed / 2**20:.0f} MiB for its checkpoints and model",
                      "free some space, or choose a folder on another disk")


# What a resumed run must share with the run it continues, and the flag that sets each: the data, how they
# are split (a different seed or --per-class would move examples the first epochs trained on into the test
# split) and the model the checkpoint was made for. The time budget, devices, --epochs and --set patience may
# change: continuing for longer is what --resume is for.
RESUME_SETTINGS = {"domain": "--domain", "data": "--data", "val": "--val", "test": "--test",
                   "per_class": "--per-class", "holdout_test": "--holdout-test", "seed": "--seed",
                   "read_options": "--text-col/--label-col/--read-option", "preset": "--preset",
                   "model": "--model", "strategy": "--strategy", "head": "the head options",
                   "remove_last": "remove_last", "from_scratch": "from_scratch", "overrides": "--set"}
PATH_SETTINGS = ("data", "val", "test", "model")  # compared resolved: the same file from another folder
CHANGEABLE_ON_RESUME = ("epochs", "patience")
OVERRIDE_FLAGS = {"lr": "--lr", "batch_size": "--batch-size"}  # else --set KEY


def _setting(value: Any, path: bool = False) -> Any:
    """A JSON value that says whether two runs were given the same thing (``path``: compared resolved).

    Example:
        >>> _setting(None), _setting(3), _setting({"b": 1, "a": 2}), _setting("spam")
        (None, 3, '{"a": 2, "b": 1}', 'spam')
    """
    import json

    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (str, Path)):
        return str(Path(value).resolve()) if path and str(value) and Path(value).exists() else str(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    source, size = getattr(value, "source", None), getattr(value, "__len__", None)
    if source is not None and size is not None:  # examples in memory: their source and how many
        return f"{len(value)} examples from {source}"
    return str(getattr(value, "id", None) or value)


def run_settings(**values: Any) -> dict[str, Any]:
    """The settings of a run that ``--resume`` must repeat (:data:`RESUME_SETTINGS`), as JSON values.

    ``overrides`` (``--set``, ``--lr``...) are kept key by key, leaving out what may change on resume
    (:data:`CHANGEABLE_ON_RESUME`).

    Example:
        >>> run_settings(seed=0, per_class=50, overrides={"lr": 1e-3, "epochs": 5})["overrides"]
        {'lr': 0.001}
    """
    unknown = set(values) - set(RESUME_SETTINGS)
    if unknown:
        raise TypeError(f"not a run setting: {sorted(unknown)}")
    settings = {key: _setting(value, key in PATH_SETTINGS) for key, value in values.items() if key != "overrides"}
    overrides = values.get("overrides") or {}
    settings["overrides"] = {k: _setting(v) for k, v in sorted(overrides.items()) if k not in CHANGEABLE_ON_RESUME}
    return settings


def _shown(value: Any) -> str:
    return "(not given)" if value is None else str(value)


def resume_mismatch(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """What a resumed run was given differently from the run it continues, in words, or None.

    Only settings both runs recorded are compared (a run from an older transferkit recorded none).

    Example:
        >>> resume_mismatch({"seed": 0, "per_class": 50}, {"seed": 1, "per_class": 50})
        'this run was started with --seed 0, not 1'
        >>> resume_mismatch({"overrides": {"lr": 0.001}}, {"overrides": {}})
        'this run was started with --lr 0.001, not (not given)'
        >>> resume_mismatch({"seed": 0}, {"seed": 0}) is None
        True
    """
    for key, flag in RESUME_SETTINGS.items():
        if key not in recorded or key not in current:
            continue
        before, now = recorded[key], current[key]
        if key == "overrides" and isinstance(before, dict) and isinstance(now, dict):
            for name in sorted(set(before) | set(now)):
                if before.get(name) != now.get(name):
                    option = OVERRIDE_FLAGS.get(name, f"--set {name}=")
                    space = "" if option.endswith("=") else " "
                    return (f"this run was started with {option}{space}{_shown(before.get(name))}, "
                            f"not {_shown(now.get(name))}")
        elif before != now:
            return f"this run was started with {flag} {_shown(before)}, not {_shown(now)}"
    return None


def _afresh(run: dict[str, Any]) -> str:
    """How to start afresh where an unfinished run's checkpoint is: its epochs are only ever deleted by you."""
    return f"start afresh in a new --out folder, or here once you delete {Path(run['checkpoint']).parent}"


def _is_first_process() -> bool:
    """Whether this process is rank 0 (or the only one): the others never write the run's marker, which
    under torchrun they would all do at once."""
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0) == 0


def prepare_out(out: str | Path, *, inputs: Iterable[Any] = (), resume: bool = False, seed: int | None = None,
                settings: dict[str, Any] | None = None) -> Path:
    """Check ``out`` (:func:`check_out`), create it and mark it as a transferkit run; returns the run folder.

    The marker is written before any work: it is what lets a later run (or ``--resume``) recognise the
    folder as transferkit's own, and writing it is the early proof that the folder is writable. It records
    ``settings`` (:func:`run_settings`); ``--resume`` with other settings is refused here, before any work,
    since the first epochs trained on the first run's split. A new run (no ``--resume``) is refused where an
    unfinished run's checkpoint is (a forgotten ``--resume``); otherwise it removes the previous run's
    checkpoints and marks the folder anew. With no ``settings`` an existing marker is kept (a step inside a
    run that is already marked), as it is by every process but the first.

    Example:
        >>> run_dir = prepare_out("models/ants-bees", inputs=["data/hymenoptera"])  # doctest: +SKIP
    """
    from transferkit.core.artifact import write_json_atomic

    path = check_out(out, inputs=inputs, resume=resume)
    run_dir = path / RUN_DIR
    marker = run_dir / RUN_MARKER
    if (marker.is_file() and settings is None) or not _is_first_process():
        return run_dir  # a step of a run already marked (fit() marks, then trains), or a rank > 0
    if marker.is_file() and resume:
        recorded = read_run_marker(path).get("settings") or {}
        problem = resume_mismatch(recorded, settings or {})
        if problem:
            run = unfinished_run(path)
            raise _refuse(out, f"--resume: {problem}", "resume with the arguments the run was started with; or "
                          + (_afresh(run) if run is not None else "start a new run (a new --out, or this one "
                                                                   "without --resume)"))
        return run_dir
    import transferkit

    try:
        # A new run: the previous (finished) run's checkpoints go with its marker, so that a --resume of the
        # new run can never continue them. transferkit wrote both, in its own run folder.
        for name in ("last.ckpt", "best.ckpt"):
            (run_dir / "checkpoints" / name).unlink(missing_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(marker, {
            "format_version": 1,
            "transferkit_version": transferkit.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seed": seed,
            "command": sys.argv,
            "settings": settings or {},
            SAVED_KEY: None,  # no model saved by this run yet (record_saved_checkpoint)
        })
    except OSError as err:
        raise _refuse(out, f"cannot write to the output folder: {err.strerror or err}",
                      "choose a folder you can write to (not read-only, not full)") from None
    return run_dir
