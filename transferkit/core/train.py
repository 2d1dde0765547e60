"""Step 3 of the protocol: fine-tune with monitoring, evaluate on held-out data, save the artifact.

Lightning runs every loop that trains a network. A frozen backbone without random augmentation takes the
fast path: features are computed once (core/features.py) and only the head is fitted, with
scikit-learn's logistic regression for a linear probe (regularization chosen on validation data) or a
small Lightning loop for a deeper head. Both paths end in the same artifact.
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from transferkit.core.data import Examples, describe, require_classes, sample_per_class, stratified_split
from transferkit.core.specs import ThresholdPolicy
from transferkit.errors import DataError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import torch

    from transferkit.core.configure import TransferPlan
    from transferkit.core.domain import Domain
    from transferkit.core.model import TransferModel

log = logging.getLogger("transferkit")


@dataclass
class Splits:
    """The train / validation / (optional) test examples of one run."""

    train: Examples
    val: Examples
    test: Examples | None = None


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model, its metrics per split, the history and the folder."""

    model: "TransferModel"
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    out: Path | None
    seconds: float
    notes: list[str] = field(default_factory=list)
    rank: int = 0  # several training processes (DDP): only rank 0 scores, saves and prints

    @property
    def plan(self) -> "TransferPlan":
        return self.model.plan


def read_data(
    domain: "Domain", data: "str | Path | Examples", *, split: str | None = None, options: dict[str, Any] | None = None
) -> Examples:
    """Read ``data`` with the domain's reader unless it already is :class:`Examples`."""
    if isinstance(data, Examples):
        return data
    if not Path(str(data)).exists():
        raise DataError("no such file or folder", file=data, fix="check the --data/--val/--test path")
    return domain.read(data, split=split, options=options or {})


