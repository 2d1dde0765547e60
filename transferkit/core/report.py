"""The run report: metrics.json, plots (curves, confusion, calibration) and the model card README.md."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    return plt


def chosen_index(history: list[dict[str, Any]], metric: str) -> int | None:
    """The row of ``history`` whose model was kept: the one marked ``chosen`` (a linear probe's C), else the
    first best validation score (Lightning's best checkpoint keeps the first of equal scores).

    Example:
        >>> chosen_index([{"val_loss": 0.5}, {"val_loss": 0.3}, {"val_loss": 0.3}], "loss")
        1
    """
    from transferkit.core.metrics import metric_value

    marked = [i for i, row in enumerate(history) if row.get("chosen")]
    if marked:
        return marked[0]
    scores = [metric_value({metric: row.get(f"val_{metric}")}, metric) for row in history]
    if not scores or max(scores) == float("-inf"):
        return None
    return scores.index(max(scores))


def shown_epoch(row: dict[str, Any], index: int) -> int:
    """The 1-based epoch number people read for a ``history`` row (``index``: its place, when the row has no
    ``epoch``).

    The stored history counts from 0 (Lightning's ``current_epoch``); the console's progress lines, the
    training notes ("restored the best epoch (epoch 6, ...)") and the model card count from 1, so every
    figure and table converts here rather than the stored rows changing.

    Example:
        >>> shown_epoch({"epoch": 0}, 0), shown_epoch({}, 4)
        (1, 5)
    """
    return int(row.get("epoch", index)) + 1


def curves_figure(history: list[dict[str, Any]], metric: str) -> Any:
    """Loss and the selection metric per epoch (or per regularization strength for a linear probe), the
    chosen epoch or C marked with a dashed line. Epochs are numbered from 1, as the console counts them."""
    plt = _pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [shown_epoch(row, i) for i, row in enumerate(history)]
    x_label, name = "epoch", "epoch"
    if history and "C" in history[0]:
        from matplotlib.ticker import NullLocator

        xs, x_label, name = [row["C"] for row in history], "C (inverse regularization)", "C"
        for ax in (ax_loss, ax_metric):
            ax.set_xscale("log")
            # Decades only: a log axis' minor ticks were a third of drawing this figure, which every
            # linear probe writes.
            ax.xaxis.set_minor_locator(NullLocator())
    if xs:  # the span of the epochs (or Cs), set before anything is drawn: a panel whose only line is the
        # chosen mark (spam's carry-over rows have no validation figures) would leave matplotlib an axis
        # spanning one value
        low, high = min(xs), max(xs)
        span = (low / 2, high * 2) if x_label.startswith("C") else (low - 0.5, high + 0.5)
        for ax in (ax_loss, ax_metric):
            ax.set_xlim(*span)
    for key, style in (("train_loss", "-o"), ("val_loss", "-s")):
        ys = [row.get(key) for row in history]
        if any(y is not None for y in ys):
            ax_loss.plot(xs, [np.nan if y is None else y for y in ys], style, label=key)
    ax_loss.set_xlabel(x_label)
    ax_loss.set_ylabel("loss")
    ys = [row.get(f"val_{metric}") for row in history]
    cv_key = next((k for k in (history[0] if history else {}) if k.startswith("cv_") and k != "cv_sd"), None)
    if cv_key is not None and all(y is None for y in ys):
        # Chosen by cross-validation on the training labels (spam's carry-over rows): that score, a line per
        # row "series" the domain named (each way of carrying a model over was tried at several C).
        series: dict[str, list[tuple[float, float]]] = {}
        for x, row in zip(xs, history):
            series.setdefault(row.get("series", cv_key), []).append((x, row[cv_key]))
        for label, points in series.items():
            ax_metric.plot(*zip(*points), "-o", label=label)
        ax_metric.set_ylabel(f"cross-validated {cv_key.removeprefix('cv_')} (used for selection)")
    else:
        ax_metric.plot(xs, [np.nan if y is None else y for y in ys], "-o", color="tab:green")
        ax_metric.set_ylabel(f"validation {metric} (used for selection)")
    ax_metric.set_xlabel(x_label)
    chosen = chosen_index(history, metric)
    if chosen is not None:
        kept = history[chosen].get("series")
        label = f"chosen {kept + ', ' if kept else ''}{name} = {xs[chosen]:g}"
        for ax in (ax_loss, ax_metric):
            ax.axvline(xs[chosen], linestyle="--", color="tab:red", label=label)
        ax_metric.legend()
    if ax_loss.lines:
        ax_loss.legend()
    # Fixed margins instead of tight_layout, which draws the figure once more to measure it: every
    # training run writes this figure, and drawing text is most of its cost.
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.96, wspace=0.25)
    return fig


def _save_png(fig: Any, path: Path) -> None:
    plt = _pyplot()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(history: list[dict[str, Any]], metric: str, path: Path) -> None:
    """Loss and the selection metric per epoch (or per C), the chosen one marked, as a PNG."""
    _save_png(curves_figure(history, metric), path)


def confusion_figure(confusion: list[list[int]], labels: list[str], title: str) -> Any:
    """The confusion matrix, counts written in each cell (rows: true class, columns: predicted)."""
    plt = _pyplot()
    matrix = np.array(confusion)
    size = max(4.0, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color)
    fig.tight_layout()
    return fig


def plot_confusion(confusion: list[list[int]], labels: list[str], path: Path, title: str) -> None:
    _save_png(confusion_figure(confusion, labels, title), path)


def calibration_bins(y_true: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Reliability table: per equal-width score bin, its count, mean predicted probability and observed frequency.

    Bins are ``[low, high)``, the last one closed; empty bins are left out. The count ``n`` of each bin
    weighs it in :func:`expected_calibration_error` and is printed on the plot: a bin of 2 examples says
    little.

    Example:
        >>> bins = calibration_bins(np.array([0, 1, 1, 1]), np.array([0.05, 0.55, 0.95, 1.0]), n_bins=2)
        >>> [(b["n"], b["mean_score"], b["frequency"]) for b in bins]
        [(1, 0.05, 0.0), (3, 0.8333333333333334, 1.0)]
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    edges = np.linspace(0, 1, n_bins + 1)
    # searchsorted on the inner edges: bin i holds edges[i] <= score < edges[i+1]; a score of 1.0 joins the last.
    index = np.clip(np.searchsorted(edges[1:-1], scores, side="right"), 0, n_bins - 1)
    rows = []
    for i in range(n_bins):
        mask = index == i
        if mask.any():
            rows.append({"low": float(edges[i]), "high": float(edges[i + 1]), "n": int(mask.sum()),
                         "mean_score": float(scores[mask].mean()), "frequency": float(y_true[mask].mean())})
    return rows


def expected_calibration_error(bins: list[dict[str, float]]) -> float | None:
    """The count-weighted mean gap between predicted probability and observed frequency over the bins.

    Example:
        >>> expected_calibration_error([{"n": 3, "mean_score": 0.9, "frequency": 0.6},
        ...                             {"n": 1, "mean_score": 0.1, "frequency": 0.1}])
        0.225
    """
    total = sum(b["n"] for b in bins)
    if not total:
        return None
    return round(sum(b["n"] * abs(b["mean_score"] - b["frequency"]) for b in bins) / total, 10)


# A calibration bin with fewer examples than this is drawn hollow and marked "few": little evidence.
FEW_IN_BIN = 10


def calibration_figure(bins: list[dict[str, float]], positive: str, split: str) -> Any:
    """Reliability diagram: one point per bin, its area by the number of examples, bins of fewer than
    ``FEW_IN_BIN`` examples hollow and annotated, so 1 and 90 examples do not look alike."""
    from transferkit.core.metrics import split_label

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    xs, ys = [b["mean_score"] for b in bins], [b["frequency"] for b in bins]
    ax.plot(xs, ys, "-", color="tab:blue", alpha=0.5)
    top = max((b["n"] for b in bins), default=1)
    sizes = [20 + 200 * (b["n"] / top) for b in bins]
    many = [i for i, b in enumerate(bins) if b["n"] >= FEW_IN_BIN]
    few = [i for i, b in enumerate(bins) if b["n"] < FEW_IN_BIN]
    if many:
        ax.scatter([xs[i] for i in many], [ys[i] for i in many], s=[sizes[i] for i in many], color="tab:blue",
                   label=f"bin of >= {FEW_IN_BIN} examples", zorder=3)
    if few:
        ax.scatter([xs[i] for i in few], [ys[i] for i in few], s=[sizes[i] for i in few], facecolors="none",
                   edgecolors="tab:orange", linewidths=1.5, label=f"bin of < {FEW_IN_BIN} examples (little evidence)",
                   zorder=3)
    for x, y, b in zip(xs, ys, bins):  # the count behind each point: few examples, little evidence
        ax.annotate(f"n={b['n']}" + (" (few)" if b["n"] < FEW_IN_BIN else ""), (x, y), textcoords="offset points",
                    xytext=(6, -12), fontsize=7, color="tab:orange" if b["n"] < FEW_IN_BIN else "black")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"predicted probability of '{positive}'")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"calibration ({split_label(split)})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.1, top=0.94)  # fixed: see curves_figure
    return fig


def plot_calibration(bins: list[dict[str, float]], positive: str, path: Path, split: str) -> None:
    _save_png(calibration_figure(bins, positive, split), path)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _interval(values: Any) -> str:
    return f"[{values[0]:.2f}, {values[1]:.2f}]" if values else "n/a"


def majority_baseline(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What always answering the training data's most frequent class scores on each evaluated split.

    A model is only worth its figures above this row: on imbalanced data its accuracy can be high.

    Example:
        >>> meta = {"labels": ["a", "b"], "data": {"train": {"counts": {"a": 9, "b": 3}}},
        ...         "metrics": {"val": {"n": 4, "per_class": {"a": {"support": 3}, "b": {"support": 1}}}}}
        >>> row = majority_baseline(meta)["val"]
        >>> row["label"], row["accuracy"], round(row["f1_macro"], 4), row["auroc"]
        ('a', 0.75, 0.4286, 0.5)
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    counts = ((meta.get("data") or {}).get("train") or {}).get("counts") or {}
    labels = list(meta.get("labels") or [])
    if not counts or not labels:
        return {}
    majority = max(labels, key=lambda label: counts.get(label, 0))  # ties: the first label
    rows = {}
    for split, values in (meta.get("metrics") or {}).items():
        per_class = values.get("per_class") if isinstance(values, dict) else None
        if not per_class:
            continue
        y_true = np.repeat(np.arange(len(labels)), [per_class.get(label, {}).get("support", 0) for label in labels])
        if not len(y_true):
            continue
        pred = np.full(len(y_true), labels.index(majority))
        rows[split] = {
            "label": majority,
            "n": int(len(y_true)),
            "accuracy": float(accuracy_score(y_true, pred)),
            "f1_macro": float(f1_score(y_true, pred, labels=list(range(len(labels))), average="macro",
                                       zero_division=0)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, pred)) if len(set(y_true)) > 1 else None,
            "auroc": 0.5,  # one score for every example: no ranking at all
        }
    return rows


def _holdout_line(data: dict[str, Any]) -> str | None:
    holdout = (data.get("test") or {}).get("holdout")
    if not holdout:
        return None
    return (f"- Held-out test split: a stratified {holdout['fraction']:g} of `{holdout['from']}` set aside before "
            f"training with seed {holdout['seed']} ({len(holdout['indices'])} examples; their indices in the data "
            "as read are in `transferkit.json`, `data.test.holdout`); no choice was made on them")


def model_card(meta: dict[str, Any]) -> str:
    """The model card (README.md of the artifact): what it is, how it was made, how well it does.

    Each split's figures are named for what they are worth: "validation (used for selection)" or
    "held-out test"; without test figures the card says the validation ones are optimistic.

    Example:
        >>> card = model_card({"domain": "toy", "transferkit_version": "0", "labels": ["a", "b"],
        ...                    "metrics": {"val": {"n": 4, "accuracy": 1.0, "f1_macro": 1.0, "auroc": None}}})
        >>> "| validation (used for selection) | 4 | 1.0000 |" in card, "optimistic" in card
        (True, True)
    """
    from transferkit.core.metrics import OPTIMISTIC_NOTE, split_label

    plan = meta.get("plan", {})
    metrics = meta.get("metrics", {})
    data = meta.get("data", {}) or {}
    lines = [
        f"# {meta.get('name', 'transferkit model')}",
        "",
        f"A **{meta['domain']}** classifier made with transferkit {meta['transferkit_version']} by transfer "
        f"from `{meta.get('base_model')}`.",
        "",
        f"- Labels: {', '.join(meta['labels'])}",
        f"- Preset: `{meta.get('preset', {}).get('id')}` - {meta.get('preset', {}).get('description', '')}",
        f"- Strategy: `{plan.get('strategy')}` ({plan.get('reason', '')})",
        "- Full report (curves, confusion matrix, calibration, per-class figures, data warnings): "
        "[report.html](report.html)",
        f"- Training data: {(data.get('train') or {}).get('source')} "
        f"({_counts_text((data.get('train') or {}).get('counts'))}), fingerprint "
        f"`{(data.get('train') or {}).get('fingerprint')}`",
    ]
    holdout = _holdout_line(data)
    if holdout:
        lines.append(holdout)
    lines += [
        "",
        "## Metrics",
        "",
        "The validation data chose the training epoch or regularization strength and the decision threshold: "
        "its figures are optimistic. Only held-out test figures estimate performance on new data.",
        "",
        "| split | n | accuracy | accuracy 95% CI | macro-F1 | AUROC |",
        "|---|---|---|---|---|---|",
    ]
    for split, values in metrics.items():
        if isinstance(values, dict) and "accuracy" in values:
            lines.append(
                f"| {split_label(split)} | {values.get('n')} | {_fmt(values.get('accuracy'))} "
                f"| {_interval(values.get('accuracy_ci95'))} | {_fmt(values.get('f1_macro'))} "
                f"| {_fmt(values.get('auroc'))} |"
            )
    for split, row in majority_baseline(meta).items():
        lines.append(f"| majority-class baseline (always `{row['label']}`), {split_label(split)} | {row['n']} "
                     f"| {_fmt(row['accuracy'])} | | {_fmt(row['f1_macro'])} | {_fmt(row['auroc'])} |")
    lines += ["", "Accuracy intervals are Wilson score 95% intervals: with few examples they are wide. The model "
              "is worth its figures only above the majority-class baseline."]
    if "test" not in metrics:
        lines += ["", f"**Note:** {OPTIMISTIC_NOTE}."]
    warnings = data.get("warnings")
    if warnings is not None:
        lines += ["", "## Data warnings", ""]
        lines += [f"- {warning}" for warning in warnings] or ["- none found (class balance, tiny classes, tiny "
                                                             "validation set, train/test duplicates, skipped files)"]
    for split, values in metrics.items():
        binary = values.get("binary") if isinstance(values, dict) else None
        if binary:
            ci = binary.get("auroc_ci95")
            interval = f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "undefined"
            method = binary.get("auroc_ci95_method")
            lines.append(
                f"\n{split_label(split)}: positive class `{binary['positive']}`, threshold {_fmt(binary['threshold'])}, "
                f"sensitivity {_fmt(binary['sensitivity'])}, specificity {_fmt(binary['specificity'])}, "
                f"AUROC 95% CI {interval}" + (f" ({method})" if method else "")
            )
            bins = binary.get("calibration")
            if bins:
                lines.append(
                    f"calibration ({split_label(split)}): expected calibration error "
                    f"{_fmt(binary.get('calibration_error'))} over {len(bins)} bins; examples per bin: "
                    + ", ".join(f"{b['low']:.1f}-{b['high']:.1f}: {b['n']}" for b in bins)
                )
    if meta.get("baselines"):
        lines += ["", "## Baselines (same data, same split)", "", "| model | accuracy | macro-F1 |", "|---|---|---|"]
        for name, values in meta["baselines"].items():
            lines.append(f"| {name} | {_fmt(values.get('accuracy'))} | {_fmt(values.get('f1_macro'))} |")
    if meta.get("notes"):  # how the run went: a stop at the time budget, the epoch restored, the threshold
        lines += ["", "## Training notes", "", *(f"- {note}" for note in meta["notes"])]
    lines += [
        "",
        "## Transfer plan",
        "",
        "```",
        meta.get("plan_text", ""),
        "```",
        "",
        "## Use",
        "",
        "```python",
        "import transferkit as tk",
        "model = tk.load(\"<this folder>\")",
        "model.predict([...])",
        "```",
        "",
        "Files: `model.safetensors` (weights), `transferkit.json` (everything needed to rebuild the model), "
        "`metrics.json`, `curves.png`, `confusion.png`, and for two classes `calibration.png` (on the test "
        "split when there is one, else validation); [`report.html`](report.html), the full report in one "
        "self-contained page that opens offline in any browser.",
        "",
        "## Limitations",
        "",
        "Metrics come from the data listed above only (validation figures are optimistic, see above); a model "
        "trained on few labels can be confidently wrong on data unlike its training set. Check it on data from "
        "your own deployment.",
    ]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, meta: dict[str, Any], history: list[dict[str, Any]], eval_data: dict[str, Any],
                 items: dict[str, list[Any]] | None = None) -> None:
    """Write metrics.json, the plots, report.html and README.md into ``folder`` (a temporary artifact folder).

    ``eval_data`` maps a split name to ``(y_true, probs)`` for the calibration, ROC and precision-recall
    curves; ``items`` maps it to the split's items, for report.html's gallery of the worst mistakes.
    """
    from transferkit.core.html_report import write_html_report

    from transferkit.core.metrics import split_label

    metrics = meta.get("metrics", {})
    metric = meta.get("plan", {}).get("train", {}).get("metric", "accuracy")
    if history:
        plot_curves(history, metric, folder / "curves.png")
    split = "test" if "test" in metrics else "val"
    if split in metrics:
        plot_confusion(metrics[split]["confusion"], meta["labels"], folder / "confusion.png",
                       f"confusion: {split_label(split)}")
        binary = metrics[split].get("binary")
        if binary and split in eval_data:
            y, probs = eval_data[split]
            pos = meta["labels"].index(binary["positive"])
            bins = calibration_bins((np.asarray(y) == pos).astype(float), np.asarray(probs)[:, pos])
            metrics[split]["binary"]["calibration"] = bins
            metrics[split]["binary"]["calibration_error"] = expected_calibration_error(bins)
            plot_calibration(bins, binary["positive"], folder / "calibration.png", split)
    splits = {name: split_label(name) for name in metrics}
    (folder / "metrics.json").write_text(json.dumps({"splits": splits, "metrics": metrics, "history": history},
                                                    indent=2))
    write_html_report(folder / "report.html", meta, history, eval_data, items or {})
    (folder / "README.md").write_text(model_card(meta), encoding="utf-8")


def _counts_text(counts: Any) -> str:
    """Examples per class as people write it: ``ants 32, bees 32``, not a Python dict.

    Example:
        >>> _counts_text({"ants": 32, "bees": 30})
        'ants 32, bees 30'
    """
    if not isinstance(counts, dict):
        return str(counts)
    return ", ".join(f"{label} {count}" for label, count in counts.items())
