"""Step 2 of the protocol: model surgery and the transfer plan.

Keep or freeze pretrained layers, remove the last task-specific layers, add the new head, set the
BatchNorm policy and the learning rate of every layer group. The plan is shown before training
(``--dry-run``) and saved in the artifact.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from pydantic import ValidationError

from transferkit.core.specs import STRATEGIES, HeadConfig, Preset, TrainConfig
from transferkit.errors import UsageError, unknown_name, validation_error

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.model import TransferModel
    from transferkit.core.select import Selection

# `auto` thresholds, in labelled examples of the rarest class. Below the first, a linear probe on
# frozen features is the strongest and most stable choice (fine-tuning overfits a handful of examples);
# up to the second, train the head first and then the whole network at lower rates; above, fine-tune all.
AUTO_LINEAR_PROBE_MAX = 20
AUTO_FREEZE_UNFREEZE_MAX = 300


@dataclass
class GroupPlan:
    """One backbone layer group in the plan."""

    index: int
    name: str
    parameters: int
    lr: float
    unfreeze_epoch: int | None  # 0: trains from the start; None: stays frozen


@dataclass
class TransferPlan:
    """What is frozen, removed and added, and the learning rate of each group. JSON-able."""

    strategy: str
    reason: str
    source: str
    feature_dim: int
    labels: list[str]
    removed: list[str]
    head: list[str]
    head_lr: float
    groups: list[GroupPlan]
    batchnorm: str
    train: dict[str, Any] = field(default_factory=dict)
    head_config: dict[str, Any] = field(default_factory=dict)
    remove_last: int = 0
    notes: list[str] = field(default_factory=list)
    # What the plan shows beyond the surgery (all optional, so older saved plans still load):
    has_batchnorm: bool | None = None  # None: not recorded (a plan saved before this field existed)
    fit: dict[str, Any] = field(default_factory=dict)  # "by": epochs | features | logistic-regression | domain
    threshold: dict[str, Any] = field(default_factory=dict)  # policy, value, positive
    preprocessing: list[str] = field(default_factory=list)  # the domain's own words (describe_preprocessing)
    data: dict[str, Any] | None = None  # filled by fit() once the data are read: see plan_data()
    # Filled by the time budget (core/budget.py): {"seconds": float, "how": str,
    # "alternatives": [{"plan": str, "seconds": float, "why_dropped": str}]}. Only rendered here.
    estimate: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def backbone_frozen(self) -> bool:
        """True when no backbone group ever trains (the feature cache can serve)."""
        return all(g.unfreeze_epoch is None for g in self.groups) and self.strategy != "lora"

    def unfreeze_schedule(self) -> dict[int, list[int]]:
        """Epoch -> indices of the groups that start training at that epoch."""
        schedule: dict[int, list[int]] = {}
        for group in self.groups:
            if group.unfreeze_epoch is not None:
                schedule.setdefault(group.unfreeze_epoch, []).append(group.index)
        return schedule

    def render(self) -> str:
        """The plan as a person reads it before training, in 80 columns (long paths aside).

        Only what applies is shown: learning rates of the groups that train, epochs where there are
        epochs, BatchNorm where the backbone has BatchNorm layers that train.

        Example:
            >>> print(model.plan.render())  # doctest: +SKIP
            Transfer plan
              strategy    linear-probe (auto: 8 examples in the rarest class <= 20)
            ...
        """
        from transferkit.core.plan_text import render_plan

        return render_plan(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TransferPlan":
        data = dict(data)
        data["groups"] = [GroupPlan(**g) for g in data.get("groups", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def choose_strategy(
    strategy: str,
    min_per_class: int | None,
    costs: "Mapping[str, float] | None" = None,
    budget: float | None = None,
) -> tuple[str, str]:
    """Resolve ``auto`` from the amount of data per class; return (strategy, reason).

    With ``costs`` (estimated seconds per plan, core/budget.py) and a ``budget`` in seconds, the plan the
    data-size rule prefers is kept when it fits; otherwise the next cheaper one that fits (full,
    freeze-unfreeze, freeze, linear-probe), or the cheapest when none does. A strategy other than
    ``auto`` is never changed.

    Example:
        >>> choose_strategy("auto", 8)
        ('linear-probe', 'auto: 8 examples in the rarest class <= 20')
        >>> choose_strategy("auto", 500, costs={"full": 4000.0, "freeze-unfreeze": 1500.0, "freeze": 300.0,
        ...                                     "linear-probe": 60.0}, budget=900.0)[0]
        'freeze'
    """
    if strategy not in STRATEGIES:
        raise unknown_name("strategy", strategy, STRATEGIES)
    if strategy != "auto":
        return strategy, "chosen by the user or the preset"
    if min_per_class is None:
        chosen, reason = "freeze-unfreeze", "auto: data size unknown at configure time"
    elif min_per_class <= AUTO_LINEAR_PROBE_MAX:
        chosen, reason = "linear-probe", (
            f"auto: {min_per_class} examples in the rarest class <= {AUTO_LINEAR_PROBE_MAX}"
        )
    elif min_per_class <= AUTO_FREEZE_UNFREEZE_MAX:
        chosen, reason = "freeze-unfreeze", (
            f"auto: {min_per_class} examples in the rarest class <= {AUTO_FREEZE_UNFREEZE_MAX}"
        )
    else:
        chosen, reason = "full", f"auto: {min_per_class} examples in the rarest class > {AUTO_FREEZE_UNFREEZE_MAX}"
    if costs is None or budget is None or chosen not in costs:
        return chosen, reason
    from transferkit.core.budget import CANDIDATES, format_seconds

    if costs[chosen] <= budget:
        return chosen, reason
    cheaper = [name for name in CANDIDATES[CANDIDATES.index(chosen) + 1:] if name in costs]
    over = (f"{reason} suggests {chosen}, but it needs about {format_seconds(costs[chosen])}, over the "
            f"{format_seconds(budget)} budget")
    for name in cheaper:
        if costs[name] <= budget:
            return name, f"{over}; {name} fits (about {format_seconds(costs[name])})"
    cheapest = min([chosen, *cheaper], key=lambda name: costs[name])
    return cheapest, f"{over}; no plan fits, so the cheapest, {cheapest} (about {format_seconds(costs[cheapest])})"


def train_config(preset: Preset, overrides: Mapping[str, Any]) -> TrainConfig:
    """The preset's ``[train]`` table with ``overrides`` (``--set``) applied; a bad key or value is one line.

    ``fit`` calls it before the data are read, so a mistyped ``--set`` key costs nothing.

    Example:
        >>> train_config(Preset(id="toy/a", domain="toy", description="d"), {"epochs": 3}).epochs
        3
    """
    try:
        return TrainConfig.model_validate({**preset.train.model_dump(), **overrides})
    except ValidationError as err:  # one line: the key, the value given, what it accepts
        raise validation_error(err, model=TrainConfig) from None


def _group_schedule(strategy: str, n_groups: int, train: TrainConfig) -> list[int | None]:
    if strategy in ("linear-probe", "freeze", "lora"):
        return [None] * n_groups
    if strategy in ("full", "contrastive"):  # contrastive: the domain tunes every layer on sentence pairs
        return [0] * n_groups
    if strategy == "freeze-unfreeze":
        return [train.unfreeze_epoch] * n_groups
    # gradual: groups_per_milestone groups from the top at each milestone; the rest stay frozen.
    schedule: list[int | None] = [None] * n_groups
    top = n_groups
    for milestone in sorted(train.milestones):
        for _ in range(train.groups_per_milestone):
            if top == 0:
                break
            top -= 1
            schedule[top] = milestone
    return schedule


def _check_threshold_policy(preset: Preset, labels: list[str]) -> None:
    """Refuse, before any training, a threshold policy naming a label the data do not have."""
    policy = preset.threshold
    if policy.policy == "argmax":
        return
    where = {"file": preset.source or preset.id}
    if len(labels) != 2:
        return  # multi-class: the decision stays argmax; configure() records why in the plan
    if policy.positive is not None and policy.positive not in labels:
        raise UsageError(f"the positive label '{policy.positive}' is not one of the labels {labels}",
                         field="threshold.positive",
                         fix="name one of the data's labels, or leave it out to use the last label", **where)


def selection_strategy(selection: "Selection", strategy: str | None, min_per_class: int | None) -> tuple[str, str]:
    """The strategy :func:`configure` takes for ``selection``, and why: the user's, else the preset's, with
    ``auto`` resolved by the data-size rule (:func:`choose_strategy`) unless the domain knows better for its
    backbone (nlp's contrastive fit where labels are few).

    Example:
        >>> selection_strategy(select("toy"), None, 8)  # doctest: +SKIP
        ('linear-probe', 'auto: 8 examples in the rarest class <= 20')
    """
    requested = strategy or selection.preset.strategy
    chosen, reason = choose_strategy(requested, min_per_class)
    if requested == "auto":  # the domain may know better for its backbone (few labels)
        chosen, reason = selection.domain.auto_strategy(selection.backbone, min_per_class) or (chosen, reason)
    return chosen, reason


def configure(
    selection: "Selection",
    labels: list[str],
    strategy: str | None = None,
    head: HeadConfig | dict[str, Any] | None = None,
    remove_last: int = 0,
    min_per_class: int | None = None,
    **train_overrides: Any,
) -> "TransferModel":
    """Freeze, cut and extend the selected backbone for ``labels``; the result knows its plan.

    ``train_overrides`` override the preset's ``[train]`` keys one by one (``lr=3e-4, epochs=5``).

    Example:
        >>> model = configure(select("vision"), labels=["ants", "bees"], strategy="freeze-unfreeze")  # doctest: +SKIP
        >>> print(model.plan.render())  # doctest: +SKIP
    """
    from torch import nn

    from transferkit.core.backbone import count_parameters
    from transferkit.core.model import TransferModel, build_head

    if len(set(labels)) < 2 or len(set(labels)) != len(labels):
        raise UsageError(f"labels must be at least two distinct names, got {labels}")
    preset = selection.preset
    _check_threshold_policy(preset, labels)
    train_cfg = train_config(preset, train_overrides)
    if isinstance(head, dict):
        try:
            head = HeadConfig.model_validate({**preset.head.model_dump(), **head})
        except ValidationError as err:
            raise validation_error(err, model=HeadConfig) from None
    head_cfg = head or preset.head
    chosen, reason = selection_strategy(selection, strategy, min_per_class)
    if chosen in ("linear-probe", "contrastive") and (head_cfg.hidden or head_cfg.dropout):
        # The probe is a logistic regression fitted on features: no hidden layer, nothing to drop out.
        head_cfg = head_cfg.model_copy(update={"hidden": [], "dropout": 0.0})
    if chosen == "freeze" and not head_cfg.hidden:
        # A frozen backbone with a deeper head: one hidden layer is the usual choice (fastai's create_head).
        head_cfg = head_cfg.model_copy(update={"hidden": [512], "dropout": max(head_cfg.dropout, 0.2)})

    backbone = selection.backbone
    notes: list[str] = []
    if backbone.lora:
        # A LoRA artifact as the starting point: its adapters are folded into the weights, so every
        # strategy (fresh adapters included) starts from a plain backbone that load() can rebuild.
        from transferkit.core.lora import merge_lora

        merge_lora(backbone)
        notes.append("the starting model's LoRA adapters were merged into its weights")
    if preset.threshold.policy != "argmax" and len(labels) != 2:
        notes.append(f"threshold policy '{preset.threshold.policy}' applies to two classes; with {len(labels)} "
                     "the decision is the most probable class")
    if backbone.from_scratch and "train_bn" not in preset.train.model_fields_set \
            and "train_bn" not in train_overrides:
        # A randomly initialised network has no running statistics worth keeping frozen.
        train_cfg = train_cfg.model_copy(update={"train_bn": True})
        notes.append("backbone trained from scratch: BatchNorm layers update their statistics")
    # A from-scratch network or a parameter-free one (TF-IDF) never had a pretrained classifier to remove.
    pretrained = not backbone.from_scratch and count_parameters(backbone) > 0
    removed = ["the pretrained task-specific classifier"] if pretrained else []
    if remove_last:
        # The groups' own names (layer_group sets _tk_name): the container type, ModuleList, says nothing.
        names = [getattr(g, "_tk_name", type(g).__name__) for g in backbone.layer_groups()[-remove_last:]]
        backbone.truncate(remove_last)
        removed.append(f"the last {remove_last} layer group(s): {', '.join(names)}")
    if chosen == "lora":
        backbone.apply_lora(train_cfg.lora_r, train_cfg.lora_alpha, train_cfg.lora_dropout)

    groups = backbone.layer_groups()
    schedule = _group_schedule(chosen, len(groups), train_cfg)
    top_lr = train_cfg.backbone_lr or train_cfg.lr / 10
    group_plans = []
    for index, (group, start) in enumerate(zip(groups, schedule)):
        depth_from_top = len(groups) - 1 - index
        lr = top_lr * train_cfg.layer_decay**depth_from_top
        name = getattr(group, "_tk_name", type(group).__name__)
        group_plans.append(GroupPlan(index, name, count_parameters(group), lr, start))

    head_module = build_head(backbone.feature_dim, len(labels), head_cfg)
    model = TransferModel(backbone, head_module, labels, frozen_bn=not train_cfg.train_bn)
    model.domain = selection.domain
    model.preset = selection.preset
    for param in backbone.parameters():
        param.requires_grad = False
    for plan_group, group in zip(group_plans, groups):
        if plan_group.unfreeze_epoch == 0:
            for param in group.parameters():
                param.requires_grad = True
    for param in backbone.lora_parameters():
        param.requires_grad = True

    model.plan = TransferPlan(
        strategy=chosen,
        reason=reason,
        source=selection.source,
        feature_dim=backbone.feature_dim,
        labels=list(labels),
        removed=removed,
        head=[repr(layer) for layer in head_module],
        head_lr=train_cfg.lr,
        groups=group_plans,
        batchnorm="frozen: running statistics of every BatchNorm layer are kept (inference mode)"
        if not train_cfg.train_bn
        else "BatchNorm layers in trainable groups update their statistics",
        train=train_cfg.model_dump(),
        head_config=head_cfg.model_dump(),
        remove_last=remove_last,
        notes=notes,
        has_batchnorm=any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in backbone.modules()),
        threshold=_threshold_plan(preset, labels),
        preprocessing=list(selection.domain.describe_preprocessing(backbone, preset)),
    )
    model.plan.fit = _fit_plan(model, selection)
    if chosen == "contrastive" and model.plan.fit["by"] != "domain":
        raise UsageError(f"the contrastive strategy needs a sentence encoder; domain '{selection.domain.name}' "
                         f"does not offer it for {selection.source}", field="strategy",
                         fix="use a text domain (nlp, spam) with a transformer encoder, or another strategy")
    if model.plan.fit["by"] == "logistic-regression" and selection.domain.has_random_augmentation(preset):
        notes.append("augmentation not used: a linear probe fits on cached features of the un-augmented data")
    return model


def _threshold_plan(preset: Preset, labels: list[str]) -> dict[str, Any]:
    """The decision rule: the preset's threshold policy where it applies (two classes), else argmax."""
    policy = preset.threshold
    if policy.policy == "argmax" or len(labels) != 2:
        return {"policy": "argmax", "value": None, "positive": None}
    return {"policy": policy.policy, "value": policy.value, "positive": policy.positive or labels[-1]}


def _fit_plan(model: "TransferModel", selection: "Selection") -> dict[str, Any]:
    """How the model will be fitted, the way ``train`` decides it: the domain itself, a logistic
    regression on cached features, a head trained for epochs on cached features, or every epoch
    through the network."""
    how = selection.domain.describe_head_fit(model)
    if how:
        return {"by": "domain", "how": str(how)}
    plan = model.plan
    if plan.backbone_frozen and plan.strategy == "linear-probe":
        return {"by": "logistic-regression"}
    if plan.backbone_frozen and not selection.domain.has_random_augmentation(selection.preset):
        return {"by": "features"}
    return {"by": "epochs"}
