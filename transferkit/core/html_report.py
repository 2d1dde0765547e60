"""report.html: one self-contained page per run, and one for ``transferkit compare``.

Everything is inside the file: figures are inline SVG (matplotlib draws text as paths, so no font is
fetched) or, where the run already saved them as PNG beside the report, that PNG as a data URI; thumbnails
are base64 PNG, the style sheet is inline and uses the system's fonts; there is no
script. The page reads the same offline, from an e-mail attachment or an archive, years later.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from transferkit.core.report import (
    FEW_IN_BIN,
    _pyplot,
    calibration_figure,
    confusion_figure,
    curves_figure,
    majority_baseline,
    shown_epoch,
)

GALLERY_SIZE = 12  # the worst mistakes shown
THUMBNAIL_PX = 112

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.baseline td{color:#666;font-style:italic}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.7em;overflow-x:auto;font-size:.85em}
.figure svg{max-width:100%;height:auto}.warn{background:#fff4e5;border-left:4px solid #e69500;padding:.5em 1em}
.warn li{margin:.2em 0}.ok{background:#eef8ee;border-left:4px solid #3a3;padding:.5em 1em}
.gallery{display:flex;flex-wrap:wrap;gap:.8em}.gallery figure{margin:0;width:150px;font-size:.75em}
.gallery img{width:112px;height:112px;object-fit:contain;background:#eee;display:block}
.verdict{font-weight:600}.muted{color:#666}
"""


# ---------------------------------------------------------------- building blocks


def figure_svg(fig: Any) -> str:
    """A matplotlib figure as an inline ``<svg>`` element (no XML prolog, no DOCTYPE: nothing to fetch).

    Example:
        >>> from transferkit.core.report import _pyplot
        >>> fig, ax = _pyplot().subplots(); _ = ax.plot([0, 1], [1, 0])
        >>> figure_svg(fig).startswith("<svg")
        True
    """
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")  # the figures call tight_layout: no second, "tight" drawing pass
    _pyplot().close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(fig: Any, caption: str) -> str:
    return f'<div class="figure">{figure_svg(fig)}<p class="muted">{_e(caption)}</p></div>'


def _figure_from(png: Path | None, make: Any, caption: str) -> str:
    """The figure ``make()`` draws, or the same figure already saved as ``png`` by the run (embedded as a
    data URI: drawing a figure costs far more than reading it back, and every training run writes a report)."""
    if png is not None and png.is_file():
        uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
        return (f'<div class="figure"><img src="{uri}" alt="{_e(png.stem)}" style="max-width:100%">'
                f'<p class="muted">{_e(caption)}</p></div>')
    return _figure(make(), caption)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return _e(value)


def _ci(values: Any) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]" if values else "n/a"


