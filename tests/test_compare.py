"""`transferkit compare`: the rows it measures, the splits behind them, the scratch network, the baselines,
the output folder's safety and the command. Tiny vectors (tests/toy_plugin.py), a few epochs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transferkit import hookimpl
from transferkit.core.data import Examples
from transferkit.core.specs import ModelSource
from transferkit.errors import UsageError

ROW_KEYS = {"method", "per_class", "seed", "n_train", "test_metric", "val_metric", "train_metric", "wall_s", "epochs"}
EPOCH_KEYS = {"epoch", "val_metric", "train_metric", "elapsed_s"}


class PretrainedToy:
    """The toy domain's MLP as if it had pretrained weights (the toy catalog only has a scratch model)."""

    @hookimpl
    def register_models(self, register: Any) -> None:
        register(ModelSource(id="toy/mlp.pretrained", domain="toy", description="the toy MLP, fixed weights",
                             kind="package", location="toy_plugin"))


@pytest.fixture
def registry(toy_registry: Any) -> Any:
    toy_registry.add_plugin(PretrainedToy(), name="pretrained-toy")
    return toy_registry


@pytest.fixture
def blobs(tmp_path: Path) -> Path:
    from toy_plugin import make_blobs, write_blobs

    return write_blobs(tmp_path / "blobs.npz", make_blobs(30, noise=1.2))


def test_compare_measures_every_method_on_the_same_test_data(registry: Any, blobs: Path, tmp_path: Path) -> None:
    from transferkit.core.compare import compare

    out = tmp_path / "cmp"
    result = compare("toy", blobs, out=out, per_class=[4], seeds=2, model="toy/mlp.pretrained", epochs=2)

    assert set(result) == {"domain", "data", "preset", "metric", "per_class", "seeds", "rows", "notes"}
    assert json.loads((out / "compare.json").read_text()) == json.loads(json.dumps(result))
    assert result["per_class"] == [4] and result["seeds"] == 2 and result["metric"] == "accuracy"
    rows = result["rows"]
    assert [(r["method"], r["seed"]) for r in rows] == [
        (m, s) for s in (0, 1) for m in ("transfer", "scratch", "classic", "majority")]
    for row in rows:
        assert set(row) == ROW_KEYS
        assert 0.0 <= row["test_metric"] <= 1.0 and row["wall_s"] >= 0
    # 60 blobs, 12 set aside for test first; 4 per class is 3 to train on and 1 to validate with. The linear
    # probe pools that 1 back (C by cross-validation on all 8) and classic cross-validates on all 8 too.
    assert {r["method"]: r["n_train"] for r in rows} == {"transfer": 8, "scratch": 6, "classic": 8, "majority": 6}
    assert any(n.startswith("classic at 4 per class, seed 0: logistic regression on the input values, C=")
               for n in result["notes"])
    # Balanced test data (6 + 6): always predicting one class scores exactly one half.
    assert {r["test_metric"] for r in rows if r["method"] == "majority"} == {0.5}
    for row in rows:
        if row["method"] in ("transfer", "scratch"):
            assert row["epochs"] and set(row["epochs"][0]) == EPOCH_KEYS
            assert [e["epoch"] for e in row["epochs"]] == list(range(1, len(row["epochs"]) + 1))
            elapsed = [e["elapsed_s"] for e in row["epochs"]]
            assert elapsed == sorted(elapsed) and all(e["train_metric"] is not None for e in row["epochs"])
            assert row["train_metric"] is not None
        else:
            assert row["epochs"] == []
    # Scratch is the same network from random weights, every layer trained: not the transfer run again.
    pairs = {r["seed"]: r for r in rows if r["method"] == "transfer"}
    assert any(r["epochs"] != pairs[r["seed"]]["epochs"] for r in rows if r["method"] == "scratch")
    assert any(n.startswith("scratch: full, toy/mlp.pretrained (random initialisation)") for n in result["notes"])
    # Seeds draw different budgets: the two seeds' runs at 4 per class are not copies of each other.
    transfer4 = [r for r in rows if r["method"] == "transfer" and r["per_class"] == 4]
    assert transfer4[0]["epochs"] != transfer4[1]["epochs"]


