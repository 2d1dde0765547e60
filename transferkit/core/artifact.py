"""Save and load trained models: a folder of safetensors + JSON. Never pickle, never remote code.

Writes are atomic: the artifact is assembled in a temporary sibling folder and swapped in with renames,
so a run that is killed leaves the last complete artifact (or none), never half of one.
"""
from __future__ import annotations

import json
import os
import shutil
import time
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
    return (Path(path) / META_FILE).is_file()


def save_artifact(
    model: "TransferModel",
    out: Path,
    meta: dict[str, Any],
    write_files: Any = None,
) -> Path:
    """Write ``model`` and ``meta`` as an artifact folder at ``out``, atomically.

    ``write_files(tmp_folder)`` may add files (the report) before the swap. The run folder ``out/run``
    of an earlier artifact at ``out`` is kept (it holds the checkpoints a resumed run needs).
    """
    from safetensors.torch import save_model

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and any(out.iterdir()) and not is_artifact(out) and not (out / RUN_DIR).exists():
        raise ArtifactError(
            "the output folder exists and is not a transferkit model",
            file=out,
            fix="choose a new --out folder, or empty this one",
        )
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{int(time.time())}")
    tmp.mkdir()
    try:
        save_model(model, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", "transferkit": str(FORMAT_VERSION)})
        model.domain.save_backbone_files(model.backbone, tmp)
        if write_files is not None:
            write_files(tmp)
        write_json_atomic(tmp / META_FILE, meta)  # last: its presence marks a complete artifact
        if (out / RUN_DIR).exists():
            os.replace(out / RUN_DIR, tmp / RUN_DIR)
        previous = out.with_name(f".{out.name}.previous")
        if previous.exists():
            shutil.rmtree(previous)
        if out.exists():
            os.replace(out, previous)
        os.replace(tmp, out)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_meta(path: Path) -> dict[str, Any]:
    """Read and check ``transferkit.json``; errors say what is wrong and what to do."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        previous = path.with_name(f".{path.name}.previous")
        hint = f"an interrupted save left the last complete model in {previous}" if is_artifact(previous) else (
            "point at a folder written by `transferkit train`"
        )
        raise ArtifactError(f"not a transferkit model folder (no {META_FILE})", file=path, fix=hint)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"unreadable metadata: {err}", file=meta_path, fix="re-train or restore the file") from None
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
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
    from transferkit.core.registry import get_registry
    from transferkit.core.select import get_domain
    from transferkit.core.specs import HeadConfig

    path = Path(path)
    meta = read_meta(path)
    registry = get_registry()
    if meta["domain"] not in registry.domains:
        raise ArtifactError(
            f"this model needs the '{meta['domain']}' domain, provided by {meta.get('plugin', 'an unknown plugin')}, "
            "which is not installed",
            file=path,
            field="domain",
            fix=f"install the plugin that provides '{meta['domain']}' (see `transferkit plugins`)",
        )
    domain = get_domain(meta["domain"], registry)
    plan = TransferPlan.from_dict(meta["plan"])
    backbone = domain.rebuild_backbone(meta["backbone"], path)
    if plan.remove_last and backbone.feature_dim != plan.feature_dim:
        backbone.truncate(plan.remove_last)
    if plan.strategy == "lora":
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
    model.eval()
    return model


load_artifact = load