def _holdout_test_split(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Set aside a stratified ``fraction`` of ``examples`` as test data, recording which ones (for prepare_splits)."""
    if not 0 < fraction < 1:
        raise UsageError(f"the held-out test fraction must be between 0 and 1, got {fraction}",
                         field="holdout_test", fix="e.g. --holdout-test 0.2")
    counts = examples.counts()
    scarce = {label: n for label, n in counts.items() if n < 3}
    if scarce:
        raise DataError(f"too few examples to set aside a test split: {scarce} (each class needs 3: test, "
                        "validation, training)", file=examples.source, fix="pass separate test data with --test")
    # Split the positions, not the items, so that the artifact can record which examples were set aside.
    positions = Examples(items=list(range(len(examples))), labels=examples.labels, source=examples.source)
    keep, held = stratified_split(positions, fraction, seed)
    train_ex, test_ex = examples.subset(keep.items), examples.subset(held.items)
    test_ex.meta = {**test_ex.meta, "holdout": {"from": examples.source, "fraction": fraction, "seed": seed,
                                                "n": len(held), "fingerprint_of_source": examples.fingerprint(),
                                                "indices": list(held.items)}}
    return train_ex, test_ex


def prepare_splits(
    domain: "Domain",
    data: "str | Path | Examples",
    *,
    val: "str | Path | Examples | None" = None,
    test: "str | Path | Examples | None" = None,
    per_class: int | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    read_options: dict[str, Any] | None = None,
    holdout_test: float | None = None,
) -> Splits:
    """Read the data and make the splits: the format's own splits first, else a stratified hold-out.

    ``holdout_test`` (a fraction) sets aside a stratified test split of the training data with ``seed``,
    first, before any sampling or validation split, so that no choice is ever made on it; which examples,
    the fraction and the seed are recorded in ``test.meta["holdout"]`` (and so in the artifact).
    ``per_class`` keeps that many labelled examples per class *before* the validation hold-out, so
    ``--per-class 32`` means 32 labels per class in all, as in a few-label experiment.

    Example:
        >>> from transferkit.core.data import Examples
        >>> ex = Examples(items=list(range(20)), labels=["a", "b"] * 10, source="mem")
        >>> splits = prepare_splits(None, ex, holdout_test=0.2, seed=0)
        >>> len(splits.train), len(splits.val), len(splits.test), splits.test.meta["holdout"]["fraction"]
        (12, 4, 4, 0.2)
    """
    inside = [] if isinstance(data, Examples) else domain.splits_in(data)
    train_ex = read_data(domain, data, split="train" if "train" in inside else None, options=read_options)
    val_ex = read_data(domain, val, options=read_options) if val is not None else None
    test_ex = read_data(domain, test, split="test" if test is data else None, options=read_options) if test else None
    if val_ex is None and "val" in inside:
        val_ex = read_data(domain, data, split="val", options=read_options)
        val_ex.meta = {**val_ex.meta, "origin": "own"}  # for the plan: where validation came from
    if test_ex is None and "test" in inside:
        test_ex = read_data(domain, data, split="test", options=read_options)
    require_classes(train_ex)
    if holdout_test:
        if test_ex is not None:
            raise UsageError("test data were given already, so no test split is set aside from the training data",
                             file=test_ex.source, field="holdout_test",
                             fix="pass either --test PATH (or data that hold a test split) or --holdout-test")
        train_ex, test_ex = _holdout_test_split(train_ex, holdout_test, seed)
    if per_class:
        train_ex = sample_per_class(train_ex, per_class, seed)
    if val_ex is None:
        train_ex, val_ex = stratified_split(train_ex, val_fraction, seed)
        val_ex.meta = {**val_ex.meta, "origin": {"kind": "held-out", "fraction": val_fraction, "seed": seed}}
    for name, split in (("validation", val_ex), ("test", test_ex)):
        if split is not None and len(split) == 0:
            raise DataError(f"the {name} data is empty", file=split.source, fix="check the path")
    return Splits(train_ex, val_ex, test_ex)


def _class_weights(targets: np.ndarray, n_classes: int) -> "torch.Tensor":
    import torch

    counts = np.bincount(targets, minlength=n_classes).astype(np.float64)
    weights = len(targets) / (n_classes * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


def _quiet_lightning() -> None:
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Expected here: frozen BatchNorm layers are in eval mode on purpose (see TransferModel.train), and the
    # pytree notice is Lightning's own deprecation, not ours to act on.
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


def _trainer(cfg: dict[str, Any], run_dir: Path, callbacks: list[Any], reporter: Any, deterministic: bool,
             checkpoints: bool = True) -> Any:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from transferkit.core.devices import is_distributed, lightning_accelerator, training_precision
    from transferkit.core.lightning_module import FileCheckpointIO

    # Two checkpoints: the best epoch (restored after training) and the latest one (what --resume reads;
    # Lightning's own save_last only writes when the best improved). Both are written once the epoch is
    # complete, validation included, so a resumed run starts at the next epoch.
    # The best one only ever gives its weights back (after training), so it is written without the
    # optimizer's state: AdamW keeps two moments of every trainable weight, which would triple the file.
    best = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor="val_score", mode="max",
                           save_on_train_epoch_end=True, enable_version_counter=False, save_weights_only=True)
    last = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", save_top_k=1,
                           save_on_train_epoch_end=True, enable_version_counter=False)
    callbacks = [best, last, *callbacks] if checkpoints else list(callbacks)
    if checkpoints:
        import warnings

        # transferkit owns run/checkpoints: on --resume it holds last.ckpt on purpose (check_out refuses a
        # folder transferkit did not write), so Lightning's notice about a non-empty folder is noise.
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty\.")
    if cfg["patience"]:
        callbacks.append(EarlyStopping(monitor="val_score", mode="max", patience=cfg["patience"]))
    callbacks += reporter.callbacks()
    if is_distributed(cfg):
        import warnings

        # Every rank scores the whole validation set (see use_distributed_sampler below), so the epoch-level
        # values agree without syncing them.
        warnings.filterwarnings("ignore", message=r".*sync_dist=True.*")
    accelerator = lightning_accelerator()
    return pl.Trainer(
        max_epochs=cfg["epochs"],
        accelerator=accelerator,
        # --devices / --num-nodes / --distributed-strategy (core/devices.py); one process unless asked.
        devices=cfg.get("devices", 1),
        num_nodes=cfg.get("num_nodes", 1),
        strategy=cfg.get("distributed_strategy", "auto"),
        # The training sampler shards itself across ranks (core/seeding.py EpochSampler), keeping the
        # (seed, epoch, index) draws; every rank scores the whole validation set, so all agree on the best epoch.
        use_distributed_sampler=False,
        precision=training_precision(cfg["precision"], accelerator),  # auto: bf16/16-mixed on a GPU, 32-true on the CPU
        callbacks=callbacks,
        enable_checkpointing=checkpoints,  # else Lightning adds a checkpoint callback of its own
        plugins=[FileCheckpointIO()],  # checkpoints written to a file and renamed in: see its docstring
        logger=CSVLogger(run_dir, name="logs"),
        enable_progress_bar=reporter.mode == "rich",
        # Exact on GPU too (slower kernels); on CPU the seeding of core/seeding.py is already bit-exact.
        deterministic=deterministic or None,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        default_root_dir=run_dir,
    )


def _run_lightning(
    module: Any,
    train_loader: Any,
    val_loader: Any,
    cfg: dict[str, Any],
    run_dir: Path,
    callbacks: list[Any],
    resume: bool,
    reporter: Any,
    deterministic: bool = False,
    checkpoints: bool = True,
) -> list[str]:
    """Fit with Lightning, then restore the best epoch's weights. Returns notes for the report.

    ``checkpoints=False`` (a head on cached features) writes no checkpoint files: the best epoch's weights
    are kept in memory, and ``resume`` trains the head again from the first epoch (same seed, same result).

    SIGINT/SIGTERM stop the loop after the current batch (core/interrupt.py); the checkpoint of the last
    complete epoch is what ``--resume`` continues from, so the resumed run repeats the interrupted epoch
    exactly as the uninterrupted run did (every draw is seeded per epoch, item and step: core/seeding.py).
    """
    import signal

    import torch
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from transferkit.core.budget import current_deadline, time_budget_callback
    from transferkit.core.interrupt import Interrupted, cooperative, stop_callback
    from transferkit.core.seeding import step_seed

    _quiet_lightning()
    notes = []
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt_path = None
    if resume and not checkpoints:
        notes.append("--resume: the head was trained again from the cached features (no checkpoints for a head)")
    elif resume and last.is_file():
        from transferkit.core.safe_load import load_weights_only

        load_weights_only(last)  # a damaged or planted checkpoint: a one-line error, and nothing in it runs
        ckpt_path = str(last)
        notes.append(f"resumed from {last}")
    elif resume:
        notes.append("--resume: the interrupted run had completed no epoch, so training started from the first")
    else:
        for name in ("best.ckpt", "last.ckpt"):  # only the files _trainer writes
            # A fresh run must not pick up the previous run's "best".
            (run_dir / "checkpoints" / name).unlink(missing_ok=True)
    callbacks = [step_seed(cfg["seed"]), stop_callback(), *callbacks]
    at = current_deadline()  # set by fit() when the run has a time budget
    budget_stop = time_budget_callback(at) if at is not None else None
    if budget_stop is not None:
        callbacks.append(budget_stop)
    keeper = None
    if not checkpoints:
        from transferkit.core.lightning_module import BestWeights

        keeper = BestWeights()
        callbacks.append(keeper)
    trainer = _trainer(cfg, run_dir, callbacks, reporter, deterministic, checkpoints)
    try:
        with cooperative():
            # weights_only: checkpoints are read without unpickling arbitrary objects.
            trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path, weights_only=True)
    except SIGTERMException:  # Lightning's own SIGTERM stop, a SystemExit with code 0: never success
        raise Interrupted(signal.SIGTERM, epochs_done=trainer.current_epoch, epochs=cfg["epochs"]) from None
    except Interrupted as stop:
        stop.epochs_done, stop.epochs = trainer.current_epoch, cfg["epochs"]
        raise
    if budget_stop is not None and budget_stop.stopped:
        part = f" and part of epoch {budget_stop.completed + 1}" if budget_stop.partial else ""
        notes.append(f"stopped at the time budget after {budget_stop.completed} epochs{part} "
                     f"(of {cfg['epochs']})")
    if keeper is not None and keeper.state is not None:
        module.model.load_state_dict(keeper.state)
        notes.append(f"restored the best epoch (epoch {keeper.epoch + 1}, val_score {float(keeper.score):.4f})")
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best and Path(best).is_file():
        checkpoint = torch.load(best, map_location="cpu", weights_only=True)
        state = checkpoint["state_dict"]
        # Only the network's weights: the module also holds e.g. the class weights of its loss.
        module.model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})
        module.restored_epoch = checkpoint.get("epoch")  # whose validation pass train() can report
        # Counted from 1, as the progress lines count epochs (Lightning counts from 0).
        which = f"epoch {module.restored_epoch + 1}" if module.restored_epoch is not None else Path(best).name
        notes.append(f"restored the best epoch ({which}, val_score {trainer.checkpoint_callback.best_model_score:.4f})")
    return notes


# Strategies that unfreeze backbone layers while training.
UNFREEZING = ("freeze-unfreeze", "gradual")


def refuse_unfreezing_across_processes(strategy: str) -> NoReturn:
    """Raise the one-line error for a strategy that unfreezes layers during training, with several training
    processes. DDP and FSDP register the trainable weights once, when they wrap the model: weights unfrozen
    later would train on each rank apart and drift.

    Example:
        >>> refuse_unfreezing_across_processes("gradual")
        Traceback (most recent call last):
        transferkit.errors.UsageError: field 'strategy': the 'gradual' strategy unfreezes backbone layers during ...
    """
    raise UsageError(f"the '{strategy}' strategy unfreezes backbone layers during training, which several "
                     "training processes do not support", field="strategy",
                     fix="use --strategy full (or freeze / linear-probe) with --devices, or train on one device")


# Below this many validation examples, C is chosen by cross-validation on train+val instead: on a handful
# of images every C ties on validation accuracy and the tie-break picks C by chance (the demo's 4
# validation images chose C=0.001 at one resolution and C=10 at another, 0.83 against 0.93 test accuracy).
SMALL_VALIDATION = 50
C_GRID = np.logspace(-4, 1, 11)


def _oof_probabilities(x: np.ndarray, y: np.ndarray, c: float, weight: Any, n_labels: int, folds: int,
                       seed: int, standardize: bool = True) -> np.ndarray:
    """Out-of-fold class probabilities of a (scaled) logistic regression (repeated stratified k-fold, mean)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probs, seen = np.zeros((len(y), n_labels)), np.zeros(len(y))
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=2, random_state=seed)
    for fit_idx, held_idx in splitter.split(x, y):
        clf = make_pipeline(StandardScaler(with_mean=standardize, with_std=standardize),
                            LogisticRegression(C=c, class_weight=weight, max_iter=3000))
        clf.fit(x[fit_idx], y[fit_idx])
        probs[np.ix_(held_idx, clf[-1].classes_)] += clf.predict_proba(x[held_idx])
        seen[held_idx] += 1
    return probs / np.maximum(seen, 1)[:, None]


