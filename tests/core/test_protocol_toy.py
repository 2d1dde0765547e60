"""The whole protocol on the toy domain: select, configure, train, evaluate, save, load."""
from __future__ import annotations

import json

import numpy as np
import pytest
import toy_plugin

import transferkit as tk


def test_linear_probe_learns_blobs_and_round_trips(toy_registry, tmp_path):
    train = toy_plugin.make_blobs(20, seed=1)
    run = tk.fit("toy", train, strategy="linear-probe", out=tmp_path / "m")
    assert run.model.plan.strategy == "linear-probe"
    assert run.metrics["val"]["accuracy"] >= 0.9
    loaded = tk.load(tmp_path / "m")
    items = toy_plugin.make_blobs(5, seed=1).items
    assert [p["label"] for p in loaded.predict(items)] == [p["label"] for p in run.model.predict(items)]
    np.testing.assert_allclose(loaded.predict_proba(items), run.model.predict_proba(items), atol=1e-5)
    meta = json.loads((tmp_path / "m" / "transferkit.json").read_text())
    assert meta["plan"]["strategy"] == "linear-probe" and meta["labels"] == ["a", "b"]
    for name in ("model.safetensors", "README.md", "metrics.json", "curves.png", "confusion.png"):
        assert (tmp_path / "m" / name).is_file(), name


@pytest.mark.parametrize("strategy", ["full", "freeze-unfreeze", "gradual", "freeze"])
def test_lightning_strategies_train_and_save(toy_registry, tmp_path, strategy):
    data = toy_plugin.make_blobs(30, classes=("a", "b", "c"), seed=2)
    run = tk.fit("toy", data, strategy=strategy, epochs=6, lr=0.05, unfreeze_epoch=1, milestones=[1, 2],
                 out=tmp_path / "m")
    assert run.metrics["val"]["accuracy"] > 0.6, run.metrics["val"]
    assert len(run.history) >= 1
    loaded = tk.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(data.items[:7]), run.model.predict_proba(data.items[:7]), atol=1e-5)


def test_freeze_unfreeze_schedule_turns_gradients_on(toy_registry):
    sel = tk.select("toy")
    model = tk.configure(sel, ["a", "b"], strategy="freeze-unfreeze", unfreeze_epoch=2)
    assert all(not p.requires_grad for p in model.backbone.parameters())
    assert [g.unfreeze_epoch for g in model.plan.groups] == [2, 2, 2]
    gradual = tk.configure(tk.select("toy"), ["a", "b"], strategy="gradual", milestones=[1, 3])
    assert [g.unfreeze_epoch for g in gradual.plan.groups] == [None, 3, 1]


def test_layer_wise_lr_decay_in_plan(toy_registry):
    model = tk.configure(tk.select("toy"), ["a", "b"], strategy="full", backbone_lr=1e-3, layer_decay=0.5)
    assert [round(g.lr, 6) for g in model.plan.groups] == [0.00025, 0.0005, 0.001]
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_frozen_batchnorm_stays_in_inference_mode(toy_registry):
    model = tk.configure(tk.select("toy"), ["a", "b"], strategy="full")
    model.train()
    bns = [m for m in model.backbone.modules() if type(m).__name__ == "BatchNorm1d"]
    assert bns and all(not bn.training for bn in bns)
    assert model.head.training


@pytest.mark.parametrize("strategy", ["full", "freeze-unfreeze"])
def test_training_keeps_frozen_batchnorm_statistics(toy_registry, strategy):
    """Lightning (2.2 and later) never calls train() when fitting starts: the BatchNorm layers stayed in
    the mode they were built in, so every step used batch statistics and overwrote the pretrained running
    statistics the plan says are kept. A run must leave them as they were; a backbone trained from scratch
    (train_bn) must update them."""
    import torch

    def running_stats(model):
        return [m.running_mean.clone() for m in model.backbone.modules() if type(m).__name__ == "BatchNorm1d"]

    data = toy_plugin.make_blobs(30, seed=3)
    model = tk.configure(tk.select("toy"), ["a", "b"], strategy=strategy, epochs=3, lr=0.05, unfreeze_epoch=1)
    before = running_stats(model)
    tk.train(model, data)
    assert before and all(torch.equal(a, b) for a, b in zip(before, running_stats(model)))

    selection = tk.select("toy")
    selection.backbone.from_scratch = True
    scratch = tk.configure(selection, ["a", "b"], strategy=strategy, epochs=3, lr=0.05, unfreeze_epoch=1)
    before = running_stats(scratch)
    tk.train(scratch, data)
    assert not all(torch.equal(a, b) for a, b in zip(before, running_stats(scratch)))


def test_auto_strategy_depends_on_labels_per_class(toy_registry):
    few = tk.fit("toy", toy_plugin.make_blobs(10), dry_run=True)
    many = tk.fit("toy", toy_plugin.make_blobs(400), dry_run=True)
    assert few.strategy == "linear-probe" and "auto" in few.reason
    assert many.strategy == "full"


