"""Per-channel input normalisation of image backbones, on the 0..255 pixel scale.

Part of the backbone contract (:attr:`transferkit.core.backbone.Backbone.normalization`): the backbones
disagree on their input scale (EfficientNet-Lite wants ``(x - 127) / 128`` on raw pixels, Hugging Face
models ``(x / 255 - mean) / std`` with their image processor's mean and std), so each one says which.
No deep-learning import: numpy only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(pixel - mean) / std`` with ``mean`` and ``std`` on the 0..255 scale.

    Example:
        >>> Normalization.efficientnet().apply(np.full((3, 1, 1), 127.0, np.float32)).ravel().tolist()
        [0.0, 0.0, 0.0]
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def efficientnet(cls) -> "Normalization":
        """EfficientNet-Lite's TFLite convention: ``(x - 127) / 128`` on raw pixels."""
        return cls((127.0, 127.0, 127.0), (128.0, 128.0, 128.0))

    @classmethod
    def from_unit(cls, mean: Any, std: Any) -> "Normalization":
        """From mean/std on the 0..1 scale (torchvision and Hugging Face image processors use it)."""
        mean, std = [float(m) for m in mean], [float(s) for s in std]
        if len(mean) == 1:
            mean, std = mean * 3, std * 3
        return cls(tuple(255.0 * m for m in mean), tuple(255.0 * s for s in std))  # type: ignore[arg-type]

    @classmethod
    def imagenet(cls) -> "Normalization":
        return cls.from_unit(IMAGENET_MEAN, IMAGENET_STD)

    @classmethod
    def from_processor_config(cls, folder: Path) -> "Normalization":
        """The mean/std of a Hugging Face folder's ``preprocessor_config.json``; ImageNet's when absent."""
        path = Path(folder) / "preprocessor_config.json"
        if not path.is_file():
            return cls.imagenet()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls.imagenet()
        if not data.get("do_normalize", True):
            return cls((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))
        if "image_mean" in data and "image_std" in data:
            return cls.from_unit(data["image_mean"], data["image_std"])
        return cls.imagenet()

    def as_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Normalization":
        return cls(tuple(data["mean"]), tuple(data["std"]))  # type: ignore[arg-type]

    def apply(self, chw: np.ndarray) -> np.ndarray:
        mean = np.asarray(self.mean, np.float32).reshape(3, 1, 1)
        std = np.asarray(self.std, np.float32).reshape(3, 1, 1)
        return ((chw - mean) / std).astype(np.float32, copy=False)