def test_a_tiny_held_out_slice_is_pooled_back_into_the_linear_probe(registry: Any, blobs: Path) -> None:
    """4 labels a class: the probe is fitted on all 8 raw features at the C cross-validation chose, and its
    validation figures are the held-out examples' out-of-fold predictions (core/train.py _fit_probe_pooled)."""
    from sklearn.linear_model import LogisticRegression

    from transferkit.core.compare import draw_budget, load_compare_data
    from transferkit.core.evaluate import predict_proba
    from transferkit.core.features import extract_features
    from transferkit.core.metrics import classification_metrics
    from transferkit.core.select import get_domain
    from transferkit.core.train import _oof_probabilities, fit

    data = load_compare_data(get_domain("toy"), blobs, None)
    train, val = draw_budget(data.pool, 4, seed=0, val_fraction=0.2)
    result = fit("toy", train, val=val, model="toy/mlp.pretrained", strategy="linear-probe", seed=0)
    assert any("were pooled back" in note for note in result.notes)
    chosen = next(row["C"] for row in result.history if row.get("chosen"))
    model, labels = result.model, result.model.labels
    pooled = np.vstack([extract_features(model, ex.items, 16).numpy() for ex in (train, val)]).astype(np.float64)
    y = np.array([labels.index(label) for label in train.labels + val.labels])
    # The head is the logistic regression of all 8 labelled examples on the raw (unstandardised) features.
    reference = LogisticRegression(C=chosen, max_iter=3000).fit(pooled, y)
    probe_points = np.stack(data.test.items)
    expected = reference.predict_proba(extract_features(model, data.test.items, 16).numpy().astype(np.float64))
    assert np.allclose(predict_proba(model, list(probe_points), 16), expected, atol=1e-4)
    # Validation figures: out-of-fold, not the head re-scoring examples it was fitted on.
    oof = _oof_probabilities(pooled, y, chosen, None, len(labels), 4, 0, standardize=False)[len(train):]
    y_val = y[len(train):]
    assert result.metrics["val"]["loss"] == pytest.approx(classification_metrics(y_val, oof, labels)["loss"])
    fitted_on_val = reference.predict_proba(pooled[len(train):])
    assert result.metrics["val"]["loss"] != pytest.approx(classification_metrics(y_val, fitted_on_val, labels)["loss"])


def test_select_from_scratch_keeps_the_architecture_and_drops_the_weights(registry: Any) -> None:
    import torch

    from transferkit.core.select import select

    torch.manual_seed(3)
    fresh = select("toy", "toy/mlp.pretrained", from_scratch=True).backbone
    pretrained = select("toy", "toy/mlp.pretrained").backbone
    assert fresh.from_scratch and not pretrained.from_scratch
    assert fresh.config() == pretrained.config() and fresh.source_id.endswith("(random initialisation)")
    # Every weight matrix is new (BatchNorm starts at 1 and 0 in both: its own initialisation).
    same = [torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), pretrained.state_dict().values())
            if a.ndim >= 2]
    assert len(same) == 3 and not any(same)


def test_budgets_and_test_split_are_fixed_and_disjoint(registry: Any, blobs: Path) -> None:
    from transferkit.core.compare import draw_budget, load_compare_data
    from transferkit.core.select import get_domain

    first = load_compare_data(get_domain("toy"), blobs, None)
    again = load_compare_data(get_domain("toy"), blobs, None)
    assert [x.tobytes() for x in first.test.items] == [x.tobytes() for x in again.test.items]
    assert first.test.counts() == {"a": 6, "b": 6}
    test_keys = {x.tobytes() for x in first.test.items}
    assert not test_keys & {x.tobytes() for x in first.pool.items}
    train, val = draw_budget(first.pool, 5, seed=1, val_fraction=0.2)
    train2, _ = draw_budget(first.pool, 5, seed=1, val_fraction=0.2)
    other, _ = draw_budget(first.pool, 5, seed=2, val_fraction=0.2)
    assert train.counts() == {"a": 4, "b": 4} and val.counts() == {"a": 1, "b": 1}
    keys = [x.tobytes() for x in train.items]
    assert keys == [x.tobytes() for x in train2.items] and keys != [x.tobytes() for x in other.items]
    assert not set(keys) & {x.tobytes() for x in val.items}


def test_classic_baselines_choose_c_by_cross_validation_on_training_labels() -> None:
    from transferkit.core.compare import classic_baseline, classic_probs

    texts = Examples(items=["win a free prize now", "claim your cash reward", "free entry win cash",
                            "see you at lunch", "meeting moved to noon", "call me after the meeting"] * 4,
                     labels=["spam", "spam", "spam", "ham", "ham", "ham"] * 4, source="mem")
    clf, how, cv_score = classic_baseline("text", texts, ["ham", "spam"], "accuracy", seed=0)
    assert "chosen by 5-fold cross-validation on the training labels" in how and 0.5 < cv_score <= 1.0
    unseen = Examples(items=["win free cash", "lunch after the meeting"], labels=["spam", "ham"], source="mem")
    assert classic_probs("text", clf, unseen, ["ham", "spam"]).argmax(1).tolist() == [1, 0]

    rng = np.random.default_rng(0)
    bright = [np.clip(200 + rng.normal(0, 20, (28, 28)), 0, 255).astype(np.uint8) for _ in range(8)]
    dark = [np.clip(40 + rng.normal(0, 20, (28, 28)), 0, 255).astype(np.uint8) for _ in range(8)]
    images = Examples(items=bright + dark, labels=["b"] * 8 + ["d"] * 8, source="mem")
    clf, how, _ = classic_baseline("pixels", images, ["b", "d"], "accuracy", seed=0)
    assert how.startswith("logistic regression on 32x32 pixels, C=")
    assert classic_probs("pixels", clf, images, ["b", "d"]).argmax(1).tolist() == [0] * 8 + [1] * 8


