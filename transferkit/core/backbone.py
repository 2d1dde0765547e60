"""The backbone contract: a pretrained network that turns inputs into a feature vector.

Domains subclass :class:`Backbone`; the core freezes, unfreezes and assigns learning rates through
``layer_groups()`` alone, which is what lets one strategy vocabulary serve CNNs, transformers and 3D nets.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from transferkit.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.normalization import Normalization

# The attributes of the contract a domain may read, with their defaults (docs/plugins.md documents each).
CONTRACT_ATTRIBUTES = ("feature_dim", "source_id", "from_scratch", "lora", "default_resolution", "normalization",
                       "spatial_dims", "in_channels", "expands_grey", "default_image_size", "input_scale",
                       "input_mean", "input_std")


class Backbone(nn.Module):
    """A feature extractor: ``forward(inputs) -> Tensor[batch, feature_dim]``.

    Subclasses set ``feature_dim`` and implement :meth:`layer_groups` and :meth:`config`.

    The class attributes below are the whole contract between a backbone and the domains: a domain
    reads these and nothing else (``backbone.spatial_dims``, never ``getattr(backbone, ..., default)``),
    so a plugin's backbone that leaves one alone gets the documented default. Set them as class
    attributes or in ``__init__``; docs/plugins.md lists them with an example each.
    """

    # ---------------------------------------------------------------- every backbone
    feature_dim: int
    """Size of the feature vector ``forward`` returns (required; set it in ``__init__``)."""
    source_id: str = ""
    """The catalog id or path the weights came from; saved in the artifact."""
    from_scratch: bool = False
    """True for a randomly initialised network (a baseline): ``configure`` then trains its BatchNorm statistics."""
    lora: dict[str, Any] | None = None
    """Set by :func:`transferkit.core.lora.apply_lora`: ``r``, ``alpha``, ``dropout``, ``targets``; None without adapters."""

    # ---------------------------------------------------------------- 2D images (vision)
    default_resolution: int = 224
    """Side in pixels of the square image the network was trained on; ``preprocess.resolution`` defaults to it."""
    normalization: "Normalization | None" = None
    """Per-channel mean/std on the 0..255 scale (:class:`~transferkit.core.normalization.Normalization`);
    None: the domain's default (ImageNet's for vision)."""

    # ---------------------------------------------------------------- images and volumes (medical)
    spatial_dims: int = 2
    """Spatial axes of one input: 2 for images, 3 for volumes (CT, MRI)."""
    in_channels: int = 3
    """Channels ``forward`` takes: 1 for grey networks, 3 for ImageNet ones."""
    expands_grey: bool = False
    """True when ``forward`` replicates a one-channel input to ``in_channels`` itself (the dataset then keeps
    grey images grey, a third of the memory)."""
    default_image_size: list[int] | None = None
    """Input size in voxels/pixels per axis (``[224]`` means 224 on every axis); None: the domain's default."""
    input_scale: float = 1.0
    """Intensities are mapped to 0..1, then fed as ``(x * input_scale - input_mean) / input_std``."""
    input_mean: Sequence[float] = (0.0,)
    """Per-channel (or one shared) mean of that formula, on the ``input_scale`` scale."""
    input_std: Sequence[float] = (1.0,)
    """Per-channel (or one shared) standard deviation of that formula, on the ``input_scale`` scale."""

    def layer_groups(self) -> list[nn.Module]:
        """The backbone's layers in order, bottom (input side) to top, each a module.

        Every parameter of the backbone belongs to exactly one group. ``gradual`` unfreezes them from
        the top; layer-wise learning-rate decay gives group ``i`` from the top ``lr * decay**i``.
        """
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-able description that ``Domain.rebuild_backbone`` uses to rebuild this architecture."""
        raise NotImplementedError

    def truncate(self, n: int) -> None:
        """Remove the last ``n`` layer groups (``remove_last``) and update ``feature_dim``."""
        if n:
            raise UsageError(
                f"remove_last={n} is not supported by backbone {type(self).__name__}",
                fix="use remove_last=0 (the task-specific classifier is always removed)",
            )

    def lora_targets(self) -> "tuple[nn.Module, list[str]] | None":
        """Where the ``lora`` strategy may add adapters: ``(sub-network, names of its nn.Linear layers)``.

        ``None`` (the default) means the backbone has no attention layers and the strategy is refused.
        A backbone only declares this; :mod:`transferkit.core.lora` is what applies the adapters.
        """
        return None

    def apply_lora(self, r: int, alpha: int, dropout: float) -> None:
        """Add low-rank adapters (the ``lora`` strategy) where :meth:`lora_targets` says; see
        :func:`transferkit.core.lora.apply_lora`. ``configure`` and ``load`` call it; a domain's
        ``rebuild_backbone`` never does (the core re-applies adapters from the saved plan)."""
        from transferkit.core.lora import apply_lora

        apply_lora(self, r, alpha, dropout)

    def lora_parameters(self) -> list[nn.Parameter]:
        """The adapter parameters after :meth:`apply_lora` (trained; everything else stays frozen)."""
        from transferkit.core.lora import lora_parameters

        return lora_parameters(self)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters of ``module``.

    Example:
        >>> count_parameters(torch.nn.Linear(3, 2))
        8
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def layer_group(name: str, *modules: nn.Module) -> nn.Module:
    """Bundle ``modules`` into one named layer group for :meth:`Backbone.layer_groups`.

    The returned container is *not* assigned as an attribute of the backbone, so parameters are not
    registered twice and state-dict keys stay those of the original network.

    Example:
        >>> g = layer_group("stem", torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
        >>> g._tk_name, count_parameters(g)
        ('stem', 240)
    """
    group = nn.ModuleList(modules)
    group._tk_name = name  # type: ignore[assignment]
    return group
