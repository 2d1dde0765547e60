"""Save and load trained models: a folder of safetensors + JSON. Never pickle, never remote code.

Writes are atomic: the artifact is assembled in a staging folder inside the output folder and moved in
with renames, ``transferkit.json`` last, so a run that is killed leaves a complete artifact or none, never
half of one; files transferkit did not write are never replaced or removed.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.errors import ArtifactError

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.model import TransferModel

FORMAT_VERSION = 1
META_FILE = "transferkit.json"
WEIGHTS_FILE = "model.safetensors"
RUN_DIR = "run"  # checkpoints, logs and the feature cache of the run that made the artifact


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def is_artifact(path: Path) -> bool:
    """Whether ``path`` holds a model transferkit wrote: a ``transferkit.json`` that is transferkit's own.

    A file of that name alone proves nothing (a user's config may be called so), and a folder taken for a
    model is one whose files a save may replace: the file must be a JSON object with transferkit's format
    version and a domain, as every artifact since the first has had.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / META_FILE).write_text('{"my": "config"}')
        >>> is_artifact(folder)
        False
        >>> _ = (folder / META_FILE).write_text('{"format_version": 1, "domain": "spam"}')
        >>> is_artifact(folder)
        True
    """
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and isinstance(meta.get("format_version"), int) \
        and isinstance(meta.get("domain"), str)


STAGING_DIR = ".transferkit-staging"  # inside the output folder: same disk, so moving files in is a rename


def _owned_names(folder: Path) -> set[str]:
    """The top-level names an artifact's ``transferkit.json`` in ``folder`` lists as its own (``files``)."""
    if not is_artifact(folder):
        return set()
    try:
        files = json.loads((folder / META_FILE).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return set()
    return {str(name) for name in files if isinstance(name, str) and "/" not in name and name not in ("", ".", "..")} \
        if isinstance(files, list) else set()


def save_artifact(
    model: "TransferModel",
    out: Path,
    meta: dict[str, Any],
    write_files: Any = None,
) -> Path:
    """Write ``model`` and ``meta`` as an artifact folder at ``out``, without touching other files there.

    The files are written into a staging folder inside ``out`` (``write_files(folder)`` may add some, such
    as the report), then moved in by renames, ``transferkit.json`` last: it is removed first and restored
    last, so a process killed in between leaves no artifact rather than half of one (the run's checkpoints
    in ``out/run`` are untouched, and ``--resume`` writes the artifact again). Only names this artifact or
    the previous transferkit artifact wrote are replaced or removed; SIGINT/SIGTERM wait until the moves
    are done (core/interrupt.py).

    Example:
        >>> save_artifact(model, Path("models/ab"), meta)  # doctest: +SKIP
        PosixPath('models/ab')
    """
    from safetensors.torch import save_model

    from transferkit.core.interrupt import deferred
    from transferkit.core.outputs import RUN_DIR as RUN, is_transferkit_folder

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not is_transferkit_folder(out):
        raise ArtifactError(
            "the output folder exists and is not a transferkit model",
            file=out,
            fix="choose a new --out folder, or empty this one",
        )
    out.mkdir(parents=True, exist_ok=True)
    stage = out / STAGING_DIR
    # A save killed while it moved files in left its list in the staging folder: those files are ours.
    interrupted = _owned_names(stage)
    if stage.exists():
        shutil.rmtree(stage)  # what an interrupted save of ours left behind
    stage.mkdir()
    try:
        save_model(model, str(stage / WEIGHTS_FILE), metadata={"format": "pt", "transferkit": str(FORMAT_VERSION)})
        model.domain.save_backbone_files(model.backbone, stage)
        if write_files is not None:
            write_files(stage)
        names = sorted(p.name for p in stage.iterdir() if p.name != META_FILE)
        write_json_atomic(stage / META_FILE, {**meta, "files": [*names, META_FILE]})
        listed = _owned_names(out) | interrupted
        # An artifact from before the "files" list: the names it shares with this one are its own.
        owned = listed | (set(names) if is_artifact(out) and not listed else set())
        clash = [n for n in names if ((out / n).exists() or (out / n).is_symlink()) and n not in owned]
        if clash:
            raise ArtifactError(f"the output folder already holds '{clash[0]}', which transferkit did not write",
                                file=out, fix="move that file away, or choose a new --out folder")
        with deferred():
            (out / META_FILE).unlink(missing_ok=True)  # from here until the last rename: no artifact
            for name in names:
                target = out / name
                if target.is_dir() and not target.is_symlink():
                    os.replace(target, stage / f".old-{name}")  # a folder of the previous artifact
                os.replace(stage / name, target)
            for name in owned - set(names) - {META_FILE, RUN}:  # files only the previous artifact had
                stale = out / name
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale)
                else:
                    stale.unlink(missing_ok=True)
            os.replace(stage / META_FILE, out / META_FILE)
        shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out


