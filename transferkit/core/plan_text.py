"""The transfer plan as a person reads it before training: what the run will do, and only what applies.

Sections: the data (sizes, rows per class, where validation came from, warnings), the preprocessing in
the domain's words, the surgery (frozen, removed, added), how the model is fitted (epochs and learning
rates only where a group trains by gradient descent), the decision rule and the expected time. Every line
fits 80 columns; a long path is never cut (a reader copies it).

Kept free of torch: :meth:`TransferPlan.render` calls it, also for plans read back from an artifact.
"""
from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.configure import TransferPlan

WIDTH = 80
LABEL = 12  # the label column: "  strategy    linear-probe ..."
MAX_CLASS_ROWS = 12  # beyond this many classes the table shows the smallest ones (what the warnings are about)


def _row(label: str, text: str) -> str:
    """``label`` then ``text``, wrapped at :data:`WIDTH` under the text column; words (paths) are never cut."""
    return textwrap.fill(text, WIDTH, initial_indent=f"  {label:<{LABEL}}", subsequent_indent=" " * (LABEL + 2),
                         break_long_words=False, break_on_hyphens=False)


def _item(text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="  - ", subsequent_indent="    ",
                         break_long_words=False, break_on_hyphens=False)


def _compact_layer(text: str) -> str:
    """``Linear(in_features=1280, out_features=2, bias=True)`` -> ``Linear(1280 -> 2)``; ``Dropout(p=0.2, ...)``
    -> ``Dropout(0.2)``.

    Example:
        >>> _compact_layer("Linear(in_features=1280, out_features=2, bias=True)")
        'Linear(1280 -> 2)'
    """
    text = re.sub(r"Linear\(in_features=(\d+), out_features=(\d+), bias=\w+\)", r"Linear(\1 -> \2)", text)
    return re.sub(r"Dropout\(p=([\d.e-]+), inplace=\w+\)", r"Dropout(\1)", text)


def _count(n: int) -> str:
    """Parameters in words that fit a column: 1,234 / 3.4 M.

    Example:
        >>> _count(950), _count(3_371_840)
        ('950', '3.4 M')
    """
    return f"{n / 1e6:.1f} M" if n >= 1_000_000 else f"{n:,}"


def _epoch(index: int) -> str:
    # Plans count epochs from 0 (Lightning's current_epoch); people and the progress lines from 1.
    return f"epoch {index + 1}"


# ------------------------------------------------------------------------------------------- data
def plan_data(splits: Any) -> dict[str, Any]:
    """The data section of a plan: size, rows per class and origin of each split, and the warnings.

    ``splits`` is the run's :class:`~transferkit.core.train.Splits`.

    Example:
        >>> from transferkit.core.data import Examples
        >>> from transferkit.core.train import Splits
        >>> tr = Examples(items=list(range(8)), labels=["a", "b"] * 4, source="train.csv")
        >>> va = Examples(items=[8, 9], labels=["a", "b"], source="train.csv", meta={"origin": "own"})
        >>> plan_data(Splits(tr, va))["val"]["counts"]
        {'a': 1, 'b': 1}
    """
    from transferkit.core.data_checks import data_warnings

    def summary(examples: Any) -> dict[str, Any] | None:
        if examples is None:
            return None
        holdout = examples.meta.get("holdout")  # without its indices: the artifact's data record keeps those
        return {"n": len(examples), "counts": examples.counts(), "source": str(examples.source),
                "origin": examples.meta.get("origin"),
                "holdout": {k: holdout[k] for k in ("fraction", "seed")} if holdout else None}

    return {"train": summary(splits.train), "val": summary(splits.val), "test": summary(splits.test),
            "warnings": data_warnings(splits.train, splits.val, splits.test)}


def _origin(split: dict[str, Any], name: str) -> str:
    origin = split.get("origin")
    holdout = split.get("holdout")
    if holdout:
        return f"{holdout['fraction']:.0%} of each class held out from --data (seed {holdout['seed']})"
    if isinstance(origin, dict) and origin.get("kind") == "held-out":
        return f"{origin['fraction']:.0%} of each class held out from the training data (seed {origin['seed']})"
    if origin == "own":
        return f"the data's own {name} split, {split['source']}"
    return f"from {split['source']}"


