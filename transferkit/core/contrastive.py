"""The ``contrastive`` strategy: SetFit's recipe for few labels, on the run's own sentence encoder.

1. Sentence pairs are drawn from the training labels (each text with one text of its class, similarity
   1, and one of another class, similarity 0; ``pair_iterations`` rounds, SetFit's ``num_iterations``).
2. The whole encoder is fine-tuned one pass over those pairs with sentence-transformers'
   ``CosineSimilarityLoss`` (the loss is the library's; only the batching is here, because the texts go
   through the domain's own tokenization and pooling, exactly as at prediction time), with the optimizer
   SetFit's trainer (the Hugging Face ``Trainer``) builds: AdamW, weight decay 0.01 except on biases and
   LayerNorm weights, gradients clipped at norm 1, a linear warm-up from learning rate 0 and linear decay.
3. The sentence vector is scaled to unit length from then on (the backbone's ``normalize``, as
   sentence-transformers' ``Normalize`` module does): the pairs trained its direction only. SetFit's head, a
   logistic regression with scikit-learn's defaults (C=1) on those unit vectors, is fitted and copied into
   the model's linear head. The tuned encoder weights are part of the model, so the artifact holds them.

Why SetFit's head and not this module's first one (C by cross-validation on the standardised, unnormalised
vectors): the encoder was tuned on the very labels cross-validation scores, so nearly every C looks perfect
out of fold and the largest wins; and the vectors' length, which the loss never trained, is noise to a head
fitted on a few texts. Chosen on pool texts outside the labelled draws, never a test set (the ``--dev``
stage of ``benchmarks/setfit_agnews.py``; MiniLM, 8 labels a class, 2 pair iterations): the head closed the
gap to SetFit on SMS and AG News by itself, the optimizer changes (which make the tuning SetFit's trainer's)
moved little, and SetFit 1.2's own pair sampling (unique pairs, a text with itself among the positives)
scored no better than the sampling below. The test figures are in docs/benchmarks.md, "Few labels".

Where labels are few, the validation set transferkit would hold out itself (20%, under
``SMALL_VALIDATION`` examples) is pooled back: pairs and head use every label, as SetFit does
(:func:`pools_labels`). Validation data the user gave, or the data's own split, is kept apart and scored as
usual.

SetFit's published defaults are used (20 iterations, batch 16, body learning rate 2e-5, 10% warm-up, one
epoch): choosing the number of iterations by cross-validation would cost k times the fine-tuning.
Domains whose backbones are sentence encoders call :func:`fit_contrastive` from their ``fit_head`` hook.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from transferkit.errors import MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from transferkit.core.model import TransferModel

BODY_LR = 2e-5  # SetFit's body_learning_rate
PAIR_BATCH = 16  # SetFit's batch_size
WARMUP = 0.1  # SetFit's warmup_proportion: ceil(10%) of the steps, starting at learning rate 0 (transformers')
WEIGHT_DECAY = 0.01  # SetFit's l2_weight, applied as the HF Trainer does: not to biases and LayerNorm weights
MAX_GRAD_NORM = 1.0  # the HF Trainer's max_grad_norm, which SetFit's encoder tuning runs with
HEAD_C = 1.0  # SetFit's head: scikit-learn's LogisticRegression() defaults, on the unit sentence vectors
# Below this many labelled examples in the rarest class, `auto` takes this strategy for sentence encoders:
# the range SetFit is made for (8 to 64 labels a class), where fine-tuning on held-out scores is noisy.
AUTO_MAX_PER_CLASS = 64


def sentence_pairs(labels: np.ndarray, iterations: int, seed: int) -> list[tuple[int, int, float]]:
    """SetFit's pair sampling: per round, each example with one same-class partner (1.0) and one of
    another class (0.0); a class with a single example pairs with itself. Shuffled, seeded.

    Example:
        >>> pairs = sentence_pairs(np.array([0, 0, 1, 1]), iterations=2, seed=0)
        >>> len(pairs), sorted({p[2] for p in pairs})
        (16, [0.0, 1.0])
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    others = {c: np.flatnonzero(labels != c) for c in by_class}
    pairs: list[tuple[int, int, float]] = []
    for _ in range(iterations):
        for i, label in enumerate(labels):
            same = by_class[label]
            partners = same[same != i] if len(same) > 1 else same
            pairs.append((i, int(rng.choice(partners)), 1.0))
            if len(others[label]):
                pairs.append((i, int(rng.choice(others[label])), 0.0))
    order = rng.permutation(len(pairs))
    return [pairs[k] for k in order]


