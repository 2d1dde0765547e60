"""The configured model: a pretrained backbone, the new head, the labels, and the transfer plan."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transferkit.core.backbone import Backbone
from transferkit.core.specs import HeadConfig

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def build_head(in_features: int, n_classes: int, config: HeadConfig) -> nn.Sequential:
    """The new layers: optional hidden layers, dropout, and a fresh linear classifier.

    Built from the class count, so a different number of classes can never produce a weight-shape error.

    Example:
        >>> build_head(16, 3, HeadConfig(hidden=[8], dropout=0.1))
        Sequential(
          (0): Dropout(p=0.1, inplace=False)
          (1): Linear(in_features=16, out_features=8, bias=True)
          (2): GELU(approximate='none')
          (3): Dropout(p=0.1, inplace=False)
          (4): Linear(in_features=8, out_features=3, bias=True)
        )
    """
    layers: list[nn.Module] = []
    width = in_features
    for hidden in config.hidden:
        if config.dropout:
            layers.append(nn.Dropout(config.dropout))
        layers += [nn.Linear(width, hidden), _ACTIVATIONS[config.activation]()]
        width = hidden
    if config.dropout:
        layers.append(nn.Dropout(config.dropout))
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


class TransferModel(nn.Module):
    """Backbone + head, with the labels and the plan that produced it.

    ``forward(inputs)`` returns logits. ``frozen_bn`` keeps BatchNorm layers of the backbone in
    inference mode during training (Keras semantics; transformers#24479 shows what happens otherwise):
    on small data, batch statistics of a few images are worse than ImageNet's running statistics.
    """

    def __init__(self, backbone: Backbone, head: nn.Sequential, labels: list[str], *, frozen_bn: bool = True):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.labels = list(labels)
        self.frozen_bn = frozen_bn
        self.plan: Any = None  # a transferkit.core.configure.TransferPlan, set by configure()
        self.domain: Any = None  # the Domain implementation that reads and preprocesses its inputs
        self.preset: Any = None  # the resolved Preset
        self.threshold: float | None = None  # binary decision threshold chosen on validation data
        self.positive: int | None = None  # index of the positive label when a threshold is set
        self.meta: dict[str, Any] = {}  # transferkit.json of the artifact it was loaded from

    def predict(self, items: list[Any], batch_size: int | None = None) -> list[dict[str, Any]]:
        """Label each item: ``[{"input", "label", "scores": {label: probability}}]``, in order.

        Example:
            >>> tk.load("models/ants-bees").predict(["ant.jpg"])[0]["label"]  # doctest: +SKIP
            'ants'
        """
        from transferkit.core.evaluate import predict

        return predict(self, items, batch_size=batch_size)

    def predict_proba(self, items: list[Any], batch_size: int | None = None) -> Any:
        """Class probabilities, a numpy array of shape ``(len(items), len(labels))``."""
        from transferkit.core.evaluate import predict_proba

        return predict_proba(self, items, batch_size=batch_size)

    def forward(self, inputs: Any) -> torch.Tensor:
        return self.head(self.backbone(inputs))

    def train(self, mode: bool = True) -> "TransferModel":
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    frozen = not any(p.requires_grad for p in module.parameters(recurse=False))
                    if self.frozen_bn or frozen:
                        module.eval()
        return self
