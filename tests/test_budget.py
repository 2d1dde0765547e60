"""The time budget (core/budget.py): parsing, resolution, timing, the plan chosen, and the stop at the budget.

No test here depends on how fast the machine is: timings are replaced by fixed ones, and the training
loop runs on a fake clock that advances one second per training example.
"""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import toy_plugin

import transferkit as tk
from transferkit.core import budget
from transferkit.core.configure import choose_strategy
from transferkit.core.specs import Preset
from transferkit.errors import UsageError


# --------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, seconds", [("90s", 90.0), ("10m", 600.0), ("2h", 7200.0), ("1h30m", 5400.0),
                                           ("1.5m", 90.0), (45, 45.0), ("none", None), (None, None)])
def test_parse_budget(text, seconds):
    assert budget.parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["15", "ten minutes", "0m", "5m5m", "-3m", "m"])
def test_parse_budget_refuses_unreadable_values(text):
    with pytest.raises(UsageError):
        budget.parse_budget(text)


@pytest.mark.parametrize("gpu, minutes", [(False, 15), (True, 60)])
def test_default_budget_suits_the_machine(monkeypatch, gpu, minutes):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert budget.parse_budget("default") == minutes * 60


# --------------------------------------------------------------------------- resolution
class _Domain:
    def __init__(self, keys):
        self.preprocess_keys = dict.fromkeys(keys, "")


class _Backbone2D:
    spatial_dims = 2
    default_image_size = [224]


def _preset(**preprocess):
    return Preset(id="x/y", domain="x", description="-", preprocess=preprocess)


def test_small_images_are_planned_at_sizes_suited_to_them():
    items = [np.zeros((28, 28), np.uint8)] * 5
    sides = budget.input_sides(_Domain(["image_size"]), _Backbone2D(), _preset(), items)
    # A backbone that trains: from 4 cells a side at the last stage down to 2; frozen features: 224 first.
    assert (sides.key, sides.native, sides.default) == ("image_size", 28, 224)
    assert sides.trained == (128, 96, 64) and sides.frozen == (224, 128, 96, 64)
    # A preset that sets the size, or large images: nothing to plan.
    assert budget.input_sides(_Domain(["image_size"]), _Backbone2D(), _preset(image_size=224), items) is None
    assert budget.input_sides(_Domain(["image_size"]), _Backbone2D(), _preset(),
                              [np.zeros((300, 400, 3), np.uint8)]) is None
    # Not images (vectors, texts): nothing to choose.
    assert budget.input_sides(_Domain(["image_size"]), _Backbone2D(), _preset(), ["some text"]) is None
    assert budget.suited_resolution(150, 224) == 160 and budget.suited_resolution(28, 96) == 96
    # Never below the images' own size: 150 px images are not shrunk for a cheaper plan.
    assert budget.training_sides(150, 224) == (160,) and budget.training_sides(70, 224) == (128, 96)


def test_the_best_plan_gives_up_the_input_size_before_the_strategy():
    sides = budget.Sides("image_size", 28, 224, (128, 64), (224, 128, 64))
    names = [p.name for p in budget.candidate_plans("auto", "freeze-unfreeze", sides, n_groups=9)]
    assert names == ["freeze-unfreeze at 128 px", "freeze-unfreeze at 64 px",
                     "partial fine-tune (top 2 groups) at 128 px", "partial fine-tune (top 2 groups) at 64 px",
                     "freeze at 224 px", "freeze at 128 px", "freeze at 64 px",
                     "linear-probe at 224 px", "linear-probe at 128 px", "linear-probe at 64 px"]
    # Few labels: only frozen features; a backbone of two groups has no partial fine-tune to offer.
    assert [p.name for p in budget.candidate_plans("auto", "linear-probe", None, 9)] == ["linear-probe"]
    assert "gradual" not in {p.strategy for p in budget.candidate_plans("auto", "full", None, n_groups=2)}
    # The user's strategy: only its input size is planned.
    assert [p.name for p in budget.candidate_plans("full", "full", sides, 9)] == ["full at 128 px", "full at 64 px"]


