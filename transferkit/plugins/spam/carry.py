"""Generic to specific: what an earlier (generic) spam model carries over to a new one, chosen by
cross-validation on the new labels only.

Four ways to fit the new linear head, each one logistic regression on the same hashed TF-IDF columns (or
encoder features), so the result is always one linear layer:

- ``alone``: the new labels only (the fallback, so that a generic model that does not help is set aside);
- ``prior``: the L2 penalty is centred on the generic weights, ``||w - s * w_generic||^2`` (maximum a
  posteriori adaptation, Chelba & Acero 2004), ``s`` the strength;
- ``replay``: the generic model's own training rows (a bounded sample stored in its artifact) are fitted
  again beside the new labels, their total weight ``s`` times that of the new labels (instance weighting,
  Jiang & Zhai 2007);
- ``augment``: Daumé III's "frustratingly easy domain adaptation" (2007): every column gets a shared copy
  and a copy per domain, the generic rows ``[x, x, 0]`` and the new ones ``[x, 0, x]``, fitted together
  with the generic rows weighted as in ``replay``; the new model is ``w_shared + w_specific``.

:func:`choose_carry_over` scores every (way, strength, C) by scikit-learn's ``GridSearchCV`` with
stratified folds of the new training labels (the validation split and any test data are never used), and
the plan says which won and by what score. Example:

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(300, 5)); y = (x[:, 0] > 0).astype(int)
    >>> generic = GenericData(x[:200], y[:200])
    >>> choice = choose_carry_over(x[200:260], y[200:260], generic=generic)
    >>> choice.carry in CARRY_OVERS
    True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

CARRY_OVERS = ("alone", "prior", "replay", "augment")
# The grid is small because every candidate is fitted once per fold on a CPU: the carry-overs try only
# C = 10 and 100, "alone" also 1. A cost choice, not tuned on any test split.
C_GRID = (1.0, 10.0, 100.0)
CARRY_C = (10.0, 100.0)
# The share of the generic model kept (prior) or the total weight of its rows against the new labels'
# (replay, augment): 1 means "as much as the new labels", 3 three times as much.
STRENGTHS: dict[str, tuple[float, ...]] = {"alone": (0.0,), "prior": (1.0,), "replay": (0.3, 1.0),
                                           "augment": (1.0, 3.0)}
SAMPLE_FILE = "generic_sample.npz"  # in a TF-IDF artifact: a bounded sample of its training rows
SAMPLE_ROWS = 2000  # at most this many training messages are kept (a reservoir sample)...
SAMPLE_NNZ = 2_500_000  # ...and at most this many non-zero counts (about 6 MB compressed)
WHY = {"alone": "the new labels alone (the generic model set aside)",
       "prior": "the generic head as the prior (L2 penalty toward s x its weights)",
       "replay": "the generic training sample replayed beside the new labels (weight s of theirs)",
       "augment": "feature augmentation (Daumé III 2007: shared + per-domain copies), generic rows at weight s"}


@dataclass(frozen=True)
class GenericData:
    """The generic model's training rows in the new model's feature space, and their labels (0/1)."""

    x: Any
    y: np.ndarray

    def __deepcopy__(self, memo: dict[int, Any]) -> "GenericData":
        return self  # read-only: GridSearchCV clones estimators per candidate, not this matrix

    def __len__(self) -> int:
        return int(self.x.shape[0])


class CarryOverLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression on new labels that carries over a generic model in one of
    :data:`CARRY_OVERS` ways, with ``strength`` and ``C`` (see the module's docstring).

    Example:
        >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> g = GenericData(np.array([[0.5], [2.5]]), np.array([0, 1]))
        >>> CarryOverLogisticRegression("augment", 1.0, C=10.0, generic=g).fit(x, y).predict(x).tolist()
        [0, 0, 1, 1]
    """

    def __init__(self, carry: str = "alone", strength: float = 0.0, C: float = 1.0, prior_coef: Any = None,
                 prior_intercept: float = 0.0, generic: GenericData | None = None, class_weight: Any = None):
        self.carry = carry
        self.strength = strength
        self.C = C
        self.prior_coef = prior_coef
        self.prior_intercept = prior_intercept
        self.generic = generic
        self.class_weight = class_weight

    def fit(self, x: Any, y: Any, sample_weight: Any = None) -> "CarryOverLogisticRegression":
        from sklearn.linear_model import LogisticRegression

        from transferkit.plugins.spam.linear import PriorLogisticRegression

        y = np.asarray(y, dtype=int)
        self.classes_ = np.unique(y)
        carry, strength = self.carry, float(self.strength)
        if carry not in CARRY_OVERS:
            raise ValueError(f"carry must be one of {CARRY_OVERS}, got {carry!r}")
        if carry == "alone" or strength == 0:
            plain = PriorLogisticRegression(C=self.C, class_weight=self.class_weight).fit(x, y, sample_weight)
            self.coef_, self.intercept_ = plain.coef_, plain.intercept_
            return self
        if carry == "prior":
            prior = PriorLogisticRegression(C=self.C, class_weight=self.class_weight,
                                            prior_coef=strength * np.asarray(self.prior_coef, dtype=np.float64),
                                            prior_intercept=strength * float(self.prior_intercept))
            prior.fit(x, y, sample_weight)
            self.coef_, self.intercept_ = prior.coef_, prior.intercept_
            return self
        generic = self.generic
        own = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if self.class_weight is not None:
            from sklearn.utils.class_weight import compute_sample_weight

            own = own * compute_sample_weight(self.class_weight, y)
        # every generic row weighs the same; together, strength times the new labels' total weight
        theirs = np.full(len(generic), strength * own.sum() / len(generic))
        stacked_x = _stack(generic.x, x, augment=carry == "augment")
        model = LogisticRegression(C=self.C, solver="liblinear", max_iter=1000)
        model.fit(stacked_x, np.r_[generic.y, y], sample_weight=np.r_[theirs, own])
        coef = model.coef_.ravel().astype(np.float64)
        if carry == "augment":  # the new domain's model: shared copy + its own copy
            dim = coef.shape[0] // 3
            coef = coef[:dim] + coef[2 * dim:]
        self.coef_, self.intercept_ = coef[None, :], model.intercept_.astype(np.float64)
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef_.ravel()).ravel() + self.intercept_[0]

    def predict_proba(self, x: Any) -> np.ndarray:
        from scipy.special import expit

        p = expit(self.decision_function(x))
        return np.column_stack([1 - p, p])

    def predict(self, x: Any) -> np.ndarray:
        return self.classes_[(self.decision_function(x) > 0).astype(int)]