def _class_table(data: dict[str, Any]) -> list[str]:
    splits = [(name, data[key]) for name, key in (("train", "train"), ("val", "val"), ("test", "test"))
              if data.get(key)]
    labels = sorted(set().union(*(split["counts"] for _, split in splits)))
    train_counts = data["train"]["counts"]
    shown = labels
    if len(labels) > MAX_CLASS_ROWS:  # the rarest classes are the ones a reader must see
        shown = sorted(sorted(labels, key=lambda label: train_counts.get(label, 0))[:MAX_CLASS_ROWS])
    name_width = max(8, min(40, max(len(label) for label in shown)))
    lines = ["  " + "per class".ljust(name_width + 2) + "".join(f"{name:>8}" for name, _ in splits)]
    for label in shown:
        cut = label if len(label) <= name_width else label[: name_width - 3] + "..."
        counts = "".join(f"{split['counts'].get(label, 0):>8,}" for _, split in splits)
        lines.append(f"    {cut:<{name_width}}{counts}")
    if len(shown) < len(labels):
        lines.append(f"    ... and {len(labels) - len(shown)} more classes, with as many training examples or more")
    return lines


def _data_lines(data: dict[str, Any]) -> list[str]:
    train, val, test = data["train"], data["val"], data.get("test")
    lines = ["Data", _row("train", f"{train['n']:,} examples from {train['source']}")]
    lines.append(_row("validation", f"{val['n']:,} examples, {_origin(val, 'validation')}"))
    if test:
        lines.append(_row("test", f"{test['n']:,} examples, {_origin(test, 'test')}"))
    else:
        lines.append(_row("test", "none: no held-out figures (add --test PATH or --holdout-test 0.2)"))
    lines += _class_table(data)
    lines += [_row("warning", warning) for warning in data.get("warnings", [])]
    return lines


# ------------------------------------------------------------------------------------------ model
def _when(unfreeze: int | None, epochs: int | None) -> str:
    if unfreeze is None:
        return "frozen"
    if epochs is not None and unfreeze >= epochs:
        return f"frozen (epochs end at {epochs})"  # training ends before its turn comes
    return "trains from the start" if unfreeze == 0 else f"unfreezes at {_epoch(unfreeze)}"


def _model_lines(plan: "TransferPlan") -> list[str]:
    lines = ["Model"]
    lines.append(_row("removed", "; ".join(plan.removed) or "nothing"))
    head = " -> ".join(_compact_layer(layer) for layer in plan.head)
    gradient = plan.fit.get("by") in (None, "epochs", "features")
    lines.append(_row("added", head + (f", lr {plan.head_lr:g}" if gradient else "")))
    total = sum(g.parameters for g in plan.groups)
    if not plan.groups:
        lines.append(_row("backbone", "no layers to train: its features have no weights"))
    elif all(g.unfreeze_epoch is None for g in plan.groups):
        lines.append(_row("frozen", f"the whole backbone: {len(plan.groups)} layer groups, {_count(total)} "
                                    "parameters"))
    else:
        lines.append(_row("backbone", f"{len(plan.groups)} layer groups, {_count(total)} parameters, "
                                      "bottom to top:"))
        name_width = min(24, max(len(g.name) for g in plan.groups))
        for g in plan.groups:
            name = g.name if len(g.name) <= name_width else g.name[: name_width - 3] + "..."
            when = _when(g.unfreeze_epoch, plan.train.get("epochs"))
            lr = "" if when.startswith("frozen") else f"  lr {g.lr:.1e}"
            lines.append(f"    [{g.index:2d}] {name:<{name_width}} {_count(g.parameters):>9}  {when}{lr}")
    if plan.strategy == "lora":
        cfg = plan.train
        lines.append(_row("adapters", f"LoRA rank {cfg.get('lora_r')}, alpha {cfg.get('lora_alpha')}, dropout "
                                      f"{cfg.get('lora_dropout')}, lr {plan.head_lr:g}; the weights stay frozen"))
    if plan.has_batchnorm is not False and not plan.backbone_frozen:
        lines.append(_row("batchnorm", plan.batchnorm))
    return lines


# ------------------------------------------------------------------------------------------- fit
def _selection_of_c(plan: "TransferPlan") -> str:
    from transferkit.core.train import SMALL_VALIDATION

    metric = plan.train.get("metric", "accuracy")
    data = plan.data
    if data is None:
        return (f"C chosen on validation {metric} (by cross-validation on train+val when validation has "
                f"fewer than {SMALL_VALIDATION} examples)")
    pooled = [data["train"]["counts"].get(label, 0) + data["val"]["counts"].get(label, 0)
              for label in data["train"]["counts"]]
    if data["val"]["n"] < SMALL_VALIDATION and min(pooled) >= 2:
        return (f"C chosen by cross-validation on train+val {metric} (validation has fewer than "
                f"{SMALL_VALIDATION} examples)")
    return f"C chosen on validation {metric}"