def test_image_files_are_measured_from_their_headers(tmp_path):
    from PIL import Image

    for i, size in enumerate([(60, 40), (64, 48), (80, 50)]):
        Image.new("RGB", size).save(tmp_path / f"{i}.png")
    assert budget.native_side(sorted(str(p) for p in tmp_path.iterdir())) == 48


# --------------------------------------------------------------------------- choosing a plan
COSTS = {"full": 4000.0, "freeze-unfreeze": 1500.0, "freeze": 300.0, "linear-probe": 60.0}


def test_auto_keeps_the_data_size_choice_when_it_fits():
    assert choose_strategy("auto", 500, costs=COSTS, budget=5000.0) == choose_strategy("auto", 500)
    assert choose_strategy("auto", 100, costs=COSTS, budget=2000.0)[0] == "freeze-unfreeze"


def test_auto_falls_back_to_the_next_cheaper_plan_that_fits():
    strategy, reason = choose_strategy("auto", 500, costs=COSTS, budget=900.0)
    assert strategy == "freeze" and "full" in reason and "15.0 min budget" in reason
    assert choose_strategy("auto", 100, costs=COSTS, budget=100.0)[0] == "linear-probe"
    # Nothing fits: the cheapest, said so.
    strategy, reason = choose_strategy("auto", 500, costs=COSTS, budget=10.0)
    assert strategy == "linear-probe" and "no plan fits" in reason


def test_a_chosen_strategy_is_never_changed():
    assert choose_strategy("full", 500, costs=COSTS, budget=10.0) == ("full", "chosen by the user or the preset")


def test_estimates_grow_with_what_each_plan_computes():
    times = budget.StepTimes(load_train=0.0, load_eval=0.0, forward=0.01, forward_backward=0.05, examples=16,
                             device="cpu")
    kw = dict(n_train=1000, n_val=200, n_test=0, feature_dim=64, train={"epochs": 10, "unfreeze_epoch": 2})
    aug = budget.estimate_plans(times, random_augmentation=True, **kw)
    plain = budget.estimate_plans(times, random_augmentation=False, **kw)
    assert aug["linear-probe"] < aug["freeze"] < aug["freeze-unfreeze"] < aug["full"]
    # Without random augmentation a frozen backbone runs once (the feature cache), not once an epoch.
    assert plain["freeze"] < aug["freeze"] / 5
    # Full fine-tuning: 10 epochs of forward+backward over train and a forward pass over val.
    assert aug["full"] == pytest.approx(10 * (1000 * 0.05 + 200 * 0.01) + 200 * 0.01 + 10, abs=0.01)