def _stack(generic_x: Any, x: Any, *, augment: bool) -> Any:
    """Generic rows over new rows; with ``augment``, Daumé's ``[x, x, 0]`` over ``[x, 0, x]``."""
    import scipy.sparse as sp

    if not sp.issparse(generic_x) and not sp.issparse(x):
        if not augment:
            return np.vstack([generic_x, x])
        zero_g, zero_x = np.zeros_like(generic_x), np.zeros_like(x)
        return np.vstack([np.hstack([generic_x, generic_x, zero_g]), np.hstack([x, zero_x, x])])
    generic_x, x = sp.csr_matrix(generic_x), sp.csr_matrix(x)
    if not augment:
        return sp.vstack([generic_x, x], format="csr")
    zero_g, zero_x = sp.csr_matrix(generic_x.shape, dtype=generic_x.dtype), sp.csr_matrix(x.shape, dtype=x.dtype)
    return sp.vstack([sp.hstack([generic_x, generic_x, zero_g]), sp.hstack([x, zero_x, x])], format="csr")


@dataclass
class CarryChoice:
    """The carry-over chosen by cross-validation, its parameters, and every candidate's score."""

    carry: str
    strength: float
    C: float
    score: float
    scoring: str
    folds: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        return {"carry": self.carry, "strength": self.strength, "C": self.C}

    def best_of(self, carry: str) -> dict[str, Any] | None:
        """The best-scoring row of one way of carrying over (None when it was not a candidate)."""
        rows = [r for r in self.rows if r["carry"] == carry]
        return max(rows, key=lambda r: r["cv_score"]) if rows else None

    def note(self) -> str:
        """One line for the plan: which carry-over won, by what score, and what the others scored."""
        others = "; ".join(f"{c} {r['cv_score']:.4f}" for c in CARRY_OVERS if c != self.carry
                           and (r := self.best_of(c)) is not None)
        strength = "" if self.carry == "alone" else f", s={self.strength:g}"
        return (f"carry-over chosen by {self.folds}-fold cross-validation on the new training labels only "
                f"({self.scoring}): {self.carry} ({WHY[self.carry]}{strength}, C={self.C:g}) scored "
                f"{self.score:.4f}; best of the others: {others or 'none'}")


