"""The preset schema: pydantic models for a preset and its tables (head, train, threshold).

Kept apart from :mod:`transferkit.core.specs` because importing pydantic and building these models costs
about 0.15 s: only the commands that read or validate a preset (``presets``, ``train``, ``select``...) pay it,
never ``transferkit domains`` or ``--help``. ``from transferkit.core.specs import Preset`` still works (lazily).

Example:
    >>> Preset(id="vision/wildlife", domain="vision", description="camera traps").train.epochs
    10
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from transferkit.core.specs import Metric, Strategy


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeadConfig(_Schema):
    """The new layers put on top of the backbone."""

    hidden: list[int] = Field(default_factory=list, description="sizes of hidden layers; [] is a linear head")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: Literal["relu", "gelu", "tanh"] = "gelu"
    pooling: Literal["auto", "cls", "mean", "avg", "max"] = "auto"


class TrainConfig(_Schema):
    """Hyperparameters: every one can be overridden from the API or the CLI."""

    lr: float = Field(1e-3, gt=0, description="learning rate of the head")
    backbone_lr: float | None = Field(None, gt=0, description="learning rate of the top backbone group")
    layer_decay: float = Field(1.0, gt=0, le=1.0, description="LR multiplier per backbone group, top to bottom")
    weight_decay: float = Field(1e-4, ge=0)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    class_weights: Literal["none", "balanced"] = "none"
    metric: Metric = "accuracy"
    patience: int = Field(5, ge=0, description="epochs without improvement before early stopping; 0 disables")
    unfreeze_epoch: int = Field(2, ge=0, description="freeze-unfreeze: epoch at which the backbone unfreezes")
    milestones: list[int] = Field(default_factory=lambda: [2, 4], description="gradual: epochs to unfreeze at")
    groups_per_milestone: int = Field(1, ge=1)
    warmup_epochs: int = Field(0, ge=0)
    train_bn: bool = Field(False, description="update BatchNorm statistics in trainable backbone layers")
    val_fraction: float = Field(0.2, gt=0, lt=1)
    precision: str = Field("auto", description="Lightning precision; auto: bf16/16-mixed on GPU, 32-true on CPU")
    lora_r: int = Field(8, ge=1)
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.1, ge=0, lt=1)
    pair_iterations: int = Field(20, ge=1, description="contrastive: rounds of sentence pairs per training "
                                 "example (SetFit's num_iterations)")
    seed: int = 0


class ThresholdPolicy(_Schema):
    """How a binary decision threshold is chosen on validation data.

    ``argmax`` takes the most probable class. ``max_fpr`` keeps the false-positive rate on the negative
    class under ``value``; ``min_sensitivity`` keeps recall of the positive class at least ``value``;
    ``min_precision`` keeps precision of the positive class at least ``value``.
    """

    policy: Literal["argmax", "max_fpr", "min_sensitivity", "min_precision"] = "argmax"
    value: float | None = Field(None, gt=0, le=1)
    positive: str | None = Field(None, description="the positive label; defaults to the last label")


class Preset(_Schema):
    """An industry fine-tuning preset: data, not code. Loaded from TOML (see core/presets.py).

    Example:
        >>> Preset(id="vision/wildlife", domain="vision", description="camera traps").strategy
        'auto'
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*/[a-z0-9][a-z0-9_.-]*$")
    version: str = "1"
    domain: str
    description: str
    industry: str = ""
    extends: str | None = None
    model: str | None = None
    strategy: Strategy = "auto"
    head: HeadConfig = Field(default_factory=HeadConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    preprocess: dict[str, Any] = Field(default_factory=dict, description="domain-specific, checked by the domain")
    augment: dict[str, Any] = Field(default_factory=dict, description="domain-specific; {} means none")
    threshold: ThresholdPolicy = Field(default_factory=ThresholdPolicy)
    source: str = Field("", description="where it came from: a plugin's file or a user's file")
    plugin: str = ""