# --------------------------------------------------------------------------- timing
def test_measure_steps_times_the_backbone_and_leaves_it_as_it_was(toy_registry):
    import torch

    selection = tk.select("toy")
    backbone = selection.backbone
    data = toy_plugin.make_blobs(12, seed=0)
    backbone.train()
    flags = [False, True] * (len(list(backbone.parameters())) // 2)
    for param, flag in zip(backbone.parameters(), flags):
        param.requires_grad = flag
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    ticks = iter(range(1000))  # a clock that moves one second per reading
    times = budget.measure_steps(backbone, selection.domain, selection.preset, data.items,
                                 [0 if label == "a" else 1 for label in data.labels], timer=lambda: next(ticks))
    assert times.examples == 16
    # One batch of the training batch size (the toy preset's 16), run untimed first: 1 s for 16 examples.
    assert times.forward == pytest.approx(1 / 16) and times.forward_backward == pytest.approx(1 / 16)
    assert backbone.training and [p.requires_grad for p in backbone.parameters()] == flags
    assert all(p.grad is None for p in backbone.parameters())
    for key, value in backbone.state_dict().items():  # BatchNorm statistics and weights untouched
        assert torch.equal(value, state[key]), key
    # A partial fine-tune is timed with only the top groups trainable; the flags are restored after it too.
    top = budget.measure_steps(backbone, selection.domain, selection.preset, data.items, [0, 1] * 12,
                               backward=False, top_groups=2, timer=lambda: next(ticks))
    # The batch is the size training uses (a smaller one times a less efficient step).
    assert budget.measure_steps(backbone, selection.domain, selection.preset, data.items, [0, 1] * 12,
                                backward=False, batch_size=8, timer=lambda: next(ticks)).forward == pytest.approx(1 / 8)
    assert top.forward_backward is None and top.forward_backward_top == pytest.approx(1 / 16)
    assert top.top_groups == 2 and [p.requires_grad for p in backbone.parameters()] == flags



def test_measure_steps_keeps_the_fastest_timed_step(toy_registry):
    # A load spike on a shared machine makes one step dear: the fastest of the timed steps counts, so one
    # spike does not price a plan at several times its cost.
    selection = tk.select("toy")
    data = toy_plugin.make_blobs(12, seed=0)
    # Readings: 2 for each of the two loads, then start/end of each timed step (forward 9 s then 1 s,
    # forward+backward 2 s then 8 s).
    steps = [0, 0, 0, 0, 0, 9, 9, 1, 1, 2, 2, 8]
    clock = itertools.accumulate(steps)
    times = budget.measure_steps(selection.backbone, selection.domain, selection.preset, data.items,
                                 [0 if label == "a" else 1 for label in data.labels], timer=lambda: next(clock))
    assert times.forward == pytest.approx(1 / 16) and times.forward_backward == pytest.approx(2 / 16)

def _fixed_times(monkeypatch):
    times = budget.StepTimes(load_train=0.0, load_eval=0.0, forward=0.01, forward_backward=0.05, examples=16,
                             device="cpu")
    monkeypatch.setattr(budget, "measure_steps", lambda *args, **kwargs: times)
    # The budget's clock stands still: loading the model and reading the data cost nothing, however busy
    # the machine running the tests is.
    monkeypatch.setattr(budget, "clock", lambda: 0.0)


def test_auto_picks_the_best_plan_that_fits_and_the_plan_says_why(toy_registry, monkeypatch):
    _fixed_times(monkeypatch)
    data = toy_plugin.make_blobs(400, seed=0)  # 320 a class after validation: the data-size rule says full
    plan = tk.fit("toy", data, time_budget="30s", dry_run=True)
    assert plan.strategy == "freeze", plan.reason
    assert "suggests full" in plan.reason
    assert plan.estimate["seconds"] <= 30
    dropped = {alt["plan"]: alt for alt in plan.estimate["alternatives"]}
    assert set(dropped) == {"full", "freeze-unfreeze", "partial fine-tune (top 2 groups)", "linear-probe"}
    assert "left of the budget" in dropped["full"]["why_dropped"] and dropped["full"]["seconds"] > 30
    assert 0 <= plan.estimate["spent_seconds"] < 30  # reading the data and loading the model count too
    # Without a budget the data-size rule alone decides, and no estimate is made.
    unbudgeted = tk.fit("toy", data, time_budget="none", dry_run=True)
    assert unbudgeted.strategy == "full" and unbudgeted.estimate is None


def test_a_user_strategy_over_the_budget_is_kept_and_flagged(toy_registry, monkeypatch):
    _fixed_times(monkeypatch)
    plan = tk.fit("toy", toy_plugin.make_blobs(400, seed=0), strategy="full", time_budget="30s", dry_run=True)
    assert plan.strategy == "full" and plan.estimate["seconds"] > 30
    assert any("left of the budget: training stops at the budget" in note for note in plan.notes)


# --------------------------------------------------------------------------- stopping at the budget
class _FakeClock:
    """Time that passes only while the network trains: one second per training example."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _ticking_backbone(monkeypatch, clock):
    original = toy_plugin.ToyDomain.load_backbone

    def load_backbone(self, source, preset):
        backbone = original(self, source, preset)

        def tick(module, args):
            if module.training:
                clock.t += len(args[0])

        backbone.register_forward_pre_hook(tick)
        return backbone

    monkeypatch.setattr(toy_plugin.ToyDomain, "load_backbone", load_backbone)


@pytest.mark.parametrize("seconds, epochs_done, partial", [(110, 2, False), (30, 0, True)])
def test_training_stops_at_the_budget_and_keeps_the_best_epoch(toy_registry, monkeypatch, tmp_path, seconds,
                                                                epochs_done, partial):
    clock = _FakeClock()
    monkeypatch.setattr(budget, "clock", clock)
    _ticking_backbone(monkeypatch, clock)
    data = toy_plugin.make_blobs(30, seed=3)  # 48 training examples: 3 steps of 16, 48 s an epoch
    run = tk.fit("toy", data, strategy="full", epochs=10, time_budget=f"{seconds}s", out=tmp_path / "m")
    # 110 s (about 105 s for training, 5 s kept to score and save): after 2 epochs (96 s) a third would end
    # past it. 30 s: the first epoch stops after its second step.
    note = f"stopped at the time budget after {epochs_done} epochs"
    assert any(n.startswith(note) for n in run.notes), run.notes
    assert any("part of epoch 1" in n for n in run.notes) == partial
    assert len(run.history) == max(epochs_done, 1)  # every epoch run was validated, the partial one too
    assert any(n.startswith("restored the best epoch") for n in run.notes)
    meta = json.loads((tmp_path / "m" / "transferkit.json").read_text())
    assert any(n.startswith(note) for n in meta["notes"]) and meta["plan"]["estimate"]["budget_seconds"] == seconds
    loaded = tk.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(data.items[:5]), run.model.predict_proba(data.items[:5]),
                               atol=1e-5)


def test_without_a_budget_training_runs_every_epoch(toy_registry, monkeypatch):
    clock = _FakeClock()
    monkeypatch.setattr(budget, "clock", clock)
    _ticking_backbone(monkeypatch, clock)
    run = tk.fit("toy", toy_plugin.make_blobs(30, seed=3), strategy="full", epochs=4, time_budget="none")
    assert len(run.history) == 4 and not any("time budget" in n for n in run.notes)


# --------------------------------------------------------------------------- planning sizes and strategies
class _ImageDomain:
    preprocess_keys = {"image_size": ""}

    def has_random_augmentation(self, preset):
        return True

    def auto_strategy(self, backbone, min_per_class):
        return None  # the core's data-size rule


def _image_selection():
    import torch
    from torch import nn

    class Backbone(nn.Module):
        spatial_dims, default_image_size, feature_dim = 2, [224], 32

        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(5))

        def layer_groups(self):
            return list(self.blocks)

    from types import SimpleNamespace

    preset = Preset(id="x/y", domain="x", description="-", train={"epochs": 10, "unfreeze_epoch": 2})
    from transferkit.core.data import Examples

    data = Examples(items=[np.zeros((28, 28), np.uint8)] * 600, labels=["a", "b"] * 300, source="-")
    splits = SimpleNamespace(train=data, val=Examples(items=data.items[:80], labels=data.labels[:80], source="-"),
                             test=None)
    torch.manual_seed(0)
    return SimpleNamespace(domain=_ImageDomain(), backbone=Backbone(), preset=preset), splits


def _timed_by_pixels(monkeypatch, fb_ms_at_128=10.0):
    """Per-example times that grow with the input's pixels; each timing recorded (side, what was timed)."""
    calls = []

    def measure(backbone, domain, preset, items, targets, *, backward=True, top_groups=0, forward=True,
                batch_size=16, timer=None):
        side = preset.preprocess["image_size"]
        scale = (side / 128) ** 2
        calls.append((side, backward, top_groups))
        return budget.StepTimes(0.0, 0.0, fb_ms_at_128 / 3e3 * scale, fb_ms_at_128 / 1e3 * scale if backward else None,
                                16, "cpu", fb_ms_at_128 / 2e3 * scale if top_groups else None, top_groups)

    monkeypatch.setattr(budget, "measure_steps", measure)
    return calls


def test_auto_gives_up_input_size_first_and_times_only_what_it_needs(monkeypatch):
    selection, splits = _image_selection()
    calls = _timed_by_pixels(monkeypatch)
    # freeze-unfreeze at 128 px: 2 frozen epochs + 8 trained ones over 600 images, scoring and saving,
    # about 65 s; at 96 px about 41 s, at 64 px 24 s. A 45 s budget: 128 px does not fit, 96 px does.
    plan = budget.plan_budget(selection, splits, ["a", "b"], None, 45.0, {}, timer=lambda: 0.0)
    assert (plan.strategy, plan.choice["side"], plan.preset.preprocess["image_size"]) == ("freeze-unfreeze", 96, 96)
    # The smallest side first (a forward pass for a lower bound, then forward+backward), then from the
    # largest down.
    assert calls == [(64, False, 0), (64, True, 0), (128, True, 0), (96, True, 0)]
    assert "freeze-unfreeze at 128 px" in {a["plan"] for a in plan.estimate["alternatives"]}
    assert any("input 96 px for 28 px images" in note for note in plan.notes)


def test_auto_falls_back_to_a_partial_fine_tune_then_to_frozen_features_at_the_backbone_size(monkeypatch):
    selection, splits = _image_selection()
    calls = _timed_by_pixels(monkeypatch)
    # 20 s: freeze-unfreeze is over even at 64 px (24 s), so its larger sides are never timed; the partial
    # fine-tune at 64 px (about 18 s) fits, with the top groups unfrozen once, at the unfreeze epoch.
    plan = budget.plan_budget(selection, splits, ["a", "b"], None, 20.0, {}, timer=lambda: 0.0)
    assert (plan.strategy, plan.choice["side"], plan.choice["top_groups"]) == ("gradual", 64, 2)
    assert plan.preset.train.milestones == [2] and plan.preset.train.groups_per_milestone == 2
    # Each thing timed once: what a side already has is not timed again.
    assert calls == [(64, False, 0), (64, True, 0), (64, False, 2), (128, False, 2), (96, False, 2)]
    dropped = {a["plan"]: a["why_dropped"] for a in plan.estimate["alternatives"]}
    assert "not timed, at 128 and 96 px" in dropped["freeze-unfreeze at 64 px"]
    assert "suggests freeze-unfreeze at 128 px" in plan.reason and "best plan that fits" in plan.reason
    # Counted from 1 like the plan's Model lines ("unfreezes at epoch 3") and the progress lines: the
    # preset's unfreeze_epoch 2 counts from 0.
    assert any("top 2 layer groups from epoch 3;" in note for note in plan.notes)
    # 14 s: nothing trains in time (a frozen backbone with augmentation, 16 s at 64 px, neither); frozen
    # features at the backbone's own 224 px (about 13 s) are preferred to those at 64 px (7 s), which fit too.
    del calls[:]
    plan = budget.plan_budget(selection, splits, ["a", "b"], None, 14.0, {}, timer=lambda: 0.0)
    assert (plan.strategy, plan.choice["side"]) == ("linear-probe", 224)
    # Training plans ruled out by a lower bound from the forward pass alone: no backward pass was timed.
    assert calls == [(64, False, 0), (224, False, 0)]
    dropped = {a["plan"]: a["why_dropped"] for a in plan.estimate["alternatives"]}
    assert "even as a lower bound" in dropped["freeze-unfreeze at 64 px"]
    assert "needs at least" in plan.reason
    assert any("the backbone's own 224 px input" in note for note in plan.notes)


def test_resume_keeps_the_plan_the_first_run_recorded(toy_registry, monkeypatch, tmp_path):
    slow = budget.StepTimes(0.0, 0.0, 0.01, 0.05, 16, "cpu")
    monkeypatch.setattr(budget, "measure_steps", lambda *args, **kwargs: slow)
    monkeypatch.setattr(budget, "clock", lambda: 0.0)  # however busy the machine, the same plan
    data = toy_plugin.make_blobs(400, seed=0)
    first = tk.fit("toy", data, time_budget="30s", out=tmp_path / "m")
    assert first.model.plan.strategy == "freeze"
    record = json.loads((tmp_path / "m" / "run" / budget.CHOICE_FILE).read_text())
    assert record["strategy"] == "freeze" and record["requested"] == "auto"
    # The machine is now fast: a fresh plan would fine-tune everything, but a resumed run continues the first.
    fast = budget.StepTimes(0.0, 0.0, 1e-5, 5e-5, 16, "cpu")
    monkeypatch.setattr(budget, "measure_steps", lambda *args, **kwargs: fast)
    assert tk.fit("toy", data, time_budget="30s", dry_run=True).strategy == "full"
    resumed = tk.fit("toy", data, time_budget="30s", out=tmp_path / "m", resume=True, dry_run=True)
    assert resumed.strategy == "freeze" and "--resume keeps it" in resumed.reason
    # Without a budget too (auto alone would say full), and not for another requested strategy.
    assert tk.fit("toy", data, time_budget="none", out=tmp_path / "m", resume=True, dry_run=True).strategy == "freeze"
    assert budget.recorded_choice(tmp_path / "m", "full") is None


# --------------------------------------------------------------------------- a domain's few-label strategy
class _FewLabelTextDomain(_ImageDomain):
    preprocess_keys: dict = {}  # texts: no input size to plan

    def has_random_augmentation(self, preset):
        return False

    def auto_strategy(self, backbone, min_per_class):
        return ("contrastive", f"auto: {min_per_class} labelled texts a class, a sentence encoder") \
            if min_per_class <= 64 else None


def _text_selection():
    from types import SimpleNamespace

    from torch import nn

    from transferkit.core.data import Examples

    class Encoder(nn.Module):
        feature_dim = 8

        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))

        def layer_groups(self):
            return list(self.blocks)

    train = Examples(items=[f"text {i}" for i in range(32)], labels=["a", "b"] * 16, source="-")
    val = Examples(items=train.items[:8], labels=train.labels[:8], source="-")
    preset = Preset(id="x/t", domain="x", description="-", train={"pair_iterations": 20})
    return SimpleNamespace(domain=_FewLabelTextDomain(), backbone=Encoder(), preset=preset), \
        SimpleNamespace(train=train, val=val, test=None)