def candidates(prior: bool, generic: bool, grid: tuple[float, ...] = C_GRID) -> list[dict[str, list[Any]]]:
    """GridSearchCV's parameter grid: ``alone`` always, the others when the generic model allows them.

    Example:
        >>> [g["carry"] for g in candidates(prior=True, generic=False)]
        [['alone'], ['prior']]
    """
    ways = ["alone"] + (["prior"] if prior else []) + (["replay", "augment"] if generic else [])
    return [{"carry": [way], "strength": list(STRENGTHS[way]),
             "C": list(grid if way == "alone" else [c for c in grid if c in CARRY_C] or grid)} for way in ways]


def choose_carry_over(
    x: Any,
    y: np.ndarray,
    *,
    prior: tuple[np.ndarray, float] | None = None,
    generic: GenericData | None = None,
    class_weight: Any = None,
    scoring: str = "roc_auc",
    folds: int = 3,
    grid: tuple[float, ...] = C_GRID,
) -> CarryChoice:
    """Score every candidate by stratified ``folds``-fold cross-validation on ``(x, y)`` and pick the best.

    Ties go to the first candidate in :func:`candidates` order, so to ``alone`` before any carry-over: a
    generic model is used only when it scores better on the new labels. With fewer than 2 examples of a
    class there is nothing to cross-validate: ``alone`` with the middle C is returned, score NaN.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    y = np.asarray(y, dtype=int)
    folds = min(folds, int(np.bincount(y, minlength=2).min()))
    if folds < 2:
        return CarryChoice("alone", 0.0, float(grid[len(grid) // 2]), float("nan"), scoring, folds)
    estimator = CarryOverLogisticRegression(
        prior_coef=None if prior is None else prior[0], prior_intercept=0.0 if prior is None else prior[1],
        generic=generic, class_weight=class_weight)
    search = GridSearchCV(estimator, candidates(prior is not None, generic is not None, grid), scoring=scoring,
                          cv=StratifiedKFold(folds, shuffle=True, random_state=0), refit=False, n_jobs=None)
    search.fit(x, y)
    results = search.cv_results_
    rows = [{"carry": str(p["carry"]), "strength": float(p["strength"]), "C": float(p["C"]),
             "cv_score": float(results["mean_test_score"][i]), "cv_sd": float(results["std_test_score"][i])}
            for i, p in enumerate(results["params"])]
    best = int(np.argmax([r["cv_score"] for r in rows]))  # the first of equal scores: alone comes first
    for index, row in enumerate(rows):
        row["chosen"] = index == best
    chosen = rows[best]
    return CarryChoice(chosen["carry"], chosen["strength"], chosen["C"], chosen["cv_score"], scoring, folds, rows)


# ---------------------------------------------------------------------- the generic sample in an artifact
def reservoir(counts: Any, y: np.ndarray, *, rows: int = SAMPLE_ROWS, nnz: int = SAMPLE_NNZ,
              seed: int = 0) -> tuple[Any, np.ndarray]:
    """A uniform random sample of at most ``rows`` rows and ``nnz`` non-zero counts, stratified by nothing:
    the generic data's class balance is kept on average.

    Example:
        >>> import scipy.sparse as sp
        >>> x, _ = reservoir(sp.identity(10, format="csr"), np.arange(10) % 2, rows=4)
        >>> x.shape
        (4, 10)
    """
    y = np.asarray(y, dtype=int)
    order = np.random.default_rng(seed).permutation(counts.shape[0])[:rows]
    sizes = np.diff(counts.indptr)[order]
    order = np.sort(order[: max(1, int(np.searchsorted(np.cumsum(sizes), nnz, side="right")))])
    return counts[order], y[order]


def save_sample(folder: Path, counts: Any, y: np.ndarray) -> Path:
    """Write hashed n-gram counts (integers, stored as uint16) and labels as a compressed ``.npz``: arrays
    only, read back without unpickling."""
    import scipy.sparse as sp

    counts = sp.csr_matrix(counts)
    path = Path(folder) / SAMPLE_FILE
    np.savez_compressed(path, data=np.clip(np.rint(counts.data), 0, 65535).astype(np.uint16),
                        indices=counts.indices.astype(np.int32), indptr=counts.indptr.astype(np.int64),
                        shape=np.array(counts.shape, dtype=np.int64), labels=np.asarray(y, dtype=np.int8))
    return path


def load_sample(folder: Path) -> tuple[Any, np.ndarray] | None:
    """The counts and labels :func:`save_sample` wrote in ``folder``, or None when there are none."""
    import scipy.sparse as sp

    path = Path(folder) / SAMPLE_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as saved:
        counts = sp.csr_matrix((saved["data"].astype(np.float32), saved["indices"], saved["indptr"]),
                               shape=tuple(int(v) for v in saved["shape"]))
        return counts, saved["labels"].astype(int)