def _loss(backbone: Any) -> Any:
    """sentence-transformers' CosineSimilarityLoss on the backbone (any module whose output is the
    sentence vector: the loss only reads ``model(features)["sentence_embedding"]``)."""
    try:
        from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
    except ImportError:
        try:
            from sentence_transformers.losses import CosineSimilarityLoss  # older releases
        except ImportError:
            raise MissingDependencyError("the contrastive strategy needs sentence-transformers",
                                         fix="pip install 'transferkit[nlp]'") from None
    import torch

    class Embedder(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, features: dict[str, Any]) -> dict[str, Any]:
            return {"sentence_embedding": self.inner(features)}

    return CosineSimilarityLoss(Embedder(backbone))


def tune_encoder(model: "TransferModel", dataset: Any, collate: Any, pairs: list[tuple[int, int, float]], *,
                 lr: float = BODY_LR, batch_size: int = PAIR_BATCH, seed: int = 0) -> list[dict[str, Any]]:
    """One pass over ``pairs`` (indices into ``dataset``), every encoder weight trained with AdamW and a
    linear warm-up and decay. Returns one history row per 10% of the steps.

    Example:
        >>> tune_encoder(model, dataset, domain.collate, sentence_pairs(y, 20, 0))  # doctest: +SKIP
    """
    from transferkit.core.devices import on_device

    with on_device(model) as device:  # a GPU when there is one; then back where the model was
        return _tune(model.backbone, device, dataset, collate, pairs, lr=lr, batch_size=batch_size, seed=seed)


