"""Choosing a preset's options without looking at a test split (docs/selection.md).

Frozen-feature candidates (an input size, a multi-scale average, a power normalization) are compared by
repeated stratified cross-validation on the data a user would train on (train + validation), never on
the test split. Backbone features are the costly part, so they are computed once per input size and
cached; every candidate is a cheap function of those cached features. Inside each outer fold the
regularization C is chosen by an inner cross-validation on the outer training part only (nested CV), with
the same logistic regression, C grid and standardisation as transferkit's linear probe
(``transferkit.core.train._fit_linear_probe``), so the outer score is an honest estimate of what the
whole procedure (including its choice of C) does on unseen images.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> x = rng.normal(size=(40, 5)) + y[:, None]
    >>> r = nested_cv_score(x, y, metric="auroc", folds=4, repeats=1, inner_folds=3, grid=[0.01, 1.0])
    >>> sorted(r) == ["chosen_C", "fold_scores", "mean", "sd"] and 0.5 < r["mean"] <= 1.0
    True
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

# transferkit's linear probe grid (core/train.py): 11 values of C from 1e-4 to 10.
C_GRID = [float(c) for c in np.logspace(-4, 1, 11)]


def signed_sqrt(x: np.ndarray) -> np.ndarray:
    """Signed square root, as ``MedicalEfficientNetLite`` applies with ``feature_norm = "sqrt"``.

    Example:
        >>> np.round(signed_sqrt(np.array([-4.0, 9.0])), 6).tolist()
        [-2.0, 3.0]
    """
    return np.sign(x) * np.sqrt(np.abs(x) + 1e-12)


def combine(per_scale: dict[int, np.ndarray], scales: Iterable[int], sqrt: bool) -> np.ndarray:
    """Features of a candidate: the per-scale features, each power-normalized if ``sqrt``, averaged.

    This is what the backbone computes for ``feature_scales = scales`` and ``feature_norm``: the norm is
    applied to each scale's pooled features before the average.

    Example:
        >>> f = {224: np.array([[4.0]]), 288: np.array([[16.0]])}
        >>> np.round(combine(f, [224, 288], sqrt=True), 6).tolist()
        [[3.0]]
    """
    parts = [signed_sqrt(per_scale[s]) if sqrt else per_scale[s] for s in scales]
    return np.mean(parts, axis=0)


def _score(metric: str, y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score, roc_auc_score

    if metric == "auroc":
        return float(roc_auc_score(y, proba[:, 1]) if proba.shape[1] == 2 else
                     roc_auc_score(y, proba, multi_class="ovr"))
    if metric == "accuracy":
        return float(accuracy_score(y, proba.argmax(axis=1)))
    raise ValueError(f"unknown metric {metric!r}")


def _probe(c: float, balanced: bool) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=c, class_weight="balanced" if balanced else None, max_iter=3000))


def _path_scores(x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray, *, metric: str,
                 grid: list[float], balanced: bool) -> list[float]:
    """Validation ``metric`` of the probe at each C of ``grid``, fitted along the regularization path.

    Each fit starts from the previous C's solution (``warm_start``): the same convex problem and optimum
    as a cold start, several times faster on the larger Cs.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_tr)
    xs_tr, xs_va = scaler.transform(x_tr), scaler.transform(x_va)
    clf = LogisticRegression(class_weight="balanced" if balanced else None, max_iter=3000, warm_start=True)
    scores = []
    for c in sorted(grid):
        clf.set_params(C=c)
        clf.fit(xs_tr, y_tr)
        scores.append(_score(metric, y_va, clf.predict_proba(xs_va)))
    order = sorted(range(len(grid)), key=lambda i: grid[i])
    back = [0.0] * len(grid)
    for rank, i in enumerate(order):
        back[i] = scores[rank]
    return back


def choose_c(x: np.ndarray, y: np.ndarray, *, metric: str, grid: list[float], folds: int, balanced: bool,
             seed: int) -> float:
    """The C with the best mean inner-CV ``metric`` on (x, y); the smaller C wins ties (more regularised)."""
    from sklearn.model_selection import StratifiedKFold

    per_fold = [_path_scores(x[tr], y[tr], x[va], y[va], metric=metric, grid=grid, balanced=balanced)
                for tr, va in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)]
    means = np.mean(per_fold, axis=0)
    best = max(means)
    return min(c for c, m in zip(grid, means) if m >= best - 1e-12)


def nested_cv_score(x: np.ndarray, y: np.ndarray, *, metric: str, folds: int = 5, repeats: int = 2,
                    inner_folds: int = 3, grid: list[float] | None = None, balanced: bool = True,
                    seed: int = 0) -> dict[str, Any]:
    """Repeated stratified K-fold score of a logistic-regression probe whose C is chosen inside each fold.

    Returns the outer scores, their mean and standard deviation, and the C each outer fold chose.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    grid = grid or C_GRID
    outer = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores, chosen = [], []
    for i, (tr, te) in enumerate(outer.split(x, y)):
        c = choose_c(x[tr], y[tr], metric=metric, grid=grid, folds=inner_folds, balanced=balanced, seed=seed + i)
        clf = _probe(c, balanced).fit(x[tr], y[tr])
        scores.append(_score(metric, y[te], clf.predict_proba(x[te])))
        chosen.append(c)
    return {"fold_scores": scores, "mean": float(np.mean(scores)), "sd": float(np.std(scores, ddof=1)),
            "chosen_C": chosen}


def select_candidate(candidates: dict[str, Callable[[], np.ndarray]], y: np.ndarray, *, metric: str,
                     log: Callable[[str], None] = print, **cv: Any) -> tuple[str, dict[str, dict[str, Any]]]:
    """Score every candidate's features by :func:`nested_cv_score`; the best mean wins.

    Ties (equal means to 1e-9) go to the first candidate listed, so list the simplest first.

    Example:
        >>> y = np.repeat([0, 1], 10)
        >>> good = lambda: np.c_[y + 0.1 * np.arange(20) % 3, np.ones(20)]
        >>> noise = lambda: np.random.default_rng(1).normal(size=(20, 2))
        >>> best, _ = select_candidate({"noise": noise, "good": good}, y, metric="accuracy", log=lambda s: None,
        ...                            folds=4, repeats=1, inner_folds=2, grid=[1.0])
        >>> best
        'good'
    """
    import sklearn.linear_model  # noqa: F401  (loads scipy's BLAS before the limit, so the limit covers it)
    from threadpoolctl import threadpool_limits

    results: dict[str, dict[str, Any]] = {}
    for name, features in candidates.items():
        x = features()
        # One BLAS thread: these are thousands of small fits, where threads only oversubscribe the cores
        # (measured: 50x slower with the default pool on a loaded 2-core machine).
        with threadpool_limits(limits=1):
            results[name] = nested_cv_score(x, y, metric=metric, **cv)
        log(f"  {name}: CV {metric} {results[name]['mean']:.4f} +- {results[name]['sd']:.4f}")
    best = max(results, key=lambda n: (round(results[n]["mean"], 9), -list(results).index(n)))
    return best, results
