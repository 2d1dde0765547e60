"""The robotics domain: labelled multichannel sensor recordings in, a 1D CNN backbone.

Built only on transferkit's public contract: :class:`transferkit.core.domain.Domain`,
:class:`transferkit.core.backbone.Backbone`, :class:`~transferkit.core.data.Examples` and the errors.
Readers accept two layouts:

- ``.npz`` with ``x`` (float array ``[recordings, channels, time]``) and ``y`` (one label per recording);
- ``.csv`` in long form, one row per time step: ``recording,label,<channel>,<channel>...`` (an optional
  ``t`` column orders the rows of each recording).

``transferkit predict`` takes ``.npy`` files (one recording, ``[channels, time]``) or one-recording CSVs.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from transferkit.core.data import Examples, Skipped
from transferkit.core.domain import Domain
from transferkit.core.specs import ModelSource, Preset
from transferkit.errors import ArtifactError, DataError, UsageError

NORMALISE = ("recording", "none")


def _read_npz(path: Path) -> tuple[list[np.ndarray], list[str], list[Skipped]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = np.asarray(data["x"], dtype=np.float32), data["y"]
    except KeyError as err:
        raise DataError(f"missing array {err}", file=path, fix="save the recordings as x and the labels as y") from None
    except (OSError, ValueError) as err:
        raise DataError(f"not a readable .npz: {err}", file=path, fix="write it with numpy.savez(path, x=..., y=...)") from None
    if x.ndim != 3:
        raise DataError(f"x has shape {x.shape}, expected [recordings, channels, time]", file=path, field="x",
                        fix="stack recordings as an array of shape (n, channels, time)")
    if len(x) != len(y):
        raise DataError(f"{len(x)} recordings but {len(y)} labels", file=path, field="y", fix="one label per recording")
    items, labels, skipped = [], [], []
    for i, (rec, label) in enumerate(zip(x, y)):
        if not np.isfinite(rec).all():
            skipped.append(Skipped(item=f"{path}[{i}]", reason="holds NaN or infinite values"))
            continue
        items.append(rec)
        labels.append(str(label))
    return items, labels, skipped


def _read_csv(path: Path, *, labelled: bool = True) -> tuple[list[np.ndarray], list[str], list[Skipped]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise DataError("no rows", file=path, fix="one row per time step: recording,label,<channels>...")
    columns = list(rows[0])
    needed = ["recording", "label"] if labelled else []
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DataError(f"missing column {', '.join(missing)}", file=path, field=missing[0],
                        fix=f"columns found: {', '.join(columns)}; expected recording,label,<channels>...")
    channels = [c for c in columns if c not in ("recording", "label", "t")]
    if not channels:
        raise DataError("no channel columns", file=path, fix="add one numeric column per sensor channel")
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row.get("recording", "0"), []).append(row)
    items, labels, skipped = [], [], []
    for name, group in groups.items():
        if "t" in columns:
            group.sort(key=lambda r: float(r["t"]))
        try:
            rec = np.array([[float(r[c]) for r in group] for c in channels], dtype=np.float32)
        except (TypeError, ValueError) as err:
            skipped.append(Skipped(item=f"{path}:{name}", reason=f"a value is not a number ({err})"))
            continue
        names = {r["label"] for r in group} if labelled else {""}
        if len(names) != 1:
            skipped.append(Skipped(item=f"{path}:{name}", reason=f"rows disagree on the label: {sorted(names)}"))
            continue
        items.append(rec)
        labels.append(names.pop())
    lengths = {rec.shape[1] for rec in items}
    if len(lengths) > 1:
        raise DataError(f"recordings have different lengths {sorted(lengths)}", file=path,
                        fix="cut or resample every recording to the same number of time steps")
    return items, labels, skipped


class RoboticsDomain(Domain):
    """Classify sensor recordings (IMU, joint torque) of a robot: faults, contacts, activities."""

    preprocess_keys = {"normalize": "recording: standardise each channel of each recording (default); none"}
    augment_keys = {
        "jitter": "standard deviation of Gaussian noise added to the standardised signal at train time (0: none)",
        "shift": "largest random circular shift in time steps at train time (0: none)",
    }

    def read(self, path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        path = Path(path)
        if not path.is_file():
            raise DataError("no such file", file=path, fix="give an .npz or .csv of recordings")
        reader = {".npz": _read_npz, ".csv": _read_csv}.get(path.suffix.lower())
        if reader is None:
            raise DataError(f"unknown format '{path.suffix}'", file=path, fix="give an .npz or a .csv of recordings")
        items, labels, skipped = reader(path)
        return Examples(items=items, labels=labels, source=str(path), skipped=skipped)

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        items = []
        for name in raw:
            path = Path(name)
            if path.suffix.lower() == ".csv":
                found, _, _ = _read_csv(path, labelled=False)
                items.extend(found)
                continue
            try:
                rec = np.load(path, allow_pickle=False).astype(np.float32)
            except (OSError, ValueError) as err:
                raise DataError(f"cannot read a recording: {err}", file=path,
                                fix="give .npy files of shape [channels, time] or one-recording .csv files") from None
            if rec.ndim != 2:
                raise DataError(f"shape {rec.shape}, expected [channels, time]", file=path, fix="save one recording per file")
            items.append(rec)
        return items

    # ------------------------------------------------------------------ models
    def load_backbone(self, source: ModelSource | Path, preset: Preset) -> Any:
        from tk_robotics.network import IMU1DNet

        if isinstance(source, ModelSource) and source.kind == "scratch":
            net = IMU1DNet(**source.options.get("arch", {}))
            net.from_scratch = True
            return net
        if isinstance(source, ModelSource):
            import importlib.resources

            file = Path(str(importlib.resources.files(source.location) / source.options["weights"]))
        else:
            file = source if source.suffix == ".safetensors" else source / "imu1d.safetensors"
        return _load_weights(file)

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> Any:
        from tk_robotics.network import IMU1DNet

        if config.get("arch") != "imu1d":
            raise ArtifactError(f"unknown architecture {config.get('arch')!r}", file=folder,
                                fix="this model was not written by tk-robotics")
        return IMU1DNet(channels=int(config["channels"]), widths=tuple(int(w) for w in config["widths"]))

    # ------------------------------------------------------------------ preprocessing
    def validate_preset(self, preset: Preset) -> None:
        super().validate_preset(preset)
        checks = [
            ("preprocess.normalize", preset.preprocess.get("normalize", "recording"), lambda v: v in NORMALISE,
             f"one of {', '.join(NORMALISE)}"),
            ("augment.jitter", preset.augment.get("jitter", 0.0), lambda v: isinstance(v, (int, float))
             and not isinstance(v, bool) and 0 <= v <= 1, "a number from 0 to 1"),
            ("augment.shift", preset.augment.get("shift", 0), lambda v: isinstance(v, int)
             and not isinstance(v, bool) and v >= 0, "a whole number of time steps, 0 or more"),
        ]
        for key, value, ok, allowed in checks:
            if not ok(value):
                raise UsageError(f"{key} = {value!r} is not allowed", file=preset.source or preset.id, field=key,
                                 fix=f"use {allowed}")

    def dataset(self, backbone: Any, items: list[Any], targets: list[int] | None, preset: Preset, *,
                train: bool) -> Any:
        import torch

        from tk_robotics.network import normalise

        channels = getattr(backbone, "channels", None)
        for rec in items[:1]:
            if channels is not None and rec.shape[0] != channels:
                raise DataError(f"recordings have {rec.shape[0]} channels, the backbone expects {channels}",
                                fix="give the channels the model was trained on, in the same order")
        scaled = preset.preprocess.get("normalize", "recording") == "recording"
        jitter = float(preset.augment.get("jitter", 0.0)) if train else 0.0
        shift = int(preset.augment.get("shift", 0)) if train else 0
        labels = targets if targets is not None else [-1] * len(items)

        class _Recordings(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return len(items)

            def __getitem__(self, i: int) -> Any:
                x = torch.as_tensor(items[i], dtype=torch.float32)
                x = normalise(x) if scaled else x
                if shift:
                    x = torch.roll(x, int(torch.randint(-shift, shift + 1, ())), dims=-1)
                if jitter:
                    x = x + jitter * torch.randn_like(x)
                return x, labels[i]

        return _Recordings()


def _load_weights(file: Path) -> Any:
    """The backbone saved by scripts/pretrain.py: safetensors (no code runs), architecture from its metadata."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    from tk_robotics.network import IMU1DNet

    if not file.is_file():
        raise ArtifactError("weights file not found", file=file, fix="run examples/tk-robotics/scripts/pretrain.py")
    with safe_open(str(file), framework="pt") as handle:
        config = json.loads((handle.metadata() or {}).get("config", "{}"))
    if config.get("arch") != "imu1d":
        raise ArtifactError("not an imu1d weights file (no architecture in its metadata)", file=file,
                            fix="use a file written by scripts/pretrain.py")
    net = IMU1DNet(channels=int(config["channels"]), widths=tuple(config["widths"]))
    state = {k: v for k, v in load_file(str(file)).items() if not k.startswith("head.")}
    net.load_state_dict(state)
    return net
