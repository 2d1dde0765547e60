"""Stratified splitting, per-class sampling, the held-out test split, and the feature-cache key."""
from __future__ import annotations

import pytest
import toy_plugin

from transferkit.core.data import Examples, sample_per_class, stratified_split
from transferkit.core.train import prepare_splits
from transferkit.errors import DataError, UsageError


def examples(counts: dict[str, int]) -> Examples:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return Examples(items=[f"x{i}" for i in range(len(labels))], labels=labels, source="mem")


@pytest.mark.parametrize("counts,fraction", [({"a": 50, "b": 10}, 0.2), ({"a": 7, "b": 3, "c": 2}, 0.3),
                                             ({"a": 100, "b": 100}, 0.5)])
def test_stratified_split_keeps_class_proportions_and_loses_nothing(counts, fraction):
    ex = examples(counts)
    train, val = stratified_split(ex, fraction, seed=0)
    assert sorted(train.items + val.items) == sorted(ex.items)  # a partition: nothing lost or repeated
    assert not set(train.items) & set(val.items)
    for label, n in counts.items():
        n_val = val.counts()[label]
        assert n_val == min(n - 1, max(1, round(n * fraction)))  # at least one each side
        assert train.counts()[label] == n - n_val
    # items keep their labels
    pairs = dict(zip(ex.items, ex.labels))
    assert all(pairs[i] == lab for i, lab in zip(val.items, val.labels))


def test_stratified_split_depends_on_the_seed_only():
    ex = examples({"a": 40, "b": 40})
    assert stratified_split(ex, 0.25, 1)[1].items == stratified_split(ex, 0.25, 1)[1].items
    assert stratified_split(ex, 0.25, 1)[1].items != stratified_split(ex, 0.25, 2)[1].items


def test_stratified_split_refuses_a_class_of_one():
    with pytest.raises(DataError, match="class 'b' has 1 example"):
        stratified_split(examples({"a": 5, "b": 1}), 0.2, seed=0)


def test_sample_per_class_keeps_at_most_n_of_each_class_at_random():
    ex = examples({"a": 30, "b": 4})
    kept = sample_per_class(ex, 5, seed=0)
    assert kept.counts() == {"a": 5, "b": 4}
    assert set(kept.items) <= set(ex.items)
    firsts = [ex.items[i] for i in range(5)]
    seen = {tuple(sample_per_class(ex, 5, seed=s).items) for s in range(5)}
    assert len(seen) > 1 and any(list(items[:5]) != firsts for items in seen)  # a random choice, not the first


def test_holdout_test_is_stratified_recorded_and_disjoint():
    ex = examples({"a": 40, "b": 20})
    splits = prepare_splits(None, ex, holdout_test=0.25, seed=3, val_fraction=0.2)
    record = splits.test.meta["holdout"]
    assert record["fraction"] == 0.25 and record["seed"] == 3 and record["from"] == "mem"
    assert splits.test.counts() == {"a": 10, "b": 5}
    assert [ex.items[i] for i in record["indices"]] == splits.test.items  # which examples, exactly
    assert record["fingerprint_of_source"] == ex.fingerprint()
    parts = [set(splits.train.items), set(splits.val.items), set(splits.test.items)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(parts[0] | parts[1] | parts[2]) == len(ex)
    # The same seed sets aside the same examples; another seed, others.
    assert prepare_splits(None, ex, holdout_test=0.25, seed=3).test.items == splits.test.items
    assert prepare_splits(None, ex, holdout_test=0.25, seed=4).test.items != splits.test.items


def test_holdout_test_comes_before_per_class_sampling():
    ex = examples({"a": 40, "b": 40})
    splits = prepare_splits(None, ex, holdout_test=0.5, per_class=4, seed=0)
    assert splits.test.counts() == {"a": 20, "b": 20}  # not limited by the few-label budget
    assert len(splits.train) + len(splits.val) == 8


def test_holdout_test_refuses_conflicts_and_bad_fractions():
    ex = examples({"a": 10, "b": 10})
    with pytest.raises(UsageError, match="test data were given already"):
        prepare_splits(None, ex, test=examples({"a": 2, "b": 2}), holdout_test=0.2)
    with pytest.raises(UsageError, match="between 0 and 1"):
        prepare_splits(None, ex, holdout_test=1.5)
    with pytest.raises(DataError, match="too few examples"):
        prepare_splits(None, examples({"a": 10, "b": 2}), holdout_test=0.2)


def test_holdout_test_is_recorded_in_the_artifact(toy_registry, tmp_path):
    import json

    import transferkit as tk

    data = toy_plugin.make_blobs(20, seed=1)
    run = tk.fit("toy", data, strategy="linear-probe", holdout_test=0.25, out=tmp_path / "m")
    assert run.metrics["test"]["n"] == 10 and run.metrics["test"]["split_name"] == "held-out test"
    meta = json.loads((tmp_path / "m" / "transferkit.json").read_text())
    holdout = meta["data"]["test"]["holdout"]
    assert holdout["fraction"] == 0.25 and holdout["seed"] == 0 and len(holdout["indices"]) == 10
    assert meta["data"]["train"]["n"] + meta["data"]["val"]["n"] == 30
    assert meta["metrics"]["val"]["split_name"] == "validation (used for selection)"
    assert "held-out test" in (tmp_path / "m" / "README.md").read_text()


# ------------------------------------------------------------------ the feature-cache key
def test_cache_key_changes_with_backbone_preprocessing_remove_last_and_data(toy_registry):
    import transferkit as tk
    from transferkit.core.features import cache_key

    def model():
        return tk.configure(tk.select("toy"), ["a", "b"], strategy="linear-probe")

    data = toy_plugin.make_blobs(5, seed=0)
    base = cache_key(model(), data)
    assert cache_key(model(), data) == base  # same inputs, same key: the cache serves

    other_backbone = model()
    other_backbone.backbone.source_id = "toy/another-checkpoint"
    bigger = model()
    bigger.backbone.hidden = 32  # config() changes: another architecture
    scaled = model()
    scaled.preset = scaled.preset.model_copy(update={"preprocess": {"scale": 2.0}})
    cut = model()
    cut.plan.remove_last = 1
    keys = {
        "backbone": cache_key(other_backbone, data),
        "config": cache_key(bigger, data),
        "preprocess": cache_key(scaled, data),
        "remove_last": cache_key(cut, data),
        "data": cache_key(model(), toy_plugin.make_blobs(5, seed=1)),
    }
    for what, key in keys.items():
        assert key != base, what
    assert len(set(keys.values())) == len(keys)