def optimizer_and_schedule(module: Any, lr: float, steps: int) -> tuple[Any, Any]:
    """AdamW and its learning-rate schedule as the Hugging Face ``Trainer`` builds them for SetFit: weight
    decay :data:`WEIGHT_DECAY` on every weight but biases and LayerNorm weights, a linear warm-up over
    ceil(:data:`WARMUP` x ``steps``) steps starting at learning rate 0, then linear decay to 0.

    Example:
        >>> import torch
        >>> _, schedule = optimizer_and_schedule(torch.nn.Linear(2, 2), 2e-5, steps=8)
        >>> [round(schedule.lr_lambdas[0](s), 3) for s in (0, 1, 7)]
        [0.0, 1.0, 0.143]
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    decay, rest = [], []
    for part in module.modules():
        for name, p in part.named_parameters(recurse=False):
            (rest if isinstance(part, torch.nn.LayerNorm) or name == "bias" else decay).append(p)
    # The fused kernel, as the Trainer takes it (torch >= 2.8) where torch has one: one call a step, not one
    # per weight (about 5% of the tuning's CPU time on MiniLM).
    fused = next(iter(decay + rest)).device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                   {"params": rest, "weight_decay": 0.0}], lr=lr, fused=fused)
    return optimizer, get_linear_schedule_with_warmup(optimizer, math.ceil(WARMUP * steps), steps)


def _tune(backbone: Any, device: Any, dataset: Any, collate: Any, pairs: list[tuple[int, int, float]], *,
          lr: float, batch_size: int, seed: int) -> list[dict[str, Any]]:
    import torch

    from transferkit.core.interrupt import check as check_stop

    loss_fn = _loss(backbone)
    params = [p for p in backbone.parameters()]
    for p in params:
        p.requires_grad = True
    steps = max(1, math.ceil(len(pairs) / batch_size))
    optimizer, schedule = optimizer_and_schedule(backbone, lr, steps)
    torch.manual_seed(seed)  # dropout draws
    backbone.train()
    history, running, every = [], [], max(1, steps // 10)
    for step in range(steps):
        check_stop()
        chunk = pairs[step * batch_size:(step + 1) * batch_size]
        left, _ = collate([dataset[a] for a, _, _ in chunk])
        right, _ = collate([dataset[b] for _, b, _ in chunk])
        scores = torch.tensor([s for _, _, s in chunk], device=device)
        loss = loss_fn([{k: v.to(device) for k, v in left.items()},
                        {k: v.to(device) for k, v in right.items()}], scores)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        optimizer.step()
        schedule.step()
        running.append(float(loss.detach()))
        if (step + 1) % every == 0 or step + 1 == steps:
            history.append({"step": step + 1, "pair_loss": float(np.mean(running)), "pairs": len(pairs)})
            running = []
    backbone.eval()
    for p in params:
        p.requires_grad = False
    return history


def pools_labels(splits: Any) -> bool:
    """Whether the contrastive fit trains on every label: the validation set is a slice that transferkit
    held out of the training data itself (not the user's ``--val``, not the data's own split) and is
    smaller than ``SMALL_VALIDATION``, so it could only pick C by chance while costing a fifth of the labels.

    Example:
        >>> pools_labels(splits)  # doctest: +SKIP
        True
    """
    from transferkit.core.train import SMALL_VALIDATION

    origin = splits.val.meta.get("origin") if splits.val is not None else None
    if not (isinstance(origin, dict) and origin.get("kind") == "held-out" and len(splits.val) < SMALL_VALIDATION):
        return False
    held = splits.val.counts()
    counts = {label: n + held.get(label, 0) for label, n in splits.train.counts().items()}
    return min(counts.values()) >= 2  # cross-validation needs two labels a class


def fit_head(model: "TransferModel", features: np.ndarray, y: np.ndarray, weight: Any) -> Any:
    """SetFit's head: a logistic regression with scikit-learn's defaults (C = :data:`HEAD_C`) on the unit
    sentence vectors ``features``, copied into the model's linear head (rows in ``model.labels`` order).
    Returns the fitted scikit-learn model.

    Example:
        >>> clf = fit_head(model, f_fit, y_fit, None)  # doctest: +SKIP
    """
    from sklearn.linear_model import LogisticRegression

    from transferkit.core.train import copy_into_head

    clf = LogisticRegression(C=HEAD_C, class_weight=weight, max_iter=3000).fit(features, y)
    copy_into_head(model, clf.classes_, clf.coef_, clf.intercept_)
    return clf


def fit_contrastive(model: "TransferModel", splits: Any, targets: tuple[np.ndarray, np.ndarray],
                    cfg: dict[str, Any], run_dir: "Path") -> tuple[list[dict[str, Any]], np.ndarray, list[str]]:
    """Tune the encoder on sentence pairs, then fit SetFit's head on its unit sentence vectors (the domain's
    ``fit_head`` result: history, validation probabilities, notes). The backbone must have a ``normalize``
    switch (nlp's ``TextBackbone``): it is turned on, and the artifact keeps it on.

    When :func:`pools_labels`, the pairs and the head use train+validation (SetFit's use of the labels: all
    of them), and the validation probabilities returned are the head's out-of-fold ones (the encoder has
    seen those labels: optimistic, said in the notes).

    Example:
        >>> history, val_probs, notes = fit_contrastive(model, splits, (y_train, y_val), cfg, run_dir)  # doctest: +SKIP
    """
    from transferkit.core.features import extract_features
    from transferkit.core.metrics import epoch_metrics
    from transferkit.core.train import SMALL_VALIDATION, _oof_probabilities

    y_train, y_val = targets
    domain, preset = model.domain, model.preset
    pooled = pools_labels(splits)
    items = list(splits.train.items) + (list(splits.val.items) if pooled else [])
    y_fit = np.concatenate([y_train, y_val]) if pooled else y_train
    iterations = int(cfg.get("pair_iterations", 20))
    pairs = sentence_pairs(y_fit, iterations, int(cfg["seed"]))
    dataset = domain.dataset(model.backbone, items, y_fit.tolist(), preset, train=False)
    model.backbone.normalize = True  # the loss compares directions; the head, and every prediction, reads them
    started = time.time()
    tuned = tune_encoder(model, dataset, domain.collate, pairs, seed=int(cfg["seed"]))
    tune_s = time.time() - started
    # Features of the tuned encoder, computed here: the run's feature cache would hold the untuned ones.
    model.eval()
    f_fit = extract_features(model, items, cfg["batch_size"]).numpy().astype(np.float64)
    weight = "balanced" if cfg["class_weights"] == "balanced" else None
    clf = fit_head(model, f_fit, y_fit, weight)
    if pooled:  # every label trained the head: the validation figures are its out-of-fold predictions
        counts = np.bincount(y_fit)
        oof = _oof_probabilities(f_fit, y_fit, HEAD_C, weight, len(model.labels),
                                 min(5, int(counts[counts > 0].min())), int(cfg["seed"]), standardize=False)
        val_probs = oof[len(y_train):]
    else:
        val_probs = np.zeros((len(y_val), len(model.labels)))
        if len(y_val):
            f_val = extract_features(model, splits.val.items, cfg["batch_size"]).numpy().astype(np.float64)
            val_probs[:, clf.classes_] = clf.predict_proba(f_val)
    row: dict[str, Any] = {"C": HEAD_C, "train_loss": None, "selection": "fixed", "chosen": True}
    if len(y_val):
        metrics = epoch_metrics(y_val, val_probs, model.labels)
        row.update({f"val_{cfg['metric']}": metrics.get(cfg["metric"]), "val_loss": metrics["loss"],
                    "val_accuracy": metrics["accuracy"]})
    notes = [f"contrastive: encoder tuned on {len(pairs)} sentence pairs of {len(y_fit)} labelled texts "
             f"({iterations} iterations, SetFit's CosineSimilarityLoss, batch {PAIR_BATCH}, lr {BODY_LR:g}) in "
             f"{tune_s:.0f} s",
             f"contrastive: SetFit's head, logistic regression (C={HEAD_C:g}) on the tuned encoder's unit "
             f"sentence vectors of {len(y_fit)} labelled texts"]
    if pooled:
        notes.append(f"contrastive: the {len(y_val)} texts held out for validation (under {SMALL_VALIDATION}) were "
                     "pooled back; validation figures are the head's out-of-fold predictions on them, whose "
                     "pairs also tuned the encoder: optimistic; pass --val or --test for an unbiased figure")
    return [*tuned, row], val_probs, notes


def describe(model: "TransferModel") -> str:
    """The plan's line for the contrastive fit."""
    from transferkit.core.train import SMALL_VALIDATION

    iterations = int(model.plan.train.get("pair_iterations", 20))
    return (f"contrastive sentence-pair fine-tuning of the whole encoder ({iterations} pair iterations, "
            f"SetFit's recipe), then SetFit's head (logistic regression, C={HEAD_C:g}) on the tuned unit sentence "
            f"vectors; a validation slice held out here under {SMALL_VALIDATION} examples is pooled back into "
            "training")


