"""The tiny domain as a plugin: ``.npz`` vectors in, the tiny backbone, one preset.

It is what :func:`transferkit.testing.isolated_registry` loads when a test needs a working domain but not
a real one (a presets test, a CLI test); it registers through the same hooks as every plugin.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from transferkit import hookimpl
from transferkit.core.data import Examples
from transferkit.core.domain import Domain
from transferkit.core.specs import DomainSpec, ModelSource, Preset
from transferkit.errors import DataError

TRANSFERKIT_HOOK_API = 1


class TinyDomain(Domain):
    """Reads ``.npz`` files with ``x`` (vectors) and ``y`` (labels); predicts ``.npy`` vectors."""

    preprocess_keys = {"scale": "multiply inputs by this"}
    augment_keys = {"noise": "standard deviation of Gaussian noise added at train time"}

    def read(self, path: Any, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        try:
            with np.load(path) as data:
                x, y = data["x"].astype(np.float32), data["y"]
        except (OSError, ValueError, KeyError) as err:
            raise DataError(f"cannot read vectors: {err}", file=path, fix="give an .npz with arrays x and y") from None
        return Examples(items=list(x), labels=[str(v) for v in y], source=str(path))

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        return [np.load(path).astype(np.float32) for path in raw]

    def load_backbone(self, source: Any, preset: Preset) -> Any:
        from transferkit.testing.tiny import tiny_backbone

        return tiny_backbone(hidden=int(source.options.get("hidden", 16)) if isinstance(source, ModelSource) else 16)

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> Any:
        from transferkit.testing.tiny_network import TinyBackbone

        return TinyBackbone(hidden=int(config["hidden"]))

    def dataset(self, backbone: Any, items: list[Any], targets: list[int] | None, preset: Preset, *,
                train: bool) -> Any:
        import torch

        scale = float(preset.preprocess.get("scale", 1.0))
        noise = float(preset.augment.get("noise", 0.0)) if train else 0.0
        labels = targets if targets is not None else [-1] * len(items)
        x = torch.as_tensor(np.stack(items)) * scale if items else torch.zeros(0)

        class _Vectors(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return len(items)

            def __getitem__(self, i: int) -> Any:
                return (x[i] + noise * torch.randn_like(x[i]) if noise else x[i]), labels[i]

        return _Vectors()


@hookimpl
def register_domains(register: Any) -> None:
    register(DomainSpec(name="tiny", description="vectors, for tests", factory="transferkit.testing.tiny_plugin:TinyDomain",
                        default_model="tiny/mlp.seeded", default_preset="tiny/default", requires=["torch"],
                        data_help="an .npz with arrays x (vectors of length 8) and y (labels)"))


@hookimpl
def register_models(register: Any) -> None:
    register(ModelSource(id="tiny/mlp.seeded", domain="tiny", description="a seeded 3-block MLP",
                         kind="scratch", location="-", feature_dim=16))


@hookimpl
def register_presets(register: Any) -> None:
    register(Preset(id="tiny/default", domain="tiny", description="a few quick epochs",
                    train={"epochs": 3, "batch_size": 16, "lr": 0.01, "patience": 0}))
