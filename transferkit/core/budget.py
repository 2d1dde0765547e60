"""Time budgets: how long a run may take, what each plan would cost here, and a stop when time is up.

``transferkit train --time-budget 15m`` (``fit(time_budget="15m")``) works in three steps:

1. :func:`parse_budget` turns ``10m`` / ``2h`` / ``90s`` / ``1h30m`` into seconds (``none`` disables it);
   the default suits the machine: 15 minutes on a CPU-only machine, 60 with a GPU (:func:`default_budget`).
2. After the data are read, :func:`plan_budget` times a few real forward and forward+backward steps of the
   backbone on a small batch of the user's training data on this hardware (:func:`measure_steps`),
   estimates each candidate plan (:func:`estimate_plans`: feature extraction, training, scoring, saving)
   and, for ``auto``, takes the best plan that fits. A plan is a strategy *and* an input size: images
   smaller than the backbone's input are fed, for a backbone that trains, at sizes suited to their native
   size (:func:`training_sides`), and frozen features come first at the backbone's own size
   (:func:`candidate_plans` says which plan is "best" and why). The timing takes at most a quarter of the
   budget (:data:`TIMING_SHARE`): the cheapest plan is always timed, and plans whose timing would go past
   the cap are dropped as "not timed". A budget spent before training is said plainly, and the run's notes
   say by how much it was exceeded (:func:`overrun_note`). The choice is recorded in the run folder, so
   that ``--resume`` continues the same plan (:func:`record_choice`).
3. Training stops gracefully at the budget (:func:`time_budget_callback`): at the end of an epoch when the
   next one would not finish in time, or after the current step when the time is spent; the best epoch's
   weights are kept as in any run.

Estimates are upper bounds at the preset's epochs: early stopping may end a run sooner.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from transferkit.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.domain import Domain
    from transferkit.core.select import Selection
    from transferkit.core.specs import Preset

DEFAULT_CPU_MINUTES = 15  # every preset's acceptance run on a 2-core CPU is meant to fit in this
DEFAULT_GPU_MINUTES = 60
# The candidate plans, most expensive (and, with enough data, most accurate) first: when the plan the
# data-size rule prefers does not fit, the next ones in this order are tried.
CANDIDATES = ("full", "freeze-unfreeze", "freeze", "linear-probe")
# Resolution for images smaller than the backbone's input: convolutional backbones shrink the input 32
# times; 4 cells a side at the last stage (128 px) keeps some spatial detail, and a 28 px image gains
# nothing from being upsampled further than that.
BACKBONE_STRIDE = 32
MIN_CELLS = 4
# Plans that keep the backbone frozen: their features come first at the backbone's own input size.
FROZEN = ("freeze", "linear-probe")
# The smallest input a training backbone is fed: 2 cells a side at its last stage (64 px for a 32x network).
FLOOR_CELLS = 2
# A partial fine-tune trains the top layer groups only: for EfficientNet-Lite the last stage and the 1x1
# projection to the features (a third of the weights, and back-propagation through a small part of the
# network); for a transformer, the last two layers.
TOP_GROUPS = 2
# The timed batch is one training batch (at most SAMPLE_MAX examples), run once untimed first at the
# same shape. Both matter on a CPU (EfficientNet-Lite0 at 64 px on the shared machine): a first call at
# a new input shape took 2.4 times the next one, and an example in a batch of 8 took 2.2 times one in
# a batch of 32, so a small or cold timing overestimates every plan and makes auto pick too cheap a one.
SAMPLE_MAX = 64
TRAINER_OVERHEAD_S = 5.0  # Lightning start-up, checkpoint writes
SAVE_S = 5.0  # writing the artifact and its report
# The most of the budget the timing may take. Timing only buys a better choice of plan, and that is worth
# something only while the plan keeps most of the budget to run in: a quarter leaves three quarters to the
# run. (Uncapped, a 2 min budget on a busy CPU went to loading, reading and timing more than twice over.)
# The cheapest plan is timed whatever the cap: without its estimate no plan could be chosen, nor the time
# kept for scoring and saving be known.
TIMING_SHARE = 0.25
# Passes a timing runs at each step: one untimed warm-up, then measure_steps' default repeats.
_TIMED_PASSES = 1 + 2
# Forward+backward against forward alone, where only the forward pass was timed (estimate_plans' own rule).
_BACKWARD_FACTOR = 3.0
# The clock the budget is counted on (fit() and the stop callback share it; tests replace it).
clock: Callable[[], float] = time.monotonic
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DISABLED = ("none", "off", "no")


# =========================================================================== the budget
def default_budget() -> float:
    """Seconds a run may take when ``--time-budget`` is not given: 15 minutes on CPU, 60 with a GPU.

    Example:
        >>> default_budget() in (15 * 60.0, 60 * 60.0)
        True
    """
    import torch

    return (DEFAULT_GPU_MINUTES if torch.cuda.is_available() else DEFAULT_CPU_MINUTES) * 60.0


def parse_budget(value: "str | float | int | None") -> float | None:
    """Seconds of a time budget: ``"10m"``, ``"2h"``, ``"90s"``, ``"1h30m"`` or a number of seconds.

    ``"default"`` is :func:`default_budget`; ``None`` or ``"none"`` means no budget.

    Example:
        >>> parse_budget("1h30m"), parse_budget("90s"), parse_budget(600), parse_budget("none")
        (5400.0, 90.0, 600.0, None)
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in _DISABLED):
        return None
    if isinstance(value, str) and value.strip().lower() == "default":
        return default_budget()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
        if not parts or "".join(n + u for n, u in parts) != text or len({u for _, u in parts}) != len(parts):
            raise UsageError(f"cannot read the time budget {value!r}", field="time_budget",
                             fix="a number with a unit: 90s, 10m, 2h or 1h30m; or none for no budget")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"the time budget must be positive, got {value!r}", field="time_budget",
                         fix="e.g. 10m, or none for no budget")
    return seconds