def test_threshold_policy_is_chosen_on_validation(toy_registry, tmp_path):
    from transferkit.core.specs import Preset

    preset = Preset(id="toy/screening", domain="toy", description="high recall",
                    threshold={"policy": "min_sensitivity", "value": 1.0, "positive": "b"})
    # Overlapping classes, with separate validation and test sets drawn from the same blobs.
    blobs = toy_plugin.make_blobs(60, noise=2.5, seed=3)
    order = np.random.default_rng(0).permutation(len(blobs))
    train, val, test = (blobs.subset(sorted(order[i::3])) for i in range(3))
    run = tk.fit("toy", train, val=val, test=test, preset=preset, strategy="linear-probe", out=tmp_path / "m")
    assert run.model.labels[run.model.positive] == "b"
    # min_sensitivity 1.0 on validation: the threshold is exactly the lowest validation score of a "b".
    val_b = [item for item, label in zip(val.items, val.labels) if label == "b"]
    test_b = [item for item, label in zip(test.items, test.labels) if label == "b"]
    val_scores = run.model.predict_proba(val_b)[:, run.model.positive]
    test_scores = run.model.predict_proba(test_b)[:, run.model.positive]
    assert run.model.threshold == pytest.approx(float(val_scores.min()), abs=1e-6)
    assert abs(float(test_scores.min()) - run.model.threshold) > 1e-4  # not the one test data would pick
    # Test figures are computed at that validation threshold, whatever sensitivity it gives there.
    expected = float((test_scores >= run.model.threshold).mean())
    assert run.metrics["test"]["binary"]["sensitivity"] == pytest.approx(expected)
    assert run.metrics["test"]["binary"]["threshold"] == run.model.threshold
    assert tk.load(tmp_path / "m").threshold == pytest.approx(run.model.threshold)


def test_toy_backbone_weights_do_not_depend_on_the_rng_state(toy_registry):
    # A "pretrained" backbone is a fixed checkpoint: the toy one is seeded before it is built.
    import torch

    torch.manual_seed(123)
    first = tk.select("toy").backbone.state_dict()
    torch.rand(1000)  # whatever ran before must not change the weights
    second = tk.select("toy").backbone.state_dict()
    for key in first:
        torch.testing.assert_close(first[key], second[key])


def test_resume_continues_from_last_checkpoint(toy_registry, tmp_path):
    data = toy_plugin.make_blobs(30, seed=4)
    tk.fit("toy", data, strategy="full", epochs=2, out=tmp_path / "m")
    assert (tmp_path / "m" / "run" / "checkpoints" / "last.ckpt").is_file()
    run = tk.fit("toy", data, strategy="full", epochs=4, out=tmp_path / "m", resume=True)
    assert any("resumed from" in note for note in run.notes)
    # The history of the epochs done before the resume travels in the checkpoint: the report shows all four.
    assert [row["epoch"] for row in run.history] == [0, 1, 2, 3]


def test_preset_extends_and_overrides(toy_registry):
    from transferkit.core.presets import load_preset

    child = load_preset("toy/child", domain="toy", registry=toy_registry)
    assert child.train.epochs == 2 and child.train.lr == 0.01 and child.augment == {"noise": 0.1}


def test_evaluate_refuses_unknown_labels(toy_registry, tmp_path):
    from transferkit.errors import DataError

    run = tk.fit("toy", toy_plugin.make_blobs(10), strategy="linear-probe")
    other = toy_plugin.make_blobs(3, classes=("a", "z"))
    with pytest.raises(DataError, match="not among the model's labels"):
        tk.evaluate(run.model, other)


def test_balanced_class_weights_on_the_lightning_path(toy_registry, tmp_path):
    # Regression: restoring the best checkpoint choked on the loss's class-weight buffer.
    data = toy_plugin.make_blobs(30, seed=6)
    data = data.subset(list(range(30)) + list(range(30, 40)))  # imbalanced: 30 "a", 10 "b"
    run = tk.fit("toy", data, strategy="full", class_weights="balanced", epochs=3, lr=0.05, out=tmp_path / "m")
    assert run.metrics["val"]["n"] > 0 and any("restored the best epoch" in n for n in run.notes)


def test_threshold_policy_naming_an_absent_label_fails_before_training(toy_registry):
    from transferkit.core.specs import Preset
    from transferkit.errors import UsageError

    preset = Preset(id="toy/screening", domain="toy", description="d",
                    threshold={"policy": "max_fpr", "value": 0.01, "positive": "spam"})
    with pytest.raises(UsageError, match="threshold.positive"):
        tk.configure(tk.select("toy", preset=preset), ["a", "b"])


def test_threshold_policy_on_many_classes_falls_back_to_argmax_with_a_note(toy_registry):
    from transferkit.core.specs import Preset

    preset = Preset(id="toy/screening", domain="toy", description="d",
                    threshold={"policy": "min_sensitivity", "value": 0.9})
    model = tk.configure(tk.select("toy", preset=preset), ["a", "b", "c"])
    assert any("most probable class" in note for note in model.plan.notes)


def test_from_scratch_backbones_train_batchnorm_statistics(toy_registry):
    selection = tk.select("toy")
    selection.backbone.from_scratch = True
    model = tk.configure(selection, ["a", "b"], strategy="full")
    assert model.plan.train["train_bn"] is True and not model.frozen_bn
    model.train()
    assert all(m.training for m in model.backbone.modules() if type(m).__name__ == "BatchNorm1d")
