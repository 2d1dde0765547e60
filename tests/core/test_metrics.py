"""Threshold policies against scikit-learn's curves, the bootstrap AUROC interval, binary metrics."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_curve

from transferkit.core.metrics import (
    auroc_ci_note,
    bootstrap_auroc_ci,
    choose_threshold,
    classification_metrics,
    split_label,
)
from transferkit.core.specs import ThresholdPolicy
from transferkit.errors import DataError, UsageError


def policy(name: str, value: float | None) -> ThresholdPolicy:
    return ThresholdPolicy(policy=name, value=value)


def rates(y: np.ndarray, s: np.ndarray, t: float) -> tuple[float, float, float | None]:
    """False-positive rate, recall and precision of the decision ``s >= t``, counted directly."""
    flagged = s >= t
    tp, fp = int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum())
    return fp / (y == 0).sum(), tp / (y == 1).sum(), tp / (tp + fp) if tp + fp else None


def random_case(seed: int, n: int = 60, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes, always
    s = rng.normal(y * 1.0, 1.0)
    s = 1 / (1 + np.exp(-s))
    if ties:
        s = np.round(s, 1)  # many tied scores: a threshold cannot separate them
    return y, s


CASES = [(seed, ties) for seed in range(12) for ties in (False, True)]


@pytest.mark.parametrize("seed,ties", CASES)
@pytest.mark.parametrize("value", [0.05, 0.2, 0.5])
def test_max_fpr_is_the_lowest_roc_threshold_within_the_bound(seed, ties, value):
    y, s = random_case(seed, ties=ties)
    fpr, _, thresholds = roc_curve(y, s, drop_intermediate=False)
    within = thresholds[(fpr <= value) & np.isfinite(thresholds)]
    t = choose_threshold(policy("max_fpr", value), y, s)
    if len(within):
        assert t == pytest.approx(within.min())
    else:  # even the top score is a negative: nothing may be flagged
        assert t > s.max()
    assert rates(y, s, t)[0] <= value
    # No lower score keeps the bound: the next operating point down breaks it.
    lower = s[s < t]
    if len(lower):
        assert rates(y, s, lower.max())[0] > value


@pytest.mark.parametrize("seed,ties", CASES)
@pytest.mark.parametrize("value", [0.5, 0.9, 1.0])
def test_min_sensitivity_is_the_highest_roc_threshold_reaching_the_recall(seed, ties, value):
    y, s = random_case(seed, ties=ties)
    _, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    t = choose_threshold(policy("min_sensitivity", value), y, s)
    assert t == pytest.approx(thresholds[tpr >= value].max())
    assert rates(y, s, t)[1] >= value
    higher = s[s > t]
    if len(higher):
        assert rates(y, s, higher.min())[1] < value


@pytest.mark.parametrize("seed,ties", CASES)
@pytest.mark.parametrize("value", [0.6, 0.8])
def test_min_precision_is_the_lowest_pr_threshold_reaching_the_precision(seed, ties, value):
    y, s = random_case(seed, ties=ties)
    precision, _, thresholds = precision_recall_curve(y, s)
    reaching = thresholds[precision[:-1] >= value]
    t = choose_threshold(policy("min_precision", value), y, s)
    if len(reaching):
        assert t == pytest.approx(reaching.min())
        assert rates(y, s, t)[2] >= value
    else:  # unreachable: the best precision reached is used instead
        assert rates(y, s, t)[2] == pytest.approx(precision[:-1].max())


def test_brute_force_agrees_on_every_policy():
    # The definition, point by point, over every distinct score (what the old O(n^2) loop did).
    y, s = random_case(99, n=200, ties=True)
    points = [(t, *rates(y, s, t)) for t in np.unique(s)]
    assert choose_threshold(policy("max_fpr", 0.1), y, s) == min(t for t, f, _, _ in points if f <= 0.1)
    assert choose_threshold(policy("min_sensitivity", 0.8), y, s) == max(t for t, _, r, _ in points if r >= 0.8)
    assert choose_threshold(policy("min_precision", 0.7), y, s) == min(
        t for t, _, _, p in points if p is not None and p >= 0.7)


def test_ties_are_one_operating_point():
    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.2, 0.5, 0.5, 0.5, 0.9])
    # 0.5 holds a negative and two positives: recall 1.0 cannot come without that negative.
    assert choose_threshold(policy("min_sensitivity", 1.0), y, s) == 0.5
    assert choose_threshold(policy("max_fpr", 0.4), y, s) == 0.9  # 0.5 would flag 1 of 2 negatives
    assert choose_threshold(policy("min_precision", 0.7), y, s) == 0.5  # 3 of 4 flagged are positive


def test_unreachable_max_fpr_flags_nothing_and_says_so(caplog):
    y = np.array([0, 1, 0, 1])
    s = np.array([0.9, 0.8, 0.3, 0.2])  # the top score is a negative
    with caplog.at_level(logging.WARNING, logger="transferkit"):
        t = choose_threshold(policy("max_fpr", 0.1), y, s)
    assert t > 0.9 and not (s >= t).any()
    assert "nothing is flagged" in caplog.text


def test_unreachable_min_precision_uses_the_best_reached_and_says_so(caplog):
    y = np.array([0, 1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.1])  # best precision: 0.5 (at 0.8 and at 0.6)
    with caplog.at_level(logging.WARNING, logger="transferkit"):
        t = choose_threshold(policy("min_precision", 0.9), y, s)
    assert t == 0.6  # the lowest threshold at the best precision: the most recall
    assert "not reached" in caplog.text


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1, 1]])
def test_one_class_validation_data_cannot_choose_a_threshold(labels):
    with pytest.raises(DataError, match="only one class"):
        choose_threshold(policy("min_sensitivity", 0.9), np.array(labels), np.array([0.1, 0.5, 0.9]))


def test_argmax_and_missing_value():
    y, s = random_case(0)
    assert choose_threshold(policy("argmax", None), y, s) is None
    with pytest.raises(UsageError, match="needs a value"):
        choose_threshold(policy("max_fpr", None), y, s)


# ------------------------------------------------------------------ bootstrap AUROC interval
def test_bootstrap_interval_covers_the_true_auroc_about_95_percent():
    # Scores N(1, 1) for positives and N(0, 1) for negatives: the true AUROC is Phi(1 / sqrt(2)).
    from scipy.stats import norm

    true_auc = norm.cdf(1 / np.sqrt(2))
    rng = np.random.default_rng(0)
    hits, widths = 0, []
    trials = 200
    for trial in range(trials):
        y = np.array([1] * 40 + [0] * 40)
        s = rng.normal(y.astype(float), 1.0)
        low, high = bootstrap_auroc_ci(y, s, n=400, seed=trial)
        hits += low <= true_auc <= high
        widths.append(high - low)
    coverage = hits / trials
    # Percentile bootstrap slightly under-covers at n=80; it must be near 95%, not near 50% or 100%.
    assert 0.86 <= coverage <= 0.99, coverage
    assert 0.1 < np.mean(widths) < 0.3


def test_each_resample_auroc_is_sklearns_on_the_resampled_data():
    # The bootstrap computes each resample's AUROC from counts; check it against roc_auc_score on the
    # explicitly repeated examples, ties included.
    from sklearn.metrics import roc_auc_score

    from transferkit.core.metrics import _auroc_from_counts, _resample_counts

    y, s = random_case(5, n=50, ties=True)
    pos, neg = s[y == 1], np.sort(s[y == 0])
    below, upto = np.searchsorted(neg, pos, "left"), np.searchsorted(neg, pos, "right")
    rng = np.random.default_rng(0)
    pos_counts, neg_counts = _resample_counts(rng, len(pos), 20), _resample_counts(rng, len(neg), 20)
    assert (pos_counts.sum(axis=1) == len(pos)).all() and (neg_counts.sum(axis=1) == len(neg)).all()
    values = _auroc_from_counts(below, upto, pos_counts, neg_counts)
    for row in range(20):
        scores = np.concatenate([np.repeat(pos, pos_counts[row]), np.repeat(neg, neg_counts[row])])
        labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
        assert values[row] == pytest.approx(roc_auc_score(labels, scores))


def test_bootstrap_interval_narrows_with_more_data():
    rng = np.random.default_rng(1)
    width = {}
    for n in (20, 500):
        y = np.array([1] * n + [0] * n)
        low, high = bootstrap_auroc_ci(y, rng.normal(y.astype(float), 1.0), n=500)
        width[n] = high - low
    assert width[500] < width[20] / 3


def test_bootstrap_interval_holds_the_point_estimate_and_is_reproducible():
    from sklearn.metrics import roc_auc_score

    y, s = random_case(3, n=100)
    low, high = bootstrap_auroc_ci(y, s, seed=7)
    assert low < roc_auc_score(y, s) < high
    assert bootstrap_auroc_ci(y, s, seed=7) == (low, high)


def test_a_perfect_small_validation_set_does_not_claim_certainty():
    # 12 examples, all ranked correctly: every resample gives AUROC 1.0; [1.0, 1.0] would claim certainty.
    y = np.array([0] * 6 + [1] * 6)
    s = np.linspace(0.05, 0.95, 12)
    assert bootstrap_auroc_ci(y, s) is None
    note = auroc_ci_note(y, s, None)
    assert note.startswith("undefined") and "6 positives and 6 negatives" in note
    m = classification_metrics(y, np.stack([1 - s, s], axis=1), ["neg", "pos"], confidence=True)
    assert m["auroc"] == 1.0 and m["binary"]["auroc_ci95"] is None
    assert m["binary"]["auroc_ci95_method"].startswith("undefined")


def test_one_class_data_has_no_interval():
    assert bootstrap_auroc_ci(np.ones(10, int), np.linspace(0, 1, 10)) is None
    assert "one class" in auroc_ci_note(np.ones(10, int), np.linspace(0, 1, 10), None)


def test_binary_metrics_at_the_operating_point():
    y = np.array([0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.6, 0.4, 0.7, 0.9])
    m = classification_metrics(y, np.stack([1 - p1, p1], 1), ["neg", "pos"], threshold=0.35, positive=1,
                               confidence=True)
    assert m["binary"]["sensitivity"] == 1.0 and m["binary"]["specificity"] == 0.5
    assert m["binary"]["threshold"] == 0.35 and m["accuracy"] == 0.8 and m["accuracy_argmax"] == 0.6
    assert m["binary"]["auroc_ci95"] is not None and "bootstrap" in m["binary"]["auroc_ci95_method"]


def test_split_labels_say_what_the_figures_are_worth():
    assert split_label("val") == "validation (used for selection)"
    assert split_label("test") == "held-out test"
