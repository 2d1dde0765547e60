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
from typing import TYPE_CHECKING, Any

import numpy as np

from transferkit.core.data import Examples, describe, require_classes, sample_per_class, stratified_split
from transferkit.core.specs import ThresholdPolicy
from transferkit.errors import DataError, UsageError

if TYPE_CHECKING:  # pragma: no cover
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
) -> Splits:
    """Read the data and make the splits: the format's own splits first, else a stratified hold-out.

    ``per_class`` keeps that many labelled examples per class *before* the validation hold-out, so
    ``--per-class 32`` means 32 labels per class in all, as in a few-label experiment.
    """
    inside = [] if isinstance(data, Examples) else domain.splits_in(data)
    train_ex = read_data(domain, data, split="train" if "train" in inside else None, options=read_options)
    val_ex = read_data(domain, val, options=read_options) if val is not None else None
    test_ex = read_data(domain, test, split="test" if test is data else None, options=read_options) if test else None
    if val_ex is None and "val" in inside:
        val_ex = read_data(domain, data, split="val", options=read_options)
    if test_ex is None and "test" in inside:
        test_ex = read_data(domain, data, split="test", options=read_options)
    require_classes(train_ex)
    if per_class:
        train_ex = sample_per_class(train_ex, per_class, seed)
    if val_ex is None:
        train_ex, val_ex = stratified_split(train_ex, val_fraction, seed)
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


def _trainer(cfg: dict[str, Any], run_dir: Path, callbacks: list[Any], progress: bool) -> Any:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    # Two checkpoints: the best epoch (restored after training) and the latest one (what --resume reads;
    # Lightning's own save_last only writes when the best improved). Both are written once the epoch is
    # complete, validation included, so a resumed run starts at the next epoch.
    best = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor="val_score", mode="max",
                           save_on_train_epoch_end=True)
    last = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", save_top_k=1,
                           save_on_train_epoch_end=True, enable_version_counter=False)
    callbacks = [best, last, *callbacks]
    if cfg["patience"]:
        callbacks.append(EarlyStopping(monitor="val_score", mode="max", patience=cfg["patience"]))
    if progress:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=True))
    return pl.Trainer(
        max_epochs=cfg["epochs"],
        accelerator="auto",
        devices=1,
        precision=cfg["precision"],
        callbacks=callbacks,
        logger=CSVLogger(run_dir, name="logs"),
        enable_progress_bar=progress,
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
    progress: bool,
) -> list[str]:
    """Fit with Lightning, then restore the best epoch's weights. Returns notes for the report."""
    import torch

    _quiet_lightning()
    notes = []
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt_path = None
    if resume and last.is_file():
        ckpt_path = str(last)
        notes.append(f"resumed from {last}")
    elif resume:
        notes.append("--resume: no checkpoint found, started from the beginning")
    elif (run_dir / "checkpoints").exists():
        for stale in (run_dir / "checkpoints").glob("*.ckpt"):
            stale.unlink()  # a fresh run must not pick up the previous run's "best"
    trainer = _trainer(cfg, run_dir, callbacks, progress)
    # weights_only: checkpoints are read without unpickling arbitrary objects.
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path, weights_only=True)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best and Path(best).is_file():
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        # Only the network's weights: the module also holds e.g. the class weights of its loss.
        module.model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})
        notes.append(f"restored the best epoch ({Path(best).name}, val_score {trainer.checkpoint_callback.best_model_score:.4f})")
    return notes