def read_meta(path: Path) -> dict[str, Any]:
    """Read and check ``transferkit.json``; errors say what is wrong and what to do."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        from transferkit.core.outputs import is_run, read_run_marker, resume_command, unfinished_run

        run = unfinished_run(path)
        if run is not None:  # killed or interrupted before its model was saved: say how to continue it
            raise ArtifactError(f"an unfinished training run, not a model yet (its last complete epoch is in "
                                f"{run['checkpoint']})", file=path, fix=f"continue it: {resume_command(run)}")
        if is_run(path):  # stopped before its first epoch was saved (or a head on cached features)
            raise ArtifactError("a training run that saved no model yet", file=path,
                                fix=f"finish it: {resume_command(read_run_marker(path))}")
        previous = path.with_name(f".{path.name}.previous")
        hint = f"an interrupted save left the last complete model in {previous}" if is_artifact(previous) else (
            "point at a folder written by `transferkit train`"
        )
        raise ArtifactError(f"not a transferkit model folder (no {META_FILE})", file=path, fix=hint)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"unreadable metadata: {err}", file=meta_path, fix="re-train or restore the file") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(version, int) or not isinstance(meta.get("domain"), str):  # a file of that name, not ours
        raise ArtifactError(f"{META_FILE} here is not a transferkit model's metadata (no format_version and "
                            "domain)", file=meta_path, fix="point at a folder written by `transferkit train`")
    if version > FORMAT_VERSION:
        raise ArtifactError(
            f"format version {version!r} is newer than this transferkit understands ({FORMAT_VERSION})",
            file=meta_path,
            field="format_version",
            fix="upgrade transferkit: pip install -U transferkit",
        )
    for key in ("domain", "labels", "plan", "backbone"):
        if key not in meta:
            raise ArtifactError(f"missing key '{key}'", file=meta_path, field=key, fix="re-train the model")
    if not (path / WEIGHTS_FILE).is_file():
        raise ArtifactError(f"missing {WEIGHTS_FILE}", file=path, fix="re-train or restore the weights file")
    from transferkit.core.safe_load import inside

    inside(path, WEIGHTS_FILE, field=WEIGHTS_FILE)  # a link to a file elsewhere is not this model's weights
    return meta


def load(path: str | Path) -> "TransferModel":
    """Load a trained model folder. Weights come from safetensors only: nothing is unpickled.

    Example:
        >>> model = load("models/ants-bees")  # doctest: +SKIP
        >>> model.predict(["ant.jpg"])  # doctest: +SKIP
    """
    from safetensors.torch import load_model

    from transferkit.core.configure import TransferPlan
    from transferkit.core.model import TransferModel, build_head
    from transferkit.core.presets import preset_from_dict
    from transferkit.core.provenance import check_plugin
    from transferkit.core.registry import get_registry
    from transferkit.core.safe_load import check_safetensors
    from transferkit.core.select import get_domain
    from transferkit.core.specs import HeadConfig

    path = Path(path)
    meta = read_meta(path)
    registry = get_registry()
    check_plugin(meta, registry, path)
    check_safetensors(path / WEIGHTS_FILE)  # before building anything: a truncated or replaced file is refused
    domain = get_domain(meta["domain"], registry)
    plan = TransferPlan.from_dict(meta["plan"])
    backbone = domain.rebuild_backbone(meta["backbone"], path)
    if plan.remove_last and backbone.feature_dim != plan.feature_dim:
        backbone.truncate(plan.remove_last)
    if plan.strategy == "lora":
        # The one place adapters are re-applied on load (domains never add them when they rebuild).
        train = plan.train
        backbone.apply_lora(train["lora_r"], train["lora_alpha"], train["lora_dropout"])
    head = build_head(backbone.feature_dim, len(meta["labels"]), HeadConfig.model_validate(plan.head_config))
    model = TransferModel(backbone, head, meta["labels"])
    try:
        missing, unexpected = load_model(model, str(path / WEIGHTS_FILE), strict=False)
    except Exception as err:  # shapes that do not match: a corrupted or foreign file
        raise ArtifactError(f"weights do not fit the model: {err}", file=path / WEIGHTS_FILE) from None
    if missing or unexpected:
        raise ArtifactError(
            f"weights do not fit the model (missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]})",
            file=path / WEIGHTS_FILE,
            fix="the file belongs to another model or another version of the plugin; re-train",
        )
    model.plan = plan
    model.domain = domain
    model.preset = preset_from_dict(meta["preset"], source=str(path / META_FILE))
    model.threshold = meta.get("threshold", {}).get("value")
    positive = meta.get("threshold", {}).get("positive")
    model.positive = meta["labels"].index(positive) if positive in meta["labels"] else None
    model.meta = meta
    model.folder = path  # where it was loaded from: evaluate warns about a newer unfinished run there
    model.eval()
    return model


load_artifact = load