def auto_choice(min_per_class: int | None) -> tuple[str, str] | None:
    """``auto``'s choice for a sentence encoder: contrastive up to :data:`AUTO_MAX_PER_CLASS` labels a class.

    Example:
        >>> auto_choice(32)[0], auto_choice(500)
        ('contrastive', None)
    """
    if min_per_class is None or min_per_class > AUTO_MAX_PER_CLASS:
        return None
    return "contrastive", (f"auto: {min_per_class} examples in the rarest class <= {AUTO_MAX_PER_CLASS}, "
                           "a sentence encoder: contrastive pair fine-tuning (SetFit)")


# =========================================================================== cost, for time budgets
def estimate_seconds(times: Any, *, n_train: int, n_val: int, n_test: int, iterations: int, feature_dim: int,
                     pooled: bool = True) -> float:
    """Seconds the contrastive fit would take here, from core/budget.py's measured per-example step times
    (``StepTimes``): the linear probe's cost on the labelled texts (their features, once, with the tuned
    encoder; C by cross-validation; test scoring; saving: ``budget.estimate_plans``), plus the pair
    fine-tuning, whose every pair runs two texts forward and backward. ``pooled``: the validation labels
    join the pairs (:func:`pools_labels`).

    Example:
        >>> from transferkit.core.budget import StepTimes
        >>> t = StepTimes(0.001, 0.001, 0.01, 0.03, 16, "cpu")
        >>> round(estimate_seconds(t, n_train=26, n_val=6, n_test=400, iterations=20, feature_dim=384))
        90
    """
    from transferkit.core.budget import estimate_plans

    probe = estimate_plans(times, n_train=n_train, n_val=n_val, n_test=n_test, train={"epochs": 1},
                           random_augmentation=False, feature_dim=feature_dim, strategies=("linear-probe",))
    pairs = 2 * iterations * (n_train + n_val if pooled else n_train)
    step = times.forward_backward if times.forward_backward is not None else 3 * times.forward
    return probe["linear-probe"] + pairs * 2 * (times.load_eval + step)  # pairs read as at prediction time
