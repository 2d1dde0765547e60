"""Fitting the spam domain's linear heads inside a run: TF-IDF or encoder features, what is carried over
from an earlier spam artifact (generic to specific: its head as a prior, its stored training sample; the
choice is made by cross-validation in :mod:`.carry`), calibration, and the TF-IDF baseline on the same split.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.model import TransferModel
    from transferkit.plugins.spam.carry import GenericData
    from transferkit.plugins.spam.linear import LinearFit

BASELINE = "spam/tfidf-linear"


def parent_artifact(model: "TransferModel") -> Path | None:
    """The earlier transferkit artifact this model starts from, if it starts from one."""
    from transferkit.core.artifact import is_artifact

    source = Path(str(model.plan.source)) if model.plan is not None else None
    return source if source is not None and is_artifact(source) else None


def load_prior(parent: Path, labels: list[str], feature_dim: int) -> tuple[np.ndarray, float] | None:
    """The positive-class log-odds weights of ``parent``'s head, when it is linear and fits these labels.

    Read from the parent's ``model.safetensors`` (no unpickling): ``w[1] - w[0]`` and ``b[1] - b[0]``.
    """
    import json

    from safetensors import safe_open

    meta = json.loads((parent / "transferkit.json").read_text(encoding="utf-8"))
    if list(meta.get("labels", [])) != list(labels):
        return None
    with safe_open(str(parent / "model.safetensors"), framework="pt") as weights:
        keys = sorted(k for k in weights.keys() if k.startswith("head.") and k.endswith(".weight"))
        if len(keys) != 1:  # a deeper head (hidden layers) has no linear prior
            return None
        weight = weights.get_tensor(keys[0]).double().numpy()
        bias = weights.get_tensor(keys[0].replace(".weight", ".bias")).double().numpy()
    if weight.shape != (2, feature_dim):
        return None
    return weight[1] - weight[0], float(bias[1] - bias[0])


def load_generic_sample(parent: Path, labels: list[str], backbone: Any) -> "GenericData | None":
    """The bounded sample of ``parent``'s training rows (TF-IDF artifacts keep one), as TF-IDF rows of
    ``backbone`` (the parent's own hashing and idf), when its labels are these labels."""
    import json

    from transferkit.plugins.spam.carry import GenericData, load_sample

    meta = json.loads((parent / "transferkit.json").read_text(encoding="utf-8"))
    sample = load_sample(parent) if list(meta.get("labels", [])) == list(labels) else None
    if sample is None or sample[0].shape[1] != backbone.feature_dim or len(np.unique(sample[1])) < 2:
        return None
    return GenericData(backbone.sparse(counts=sample[0]), sample[1])


def plan_note(model: "TransferModel", *, fitted_here: bool, prior: bool = False, generic: Any = None,
              choice: Any = None) -> str | None:
    """What generic to specific carries over from the earlier artifact, in the plan's words."""
    from transferkit.plugins.spam.domain import is_tfidf

    parent = parent_artifact(model)
    if parent is None:
        return None
    if not fitted_here:
        return (f"generic to specific: starts from the fine-tuned encoder of {parent}; the new head is trained "
                "from scratch on it (use strategy linear-probe to keep the earlier head as a prior)")
    kept = "its TF-IDF columns and idf are kept" if is_tfidf(model.backbone) else "its encoder is kept frozen"
    offered = (["its linear head (as a prior)"] if prior else []) + (
        [f"a sample of {len(generic):,} of its training messages (to replay, or to augment features)"]
        if generic is not None else [])
    if not offered:
        return f"generic to specific: starts from {parent}: {kept}; its head does not fit these labels, so no prior"
    chosen = f"; {choice.note()}" if choice is not None else ""
    return f"generic to specific: starts from {parent}: {kept}; carried over: {' and '.join(offered)}{chosen}"


def _write_head(model: "TransferModel", fit: "LinearFit") -> None:
    """Put the calibrated log-odds into the model's linear head: softmax([0, z]) = sigmoid(z)."""
    import torch

    linear = model.head[-1]
    weight = np.zeros((2, fit.coef.shape[0]))
    weight[1] = fit.coef
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=linear.weight.dtype))
        linear.bias.copy_(torch.tensor([0.0, fit.intercept], dtype=linear.bias.dtype))


def _linear_head_only(model: "TransferModel") -> None:
    """TF-IDF has nothing to fine-tune: whatever strategy was asked for, the head is one linear layer."""
    from transferkit.core.model import build_head
    from transferkit.core.specs import HeadConfig

    plan = model.plan
    if len(model.head) == 1 and plan.strategy == "linear-probe":
        return
    model.head = build_head(model.backbone.feature_dim, len(model.labels), HeadConfig())
    plan.notes.append(f"strategy '{plan.strategy}' does not apply to TF-IDF (no layers to fine-tune): "
                      "a calibrated linear model is fitted instead")
    plan.strategy, plan.reason = "linear-probe", "TF-IDF features: a linear model is the whole classifier"
    plan.head = [repr(layer) for layer in model.head]
    plan.head_config = HeadConfig().model_dump()


