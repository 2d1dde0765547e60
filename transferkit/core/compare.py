"""`transferkit compare`: does transfer pay off on *these* data? Transfer against the same network from
scratch, a classic baseline and the majority class, at several label budgets and seeds.

Every method at a budget sees the same examples: ``per_class`` labelled examples of each class are drawn
from the pool with the seed of the repetition, and the validation split is carved from those (so "4 per
class" means 4 labels in all, as with ``train --per-class``). The test data are fixed before any budget is
drawn (``--test``, else the data's own test split, else a stratified 20% of the data with seed 0) and no
choice is ever made on them. What the rows measure, for the five promised benefits:

- data needs: the test metric against the label budget;
- learning speed and compute: the validation metric against epochs and seconds (``epochs``), ``wall_s``;
- performance: the test metric of the best epoch (the one ``fit`` restores);
- overfitting: the train metric minus the validation metric of the chosen model.

The networks train through :func:`transferkit.core.train.fit`, the code path of ``transferkit train``;
each sub-run works in a temporary folder that is removed afterwards (no model is kept: compare measures,
it does not deliver a model). Only ``compare.json`` and ``report.html`` are written to the output folder.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from transferkit.core.data import Examples, require_classes, sample_per_class, stratified_split
from transferkit.errors import DataError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.domain import Domain

METHODS = ("transfer", "scratch", "classic", "majority")
HOLDOUT_FRACTION = 0.2  # the test split carved from --data when there is no other test data
HOLDOUT_SEED = 0  # fixed: every budget and every seed is scored on the same test examples
CLASSIC_KIND = {"nlp": "text", "spam": "text", "vision": "pixels", "medical": "pixels"}
PIXELS = 32  # classic image baseline: images downsampled to 32x32 RGB (3,072 features)
# sklearn's name of each transferkit metric, for choosing C by cross-validation.
SKLEARN_SCORING = {"accuracy": "accuracy", "f1_macro": "f1_macro", "balanced_accuracy": "balanced_accuracy",
                   "auroc": "roc_auc_ovr", "loss": "neg_log_loss"}


def parse_budgets(text: str) -> list[int | str]:
    """The ``--per-class`` list: positive integers (at least 2: one to train on, one to validate on) or ``all``.

    Example:
        >>> parse_budgets("4,16, 64,all")
        [4, 16, 64, 'all']
    """
    budgets: list[int | str] = []
    for raw in text.split(","):
        word = raw.strip().lower()
        if word == "all":
            budget: int | str = "all"
        elif word.isdigit() and int(word) >= 2:
            budget = int(word)
        else:
            raise UsageError(f"--per-class takes numbers of at least 2 or 'all', separated by commas; "
                             f"got '{raw.strip()}'",
                             field="per_class", fix="e.g. --per-class 4,16,64,all")
        if budget not in budgets:
            budgets.append(budget)
    if not budgets:
        raise UsageError("--per-class is empty", field="per_class", fix="e.g. --per-class 4,16,64,all")
    return budgets


@dataclass
class CompareData:
    """The fixed test data, the pool that label budgets are drawn from, and notes on how they were made."""

    pool: Examples
    test: Examples
    notes: list[str] = field(default_factory=list)


def _joined(parts: list[Examples], source: str) -> Examples:
    return Examples(items=[i for p in parts for i in p.items], labels=[label for p in parts for label in p.labels],
                    source=source, skipped=[s for p in parts for s in p.skipped])


def load_compare_data(domain: "Domain", data: str | Path, test: str | Path | None,
                      read_options: dict[str, Any] | None = None,
                      holdout_fraction: float = HOLDOUT_FRACTION) -> CompareData:
    """Read ``data`` (all its splits but a test split, pooled) and the test data, fixed before any budget.

    Example:
        >>> from transferkit.core.select import get_domain  # doctest: +SKIP
        >>> d = load_compare_data(get_domain("vision"), "hymenoptera", None)  # doctest: +SKIP
        >>> d.notes[0]  # doctest: +SKIP
        'test data: a stratified 20% of hymenoptera (seed 0), set aside before any budget was drawn'
    """
    from transferkit.core.train import read_data

    options = read_options or {}
    if not Path(str(data)).exists():
        raise DataError("no such file or folder", file=data, fix="check the --data path")
    inside = domain.splits_in(data)
    parts = [domain.read(data, split=name, options=options) for name in inside if name != "test"] or \
        [domain.read(data, split=None, options=options)]
    pool = parts[0] if len(parts) == 1 else _joined(parts, str(data))
    require_classes(pool)
    notes = []
    if len(parts) > 1:
        notes.append(f"the splits {', '.join(n for n in inside if n != 'test')} of {data} were pooled; budgets are "
                     "drawn from them")
    if test is not None:
        test_ex = read_data(domain, test, options=options)
        notes.append(f"test data: {test} ({len(test_ex)} examples)")
    elif "test" in inside:
        test_ex = domain.read(data, split="test", options=options)
        notes.append(f"test data: the test split of {data} ({len(test_ex)} examples)")
    else:
        scarce = {label: n for label, n in pool.counts().items() if n < 3}
        if scarce:
            raise DataError(f"too few examples to set a test split aside: {scarce}", file=data,
                            fix="pass test data with --test")
        if not 0 < holdout_fraction < 1:
            raise UsageError(f"the held-out test fraction must be between 0 and 1, got {holdout_fraction}",
                             field="holdout_test", fix="e.g. --holdout-test 0.2")
        pool, test_ex = stratified_split(pool, holdout_fraction, HOLDOUT_SEED)
        notes.append(f"test data: a stratified {holdout_fraction:.0%} of {data} (seed {HOLDOUT_SEED}, "
                     f"{len(test_ex)} examples), set aside before any budget was drawn")
    if len(test_ex) == 0:
        raise DataError("the test data are empty", file=test or data, fix="check the --test path")
    unknown = sorted(set(test_ex.labels) - set(pool.labels))
    if unknown:
        raise DataError(f"the test data have labels the training data lack: {unknown}", file=test or data,
                        fix="use test data with the training data's classes")
    return CompareData(pool, test_ex, notes)


def draw_budget(pool: Examples, per_class: int | str, seed: int, val_fraction: float) -> tuple[Examples, Examples]:
    """``per_class`` labelled examples of each class (all for ``"all"``), split into train and validation.

    Example:
        >>> pool = Examples(items=list(range(40)), labels=["a", "b"] * 20, source="mem")
        >>> train, val = draw_budget(pool, 5, seed=0, val_fraction=0.2)
        >>> train.counts(), val.counts()
        ({'a': 4, 'b': 4}, {'a': 1, 'b': 1})
    """
    budget = pool if per_class == "all" else sample_per_class(pool, int(per_class), seed)
    train, val = stratified_split(budget, val_fraction, seed)
    # Held out of the budget by transferkit, as `train --per-class` does: a slice too small to choose on is
    # pooled back by the linear probe and the contrastive fit (core/train.py `_fit_probe_pooled`).
    val.meta = {**val.meta, "origin": {"kind": "held-out", "fraction": val_fraction, "seed": seed}}
    return train, val


def _metric(y: np.ndarray, probs: np.ndarray, labels: list[str], metric: str) -> float | None:
    from transferkit.core.metrics import classification_metrics

    value = classification_metrics(y, probs, labels).get(metric)
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _finite(value: Any) -> float | None:
    """A JSON-safe figure: None where the metric is undefined (e.g. AUROC on one class)."""
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _targets(examples: Examples, labels: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index[label] for label in examples.labels], dtype=int)


def majority_probs(train: Examples, labels: list[str], n: int) -> np.ndarray:
    """Probabilities of the majority-class baseline: the most frequent training class, always (ties: first).

    Example:
        >>> majority_probs(Examples(items=[1, 2, 3], labels=["b", "a", "b"], source="m"), ["a", "b"], 2).tolist()
        [[0.0, 1.0], [0.0, 1.0]]
    """
    counts = train.counts()
    top = max(labels, key=lambda label: (counts.get(label, 0), -labels.index(label)))
    probs = np.zeros((n, len(labels)))
    probs[:, labels.index(top)] = 1.0
    return probs


def _pixels(item: Any, cache: dict[Any, np.ndarray]) -> np.ndarray:
    """A 2D image (a file or an array) as 32x32 RGB values in [0, 1], flattened."""
    key = item if isinstance(item, (str, Path)) else id(item)
    if key not in cache:
        from PIL import Image

        if isinstance(item, np.ndarray):
            array = item
            if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
                array = np.moveaxis(array, 0, -1)  # channels first
            array = np.squeeze(array)
            if array.ndim not in (2, 3):
                raise ValueError(f"an array of shape {item.shape} is not a 2D image")
            if array.dtype != np.uint8:
                low, high = float(array.min()), float(array.max())
                array = ((array - low) / (high - low or 1.0) * 255).astype(np.uint8)
            image = Image.fromarray(array)
        else:
            with Image.open(item) as opened:
                image = opened.convert("RGB")
        image = image.convert("RGB").resize((PIXELS, PIXELS), Image.Resampling.BILINEAR)
        cache[key] = np.asarray(image, dtype=np.float32).reshape(-1) / 255.0
    return cache[key]


def _classic_kind(item: Any) -> str:
    """The classic baseline for a domain the table above does not name, from what its inputs are."""
    if isinstance(item, np.ndarray) and item.ndim == 1:
        return "vectors"
    return "text" if isinstance(item, str) and not Path(item).is_file() else "pixels"


def _classic_inputs(kind: str, items: list[Any], cache: dict[Any, np.ndarray]) -> Any:
    if kind == "text":
        return [str(item) for item in items]
    if kind == "vectors":
        return np.stack([np.asarray(item, dtype=np.float64) for item in items])
    return np.stack([_pixels(item, cache) for item in items])


def classic_baseline(kind: str, train: Examples, labels: list[str], metric: str, seed: int,
                     pixel_cache: dict[Any, np.ndarray] | None = None) -> tuple[Any, str, float | None]:
    """Fit the classic baseline on ``train`` alone, C chosen by stratified k-fold cross-validation on it.

    ``kind`` is ``text`` (TF-IDF of words 1-2-grams, logistic regression), ``pixels`` (32x32 RGB pixels,
    standardised, logistic regression) or ``vectors`` (the input values, standardised, logistic regression).
    Returns the fitted pipeline (:func:`classic_probs` scores with it), a line saying what was chosen and the
    cross-validated score of the chosen C (None where there were too few examples to cross-validate).

    Example:
        >>> ex = Examples(items=["win cash now", "free prize", "lunch at noon", "see you at noon"] * 3,
        ...               labels=["spam", "spam", "ham", "ham"] * 3, source="mem")
        >>> clf, how, cv_score = classic_baseline("text", ex, ["ham", "spam"], "accuracy", seed=0)
        >>> how.startswith("TF-IDF + logistic regression, C="), 0.0 <= cv_score <= 1.0
        (True, True)
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = _targets(train, labels)
    x = _classic_inputs(kind, train.items, pixel_cache if pixel_cache is not None else {})
    if kind == "text":
        pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                             LogisticRegression(max_iter=3000))
        grid, name = np.logspace(-2, 3, 6), "TF-IDF + logistic regression"
    else:
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
        grid = np.logspace(-4, 1, 6)
        name = f"logistic regression on {PIXELS}x{PIXELS} pixels" if kind == "pixels" else \
            "logistic regression on the input values"
    counts = np.bincount(y)
    folds = min(5, int(counts[counts > 0].min()))
    if folds < 2:  # one example of a class: no fold can hold it out
        pipe.set_params(logisticregression__C=1.0)
        pipe.fit(x, y)
        return pipe, f"{name}, C=1 (too few examples per class to cross-validate)", None
    scoring = SKLEARN_SCORING[metric]
    if scoring == "roc_auc_ovr" and len(labels) == 2:
        scoring = "roc_auc"
    search = GridSearchCV(pipe, {"logisticregression__C": list(grid)}, scoring=scoring, refit=True,
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed), error_score=np.nan)
    search.fit(x, y)
    chosen = float(search.best_params_["logisticregression__C"])
    how = f"{name}, C={chosen:g} chosen by {folds}-fold cross-validation on the training labels"
    score = float(search.best_score_)  # the mean over folds; sklearn's log-loss scorer is negated
    cv_score = (-score if scoring == "neg_log_loss" else score) if math.isfinite(score) else None
    return search.best_estimator_, how, cv_score


