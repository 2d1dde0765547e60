"""The plan first: `train` prints the resolved plan before any training, `--dry-run` prints the same text,
the plan shows only what applies, fits 80 columns, and a 3D preset on 2D images is refused at plan time."""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tiny_hf
import toy_plugin

import transferkit.core.train as train_module
from cli_run import run_cli  # tests/ is on the path (tests/conftest.py)
from transferkit.errors import UsageError

NO_BUDGET = ["--time-budget", "none"]  # the default budget times a few steps: measured figures differ per run


def toy_args(data, out, *extra):
    return ["train", "--domain", "toy", "--data", str(data), "--out", str(out), *NO_BUDGET, *extra]


def section(text: str, title: str) -> str:
    """The lines of one section of a rendered plan (up to the next title at column 0)."""
    lines = text.splitlines()
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])


def flat(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------------------- order and text
def test_train_prints_the_plan_before_training_and_dry_run_prints_the_same(toy_registry, tmp_path, capsys,
                                                                           monkeypatch):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15, seed=5))
    code, dry, err = run_cli(toy_args(data, tmp_path / "m", "--strategy", "linear-probe", "--dry-run"), capsys)
    assert code == 0, err
    assert dry.startswith("Transfer plan\n") and not (tmp_path / "m").exists()

    seen_before_training = []
    real_train = train_module.train

    def spy(*args, **kwargs):  # what stdout held when training started
        seen_before_training.append(capsys.readouterr().out)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(train_module, "train", spy)
    code, after, err = run_cli(toy_args(data, tmp_path / "m", "--strategy", "linear-probe"), capsys)
    assert code == 0, err
    assert seen_before_training == [dry]  # the whole plan, and nothing else, before training; the same text
    assert "Transfer plan" not in after  # not again after training: the figures, notes and the folder
    assert "validation (used for selection)" in after and "model written to" in after


def test_json_output_is_only_json(toy_registry, tmp_path, capsys):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15, seed=5))
    code, out, err = run_cli(toy_args(data, tmp_path / "d", "--dry-run", "--json"), capsys)
    assert code == 0, err
    plan = json.loads(out)  # the whole of stdout parses: no plan text before it (a real run takes the same path)
    assert plan["data"]["train"]["n"] == 24 and plan["estimate"] is None


def test_the_api_prints_nothing_unless_asked(toy_registry, capsys):
    import transferkit as tk

    plan = tk.fit("toy", toy_plugin.make_blobs(10), dry_run=True, time_budget="none")
    assert capsys.readouterr().out == ""
    shown = []
    assert tk.fit("toy", toy_plugin.make_blobs(10), dry_run=True, time_budget="none", on_plan=shown.append)
    assert [p.render() for p in shown] == [plan.render()]


# ------------------------------------------------------------------------------ only what applies
def test_a_linear_probe_shows_no_epochs_learning_rates_or_batchnorm(toy_registry):
    import transferkit as tk

    text = tk.fit("toy", toy_plugin.make_blobs(10), strategy="linear-probe", dry_run=True,
                  time_budget="none").render()
    shown = section(text, "Model") + section(text, "Training")
    assert "logistic regression" in shown and "C chosen by cross-validation" in shown  # 4 validation examples
    assert not re.search(r"\bepochs?\b|patience|\blr\b|batchnorm|per batch", shown, re.I), shown
    assert "the whole backbone: 3 layer groups" in shown


def test_gradual_shows_epochs_and_the_learning_rate_of_training_groups_only(toy_registry):
    import transferkit as tk

    plan = tk.fit("toy", toy_plugin.make_blobs(40), strategy="gradual", dry_run=True, time_budget="none",
                  epochs=4, patience=2, milestones=[1])
    text = plan.render()
    groups = {m.group(1): m.group(0) for m in re.finditer(r"^\s+\[\s*\d+\] (\S+).*$", text, re.M)}
    assert "lr" not in groups["block1"] and "frozen" in groups["block1"]
    assert "unfreezes at epoch 2" in groups["block3"] and "lr 1.0e-03" in groups["block3"]
    assert "up to 4; early stop after 2 epochs" in text and "batchnorm" in text
    assert "Linear(16 -> 2), lr 0.01" in text