def fit_spam_head(
    model: "TransferModel", splits: Any, targets: tuple[np.ndarray, np.ndarray], cfg: dict[str, Any], run_dir: Path
) -> tuple[list[dict[str, Any]], np.ndarray, list[str]]:
    """Fit the model's linear head on TF-IDF or frozen-encoder features; returns (history, val probs, notes)."""
    from transferkit.plugins.spam.carry import reservoir
    from transferkit.plugins.spam.domain import is_tfidf
    from transferkit.plugins.spam.linear import fit_binary

    y_train, y_val = (np.asarray(t, dtype=int) for t in targets)
    domain, preset = model.domain, model.preset
    parent = parent_artifact(model)
    notes: list[str] = []
    scaler = None
    if is_tfidf(model.backbone):
        _linear_head_only(model)
        backbone = model.backbone
        counts = backbone.counts(domain.texts_of(splits.train.items, preset))
        if parent is None or not float(backbone.fitted):
            backbone.fit_idf(counts=counts)
        x_train, x_val = backbone.sparse(counts=counts), backbone.sparse(domain.texts_of(splits.val.items, preset))
        kind = f"TF-IDF ({backbone.feature_dim:,} hashed word and character n-gram columns)"
    else:
        from sklearn.preprocessing import StandardScaler

        from transferkit.core.features import cached_features

        cache = run_dir / "features"
        x_train = cached_features(model, splits.train, cfg["batch_size"], cache).numpy().astype(np.float64)
        x_val = cached_features(model, splits.val, cfg["batch_size"], cache).numpy().astype(np.float64)
        notes.append(f"feature cache: encoder ran once over {len(x_train) + len(x_val)} examples")
        scaler = StandardScaler().fit(x_train)
        x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
        kind = f"frozen encoder features ({x_train.shape[1]}, standardised)"
    prior = load_prior(parent, model.labels, model.backbone.feature_dim) if parent is not None else None
    if prior is not None and scaler is not None:  # the prior in the standardised space the model is fitted in
        prior = (prior[0] * scaler.scale_, prior[1] + float(prior[0] @ scaler.mean_))
    generic = None
    if parent is not None and scaler is None:
        generic = load_generic_sample(parent, model.labels, model.backbone)
    fit = fit_binary(x_train, y_train, x_val, y_val, metric=cfg["metric"], class_weight=cfg["class_weights"],
                     prior=prior, generic=generic)
    if scaler is None:  # what this model carries to the next one: a bounded sample of its training rows
        model.backbone.training_sample = reservoir(counts, y_train)
    val_probs = fit.probs(x_val)
    if scaler is not None:  # fold the standardisation into the weights: the head reads raw features
        fit.intercept -= float((fit.coef * scaler.mean_ / scaler.scale_).sum())
        fit.coef = fit.coef / scaler.scale_
    _write_head(model, fit)
    how = "by cross-validation on the training labels" if fit.carry is not None else f"on validation {cfg['metric']}"
    notes.append(f"linear head on {kind}: logistic regression, C={fit.C:g} chosen {how}; "
                 f"probabilities calibrated: {fit.calibration}")
    note = plan_note(model, fitted_here=True, prior=prior is not None, generic=generic, choice=fit.carry)
    if note:
        model.plan.notes.append(note)
        notes.append(note)
    return fit.history, val_probs, notes


def tfidf_baseline(model: "TransferModel", splits: Any) -> dict[str, Any]:
    """``spam/tfidf-linear`` fitted on the same train/validation split, scored like the model itself."""
    from transferkit.core.evaluate import targets_for
    from transferkit.core.metrics import choose_threshold, classification_metrics
    from transferkit.plugins.spam.linear import fit_binary
    from transferkit.plugins.spam.tfidf import TfidfBackbone

    domain, preset, labels = model.domain, model.preset, model.labels
    backbone = TfidfBackbone(**{k: preset.preprocess[k] for k in ("word_ngrams", "char_ngrams", "hash_bits",
                                                                    "max_chars") if k in preset.preprocess})
    counts = backbone.fit_idf(counts=backbone.counts(domain.texts_of(splits.train.items, preset)))
    y_train, y_val = targets_for(splits.train, labels), targets_for(splits.val, labels)
    cfg = model.plan.train
    x_val = backbone.sparse(domain.texts_of(splits.val.items, preset))
    fit = fit_binary(backbone.sparse(counts=counts), y_train, x_val, y_val, metric=cfg["metric"],
                     class_weight=cfg["class_weights"])
    policy = preset.threshold
    positive = labels.index(policy.positive) if policy.positive in labels else 1
    val_probs = fit.probs(x_val)
    threshold = choose_threshold(policy, (y_val == positive).astype(int), val_probs[:, positive])
    name, split = ("test", splits.test) if splits.test is not None else ("val", splits.val)
    probs = val_probs if name == "val" else fit.probs(backbone.sparse(domain.texts_of(split.items, preset)))
    metrics = classification_metrics(targets_for(split, labels), probs, labels, threshold=threshold,
                                     positive=positive if threshold is not None else None)
    return {BASELINE: {**metrics, "split": name, "C": fit.C}}