def _table(headers: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(f'<td class="num">{_num(c)}</td>' if isinstance(c, (int, float, np.number)) and not
                        isinstance(c, bool) else f"<td>{c if isinstance(c, _Raw) else _e(c)}</td>" for c in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Raw(str):
    """Table cell text that is already HTML (escaped by whoever made it)."""


def _warnings(warnings: list[str]) -> str:
    if not warnings:
        return '<div class="ok">No warnings: classes balanced, no tiny class or validation set, no example ' \
               "shared between training and evaluation data, no skipped file.</div>"
    return '<div class="warn"><ul>' + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul></div>"


def _page(title: str, sections: list[tuple[str, str]]) -> str:
    toc = " · ".join(f'<a href="#s{i}">{_e(name)}</a>' for i, (name, _) in enumerate(sections))
    body = "".join(f'<section id="s{i}"><h2>{_e(name)}</h2>{content}</section>'
                   for i, (name, content) in enumerate(sections))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f"<body><h1>{_e(title)}</h1><p>{toc}</p>{body}</body></html>\n")


def _write(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- thumbnails for the gallery


def _to_uint8(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    low, high = np.nanmin(array), np.nanmax(array)
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return (np.nan_to_num(scaled) * 255).astype(np.uint8)


def _array_image(array: np.ndarray) -> Any:
    from PIL import Image

    array = np.squeeze(np.asarray(array))
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        return Image.fromarray(_to_uint8(array[..., :3]), "RGB")
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[1] > 4:  # channels first
        return Image.fromarray(_to_uint8(np.moveaxis(array[:3], 0, -1)), "RGB")
    while array.ndim > 2:  # a volume: its middle slice, along the first remaining axis
        array = array[array.shape[0] // 2]
    if array.ndim != 2:
        return None
    return Image.fromarray(_to_uint8(array), "L")


def thumbnail(item: Any, size: int = THUMBNAIL_PX) -> str | None:
    """A small PNG of an image item as a ``data:`` URI, or None when the item is not an image.

    Items are whatever the domain reads: image file paths (vision), 2D/3D arrays (medical .npz); texts and
    other files (NIfTI, DICOM) give None.

    Example:
        >>> thumbnail(np.arange(64.0).reshape(8, 8))[:22]
        'data:image/png;base64,'
        >>> thumbnail("a text, not an image") is None
        True
    """
    from PIL import Image, UnidentifiedImageError

    image = None
    if isinstance(item, np.ndarray):
        image = _array_image(item)
    elif isinstance(item, (str, Path)) and len(str(item)) < 4096 and "\n" not in str(item):
        try:
            path = Path(item)
            if path.is_file():
                with Image.open(path) as opened:
                    opened.draft("RGB", (size * 2, size * 2))  # JPEG: decode at a reduced scale
                    image = opened.convert("RGB")
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
            image = None
    if image is None:
        return None
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def worst_mistakes(y_true: np.ndarray, probs: np.ndarray, pred: np.ndarray, limit: int = GALLERY_SIZE) -> list[int]:
    """Positions of the wrong predictions, the most confident first (probability given to the wrong class).

    Example:
        >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
        >>> worst_mistakes(np.array([1, 0, 0, 1]), p, p.argmax(1))
        [0, 1, 2]
    """
    wrong = np.flatnonzero(np.asarray(pred) != np.asarray(y_true))
    confidence = np.asarray(probs)[wrong, np.asarray(pred)[wrong]]
    order = np.argsort(-confidence, kind="stable")
    return [int(i) for i in wrong[order][:limit]]


# ---------------------------------------------------------------- the run report


def _split_name(split: str) -> str:
    from transferkit.core.metrics import split_label

    return split_label(split)


def _key_figures(meta: dict[str, Any]) -> str:
    metrics = meta.get("metrics") or {}
    rows, classes = [], []
    for split, m in metrics.items():
        if not isinstance(m, dict) or "accuracy" not in m:
            continue
        auroc_ci = (m.get("binary") or {}).get("auroc_ci95")
        rows.append([_split_name(split), m.get("n"), m.get("accuracy"), _ci(m.get("accuracy_ci95")),
                     m.get("f1_macro"), m.get("balanced_accuracy"), m.get("auroc"),
                     _ci(auroc_ci) if "auroc_ci95" in (m.get("binary") or {}) else "n/a"])
        classes.append("")
    for split, row in majority_baseline(meta).items():
        rows.append([f"majority-class baseline (always '{row['label']}'), {_split_name(split)}", row["n"],
                     row["accuracy"], "", row["f1_macro"], row["balanced_accuracy"], row["auroc"], ""])
        classes.append("baseline")
    for name, values in (meta.get("baselines") or {}).items():
        rows.append([f"baseline: {name}", values.get("n", ""), values.get("accuracy"), "", values.get("f1_macro"),
                     values.get("balanced_accuracy"), values.get("auroc"), ""])
        classes.append("baseline")
    table = _table(["split", "n", "accuracy", "accuracy 95% CI (Wilson)", "macro-F1", "balanced accuracy",
                    "AUROC", "AUROC 95% CI (bootstrap)"], rows, classes)
    notes = ['<p class="muted">Validation figures chose the epoch or C and the threshold: they are optimistic. '
             "Only held-out test figures estimate performance on new data. The model is worth its figures only "
             "above the majority-class baseline.</p>"]
    for split, m in metrics.items():
        binary = (m or {}).get("binary") if isinstance(m, dict) else None
        if binary:
            notes.append(
                f"<p>{_e(_split_name(split))}: positive class <b>{_e(binary['positive'])}</b>, threshold "
                f"{_num(binary.get('threshold'))}, sensitivity {_num(binary.get('sensitivity'))}, specificity "
                f"{_num(binary.get('specificity'))}. AUROC interval: {_e(binary.get('auroc_ci95_method', 'n/a'))}.</p>")
    if "test" not in metrics:
        from transferkit.core.metrics import OPTIMISTIC_NOTE

        notes.append(f'<div class="warn">{_e(OPTIMISTIC_NOTE)}.</div>')
    return table + "".join(notes)


def _per_class(meta: dict[str, Any]) -> str:
    parts = []
    for split, m in (meta.get("metrics") or {}).items():
        per_class = m.get("per_class") if isinstance(m, dict) else None
        if not per_class:
            continue
        rows = [[label, v.get("precision"), v.get("recall"), v.get("f1"), v.get("support")]
                for label, v in per_class.items()]
        parts.append(f"<h3>{_e(_split_name(split))}</h3>"
                     + _table(["class", "precision", "recall", "F1", "support"], rows))
    return "".join(parts) or "<p>No per-class figures.</p>"


def _data_summary(meta: dict[str, Any]) -> str:
    data = meta.get("data") or {}
    rows = []
    for split in ("train", "val", "test"):
        summary = data.get(split)
        if not summary:
            continue
        counts = ", ".join(f"{label}: {n}" for label, n in (summary.get("counts") or {}).items())
        rows.append([_split_name(split) if split != "train" else "training", summary.get("source"),
                     summary.get("n"), counts, len(summary.get("skipped") or []), summary.get("fingerprint")])
    table = _table(["split", "source", "n", "examples per class", "skipped files", "fingerprint"], rows)
    skipped = {(s["item"], s["reason"]) for split in ("train", "val", "test")
               for s in ((data.get(split) or {}).get("skipped") or [])}
    listing = ""
    if skipped:
        shown = sorted(skipped)[:50]
        listing = ("<h3>Skipped files</h3><ul>" + "".join(f"<li><code>{_e(i)}</code>: {_e(r)}</li>" for i, r in shown)
                   + "</ul>" + (f"<p>... and {len(skipped) - 50} more (all in transferkit.json)</p>"
                                if len(skipped) > 50 else ""))
    holdout = (data.get("test") or {}).get("holdout")
    note = (f"<p>Held-out test split: a stratified {holdout['fraction']:g} of <code>{_e(holdout['from'])}</code>, "
            f"set aside with seed {holdout['seed']} before training.</p>") if holdout else ""
    return "<h3>Warnings</h3>" + _warnings(data.get("warnings") or []) + table + note + listing


def _beside(folder: Path | None, name: str) -> Path | None:
    return folder / name if folder is not None else None


def _curves(meta: dict[str, Any], history: list[dict[str, Any]], folder: Path | None) -> str:
    if not history:
        return "<p>No per-epoch history (the domain fitted its head in one step).</p>"
    metric = (meta.get("plan") or {}).get("train", {}).get("metric", "accuracy")
    what = "C" if "C" in history[0] else "epoch"
    # Epochs numbered from 1, as the console and the training notes count them (the stored rows count from 0).
    xs = [row.get("C") if what == "C" else shown_epoch(row, i) for i, row in enumerate(history)]
    chosen = _chosen(history, metric)
    kept = "" if chosen is None or xs[chosen] is None else f" (chosen {what} = {xs[chosen]:g})"
    rows = [[x, row.get("train_loss"), row.get("val_loss"), row.get(f"val_{metric}"), "chosen" if i == chosen else ""]
            for i, (x, row) in enumerate(zip(xs, history))]
    return (_figure_from(_beside(folder, "curves.png"), lambda: curves_figure(history, metric),
                         f"Loss and validation {metric} per {what}; the dashed line marks the {what} kept{kept}.")
            + _table([what, "train loss", "validation loss", f"validation {metric}", ""], rows))


def _chosen(history: list[dict[str, Any]], metric: str) -> int | None:
    from transferkit.core.report import chosen_index

    return chosen_index(history, metric)


def _eval_split(meta: dict[str, Any], eval_data: dict[str, Any]) -> str | None:
    metrics = meta.get("metrics") or {}
    for split in ("test", "val"):
        if split in metrics and split in eval_data:
            return split
    return None


def _predictions(meta: dict[str, Any], probs: np.ndarray) -> np.ndarray:
    from transferkit.core.metrics import decide

    threshold = meta.get("threshold") or {}
    positive = threshold.get("positive")
    labels = meta["labels"]
    if threshold.get("value") is not None and positive in labels:
        return decide(probs, threshold["value"], labels.index(positive))
    return decide(probs)


def _confusion(meta: dict[str, Any], folder: Path | None) -> str:
    metrics = meta.get("metrics") or {}
    split = "test" if "test" in metrics else "val"
    if split not in metrics or "confusion" not in metrics[split]:
        return "<p>No confusion matrix.</p>"
    return _figure_from(_beside(folder, "confusion.png"),
                        lambda: confusion_figure(metrics[split]["confusion"], meta["labels"],
                                                 f"confusion: {_split_name(split)}"),
                        f"Rows: true class; columns: predicted class ({_split_name(split)}).")


def _roc_pr(meta: dict[str, Any], eval_data: dict[str, Any]) -> str:
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    split = _eval_split(meta, eval_data)
    binary = ((meta.get("metrics") or {}).get(split) or {}).get("binary") if split else None
    if not binary:
        return ""
    y, probs = eval_data[split]
    pos = meta["labels"].index(binary["positive"])
    y_pos = (np.asarray(y) == pos).astype(int)
    if len(np.unique(y_pos)) < 2:
        return "<p>ROC and precision-recall curves need both classes in the evaluated data.</p>"
    scores = np.asarray(probs)[:, pos]
    plt = _pyplot()
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4.5))
    fpr, tpr, _ = roc_curve(y_pos, scores)
    ax_roc.plot(fpr, tpr, label=f"model (AUROC {roc_auc_score(y_pos, scores):.3f})")
    ax_roc.plot([0, 1], [0, 1], "--", color="grey", label="chance / majority class")
    if binary.get("sensitivity") is not None and binary.get("false_positive_rate") is not None:
        ax_roc.plot([binary["false_positive_rate"]], [binary["sensitivity"]], "o", color="tab:red",
                    label=f"operating point (threshold {binary['threshold']:.3g})")
    ax_roc.set_xlabel("false-positive rate (1 - specificity)")
    ax_roc.set_ylabel("sensitivity (recall)")
    ax_roc.set_title(f"ROC, positive '{binary['positive']}' ({_split_name(split)})", fontsize=9)
    ax_roc.legend(fontsize=8, loc="lower right")
    precision, recall, _ = precision_recall_curve(y_pos, scores)
    ax_pr.step(recall, precision, where="post",
               label=f"model (average precision {average_precision_score(y_pos, scores):.3f})")
    ax_pr.axhline(y_pos.mean(), linestyle="--", color="grey", label=f"prevalence {y_pos.mean():.3f}")
    ax_pr.set_xlabel("recall")
    ax_pr.set_ylabel("precision")
    ax_pr.set_ylim(0, 1.02)
    ax_pr.set_title(f"precision-recall ({_split_name(split)})", fontsize=9)
    ax_pr.legend(fontsize=8, loc="lower left")
    # Fixed margins instead of tight_layout: one drawing pass less (every training run writes this figure).
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.93, wspace=0.22)
    return _figure(fig, f"{len(y_pos)} examples, {int(y_pos.sum())} positive.")


def _calibration(meta: dict[str, Any], eval_data: dict[str, Any], folder: Path | None) -> str:
    split = _eval_split(meta, eval_data)
    binary = ((meta.get("metrics") or {}).get(split) or {}).get("binary") if split else None
    bins = (binary or {}).get("calibration")
    if not bins:
        return ""
    rows = [[f"{b['low']:.1f}-{b['high']:.1f}", b["n"], b["mean_score"], b["frequency"],
             "few examples: little evidence" if b["n"] < FEW_IN_BIN else ""] for b in bins]
    caption = (f"Point area follows the number of examples; hollow points are bins of fewer than {FEW_IN_BIN}. "
               f"Expected calibration error {_num(binary.get('calibration_error'))}.")
    return (_figure_from(_beside(folder, "calibration.png"),
                         lambda: calibration_figure(bins, binary["positive"], split), caption)
            + _table(["score bin", "examples", "mean predicted probability", "observed frequency", ""], rows))


def _gallery(meta: dict[str, Any], eval_data: dict[str, Any], items: dict[str, list[Any]]) -> str:
    split = _eval_split(meta, eval_data)
    if split is None or split not in items:
        return ""
    y, probs = eval_data[split]
    y, probs = np.asarray(y), np.asarray(probs)
    pred = _predictions(meta, probs)
    worst = worst_mistakes(y, probs, pred)
    if not worst:
        return f"<p>No mistakes on the {_e(_split_name(split))} data.</p>"
    figures = []
    for i in worst:
        uri = thumbnail(items[split][i])
        if uri is None:
            return ""  # not an image domain (texts, or volumes the gallery cannot draw)
        name = Path(str(items[split][i])).name if isinstance(items[split][i], (str, Path)) else f"#{i}"
        figures.append(f'<figure><img src="{uri}" alt="{_e(name)}"><figcaption>true <b>{_e(meta["labels"][y[i]])}'
                       f'</b>, predicted <b>{_e(meta["labels"][pred[i]])}</b> (p={probs[i, pred[i]]:.2f})<br>'
                       f'<span class="muted">{_e(name)}</span></figcaption></figure>')
    return (f"<p>The {len(worst)} most confident wrong predictions on the {_e(_split_name(split))} data.</p>"
            f'<div class="gallery">{"".join(figures)}</div>')


def render_run_report(meta: dict[str, Any], history: list[dict[str, Any]], eval_data: dict[str, Any],
                      items: dict[str, list[Any]] | None = None, folder: Path | None = None) -> str:
    """The HTML text of a run's report (see :func:`write_html_report`); figures the run saved as PNG in
    ``folder`` (curves.png, confusion.png, calibration.png) are embedded, the others drawn as SVG."""
    items = items or {}
    preset = meta.get("preset") or {}
    header = (f"<p>A <b>{_e(meta.get('domain'))}</b> classifier by transfer from <code>{_e(meta.get('base_model'))}"
              f"</code>, preset <code>{_e(preset.get('id'))}</code>, transferkit {_e(meta.get('transferkit_version'))}"
              f". Labels: {_e(', '.join(meta.get('labels') or []))}. "
              f"Trained in {_e(meta.get('train_seconds', 'n/a'))} s."
              "</p>")
    sections = [("Key figures", header + _key_figures(meta)),
                ("Data", _data_summary(meta)),
                ("Learning curves", _curves(meta, history, folder)),
                ("Confusion matrix", _confusion(meta, folder))]
    roc = _roc_pr(meta, eval_data)
    if roc:
        sections.append(("ROC and precision-recall", roc))
    calibration = _calibration(meta, eval_data, folder)
    if calibration:
        sections.append(("Calibration", calibration))
    sections.append(("Per-class figures", _per_class(meta)))
    gallery = _gallery(meta, eval_data, items)
    if gallery:
        sections.append(("Worst mistakes", gallery))
    notes = meta.get("notes") or []
    sections.append(("Plan", f"<pre>{_e(meta.get('plan_text', ''))}</pre>"
                     + ("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes else "")))
    sections.append(("Resolved preset", f"<pre>{_e(json.dumps(preset, indent=2, default=str))}</pre>"))
    return _page(f"transferkit report: {meta.get('name', 'model')}", sections)


def write_html_report(path: Path, meta: dict[str, Any], history: list[dict[str, Any]], eval_data: dict[str, Any],
                      items: dict[str, list[Any]] | None = None) -> None:
    """Write a run's self-contained ``report.html``: key figures with intervals and the majority-class
    baseline, data summary and warnings, learning curves (chosen epoch or C marked), confusion matrix, ROC and
    precision-recall curves and calibration (binary tasks), per-class figures, the worst mistakes (images),
    the plan and the resolved preset.

    ``eval_data`` maps a split to ``(y_true, probs)``, ``items`` a split to its items (for thumbnails).
    The PNG figures :func:`transferkit.core.report.write_report` saved beside ``path`` are embedded as they
    are (drawn once); figures missing there are drawn as inline SVG.

    Example:
        >>> import tempfile
        >>> meta = {"name": "m", "domain": "toy", "labels": ["a", "b"], "metrics": {}, "data": {}}
        >>> path = Path(tempfile.mkdtemp()) / "report.html"
        >>> write_html_report(path, meta, [], {})
        >>> "<h2>Key figures</h2>" in path.read_text()
        True
    """
    _write(path, render_run_report(meta, history, eval_data, items, Path(path).parent))


# ---------------------------------------------------------------- the compare report

METHOD_COLOURS = {"transfer": "tab:blue", "scratch": "tab:orange", "classic": "tab:green", "majority": "tab:grey"}


def _budget_key(value: Any) -> tuple[int, float]:
    return (1, math.inf) if value == "all" else (0, float(value))


def _budget_name(value: Any) -> str:
    return "all labels" if value == "all" else f"{value} per class"


def _stats(values: list[float]) -> tuple[float, float, float, float, int]:
    """mean, standard deviation (0 for one seed), min, max, count of the finite values."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if not len(finite):
        return math.nan, math.nan, math.nan, math.nan, 0
    return (float(finite.mean()), float(finite.std(ddof=1)) if len(finite) > 1 else 0.0, float(finite.min()),
            float(finite.max()), len(finite))


def _grouped(rows: list[dict[str, Any]]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["per_class"]), []).append(row)
    return groups


def _methods(rows: list[dict[str, Any]]) -> list[str]:
    order = list(METHOD_COLOURS)
    return sorted({row["method"] for row in rows}, key=lambda m: (order.index(m) if m in order else len(order), m))


def _data_needs_figure(data: dict[str, Any], budgets: list[Any], methods: list[str], groups: dict) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = np.arange(len(budgets))
    for offset, method in enumerate(methods):
        shift = (offset - (len(methods) - 1) / 2) * 0.06
        points = [(x + shift, _stats([r["test_metric"] for r in groups.get((method, b), [])]))
                  for x, b in zip(xs, budgets)]
        points = [(x, s) for x, s in points if s[4]]
        if not points:
            continue
        px = [x for x, _ in points]
        mean = [s[0] for _, s in points]
        ax.plot(px, mean, "-o", color=METHOD_COLOURS.get(method), label=method)
        ax.fill_between(px, [s[2] for _, s in points], [s[3] for _, s in points], color=METHOD_COLOURS.get(method),
                        alpha=0.15)
        ax.errorbar(px, mean, yerr=[s[1] for _, s in points], fmt="none", ecolor=METHOD_COLOURS.get(method),
                    capsize=3)
    ax.set_xticks(xs, [_budget_name(b) for b in budgets])
    ax.set_xlabel("labelled examples")
    ax.set_ylabel(f"held-out {data.get('metric', 'metric')}")
    ax.set_title("data needs: metric against labels (mean, bars = std, band = min-max over seeds)", fontsize=9)
    ax.legend()
    fig.tight_layout()
    return fig


def _speed_figure(data: dict[str, Any], budget: Any, methods: list[str], groups: dict) -> Any | None:
    plt = _pyplot()
    runs = [(m, r) for m in methods for r in groups.get((m, budget), []) if r.get("epochs")]
    if not runs:
        return None
    fig, (ax_epoch, ax_time) = plt.subplots(1, 2, figsize=(10, 4))
    labelled: set[str] = set()
    for method, row in runs:
        epochs = row["epochs"]
        colour = METHOD_COLOURS.get(method)
        label = None if method in labelled else method
        labelled.add(method)
        ax_epoch.plot([e["epoch"] for e in epochs], [e["val_metric"] for e in epochs], "-o", color=colour,
                      label=label, alpha=0.8, markersize=3)
        ax_time.plot([e["elapsed_s"] for e in epochs], [e["val_metric"] for e in epochs], "-o", color=colour,
                     label=label, alpha=0.8, markersize=3)
    # Methods fitted in one step (classic, majority): their final validation figure at their wall time.
    for method in methods:
        for row in groups.get((method, budget), []):
            if not row.get("epochs") and row.get("val_metric") is not None:
                label = None if method in labelled else method
                labelled.add(method)
                ax_time.plot([row["wall_s"]], [row["val_metric"]], "D", color=METHOD_COLOURS.get(method), label=label)
    metric = data.get("metric", "metric")
    ax_epoch.set_xlabel("epoch")
    ax_epoch.set_ylabel(f"validation {metric}")
    ax_epoch.set_title(f"learning speed, {_budget_name(budget)}", fontsize=9)
    ax_time.set_xlabel("wall time (s)")
    ax_time.set_ylabel(f"validation {metric}")
    ax_time.set_title(f"compute, {_budget_name(budget)}", fontsize=9)
    ax_epoch.legend(fontsize=8)
    ax_time.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _gap_figure(budgets: list[Any], methods: list[str], groups: dict) -> Any | None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = np.arange(len(budgets))
    width = 0.8 / max(1, len(methods))
    drawn = False
    for i, method in enumerate(methods):
        stats = [_stats([r["train_metric"] - r["val_metric"] for r in groups.get((method, b), [])
                         if r.get("train_metric") is not None and r.get("val_metric") is not None]) for b in budgets]
        if not any(s[4] for s in stats):
            continue
        drawn = True
        ax.bar(xs + (i - (len(methods) - 1) / 2) * width, [s[0] if s[4] else 0 for s in stats], width,
               yerr=[s[1] if s[4] else 0 for s in stats], color=METHOD_COLOURS.get(method), label=method, capsize=3)
    if not drawn:
        _pyplot().close(fig)
        return None
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(xs, [_budget_name(b) for b in budgets])
    ax.set_ylabel("train - validation metric")
    ax.set_title("overfitting: train-validation gap (mean, bars = std over seeds)", fontsize=9)
    ax.legend()
    fig.tight_layout()
    return fig


def verdict(transfer: list[float], scratch: list[float], classic: list[float] | None = None) -> str:
    """One sentence comparing transfer with training from scratch at one label budget, and saying so when
    the classic baseline's mean (``classic``: its test figures there) beats transfer's.

    A difference counts only when it exceeds the seed-to-seed spread (the larger standard deviation; with
    one seed, no spread is measured and the sentence says so).

    Example:
        >>> verdict([0.9, 0.92], [0.6, 0.65])
        'transfer better by 0.285 (0.910 against 0.625 from scratch)'
        >>> verdict([0.8], [0.79]).endswith("one seed, so the spread is unmeasured")
        True
        >>> verdict([0.743], [0.5], [0.7997]).split("; ")[-1]
        'the classic baseline scored higher (0.800)'
    """
    t, s = _stats(transfer), _stats(scratch)
    if not t[4]:
        return "no verdict: transfer has no result at this budget"
    if not s[4]:  # scratch failed: a classic baseline above transfer still counts
        return "no verdict: scratch has no result at this budget" + _classic_clause(t, _stats(classic or []))
    difference = t[0] - s[0]
    spread = max(t[1], s[1])
    seeds = min(t[4], s[4])
    figures = f"({t[0]:.3f} against {s[0]:.3f} from scratch)"
    if seeds > 1 and abs(difference) <= spread:
        sentence = f"no clear difference: {difference:+.3f} is within the seed spread ±{spread:.3f} {figures}"
    else:
        tail = "" if seeds > 1 else "; one seed, so the spread is unmeasured"
        if difference > 0:
            sentence = f"transfer better by {difference:.3f} {figures}{tail}"
        elif difference < 0:
            sentence = f"scratch better by {-difference:.3f} {figures}{tail}"
        else:
            sentence = f"no difference {figures}{tail}"
    return sentence + _classic_clause(t, _stats(classic or []))


def _classic_clause(t: tuple[float, float, float, float, int], c: tuple[float, float, float, float, int]) -> str:
    """``"; the classic baseline scored higher (0.800)"`` when the classic mean beats transfer's, else ``""``.

    A verdict of transfer against scratch alone read "transfer better" where TF-IDF beat both: whoever
    compares must see that the cheaper baseline won, even within the seed spread (then it says so).

    Example:
        >>> _classic_clause((0.74, 0.0, 0.74, 0.74, 1), (0.80, 0.0, 0.80, 0.80, 1))
        '; the classic baseline scored higher (0.800)'
    """
    if not c[4] or not c[0] > t[0]:
        return ""
    within = c[4] > 1 and t[4] > 1 and c[0] - t[0] <= max(t[1], c[1])
    return f"; the classic baseline scored higher ({c[0]:.3f}{', within the seed spread' if within else ''})"


def render_compare_report(data: dict[str, Any]) -> str:
    """The HTML text of the compare page (see :func:`write_compare_report`)."""
    rows = list(data.get("rows") or [])
    metric = data.get("metric", "metric")
    budgets = sorted({row["per_class"] for row in rows}, key=_budget_key)
    methods = _methods(rows)
    groups = _grouped(rows)
    header = (f"<p>Domain <b>{_e(data.get('domain'))}</b>, data <code>{_e(data.get('data'))}</code>, preset "
              f"<code>{_e(data.get('preset'))}</code>, metric <b>{_e(metric)}</b>, {_e(data.get('seeds'))} seed(s) per "
              "budget. Test figures are on held-out data no method chose anything on.</p>")
    verdict_rows = []
    for budget in budgets:
        transfer = [r["test_metric"] for r in groups.get(("transfer", budget), [])]
        scratch = [r["test_metric"] for r in groups.get(("scratch", budget), [])]
        classic = [r["test_metric"] for r in groups.get(("classic", budget), [])]
        n_train = sorted({r["n_train"] for r in rows if r["per_class"] == budget})
        verdict_rows.append([_budget_name(budget), ", ".join(map(str, n_train)), _Raw(
            f'<span class="verdict">{_e(verdict(transfer, scratch, classic))}</span>')])
    summary = _table(["label budget", "training examples", "transfer against scratch (and classic)"], verdict_rows)

    perf_rows = []
    for budget in budgets:
        for method in methods:
            group = groups.get((method, budget), [])
            if not group:
                continue
            mean, std, low, high, n = _stats([r["test_metric"] for r in group])
            best = max((r["test_metric"] for r in group if r["test_metric"] is not None), default=None)
            wall = _stats([r["wall_s"] for r in group])[0]
            perf_rows.append([_budget_name(budget), method, n, mean, std, low, high, best, wall])
    performance = _table(["label budget", "method", "seeds", f"mean test {metric}", "std", "min", "max", "best",
                          "mean wall time (s)"], perf_rows)

    gap_rows = []
    for budget in budgets:
        for method in methods:
            gaps = [r["train_metric"] - r["val_metric"] for r in groups.get((method, budget), [])
                    if r.get("train_metric") is not None and r.get("val_metric") is not None]
            if gaps:
                mean, std, _, _, n = _stats(gaps)
                gap_rows.append([_budget_name(budget), method, n, mean, std])
    gap_figure = _gap_figure(budgets, methods, groups)
    overfitting = ((_figure(gap_figure, "A large positive gap: the model fits its training data much better than "
                                        "data it has not seen.") if gap_figure else "")
                   + (_table(["label budget", "method", "seeds", "train - validation (mean)", "std"], gap_rows)
                      if gap_rows else "<p>No method reported both train and validation figures.</p>"))

    speed = []
    for budget in budgets:
        fig = _speed_figure(data, budget, methods, groups)
        if fig is not None:
            speed.append(_figure(fig, f"Validation {metric} per epoch and against wall time, one line per seed "
                                      f"({_budget_name(budget)}); diamonds: methods fitted in one step."))
    notes = data.get("notes") or []
    sections = [
        ("Verdict per budget", header + summary),
        ("Data needs", _figure(_data_needs_figure(data, budgets, methods, groups),
                               f"Held-out {metric} at each label budget.") if rows else "<p>No results.</p>"),
        ("Performance", performance),
        ("Learning speed and compute", "".join(speed) or "<p>No per-epoch results.</p>"),
        ("Overfitting", overfitting),
    ]
    if notes:
        sections.append(("Notes", "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"))
    return _page(f"transferkit compare: {data.get('domain', '')}", sections)


def write_compare_report(data: dict[str, Any], path: Path) -> None:
    """Write the self-contained compare page for the JSON ``transferkit compare`` produces: metric against
    labels with the seed spread (data needs), against epochs and wall time (learning speed, compute), the
    held-out metric per budget (performance), the train-validation gap (overfitting) and a verdict per budget.

    Example:
        >>> import tempfile
        >>> row = {"method": "transfer", "per_class": 4, "seed": 0, "n_train": 8, "test_metric": 0.9,
        ...        "val_metric": 0.85, "train_metric": 1.0, "wall_s": 2.0, "epochs": []}
        >>> path = Path(tempfile.mkdtemp()) / "compare.html"
        >>> write_compare_report({"domain": "toy", "metric": "accuracy", "rows": [row]}, path)
        >>> "Verdict per budget" in path.read_text()
        True
    """
    _write(path, render_compare_report(data))
