"""Low-rank adapters (LoRA, via peft): the one place that adds, lists and merges them.

A backbone only says where adapters may go (:meth:`Backbone.lora_targets`); ``configure`` applies them
for the ``lora`` strategy and ``load`` re-applies them from the saved plan. Domains never apply them
when they rebuild a backbone, so an artifact gets its adapters exactly once.

Adapters are injected in place (``peft.inject_adapter_in_model``): the state-dict keys are the same
every time they are applied, which is what lets ``load`` fill them from ``model.safetensors``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transferkit.errors import MissingDependencyError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from transferkit.core.backbone import Backbone


def _peft() -> Any:
    try:
        import peft
    except ImportError:
        raise MissingDependencyError("the 'lora' strategy needs the peft package, which is not installed",
                                     fix="pip install 'transferkit[lora]'") from None
    return peft


def apply_lora(backbone: "Backbone", r: int, alpha: int, dropout: float) -> dict[str, Any]:
    """Inject adapters of rank ``r`` into the layers ``backbone.lora_targets()`` names; return the record.

    The record (``r``, ``alpha``, ``dropout``, ``targets``) is kept as ``backbone.lora``.

    Example:
        >>> apply_lora(text_backbone, r=8, alpha=16, dropout=0.1)["targets"]  # doctest: +SKIP
        ['query', 'value']
    """
    if backbone.lora:
        raise UsageError(f"LoRA adapters are already applied to this {type(backbone).__name__}",
                         fix="apply them once (configure does it for the 'lora' strategy)")
    where = backbone.lora_targets()
    if where is None or not where[1]:
        model_type = getattr(getattr(getattr(backbone, "model", None), "config", None), "model_type", None)
        what = f"this '{model_type}' model" if isinstance(model_type, str) else type(backbone).__name__
        raise UsageError(
            f"the 'lora' strategy needs a transformer backbone with attention layers; {what} has none",
            field="strategy",
            fix="use a transformer (e.g. a ViT or a BERT-like encoder), or another strategy: linear-probe, freeze, "
            "freeze-unfreeze, gradual or full",
        )
    module, targets = where
    peft = _peft()
    config = peft.LoraConfig(r=int(r), lora_alpha=int(alpha), lora_dropout=float(dropout),
                             target_modules=list(targets), bias="none")
    peft.inject_adapter_in_model(config, module)
    backbone.lora = {"r": int(r), "alpha": int(alpha), "dropout": float(dropout), "targets": list(targets)}
    return backbone.lora


def lora_parameters(module: "nn.Module") -> list["nn.Parameter"]:
    """The adapter parameters inside ``module`` (what the ``lora`` strategy trains)."""
    return [p for name, p in module.named_parameters() if "lora_" in name]


def merge_lora(backbone: "Backbone") -> bool:
    """Fold trained adapters into the weights they adapt and remove them; False when there were none.

    A LoRA artifact used as the starting point of a new transfer becomes a plain backbone this way, so
    the next strategy (``full``, or ``lora`` with fresh adapters) starts from what the adapters learned.
    """
    if not backbone.lora:
        return False
    from peft.tuners.tuners_utils import BaseTunerLayer

    for name, layer in list(backbone.named_modules()):
        if isinstance(layer, BaseTunerLayer):
            layer.merge()
            parent_name, _, child = name.rpartition(".")
            parent = backbone.get_submodule(parent_name) if parent_name else backbone
            setattr(parent, child, layer.get_base_layer())
    backbone.lora = None
    return True
