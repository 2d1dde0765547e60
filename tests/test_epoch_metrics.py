"""The per-epoch figures (core/metrics.py epoch_metrics) equal the full metrics they replace during training."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from transferkit.core.metrics import classification_metrics, epoch_metrics


@pytest.mark.parametrize("n_labels", [2, 3, 5])
def test_epoch_metrics_equal_the_full_metrics(n_labels: int) -> None:
    rng = np.random.default_rng(n_labels)
    labels = [f"c{i}" for i in range(n_labels)]
    for trial in range(40):
        n = int(rng.integers(3, 30))
        # Every third case leaves the last class out of the targets (no AUROC, balanced accuracy over the rest).
        y = rng.integers(0, n_labels - 1 if trial % 3 == 0 else n_labels, n)
        probs = rng.dirichlet(np.full(n_labels, 0.5), n)
        probs[0] = np.eye(n_labels)[0]  # a certain prediction: the log-loss clipping matters
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn warns about classes absent from y
            full = classification_metrics(y, probs, labels)
        fast = epoch_metrics(y, probs, labels)
        assert set(fast) == {"accuracy", "f1_macro", "auroc", "balanced_accuracy", "loss"}
        for key, value in fast.items():
            if full[key] is None:
                assert value is None, key
            else:
                assert value == pytest.approx(full[key], rel=1e-12, abs=1e-12), (key, trial)


def test_epoch_metrics_single_class_targets() -> None:
    y = np.array([1, 1, 1])
    probs = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    fast = epoch_metrics(y, probs, ["a", "b"])
    assert fast["auroc"] is None and fast["balanced_accuracy"] is None
    assert fast["accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("n_labels", [2, 4])
def test_epoch_auroc_counts_tied_scores_as_scikit_learn_does(n_labels: int) -> None:
    # Rounded scores tie often (a head that saturates, few distinct probabilities): ties count half.
    rng = np.random.default_rng(10 + n_labels)
    labels = [f"c{i}" for i in range(n_labels)]
    for _ in range(20):
        y = np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, 20)])
        probs = np.round(rng.dirichlet(np.ones(n_labels), len(y)), 1) + 1e-3
        probs /= probs.sum(axis=1, keepdims=True)
        full = classification_metrics(y, probs, labels)
        assert epoch_metrics(y, probs, labels)["auroc"] == pytest.approx(full["auroc"], rel=1e-12, abs=1e-12)