def test_a_domains_contrastive_choice_is_estimated_and_gives_way_to_the_probe_when_it_does_not_fit(monkeypatch):
    _fixed_times(monkeypatch)  # 0.05 s an example forward and backward
    selection, splits = _text_selection()
    roomy = budget.plan_budget(selection, splits, ["a", "b"], None, 3600.0, {}, timer=lambda: 0.0)
    # 20 rounds of 2 pairs for each of the 32 training texts, two texts forward and backward a pair.
    assert roomy.strategy == "contrastive" and roomy.estimate["seconds"] >= 2 * 20 * 32 * 2 * 0.05
    assert roomy.reason.startswith("auto: 16 labelled texts a class") and "sentence pairs" in roomy.estimate["how"]
    tight = budget.plan_budget(selection, splits, ["a", "b"], None, 60.0, {}, timer=lambda: 0.0)
    assert tight.strategy == "linear-probe" and "suggests contrastive, but" in tight.reason, tight.reason
    dropped = {alt["plan"]: alt for alt in tight.estimate["alternatives"]}
    assert dropped["contrastive"]["seconds"] > 60 and "left of the budget" in dropped["contrastive"]["why_dropped"]
    # A strategy the user chose is kept, with its estimate.
    chosen = budget.plan_budget(selection, splits, ["a", "b"], "contrastive", 60.0, {}, timer=lambda: 0.0)
    assert chosen.strategy == "contrastive" and chosen.estimate["seconds"] > 60


