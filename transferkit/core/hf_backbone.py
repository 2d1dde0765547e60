"""The base of Hugging Face backbones: what vision's image models and nlp's encoders share and must agree on.

One rule each for: dropping a pretrained pooler whose weights transfer does not use, choosing the layers
LoRA adapts, silencing transformers' load chatter, and rebuilding a saved architecture without
downloading or running remote code. A domain's wrapper subclasses :class:`HFBackbone` and keeps what
differs: its inputs, its pooling, and how it finds its encoder blocks for :meth:`Backbone.layer_groups`.

transformers is imported inside the functions: the core imports no deep-learning library at import time
beyond torch, which :mod:`transferkit.core.backbone` needs.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

from transferkit.core.backbone import Backbone
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


class HFBackbone(Backbone):
    """A ``transformers`` model as a backbone: ``self.model`` is the ``AutoModel`` without its task head.

    Subclasses implement ``forward``, ``layer_groups`` and ``config``; LoRA targets come from here.
    """

    model: nn.Module

    def lora_targets(self) -> tuple[nn.Module, list[str]] | None:
        names = lora_target_names(self.model)
        return (self.model, names) if names else None

    def hf_config(self) -> dict[str, Any]:
        """The model's full config as JSON-able data (what :func:`model_from_config` rebuilds)."""
        return json.loads(self.model.config.to_json_string(use_diff=False))