def _fit_lines(plan: "TransferPlan") -> list[str]:
    cfg = plan.train
    by = plan.fit.get("by", "epochs")
    lines = ["Training"]
    if by == "domain":
        return [*lines, _row("head", plan.fit.get("how", "fitted by the domain"))]
    if by == "logistic-regression":
        return [*lines, _row("head", "logistic regression on features the frozen backbone computes once; "
                                     + _selection_of_c(plan))]
    if by == "features":
        lines.append(_row("head", "trained on features the frozen backbone computes once"))
    patience = cfg.get("patience")
    stop = (f"early stop after {patience} epochs without a better validation {cfg.get('metric')}" if patience
            else "no early stopping; the best validation epoch is kept")
    if "epochs" in cfg:
        lines.append(_row("epochs", f"up to {cfg['epochs']}; {stop}"))
    extras = [f"{cfg['batch_size']} examples per batch" if "batch_size" in cfg else "",
              f"weight decay {cfg['weight_decay']:g}" if cfg.get("weight_decay") else "",
              f"label smoothing {cfg['label_smoothing']:g}" if cfg.get("label_smoothing") else "",
              "balanced class weights" if cfg.get("class_weights") == "balanced" else "",
              f"{cfg['warmup_epochs']} warm-up epochs" if cfg.get("warmup_epochs") else ""]
    if any(extras):
        lines.append(_row("optimiser", ", ".join(e for e in extras if e)))
    return lines


def _decision_line(plan: "TransferPlan") -> list[str]:
    rule = plan.threshold or {"policy": "argmax"}
    policy, value, positive = rule.get("policy", "argmax"), rule.get("value"), rule.get("positive")
    if policy == "argmax":
        text = "the most probable class (argmax)"
    else:
        negative = next((label for label in plan.labels if label != positive), "the other class")
        goal = {"max_fpr": f"at most {value} of '{negative}' flagged as '{positive}'",
                "min_sensitivity": f"recall of '{positive}' at least {value}",
                "min_precision": f"precision of '{positive}' at least {value}"}.get(policy, f"{policy} {value}")
        text = f"a threshold on '{positive}' chosen on validation data: {goal} ({policy})"
    return ["Decision", _row("rule", text)]


# What the time estimate (budget.py) once said of every linear probe, whatever the validation size. Under
# SMALL_VALIDATION examples C is chosen by cross-validation on train+val instead, as the Training section
# says (_selection_of_c); the time line leaves the choice of C to that section rather than contradict it,
# also for plans read back from artifacts saved with the old wording.
STALE_C_CLAUSE = " (C chosen on validation)"


def time_how(how: str) -> str:
    """The estimate's account of how the time was measured, without a claim on how C is chosen (the
    Training section states that, from the plan's data).

    Example:
        >>> time_how("features computed once, then one fit of the logistic regression (C chosen on validation); "
        ...          "budget 15.0 min")
        'features computed once, then one fit of the logistic regression; budget 15.0 min'
    """
    return how.replace(STALE_C_CLAUSE, "")


def _time_lines(estimate: dict[str, Any]) -> list[str]:
    from transferkit.core.progress import duration

    if estimate.get("seconds") is None:  # nothing was timed (a model with no network): say what happens instead
        return ["Expected time", _row("time", f"not estimated: {estimate.get('how', 'nothing was timed')}")]
    lines = ["Expected time", _row("time", f"about {duration(float(estimate['seconds']))}"
                                           + (f" ({time_how(estimate['how'])})" if estimate.get("how") else ""))]
    for alt in estimate.get("alternatives") or []:
        lines.append(_row("not chosen", f"{alt.get('plan')}: about {duration(float(alt.get('seconds', 0)))}; "
                                        f"{alt.get('why_dropped', '')}".rstrip("; ")))
    return lines


def render_plan(plan: "TransferPlan") -> str:
    """The text of :meth:`TransferPlan.render`.

    Example:
        >>> print(render_plan(model.plan))  # doctest: +SKIP
    """
    lines = ["Transfer plan", _row("strategy", f"{plan.strategy} ({plan.reason})"),
             _row("backbone", f"{plan.source}, {plan.feature_dim:,} features")]
    if plan.data:
        lines += _data_lines(plan.data)
    else:  # the API's configure() alone: the labels it was given
        lines.append(_row("labels", ", ".join(plan.labels)))
    if plan.preprocessing:
        lines += ["Preprocessing", *(_item(line) for line in plan.preprocessing)]
    lines += _model_lines(plan)
    lines += _fit_lines(plan)
    lines += _decision_line(plan)
    if plan.estimate:
        lines += _time_lines(plan.estimate)
    if plan.notes:
        lines += ["Notes", *(_item(note) for note in plan.notes)]
    return "\n".join(lines)