def classic_probs(kind: str, clf: Any, examples: Examples, labels: list[str],
                  pixel_cache: dict[Any, np.ndarray] | None = None) -> np.ndarray:
    """Class probabilities of the fitted classic baseline, in ``labels``' order (unseen classes get 0)."""
    x = _classic_inputs(kind, examples.items, pixel_cache if pixel_cache is not None else {})
    probs = np.zeros((len(examples), len(labels)))
    probs[:, clf.classes_] = clf.predict_proba(x)
    return probs


def _epochs(history: list[dict[str, Any]], metric: str, wall: float, val: float | None,
            train: float | None) -> list[dict[str, Any]]:
    """The per-epoch curve of a network's training history; a fit without epochs is one point."""
    rows = []
    for row in history:
        if "epoch" not in row:
            continue
        value = row.get(f"val_{metric}")
        if value is None or not math.isfinite(float(value)):
            continue
        train_value = row.get(f"train_{metric}")
        rows.append({"epoch": int(row["epoch"]) + 1, "val_metric": float(value),
                     "train_metric": None if train_value is None else float(train_value),
                     "elapsed_s": round(float(row.get("elapsed_s", 0.0)), 3)})
    if not rows and val is not None:  # linear probe: a closed-form fit per C on cached features
        rows = [{"epoch": 1, "val_metric": val, "train_metric": train, "elapsed_s": round(wall, 3)}]
    return rows


