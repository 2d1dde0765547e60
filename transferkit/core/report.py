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


def plot_curves(history: list[dict[str, Any]], metric: str, path: Path) -> None:
    """Loss and the selection metric per epoch (or per regularization strength for a linear probe)."""
    plt = _pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    xs = [row.get("epoch", i) for i, row in enumerate(history)]
    x_label = "epoch"
    if history and "C" in history[0]:
        xs, x_label = [row["C"] for row in history], "C (inverse regularization)"
        ax_loss.set_xscale("log")
        ax_metric.set_xscale("log")
    for key, style in (("train_loss", "-o"), ("val_loss", "-s")):
        ys = [row.get(key) for row in history]
        if any(y is not None for y in ys):
            ax_loss.plot(xs, [np.nan if y is None else y for y in ys], style, label=key)
    ax_loss.set_xlabel(x_label)
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ys = [row.get(f"val_{metric}") for row in history]
    ax_metric.plot(xs, [np.nan if y is None else y for y in ys], "-o", color="tab:green")
    ax_metric.set_xlabel(x_label)
    ax_metric.set_ylabel(f"validation {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(confusion: list[list[int]], labels: list[str], path: Path, title: str) -> None:
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
    fig.savefig(path, dpi=100)
    plt.close(fig)


def calibration_bins(y_true: np.ndarray, scores: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Reliability table: mean predicted probability vs observed frequency per score bin."""
    edges = np.linspace(0, 1, n_bins + 1)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (scores >= low) & ((scores < high) if high < 1 else (scores <= high))
        if mask.any():
            rows.append({"low": float(low), "high": float(high), "n": int(mask.sum()),
                         "mean_score": float(scores[mask].mean()), "frequency": float(y_true[mask].mean())})
    return rows


def plot_calibration(bins: list[dict[str, float]], positive: str, path: Path, split: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([b["mean_score"] for b in bins], [b["frequency"] for b in bins], "-o", label="model")
    ax.set_xlabel(f"predicted probability of '{positive}'")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"calibration ({split})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def model_card(meta: dict[str, Any]) -> str:
    """The model card (README.md of the artifact): what it is, how it was made, how well it does."""
    plan = meta.get("plan", {})
    metrics = meta.get("metrics", {})
    lines = [
        f"# {meta.get('name', 'transferkit model')}",
        "",
        f"A **{meta['domain']}** classifier made with transferkit {meta['transferkit_version']} by transfer "
        f"from `{meta.get('base_model')}`.",
        "",
        f"- Labels: {', '.join(meta['labels'])}",
        f"- Preset: `{meta.get('preset', {}).get('id')}` - {meta.get('preset', {}).get('description', '')}",
        f"- Strategy: `{plan.get('strategy')}` ({plan.get('reason', '')})",
        f"- Training data: {meta.get('data', {}).get('train', {}).get('source')} "
        f"({meta.get('data', {}).get('train', {}).get('counts')}), fingerprint "
        f"`{meta.get('data', {}).get('train', {}).get('fingerprint')}`",
        "",
        "## Metrics",
        "",
        "| split | n | accuracy | macro-F1 | AUROC |",
        "|---|---|---|---|---|",
    ]
    for split, values in metrics.items():
        if isinstance(values, dict) and "accuracy" in values:
            lines.append(
                f"| {split} | {values.get('n')} | {_fmt(values.get('accuracy'))} | {_fmt(values.get('f1_macro'))} "
                f"| {_fmt(values.get('auroc'))} |"
            )
    for split, values in metrics.items():
        binary = values.get("binary") if isinstance(values, dict) else None
        if binary:
            ci = binary.get("auroc_ci95") or [None, None]
            lines.append(
                f"\n{split}: positive class `{binary['positive']}`, threshold {_fmt(binary['threshold'])}, "
                f"sensitivity {_fmt(binary['sensitivity'])}, specificity {_fmt(binary['specificity'])}, "
                f"AUROC 95% CI [{_fmt(ci[0])}, {_fmt(ci[1])}]"
            )
    if meta.get("baselines"):
        lines += ["", "## Baselines (same data, same split)", "", "| model | accuracy | macro-F1 |", "|---|---|---|"]
        for name, values in meta["baselines"].items():
            lines.append(f"| {name} | {_fmt(values.get('accuracy'))} | {_fmt(values.get('f1_macro'))} |")
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
        "split when there is one, else validation).",
        "",
        "## Limitations",
        "",
        "Metrics come from the validation/test data listed above only; a model trained on few labels can be "
        "confidently wrong on data unlike its training set. Check it on data from your own deployment.",
    ]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, meta: dict[str, Any], history: list[dict[str, Any]], eval_data: dict[str, Any]) -> None:
    """Write metrics.json, the plots and README.md into ``folder`` (a temporary artifact folder).

    ``eval_data`` maps a split name to ``(y_true, probs)`` for the calibration plot.
    """
    metrics = meta.get("metrics", {})
    metric = meta.get("plan", {}).get("train", {}).get("metric", "accuracy")
    if history:
        plot_curves(history, metric, folder / "curves.png")
    split = "test" if "test" in metrics else "val"
    if split in metrics:
        plot_confusion(metrics[split]["confusion"], meta["labels"], folder / "confusion.png", f"{split} confusion")
        binary = metrics[split].get("binary")
        if binary and split in eval_data:
            y, probs = eval_data[split]
            pos = meta["labels"].index(binary["positive"])
            bins = calibration_bins((np.asarray(y) == pos).astype(float), np.asarray(probs)[:, pos])
            metrics[split]["binary"]["calibration"] = bins
            plot_calibration(bins, binary["positive"], folder / "calibration.png", split)
    (folder / "metrics.json").write_text(json.dumps({"metrics": metrics, "history": history}, indent=2))
    (folder / "README.md").write_text(model_card(meta), encoding="utf-8")
