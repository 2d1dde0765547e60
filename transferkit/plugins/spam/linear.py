"""The spam domain's linear heads: logistic regression, optionally pulled toward an earlier model's weights,
with C chosen on validation data and probabilities calibrated by scikit-learn.

Generic to specific: refitting a head from scratch on a few hundred new labels forgets what the generic
model learned. :class:`PriorLogisticRegression` centres the penalty on the generic weights,
``||w - w_generic||^2`` instead of ``||w||^2`` (maximum a posteriori adaptation, Chelba & Acero 2004); it is
one of the carry-overs of :mod:`.carry`, among which :func:`fit_binary` chooses by cross-validation on the
new training labels when there is an earlier model to carry over.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

C_GRID = (0.1, 1.0, 10.0, 100.0)


class PriorLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary L2 logistic regression whose penalty is centred on prior weights (0 without a prior).

    Minimises ``C * sum_i w_i * logloss_i + 0.5 * ||coef - prior_coef||^2`` (the intercept is not
    penalised), the objective of scikit-learn's ``LogisticRegression`` when there is no prior.

    Example:
        >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> PriorLogisticRegression(C=10.0).fit(x, y).predict(x).tolist()
        [0, 0, 1, 1]
    """

    def __init__(self, C: float = 1.0, prior_coef: Any = None, prior_intercept: float = 0.0,
                 class_weight: Any = None, max_iter: int = 1000):
        self.C = C
        self.prior_coef = prior_coef
        self.prior_intercept = prior_intercept
        self.class_weight = class_weight
        self.max_iter = max_iter

    def fit(self, x: Any, y: Any, sample_weight: Any = None) -> "PriorLogisticRegression":
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y, dtype=int)
        self.classes_ = np.unique(y)
        if self.prior_coef is None:
            # liblinear: about twice as fast as lbfgs on sparse TF-IDF rows, the same accuracy here
            plain = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                                       solver="liblinear")
            plain.fit(x, y, sample_weight=sample_weight)
            self.coef_, self.intercept_ = plain.coef_.astype(np.float64), plain.intercept_.astype(np.float64)
            return self
        self.coef_, self.intercept_ = self._fit_prior(x, y, sample_weight)
        return self

    def _fit_prior(self, x: Any, y: np.ndarray, sample_weight: Any) -> tuple[np.ndarray, np.ndarray]:
        from scipy.optimize import minimize
        from scipy.special import expit, log_expit
        from sklearn.utils.class_weight import compute_sample_weight

        weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if self.class_weight is not None:
            weights = weights * compute_sample_weight(self.class_weight, y)
        prior = np.asarray(self.prior_coef, dtype=np.float64).ravel()
        sign = 2.0 * y - 1.0

        def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
            delta, bias = params[:-1], params[-1]
            margin = np.asarray(x @ (prior + delta)).ravel() + bias
            loss = -(weights * log_expit(sign * margin)).sum()
            residual = -weights * sign * expit(-sign * margin)  # d loss / d margin
            grad_w = self.C * np.asarray(x.T @ residual).ravel() + delta
            return self.C * loss + 0.5 * float(delta @ delta), np.append(grad_w, self.C * residual.sum())

        start = np.append(np.zeros_like(prior), float(self.prior_intercept))
        found = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        return (prior + found.x[:-1])[None, :], np.array([found.x[-1]])

    def decision_function(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef_.ravel()).ravel() + self.intercept_[0]

    def predict_proba(self, x: Any) -> np.ndarray:
        from scipy.special import expit

        p = expit(self.decision_function(x))
        return np.column_stack([1 - p, p])

    def predict(self, x: Any) -> np.ndarray:
        return self.classes_[(self.decision_function(x) > 0).astype(int)]


@dataclass
class LinearFit:
    """A fitted binary head: positive-class log-odds ``x @ coef + intercept`` (calibrated), and how."""

    coef: np.ndarray
    intercept: float
    C: float
    calibration: str
    history: list[dict[str, Any]] = field(default_factory=list)
    carry: Any = None  # the carry.CarryChoice of generic to specific (None: no earlier model)

    def log_odds(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef).ravel() + self.intercept

    def probs(self, x: Any) -> np.ndarray:
        """``[n, 2]`` probabilities of (negative, positive)."""
        from scipy.special import expit

        p = expit(self.log_odds(x))
        return np.column_stack([1 - p, p])