def _fit_linear_probe(
    model: "TransferModel",
    features: tuple["torch.Tensor", "torch.Tensor"],
    targets: tuple[np.ndarray, np.ndarray],
    cfg: dict[str, Any],
    standardize: bool = True,
) -> list[dict[str, Any]]:
    """Logistic regression on frozen features, its C chosen on validation data, copied into the head.

    With a small validation set C is chosen by repeated stratified k-fold cross-validation on train+val
    (out-of-fold predictions scored with the preset's metric, ties to the lower log-loss); the final
    model is always fitted on the training split alone, so the validation figures stay out-of-sample.
    ``standardize=False`` fits on the raw features (see :func:`_fit_probe_pooled`).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from transferkit.core.metrics import epoch_metrics, metric_value

    x_train, x_val = (f.numpy().astype(np.float64) for f in features)
    y_train, y_val = targets
    scaler = StandardScaler(with_mean=standardize, with_std=standardize).fit(x_train)
    # An empty validation set (the contrastive fit pools every label): C by cross-validation on train alone.
    xs_train, xs_val = scaler.transform(x_train), scaler.transform(x_val) if len(x_val) else x_val
    weight = "balanced" if cfg["class_weights"] == "balanced" else None
    pooled_x, pooled_y = np.vstack([x_train, x_val]), np.concatenate([y_train, y_val])
    counts = np.bincount(pooled_y)
    folds = min(5, int(counts[counts > 0].min()))
    use_cv = len(y_val) < SMALL_VALIDATION and folds >= 2
    prefix = "cv" if use_cv else "val"
    history, best = [], None
    for c in C_GRID:
        clf = None  # under cross-validation only the chosen C is fitted on the training split, once, below
        if use_cv:
            scored_y = pooled_y
            full = _oof_probabilities(pooled_x, pooled_y, float(c), weight, len(model.labels), folds, cfg["seed"],
                                      standardize)
        else:
            clf = LogisticRegression(C=c, class_weight=weight, max_iter=3000).fit(xs_train, y_train)
            scored_y = y_val
            full = np.zeros((len(xs_val), len(model.labels)))
            full[:, clf.classes_] = clf.predict_proba(xs_val)
        metrics = epoch_metrics(  # the same figures, without ~10 sklearn calls per C
            scored_y, full, model.labels)
        score = (metric_value(metrics, cfg["metric"]), -metrics["loss"])
        history.append({"C": float(c), f"val_{cfg['metric']}": metrics.get(cfg["metric"]),
                        "val_loss": metrics["loss"], "val_accuracy": metrics["accuracy"],
                        "train_loss": None, "selection": prefix})
        if best is None or score > best[0]:
            best = (score, clf, float(c))
    clf = best[1] or LogisticRegression(C=best[2], class_weight=weight, max_iter=3000).fit(xs_train, y_train)
    scale = scaler.scale_ if standardize else np.ones(x_train.shape[1])
    mean = scaler.mean_ if standardize else np.zeros(x_train.shape[1])
    coef = clf.coef_ / scale
    intercept = clf.intercept_ - (clf.coef_ * mean / scale).sum(axis=1)
    copy_into_head(model, clf.classes_, coef, intercept)
    for row in history:
        row["chosen"] = row["C"] == float(clf.C)
    return history


def copy_into_head(model: "TransferModel", classes: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> None:
    """Put a scikit-learn linear classifier (``coef_``/``intercept_`` on the model's feature space, rows for
    ``classes``) into the model's last linear layer, rows in ``model.labels`` order.

    Example:
        >>> copy_into_head(model, clf.classes_, clf.coef_, clf.intercept_)  # doctest: +SKIP
    """
    import torch

    if coef.shape[0] == 1:  # binary: sklearn models the log-odds of classes_[1]; softmax([0, z]) = sigmoid(z)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    # Rows of coef follow classes; classes absent from the training data are never predicted.
    weight_full = np.zeros((len(model.labels), coef.shape[1]))
    bias_full = np.full(len(model.labels), -1e4)
    weight_full[classes] = coef
    bias_full[classes] = intercept
    linear = model.head[-1]
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight_full, dtype=linear.weight.dtype))
        linear.bias.copy_(torch.tensor(bias_full, dtype=linear.bias.dtype))


def _fit_probe_pooled(
    model: "TransferModel",
    features: tuple["torch.Tensor", "torch.Tensor"],
    targets: tuple[np.ndarray, np.ndarray],
    cfg: dict[str, Any],
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The linear probe on every label, for a validation slice too small to choose C on by itself.

    C is chosen by cross-validation on train+validation and the head is fitted on all of them (as
    scikit-learn's ``GridSearchCV(refit=True)``): at 4 labels a class, fitting on the 3 training examples and
    keeping the fourth only to re-score a choice that cross-validation already made throws a quarter of the
    labels away. The validation probabilities returned are the validation examples' out-of-fold ones at the
    chosen C (each predicted by models that did not see it), so validation figures stay out-of-sample.

    The features are not standardised here: a per-feature scale estimated from a few examples (8 at 4 a
    class, against 384 to 1,280 features) inflates the features that happen to vary little among them.
    Both choices were made on budgets drawn from the training pools of SMS (MiniLM) and ants/bees
    (EfficientNet-Lite0, 96 px) and scored on the rest of each pool, never on a test split
    (``python benchmarks/compare.py --parts rules``; docs/compare.md, "Why the probe lost").

    Example:
        >>> history, val_probs = _fit_probe_pooled(model, (f_train, f_val), (y_train, y_val), cfg)  # doctest: +SKIP
    """
    import torch

    y_train, y_val = targets
    f_fit, y_fit = torch.cat([features[0], features[1]]), np.concatenate([y_train, y_val])
    history = _fit_linear_probe(model, (f_fit, f_fit[:0]), (y_fit, y_fit[:0]), cfg, standardize=False)
    chosen = next(row["C"] for row in history if row["chosen"])
    counts = np.bincount(y_fit)
    weight = "balanced" if cfg["class_weights"] == "balanced" else None
    oof = _oof_probabilities(f_fit.numpy().astype(np.float64), y_fit, chosen, weight, len(model.labels),
                             min(5, int(counts[counts > 0].min())), int(cfg["seed"]), standardize=False)
    return history, oof[len(y_train):]