def format_seconds(seconds: float) -> str:
    """A duration for people.

    Example:
        >>> format_seconds(42.3), format_seconds(754), format_seconds(7200)
        ('42 s', '12.6 min', '2.0 h')
    """
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# =========================================================================== input resolution
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def native_side(items: list[Any], sample: int = 16) -> int | None:
    """The median shorter side, in pixels, of a sample of 2D image items (arrays or image files).

    None when the items are not 2D images (text, volumes, DICOM series).

    Example:
        >>> import numpy as np
        >>> native_side([np.zeros((28, 28)), np.zeros((30, 40, 3))])
        29
    """
    import numpy as np

    sides = []
    step = max(1, len(items) // sample)
    for item in items[::step][:sample]:
        if isinstance(item, np.ndarray):
            if item.ndim == 2 or (item.ndim == 3 and item.shape[-1] in (1, 3, 4)):
                sides.append(min(item.shape[:2]))
        elif isinstance(item, (str, Path)) and Path(item).suffix.lower() in _IMAGE_SUFFIXES:
            from PIL import Image

            try:
                with Image.open(item) as image:  # reads the header only
                    sides.append(min(image.size))
            except Exception:  # noqa: BLE001 - an unreadable file is the reader's to report, not ours
                continue
    return int(np.median(sides)) if sides else None


def suited_resolution(native: int, default: int, stride: int = BACKBONE_STRIDE, min_cells: int = MIN_CELLS) -> int:
    """The input side for images of ``native`` pixels: never above the backbone's ``default``, and small
    images upsampled only to ``min_cells`` cells a side at the backbone's last stage.

    Example:
        >>> suited_resolution(28, 224), suited_resolution(150, 224), suited_resolution(500, 224)
        (128, 160, 224)
    """
    if native >= default:
        return default
    side = max(min_cells * stride, math.ceil(native / stride) * stride)
    return min(side, default)


# =========================================================================== timing
@dataclass
class StepTimes:
    """Seconds per example measured on this machine: preprocessing (training and evaluation transforms),
    a forward pass in inference mode, a forward+backward pass with every backbone weight trainable, and one
    with only the top ``top_groups`` layer groups trainable (None when not measured)."""

    load_train: float
    load_eval: float
    forward: float
    forward_backward: float | None
    examples: int
    device: str
    forward_backward_top: float | None = None
    top_groups: int = 0


def measure_steps(
    backbone: Any,
    domain: "Domain",
    preset: "Preset",
    items: list[Any],
    targets: list[int],
    *,
    backward: bool = True,
    top_groups: int = 0,
    forward: bool = True,
    batch_size: int = 16,
    repeats: int = 2,
    timer: Callable[[], float] = time.perf_counter,
) -> StepTimes:
    """Time the backbone on a small batch of ``items`` (the user's data) on the device training will use.

    Each pass runs once untimed, then ``repeats`` times timed, and the fastest timed step counts: on a
    shared machine a passing load spike can make one step several times dearer (in one acceptance run a
    128 px plan was estimated at 4 times its cost in the runs before and after it, and ``auto`` dropped
    to 64 px). The budget pays for the timing (seconds on a busy CPU), so ``repeats`` stays small.

    ``backward``: also time a forward+backward pass with every weight trainable; ``top_groups``: also one
    where only the top ``top_groups`` layer groups train (a partial fine-tune back-propagates through those
    alone); ``forward=False`` skips the inference pass (already timed; its field is then NaN). The sample
    is one batch of ``batch_size`` examples (the size training and feature extraction use). The backbone
    is left as it was found: timing runs in eval mode (no BatchNorm statistics move), gradients
    are dropped and trainable flags restored.

    Example:
        >>> sel = select("vision")  # doctest: +SKIP
        >>> times = measure_steps(sel.backbone, sel.domain, sel.preset, items, targets)  # doctest: +SKIP
        >>> times.forward  # doctest: +SKIP
        0.0123
    """
    import numpy as np
    import torch
    from torch import nn
    from torch.utils.data import DataLoader

    from transferkit.core.devices import pick_device, to_device

    n = max(1, min(SAMPLE_MAX, batch_size, len(items)))
    chosen = sorted(set(np.linspace(0, len(items) - 1, n).astype(int).tolist()))  # spread over the classes
    sample, sample_targets = [items[i] for i in chosen], [targets[i] for i in chosen]
    device = pick_device()  # the device training and feature extraction use (core/devices.py)

    def load(train: bool) -> tuple[Any, float]:
        dataset = domain.dataset(backbone, sample, sample_targets, preset, train=train)
        started = timer()
        batch = next(iter(DataLoader(dataset, batch_size=len(sample), collate_fn=domain.collate)))
        return batch, (timer() - started) / len(sample)

    (inputs, labels), load_train = load(True)
    _, load_eval = load(False)
    inputs, labels = to_device(inputs, device), labels.to(device)
    was_training = backbone.training
    flags = [p.requires_grad for p in backbone.parameters()]
    original_device = next(iter(backbone.parameters())).device
    backbone.to(device).eval()
    try:
        def timed(fn: Callable[[Any, Any], Any]) -> float:
            fn(inputs, labels)  # warm-up at the timed shape: kernels, lazy initialisation
            if device.type == "cuda":
                torch.cuda.synchronize()
            steps = []
            for _ in range(max(1, repeats)):
                started = timer()
                fn(inputs, labels)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                steps.append(timer() - started)
            return min(steps) / len(sample)

        def inference(x: Any, y: Any) -> None:
            with torch.inference_mode():
                backbone(x)

        head = nn.Linear(backbone.feature_dim, int(labels.max()) + 2).to(device)

        def forward_backward(x: Any, y: Any) -> None:
            loss = nn.functional.cross_entropy(head(backbone(x)), y)
            loss.backward()
            backbone.zero_grad(set_to_none=True)

        def trainable(groups: list[Any] | None) -> None:
            for param in backbone.parameters():
                param.requires_grad = groups is None
            for group in groups or []:
                for param in group.parameters():
                    param.requires_grad = True

        forward_s = timed(inference) if forward else float("nan")
        backward_s = top_s = None
        if backward:
            trainable(None)
            backward_s = timed(forward_backward)
        groups = backbone.layer_groups() if top_groups else []
        if 0 < top_groups < len(groups):
            trainable(list(groups[-top_groups:]))
            top_s = timed(forward_backward)
    finally:
        for param, flag in zip(backbone.parameters(), flags):
            param.requires_grad = flag
            param.grad = None
        backbone.to(original_device).train(was_training)
    return StepTimes(load_train, load_eval, forward_s, backward_s, len(sample), device.type,
                     forward_backward_top=top_s, top_groups=top_groups if top_s is not None else 0)


# =========================================================================== estimates
def estimate_plans(
    times: StepTimes,
    *,
    n_train: int,
    n_val: int,
    n_test: int,
    train: dict[str, Any],
    random_augmentation: bool,
    feature_dim: int,
    strategies: tuple[str, ...] = CANDIDATES,
) -> dict[str, float]:
    """Seconds each plan would take, from the measured per-example times, at the preset's epochs.

    Feature extraction (the cache a frozen backbone is fitted on), scoring the validation and test data
    after training and saving the artifact are included. ``gradual`` after its first milestone costs a
    partial fine-tune's step when ``times.forward_backward_top`` was measured (the top groups train),
    else a full one (an upper bound).

    Example:
        >>> t = StepTimes(0.001, 0.001, 0.01, 0.03, 16, "cpu")
        >>> est = estimate_plans(t, n_train=500, n_val=100, n_test=100, feature_dim=512,
        ...                      train={"epochs": 10, "unfreeze_epoch": 2, "milestones": [2]}, random_augmentation=True)
        >>> est["linear-probe"] < est["freeze"] < est["freeze-unfreeze"] < est["full"]
        True
    """
    epochs = int(train.get("epochs", 10))
    eval_each = times.load_eval + times.forward
    validate = n_val * eval_each
    test = n_test * eval_each
    features = (n_train + n_val) * eval_each  # the feature cache: the backbone runs once over train+val
    # scikit-learn's logistic regression over the grid of C (11 values; cross-validated on small val sets,
    # 5 folds x 2 repeats): on BreastMNIST's 546 + 78 x 1280 frozen features, an idle 2-core CPU took 2.9 s
    # with the validation set and 30.5 s cross-validated, about 3.3e-7 s per value; 4e-7 leaves a margin.
    # (The 5e-6 before came from a 43 s fit on the shared CPU while it was busy: 15 times the idle cost.)
    probe_fit = 11 * (n_train + n_val) * feature_dim * 4e-7 * (10 if n_val < 50 else 1)
    head_epochs = epochs * (n_train + n_val) * feature_dim * 1e-8
    frozen_epoch = n_train * (times.load_train + times.forward) + validate
    full_step = times.forward_backward if times.forward_backward is not None else _BACKWARD_FACTOR * times.forward
    full_epoch = n_train * (times.load_train + full_step) + validate
    top_step = times.forward_backward_top if times.forward_backward_top is not None else full_step
    top_epoch = n_train * (times.load_train + top_step) + validate
    after = validate + test + SAVE_S  # the chosen epoch scores val and test; the artifact is written
    unfreeze = min(int(train.get("unfreeze_epoch", 2)), epochs)
    first_milestone = min([int(m) for m in train.get("milestones", [])] or [epochs])
    costs = {
        "linear-probe": features + probe_fit + test + SAVE_S,
        "freeze": (epochs * frozen_epoch + TRAINER_OVERHEAD_S + after) if random_augmentation
        else (features + head_epochs + TRAINER_OVERHEAD_S + test + SAVE_S),
        "freeze-unfreeze": unfreeze * frozen_epoch + (epochs - unfreeze) * full_epoch + TRAINER_OVERHEAD_S + after,
        "full": epochs * full_epoch + TRAINER_OVERHEAD_S + after,
        "gradual": min(first_milestone, epochs) * frozen_epoch + max(0, epochs - first_milestone) * top_epoch
        + TRAINER_OVERHEAD_S + after,
        # an upper bound: LoRA still back-propagates through the whole network.
        "lora": epochs * full_epoch + TRAINER_OVERHEAD_S + after,
    }
    return {name: float(costs[name]) for name in strategies if name in costs}


# =========================================================================== the plans and the choice
@dataclass(frozen=True)
class Plan:
    """One candidate: a strategy, the input side it is fed at (None: the preset's) and, for a partial
    fine-tune (``gradual`` unfreezing the top groups only), how many of the top layer groups train.

    Example:
        >>> Plan("gradual", 96, top_groups=2).name
        'partial fine-tune (top 2 groups) at 96 px'
    """

    strategy: str
    side: int | None = None
    top_groups: int = 0

    @property
    def name(self) -> str:
        what = f"partial fine-tune (top {self.top_groups} groups)" if self.top_groups else self.strategy
        return f"{what} at {self.side} px" if self.side else what

    @property
    def trains_backbone(self) -> bool:
        return self.strategy not in FROZEN

    def record(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "side": self.side, "top_groups": self.top_groups}


@dataclass(frozen=True)
class Sides:
    """The input sides a 2D image backbone may be fed, for the images' native size (:func:`input_sides`)."""

    key: str  # the preprocess key the domain reads: ``image_size`` (medical) or ``resolution`` (vision)
    native: int
    default: int  # the backbone's own input size
    trained: tuple[int, ...]  # for plans that train the backbone, largest first
    frozen: tuple[int, ...]  # for frozen features: the backbone's own size first


def training_sides(native: int, default: int, stride: int = BACKBONE_STRIDE) -> tuple[int, ...]:
    """Input sides for a backbone that trains, largest first: from :func:`suited_resolution` down, one
    stride at a time, to the smallest that still holds the whole image (a multiple of the stride at or above
    its native size) with at least ``FLOOR_CELLS`` cells a side at the last stage.

    Example:
        >>> training_sides(28, 224), training_sides(150, 224), training_sides(500, 224)
        ((128, 96, 64), (160,), (224,))
    """
    top = suited_resolution(native, default, stride)
    floor = min(top, max(FLOOR_CELLS * stride, math.ceil(native / stride) * stride))
    return tuple(range(top, floor - 1, -stride))


def input_sides(domain: "Domain", backbone: Any, preset: "Preset", items: list[Any]) -> Sides | None:
    """The sides worth planning for these images, or None when there is no choice to make: not 2D images,
    a preset that sets its resolution (or feature scales) itself, images as large as the backbone's input.
    """
    choice = _resolution_key(domain, backbone, preset)
    if choice is None:
        return None
    key, default = choice
    native = native_side(items)
    if native is None or native >= default:
        return None
    trained = training_sides(native, default)
    return Sides(key, native, default, trained, (default, *(s for s in trained if s < default)))


def _resolution_key(domain: "Domain", backbone: Any, preset: "Preset") -> tuple[str, int] | None:
    keys = set(getattr(domain, "preprocess_keys", {}) or {})
    if "image_size" in keys and backbone.spatial_dims == 2:
        key, default = "image_size", backbone.default_image_size
        default = default[0] if isinstance(default, (list, tuple)) and default else default
    elif "resolution" in keys:
        key, default = "resolution", backbone.default_resolution
    else:
        return None
    # A preset that sets a size, or pools features at sizes of its own, has chosen its resolution.
    if not isinstance(default, int) or key in preset.preprocess or preset.preprocess.get("feature_scales"):
        return None
    return key, default


def candidate_plans(requested: str, preferred: str, sides: Sides | None, n_groups: int) -> list[Plan]:
    """Every plan ``auto`` may take, best first; the user's or preset's strategy at each side otherwise.

    The order is the data-size rule's (core/configure.py: the more labels, the more layers are worth
    training), starting at the strategy it prefers, with a partial fine-tune (the top ``TOP_GROUPS`` groups)
    between freeze-unfreeze and a frozen backbone. Within a strategy the larger input comes first: a
    backbone that trains adapts to a smaller input, so the side is given up before the strategy is
    (on BreastMNIST, MedMNIST v2's ResNet-18 trained at 28 px scores 0.901 AUROC, at 224 px 0.891); frozen
    features come first at the backbone's own input size, the scale its filters were trained at (on
    BreastMNIST train + val, cross-validated probe AUROC 0.852 at 224 px against 0.821 at 128 px:
    docs/benchmarks.md, "Time budget"). What the order does not know is how much each plan gains on a
    given data set; it is a prior, not a measurement, and ``--strategy`` overrides it.

    Example:
        >>> s = Sides("image_size", 28, 224, (128, 96, 64), (224, 128, 96, 64))
        >>> [p.name for p in candidate_plans("auto", "freeze-unfreeze", s, 9)][2:4]
        ['freeze-unfreeze at 64 px', 'partial fine-tune (top 2 groups) at 128 px']
    """
    def at_sides(strategy: str, top: int = 0) -> list[Plan]:
        if sides is None:
            return [Plan(strategy, None, top)]
        return [Plan(strategy, side, top) for side in (sides.frozen if strategy in FROZEN else sides.trained)]

    if requested != "auto":
        return at_sides(requested)
    plans: list[Plan] = []
    for strategy in CANDIDATES[CANDIDATES.index(preferred):]:
        plans += at_sides(strategy)
        if strategy == "freeze-unfreeze" and n_groups > TOP_GROUPS:
            plans += at_sides("gradual", TOP_GROUPS)
    return plans


@dataclass
class BudgetPlan:
    """What :func:`plan_budget` decided: the strategy, why, the plan's ``estimate`` record, the preset (with
    the input side and, for a partial fine-tune, the unfreezing it chose), the seconds reserved after
    training for scoring and saving, and ``choice``, the record ``--resume`` reuses (:func:`record_choice`)."""

    strategy: str
    reason: str
    estimate: dict[str, Any]
    preset: "Preset"
    notes: list[str] = field(default_factory=list)
    reserve: float = 0.0
    choice: dict[str, Any] = field(default_factory=dict)


def apply_plan(preset: "Preset", plan: Plan, key: str | None) -> "Preset":
    """The preset with ``plan``'s input side (under the domain's preprocess ``key``) and, for a partial
    fine-tune, ``gradual`` set to unfreeze the top groups once, at the preset's ``unfreeze_epoch``.

    Example:
        >>> from transferkit.core.specs import Preset
        >>> p = apply_plan(Preset(id="x/y", domain="x", description="-"), Plan("gradual", 96, 2), "image_size")
        >>> p.preprocess["image_size"], p.train.milestones, p.train.groups_per_milestone
        (96, [2], 2)
    """
    update: dict[str, Any] = {}
    if plan.side is not None and key is not None:
        update["preprocess"] = {**preset.preprocess, key: plan.side}
    if plan.top_groups:
        update["train"] = preset.train.model_copy(update={"milestones": [preset.train.unfreeze_epoch],
                                                          "groups_per_milestone": plan.top_groups})
    return preset.model_copy(update=update) if update else preset


def _resolution_note(plan: Plan, sides: Sides | None) -> str | None:
    if sides is None or plan.side is None:
        return None
    if plan.trains_backbone:
        return (f"input {plan.side} px for {sides.native} px images: a backbone that trains adapts to a smaller "
                f"input, and its own {sides.default} px would upsample them with no detail to gain, at about "
                f"{(sides.default / plan.side) ** 2:.0f} times the compute")
    if plan.side == sides.default:
        return (f"frozen features at the backbone's own {sides.default} px input ({sides.native} px images "
                "upsampled): the scale its filters were trained at")
    return (f"frozen features at {plan.side} px for {sides.native} px images: the backbone's own "
            f"{sides.default} px did not fit the budget")


# =========================================================================== what the timing itself costs
def timing_cap(budget: float, spent: float, share: float = TIMING_SHARE) -> float:
    """Seconds the timing may take: ``share`` of the budget, and never more than loading the model and
    reading the data (``spent`` seconds) left of it.

    Example:
        >>> timing_cap(120.0, 10.0), timing_cap(120.0, 100.0), timing_cap(120.0, 300.0)
        (30.0, 20.0, 0.0)
    """
    return max(0.0, min(share * budget, budget - spent))


def timing_work(times: StepTimes, *, forward: bool = True, backward: bool = False, top: bool = False) -> float:
    """Seconds of compute a :func:`measure_steps` call spends by its own figures: the sample preprocessed
    twice (training and evaluation transforms), and each pass it times run once untimed and twice timed.
    A pass not measured is priced as :func:`estimate_plans` prices it (forward+backward: 3 forward passes;
    the top groups' forward+backward: a full one).

    Example:
        >>> timing_work(StepTimes(0.25, 0.25, 0.5, None, 4, "cpu"), backward=True)
        26.0
    """
    def known(value: float | None) -> float:
        return 0.0 if value is None or math.isnan(value) else value

    full = known(times.forward_backward) or _BACKWARD_FACTOR * known(times.forward)
    passes = ((known(times.forward) if forward else 0.0) + (full if backward else 0.0)
              + ((known(times.forward_backward_top) or full) if top else 0.0))
    return times.examples * (known(times.load_train) + known(times.load_eval) + _TIMED_PASSES * passes)


def _not_timed_why(budget: float, cap: float, several: bool = False) -> str:
    if cap <= 0:  # loading the model and reading the data took the whole budget
        return f"nothing of the {format_seconds(budget)} budget was left for timing"
    return (f"timing {'them' if several else 'it'} would have taken more of the {format_seconds(budget)} budget "
            f"than the {format_seconds(cap)} kept for timing")


def _spent_note(budget: float, spent: float, timing_s: float, plan: Plan, seconds: float, reserve: float,
                cheapest: bool) -> str:
    """The plain words for a budget used up before training: where it went, what runs anyway, and by how
    much the run will exceed the budget (a plan with epochs stops after its first step or epoch, then
    scores and saves: at least the ``reserve``)."""
    no_epochs = plan.strategy in ("linear-probe", "contrastive")
    over = spent - budget + (seconds if no_epochs else reserve)
    what = f"the cheapest plan, {plan.name}," if cheapest else f"the {plan.name} plan"
    stop = "" if no_epochs else " and its training stops after the first step or epoch"
    return (f"the {format_seconds(budget)} time budget is already spent: loading the model, reading the data "
            f"and timing took {format_seconds(spent)} (timing {format_seconds(timing_s)}); {what} runs anyway "
            f"(about {format_seconds(seconds)} in full){stop}, so the run will exceed its budget by "
            f"{'about' if no_epochs else 'at least'} {format_seconds(over)}")


def plan_budget(
    selection: "Selection",
    splits: Any,
    labels: list[str],
    strategy: str | None,
    budget: float,
    train_overrides: dict[str, Any],
    *,
    spent: float = 0.0,
    adapt: bool = True,
    recorded: dict[str, Any] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> BudgetPlan | None:
    """Time the backbone on the training data and choose the best plan that fits the budget.

    For ``auto`` the plans of :func:`candidate_plans` are tried best first: the first whose estimate fits
    what is left of the budget is taken. Timing is lazy (each input side is timed once, when a plan needs
    it) and a strategy is tried at its smallest side first, so that one that cannot fit costs one timing;
    the timing's own seconds count against the budget, and it stops at :func:`timing_cap`: the cheapest
    plan is timed first whatever the cap (its back-propagation, if it has one, within the cap or else
    estimated from the forward pass), and a plan whose timing would take the timing past the cap is dropped
    as not timed (the notes and ``estimate["not_timed"]`` say which). When loading, reading and timing
    took the whole budget, nothing more is timed, the cheapest plan is taken (a recorded plan, or several
    processes' first plan, stays), and the notes say so and by how much the run will exceed its budget.
    A strategy the user or the preset chose stays as it is: only its input side is planned, and its
    estimate says when it exceeds the budget. ``spent``: seconds of the budget used before (loading the model, reading the data). ``adapt=False`` (several
    training processes, each timing on its own) takes the first plan, the data-size rule's, so that every
    process takes the same one; ``recorded`` (:func:`recorded_choice`, on ``--resume``) is the plan the
    first run took, kept as it was. None for a backbone with no weights (a TF-IDF vectorizer): there is
    no network step to time, and the domain fits the model itself.

    Example:
        >>> bp = plan_budget(selection, splits, ["a", "b"], None, 900.0, {})  # doctest: +SKIP
        >>> bp.strategy, bp.estimate["seconds"]  # doctest: +SKIP
        ('freeze-unfreeze', 212.4)
    """
    from transferkit.core.configure import choose_strategy

    domain, backbone, preset = selection.domain, selection.backbone, selection.preset
    if next(iter(backbone.parameters()), None) is None:
        return None
    requested = strategy or preset.strategy
    counts = splits.train.counts()
    min_per_class = min(counts.values())
    preferred, rule = choose_strategy(requested, min_per_class)
    sides = input_sides(domain, backbone, preset, splits.train.items)
    key = sides.key if sides else (_resolution_key(domain, backbone, preset) or (None,))[0]
    # A domain's own few-label choice (nlp: the contrastive fit for sentence encoders) comes first; when it
    # does not fit, the core's plans for these data follow.
    few = domain.auto_strategy(backbone, min_per_class) if requested == "auto" else None
    if recorded is not None:
        plans = [Plan(str(recorded["strategy"]), recorded.get("side"), int(recorded.get("top_groups") or 0))]
    elif few is not None and few[0] == "contrastive":
        rule = few[1]
        plans = [Plan("contrastive"), *candidate_plans(requested, preferred, sides, len(backbone.layer_groups()))]
    else:
        plans = candidate_plans(requested, preferred, sides, len(backbone.layer_groups()))
    index = {label: i for i, label in enumerate(labels)}
    targets = [index[label] for label in splits.train.labels]
    n_train, n_val = len(splits.train), len(splits.val)
    n_test = len(splits.test) if splits.test is not None else 0
    random_augmentation = domain.has_random_augmentation(preset)
    batch_size = int({**preset.train.model_dump(), **train_overrides}["batch_size"])
    timing_started = timer()
    cap = timing_cap(budget, spent)
    timings: dict[Any, tuple[StepTimes, bool, int]] = {}  # side -> (times, backward timed, top groups timed)
    timed: list[tuple[float, float]] = []  # each timing so far: (seconds it took, its timing_work)

    def timing_would_take(side: Any, *, forward: bool, backward: bool, top: bool) -> float:
        """Seconds one more timing would take: its work by the figures at hand (scaled by the pixels when at
        another side), at the rate the timings so far ran (which covers what the work leaves out: building
        the batch, moving the model)."""
        if not timed:
            return 0.0
        ref_side = side if side in timings else next(iter(timings))
        scale = (side / ref_side) ** 2 if side and ref_side else 1.0
        work = timing_work(timings[ref_side][0], forward=forward, backward=backward, top=top) * scale
        seconds, works = sum(t[0] for t in timed), sum(t[1] for t in timed)
        return work * seconds / works if works > 0 else max(t[0] for t in timed)

    def times_for(plan: Plan, measure: bool = True, capped: bool = True) -> StepTimes | None:
        """The times ``plan`` needs, timing what is missing; None when not at hand and ``measure`` is off, or
        when ``capped`` and timing them would take the timing past its share of the budget."""
        backward = plan.trains_backbone and not plan.top_groups
        cached = timings.get(plan.side)
        if cached is not None and (cached[1] or not backward) and cached[2] >= plan.top_groups:
            return cached[0]
        if not measure:
            return None
        # Only what is missing is timed; what this side already has is kept.
        backward = backward and not (cached is not None and cached[1])
        top = plan.top_groups if cached is None or cached[2] < plan.top_groups else 0
        forward = cached is None
        if capped and timer() - timing_started + timing_would_take(plan.side, forward=forward, backward=backward,
                                                                   top=bool(top)) > cap:
            return None
        started = timer()
        times = measure_steps(backbone, domain, apply_plan(preset, plan, key), splits.train.items, targets,
                              backward=backward, top_groups=top, forward=forward, batch_size=batch_size,
                              timer=timer)
        timed.append((timer() - started, timing_work(times, forward=forward, backward=backward, top=bool(top))))
        if cached is not None:
            old = cached[0]
            times = replace(times, forward=old.forward,
                            forward_backward=times.forward_backward or old.forward_backward,
                            forward_backward_top=times.forward_backward_top or old.forward_backward_top,
                            top_groups=max(times.top_groups, old.top_groups))
        timings[plan.side] = (times, backward or bool(cached and cached[1]), max(top, cached[2] if cached else 0))
        return times

    def cost(plan: Plan, measure: bool = True, bound: bool = False, capped: bool = True,
             forward_only: bool = False) -> float | None:
        """Estimated seconds; ``bound``: a lower bound from the forward pass alone (a step that
        back-propagates costs at least a forward pass), so that a plan that cannot fit costs no backward timing;
        ``forward_only``: back-propagation priced as 3 forward passes where it was not timed. None: not timed
        (``measure`` off, or the timing's share of the budget would not cover it)."""
        times = times_for(Plan("linear-probe", plan.side) if bound or forward_only else plan, measure, capped)
        if times is None:
            return None
        if bound:
            times = replace(times, forward_backward=times.forward, forward_backward_top=times.forward)
        train = {**apply_plan(preset, plan, key).train.model_dump(), **train_overrides}
        if plan.strategy == "contrastive":
            from transferkit.core.contrastive import estimate_seconds, pools_labels

            return estimate_seconds(times, n_train=n_train, n_val=n_val, n_test=n_test,
                                    iterations=int(train["pair_iterations"]), feature_dim=backbone.feature_dim,
                                    pooled=pools_labels(splits))
        return estimate_plans(times, n_train=n_train, n_val=n_val, n_test=n_test, train=train,
                              random_augmentation=random_augmentation, feature_dim=backbone.feature_dim,
                              strategies=(plan.strategy,))[plan.strategy]

    def left() -> float:  # what the plan itself may take: the timing so far counts
        return max(0.0, budget - spent - (timer() - timing_started))

    costs: dict[Plan, float] = {}
    untimed: dict[Plan, Plan] = {}  # larger sides not timed -> the smallest side that was already over
    bounded: set[Plan] = set()  # plans whose cost is a lower bound (over the budget already)
    not_timed: list[Plan] = []  # plans left untimed: timing them would have taken the timing past its cap
    estimated: set[Plan] = set()  # plans whose back-propagation was not timed (the cap) but estimated

    def must_price(plan: Plan) -> float:
        """Seconds of a plan priced whatever the cap (the cheapest, or the one that will run): its forward
        pass is always timed (the cheapest timing, and scoring's cost); back-propagation is timed within the
        cap, else priced as 3 forward passes (said in the notes)."""
        if not plan.trains_backbone:
            return cost(plan, capped=False) or 0.0
        cost(plan, bound=True, capped=False)  # the forward pass: the prediction of what the rest would take
        seconds = cost(plan)
        if seconds is None:
            estimated.add(plan)
            seconds = cost(plan, forward_only=True)
        return seconds or 0.0

    chosen: Plan | None = None
    cheapest = plans[-1]  # candidate_plans and a recorded plan: the cheapest last
    if recorded is not None or not adapt or len(plans) == 1:
        chosen = plans[0]
        costs[chosen] = must_price(chosen)  # the plan that will run
    else:
        # The cheapest plan first, whatever the cap: it is what runs when nothing else fits or gets timed.
        costs[cheapest] = must_price(cheapest)

        def price(plan: Plan, bound: bool = False, group: tuple[Plan, ...] = ()) -> float | None:
            """``plan``'s cost (``bound``: its lower bound); None when the cap left it untimed, and then so
            are the plans of ``group`` not timed yet."""
            if plan in costs and not bound:
                return costs[plan]
            seconds = cost(plan, bound=bound)
            if seconds is None:
                not_timed.extend(p for p in (plan, *group) if p not in costs and p not in not_timed)
            return seconds

        groups: dict[tuple[str, int], list[Plan]] = {}
        for plan in plans:
            groups.setdefault((plan.strategy, plan.top_groups), []).append(plan)
        for group in groups.values() if left() > 0 else ():  # a budget spent already: nothing more is timed
            if group[-1].trains_backbone and group[-1] not in costs:
                # A lower bound first: one forward timing may rule the strategy out.
                lower = price(group[-1], bound=True, group=tuple(group))
                if lower is None:
                    continue
                if lower > left():
                    costs[group[-1]] = lower
                    bounded.add(group[-1])
                    untimed.update({plan: group[-1] for plan in group[:-1]})
                    continue
            if len(group) > 1:  # the smallest side first: a strategy that cannot fit costs one timing
                smallest = price(group[-1], group=tuple(group))
                if smallest is None:
                    continue
                costs[group[-1]] = smallest
                if smallest > left():
                    untimed.update({plan: group[-1] for plan in group[:-1]})
                    continue
            for plan in group:
                seconds = price(plan)
                if seconds is None:
                    continue
                costs[plan] = seconds
                if seconds <= left():
                    chosen = plan
                    break
            if chosen is not None:
                break
        if chosen is None:  # nothing fits: the cheapest plan, said so (a lower bound is no plan's cost)
            chosen = min((p for p in costs if p not in bounded), key=lambda plan: costs[plan])
        # Cheaper plans after the chosen one: shown where their timing is already at hand.
        for plan in plans[plans.index(chosen) + 1:]:
            seconds = cost(plan, measure=False)
            if seconds is not None:
                costs[plan] = seconds
    not_timed = [plan for plan in not_timed if plan not in costs and plan != chosen]
    timing_s = timer() - timing_started

    def _about(plan: Plan) -> str:
        return f"{'at least' if plan in bounded else 'about'} {format_seconds(costs[plan])}"
    spent += timing_s
    remaining = max(0.0, budget - spent)
    seconds = costs[chosen]
    first = plans[0]

    # Why this plan, and why not the others.
    over_budget = budget - spent <= 0  # loading, reading and timing took the whole budget: said plainly
    if recorded is not None:
        reason = f"{chosen.name}: the plan the first run in this folder took (--resume keeps it)"
    elif requested != "auto":
        reason = "chosen by the user or the preset" + (f"; {chosen.side} px input" if chosen.side else "")
    elif chosen == first:
        reason = rule + (f"; {chosen.side} px input" if chosen.side else "")
    elif over_budget:
        reason = (f"{rule} suggests {first.name}, but the {format_seconds(budget)} budget was spent before "
                  f"training, so the cheapest plan, {chosen.name} (about {format_seconds(seconds)})")
    else:
        if first in costs:
            over = f"it needs {_about(first)}, over the {format_seconds(remaining)} left of the budget"
        elif first in untimed:
            over = (f"even at {untimed[first].side} px it needs {_about(untimed[first])}, over the "
                    f"{format_seconds(remaining)} left of the budget")
        else:
            over = f"it was not timed: {_not_timed_why(budget, cap)}"
        reason = f"{rule} suggests {first.name}, but {over}"
        if seconds <= remaining:
            best = "best plan timed" if not_timed else "best plan"
            reason += f"; {chosen.name} is the {best} that fits (about {format_seconds(seconds)})"
        else:
            reason += f"; no plan fits, so the cheapest timed, {chosen.name} (about {format_seconds(seconds)})"
    if over_budget and (recorded is not None or requested != "auto" or chosen == first):
        reason += f"; the {format_seconds(budget)} budget was spent before training"
    alternatives = []
    for plan in plans:
        if plan == chosen or plan not in costs:
            continue
        if plans.index(plan) > plans.index(chosen):
            why = f"{chosen.name} fits the budget and is preferred"
        elif costs[plan] > remaining:
            why = f"over the {format_seconds(remaining)} left of the budget"
            if plan in bounded:
                why += " even as a lower bound (back-propagation counted as a forward pass)"
            larger = [p.side for p in untimed if untimed[p] == plan]
            if larger:
                why += f"; so, not timed, at {' and '.join(map(str, larger))} px"
        else:
            why = "the strategy was chosen by the user or the preset"
        alternatives.append({"plan": plan.name, "seconds": round(costs[plan], 1), "why_dropped": why})

    notes: list[str] = []
    resolution = _resolution_note(chosen, sides)
    if resolution:
        notes.append(resolution)
    if chosen.top_groups:
        # +1: plans count epochs from 0, as Lightning does; the plan's Model lines and progress lines from 1.
        notes.append(f"partial fine-tune: the head trains first, then the top {chosen.top_groups} layer groups "
                     f"from epoch {preset.train.unfreeze_epoch + 1}; the rest of the backbone stays frozen")
    if not adapt and requested == "auto" and recorded is None:
        notes.append("several training processes: auto follows the data-size rule alone, so that every process "
                     "takes the same plan")
    times = timings[chosen.side][0]
    reserve = (n_val + n_test) * (times.load_eval + times.forward) + SAVE_S
    no_epochs = chosen.strategy in ("linear-probe", "contrastive")
    if over_budget:
        notes.insert(0, _spent_note(budget, spent, timing_s, chosen, seconds, reserve,
                                    cheapest=requested == "auto" and recorded is None and adapt))
    elif seconds > remaining:
        then = (f"it has no epochs to stop between, so the run will exceed its budget by about "
                f"{format_seconds(seconds - remaining)}" if no_epochs
                else "training stops at the budget with the best epoch kept")
        notes.append(f"the {chosen.name} plan needs about {format_seconds(seconds)}, more than the "
                     f"{format_seconds(remaining)} left of the budget: {then} ({format_seconds(spent)} of the "
                     f"{format_seconds(budget)} went to loading the model, reading the data and timing)")
    if not_timed:
        names = [plan.name for plan in not_timed]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        notes.append(f"not timed, so not considered: {listed}; {_not_timed_why(budget, cap, len(names) > 1)}")
    if chosen in estimated:
        notes.append(f"forward+backward not timed ({_not_timed_why(budget, cap)}): estimated as "
                     f"{_BACKWARD_FACTOR:g} forward passes")
    size = f" at {chosen.side} px" if chosen.side else ""
    how = (f"timed up to {times.examples} examples of the training data{size} on {times.device}: "
           f"{times.forward * 1e3:.1f} ms an example forward"
           + (f", {times.forward_backward * 1e3:.1f} ms forward+backward" if times.forward_backward else
              f", forward+backward not timed (counted as {_BACKWARD_FACTOR:g} forward passes)"
              if chosen in estimated else "")
           + (f", {times.forward_backward_top * 1e3:.1f} ms forward+backward of the top {times.top_groups} groups"
              if times.forward_backward_top and chosen.top_groups else "")
           + f", {times.load_train * 1e3:.1f} ms preprocessing; {n_train} train, {n_val} val examples, "
           + (
               # A linear probe has no epochs: the backbone runs once over the data, then one fit of the probe.
               "features computed once, then one fit of the logistic regression"
               if chosen.strategy == "linear-probe" else
               # The contrastive fit: one pass over its sentence pairs, two texts forward and backward a pair.
               f"{int({**preset.train.model_dump(), **train_overrides}['pair_iterations'])} rounds of sentence "
               "pairs, two texts forward and backward a pair, then the logistic regression on the tuned "
               "features"
               if chosen.strategy == "contrastive" else
               f"{int({**preset.train.model_dump(), **train_overrides}['epochs'])} epochs at most (early stopping "
               "may end sooner)")
           + f"; budget {format_seconds(budget)}, of which {format_seconds(spent)} went to loading the "
           f"model, reading the data and timing ({format_seconds(timing_s)}, {len(timings)} input "
           f"size{'s' if len(timings) != 1 else ''})")
    estimate = {"seconds": round(seconds, 1), "how": how, "alternatives": alternatives,
                "budget_seconds": budget, "spent_seconds": round(spent, 1),
                "timing_seconds": round(timing_s, 1), "timing_cap_seconds": round(cap, 1),
                "not_timed": [{"plan": plan.name, "why_dropped": f"not timed: {_not_timed_why(budget, cap)}"}
                              for plan in not_timed],
                "spent_before_training": over_budget}
    choice = {**chosen.record(), "requested": requested}
    return BudgetPlan(chosen.strategy, reason, estimate, apply_plan(preset, chosen, key), notes, reserve, choice)


# =========================================================================== --resume keeps the plan
CHOICE_FILE = "budget-plan.json"  # in the run folder (core/outputs.py RUN_DIR), beside the checkpoints


def record_choice(out: str | Path, plan: BudgetPlan) -> None:
    """Write the plan ``plan_budget`` chose into ``out``'s run folder, so that ``--resume`` continues it.

    A resumed run times the machine again, and a busier or quieter machine would make ``auto`` pick
    another plan, whose checkpoint the saved one is not. Only the first process of a run writes.

    Example:
        >>> record_choice("models/m", budget_plan)  # doctest: +SKIP
    """
    from transferkit.core.artifact import write_json_atomic
    from transferkit.core.devices import is_rank_zero
    from transferkit.core.outputs import RUN_DIR

    if is_rank_zero():
        write_json_atomic(Path(out) / RUN_DIR / CHOICE_FILE, {"format_version": 1, **plan.choice})


def recorded_choice(out: str | Path, requested: str) -> dict[str, Any] | None:
    """The plan recorded by :func:`record_choice` in ``out``, when it was made for the same ``requested``
    strategy (``auto``, or the user's); None otherwise.

    Example:
        >>> recorded_choice("models/m", "auto")  # doctest: +SKIP
        {'format_version': 1, 'strategy': 'linear-probe', 'side': 224, 'top_groups': 0, 'requested': 'auto'}
    """
    import json

    from transferkit.core.outputs import RUN_DIR
    from transferkit.core.specs import STRATEGIES

    path = Path(out) / RUN_DIR / CHOICE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("requested") != requested or record.get("strategy") not in STRATEGIES:
        return None
    return record


def replay_choice(selection: "Selection", recorded: dict[str, Any]) -> tuple["Preset", str]:
    """(preset, strategy) of a recorded plan, for a resumed run that has no time budget to plan with.

    Example:
        >>> preset, strategy = replay_choice(selection, recorded_choice("models/m", "auto"))  # doctest: +SKIP
    """
    plan = Plan(str(recorded["strategy"]), recorded.get("side"), int(recorded.get("top_groups") or 0))
    key = (_resolution_key(selection.domain, selection.backbone, selection.preset) or (None,))[0]
    return apply_plan(selection.preset, plan, key), plan.strategy


# =========================================================================== stopping at the budget
_DEADLINE: contextvars.ContextVar["float | None"] = contextvars.ContextVar("transferkit_deadline", default=None)
# (the clock time the run started, its budget in seconds): what overrun_note measures against.
_RUN_BUDGET: contextvars.ContextVar["tuple[float, float] | None"] = contextvars.ContextVar("transferkit_run_budget",
                                                                                           default=None)


@contextlib.contextmanager
def deadline(at: float | None, *, budget: "tuple[float, float] | None" = None) -> Iterator[None]:
    """Training loops started inside stop at ``at`` (a :data:`clock` time); None: no deadline.

    ``budget``: (the :data:`clock` time the run started, its budget in seconds), for :func:`overrun_note`.

    Example:
        >>> with deadline(clock() + 600):
        ...     current_deadline() is not None
        True
    """
    token, run_token = _DEADLINE.set(at), _RUN_BUDGET.set(budget)
    try:
        yield
    finally:
        _RUN_BUDGET.reset(run_token)
        _DEADLINE.reset(token)


def current_deadline() -> float | None:
    """The deadline set by the innermost :func:`deadline` block, if any."""
    return _DEADLINE.get()


def overrun_note(now: float | None = None) -> str | None:
    """The note for a run past its time budget: by how much, and how long it took (``now``: a :data:`clock`
    time, default the clock's). None within the budget, or outside a :func:`deadline` block given a budget.
    Meant for the run's notes just before the model folder is written, so that the model card has it.

    Example:
        >>> with deadline(None, budget=(0.0, 120.0)):
        ...     overrun_note(now=338.0), overrun_note(now=100.0)
        ('the run exceeded its 2.0 min time budget by 3.6 min (5.6 min before writing the model)', None)
    """
    run = _RUN_BUDGET.get()
    if run is None:
        return None
    started, seconds = run
    elapsed = (clock() if now is None else now) - started
    if elapsed <= seconds:
        return None
    return (f"the run exceeded its {format_seconds(seconds)} time budget by {format_seconds(elapsed - seconds)} "
            f"({format_seconds(elapsed)} before writing the model)")


def time_budget_callback(at: float, now: Callable[[], float] | None = None) -> Any:
    """A Lightning callback that ends training gracefully at ``at`` (a ``now()`` time; default: :data:`clock`).

    At the end of each epoch (validation included) it stops when one more epoch like the last would not
    finish in time; after each training step it stops when the time left would not cover the validation
    pass that Lightning runs before stopping. Checkpointing is untouched, so the best epoch is kept.
    ``epochs_done`` and ``stopped`` say what happened (for the run's notes).

    Example:
        >>> callback = time_budget_callback(clock() + 600)  # doctest: +SKIP
        >>> trainer = pl.Trainer(callbacks=[callback])  # doctest: +SKIP
    """
    import lightning.pytorch as pl

    def current() -> float:
        return now() if now is not None else clock()  # looked up at each call: tests replace the clock

    class TimeBudget(pl.Callback):
        def __init__(self) -> None:
            self.at = at
            self.stopped = False
            self.epochs_done = 0  # complete epochs in this session
            self.first_epoch = 0
            self.partial = False  # stopped inside an epoch
            self._epoch_started = 0.0
            self._validation_started = 0.0
            self.validation_seconds = 0.0

        @property
        def completed(self) -> int:
            """Complete epochs, those of the run this one resumed included."""
            return self.first_epoch + self.epochs_done

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.first_epoch = trainer.current_epoch

        def _stop(self, trainer: Any) -> None:
            trainer.should_stop = True
            self.stopped = True

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self._epoch_started = current()

        def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
            self._validation_started = current()

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            self.validation_seconds = current() - self._validation_started

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx + 1 >= trainer.num_training_batches:
                return  # the epoch ends here: on_train_epoch_end decides
            if self.stopped:
                return
            # Every process takes the same decision (DDP): one that stops alone would leave the others waiting.
            if trainer.strategy.reduce_boolean_decision(current() + self.validation_seconds >= self.at, all=False):
                self._stop(trainer)
                self.partial = True

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            self.epochs_done += 0 if self.partial else 1
            time_now = current()
            if self.stopped or trainer.current_epoch + 1 >= (trainer.max_epochs or 0):
                return
            if trainer.strategy.reduce_boolean_decision(time_now + (time_now - self._epoch_started) > self.at,
                                                        all=False):
                self._stop(trainer)

    return TimeBudget()