def _score(metric: str, y: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    from transferkit.core.metrics import classification_metrics, metric_value

    metrics = classification_metrics(y, probs, ["0", "1"])
    return metric_value(metrics, metric), -metrics["loss"]


def fit_binary(
    x_train: Any,
    y_train: np.ndarray,
    x_val: Any,
    y_val: np.ndarray,
    *,
    metric: str = "f1_macro",
    class_weight: str | None = None,
    prior: tuple[np.ndarray, float] | None = None,
    generic: Any = None,
    grid: tuple[float, ...] = C_GRID,
    folds: int = 3,
) -> LinearFit:
    """Choose the model, then fit and calibrate it (Platt sigmoid, cross-validated on train).

    Without an earlier model, C is chosen on the validation data by ``metric``. With one (``prior``: its
    head's (coef, intercept); ``generic``: a :class:`~.carry.GenericData` sample of its training rows), the
    way of carrying it over, its strength and C are chosen together by cross-validation on the training
    labels only (:func:`~.carry.choose_carry_over`, AUROC), "these labels alone" being one candidate.
    Calibration is scikit-learn's ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``: the
    classifier is fitted on all training data and a sigmoid ``1 / (1 + exp(a f + b))`` is fitted on its
    cross-validated scores ``f``; the result is still linear in the features, so it is stored as the
    model's linear head.

    Example:
        >>> rng = np.random.default_rng(0); x = rng.normal(size=(80, 3)); y = (x[:, 0] > 0).astype(int)
        >>> fit = fit_binary(x[:60], y[:60], x[60:], y[60:])
        >>> bool((fit.probs(x[60:]).argmax(1) == y[60:]).mean() > 0.8)
        True
    """
    from sklearn.calibration import CalibratedClassifierCV

    from transferkit.plugins.spam.carry import CarryOverLogisticRegression, choose_carry_over

    weight = "balanced" if class_weight == "balanced" else None
    choice = None
    if prior is not None or generic is not None:
        choice = choose_carry_over(x_train, y_train, prior=prior, generic=generic, class_weight=weight)
        # "series": the carry-over way each row tried, which the report's curves draw a line per (core/report.py).
        history = [{**{k: v for k, v in row.items() if k != "cv_score"}, f"cv_{choice.scoring}": row["cv_score"],
                    "train_loss": None,
                    "series": row["carry"] if row["carry"] == "alone" else f"{row['carry']} {row['strength']:g}"}
                   for row in choice.rows]
        clf: Any = CarryOverLogisticRegression(
            **choice.params(), prior_coef=None if prior is None else prior[0],
            prior_intercept=0.0 if prior is None else prior[1], generic=generic, class_weight=weight)
        chosen = choice.C
        clf.fit(x_train, y_train)
    else:
        history, best = [], None
        for c in grid:
            candidate = PriorLogisticRegression(C=c, class_weight=weight).fit(x_train, y_train)
            score = _score(metric, y_val, candidate.predict_proba(x_val))
            history.append({"C": float(c), f"val_{metric}": score[0], "val_loss": -score[1], "train_loss": None})
            if best is None or score > best[0]:
                best = (score, c, candidate)
        _, chosen, clf = best
        for row in history:
            row["chosen"] = row["C"] == chosen
    smallest = int(np.bincount(y_train, minlength=2).min())
    cv = min(folds, smallest)
    if cv < 2:  # too few examples of a class to cross-validate: keep the logistic model's own probabilities
        return LinearFit(clf.coef_.ravel(), float(clf.intercept_[0]), float(chosen), "none (too few labels)", history,
                         choice)
    calibrated = CalibratedClassifierCV(clf, method="sigmoid", cv=cv, ensemble=False).fit(x_train, y_train)
    pair = calibrated.calibrated_classifiers_[0]
    base, sigmoid = pair.estimator, pair.calibrators[0]
    a, b = float(sigmoid.a_), float(sigmoid.b_)  # P(spam) = 1 / (1 + exp(a * f + b))
    coef = -a * base.coef_.ravel()
    intercept = -(a * float(base.intercept_[0]) + b)
    return LinearFit(coef, intercept, float(chosen), f"sigmoid (Platt), {cv}-fold cross-validation on training data",
                     history, choice)
