"""The base of Hugging Face backbones: what vision's image models and nlp's encoders share and must agree on.

One rule each for: splitting a model into layer groups (embeddings, each encoder block, final norms),
dropping a pretrained pooler whose weights transfer does not use, choosing the layers LoRA adapts,
silencing transformers' load chatter, and rebuilding a saved architecture without downloading or running
remote code. A domain's wrapper subclasses :class:`HFBackbone` and keeps what differs: its inputs, its
pooling, how it names a block group, and how ``remove_last`` is recorded in its artifact config.

transformers is imported inside the functions: the core imports no deep-learning library at import time
beyond torch, which :mod:`transferkit.core.backbone` needs.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

from transferkit.core.backbone import Backbone, layer_group
from transferkit.errors import UsageError

# Attention projections LoRA adapts when peft has no table entry for a model type: query and value only,
# as in the LoRA paper, under the names BERT/ViT/Swin (query, value), CLIP/Llama-style (q_proj, v_proj),
# DistilBERT (q_lin, v_lin), DeBERTa-v2 (query_proj, value_proj) and T5 (q, v) give them.
LORA_FALLBACK = ("query", "value", "q_proj", "v_proj", "q_lin", "v_lin", "query_proj", "value_proj", "q", "v")


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report and progress bars; transferkit reports what matters itself.

    Example:
        >>> with quiet_transformers():  # doctest: +SKIP
        ...     model = AutoModel.from_pretrained(folder)
    """
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # "weights of the classifier were not used" is exactly what transfer wants
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def lora_target_names(model: nn.Module) -> list[str]:
    """Names of the layers LoRA adapts: peft's table for the model type, else the query/value projections
    found among the model's ``nn.Linear`` layers; ``[]`` when it has none (a CNN).

    Example:
        >>> lora_target_names(AutoModel.from_config(BertConfig()))  # doctest: +SKIP
        ['query', 'value']
    """
    model_type = getattr(getattr(model, "config", None), "model_type", "")
    try:
        from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as mapping
    except ImportError:  # peft missing: core.lora says how to install it when adapters are applied
        mapping = {}
    if model_type in mapping:
        return list(mapping[model_type])
    present = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    return [name for name in LORA_FALLBACK if name in present]


def drop_pooler(model: nn.Module, *, only_if_dense: bool = True) -> bool:
    """Remove ``model.pooler`` (BERT's next-sentence dense+tanh, ViT's) and say whether it was removed.

    Transfer pools the last hidden states itself; a kept dense pooler would hold weights with no gradient,
    outside every layer group. A parameter-free pooler (ResNet's average pool) is kept when
    ``only_if_dense``.
    """
    pooler = getattr(model, "pooler", None)
    if pooler is None or (only_if_dense and not any(isinstance(m, nn.Linear) for m in pooler.modules())):
        return False
    model.pooler = None
    return True


def model_from_config(hf_config: Any, *, where: object = None) -> nn.Module:
    """The architecture of ``hf_config`` (a config object or its dict) with random weights: no download,
    never remote code. Weights are filled afterwards from the artifact's safetensors.

    Example:
        >>> model_from_config({"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1,
        ...                    "num_attention_heads": 2, "intermediate_size": 16}).config.model_type  # doctest: +SKIP
        'bert'
    """
    from transformers import AutoConfig, AutoModel

    if isinstance(hf_config, dict):
        data = dict(hf_config)
        if data.get("auto_map"):
            raise UsageError("the saved model needs remote code, which transferkit never runs", file=where)
        hf_config = AutoConfig.for_model(**data)
    with quiet_transformers():
        return AutoModel.from_config(hf_config, trust_remote_code=False)


# Where encoder blocks live, tried in order before the longest ModuleList: BERT/ViT/DeiT (encoder.layer),
# CLIP/Swin (encoder.layers), ResNet/ConvNeXt (encoder.stages), T5 (encoder.block), timm-style layouts.
BLOCK_PATHS = ("encoder.layer", "encoder.layers", "encoder.stages", "encoder.block", "transformer.layer",
               "stages", "layers", "blocks")
# The module holding the input embeddings (below every block), by the names transformers gives it.
EMBEDDING_ATTRS = ("embeddings", "embedder", "patch_embed", "stem")
# Names of modules that sit above the blocks even when they live inside the encoder (T5's final_layer_norm).
TOP_NAMES = ("final", "ln_f", "norm_out", "pooler", "post_layernorm")


def get_path(module: nn.Module, path: str) -> Any:
    """The sub-module at dotted ``path``, or None. Example: ``get_path(bert, "encoder.layer")``."""
    for part in path.split("."):
        module = getattr(module, part, None)  # type: ignore[assignment]
        if module is None:
            return None
    return module


def has_params(module: nn.Module | None) -> bool:
    """True when ``module`` exists and holds at least one parameter."""
    return module is not None and any(True for _ in module.parameters())


