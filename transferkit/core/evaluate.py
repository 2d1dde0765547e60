"""Batched inference and evaluation. Plain torch: no training engine is started (Lightning is slow to import)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from transferkit.core.data import Examples
from transferkit.core.metrics import classification_metrics
from transferkit.errors import DataError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from transferkit.core.model import TransferModel

DEFAULT_BATCH = 64


def _device_of(model: "TransferModel") -> Any:
    for param in model.parameters():
        return param.device
    import torch

    return torch.device("cpu")


# Texts are batched by length within windows of this many batches (see length_order).
SORT_WINDOW_BATCHES = 16


def length_order(lengths: "Sequence[int]", batch_size: int, window_batches: int = SORT_WINDOW_BATCHES) -> list[int]:
    """An order of the items that puts texts of similar length in the same batch, within windows.

    A batch of texts is padded to its longest one, so a short text batched with a long one pays for the
    long one's padding; sentence-transformers' ``encode`` sorts by length for that reason. Sorting
    within windows of ``window_batches`` batches (not the whole set) keeps the outputs of a window few
    enough to put back in order and stream on (a feature cache larger than memory stays flat).

    Example:
        >>> length_order([5, 1, 4, 2, 3, 9], batch_size=2, window_batches=2)
        [1, 3, 2, 0, 4, 5]
    """
    window = max(1, batch_size * window_batches)
    order: list[int] = []
    for start in range(0, len(lengths), window):
        stop = min(start + window, len(lengths))
        order.extend(sorted(range(start, stop), key=lambda i: lengths[i]))
    return order


def outputs_in_order(model: "TransferModel", items: list[Any], batch_size: int | None,
                     forward: "Callable[[Any], torch.Tensor]") -> Iterator[np.ndarray]:
    """``forward`` over batches of ``items`` in inference mode on the model's best device, as float32 arrays
    whose rows are in the order of ``items`` (one array per batch, or per window of batches for texts).

    Texts are batched by length (:func:`length_order`) when the domain's dataset tells their lengths
    (a ``lengths()`` method); the rows are put back in order before they are yielded.

    Example:
        >>> rows = outputs_in_order(model, ["hi", "a longer text"], 32, model.backbone)  # doctest: +SKIP
        >>> sum(len(chunk) for chunk in rows)  # doctest: +SKIP
        2
    """
    import torch

    from transferkit.core.devices import autocast, on_device

    size = batch_size or DEFAULT_BATCH
    with on_device(model) as device, torch.inference_mode():
        dataset = model.domain.dataset(model.backbone, items, None, model.preset, train=False)
        lengths = getattr(dataset, "lengths", None)
        if not callable(lengths):  # in the order given: each batch's rows go on at once (memory stays flat)
            for inputs, _ in batches(model, items, size, device=device, dataset=dataset):
                with autocast(device):
                    out = forward(inputs)
                yield out.float().cpu().numpy()
            return
        order = length_order(lengths(), size)
        window = size * SORT_WINDOW_BATCHES
        pending: list[np.ndarray] = []
        done = 0
        for inputs, _ in batches(model, items, size, device=device, order=order, dataset=dataset):
            with autocast(device):
                out = forward(inputs)
            pending.append(out.float().cpu().numpy())
            filled = sum(len(chunk) for chunk in pending)
            if filled == min(window, len(items) - done):
                yield _restore(np.concatenate(pending), order[done:done + filled], done)
                done += filled
                pending = []


def _restore(rows: np.ndarray, positions: list[int], offset: int) -> np.ndarray:
    # rows[k] belongs to item positions[k]; the window holds items offset .. offset + len(rows) - 1.
    restored = np.empty_like(rows)
    restored[np.asarray(positions, dtype=np.int64) - offset] = rows
    return restored


def batches(model: "TransferModel", items: list[Any], batch_size: int | None = None, train: bool = False,
            device: Any = None, order: "Sequence[int] | None" = None, dataset: Any = None) -> Any:
    """Iterate ``(inputs, targets)`` batches of ``items`` through the model's domain preprocessing.

    ``order`` takes the items in that order (default: as given); ``dataset`` is the domain's dataset of
    ``items`` when the caller built it already.

    Inputs arrive on ``device`` (default: where the model is). Worker processes decode items when the
    domain's dataset does real per-item work, and host memory is pinned when feeding a GPU
    (:func:`~transferkit.core.devices.loader_options`; on the CPU only on cores torch's threads leave free).
    """
    from torch.utils.data import DataLoader

    from transferkit.core.devices import loader_options, to_device

    if dataset is None:
        dataset = model.domain.dataset(model.backbone, items, None, model.preset, train=train)
    device = device if device is not None else _device_of(model)
    size = batch_size or DEFAULT_BATCH
    options = loader_options(dataset, size, device)
    options.pop("persistent_workers", None)  # one pass: workers end with it
    from transferkit.core.progress import advance

    loader = DataLoader(dataset, batch_size=size, sampler=order, collate_fn=model.domain.collate, **options)
    left = len(items)
    for inputs, targets in loader:
        yield to_device(inputs, device, non_blocking=options["pin_memory"]), targets
        advance(min(size, left))  # the caller is done with the batch: counted for the progress lines
        left -= size


def predict_proba(model: "TransferModel", items: list[Any], batch_size: int | None = None) -> np.ndarray:
    """Softmax probabilities for ``items``, shape ``(n, n_labels)``.

    Example:
        >>> predict_proba(model, ["great product", "awful"]).shape  # doctest: +SKIP
        (2, 2)
    """
    import torch

    if not items:
        return np.zeros((0, len(model.labels)), dtype=np.float32)
    # On the GPU when there is one (mixed precision there), then back where the model was.
    return np.concatenate(list(outputs_in_order(
        model, items, batch_size, lambda inputs: torch.softmax(model(inputs).float(), dim=-1))))


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
        options = {**model.meta.get("read_options", {}), **(read_options or {})}
        examples, split = _read_split(model, data, split, options)
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
    metrics["warnings"] = seen_in_training(model.meta, examples, split) + newer_run_warnings(model)
    return metrics


def newer_run_warnings(model: "TransferModel") -> list[str]:
    """A warning when the model's folder also holds an unfinished run started after the model was saved.

    A retrain into the same folder that was killed leaves the earlier model in place (saves are atomic):
    the figures are that model's, which is right, but the user should know the newer run is not in them.
    """
    from transferkit.core.outputs import resume_command, unfinished_run

    folder = getattr(model, "folder", None)
    run = unfinished_run(folder) if folder is not None else None
    if run is None:
        return []
    return [f"{folder}: also holds an unfinished training run (started {run.get('created', '?')}) that is newer "
            f"than this model; these figures are the saved model's (to finish that run: {resume_command(run)})"]


def _read_split(model: "TransferModel", data: "str | Path", split: str | None,
                options: dict[str, Any]) -> tuple[Examples, str | None]:
    """The examples ``evaluate`` scores, and the split they are.

    No ``split``: the data's test split, else its val split, else all of it. A ``split`` the data hold is
    read; ``test`` of the very file a ``--holdout-test`` split was carved from is that held-out split
    (the indices recorded in the model, checked against the data's fingerprint); any other is refused,
    never silently ignored.
    """
    available = model.domain.splits_in(data)
    if split is None:
        split = "test" if "test" in available else ("val" if "val" in available else None)
        return model.domain.read(data, split=split, options=options), split
    if split in available:
        return model.domain.read(data, split=split, options=options), split
    holdout = ((model.meta.get("data") or {}).get("test") or {}).get("holdout") or {}
    if split == "test" and holdout.get("from") and _resolved(holdout["from"]) == _resolved(data):
        for part in dict.fromkeys([None, "train"]):  # the holdout was carved from the data as read for training
            whole = model.domain.read(data, split=part, options=options)
            if whole.fingerprint() == holdout.get("fingerprint_of_source"):
                return whole.subset(holdout["indices"]), split
        raise DataError("the data changed since the model set its held-out test split aside", file=data,
                        fix="evaluate on separate test data, or leave --split out to score all of it")
    raise UsageError(f"--split {split}: the data hold no '{split}' split (they hold "
                     f"{', '.join(available) if available else 'one set, no splits'})", file=data,
                     fix="leave --split out to score all of the data, or pass the split's own file as --data")


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