def test_output_folder_is_checked_before_any_work(registry: Any, blobs: Path, tmp_path: Path) -> None:
    from transferkit.core.compare import compare

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        compare("toy", blobs, out=theirs, per_class=[4], model="toy/mlp.pretrained")
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    model_dir = tmp_path / "a-model"
    model_dir.mkdir()
    (model_dir / "transferkit.json").write_text('{"format_version": 1, "domain": "toy"}')
    with pytest.raises(UsageError, match="holds a transferkit model"):
        compare("toy", blobs, out=model_dir, per_class=[4], model="toy/mlp.pretrained")
    with pytest.raises(UsageError, match="no pretrained weights"):
        compare("toy", blobs, out=tmp_path / "new", per_class=[4], model="toy/mlp.random")


def test_compare_command_prints_an_80_column_table(registry: Any, blobs: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from transferkit.cli import main

    out = tmp_path / "cmp"
    main(["-q", "compare", "-d", "toy", "--data", str(blobs), "--model", "toy/mlp.pretrained",
          "--per-class", "all", "--epochs", "2", "--holdout-test", "0.3", "--out", str(out)])
    printed = capsys.readouterr().out
    table = printed.split("\n- ")[0].splitlines()
    assert table[1].split() == ["per", "class", "method", "n", "test", "val", "gap", "epochs", "wall", "s"]
    assert [line.split()[1] for line in table[2:]] == ["transfer", "scratch", "classic", "majority"]
    assert max(len(line) for line in table) <= 80
    # 60 blobs: 18 set aside as test data first; "all" is the 42 others less 20% of each class (4 + 4), which
    # classic (and a linear probe, as the 8 are under 50) cross-validates on and fits with the rest.
    saved = json.loads((out / "compare.json").read_text())
    n_fit = {r["method"]: r["n_train"] for r in saved["rows"]}
    pooled = any("pooled back" in note for note in saved["notes"])
    assert n_fit == {"transfer": 42 if pooled else 34, "scratch": 34, "classic": 42, "majority": 34}
    assert "stratified 30%" in saved["notes"][0]
    with pytest.raises(SystemExit) as stop:
        main(["compare", "-d", "toy", "--data", str(blobs), "--per-class", "4,one", "--out", str(tmp_path / "x")])
    assert stop.value.code == 2 and "--per-class takes numbers" in capsys.readouterr().err


def test_the_benchmark_section_is_rendered_from_results_and_labels_selection_figures() -> None:
    """benchmarks/compare.py writes docs/compare.md's figures from its results JSON only."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_compare", Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    rows = [{"method": m, "per_class": 4, "seed": s, "n_train": 8 if m in ("transfer", "classic") else 6,
             "test_metric": t + 0.01 * s, "val_metric": 0.7, "train_metric": 1.0, "wall_s": 10.0, "epochs": []}
            for s in range(3) for m, t in (("transfer", 0.8), ("scratch", 0.6), ("classic", 0.7), ("majority", 0.5))]
    compare_json = {"metric": "accuracy", "seeds": 3, "per_class": [4], "rows": rows, "notes": ["a note"]}
    done = {"compare": compare_json, "seconds": 600.0, "peak_rss_mib": 900.0, "load_before": [9.0],
            "load_after": [10.0]}
    stopped = {**done, "seconds": None, "peak_rss_mib": None, "load_before": None,
               "incomplete": "incomplete: 1 of 6 budget-and-seed runs done"}
    text = bench.render({"meta": {"machine": "m", "date": "d", "commands": ["python benchmarks/compare.py"]},
                         "runs": {"vision": done, "sms-probe": stopped,
                                  "sms-auto": {"not_measured": "too slow here"}}})
    assert text.startswith("## Measured\n")
    assert "| 4 | transfer | 8 | 0.810 ± 0.010 | 0.700 | 10 |" in text
    assert "validation (selection)" in text and "chose nothing" in text
    assert "at 4 a class transfer beats scratch on the mean (0.810 against 0.610), ahead in 3 of 3 seeds" in text
    assert "**stopped before the end** (incomplete: 1 of 6" in text
    assert "Not measured: too slow here." in text