def _network_row(method: str, result: Any, train: Examples, metric: str, wall: float) -> dict[str, Any]:
    from transferkit.core.evaluate import predict_proba

    labels = result.model.labels
    train_probs = predict_proba(result.model, train.items, result.plan.train["batch_size"])
    train_value = _metric(_targets(train, labels), train_probs, labels, metric)
    val_value = _finite(result.metrics["val"].get(metric))
    return {"method": method, "test_metric": _finite(result.metrics["test"].get(metric)),
            "val_metric": val_value, "train_metric": train_value, "wall_s": round(wall, 2),
            "epochs": _epochs(result.history, metric, wall, val_value, train_value)}


def _check_pretrained(domain: str, model: str | Path | None, preset: Any, registry: Any) -> None:
    """Refuse a model that is itself trained from scratch: transfer and scratch would be the same run."""
    from transferkit.core.select import resolve_model_source

    source = resolve_model_source(domain, model, preset, registry)
    if getattr(source, "kind", None) == "scratch":
        raise UsageError(f"model '{source.id}' has no pretrained weights, so there is no transfer to compare",
                         field="model", fix=f"pass a pretrained model with --model (see `transferkit models --domain "
                         f"{domain}`)")


def compare(
    domain: str,
    data: str | Path,
    *,
    out: str | Path,
    per_class: Sequence[int | str] = (4, 16, 64, "all"),
    seeds: int = 1,
    test: str | Path | None = None,
    preset: str | Path | None = None,
    model: str | Path | None = None,
    read_options: dict[str, Any] | None = None,
    progress: Any = False,
    time_budget: str | float | None = None,
    holdout_test: float = HOLDOUT_FRACTION,
    **train_overrides: Any,
) -> dict[str, Any]:
    """Train and score transfer, scratch, classic and majority at each label budget and seed; write
    ``out/compare.json`` (and ``out/report.html`` where the HTML report is installed). Returns the JSON data.

    ``train_overrides`` are keys of the preset's train table (``epochs=5``), for transfer and scratch alike;
    ``time_budget`` caps each of their runs (see ``fit``); None by default, so that no timing probe adds to
    the seconds measured and the preset's ``auto`` strategy chooses by the labels alone. Without ``test``
    data, ``holdout_test`` of each class (20%) is set aside as test data, with seed 0, before anything else.
    ``compare.json`` is rewritten after each budget and seed, so a stopped comparison keeps what it measured.
    Scratch is the same network with random weights (``fit(..., from_scratch=True)``), every layer trained
    (strategy ``full``) at one learning rate, the preset's ``backbone_lr`` or else its ``lr`` (no pretrained
    layer to protect, so no layer-wise decay).

    Example:
        >>> result = compare("vision", "data/hymenoptera", out="runs/cmp", per_class=[4, 16], seeds=2)  # doctest: +SKIP
        >>> sorted({row["method"] for row in result["rows"]})  # doctest: +SKIP
        ['classic', 'majority', 'scratch', 'transfer']
    """
    from transferkit.core.artifact import is_artifact, write_json_atomic
    from transferkit.core.outputs import prepare_out
    from transferkit.core.presets import load_preset
    from transferkit.core.progress import Reporter
    from transferkit.core.registry import get_registry
    from transferkit.core.select import get_domain
    from transferkit.core.train import fit

    if seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {seeds}", field="seeds", fix="e.g. --seeds 3")
    budgets = parse_budgets(",".join(str(b) for b in per_class))
    out_path = Path(out)
    if is_artifact(out_path):  # its report.html is the model's own: never replaced by a comparison
        raise UsageError("the output folder holds a transferkit model", file=out_path,
                         fix="name a new folder for the comparison, e.g. --out runs/compare")
    local_model = [model] if isinstance(model, (str, Path)) and Path(str(model)).exists() else []
    prepare_out(out_path, inputs=[data, test, *local_model])  # before any work (core/outputs.py)
    reporter = progress if isinstance(progress, Reporter) else Reporter(progress)
    registry = get_registry()
    impl = get_domain(domain, registry)
    resolved = load_preset(preset, domain=domain, registry=registry)
    _check_pretrained(domain, model, resolved, registry)
    metric = str(train_overrides.get("metric", resolved.train.metric))
    val_fraction = float(train_overrides.get("val_fraction", resolved.train.val_fraction))
    # One rate for every layer of the scratch network: the preset's backbone rate, else the head's
    # (lr / 10, configure's default for a pretrained top layer, would slow a random network for no reason).
    scratch_lr = float(train_overrides.get("backbone_lr") or resolved.train.backbone_lr
                       or train_overrides.get("lr") or resolved.train.lr)

    reporter.step("reading data")
    data_split = load_compare_data(impl, data, test, read_options, holdout_test)
    labels = data_split.pool.classes
    y_test = _targets(data_split.test, labels)
    kind = CLASSIC_KIND.get(domain) or _classic_kind(data_split.pool.items[0])
    notes = list(data_split.notes)
    notes.append(f"validation: {val_fraction:.0%} of each budget (at least one per class), so a budget of N per "
                 "class is N labels in all; n_train counts the labelled examples the kept model was fitted on "
                 "(the whole budget for classic, and for a linear probe that pools a small held-out slice back)")
    notes.append(f"scratch: the same network with random weights, every layer trained (strategy full) at one "
                 f"learning rate ({scratch_lr:g}), otherwise the preset's settings")
    header = {"domain": domain, "data": str(data), "preset": resolved.id, "metric": metric, "per_class": budgets,
              "seeds": seeds}
    rows: list[dict[str, Any]] = []
    pixel_cache: dict[Any, np.ndarray] = {}
    runs = [(b, s) for b in budgets for s in range(seeds)]
    for index, (budget, seed) in enumerate(runs, 1):
        train_ex, val_ex = draw_budget(data_split.pool, budget, seed, val_fraction)
        if budget != "all" and len(train_ex) + len(val_ex) < int(budget) * len(labels) and seed == 0:
            have = {label: n for label, n in data_split.pool.counts().items() if n < int(budget)}
            notes.append(f"{budget} per class: some classes have fewer examples, all of them were used ({have})")
        common = {"per_class": budget, "seed": seed, "n_train": len(train_ex)}
        budget_ex = _joined([train_ex, val_ex], train_ex.source)  # every label of the budget
        where = f"[{index}/{len(runs)}] {budget} per class, seed {seed}"
        y_train, y_val = _targets(train_ex, labels), _targets(val_ex, labels)

        for method in ("transfer", "scratch"):
            reporter.step(f"{where}: {method} ({len(train_ex)} training, {len(val_ex)} validation examples)")
            extra: dict[str, Any] = {"strategy": "full", "layer_decay": 1.0, "backbone_lr": scratch_lr,
                                     "from_scratch": True} if method == "scratch" else {}
            started = time.monotonic()
            result = fit(domain, train_ex, val=val_ex, test=data_split.test, preset=preset, model=model, seed=seed,
                         read_options=read_options, progress=reporter, time_budget=time_budget,
                         **{**train_overrides, **extra})
            row = _network_row(method, result, train_ex, metric, time.monotonic() - started)
            # A linear probe or contrastive fit on a held-out slice under SMALL_VALIDATION pools it back
            # (C by cross-validation on every label, its validation figures out-of-fold): it trained on all.
            pooled = any("pooled back" in note for note in result.notes)
            rows.append({**common, **row, "n_train": len(budget_ex) if pooled else len(train_ex)})
            if index == 1:
                notes.append(f"{method}: {result.plan.strategy}, {result.model.backbone.source_id}")
                notes += [f"{method}: {note}" for note in result.notes if "pooled back" in note][:1]

        reporter.step(f"{where}: classic and majority baselines")
        started = time.monotonic()
        try:
            # Classic needs no held-out slice: it is fitted on every label of the budget, C chosen by
            # cross-validation on them, and its validation figure is that cross-validated score.
            clf, how, cv_score = classic_baseline(kind, budget_ex, labels, metric, seed, pixel_cache)
            test_probs = classic_probs(kind, clf, data_split.test, labels, pixel_cache)
            train_probs = classic_probs(kind, clf, budget_ex, labels, pixel_cache)
        except (OSError, ValueError) as err:  # inputs that are neither 2D images nor texts
            notes.append(f"classic baseline left out: the inputs cannot be read as {kind} ({err})")
            kind = "none"
        if kind != "none":
            rows.append({**common, "method": "classic", "n_train": len(budget_ex),
                         "test_metric": _metric(y_test, test_probs, labels, metric),
                         "val_metric": _finite(cv_score),
                         "train_metric": _metric(_targets(budget_ex, labels), train_probs, labels, metric),
                         "wall_s": round(time.monotonic() - started, 2), "epochs": []})
            if index == 1 or budget == budgets[-1] and seed == 0:
                notes.append(f"classic at {budget} per class, seed {seed}: {how}")
        majority = [majority_probs(train_ex, labels, len(s)) for s in (data_split.test, val_ex, train_ex)]
        rows.append({**common, "method": "majority",
                     "test_metric": _metric(y_test, majority[0], labels, metric),
                     "val_metric": _metric(y_val, majority[1], labels, metric),
                     "train_metric": _metric(y_train, majority[2], labels, metric),
                     "wall_s": 0.0, "epochs": []})
        if index < len(runs):  # what is measured so far survives a stop (the last write is the whole result)
            partial = [*notes, f"incomplete: {index} of {len(runs)} budget-and-seed runs done"]
            write_json_atomic(out_path / "compare.json", {**header, "rows": rows, "notes": partial})
    if resolved.threshold.policy != "argmax" and len(labels) == 2:
        notes.append(f"transfer and scratch decide with the preset's threshold policy ({resolved.threshold.policy}); "
                     "classic and majority take the most probable class")
    result_data = {**header, "rows": rows, "notes": notes}
    try:
        from transferkit.core.html_report import write_compare_report
    except ImportError:  # the HTML report is a separate module; compare.json is the result either way
        write_compare_report = None
        notes.append("report.html not written: transferkit.core.html_report is not installed")
    write_json_atomic(out_path / "compare.json", result_data)
    if write_compare_report is not None:
        write_compare_report(result_data, out_path / "report.html")
    return result_data


