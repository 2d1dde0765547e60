"""A Hugging Face encoder (``AutoModel``) as a transferkit backbone: token ids in, one vector per text out.

Layer groups are the embeddings and each encoder layer (plus a final norm where a model has one), so
freezing, gradual unfreezing and layer-wise learning-rate decay work per transformer layer. The
pretrained pooler (BERT's next-sentence-prediction dense+tanh) is removed: pooling is CLS or mean over
the last hidden states, and the head transferkit adds does the rest. Layer groups, the pooler rule, LoRA
targets and rebuilding are shared with vision's image models (:mod:`transferkit.core.hf_backbone`); the
core applies LoRA adapters (:mod:`transferkit.core.lora`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from transferkit.core.hf_backbone import HFBackbone, drop_pooler
from transferkit.core.hf_backbone import pool_tokens as pool
from transferkit.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

POOLINGS = ("cls", "mean", "max")


def _encoder_layers(backbone: HFBackbone) -> nn.Module:
    _, layers = backbone.encoder_blocks()
    if layers is None:
        raise UsageError(f"cannot find the encoder layers of {type(backbone.model).__name__}",
                         fix="use a BERT-like encoder")
    return layers


class TextBackbone(HFBackbone):
    """A transformer encoder with its tokenizer, pooled to one feature vector per text.

    Args:
        model: the encoder, as ``AutoModel`` returns it (its pooler is removed here).
        tokenizer: the matching tokenizer (saved with the artifact, not a module).
        pooling: ``"cls"``, ``"mean"`` or ``"max"``.
        max_length: default number of tokens per text (the preset's ``preprocess.max_length`` overrides it).
        model_limit: the most tokens the position embeddings allow.
        normalize: scale each sentence vector to unit length (sentence-transformers' ``Normalize`` module).
            The contrastive strategy turns it on: its cosine-similarity pairs train the vector's direction,
            not its length, and SetFit's head reads the unit vectors.

    Example:
        >>> backbone = TextBackbone(AutoModel.from_config(cfg), tokenizer, pooling="mean")  # doctest: +SKIP
        >>> backbone({"input_ids": ids, "attention_mask": mask}).shape  # doctest: +SKIP
        torch.Size([2, 32])
    """

    def __init__(
        self,
        model: "PreTrainedModel",
        tokenizer: "PreTrainedTokenizerBase",
        *,
        pooling: str = "cls",
        max_length: int | None = None,
        model_limit: int | None = None,
        normalize: bool = False,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise UsageError(f"unknown pooling '{pooling}'", field="head.pooling", fix=f"use one of {POOLINGS}")
        drop_pooler(model, only_if_dense=False)  # unused by CLS/mean pooling: weights with no gradient
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.model_limit = model_limit or model_token_limit(model, tokenizer)
        self.max_length = min(max_length or self.model_limit, self.model_limit)
        self.feature_dim = int(model.config.hidden_size)
        self.normalize = normalize
        # from_pretrained returns the encoder in eval mode; a backbone starts in training mode like any
        # new module, and train() then puts the layers that stay frozen back into inference mode.
        self.model.train()

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = inputs["attention_mask"]
        hidden = self.model(input_ids=inputs["input_ids"], attention_mask=mask).last_hidden_state
        pooled = pool(hidden, mask, self.pooling)
        return nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def train(self, mode: bool = True) -> "TextBackbone":
        # A frozen layer runs in inference mode (Keras' rule for frozen layers): dropout in layers that
        # do not learn only adds noise to the features the head sees.
        super().train(mode)
        if mode:
            groups = self.layer_groups()
            frozen = [g for g in groups if not any(p.requires_grad for p in g.parameters())]
            if len(frozen) == len(groups):
                self.model.eval()
            for group in frozen:
                group.eval()
        return self

    def truncate(self, n: int) -> None:
        """Remove the top ``n`` encoder layers (``remove_last``): features then come from a lower layer.

        The encoder config is updated too, so an artifact is rebuilt with the shorter encoder and the
        state-dict keys match; ``feature_dim`` does not change.
        """
        if not n:
            return
        layers = _encoder_layers(self)
        if n >= len(layers):
            raise UsageError(
                f"remove_last={n} would remove all {len(layers)} encoder layers",
                fix=f"use remove_last between 0 and {len(layers) - 1}",
            )
        del layers[len(layers) - n :]
        self.model.config.num_hidden_layers = len(layers)

    # ------------------------------------------------------------------ artifact
    def config(self) -> dict[str, Any]:
        """What :meth:`NLPDomain.rebuild_backbone` needs: the encoder config, pooling and token limits."""
        return {
            "architecture": "hf-auto-model",
            "hf_config": self.hf_config(),
            "pooling": self.pooling,
            "max_length": self.max_length,
            "model_limit": self.model_limit,
            "normalize": self.normalize,
            "tokenizer": "tokenizer",
        }


def model_token_limit(model: nn.Module, tokenizer: Any) -> int:
    """The most tokens one text may have: the position embeddings' size, or the tokenizer's limit.

    RoBERTa-style models number positions from ``pad_token_id + 1``, so two of their 514 positions are
    not usable (the tokenizer says 512; a model folder without a tokenizer limit would otherwise crash).
    """
    config = model.config
    limit = getattr(config, "max_position_embeddings", None) or 512
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "longformer", "mpnet"):
        limit -= (getattr(config, "pad_token_id", 1) or 1) + 1
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
        limit = min(limit, tok_limit)
    return int(limit)
