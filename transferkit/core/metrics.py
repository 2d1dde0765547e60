"""Classification metrics and decision thresholds, computed with scikit-learn on numpy arrays."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from transferkit.core.specs import ThresholdPolicy
from transferkit.errors import DataError, UsageError

log = logging.getLogger("transferkit")

# What each split's figures are worth, in the words the CLI table, metrics.json and the model card use.
# Validation data chose the epoch, C and the threshold: its figures are optimistic. Only test data that
# played no part in any choice give an unbiased estimate.
SPLIT_LABELS = {
    "train": "training",
    "val": "validation (used for selection)",
    "test": "held-out test",
}
OPTIMISTIC_NOTE = (
    "no test data: these validation figures chose the model and are optimistic; for held-out figures pass "
    "--test PATH, or --holdout-test 0.2 to set aside a stratified 20% of the training data (recorded in the model)"
)


def split_label(split: str) -> str:
    """The honest name of a split's figures.

    Example:
        >>> split_label("val")
        'validation (used for selection)'
    """
    return SPLIT_LABELS.get(split, split)


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


def _single_class_check(y_true: np.ndarray) -> None:
    if len(np.unique(y_true)) < 2:
        raise DataError(
            "the validation data hold only one class, so no decision threshold can be chosen on them",
            field="threshold",
            fix="give validation data with both classes (--val), or use threshold policy 'argmax'",
        )


def choose_threshold(policy: ThresholdPolicy, y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Pick the decision threshold on validation scores of the positive class, as the policy asks.

    A sample is called positive when ``score >= threshold``. Every operating point comes from
    scikit-learn's ``roc_curve`` / ``precision_recall_curve`` (one sort: O(n log n)); tied scores are one
    operating point, since a threshold cannot separate them.

    ``max_fpr``: the lowest threshold whose false-positive rate is <= value (most recall under the bound);
    when even the highest score is a negative, a threshold just above every score (nothing flagged).
    ``min_sensitivity``: the highest threshold whose recall is >= value (most specificity under the bound).
    ``min_precision``: the lowest threshold whose precision is >= value (most recall under the bound);
    when no threshold reaches it, the bound is lowered to the best precision reached, and a warning says so.
    Returns None for ``argmax``.

    Example:
        >>> y = np.array([0, 0, 0, 1, 1]); s = np.array([0.1, 0.2, 0.6, 0.4, 0.9])
        >>> choose_threshold(ThresholdPolicy(policy="min_sensitivity", value=1.0), y, s)
        0.4
        >>> choose_threshold(ThresholdPolicy(policy="max_fpr", value=0.34), y, s)
        0.4
        >>> choose_threshold(ThresholdPolicy(policy="min_precision", value=1.0), y, s)
        0.9
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    if policy.policy == "argmax":
        return None
    if policy.value is None:
        raise UsageError(f"threshold policy '{policy.policy}' needs a value", field="threshold.value")
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    _single_class_check(y_true)
    if policy.policy == "min_precision":
        precision, _, thresholds = precision_recall_curve(y_true, scores)
        precision = precision[:-1]  # the last point (precision 1, recall 0) has no threshold
        bound = policy.value
        if not (precision >= bound).any():
            bound = float(precision.max())
            log.warning("threshold: precision %.3f is not reached on validation data; using the best reached, %.3f",
                        policy.value, bound)
        return float(thresholds[np.flatnonzero(precision >= bound)[0]])  # thresholds ascend: the lowest
    # roc_curve: thresholds descend, the first one (+inf) flags nothing; fpr and tpr never decrease.
    fpr, tpr, thresholds = roc_curve(y_true, scores, drop_intermediate=False)
    if policy.policy == "max_fpr":
        index = int(np.flatnonzero(fpr <= policy.value)[-1])
        if index == 0:
            log.warning("threshold: at false-positive rate <= %g nothing is flagged positive on validation data",
                        policy.value)
            return float(np.nextafter(scores.max(), np.inf))
        return float(thresholds[index])
    # min_sensitivity: reachable always (the lowest score flags every sample, tpr = 1).
    return float(thresholds[int(np.flatnonzero(tpr >= policy.value)[0])])


def _resample_counts(rng: np.random.Generator, size: int, k: int) -> np.ndarray:
    """``k`` bootstrap resamples of ``size`` items, as counts: row r, column i = times item i was drawn."""
    draws = rng.integers(0, size, (k, size)) + np.arange(k)[:, None] * size
    return np.bincount(draws.ravel(), minlength=k * size).reshape(k, size)


def _auroc_from_counts(below: np.ndarray, upto: np.ndarray, pos_counts: np.ndarray,
                       neg_counts: np.ndarray) -> np.ndarray:
    """AUROC (ties count one half) of weighted samples: positive i is above ``below[i]`` sorted negatives
    and tied with those up to ``upto[i]``; one row of counts per resample."""
    cumulative = np.hstack([np.zeros((len(neg_counts), 1)), np.cumsum(neg_counts, axis=1)])
    beaten = cumulative[:, below] + 0.5 * (cumulative[:, upto] - cumulative[:, below])
    return (pos_counts * beaten).sum(axis=1) / (pos_counts.shape[1] * neg_counts.shape[1])


def bootstrap_auroc_ci(y: np.ndarray, scores: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float] | None:
    """95% percentile bootstrap confidence interval of the binary AUROC, or None when it is undefined.

    Positives and negatives are resampled separately (a stratified bootstrap, as in pROC), so every
    resample holds both classes and the AUROC is always defined. When every resample gives the same
    AUROC (the scores separate the classes perfectly, or are all tied) the bootstrap measures no
    uncertainty at all, and reporting [1.0, 1.0] would claim a certainty a handful of examples cannot
    give: the interval is then undefined (None). :func:`auroc_ci_note` says why in words.

    Example:
        >>> low, high = bootstrap_auroc_ci(np.array([0, 1] * 20), np.linspace(0, 1, 40))
        >>> 0.3 < low < 0.5 < high < 0.8
        True
        >>> bootstrap_auroc_ci(np.array([0] * 6 + [1] * 6), np.arange(12.0)) is None  # perfect separation
        True
    """
    y = np.asarray(y).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = scores[y == 1], np.sort(scores[y == 0])
    if len(pos) == 0 or len(neg) == 0:
        return None
    # Where each positive falls among the sorted negatives, found once: a resample then only changes how
    # many times each example counts, and its AUROC is a weighted sum (no sort per resample).
    below, upto = np.searchsorted(neg, pos, side="left"), np.searchsorted(neg, pos, side="right")
    rng = np.random.default_rng(seed)
    values = []
    rows = max(1, 2_000_000 // len(y))  # resamples per block: memory stays bounded on large sets
    for start in range(0, n, rows):
        k = min(rows, n - start)
        pos_counts = _resample_counts(rng, len(pos), k)
        neg_counts = _resample_counts(rng, len(neg), k)
        values.append(_auroc_from_counts(below, upto, pos_counts, neg_counts))
    values = np.concatenate(values)
    if np.ptp(values) == 0:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def auroc_ci_note(y: np.ndarray, scores: np.ndarray, interval: tuple[float, float] | None, n: int = 1000) -> str:
    """How the AUROC interval was computed, or why it is undefined (saved next to it, shown in the card).

    Example:
        >>> auroc_ci_note(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]), None)[:9]
        'undefined'
    """
    y = np.asarray(y).astype(int)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if interval is not None:
        return f"stratified percentile bootstrap, {n} resamples of {n_pos} positives and {n_neg} negatives"
    if n_pos == 0 or n_neg == 0:
        return "undefined: only one class in these data"
    return (f"undefined: every bootstrap resample of these {n_pos} positives and {n_neg} negatives gives the "
            "same AUROC (the scores separate the classes perfectly, or are all tied), so the bootstrap cannot "
            "measure the uncertainty; a larger evaluation set can")


def accuracy_ci95(correct: int, n: int) -> tuple[float, float] | None:
    """Wilson score 95% interval of an accuracy of ``correct`` out of ``n`` (None when ``n`` is 0).

    Unlike the normal approximation it never collapses to a point: 12 right out of 12 is not a certain
    1.0 but anything from about 0.76 up, which is what a 12-example validation set can say.

    Example:
        >>> [round(v, 3) for v in accuracy_ci95(12, 12)]
        [0.758, 1.0]
    """
    from scipy.stats import binomtest

    if n <= 0:
        return None
    interval = binomtest(int(correct), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


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
    a Wilson 95% interval of the accuracy and a bootstrap 95% interval of the AUROC (for reports; too
    slow to compute every epoch).

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
    if confidence:
        interval = accuracy_ci95(int((pred == y_true).sum()), len(y_true))
        result["accuracy_ci95"] = list(interval) if interval is not None else None
        result["accuracy_ci95_method"] = f"Wilson score interval, {len(y_true)} examples"
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
                y_pos = (y_true == pos).astype(int)
                interval = bootstrap_auroc_ci(y_pos, scores)
                result["binary"]["auroc_ci95"] = list(interval) if interval is not None else None
                result["binary"]["auroc_ci95_method"] = auroc_ci_note(y_pos, scores, interval)
                result["binary"]["pr_curve"] = pr_curve(y_pos, scores)
    return result


def epoch_metrics(y_true: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict[str, float | None]:
    """The five figures a preset's ``metric`` can name (accuracy, f1_macro, auroc, balanced_accuracy, loss),
    equal to :func:`classification_metrics`' (argmax decisions), for every epoch of training.

    Counted with NumPy from one confusion matrix: the full metrics make about ten scikit-learn calls, each
    validating its arguments, which cost more than training a head on cached features for an epoch
    (benchmarks/speed.py). AUROC likewise, from ranks (:func:`_rank_auroc`).

    Example:
        >>> m = epoch_metrics(np.array([0, 1, 1]), np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]), ["a", "b"])
        >>> round(m["accuracy"], 3), round(m["f1_macro"], 3), m["balanced_accuracy"], m["auroc"]
        (0.667, 0.667, 0.75, 1.0)
    """
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(labels)
    pred = probs.argmax(axis=1)
    confusion = np.bincount(y_true * k + pred, minlength=k * k).reshape(k, k)
    tp, true_n, pred_n = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
    f1_den = true_n + pred_n  # 2tp + fp + fn; F1 is 0 where it is 0 (zero_division=0)
    f1 = np.divide(2 * tp, f1_den, out=np.zeros(k), where=f1_den > 0)
    present = true_n > 0
    auroc: float | None = None
    if present.all() and k >= 2:  # scikit-learn's one-vs-rest macro AUROC (binary: of the second class)
        auroc = _rank_auroc(y_true == 1, probs[:, 1]) if k == 2 else float(
            np.mean([_rank_auroc(y_true == c, probs[:, c]) for c in range(k)]))
    # log_loss of the renormalised probabilities, clipped as scikit-learn clips them.
    eps = np.finfo(np.float64).eps
    picked = np.clip(_renormalised(probs)[np.arange(len(y_true)), y_true], eps, 1 - eps)
    return {
        "accuracy": float(tp.sum() / len(y_true)) if len(y_true) else 0.0,
        "f1_macro": float(f1.mean()),
        "balanced_accuracy": float((tp[present] / true_n[present]).mean()) if present.sum() > 1 else None,
        "auroc": auroc,
        "loss": float(-np.log(picked).mean()),
    }

def _rank_auroc(positive: np.ndarray, scores: np.ndarray) -> float:
    """AUROC as the Mann-Whitney statistic: the chance that a positive outscores a negative, ties counting
    half (ranks averaged over ties). The area under scikit-learn's ROC curve, without its argument checks.

    Example:
        >>> _rank_auroc(np.array([False, True, True]), np.array([0.2, 0.7, 0.2]))
        0.75
    """
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based, averaged over ties
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def pr_curve(y_pos: np.ndarray, scores: np.ndarray, points: int = 50) -> dict[str, Any]:
    """The precision-recall curve of the positive class (at most ``points`` operating points) and its
    average precision: what the other thresholds would have given.

    Example:
        >>> c = pr_curve(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
        >>> round(c["average_precision"], 3), c["points"][0]
        (0.833, {'threshold': 0.1, 'precision': 0.5, 'recall': 1.0})
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y_pos, scores)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(points, len(thresholds))).round().astype(int))
    return {
        "average_precision": float(average_precision_score(y_pos, scores)),
        "points": [{"threshold": round(float(thresholds[i]), 6), "precision": round(float(precision[i]), 6),
                    "recall": round(float(recall[i]), 6)} for i in keep],
    }


def metric_value(metrics: dict[str, Any], name: str) -> float:
    """The number a preset's ``metric`` names, as a "higher is better" score (loss is negated)."""
    value = metrics.get(name)
    if value is None:
        return float("-inf")
    return -float(value) if name == "loss" else float(value)
