"""Time budgets: how long a run may take, what each plan would cost here, and a stop when time is up.

``transferkit train --time-budget 15m`` (``fit(time_budget="15m")``) works in three steps:

1. :func:`parse_budget` turns ``10m`` / ``2h`` / ``90s`` / ``1h30m`` into seconds (``none`` disables it);
   the default suits the machine: 15 minutes on a CPU-only machine, 60 with a GPU (:func:`default_budget`).
2. After the data are read, :func:`plan_budget` times a few real forward and forward+backward steps of the
   backbone on a small batch of the user's training data on this hardware (:func:`measure_steps`),
   estimates every candidate plan (:func:`estimate_plans`) and, for ``auto``, lets
   :func:`~transferkit.core.configure.choose_strategy` take the best plan that fits. Images smaller than
   the backbone's input are fed at a resolution suited to their native size (:func:`suited_resolution`)
   unless the preset sets one.
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
from dataclasses import dataclass, field
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
SAMPLE_MAX = 16  # examples in the timed batch: enough for a stable per-example time, cheap on a CPU
TRAINER_OVERHEAD_S = 5.0  # Lightning start-up, checkpoint writes
SAVE_S = 5.0  # writing the artifact and its report
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


def resolution_choice(
    domain: "Domain", backbone: Any, preset: "Preset", items: list[Any]
) -> tuple[str, int, int, int] | None:
    """(preprocess key, side, native side, default side) when the images should be fed smaller than the
    backbone's default; None when the preset sets the resolution itself or nothing is to be gained.

    The key is the one the domain reads: ``resolution`` (vision) or ``image_size`` (medical, 2D).
    """
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
    native = native_side(items)
    if native is None:
        return None
    side = suited_resolution(native, default)
    return (key, side, native, default) if side < default else None


# =========================================================================== timing
@dataclass
class StepTimes:
    """Seconds per example measured on this machine: preprocessing (training and evaluation transforms),
    a forward pass in inference mode, and a forward+backward pass with every backbone weight trainable
    (None when not measured)."""

    load_train: float
    load_eval: float
    forward: float
    forward_backward: float | None
    examples: int
    device: str


def _to_device(batch: Any, device: Any) -> Any:
    if hasattr(batch, "to"):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _first(batch: Any, k: int) -> Any:
    """The first ``k`` examples of a batch (a tensor, or a dict / tuple of them, as a domain collates)."""
    if hasattr(batch, "shape"):
        return batch[:k]
    if isinstance(batch, dict):
        return {key: _first(v, k) for key, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_first(v, k) for v in batch)
    return batch


def measure_steps(
    backbone: Any,
    domain: "Domain",
    preset: "Preset",
    items: list[Any],
    targets: list[int],
    *,
    backward: bool = True,
    repeats: int = 1,
    timer: Callable[[], float] = time.perf_counter,
) -> StepTimes:
    """Time the backbone on a small batch of ``items`` (the user's data) on this machine's device.

    A warm-up step on two examples, then the mean of ``repeats`` steps on the whole sample (on a busy
    CPU the timing itself costs seconds, which the budget pays for). The backbone is left as it was found: timing
    runs in eval mode (no BatchNorm statistics move), gradients are dropped and trainable flags restored.

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

    n = max(1, min(SAMPLE_MAX, len(items)))
    chosen = sorted(set(np.linspace(0, len(items) - 1, n).astype(int).tolist()))  # spread over the classes
    sample, sample_targets = [items[i] for i in chosen], [targets[i] for i in chosen]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def load(train: bool) -> tuple[Any, float]:
        dataset = domain.dataset(backbone, sample, sample_targets, preset, train=train)
        started = timer()
        batch = next(iter(DataLoader(dataset, batch_size=len(sample), collate_fn=domain.collate)))
        return batch, (timer() - started) / len(sample)

    (inputs, labels), load_train = load(True)
    _, load_eval = load(False)
    inputs, labels = _to_device(inputs, device), labels.to(device)
    was_training = backbone.training
    flags = [p.requires_grad for p in backbone.parameters()]
    original_device = next(iter(backbone.parameters())).device
    backbone.to(device).eval()
    try:
        def timed(fn: Callable[[Any, Any], Any]) -> float:
            fn(_first(inputs, 2), labels[:2])  # warm-up: kernels, lazy initialisation
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = timer()
            for _ in range(repeats):
                fn(inputs, labels)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return (timer() - started) / repeats / len(sample)

        def forward(x: Any, y: Any) -> None:
            with torch.inference_mode():
                backbone(x)

        forward_s = timed(forward)
        backward_s = None
        if backward:
            head = nn.Linear(backbone.feature_dim, int(labels.max()) + 2).to(device)
            for param in backbone.parameters():
                param.requires_grad = True

            def forward_backward(x: Any, y: Any) -> None:
                loss = nn.functional.cross_entropy(head(backbone(x)), y)
                loss.backward()
                backbone.zero_grad(set_to_none=True)

            backward_s = timed(forward_backward)
    finally:
        for param, flag in zip(backbone.parameters(), flags):
            param.requires_grad = flag
            param.grad = None
        backbone.to(original_device).train(was_training)
    return StepTimes(load_train, load_eval, forward_s, backward_s, len(sample), device.type)


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

    Scoring the validation and test data after training and saving the artifact are included.

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
    # scikit-learn's logistic regression over the grid of C (11 values; cross-validated on small val sets):
    # 43 s for 546 x 1280 features on the shared 2-core CPU this was measured on, so about 5e-6 s per value.
    probe_fit = 11 * (n_train + n_val) * feature_dim * 5e-6 * (10 if n_val < 50 else 1)
    head_epochs = epochs * (n_train + n_val) * feature_dim * 1e-8
    frozen_epoch = n_train * (times.load_train + times.forward) + validate
    full_step = times.forward_backward if times.forward_backward is not None else 3 * times.forward
    full_epoch = n_train * (times.load_train + full_step) + validate
    after = validate + test + SAVE_S  # the chosen epoch scores val and test; the artifact is written
    unfreeze = min(int(train.get("unfreeze_epoch", 2)), epochs)
    first_milestone = min([int(m) for m in train.get("milestones", [])] or [epochs])
    costs = {
        "linear-probe": features + probe_fit + test + SAVE_S,
        "freeze": (epochs * frozen_epoch + TRAINER_OVERHEAD_S + after) if random_augmentation
        else (features + head_epochs + TRAINER_OVERHEAD_S + test + SAVE_S),
        "freeze-unfreeze": unfreeze * frozen_epoch + (epochs - unfreeze) * full_epoch + TRAINER_OVERHEAD_S + after,
        "full": epochs * full_epoch + TRAINER_OVERHEAD_S + after,
        # upper bounds: gradual trains only the top groups after its first milestone; LoRA still
        # back-propagates through the whole network.
        "gradual": min(first_milestone, epochs) * frozen_epoch + max(0, epochs - first_milestone) * full_epoch
        + TRAINER_OVERHEAD_S + after,
        "lora": epochs * full_epoch + TRAINER_OVERHEAD_S + after,
    }
    return {name: float(costs[name]) for name in strategies if name in costs}


@dataclass
class BudgetPlan:
    """What :func:`plan_budget` decided: the strategy, why, the plan's ``estimate`` record, the preset (with
    the resolution it chose) and the seconds reserved after training for scoring and saving."""

    strategy: str
    reason: str
    estimate: dict[str, Any]
    preset: "Preset"
    notes: list[str] = field(default_factory=list)
    reserve: float = 0.0


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
    timer: Callable[[], float] = time.perf_counter,
) -> BudgetPlan | None:
    """Time the backbone on the training data, estimate every candidate plan and choose one that fits.

    ``strategy`` is the user's or the preset's: only ``auto`` is ever resolved here; a plan the user
    chose stays as it is, and its estimate says when it exceeds the budget. ``spent``: seconds of the budget
    used before (loading the model, reading the data); the timing counts too. ``adapt=False`` (several
    training processes, each timing on its own) leaves ``auto`` to the data-size rule, so that every process
    takes the same plan; the estimate is still made. None for a backbone with no
    weights (a TF-IDF vectorizer): there is no network step to time, and the domain fits the model itself.

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
    train = {**preset.train.model_dump(), **train_overrides}
    notes: list[str] = []
    resolution = resolution_choice(domain, backbone, preset, splits.train.items)
    if resolution is not None:
        key, side, native, default = resolution
        preset = preset.model_copy(update={"preprocess": {**preset.preprocess, key: side}})
        notes.append(f"input resolution {side} px for {native} px images (the backbone's {default} px would "
                     "upsample them with no detail to gain, at several times the compute)")
    counts = splits.train.counts()
    min_per_class = min(counts.values())
    preferred, _ = choose_strategy(requested, min_per_class)
    # Back-propagation is timed only when a plan that needs it can be chosen.
    backward = preferred in ("full", "freeze-unfreeze", "gradual", "lora")
    index = {label: i for i, label in enumerate(labels)}
    timing_started = timer()
    times = measure_steps(backbone, domain, preset, splits.train.items,
                          [index[label] for label in splits.train.labels], backward=backward, timer=timer)
    shown = CANDIDATES if requested == "auto" else tuple(dict.fromkeys((requested, *CANDIDATES)))
    costs = estimate_plans(times, n_train=len(splits.train), n_val=len(splits.val),
                           n_test=len(splits.test) if splits.test is not None else 0, train=train,
                           random_augmentation=domain.has_random_augmentation(preset),
                           feature_dim=backbone.feature_dim, strategies=shown)
    if not backward:  # not measured: a plan that back-propagates is not a candidate, so it is not shown
        costs = {k: v for k, v in costs.items() if k in ("linear-probe", "freeze") or k == requested}
    spent += timer() - timing_started
    left = max(0.0, budget - spent)  # what the plan itself may take
    chosen, reason = choose_strategy(requested, min_per_class, costs=costs if adapt else None, budget=left)
    if not adapt and requested == "auto":
        notes.append("several training processes: auto follows the data-size rule alone, so that every process "
                     "takes the same plan")
    size = f" at {resolution[1]} px" if resolution else ""
    how = (f"timed {times.examples} examples of the training data{size} on {times.device}: "
           f"{times.forward * 1e3:.1f} ms an example forward"
           + (f", {times.forward_backward * 1e3:.1f} ms forward+backward" if times.forward_backward else "")
           + f", {(times.load_train) * 1e3:.1f} ms preprocessing; {len(splits.train)} train, {len(splits.val)} "
           f"val examples, {train['epochs']} epochs at most (early stopping may end sooner); "
           f"budget {format_seconds(budget)}, of which {format_seconds(spent)} went to loading the model, "
           f"reading the data and this timing")
    alternatives = []
    for name, seconds in costs.items():
        if name == chosen:
            continue
        if requested != "auto":
            why = "the strategy was chosen by the user or the preset"
        elif seconds > left:
            why = f"over the {format_seconds(left)} left of the budget"
        elif CANDIDATES.index(name) < CANDIDATES.index(preferred):
            why = f"{min_per_class} examples in the rarest class: the data-size rule prefers {preferred}"
        else:
            why = f"{chosen} fits the budget and is preferred"
        alternatives.append({"plan": name, "seconds": round(seconds, 1), "why_dropped": why})
    if costs[chosen] > left:
        then = ("it has no epochs to stop between, so the run will take longer" if chosen == "linear-probe" else
                "training stops at the budget with the best epoch kept")
        notes.append(f"the {chosen} plan needs about {format_seconds(costs[chosen])}, more than the "
                     f"{format_seconds(left)} left of the budget: {then}")
    eval_each = times.load_eval + times.forward
    n_test = len(splits.test) if splits.test is not None else 0
    reserve = (len(splits.val) + n_test) * eval_each + SAVE_S
    estimate = {"seconds": round(costs[chosen], 1), "how": how, "alternatives": alternatives,
                "budget_seconds": budget, "spent_seconds": round(spent, 1)}
    return BudgetPlan(chosen, reason, estimate, preset, notes, reserve)


# =========================================================================== stopping at the budget
_DEADLINE: contextvars.ContextVar["float | None"] = contextvars.ContextVar("transferkit_deadline", default=None)


@contextlib.contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Training loops started inside stop at ``at`` (a :data:`clock` time); None: no deadline.

    Example:
        >>> with deadline(clock() + 600):
        ...     current_deadline() is not None
        True
    """
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def current_deadline() -> float | None:
    """The deadline set by the innermost :func:`deadline` block, if any."""
    return _DEADLINE.get()


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