def test_batchnorm_is_shown_only_for_a_backbone_with_batchnorm_layers(tmp_path):
    import transferkit as tk

    import transferkit.plugins.nlp as nlp
    from transferkit.testing import isolated_registry

    with isolated_registry(nlp=nlp):
        bert = tiny_hf.build_tiny_bert(tmp_path / "bert")
        data = tiny_hf.make_reviews(tmp_path / "reviews.csv", n=40)
        plan = tk.fit("nlp", data, model=str(bert), strategy="full", dry_run=True, time_budget="none")
    assert plan.has_batchnorm is False
    text = plan.render()
    assert "batchnorm" not in section(text, "Model").lower() and "epochs" in section(text, "Training")
    preprocessing = section(text, "Preprocessing")
    assert "tokenizer: BertTokenizer" in preprocessing and "at most 32 tokens per text" in preprocessing


def test_the_threshold_policy_and_its_positive_label_are_shown(toy_registry):
    from transferkit.core.configure import configure
    from transferkit.core.select import select
    from transferkit.core.specs import ThresholdPolicy

    selection = select("toy")
    selection.preset = selection.preset.model_copy(
        update={"threshold": ThresholdPolicy(policy="max_fpr", value=0.05, positive="a")})
    text = flat(configure(selection, ["a", "b"]).plan.render())  # wrapped at 80 columns: compare the words
    assert "a threshold on 'a' chosen on validation data: at most 0.05 of 'b' flagged as 'a'" in text
    three = configure(select("toy"), ["a", "b", "c"]).plan.render()
    assert "the most probable class (argmax)" in three


def test_the_data_section_counts_rows_per_class_and_warns(toy_registry, tmp_path):
    import transferkit as tk

    val = toy_plugin.write_blobs(tmp_path / "val.npz", toy_plugin.make_blobs(3, seed=1))
    plan = tk.fit("toy", toy_plugin.make_blobs(4, seed=0), val=str(val), dry_run=True, time_budget="none",
                  strategy="linear-probe")
    data = section(plan.render(), "Data")
    assert re.search(r"validation 6 examples, from \S*val\.npz", flat(data))
    assert re.search(r"^\s+a\s+4\s+3$", data, re.M) and re.search(r"^\s+b\s+4\s+3$", data, re.M)
    assert "tiny validation set: 6 examples" in flat(data) and "tiny classes in the training data" in flat(data)
    held = tk.fit("toy", toy_plugin.make_blobs(10), dry_run=True, time_budget="none", holdout_test=0.2)
    text = flat(section(held.render(), "Data"))
    assert "validation 4 examples, 20% of each class held out from the training data (seed 0)" in text
    assert "test 4 examples, 20% of each class held out from --data (seed 0)" in text
    assert held.as_dict()["data"]["test"]["holdout"] == {"fraction": 0.2, "seed": 0}  # no list of indices


def test_a_time_estimate_is_rendered_when_present(toy_registry):
    import transferkit as tk

    plan = tk.fit("toy", toy_plugin.make_blobs(10), dry_run=True, time_budget="none")
    assert "Expected time" not in plan.render()
    plan.estimate = {"seconds": 125.0, "how": "timed 8 steps on cpu",
                     "alternatives": [{"plan": "full", "seconds": 4000.0, "why_dropped": "over the 10 min budget"}]}
    text = section(plan.render(), "Expected time")
    assert "about 2 min 05 s (timed 8 steps on cpu)" in text
    assert "full: about 1 h 06 min; over the 10 min budget" in text


def test_a_saved_plan_from_before_these_fields_still_renders():
    from transferkit.core.configure import TransferPlan

    old = {"strategy": "full", "reason": "r", "source": "s", "feature_dim": 4, "labels": ["a", "b"],
           "removed": [], "head": ["Linear(in_features=4, out_features=2, bias=True)"], "head_lr": 0.001,
           "groups": [{"index": 0, "name": "g", "parameters": 10, "lr": 1e-4, "unfreeze_epoch": 0}],
           "batchnorm": "frozen", "train": {"epochs": 3, "patience": 0}}
    text = TransferPlan.from_dict(old).render()
    assert "Linear(4 -> 2)" in text and "trains from the start" in text


# -------------------------------------------------------------------------------- refused at plan time
def _medical_domain():
    from transferkit.core.specs import DomainSpec
    from transferkit.plugins.medical.domain import MedicalDomain

    return MedicalDomain(DomainSpec(name="medical", description="", factory="m:M", default_model="medical/x"))


def _pngs(root: Path) -> "object":
    from transferkit.core.data import Examples

    tiny_hf.make_images(root, per_class=1)
    items = sorted(str(p) for p in root.rglob("*.png"))
    return Examples(items=items, labels=[Path(p).parent.name for p in items], source=str(root))