def encoder_blocks(model: nn.Module) -> tuple[str, nn.Module] | tuple[None, None]:
    """``(dotted path, container)`` of the model's stacked encoder blocks, or ``(None, None)``.

    Known paths first (:data:`BLOCK_PATHS`), else the longest ``ModuleList``: no per-architecture table
    to keep up to date for the rest.

    Example:
        >>> encoder_blocks(AutoModel.from_config(BertConfig()))[0]  # doctest: +SKIP
        'encoder.layer'
    """
    for path in BLOCK_PATHS:
        found = get_path(model, path)
        if isinstance(found, (nn.ModuleList, nn.Sequential)) and len(found):
            return path, found
    best: tuple[str, nn.Module] | tuple[None, None] = (None, None)
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) and (best[1] is None or len(module) > len(best[1])):
            best = (name, module)
    return best


def pool_tokens(hidden: Any, mask: Any = None, pooling: str = "cls") -> Any:
    """Reduce ``hidden[batch, tokens, dim]`` to ``[batch, dim]``: the first (CLS) token, or the mean or maximum
    over the tokens where ``mask`` is 1 (every token without a mask). Text and ViT-like image models alike;
    CNN feature maps go through :func:`transferkit.core.cnn_backbone.pool2d`.

    Example:
        >>> import torch
        >>> h = torch.tensor([[[1.0], [3.0], [100.0]]]); m = torch.tensor([[1, 1, 0]])
        >>> pool_tokens(h, m, "mean").tolist(), pool_tokens(h, m, "cls").tolist(), pool_tokens(h, None, "max").tolist()
        ([[2.0]], [[1.0]], [[100.0]])
    """
    import torch

    if pooling == "cls":
        return hidden[:, 0]
    if mask is None:
        mask = torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device)
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling in ("mean", "avg"):
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    if pooling == "max":
        return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).max(1).values
    raise UsageError(f"unknown pooling '{pooling}'", field="head.pooling", fix="use one of cls, mean, max")


class OwnParams(nn.Module):
    """A view on the parameters a module holds itself (not its children), for a layer group."""

    def __init__(self, module: nn.Module):
        super().__init__()
        object.__setattr__(self, "module", module)  # not registered: its children stay in their own groups
        for name, param in module.named_parameters(recurse=False):
            self.register_parameter(name.replace(".", "_"), param)

    def forward(self, *args: Any) -> Any:  # pragma: no cover - a group is never called
        return self.module(*args)


class HFBackbone(Backbone):
    """A ``transformers`` model as a backbone: ``self.model`` is the ``AutoModel`` without its task head.

    Subclasses implement ``forward`` and ``config``; layer groups and LoRA targets come from here.
    A subclass may override :meth:`block_group_name` (vision calls blocks ``block0``..., nlp by their path).
    """

    model: nn.Module

    def lora_targets(self) -> tuple[nn.Module, list[str]] | None:
        names = lora_target_names(self.model)
        return (self.model, names) if names else None

    def hf_config(self) -> dict[str, Any]:
        """The model's full config as JSON-able data (what :func:`model_from_config` rebuilds)."""
        return json.loads(self.model.config.to_json_string(use_diff=False))

    def encoder_blocks(self) -> tuple[str, nn.Module] | tuple[None, None]:
        """The model's encoder blocks (see :func:`encoder_blocks`)."""
        return encoder_blocks(self.model)

    def block_group_name(self, path: str, index: int) -> str:
        """The name of the layer group of block ``index`` found at ``path`` (``encoder.layer.0``)."""
        return f"{path}.{index}"

    def layer_groups(self) -> list[nn.Module]:
        """``embeddings``, one group per encoder block, ``final`` (norms above the blocks), bottom to top.

        Every parameter is in exactly one group: whatever the embeddings and blocks do not hold (a CLIP
        pre-norm, DeBERTa's relative-position embeddings, a final norm, a kept pooler) joins the group on
        its side of the encoder. A module after the blocks but inside the encoder that holds them is
        below them (DeBERTa's relative positions feed every layer) unless its name says otherwise
        (:data:`TOP_NAMES`). A model with no block stack gets one group per top-level child.
        """
        model = self.model
        path, blocks = self.encoder_blocks()
        if blocks is None or path is None:
            return [layer_group(name, child) for name, child in model.named_children() if has_params(child)]
        embeddings = next((getattr(model, a) for a in EMBEDDING_ATTRS if has_params(getattr(model, a, None))), None)
        owners = ([embeddings] if embeddings is not None else []) + list(blocks)
        covered = {id(p) for m in owners for p in m.parameters()}
        order = {id(m): i for i, m in enumerate(model.modules())}
        last_block = max(order[id(m)] for m in blocks.modules())
        parent_path = path.rpartition(".")[0]
        parent_prefix = f"{parent_path}." if parent_path else None
        before: list[nn.Module] = []
        after: list[nn.Module] = []
        for name, module in model.named_modules():
            own = [p for p in module.parameters(recurse=False) if id(p) not in covered]
            if not own:
                continue
            above = order[id(module)] > last_block and (
                parent_prefix is None or not name.startswith(parent_prefix)
                or any(t in name.rsplit(".", 1)[-1] for t in TOP_NAMES)
            )
            (after if above else before).append(module)
            covered.update(id(p) for p in own)
        groups = []
        if embeddings is not None or before:
            groups.append(layer_group("embeddings", *([embeddings] if embeddings is not None else []),
                                      *[OwnParams(m) for m in before]))
        groups += [layer_group(self.block_group_name(path, i), block) for i, block in enumerate(blocks)]
        if after:
            groups.append(layer_group("final", *[OwnParams(m) for m in after]))
        return groups
