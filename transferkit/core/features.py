"""Feature cache for frozen backbones.

When the backbone is frozen and there is no random augmentation, each example's backbone output is
computed once and the head trains on those features: training a head for many epochs then costs about
one forward pass over the data, which is the floor every speed figure is measured against.
The cache is a safetensors file under the run folder keyed by backbone, preprocessing and data.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.core.data import Examples

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from transferkit.core.model import TransferModel


def cache_key(model: "TransferModel", examples: Examples) -> str:
    """Hash of what determines the features: backbone, its config, preprocessing and the data."""
    payload = {
        "backbone": model.backbone.source_id,
        "config": model.backbone.config(),
        "preprocess": model.preset.preprocess,
        "remove_last": model.plan.remove_last if model.plan else 0,
        "data": examples.fingerprint(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def extract_features(model: "TransferModel", items: list[Any], batch_size: int) -> "torch.Tensor":
    """Run the frozen backbone once over ``items`` (deterministic preprocessing, inference mode)."""
    import torch

    from transferkit.core.evaluate import batches

    model.eval()
    chunks = []
    with torch.inference_mode():
        for inputs, _ in batches(model, items, batch_size):
            chunks.append(model.backbone(inputs).float().cpu())
    return torch.cat(chunks) if chunks else torch.zeros((0, model.backbone.feature_dim))


def cached_features(
    model: "TransferModel", examples: Examples, batch_size: int, cache_dir: Path | None
) -> "torch.Tensor":
    """Features of ``examples``, read from ``cache_dir`` when computed before, else computed and stored."""
    from safetensors.torch import load_file, save_file

    if cache_dir is None:
        return extract_features(model, examples.items, batch_size)
    path = Path(cache_dir) / f"features-{cache_key(model, examples)}.safetensors"
    if path.is_file():
        return load_file(str(path))["features"]
    features = extract_features(model, examples.items, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({"features": features.contiguous()}, str(tmp))
    tmp.replace(path)
    return features
