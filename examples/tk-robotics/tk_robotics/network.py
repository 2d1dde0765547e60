"""The backbone: a small 1D CNN over multichannel sensor recordings (imports torch)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transferkit.core.backbone import Backbone, layer_group


def _block(c_in: int, c_out: int, kernel: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                               nn.BatchNorm1d(c_out), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool1d(2))
    return nn.Sequential(*layers)


class IMU1DNet(Backbone):
    """Three convolution blocks, then average and max pooling over time, concatenated.

    ``forward(x[batch, channels, time]) -> [batch, 2 * widths[-1]]``. Max pooling keeps short events (an
    impact lasts a few samples), average pooling the sustained ones (a payload, friction).
    """

    def __init__(self, channels: int = 4, widths: tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        self.channels, self.widths = channels, tuple(widths)
        self.stem = _block(channels, widths[0], 7, pool=True)
        self.block1 = _block(widths[0], widths[1], 5, pool=True)
        self.block2 = _block(widths[1], widths[2], 5, pool=False)
        self.feature_dim = 2 * widths[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block2(self.block1(self.stem(x)))
        return torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=-1)

    def layer_groups(self) -> list[nn.Module]:
        return [layer_group("stem", self.stem), layer_group("block1", self.block1),
                layer_group("block2", self.block2)]

    def config(self) -> dict[str, Any]:
        return {"arch": "imu1d", "channels": self.channels, "widths": list(self.widths)}


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Standardise each channel of each recording: arms differ in scale, not in what the shapes mean."""
    return (x - x.mean(dim=-1, keepdim=True)) / (x.std(dim=-1, keepdim=True) + 1e-6)