# --------------------------------------------------------------------------- the timing's own share of the budget
def _slow_timings(monkeypatch, clock, seconds_at_128, fb_ms_at_128=10.0):
    """Per-example times as _timed_by_pixels gives them, and a timing that moves ``clock`` by
    ``seconds_at_128`` a forward+backward pass at 128 px: a third of that for the forward pass, half for the
    top groups', scaled by the pixels (a slow or busy machine). Each timing recorded (side, backward, top)."""
    calls = []

    def measure(backbone, domain, preset, items, targets, *, backward=True, top_groups=0, forward=True,
                batch_size=16, timer=None):
        side = preset.preprocess.get("image_size")
        scale = (side / 128) ** 2 if side else 1.0
        calls.append((side, backward, top_groups))
        clock.t += seconds_at_128 * scale * (forward / 3 + backward + (top_groups > 0) / 2)
        return budget.StepTimes(0.0, 0.0, fb_ms_at_128 / 3e3 * scale, fb_ms_at_128 / 1e3 * scale if backward else None,
                                16, "cpu", fb_ms_at_128 / 2e3 * scale if top_groups else None, top_groups)

    monkeypatch.setattr(budget, "measure_steps", measure)
    return calls


def test_timing_stops_at_its_share_of_the_budget_and_drops_what_it_did_not_time(monkeypatch):
    selection, splits = _image_selection()
    timer = _FakeClock()  # the timer plan_budget reads: it moves only while a (fake) timing runs
    # 24 s to time forward+backward at 128 px (8 s the forward pass alone). A 2 min budget keeps a quarter,
    # 30 s, for timing: after the linear probe and freeze-unfreeze at 64 px (8 s), timing 128 px would take
    # 32 s more, over the 30 s; 96 px (18 s more) still fits. Uncapped, 128 px was timed (40 s in all) and
    # chosen.
    calls = _slow_timings(monkeypatch, timer, seconds_at_128=24.0)
    plan = budget.plan_budget(selection, splits, ["a", "b"], None, 120.0, {}, timer=timer)
    assert calls == [(64, False, 0), (64, True, 0), (96, True, 0)]
    assert timer.t <= 0.25 * 120 and plan.estimate["timing_seconds"] == pytest.approx(timer.t)
    assert (plan.strategy, plan.choice["side"]) == ("freeze-unfreeze", 96)
    assert plan.estimate["not_timed"] == [{"plan": "freeze-unfreeze at 128 px", "why_dropped": (
        "not timed: timing it would have taken more of the 2.0 min budget than the 30 s kept for timing")}]
    assert any(note.startswith("not timed, so not considered: freeze-unfreeze at 128 px;") for note in plan.notes)
    assert "it was not timed: timing it would have taken more of the 2.0 min budget" in plan.reason, plan.reason
    assert "best plan timed that fits" in plan.reason
    assert "freeze-unfreeze at 128 px" not in {a["plan"] for a in plan.estimate["alternatives"]}


