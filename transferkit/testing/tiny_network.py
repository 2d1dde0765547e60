"""The tiny backbone's class (imports torch: loaded only when a tiny backbone is built)."""
from __future__ import annotations

from typing import Any

from torch import nn

from transferkit.core.backbone import Backbone, layer_group
from transferkit.testing.tiny import TINY_DIM


class TinyBackbone(Backbone):
    """Three blocks, bottom to top; ``forward(x[batch, 8]) -> [batch, hidden]``."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.hidden = hidden
        self.block1 = nn.Sequential(nn.Linear(TINY_DIM, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.block2 = nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.block3 = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU())
        self.feature_dim = hidden

    def forward(self, x: Any) -> Any:
        return self.block3(self.block2(self.block1(x)))

    def layer_groups(self) -> list[nn.Module]:
        return [layer_group("block1", self.block1), layer_group("block2", self.block2),
                layer_group("block3", self.block3)]

    def config(self) -> dict[str, Any]:
        return {"arch": "tiny-mlp", "hidden": self.hidden}
