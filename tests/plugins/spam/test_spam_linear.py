"""The TF-IDF backbone and the linear heads: hashing, idf, the prior, calibration."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from transferkit.plugins.spam.linear import PriorLogisticRegression, fit_binary
from transferkit.plugins.spam.tfidf import TfidfBackbone

TEXTS = ["WIN a free prize now, call 0800", "are we still meeting at noon?", "free entry to win cash",
         "lunch tomorrow with the team", "claim your prize now", "see you at the meeting"]


def test_tfidf_rows_are_normalised_and_rare_terms_weigh_more():
    backbone = TfidfBackbone(hash_bits=12)
    backbone.fit_idf(TEXTS)
    x = backbone(["win a prize", "meeting"]).to_dense()
    assert x.shape == (2, 2 * 4096) and torch.allclose(x.norm(dim=1), torch.ones(2))
    # idf: a term seen in many texts gets a lower weight than one seen once
    assert float(backbone.idf.max()) > float(backbone.idf[backbone.idf > 1].min())
    assert torch.equal(torch.from_numpy(backbone.sparse(["win a prize"]).toarray()), x[:1])


def test_tfidf_state_is_only_the_idf_buffer_and_survives_a_state_dict_round_trip():
    first = TfidfBackbone(hash_bits=10)
    first.fit_idf(TEXTS)
    second = TfidfBackbone(**{k: v for k, v in first.config().items() if k != "architecture"})
    assert set(first.state_dict()) == {"idf", "fitted"}
    second.load_state_dict(first.state_dict())
    assert torch.equal(first(["free cash"]).to_dense(), second(["free cash"]).to_dense())


def test_unfitted_tfidf_refuses_to_run():
    from transferkit.errors import UsageError

    with pytest.raises(UsageError, match="not been fitted"):
        TfidfBackbone(hash_bits=8)(["hello"])


def test_bad_tfidf_options_are_refused():
    from transferkit.errors import UsageError

    with pytest.raises(UsageError, match="hash_bits"):
        TfidfBackbone(hash_bits=40)
    with pytest.raises(UsageError, match="unknown TF-IDF option"):
        TfidfBackbone(vocabulary=["a"])


def _toy(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return x, y


def test_prior_logistic_regression_without_prior_is_sklearns():
    from sklearn.linear_model import LogisticRegression

    x, y = _toy()
    ours = PriorLogisticRegression(C=0.5, prior_coef=np.zeros(4)).fit(x, y)  # the scipy path, centred at 0
    theirs = LogisticRegression(C=0.5).fit(x, y)
    assert np.allclose(ours.coef_, theirs.coef_, atol=1e-3) and np.allclose(ours.intercept_, theirs.intercept_, atol=1e-3)


def test_a_strong_prior_keeps_the_weights_at_the_prior_and_a_weak_one_lets_the_data_speak():
    x, y = _toy()
    prior = np.array([-1.0, 2.0, 0.5, 0.0])
    strong = PriorLogisticRegression(C=1e-6, prior_coef=prior).fit(x, y)
    weak = PriorLogisticRegression(C=1e3, prior_coef=prior).fit(x, y)
    assert np.allclose(strong.coef_.ravel(), prior, atol=1e-3)
    assert weak.coef_.ravel()[0] > 1.0 and weak.coef_.ravel()[1] < 0  # the data's signs, not the prior's


def test_fit_binary_head_equals_scikit_learns_calibrated_classifier():
    """The stored linear head reproduces CalibratedClassifierCV's probabilities (sigmoid, ensemble=False)."""
    from sklearn.calibration import CalibratedClassifierCV

    x, y = _toy(400)
    fit = fit_binary(x[:300], y[:300], x[300:], y[300:], grid=(1.0,))
    reference = CalibratedClassifierCV(PriorLogisticRegression(C=1.0), method="sigmoid", cv=3, ensemble=False)
    reference.fit(x[:300], y[:300])
    assert fit.calibration.startswith("sigmoid")
    assert np.allclose(fit.probs(x[300:]), reference.predict_proba(x[300:]), atol=1e-6)


def test_fit_binary_chooses_c_on_validation_and_records_the_choice():
    x, y = _toy(400)
    fit = fit_binary(x[:300], y[:300], x[300:], y[300:], metric="accuracy")
    chosen = [row for row in fit.history if row["chosen"]]
    assert len(chosen) == 1 and chosen[0]["C"] == fit.C
    assert chosen[0]["val_accuracy"] == max(row["val_accuracy"] for row in fit.history)


def test_too_few_labels_for_cross_validation_keep_uncalibrated_probabilities():
    x, y = _toy(60)
    y[:] = 0
    y[:1] = 1  # one spam: no 2-fold split has it on both sides
    fit = fit_binary(x[:40], y[:40], x[40:], y[40:] if y[40:].any() else np.r_[1, y[41:]], grid=(1.0,))
    assert fit.calibration.startswith("none")