def test_the_cheapest_plan_is_timed_whatever_the_cap_and_a_spent_budget_is_said_plainly(monkeypatch):
    selection, splits = _image_selection()
    timer = _FakeClock()  # the timer plan_budget reads: it moves only while a (fake) timing runs
    # Timing is so slow that the forward pass at 64 px alone (about 167 s) takes the whole 2 min budget: the
    # linear probe at 64 px is still timed and chosen, and nothing more is timed.
    calls = _slow_timings(monkeypatch, timer, seconds_at_128=2000.0)
    plan = budget.plan_budget(selection, splits, ["a", "b"], None, 120.0, {}, spent=10.0, timer=timer)
    assert calls == [(64, False, 0)]
    assert (plan.strategy, plan.choice["side"]) == ("linear-probe", 64)
    assert plan.estimate["spent_before_training"] is True
    assert "the 2.0 min budget was spent before training, so the cheapest plan, linear-probe at 64 px" in plan.reason
    # Where the time went, and by how much the run will exceed its budget: 10 s loading, 167 s timing, and
    # the probe's own 7 s or so.
    spent = 10.0 + 2000.0 / 4 / 3
    over = spent - 120.0 + plan.estimate["seconds"]
    assert plan.notes[0] == (
        f"the 2.0 min time budget is already spent: loading the model, reading the data and timing took "
        f"{budget.format_seconds(spent)} (timing {budget.format_seconds(spent - 10)}); the cheapest plan, "
        f"linear-probe at 64 px, runs anyway (about {budget.format_seconds(plan.estimate['seconds'])} in full), "
        f"so the run will exceed its budget by about {budget.format_seconds(over)}"), plan.notes[0]


