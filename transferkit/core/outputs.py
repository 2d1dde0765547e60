"""The output folder (``--out``), checked before any work starts.

transferkit writes into a folder only when the folder is new, empty, or its own: it holds a transferkit
model (``transferkit.json``) or a transferkit run (``run/transferkit-run.json``, the marker written here
before training starts). Any other folder is refused, so a user's files are never mixed with, replaced by
or deleted with a model. The checks run before the data are read and the backbone is loaded, so a wrong
``--out`` costs nothing: a file, the current folder or one above it, a folder that holds or is inside the
training data, a folder that cannot be written, or a disk without room.
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


def prepare_out(out: str | Path, *, inputs: Iterable[Any] = (), resume: bool = False, seed: int | None = None) -> Path:
    """Check ``out`` (:func:`check_out`), create it and mark it as a transferkit run; returns the run folder.

    The marker is written before any work: it is what lets a later run (or ``--resume``) recognise the
    folder as transferkit's own, and writing it is the early proof that the folder is writable.

    Example:
        >>> run_dir = prepare_out("models/ants-bees", inputs=["data/hymenoptera"])  # doctest: +SKIP
    """
    from transferkit.core.artifact import write_json_atomic

    path = check_out(out, inputs=inputs, resume=resume)
    run_dir = path / RUN_DIR
    marker = run_dir / RUN_MARKER
    if marker.is_file():
        return run_dir
    import transferkit

    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(marker, {
            "format_version": 1,
            "transferkit_version": transferkit.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seed": seed,
            "command": sys.argv,
        })
    except OSError as err:
        raise _refuse(out, f"cannot write to the output folder: {err.strerror or err}",
                      "choose a folder you can write to (not read-only, not full)") from None
    return run_dir