def test_a_3d_preset_on_2d_images_is_refused_with_one_line(tmp_path):
    from transferkit.core.data import Examples
    from transferkit.core.specs import Preset

    domain = _medical_domain()
    ct = Preset(id="medical/ct-3d", domain="medical", description="", preprocess={"spatial_dims": 3})
    flat = Preset(id="medical/general", domain="medical", description="")
    pngs = _pngs(tmp_path / "pngs")
    npz = Examples(items=[np.zeros((28, 28), np.uint8)] * 2, labels=["a", "b"], source="breastmnist.npz",
                   meta={"spatial_dims": 2})

    def splits(train):
        return SimpleNamespace(train=train, val=train, test=None)

    net3d, net2d = SimpleNamespace(spatial_dims=3), SimpleNamespace(spatial_dims=2)
    for data in (pngs, npz):
        with pytest.raises(UsageError) as refused:
            domain.check_plan(SimpleNamespace(backbone=net3d, preset=ct), splits(data))
        line = refused.value.render()
        assert "2D images" in line and "medical/ct-3d" in line and "\n" not in line and "--preset" in line
    with pytest.raises(UsageError, match="is for 3D data but the network is 2D"):
        domain.check_plan(SimpleNamespace(backbone=net2d, preset=ct), splits(pngs))
    domain.check_plan(SimpleNamespace(backbone=net2d, preset=flat), splits(pngs))  # accepted
    domain.check_plan(SimpleNamespace(backbone=net2d, preset=flat), splits(npz))


def test_a_refused_plan_stops_train_and_dry_run_before_any_plan_or_training(toy_registry, tmp_path, capsys,
                                                                              monkeypatch):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15))

    def refuse(self, selection, splits):
        raise UsageError("the data are 2D images but the network is 3D", file=splits.train.source, fix="use 2D")

    monkeypatch.setattr(toy_plugin.ToyDomain, "check_plan", refuse)
    monkeypatch.setattr(train_module, "train", lambda *a, **k: pytest.fail("training started"))
    for extra in (["--dry-run"], []):
        code, out, err = run_cli(toy_args(data, tmp_path / "m", *extra), capsys)
        errors = [line for line in err.splitlines() if not line.startswith("[transferkit")]  # progress lines aside
        assert code == 2 and out == "" and len(errors) == 1 and "2D images" in errors[0]


def test_a_mistyped_set_key_is_refused_before_the_data_are_read(toy_registry, tmp_path, capsys, monkeypatch):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15))
    monkeypatch.setattr(train_module, "prepare_splits", lambda *a, **k: pytest.fail("the data were read"))
    for extra in (["--dry-run"], []):
        code, out, err = run_cli(toy_args(data, tmp_path / "m", "--set", "epochz=3", *extra), capsys)
        assert code == 2 and "epochz" in err and "reading data" not in err
        assert not (tmp_path / "m").exists()  # and --out was not made


# ------------------------------------------------------------------------------------------ 80 columns
def _assert_fits(text: str, *roots: Path) -> None:
    for root in roots:  # paths may run past 80 columns (never cut): measure the plan without them
        text = text.replace(str(root), "P")
    long = [line for line in text.splitlines() if len(line) > 80]
    assert not long, long


def test_real_plans_fit_80_columns(tmp_path, capsys, dataset_mirror):
    import importlib

    from transferkit.testing import isolated_registry

    vit = tiny_hf.build_tiny_vit(tmp_path / "vit")
    images = tiny_hf.make_images(tmp_path / "images", per_class=6)
    bert = tiny_hf.build_tiny_bert(tmp_path / "bert")
    reviews = tiny_hf.make_reviews(tmp_path / "reviews.csv", n=40)
    sms = dataset_mirror("sms-spam", "SMSSpamCollection") / "SMSSpamCollection"
    sample = tmp_path / "sms.tsv"  # a slice of the mirrored SMS collection
    sample.write_text("".join(sms.read_text(encoding="utf-8").splitlines(keepends=True)[:300]), encoding="utf-8")
    runs = [("transferkit.plugins.vision", "vision", ["--data", str(images), "--model", str(vit),
                                                      "--strategy", "freeze-unfreeze"]),
            ("transferkit.plugins.nlp", "nlp", ["--data", str(reviews), "--model", str(bert), "--strategy", "full"]),
            ("transferkit.plugins.spam", "spam", ["--data", str(sample), "--model", "spam/tfidf-linear"])]
    for module, name, args in runs:
        with isolated_registry(**{name: importlib.import_module(module)}):
            code, out, err = run_cli(["train", "--domain", name, *args, "--out", str(tmp_path / f"m-{name}"),
                                      "--dry-run", *NO_BUDGET], capsys)
        assert code == 0, err
        assert "Preprocessing" in out and "Decision" in out, out
        _assert_fits(out, tmp_path, sms.parent)