def summarise(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per budget and method: the mean and spread (sample standard deviation) over seeds.

    Example:
        >>> rows = [{"method": "majority", "per_class": 4, "seed": s, "n_train": 6, "test_metric": v,
        ...          "val_metric": 0.5, "train_metric": 0.5, "wall_s": 0.0, "epochs": []}
        ...         for s, v in [(0, .4), (1, .6)]]
        >>> line = summarise({"per_class": [4], "rows": rows})[0]
        >>> line["test_mean"], round(line["test_sd"], 3)
        (0.5, 0.141)
    """
    lines = []
    for budget in result["per_class"]:
        for method in METHODS:
            rows = [r for r in result["rows"] if r["per_class"] == budget and r["method"] == method]
            if not rows:
                continue
            test = [r["test_metric"] for r in rows if r["test_metric"] is not None]
            gaps = [r["train_metric"] - r["val_metric"] for r in rows
                    if r["train_metric"] is not None and r["val_metric"] is not None]
            vals = [r["val_metric"] for r in rows if r["val_metric"] is not None]
            lines.append({
                "per_class": budget, "method": method, "n_train": rows[0]["n_train"], "runs": len(rows),
                "test_mean": float(np.mean(test)) if test else None,
                "test_sd": float(np.std(test, ddof=1)) if len(test) > 1 else None,
                "val_mean": float(np.mean(vals)) if vals else None,
                "gap_mean": float(np.mean(gaps)) if gaps else None,
                "epochs_mean": float(np.mean([len(r["epochs"]) for r in rows])),
                "wall_mean": float(np.mean([r["wall_s"] for r in rows])),
            })
    return lines


def render_summary(result: dict[str, Any]) -> str:
    """The summary as a plain table that fits 80 columns (``-`` where a figure does not apply).

    Example:
        >>> rows = [{"method": "majority", "per_class": 4, "seed": 0, "n_train": 6, "test_metric": 0.5,
        ...          "val_metric": 0.5, "train_metric": 0.5, "wall_s": 0.0, "epochs": []}]
        >>> print(render_summary({"metric": "accuracy", "seeds": 1, "per_class": [4], "rows": rows}))
        test accuracy, mean +- sd over 1 seed(s); gap = train - validation
        per class  method        n  test             val     gap  epochs  wall s
        4          majority      6  0.500          0.500   0.000       0     0.0
    """
    def num(value: float | None, width: int, digits: int = 3) -> str:
        return f"{'-' if value is None else f'{value:.{digits}f}':>{width}}"

    lines = [f"test {result['metric']}, mean +- sd over {result['seeds']} seed(s); gap = train - validation",
             f"{'per class':<9}  {'method':<8}  {'n':>5}  {'test':<13}  {'val':>5}  {'gap':>6}  {'epochs':>6}  "
             f"{'wall s':>6}"]
    for line in summarise(result):
        test = num(line["test_mean"], 5).strip()
        if line["test_sd"] is not None:
            test += f" +-{line['test_sd']:.3f}"
        lines.append(f"{str(line['per_class']):<9}  {line['method']:<8}  {line['n_train']:>5}  {test:<13}  "
                     f"{num(line['val_mean'], 5)}  {num(line['gap_mean'], 6)}  {line['epochs_mean']:>6.0f}  "
                     f"{line['wall_mean']:>6.1f}")
    return "\n".join(lines)