def _fit_linear_probe(
    model: "TransferModel",
    features: tuple["torch.Tensor", "torch.Tensor"],
    targets: tuple[np.ndarray, np.ndarray],
    cfg: dict[str, Any],
) -> list[dict[str, Any]]:
    """Logistic regression on frozen features, its C chosen on validation data, copied into the head."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from transferkit.core.metrics import classification_metrics, metric_value

    x_train, x_val = (f.numpy().astype(np.float64) for f in features)
    y_train, y_val = targets
    scaler = StandardScaler().fit(x_train)
    xs_train, xs_val = scaler.transform(x_train), scaler.transform(x_val)
    weight = "balanced" if cfg["class_weights"] == "balanced" else None
    history, best = [], None
    for c in np.logspace(-4, 1, 11):
        clf = LogisticRegression(C=c, class_weight=weight, max_iter=3000)
        clf.fit(xs_train, y_train)
        full = np.zeros((len(xs_val), len(model.labels)))
        full[:, clf.classes_] = clf.predict_proba(xs_val)
        metrics = classification_metrics(y_val, full, model.labels)
        score = (metric_value(metrics, cfg["metric"]), -metrics["loss"])
        history.append({"C": float(c), f"val_{cfg['metric']}": metrics.get(cfg["metric"]),
                        "val_loss": metrics["loss"], "val_accuracy": metrics["accuracy"],
                        "train_loss": None})
        if best is None or score > best[0]:
            best = (score, clf)
    clf = best[1]
    coef = clf.coef_ / scaler.scale_
    intercept = clf.intercept_ - (clf.coef_ * scaler.mean_ / scaler.scale_).sum(axis=1)
    if coef.shape[0] == 1:  # binary: sklearn models the log-odds of classes_[1]; softmax([0, z]) = sigmoid(z)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    # Rows of coef follow clf.classes_; classes absent from the training data are never predicted.
    weight_full = np.zeros((len(model.labels), coef.shape[1]))
    bias_full = np.full(len(model.labels), -1e4)
    weight_full[clf.classes_] = coef
    bias_full[clf.classes_] = intercept
    linear = model.head[-1]
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight_full, dtype=linear.weight.dtype))
        linear.bias.copy_(torch.tensor(bias_full, dtype=linear.bias.dtype))
    for row in history:
        row["chosen"] = row["C"] == float(clf.C)
    return history


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


def train(
    model: "TransferModel",
    data: "str | Path | Examples | Splits",
    *,
    val: "str | Path | Examples | None" = None,
    test: "str | Path | Examples | None" = None,
    out: str | Path | None = None,
    per_class: int | None = None,
    resume: bool = False,
    read_options: dict[str, Any] | None = None,
    progress: bool = False,
    batch_size: int | None = None,
    baselines: dict[str, Any] | None = None,
) -> TrainResult:
    """Fine-tune a configured model, monitor it on validation data, evaluate it and save the artifact.

    ``baselines`` (name -> metrics of other models on the same split) go into the model card.

    Example:
        >>> run = train(model, "data/hymenoptera", out="models/ants-bees")  # doctest: +SKIP
        >>> run.metrics["val"]["accuracy"]  # doctest: +SKIP
        0.95
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from transferkit.core.evaluate import predict_proba, targets_for
    from transferkit.core.features import cached_features
    from transferkit.core.lightning_module import TransferModule, UnfreezeSchedule
    from transferkit.core.metrics import choose_threshold, classification_metrics

    started = time.time()
    plan = model.plan
    cfg = dict(plan.train)
    if batch_size:
        cfg["batch_size"] = batch_size
    domain, preset = model.domain, model.preset
    import lightning.pytorch as pl

    pl.seed_everything(cfg["seed"], verbose=False)
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

    out_path = Path(out) if out else None
    scratch = None
    if out_path is not None:
        run_dir = out_path / "run"
    else:
        scratch = tempfile.TemporaryDirectory(prefix="transferkit-run-")
        run_dir = Path(scratch.name)
    run_dir.mkdir(parents=True, exist_ok=True)

    notes: list[str] = []
    random_aug = domain.has_random_augmentation(preset)
    use_features = plan.backbone_frozen and (plan.strategy == "linear-probe" or not random_aug)
    history: list[dict[str, Any]]
    val_probs: np.ndarray
    if use_features:
        if random_aug:
            notes.append("augmentation not used: a linear probe fits on cached features of the un-augmented data")
        f_train = cached_features(model, splits.train, cfg["batch_size"], run_dir / "features")
        f_val = cached_features(model, splits.val, cfg["batch_size"], run_dir / "features")
        notes.append(f"feature cache: backbone ran once over {len(splits.train) + len(splits.val)} examples")
        if plan.strategy == "linear-probe":
            history = _fit_linear_probe(model, (f_train, f_val), (y_train, y_val), cfg)
            chosen = next(row["C"] for row in history if row["chosen"])
            notes.append(f"linear probe: logistic regression, C={chosen:g} chosen on validation {cfg['metric']}")
        else:
            module = TransferModule(model.head, [("head", list(model.head.parameters()), plan.head_lr)], cfg,
                                    model.labels, weights)
            loader = DataLoader(TensorDataset(f_train, torch.as_tensor(y_train)), batch_size=cfg["batch_size"],
                                shuffle=True)
            val_loader = DataLoader(TensorDataset(f_val, torch.as_tensor(y_val)), batch_size=256)
            notes += _run_lightning(module, loader, val_loader, cfg, run_dir, [], resume, progress)
            history = module.history
        model.eval()
        with torch.inference_mode():
            val_probs = torch.softmax(model.head(f_val.to(next(model.head.parameters()).device)), -1).cpu().numpy()
    else:
        train_set = domain.dataset(model.backbone, splits.train.items, y_train.tolist(), preset, train=True)
        val_set = domain.dataset(model.backbone, splits.val.items, y_val.tolist(), preset, train=False)
        loader = DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=True, collate_fn=domain.collate,
                            drop_last=len(train_set) > cfg["batch_size"])
        val_loader = DataLoader(val_set, batch_size=cfg["batch_size"], collate_fn=domain.collate)
        module = TransferModule(model, _param_groups(model), cfg, model.labels, weights)
        schedule = UnfreezeSchedule(model.backbone.layer_groups(), [g.unfreeze_epoch for g in plan.groups], model)
        notes += _run_lightning(module, loader, val_loader, cfg, run_dir, [schedule], resume, progress)
        history = module.history
        val_probs = predict_proba(model, splits.val.items, cfg["batch_size"])
    model.cpu().eval()

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
        test_probs = predict_proba(model, splits.test.items, cfg["batch_size"])
        metrics["test"] = classification_metrics(y_test, test_probs, model.labels, threshold=model.threshold,
                                                 positive=model.positive, confidence=True)
        eval_data["test"] = (y_test, test_probs)
    seconds = time.time() - started
    result = TrainResult(model, metrics, history, out_path, seconds, notes)
    if out_path is not None:
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
    }


