"""The run report: calibration bins and their counts, the model card, metrics.json, honest split names."""
from __future__ import annotations

import json

import numpy as np
import pytest

from transferkit.core.metrics import classification_metrics
from transferkit.core.report import calibration_bins, expected_calibration_error, model_card, write_report


def test_calibration_bins_count_every_score_once_in_its_bin():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0, 1, 500), [0.0, 1.0, 0.5, 0.1]])  # edges included
    y = (rng.uniform(0, 1, len(scores)) < scores).astype(float)
    bins = calibration_bins(y, scores, n_bins=10)
    assert sum(b["n"] for b in bins) == len(scores)
    for b in bins:
        inside = (scores >= b["low"]) & ((scores < b["high"]) if b["high"] < 1 else (scores <= 1))
        assert b["n"] == inside.sum()
        assert b["mean_score"] == pytest.approx(scores[inside].mean())
        assert b["frequency"] == pytest.approx(y[inside].mean())
    assert bins[-1]["high"] == 1.0 and bins[0]["low"] == 0.0


def test_calibration_bins_leave_out_empty_bins_and_agree_with_sklearn():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(1)
    scores = rng.uniform(0.2, 0.7, 300)
    y = (rng.uniform(0, 1, 300) < scores).astype(float)
    bins = calibration_bins(y, scores, n_bins=10)
    assert [b["low"] for b in bins] == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.6])
    frequency, mean_score = calibration_curve(y, scores, n_bins=10, strategy="uniform")
    np.testing.assert_allclose([b["frequency"] for b in bins], frequency)
    np.testing.assert_allclose([b["mean_score"] for b in bins], mean_score)


def test_expected_calibration_error_weighs_bins_by_their_counts():
    bins = [{"n": 90, "mean_score": 0.5, "frequency": 0.5}, {"n": 10, "mean_score": 0.9, "frequency": 0.4}]
    assert expected_calibration_error(bins) == pytest.approx(0.05)  # unweighted would be 0.25
    assert expected_calibration_error([]) is None
    # A perfectly calibrated model on many examples is close to 0; a confidently wrong one is not.
    rng = np.random.default_rng(2)
    s = rng.uniform(0, 1, 20000)
    assert expected_calibration_error(calibration_bins((rng.uniform(0, 1, 20000) < s).astype(float), s)) < 0.02
    assert expected_calibration_error(calibration_bins((s < 0.5).astype(float), s)) > 0.4


def _meta(splits: dict[str, tuple[np.ndarray, np.ndarray]], **data_extra) -> dict:
    labels = ["benign", "malignant"]
    metrics = {name: classification_metrics(y, p, labels, threshold=0.3, positive=1, confidence=True)
               for name, (y, p) in splits.items()}
    return {
        "name": "card-test", "domain": "toy", "transferkit_version": "9.9", "base_model": "toy/mlp.random",
        "labels": labels, "preset": {"id": "toy/default", "description": "defaults"},
        "plan": {"strategy": "linear-probe", "reason": "auto", "train": {"metric": "auroc"}},
        "plan_text": "strategy: linear-probe", "metrics": metrics,
        "data": {"train": {"source": "train.npz", "counts": {"benign": 30, "malignant": 10}, "fingerprint": "abc"},
                 **data_extra},
    }


def _scores(seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    p1 = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0.01, 0.99)
    return y, np.stack([1 - p1, p1], axis=1)


def test_model_card_names_validation_figures_and_says_they_are_optimistic_without_test():
    card = model_card(_meta({"val": _scores(0)}))
    assert "| validation (used for selection) | 40 |" in card
    assert "| val |" not in card and "held-out test |" not in card
    assert "optimistic" in card and "--test PATH" in card and "--holdout-test" in card
    assert "positive class `malignant`, threshold 0.3000" in card
    assert "AUROC 95% CI [" in card and "stratified percentile bootstrap" in card
    assert "# card-test" in card and "toy/mlp.random" in card and "fingerprint `abc`" in card


def test_model_card_with_test_data_names_it_held_out_and_records_the_holdout():
    holdout = {"from": "train.npz", "fraction": 0.2, "seed": 3, "n": 3, "indices": [1, 5, 9]}
    card = model_card(_meta({"val": _scores(0), "test": _scores(1, 20)}, test={"holdout": holdout}))
    assert "| validation (used for selection) | 40 |" in card and "| held-out test | 20 |" in card
    assert "**Note:**" not in card  # held-out figures exist: no optimism warning
    assert "stratified 0.2 of `train.npz`" in card and "seed 3" in card and "3 examples" in card


def test_model_card_says_an_undefined_interval_is_undefined():
    y = np.array([0] * 6 + [1] * 6)
    p1 = np.linspace(0.05, 0.95, 12)  # perfectly separated: the bootstrap has no spread
    card = model_card(_meta({"val": (y, np.stack([1 - p1, p1], 1))}))
    assert "AUROC 95% CI undefined (undefined: every bootstrap resample" in card
    assert "[1.0000, 1.0000]" not in card


def test_write_report_labels_splits_and_stores_calibration_counts(tmp_path):
    splits = {"val": _scores(0), "test": _scores(1, 60)}
    meta = _meta(splits)
    write_report(tmp_path, meta, [{"epoch": 0, "train_loss": 0.5, "val_loss": 0.4, "val_auroc": 0.8}], splits)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["splits"] == {"val": "validation (used for selection)", "test": "held-out test"}
    calibration = saved["metrics"]["test"]["binary"]["calibration"]  # on the test split when there is one
    assert sum(b["n"] for b in calibration) == 60
    assert saved["metrics"]["test"]["binary"]["calibration_error"] == pytest.approx(
        expected_calibration_error(calibration))
    assert "calibration" not in saved["metrics"]["val"]["binary"]
    card = (tmp_path / "README.md").read_text()
    assert "calibration (held-out test): expected calibration error" in card
    assert f"examples per bin: {calibration[0]['low']:.1f}-{calibration[0]['high']:.1f}: {calibration[0]['n']}" in card
    for name in ("curves.png", "confusion.png", "calibration.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
