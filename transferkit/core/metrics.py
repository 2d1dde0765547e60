"""Classification metrics and decision thresholds, computed with scikit-learn on numpy arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from transferkit.core.specs import ThresholdPolicy
from transferkit.errors import UsageError


def decide(probs: np.ndarray, threshold: float | None = None, positive: int | None = None) -> np.ndarray:
    """Class indices from probabilities: argmax, or ``probs[:, positive] >= threshold`` for binary tasks.

    Example:
        >>> decide(np.array([[0.7, 0.3], [0.4, 0.6]]), threshold=0.25, positive=1).tolist()
        [1, 1]
    """
    if threshold is None or positive is None:
        return probs.argmax(axis=1)
    negative = 1 - positive
    return np.where(probs[:, positive] >= threshold, positive, negative)


def choose_threshold(policy: ThresholdPolicy, y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Pick the decision threshold on validation scores of the positive class, as the policy asks.

    ``max_fpr``: the lowest threshold whose false-positive rate stays <= value (most recall under the bound).
    ``min_sensitivity``: the highest threshold whose recall is >= value (most specificity under the bound).
    ``min_precision``: the lowest threshold whose precision is >= value.
    Returns None for ``argmax``.

    Example:
        >>> y = np.array([0, 0, 0, 1, 1]); s = np.array([0.1, 0.2, 0.6, 0.4, 0.9])
        >>> choose_threshold(ThresholdPolicy(policy="min_sensitivity", value=1.0), y, s)
        0.4
    """
    if policy.policy == "argmax":
        return None
    if policy.value is None:
        raise UsageError(f"threshold policy '{policy.policy}' needs a value", field="threshold.value")
    candidates = np.unique(scores)[::-1]  # high to low
    positives = max(int((y_true == 1).sum()), 1)
    negatives = max(int((y_true == 0).sum()), 1)
    best: float | None = None
    for t in candidates:
        predicted = scores >= t
        tp = int((predicted & (y_true == 1)).sum())
        fp = int((predicted & (y_true == 0)).sum())
        if policy.policy == "max_fpr":
            if fp / negatives <= policy.value:
                best = float(t)  # keep lowering while the bound holds
        elif policy.policy == "min_sensitivity":
            if tp / positives >= policy.value:
                return float(t)  # the highest threshold that reaches the recall asked for
        elif policy.policy == "min_precision":
            if tp and tp / (tp + fp) >= policy.value:
                best = float(t)
    if best is None:
        # The bound cannot be met on validation data: take the most conservative threshold and say so.
        return float(candidates[0]) if policy.policy != "min_sensitivity" else float(candidates[-1])
    return best


def _auroc_rank(y: np.ndarray, scores: np.ndarray) -> float:
    # Mann-Whitney form of the AUROC (ties get average ranks): fast enough to bootstrap 1000 times.
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auroc_ci(y: np.ndarray, scores: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap confidence interval of the binary AUROC.

    Example:
        >>> low, high = bootstrap_auroc_ci(np.array([0] * 20 + [1] * 20), np.linspace(0, 1, 40))
        >>> low <= high <= 1.0
        True
    """
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            values.append(_auroc_rank(y[idx], scores[idx]))
    if not values:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def _renormalised(probs: np.ndarray) -> np.ndarray:
    clipped = np.clip(probs, 1e-7, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)


def classification_metrics(
    y_true: np.ndarray,
    probs: np.ndarray,
    labels: list[str],
    *,
    threshold: float | None = None,
    positive: int | None = None,
    confidence: bool = False,
) -> dict[str, Any]:
    """Accuracy, macro-F1, balanced accuracy, AUROC, log loss, per-class precision/recall/F1, confusion.

    For two classes it adds sensitivity and specificity at the operating point, and with ``confidence``
    a bootstrap 95% interval of the AUROC (for reports; too slow to compute every epoch).

    Example:
        >>> m = classification_metrics(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), ["a", "b"])
        >>> m["accuracy"], m["per_class"]["b"]["recall"]
        (1.0, 1.0)
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        log_loss,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    pred = decide(probs, threshold, positive)
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, pred, labels=indices, zero_division=0
    )
    present = np.unique(y_true)
    auroc: float | None = None
    if len(present) == len(labels) and len(labels) == 2:
        auroc = float(roc_auc_score(y_true, probs[:, 1]))
    elif len(present) == len(labels) and len(labels) > 2:
        auroc = float(roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=indices))
    result: dict[str, Any] = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, pred)),
        "f1_macro": float(f1_score(y_true, pred, labels=indices, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, pred)) if len(present) > 1 else None,
        "auroc": auroc,
        "loss": float(log_loss(y_true, _renormalised(probs), labels=indices)),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, pred, labels=indices).tolist(),
        "labels": list(labels),
    }
    if threshold is not None:
        # Accuracy of the most probable class too: published benchmarks (MedMNIST...) report that one.
        result["accuracy_argmax"] = float(accuracy_score(y_true, probs.argmax(axis=1)))
    if len(labels) == 2:
        pos = 1 if positive is None else positive
        tp = int(((pred == pos) & (y_true == pos)).sum())
        fn = int(((pred != pos) & (y_true == pos)).sum())
        tn = int(((pred != pos) & (y_true != pos)).sum())
        fp = int(((pred == pos) & (y_true != pos)).sum())
        result["binary"] = {
            "positive": labels[pos],
            "threshold": threshold if threshold is not None else 0.5,
            "sensitivity": tp / (tp + fn) if tp + fn else None,
            "specificity": tn / (tn + fp) if tn + fp else None,
            "false_positive_rate": fp / (fp + tn) if fp + tn else None,
        }
        if auroc is not None:
            scores = probs[:, pos]
            auroc_pos = float(roc_auc_score(y_true == pos, scores))
            result["auroc"] = auroc_pos
            if confidence:
                result["binary"]["auroc_ci95"] = list(bootstrap_auroc_ci((y_true == pos).astype(int), scores))
    return result


def metric_value(metrics: dict[str, Any], name: str) -> float:
    """The number a preset's ``metric`` names, as a "higher is better" score (loss is negated)."""
    value = metrics.get(name)
    if value is None:
        return float("-inf")
    return -float(value) if name == "loss" else float(value)