def _param_groups(model: "TransferModel") -> list[tuple[str, list[Any], float]]:
    plan = model.plan
    lora_ids = {id(p) for p in model.backbone.lora_parameters()}
    groups: list[tuple[str, list[Any], float]] = [("head", list(model.head.parameters()), plan.head_lr)]
    if lora_ids:
        groups.append(("lora", list(model.backbone.lora_parameters()), plan.head_lr))
    seen: set[int] = set(lora_ids)
    for group_plan, group in zip(plan.groups, model.backbone.layer_groups()):
        params = [p for p in group.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        if group_plan.unfreeze_epoch is not None:
            groups.append((group_plan.name, params, group_plan.lr))
    return groups


def train(model: "TransferModel", data: "str | Path | Examples | Splits", **options: Any) -> TrainResult:
    """Fine-tune a configured model, monitor it on validation data, evaluate it and save the artifact.

    Takes the options of :func:`_train`. SIGINT and SIGTERM raise :class:`~transferkit.core.interrupt.Interrupted`
    (exit code 130 / 143 in the CLI), which says how many epochs are saved in ``out/run`` for ``resume=True``.

    Example:
        >>> run = train(model, "data/hymenoptera", out="models/ants-bees")  # doctest: +SKIP
    """
    from transferkit.core.interrupt import Interrupted, signal_guard

    with signal_guard():
        try:
            return _train(model, data, **options)
        except Interrupted as stop:
            out = options.get("out")
            stop.out = Path(out) if out is not None else None
            stop.epochs = stop.epochs or model.plan.train["epochs"]
            raise


def _space_needed(model: "TransferModel") -> int:
    """Bytes the checkpoints and the artifact of ``model`` take, roughly: every weight in the artifact and in
    two checkpoints, and AdamW's two moments of every trainable weight in both checkpoints."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return 3 * total + 4 * trainable


def _train(
    model: "TransferModel",
    data: "str | Path | Examples | Splits",
    *,
    val: "str | Path | Examples | None" = None,
    test: "str | Path | Examples | None" = None,
    out: str | Path | None = None,
    per_class: int | None = None,
    resume: bool = False,
    read_options: dict[str, Any] | None = None,
    progress: Any = False,
    batch_size: int | None = None,
    baselines: dict[str, Any] | None = None,
    deterministic: bool = False,
    devices: int | str = 1,
    num_nodes: int = 1,
    distributed_strategy: str = "auto",
) -> TrainResult:
    """Fine-tune a configured model, monitor it on validation data, evaluate it and save the artifact.

    ``baselines`` (name -> metrics of other models on the same split) go into the model card.
    ``progress``: a :class:`~transferkit.core.progress.Reporter`, a mode (``rich``, ``plain``, ``none``) or a
    bool. ``deterministic`` asks Lightning for deterministic kernels (exact GPU runs, slower).
    ``devices``, ``num_nodes`` and ``distributed_strategy`` (``auto``, ``ddp``, ``fsdp``) go to Lightning's
    Trainer (docs/scaling.md); with several processes only rank 0 scores and writes the model folder, and
    the others return a result with ``rank`` set and no metrics.

    Example:
        >>> run = train(model, "data/hymenoptera", out="models/ants-bees")  # doctest: +SKIP
        >>> run.metrics["val"]["accuracy"]  # doctest: +SKIP
        0.95
    """
    import torch
    from torch.utils.data import DataLoader

    from transferkit.core.devices import distributed_settings, global_rank, is_distributed, loader_options
    from transferkit.core.evaluate import predict_proba, targets_for
    from transferkit.core.features import FeatureBatches, cached_features, one_thread_on_cpu
    from transferkit.core.metrics import choose_threshold, classification_metrics
    from transferkit.core.outputs import prepare_out, require_space, run_settings
    from transferkit.core.progress import Reporter
    from transferkit.core.seeding import seed_all, seeded_loader

    started = time.time()
    reporter = progress if isinstance(progress, Reporter) else Reporter(progress)
    plan = model.plan
    cfg = dict(plan.train)
    if batch_size:
        cfg["batch_size"] = batch_size
    distributed = distributed_settings(devices, num_nodes, distributed_strategy)
    cfg.update(distributed)  # read by _trainer
    if is_distributed(distributed) and any(g.unfreeze_epoch for g in plan.groups):
        refuse_unfreezing_across_processes(plan.strategy)
    domain, preset = model.domain, model.preset
    out_path = Path(out) if out is not None else None
    if out_path is not None:  # before any work: a wrong --out must cost nothing (core/outputs.py)
        inputs = [] if isinstance(data, (Splits, Examples)) else [data, val, test]
        settings = None  # data already split (by fit(), which marked the folder with its own settings)
        if not isinstance(data, Splits):
            settings = run_settings(domain=domain, data=data, val=val, test=test, per_class=per_class,
                                    seed=cfg["seed"], read_options=read_options,
                                    preset=preset.id if preset else None, model=plan.source, strategy=plan.strategy,
                                    head=getattr(plan, "head_config", None),
                                    overrides={k: v for k, v in plan.train.items() if k != "seed"})
        run_dir = prepare_out(out_path, inputs=inputs, resume=resume, seed=cfg["seed"], settings=settings)
        require_space(out_path, _space_needed(model))
    seed_all(cfg["seed"])
    if not isinstance(data, Splits):
        reporter.step("reading data")
    splits = data if isinstance(data, Splits) else prepare_splits(
        domain, data, val=val, test=test, per_class=per_class, seed=cfg["seed"],
        val_fraction=cfg["val_fraction"], read_options=read_options,
    )
    for name, split in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        if split is not None:
            log.info("%s: %s", name, describe(split))
    y_train = targets_for(splits.train, model.labels)
    y_val = targets_for(splits.val, model.labels)
    weights = _class_weights(y_train, len(model.labels)) if cfg["class_weights"] == "balanced" else None

    scratch = None
    if out_path is None:
        scratch = tempfile.TemporaryDirectory(prefix="transferkit-run-")
        run_dir = Path(scratch.name)
    run_dir.mkdir(parents=True, exist_ok=True)

    notes: list[str] = []
    random_aug = domain.has_random_augmentation(preset)
    use_features = plan.backbone_frozen and (plan.strategy == "linear-probe" or not random_aug)
    history: list[dict[str, Any]]
    val_probs: np.ndarray
    # A domain may fit the head itself (a sparse linear model, a head warm-started from an earlier
    # artifact) and may add baselines fitted on the same split; None leaves the training to the core.
    # Either may be one long scikit-learn fit (spam: TF-IDF + logistic regression): a line every 15 s says so.
    with reporter.working(f"fitting the {domain.name} domain's baselines", announce=False):
        baselines = {**domain.baselines(model, splits), **(baselines or {})}
    with reporter.working(f"fitting the model (the {domain.name} domain's own fit)",
                          announce=plan.fit.get("by") == "domain"):  # else it may have nothing to do
        own_fit = domain.fit_head(model, splits, (y_train, y_val), cfg, run_dir)
    if own_fit is not None:
        history, val_probs = own_fit[0], own_fit[1]
        notes += own_fit[2]
    elif use_features:
        if random_aug:
            notes.append("augmentation not used: a linear probe fits on cached features of the un-augmented data")
        n_features = len(splits.train) + len(splits.val)
        with reporter.working(f"computing features with the frozen backbone, once ({n_features} examples)",
                              total=n_features):
            f_train = cached_features(model, splits.train, cfg["batch_size"], run_dir / "features")
            f_val = cached_features(model, splits.val, cfg["batch_size"], run_dir / "features")
        notes.append(f"feature cache: backbone ran once over {len(splits.train) + len(splits.val)} examples")
        oof_val: np.ndarray | None = None  # out-of-fold validation probabilities of a probe fitted on every label
        if plan.strategy == "linear-probe":
            from transferkit.core.contrastive import pools_labels

            from threadpoolctl import threadpool_limits

            # One BLAS thread: each of the probe's ~120 small L-BFGS fits is far too small to share, and a
            # second thread spinning on a loaded 2-core machine made the probe about 5 times slower.
            with reporter.working("fitting the linear probe (logistic regression, its C chosen as the plan "
                                  "says)"), threadpool_limits(limits=1):
                pooled = pools_labels(splits)
                if pooled:
                    history, oof_val = _fit_probe_pooled(model, (f_train, f_val), (y_train, y_val), cfg)
                else:
                    history = _fit_linear_probe(model, (f_train, f_val), (y_train, y_val), cfg)
            if pooled:
                how = (f"by cross-validation on all {len(y_train) + len(y_val)} labels (the {len(y_val)} held out "
                       f"for validation, under {SMALL_VALIDATION}, were pooled back; validation figures are "
                       "out-of-fold)")
            else:
                how = ("by cross-validation on train+val (validation set under "
                       f"{SMALL_VALIDATION} examples)" if history[0].get("selection") == "cv" else "on validation")
            chosen = next(row["C"] for row in history if row["chosen"])
            notes.append(f"linear probe: logistic regression, C={chosen:g} chosen on {cfg['metric']} {how}")
        else:
            from transferkit.core.lightning_module import TransferModule  # Lightning: only where it trains

            module = TransferModule(model.head, [("head", list(model.head.parameters()), plan.head_lr)], cfg,
                                    model.labels, weights)
            # Batches sliced from the feature tensors (the order a seeded DataLoader would take), one torch
            # thread, the best epoch kept in memory: the per-epoch costs around a head's few tiny products.
            loader = FeatureBatches(f_train, torch.as_tensor(y_train), batch_size=cfg["batch_size"],
                                    seed=cfg["seed"], shuffle=True)
            val_loader = FeatureBatches(f_val, torch.as_tensor(y_val), batch_size=256)
            with one_thread_on_cpu():
                notes += _run_lightning(module, loader, val_loader, cfg, run_dir, [], resume, reporter,
                                        deterministic, checkpoints=False)
            history = module.history
        model.eval()
        with torch.inference_mode():
            val_probs = torch.softmax(model.head(f_val.to(next(model.head.parameters()).device)), -1).cpu().numpy()
        if oof_val is not None:  # the head saw the validation labels: score each with models that did not
            val_probs = oof_val
    else:
        from transferkit.core.lightning_module import TransferModule, UnfreezeSchedule

        train_set = domain.dataset(model.backbone, splits.train.items, y_train.tolist(), preset, train=True)
        val_set = domain.dataset(model.backbone, splits.val.items, y_val.tolist(), preset, train=False)
        # Workers decode items only where the domain's dataset does real per-item work; per-item seeding
        # (core/seeding.py) keeps the draws the same in any number of them.
        loader = seeded_loader(train_set, seed=cfg["seed"], batch_size=cfg["batch_size"], shuffle=True,
                               collate_fn=domain.collate, drop_last=len(train_set) > cfg["batch_size"],
                               **loader_options(train_set, cfg["batch_size"]))
        val_loader = DataLoader(val_set, batch_size=cfg["batch_size"], collate_fn=domain.collate,
                                **loader_options(val_set, cfg["batch_size"]))
        module = TransferModule(model, _param_groups(model), cfg, model.labels, weights)
        schedule = UnfreezeSchedule(model.backbone.layer_groups(), [g.unfreeze_epoch for g in plan.groups], model)
        notes += _run_lightning(module, loader, val_loader, cfg, run_dir, [schedule], resume, reporter, deterministic)
        history = module.history
        # The chosen epoch's own validation pass, when it ran in this process: scoring the same weights on
        # the same batches again would cost a whole pass over the validation data (a resumed run whose best
        # epoch came before the interruption scores again, with the same result).
        val_probs = module.validation_probs()
        if val_probs is None:
            with reporter.working(f"scoring the validation data with the chosen epoch ({len(splits.val)} examples)",
                                  total=len(splits.val)):
                val_probs = predict_proba(model, splits.val.items, cfg["batch_size"])
    model.cpu().eval()
    rank = global_rank()
    if rank != 0:  # another process of a multi-process run: rank 0 scores, saves and reports the one model
        if scratch is not None:
            scratch.cleanup()
        return TrainResult(model, {}, history, None, time.time() - started, notes, rank=rank)

    policy: ThresholdPolicy = preset.threshold
    if policy.policy != "argmax" and len(model.labels) == 2:  # configure() checked the positive label
        positive = model.labels.index(policy.positive) if policy.positive is not None else 1
        model.positive = positive
        model.threshold = choose_threshold(policy, (y_val == positive).astype(int), val_probs[:, positive])
        notes.append(f"threshold {model.threshold:.4f} on '{model.labels[positive]}' chosen on validation data "
                     f"({policy.policy} {policy.value})")

    metrics = {"val": classification_metrics(y_val, val_probs, model.labels, threshold=model.threshold,
                                             positive=model.positive, confidence=True)}
    eval_data = {"val": (y_val, val_probs)}
    if splits.test is not None:
        y_test = targets_for(splits.test, model.labels)
        with reporter.working(f"scoring the test data ({len(splits.test)} examples)", total=len(splits.test)):
            test_probs = predict_proba(model, splits.test.items, cfg["batch_size"])
        metrics["test"] = classification_metrics(y_test, test_probs, model.labels, threshold=model.threshold,
                                                 positive=model.positive, confidence=True)
        eval_data["test"] = (y_test, test_probs)
    from transferkit.core.budget import overrun_note

    overrun = overrun_note()  # a run past its time budget says so, and by how much: notes and model card
    if overrun is not None:
        notes.append(overrun)
    seconds = time.time() - started
    result = TrainResult(model, metrics, history, out_path, seconds, notes)
    if out_path is not None:
        with reporter.working(f"saving the model to {out_path}"):  # the report's figures take seconds
            save_run(result, splits, read_options or {}, eval_data, baselines)
    if scratch is not None:
        scratch.cleanup()
    return result


def _data_summary(examples: Examples | None) -> dict[str, Any] | None:
    if examples is None:
        return None
    return {
        "source": examples.source,
        "n": len(examples),
        "counts": examples.counts(),
        "fingerprint": examples.fingerprint(),
        "skipped": [{"item": s.item, "reason": s.reason} for s in examples.skipped],
        # A test split set aside from the training data: from what, which positions, fraction and seed.
        **({"holdout": examples.meta["holdout"]} if examples.meta.get("holdout") else {}),
    }


def run_metadata(result: TrainResult, splits: Splits, read_options: dict[str, Any]) -> dict[str, Any]:
    """The ``transferkit.json`` of a run: everything needed to rebuild, audit and reuse the model."""
    import torch

    import transferkit
    from transferkit.core.data_checks import data_warnings
    from transferkit.core.provenance import plugin_record

    from transferkit.core.metrics import split_label

    model = result.model
    for split, values in result.metrics.items():  # each block says what its figures are worth
        values.setdefault("split_name", split_label(split))
    return {
        "format_version": 1,
        "transferkit_version": transferkit.__version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "name": result.out.name if result.out else "model",
        "domain": model.domain.name,
        "plugin": plugin_record(model.domain.name),  # name, package, version: load() checks it
        "base_model": model.backbone.source_id,
        "labels": model.labels,
        "backbone": model.backbone.config(),
        "plan": model.plan.as_dict(),
        "plan_text": model.plan.render(),
        "preset": model.preset.model_dump(),
        "threshold": {
            "policy": model.preset.threshold.policy,
            "value": model.threshold,
            "positive": model.labels[model.positive] if model.positive is not None else None,
        },
        "metrics": result.metrics,
        "data": {"train": _data_summary(splits.train), "val": _data_summary(splits.val),
                 "test": _data_summary(splits.test),
                 # What makes the figures less trustworthy (imbalance, duplicates, tiny splits): card and report.
                 "warnings": data_warnings(splits.train, splits.val, splits.test)},
        "read_options": read_options,
        "train_seconds": round(result.seconds, 1),
        "notes": result.notes,
    }


def save_run(result: TrainResult, splits: Splits, read_options: dict[str, Any], eval_data: dict[str, Any],
             baselines: dict[str, Any] | None = None) -> Path:
    """Write the artifact of a finished run (weights, metadata, report), atomically."""
    from transferkit.core.artifact import save_artifact
    from transferkit.core.outputs import record_saved_checkpoint
    from transferkit.core.report import write_report

    meta = run_metadata(result, splits, read_options)
    if baselines:
        meta["baselines"] = baselines
    result.model.meta = meta
    # The evaluated items, for the report's gallery of the worst mistakes (images only).
    items = {name: split.items for name, split in (("val", splits.val), ("test", splits.test)) if split is not None}
    saved = save_artifact(result.model, result.out, meta,
                          write_files=lambda folder: write_report(folder, meta, result.history, eval_data, items))
    record_saved_checkpoint(saved)  # which checkpoint this model holds, for a copy that loses file times
    return saved


def fit(
    domain: str,
    data: "str | Path | Examples",
    *,
    preset: Any = None,
    model: str | Path | None = None,
    strategy: str | None = None,
    out: str | Path | None = None,
    val: "str | Path | Examples | None" = None,
    test: "str | Path | Examples | None" = None,
    per_class: int | None = None,
    seed: int | None = None,
    read_options: dict[str, Any] | None = None,
    head: dict[str, Any] | None = None,
    remove_last: int = 0,
    dry_run: bool = False,
    resume: bool = False,
    progress: Any = False,
    baselines: dict[str, Any] | None = None,
    holdout_test: float | None = None,
    deterministic: bool = False,
    from_scratch: bool = False,
    on_plan: "Callable[[TransferPlan], None] | None" = None,
    time_budget: "str | float | None" = "default",
    devices: int | str = 1,
    num_nodes: int = 1,
    distributed_strategy: str = "auto",
    **train_overrides: Any,
) -> "TrainResult | TransferPlan":
    """Select, configure and train in one call: what ``transferkit train`` runs.

    The data are read first, so that ``auto`` can choose the strategy from the labels per class and the
    head gets exactly the classes found. ``dry_run=True`` returns the plan without training.
    ``out`` is checked before anything is read or loaded (core/outputs.py); every random source follows the
    seed (core/seeding.py); SIGINT/SIGTERM raise :class:`~transferkit.core.interrupt.Interrupted`.
    ``from_scratch=True`` trains the same network from random weights (see :func:`~transferkit.core.select.select`).
    ``time_budget`` (``"10m"``, ``"2h"``, seconds; ``"default"``: 15 min on CPU, 60 with a GPU; ``None`` or
    ``"none"``: no budget) is what the whole run may take: ``auto`` picks the best plan that fits, the plan
    carries its estimate, and training stops at the budget with the best epoch kept (core/budget.py).
    ``on_plan`` is called with the complete plan (data summary included) before any training, also with
    ``dry_run``: ``on_plan=lambda plan: print(plan.render())`` shows it, as ``transferkit train`` does.
    ``devices``, ``num_nodes`` and ``distributed_strategy`` (``auto``, ``ddp``, ``fsdp``) train on several
    devices and machines through Lightning (docs/scaling.md); only rank 0 writes ``out``.

    Example:
        >>> run = fit("vision", "data/hymenoptera", preset="vision/wildlife", out="models/ab")  # doctest: +SKIP
    """
    from transferkit.core.interrupt import Interrupted, signal_guard

    with signal_guard():
        try:
            return _fit(domain, data, preset=preset, model=model, strategy=strategy, out=out, val=val, test=test,
                        per_class=per_class, seed=seed, read_options=read_options, head=head,
                        remove_last=remove_last, dry_run=dry_run, resume=resume, progress=progress,
                        baselines=baselines, holdout_test=holdout_test, deterministic=deterministic,
                        from_scratch=from_scratch, on_plan=on_plan, time_budget=time_budget,
                        devices=devices, num_nodes=num_nodes, distributed_strategy=distributed_strategy,
                        **train_overrides)
        except Interrupted as stop:
            stop.out = Path(out) if out is not None and not dry_run else None
            raise


def _fit(domain: str, data: Any, *, preset: Any, model: Any, strategy: Any, out: Any, val: Any, test: Any,
         per_class: Any, seed: Any, read_options: Any, head: Any, remove_last: int, dry_run: bool, resume: bool,
         progress: Any, baselines: Any, holdout_test: Any, deterministic: bool, from_scratch: bool = False,
         on_plan: Any = None, time_budget: "str | float | None" = None,
         devices: int | str = 1, num_nodes: int = 1, distributed_strategy: str = "auto",
         **train_overrides: Any) -> "TrainResult | TransferPlan":
    from transferkit.core import budget
    from transferkit.core.configure import configure, selection_strategy, train_config
    from transferkit.core.devices import distributed_settings, is_distributed
    from transferkit.core.outputs import check_out, prepare_out, run_settings
    from transferkit.core.plan_text import plan_data
    from transferkit.core.progress import Reporter
    from transferkit.core.seeding import seed_all
    from transferkit.core.presets import load_preset
    from transferkit.core.registry import get_registry
    from transferkit.core.select import get_domain, resolve_model_source, select

    started = budget.clock()  # the time budget counts from here
    reporter = progress if isinstance(progress, Reporter) else Reporter(progress)
    distributed = distributed_settings(devices, num_nodes, distributed_strategy)  # options first: pure checks
    if out is not None:  # before the data are read and the backbone loaded: a wrong --out costs nothing
        local_model = [model] if isinstance(model, (str, Path)) and Path(str(model)).exists() else []
        out_inputs = [data, val, test, *local_model]
        check_out(out, inputs=out_inputs, resume=resume)
    for path in (data, val, test):  # a mistyped path costs nothing: refused before anything is loaded
        if isinstance(path, (str, Path)) and not Path(str(path)).exists():
            raise DataError("no such file or folder", file=path, fix="check the --data/--val/--test path")
    # Names next, from the registry and the preset files alone: an unknown preset or model (or weights that
    # are not on this machine) is refused before --out is made and the domain's code, the data or the network
    # are loaded (a plugin's import alone can take seconds: torch).
    registry = get_registry()
    chosen_preset = load_preset(preset, domain=domain, registry=registry)
    source = resolve_model_source(domain, model, chosen_preset, registry)
    # A bad value is refused before any work (after the names: the default budget asks torch for a GPU).
    budget_s = budget.parse_budget(time_budget)
    train_config(chosen_preset, train_overrides)  # a mistyped --set key, before the data and the network
    if out is not None and not dry_run:  # checked first, made once the names are known to be good
        settings = run_settings(
            domain=domain, data=data, val=val, test=test, per_class=per_class, holdout_test=holdout_test,
            seed=seed if seed is not None else train_overrides.get("seed", chosen_preset.train.seed),
            read_options=read_options, preset=chosen_preset.id,
            model=source if isinstance(source, Path) else getattr(source, "id", model),  # the default spelled out
            strategy=strategy or chosen_preset.strategy, head=head,
            remove_last=remove_last, from_scratch=from_scratch,
            overrides={k: v for k, v in train_overrides.items() if k != "seed"})
        prepare_out(out, inputs=out_inputs, resume=resume, seed=seed, settings=settings)
    if seed is not None:
        train_overrides["seed"] = seed
    cfg_seed = train_overrides.get("seed", chosen_preset.train.seed)
    val_fraction = train_overrides.get("val_fraction", chosen_preset.train.val_fraction)
    impl = get_domain(domain, registry)
    impl.validate_preset(chosen_preset)
    # The data before the network: loading a network can take a minute (a 3D CT one), reading rarely does.
    reporter.step("reading data")
    splits = prepare_splits(impl, data, val=val, test=test, per_class=per_class, seed=cfg_seed,
                            val_fraction=val_fraction, read_options=read_options, holdout_test=holdout_test)
    counts = splits.train.counts()
    impl.check_data(chosen_preset, splits)  # a 3D preset on 2D images: refused before the network is loaded
    # Seeded before the backbone is built: weights a checkpoint lacks are initialised at random.
    seed_all(seed if seed is not None else int(train_overrides.get("seed", 0)))
    reporter.step(f"loading the {domain} model")
    selection = select(domain, model, preset, registry=registry, from_scratch=from_scratch)
    # Refused here, before any timing or training and in --dry-run: a model that cannot take these data.
    selection.domain.check_plan(selection, splits)
    if is_distributed(distributed):  # the strategy configure() will take: one that unfreezes is refused now
        planned, _ = selection_strategy(selection, strategy, min(counts.values()))
        if planned in UNFREEZING:
            refuse_unfreezing_across_processes(planned)
    budget_plan = None
    requested = strategy or selection.preset.strategy
    # --resume continues the plan the first run took (recorded in out/run): timing again on a busier or
    # quieter machine could choose another, which the saved checkpoint does not fit.
    recorded = budget.recorded_choice(out, requested) if resume and out is not None else None
    # A backbone with no weights (TF-IDF) has no network step to time: the domain fits its model in one call.
    weightless = next(iter(selection.backbone.parameters()), None) is None
    if budget_s is not None and not weightless:  # time the model, then choose the plan that fits
        reporter.step(f"timing a few training steps on this machine for the {budget.format_seconds(budget_s)} "
                      "time budget")
        budget_plan = budget.plan_budget(selection, splits, sorted(counts), strategy, budget_s, train_overrides,
                                         spent=budget.clock() - started, adapt=not is_distributed(distributed),
                                         recorded=recorded)
        if budget_plan is not None and out is not None and not dry_run:
            budget.record_choice(out, budget_plan)
    elif recorded is not None:  # resumed without a budget: the first run's plan still holds
        selection.preset, strategy = budget.replay_choice(selection, recorded)
    if budget_plan is not None:
        selection.preset, strategy = budget_plan.preset, budget_plan.strategy
    seed_all(cfg_seed)  # the head is initialised in configure(): from the seed, not from whatever ran before
    tk_model = configure(selection, sorted(counts), strategy=strategy, head=head, remove_last=remove_last,
                         min_per_class=min(counts.values()), **train_overrides)
    if budget_plan is not None:
        tk_model.plan.reason, tk_model.plan.estimate = budget_plan.reason, budget_plan.estimate
        tk_model.plan.notes += budget_plan.notes
    elif budget_s is not None and weightless:
        tk_model.plan.estimate = {"seconds": None, "how": (
            f"{tk_model.plan.source} has no network, so there are no training steps to time; its model is "
            f"fitted in one call (Training above), which the {budget.format_seconds(budget_s)} budget does not "
            "stop partway")}
    tk_model.plan.data = plan_data(splits)
    if on_plan is not None:  # the complete plan, shown before any training (the same text in --dry-run)
        on_plan(tk_model.plan)
    if dry_run:
        return tk_model.plan
    # Training stops so that scoring and saving still fit in the budget (core/budget.py).
    at = started + budget_s - budget_plan.reserve if budget_plan is not None and budget_s is not None else None
    with budget.deadline(at, budget=(started, budget_s) if budget_s is not None else None):
        return train(tk_model, splits, out=out, resume=resume, read_options=read_options, progress=reporter,
                     baselines=baselines, deterministic=deterministic, **distributed)
