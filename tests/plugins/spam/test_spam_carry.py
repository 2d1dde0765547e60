"""Generic to specific for the linear heads: the four carry-overs, their choice by cross-validation on the
new labels only, and the bounded generic sample an artifact keeps."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from transferkit.plugins.spam.carry import (
    CarryOverLogisticRegression,
    GenericData,
    choose_carry_over,
    load_sample,
    reservoir,
    save_sample,
)


def _task(n: int, seed: int, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A linear task in 30 dimensions; ``flip`` gives the opposite labels (a generic model that misleads)."""
    rng = np.random.default_rng(seed)
    w = np.r_[np.linspace(2.0, 0.5, 10), np.zeros(20)]
    x = rng.normal(size=(n, 30))
    y = (x @ w + 0.3 * rng.normal(size=n) > 0).astype(int)
    return x, (1 - y) if flip else y


def test_augmentation_is_daume_iii_and_collapses_to_one_linear_model():
    """Generic rows [x, x, 0], new rows [x, 0, x]; the new domain's model is shared + its own weights."""
    from sklearn.linear_model import LogisticRegression

    xg, yg = _task(200, 0)
    x, y = _task(40, 1)
    ours = CarryOverLogisticRegression("augment", 1.0, C=10.0, generic=GenericData(xg, yg)).fit(x, y)
    stacked = np.vstack([np.hstack([xg, xg, 0 * xg]), np.hstack([x, 0 * x, x])])
    weights = np.r_[np.full(200, 40 / 200), np.ones(40)]  # strength 1: the generic rows weigh as much in all
    reference = LogisticRegression(C=10.0, solver="liblinear").fit(stacked, np.r_[yg, y], sample_weight=weights)
    coef = reference.coef_.ravel()
    assert ours.coef_.shape == (1, 30)
    assert np.allclose(ours.coef_.ravel(), coef[:30] + coef[60:], atol=1e-6)
    assert np.allclose(ours.decision_function(x), x @ (coef[:30] + coef[60:]) + reference.intercept_[0])


def test_replay_weight_moves_the_model_toward_the_generic_data():
    xg, yg = _task(300, 0)
    x, y = _task(30, 1, flip=True)  # the new labels disagree with the generic ones
    generic = GenericData(xg, yg)
    light = CarryOverLogisticRegression("replay", 0.1, C=10.0, generic=generic).fit(x, y)
    heavy = CarryOverLogisticRegression("replay", 10.0, C=10.0, generic=generic).fit(x, y)
    agree = lambda m: float((m.predict(xg) == yg).mean())  # noqa: E731
    assert agree(heavy) > 0.8 > agree(light)


def test_cross_validation_sets_a_misleading_generic_model_aside():
    """Generic labels opposite to the new ones: every carry-over scores worse, so the choice is alone."""
    xg, yg = _task(300, 0, flip=True)
    x, y = _task(80, 1)
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(C=10.0).fit(xg, yg)
    choice = choose_carry_over(x, y, prior=(head.coef_.ravel(), float(head.intercept_[0])),
                               generic=GenericData(xg, yg))
    assert choice.carry == "alone" and choice.strength == 0.0
    assert {row["carry"] for row in choice.rows} == {"alone", "prior", "replay", "augment"}
    assert "alone" in choice.note() and "cross-validation on the new training labels only" in choice.note()


def test_cross_validation_keeps_a_helpful_generic_model_when_labels_are_few():
    """Same task, 16 new labels: the generic data rank held-out labels better than the 16 alone."""
    xg, yg = _task(400, 0)
    x, y = _task(16, 3)
    choice = choose_carry_over(x, y, generic=GenericData(xg, yg))
    best_alone = choice.best_of("alone")["cv_score"]
    assert choice.carry in ("replay", "augment") and choice.score > best_alone
    chosen = [row for row in choice.rows if row["chosen"]]
    assert len(chosen) == 1 and chosen[0]["cv_score"] == max(row["cv_score"] for row in choice.rows)


def test_generic_data_is_shared_not_copied_when_scikit_learn_clones_the_estimator():
    from sklearn.base import clone

    generic = GenericData(*_task(50, 0))
    assert clone(CarryOverLogisticRegression("replay", 1.0, generic=generic)).generic is generic


def test_the_generic_sample_is_bounded_and_round_trips_without_pickle(tmp_path):
    rng = np.random.default_rng(0)
    counts = sp.random(500, 1000, density=0.02, format="csr", random_state=0, data_rvs=lambda n: rng.integers(1, 9, n))
    labels = rng.integers(0, 2, 500)
    rows, kept = reservoir(counts, labels, rows=300, nnz=4000)
    assert rows.shape[0] <= 300 and rows.nnz <= 4000 and len(kept) == rows.shape[0]
    path = save_sample(tmp_path, rows, kept)
    with np.load(path, allow_pickle=False) as saved:  # arrays only
        assert saved["data"].dtype == np.uint16
    loaded, labels_back = load_sample(tmp_path)
    assert (loaded != rows).nnz == 0 and np.array_equal(labels_back, kept)
    assert load_sample(tmp_path / "nowhere") is None


def test_unknown_carry_over_is_refused():
    with pytest.raises(ValueError, match="carry must be one of"):
        CarryOverLogisticRegression("guess").fit(*_task(20, 0))
