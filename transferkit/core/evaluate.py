"""Batched inference and evaluation. Plain torch: no training engine is started (Lightning is slow to import)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transferkit.core.data import Examples
from transferkit.core.metrics import classification_metrics
from transferkit.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.model import TransferModel

DEFAULT_BATCH = 64


def _device_of(model: "TransferModel") -> Any:
    for param in model.parameters():
        return param.device
    import torch

    return torch.device("cpu")


def _to_device(batch: Any, device: Any) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def batches(model: "TransferModel", items: list[Any], batch_size: int | None = None, train: bool = False) -> Any:
    """Iterate ``(inputs, targets)`` batches of ``items`` through the model's domain preprocessing."""
    from torch.utils.data import DataLoader

    dataset = model.domain.dataset(model.backbone, items, None, model.preset, train=train)
    loader = DataLoader(
        dataset,
        batch_size=batch_size or DEFAULT_BATCH,
        shuffle=False,
        collate_fn=model.domain.collate,
    )
    device = _device_of(model)
    for inputs, targets in loader:
        yield _to_device(inputs, device), targets


def predict_proba(model: "TransferModel", items: list[Any], batch_size: int | None = None) -> np.ndarray:
    """Softmax probabilities for ``items``, shape ``(n, n_labels)``.

    Example:
        >>> predict_proba(model, ["great product", "awful"]).shape  # doctest: +SKIP
        (2, 2)
    """
    import torch

    if not items:
        return np.zeros((0, len(model.labels)), dtype=np.float32)
    was_training = model.training
    model.eval()
    outputs = []
    with torch.inference_mode():
        for inputs, _ in batches(model, items, batch_size):
            outputs.append(torch.softmax(model(inputs).float(), dim=-1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(outputs)


def predict(model: "TransferModel | str | Path", items: list[Any], batch_size: int | None = None) -> list[dict[str, Any]]:
    """Label each item: a list of ``{"input", "label", "scores"}`` dicts, in the order given.

    The decision uses the model's validated threshold for binary tasks, argmax otherwise.

    Example:
        >>> predict("models/spam", ["WIN a prize now"])[0]["label"]  # doctest: +SKIP
        'spam'
    """
    from transferkit.core.metrics import decide

    model = _as_model(model)
    probs = predict_proba(model, items, batch_size)
    chosen = decide(probs, model.threshold, model.positive)
    return [
        {
            "input": _describe_input(item),
            "label": model.labels[int(index)],
            "scores": {label: float(p) for label, p in zip(model.labels, row)},
        }
        for item, index, row in zip(items, chosen, probs)
    ]


def _describe_input(item: Any) -> Any:
    # Paths and texts are echoed back as given; arrays (MedMNIST items) are summarised by their shape.
    if isinstance(item, np.ndarray):
        return f"array{tuple(item.shape)}"
    return item if isinstance(item, (str, int, float)) else str(item)


def targets_for(examples: Examples, labels: list[str]) -> np.ndarray:
    """Label indices of ``examples`` in ``labels``; an unknown label is an error naming it."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted(set(examples.labels) - set(index))
    if unknown:
        raise DataError(
            f"labels {unknown} are not among the model's labels {labels}",
            file=examples.source,
            field="label",
            fix="evaluate on data with the labels the model was trained on",
        )
    return np.array([index[label] for label in examples.labels], dtype=int)


def _as_model(model: "TransferModel | str | Path") -> "TransferModel":
    if isinstance(model, (str, Path)):
        from transferkit.core.artifact import load

        return load(model)
    return model


def evaluate(
    model: "TransferModel | str | Path",
    data: "str | Path | Examples",
    *,
    split: str | None = None,
    read_options: dict[str, Any] | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Score a model on labelled data: accuracy, f1_macro, auroc, n, per_class, confusion, binary extras.

    A path is read by the model's domain; for formats that hold a test split (a MedMNIST ``.npz``, a
    folder with ``test/``) the test split is scored unless ``split`` says otherwise.

    Example:
        >>> evaluate("models/ants-bees", "data/hymenoptera/val")["accuracy"]  # doctest: +SKIP
        0.95
    """
    model = _as_model(model)
    if isinstance(data, Examples):
        examples = data
    else:
        if split is None:
            available = model.domain.splits_in(data)
            split = "test" if "test" in available else ("val" if "val" in available else None)
        options = {**model.meta.get("read_options", {}), **(read_options or {})}
        examples = model.domain.read(data, split=split, options=options)
    if len(examples) == 0:
        raise DataError("no examples to evaluate", file=examples.source, fix="check the path and format")
    y = targets_for(examples, model.labels)
    probs = predict_proba(model, examples.items, batch_size)
    metrics = classification_metrics(
        y, probs, model.labels, threshold=model.threshold, positive=model.positive, confidence=True
    )
    metrics["data"] = examples.source
    metrics["split"] = split
    metrics["skipped"] = [{"item": s.item, "reason": s.reason} for s in examples.skipped]
    metrics["warnings"] = seen_in_training(model.meta, examples, split)
    return metrics


def seen_in_training(meta: dict[str, Any], examples: Examples, split: str | None) -> list[str]:
    """Warnings when the scored data are the data (and split) the model was trained or selected on.

    Scores on training data are not held-out figures, and scores on the validation data that chose the
    epoch, C or threshold are optimistic; the model folder records both sources.

    Example:
        >>> meta = {"data": {"train": {"source": "a.csv"}, "val": {"source": "b.csv"}}}
        >>> seen_in_training(meta, Examples(items=["x"], labels=["y"], source="b.csv"), None)[0][:40]
        'b.csv: the validation data (used for sel'
    """
    if split is not None:  # a split chosen inside a file or folder that holds several: sources differ by split
        return []
    recorded = meta.get("data") or {}
    resolved = _resolved(examples.source)
    warnings = []
    for name, role in (("train", "training data"), ("val", "validation data (used for selection)")):
        summary = recorded.get(name) or {}
        if not summary.get("source") or _resolved(summary["source"]) != resolved:
            continue
        warnings.append(f"{examples.source}: the {role} of this model; these figures are not held-out "
                        "(score data the model never saw, e.g. a --test or --holdout-test split)")
    return warnings


def _resolved(source: Any) -> str:
    try:
        return str(Path(str(source)).resolve())
    except (OSError, ValueError):
        return str(source)