def run_metadata(result: TrainResult, splits: Splits, read_options: dict[str, Any]) -> dict[str, Any]:
    """The ``transferkit.json`` of a run: everything needed to rebuild, audit and reuse the model."""
    import torch

    import transferkit

    model = result.model
    return {
        "format_version": 1,
        "transferkit_version": transferkit.__version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "name": result.out.name if result.out else "model",
        "domain": model.domain.name,
        "plugin": model.domain.spec.plugin,
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
                 "test": _data_summary(splits.test)},
        "read_options": read_options,
        "train_seconds": round(result.seconds, 1),
        "notes": result.notes,
    }


def save_run(result: TrainResult, splits: Splits, read_options: dict[str, Any], eval_data: dict[str, Any],
             baselines: dict[str, Any] | None = None) -> Path:
    """Write the artifact of a finished run (weights, metadata, report), atomically."""
    from transferkit.core.artifact import save_artifact
    from transferkit.core.report import write_report

    meta = run_metadata(result, splits, read_options)
    if baselines:
        meta["baselines"] = baselines
    result.model.meta = meta
    return save_artifact(result.model, result.out, meta,
                         write_files=lambda folder: write_report(folder, meta, result.history, eval_data))


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
    progress: bool = False,
    baselines: dict[str, Any] | None = None,
    **train_overrides: Any,
) -> "TrainResult | TransferPlan":
    """Select, configure and train in one call: what ``transferkit train`` runs.

    The data are read first, so that ``auto`` can choose the strategy from the labels per class and the
    head gets exactly the classes found. ``dry_run=True`` returns the plan without training.

    Example:
        >>> run = fit("vision", "data/hymenoptera", preset="vision/wildlife", out="models/ab")  # doctest: +SKIP
    """
    from transferkit.core.configure import configure
    from transferkit.core.select import select

    selection = select(domain, model, preset)
    if seed is not None:
        train_overrides["seed"] = seed
    cfg_seed = train_overrides.get("seed", selection.preset.train.seed)
    val_fraction = train_overrides.get("val_fraction", selection.preset.train.val_fraction)
    splits = prepare_splits(selection.domain, data, val=val, test=test, per_class=per_class, seed=cfg_seed,
                            val_fraction=val_fraction, read_options=read_options)
    counts = splits.train.counts()
    tk_model = configure(selection, sorted(counts), strategy=strategy, head=head, remove_last=remove_last,
                         min_per_class=min(counts.values()), **train_overrides)
    if dry_run:
        return tk_model.plan
    return train(tk_model, splits, out=out, resume=resume, read_options=read_options, progress=progress,
                 baselines=baselines)