def test_a_chosen_strategy_is_timed_forward_and_its_backward_pass_estimated_when_over_the_cap(monkeypatch):
    # The user's (or the preset's) strategy is the only plan: its forward pass is always timed, but timing
    # back-propagation (3 times the forward pass here) would take the timing past its 30 s: it is estimated.
    selection, splits = _text_selection()
    timer = _FakeClock()  # the timer plan_budget reads: it moves only while a (fake) timing runs
    calls = _slow_timings(monkeypatch, timer, seconds_at_128=60.0)  # forward 20 s, forward+backward 60 s
    plan = budget.plan_budget(selection, splits, ["a", "b"], "full", 120.0, {}, timer=timer)
    assert calls == [(None, False, 0)] and timer.t == pytest.approx(20.0)
    assert plan.strategy == "full"
    assert any(note.startswith("forward+backward not timed (timing it would have taken more of the 2.0 min budget "
                               "than the 30 s kept for timing): estimated as 3 forward passes") for note in plan.notes)
    assert "forward+backward not timed (counted as 3 forward passes)" in plan.estimate["how"]
    # The estimate is the same as with a forward+backward pass measured at 3 forward passes.
    forward = 10.0 / 3e3
    times = budget.StepTimes(0.0, 0.0, forward, 3 * forward, 16, "cpu")
    expected = budget.estimate_plans(times, n_train=32, n_val=8, n_test=0, feature_dim=8,
                                     train=selection.preset.train.model_dump(), random_augmentation=False,
                                     strategies=("full",))["full"]
    assert plan.estimate["seconds"] == pytest.approx(expected, abs=0.1)


