"""A tiny domain built for the tests: vectors in, a small MLP with BatchNorm as the "pretrained" backbone.

It exercises the whole protocol (select, configure, train, evaluate, save, load) in seconds, without
real weights, and is registered through the same hooks as every plugin.
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

TOY_DIM = 8


def make_blobs(n_per_class: int, classes: tuple[str, ...] = ("a", "b"), seed: int = 0, noise: float = 0.6) -> Examples:
    """Gaussian blobs, one per class, well separated: a task any working trainer learns."""
    rng = np.random.default_rng(seed)
    centers = {c: rng.normal(0, 2.0, TOY_DIM) for c in classes}
    items, labels = [], []
    for c in classes:
        for _ in range(n_per_class):
            items.append((centers[c] + rng.normal(0, noise, TOY_DIM)).astype(np.float32))
            labels.append(c)
    return Examples(items=items, labels=labels, source=f"blobs(seed={seed})")


def write_blobs(path: Path, examples: Examples) -> Path:
    np.savez(path, x=np.stack(examples.items), y=np.array(examples.labels))
    return path


class ToyDomain(Domain):
    preprocess_keys = {"scale": "multiply inputs by this"}
    augment_keys = {"noise": "gaussian noise added at train time"}

    def read(self, path: Any, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        try:
            data = np.load(path)
        except Exception as err:
            raise DataError(f"cannot read: {err}", file=path, fix="give an .npz with x and y") from None
        return Examples(items=list(data["x"].astype(np.float32)), labels=[str(v) for v in data["y"]],
                        source=str(path))

    def load_backbone(self, source: Any, preset: Preset) -> Any:
        import torch

        # The seed first: the "pretrained" weights are the same whatever ran before (a fixed checkpoint).
        torch.manual_seed(0)
        return ToyBackbone()

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        """``transferkit predict`` inputs: .npy files, each one vector."""
        return [np.load(path).astype(np.float32) for path in raw]

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> Any:
        return ToyBackbone(hidden=config["hidden"])

    def dataset(self, backbone: Any, items: list[Any], targets: list[int] | None, preset: Preset, *, train: bool) -> Any:
        import torch

        scale = float(preset.preprocess.get("scale", 1.0))
        noise = float(preset.augment.get("noise", 0.0)) if train else 0.0
        targets = targets if targets is not None else [-1] * len(items)

        class _Set(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return len(items)

            def __getitem__(self, i: int) -> Any:
                x = torch.as_tensor(items[i]) * scale
                if noise:
                    x = x + noise * torch.randn_like(x)
                return x, targets[i]

        return _Set()


def _backbone_class() -> Any:
    from torch import nn

    from transferkit.core.backbone import Backbone, layer_group

    class _ToyBackbone(Backbone):
        def __init__(self, hidden: int = 16):
            super().__init__()
            self.hidden = hidden
            self.block1 = nn.Sequential(nn.Linear(TOY_DIM, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
            self.block2 = nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
            self.block3 = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU())
            self.feature_dim = hidden

        def forward(self, x: Any) -> Any:
            return self.block3(self.block2(self.block1(x)))

        def layer_groups(self) -> list[Any]:
            return [layer_group("block1", self.block1), layer_group("block2", self.block2),
                    layer_group("block3", self.block3)]

        def config(self) -> dict[str, Any]:
            return {"arch": "toy-mlp", "hidden": self.hidden}

    return _ToyBackbone


def ToyBackbone(hidden: int = 16) -> Any:  # noqa: N802 - a factory that looks like the class it builds
    return _backbone_class()(hidden)


@hookimpl
def register_domains(register: Any) -> None:
    register(DomainSpec(name="toy", description="vectors for tests", factory="toy_plugin:ToyDomain",
                        default_model="toy/mlp.random", default_preset="toy/default", requires=["torch"]))


@hookimpl
def register_models(register: Any) -> None:
    register(ModelSource(id="toy/mlp.random", domain="toy", description="a random MLP", kind="scratch",
                         location="-"))


@hookimpl
def register_presets(register: Any) -> None:
    register(Preset(id="toy/default", domain="toy", description="defaults for tests",
                    train={"epochs": 3, "batch_size": 16, "lr": 0.01, "patience": 0}))
    register(Preset(id="toy/child", domain="toy", description="inherits", extends="toy/default",
                    train={"epochs": 2}, augment={"noise": 0.1}))