def test_timing_cap_and_timing_work():
    assert budget.timing_cap(120.0, 0.0) == 30.0 and budget.timing_cap(120.0, 110.0) == 10.0
    assert budget.timing_cap(120.0, 300.0) == 0.0
    times = budget.StepTimes(0.0, 0.0, 0.01, None, 10, "cpu")
    # Forward alone: warm-up + 2 timed passes of 10 examples; back-propagation unmeasured: 3 forward passes.
    assert budget.timing_work(times) == pytest.approx(0.3)
    assert budget.timing_work(times, forward=False, backward=True) == pytest.approx(0.9)


def test_a_run_past_its_budget_says_by_how_much():
    with budget.deadline(None, budget=(100.0, 120.0)):
        assert budget.overrun_note(now=200.0) is None
        assert budget.overrun_note(now=438.0) == (
            "the run exceeded its 2.0 min time budget by 3.6 min (5.6 min before writing the model)")
    assert budget.overrun_note(now=438.0) is None  # outside a budgeted run


# --------------------------------------------------------------------------- the time left in progress lines
def test_progress_claims_no_time_left_once_the_budget_is_spent(toy_registry, monkeypatch):
    import io

    from transferkit.core.progress import Reporter, time_left

    assert time_left(150, None) == "about 2 min 30 s left" and time_left(150, 40.4).startswith("about 40 s left")
    assert time_left(150, 0.0) == time_left(5, -1) == "time budget spent: training stops now"
    clock = _FakeClock()
    monkeypatch.setattr(budget, "clock", clock)
    _ticking_backbone(monkeypatch, clock)
    stream = io.StringIO()
    # 30 s (about 25 s for training): the first step ends at 16 s, the second at 32 s, past the budget.
    run = tk.fit("toy", toy_plugin.make_blobs(30, seed=3), strategy="full", epochs=10, time_budget="30s",
                 progress=Reporter("plain", stream, interval=0))
    assert any("part of epoch 1" in note for note in run.notes), run.notes
    lines = [line for line in stream.getvalue().splitlines() if "epoch 1/10" in line]
    assert "batch 1/3" in lines[0] and "left" in lines[0]  # within the budget: time left, as before
    spent = [line for line in lines if "batch 2/3" in line or "done in" in line]
    assert spent and all(line.endswith("time budget spent: training stops now") for line in spent), lines
