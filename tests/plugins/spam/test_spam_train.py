"""Training both families on small slices of the real SMS and Enron-Spam data: artifacts, thresholds,
evaluation, the TF-IDF baseline, and generic to specific."""
from __future__ import annotations

import json

import numpy as np
import pytest

import transferkit as tk

pytestmark = pytest.mark.real_data


def test_tfidf_model_trains_saves_safetensors_and_json_only_and_reloads(spam_registry, sms_small, tmp_path):
    train, test = sms_small
    run = tk.fit("spam", train, test=test, preset="spam/sms", model="spam/tfidf-linear", out=tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir() if p.is_file())
    assert "model.safetensors" in files and "transferkit.json" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", ".pt", ".bin"))]
    meta = json.loads((tmp_path / "m" / "transferkit.json").read_text())
    assert meta["backbone"]["architecture"] == "tfidf-hashing" and meta["plan"]["strategy"] == "linear-probe"
    assert "calibrated: sigmoid" in " ".join(run.notes)
    assert run.metrics["test"]["accuracy"] > 0.9  # 300 labels of real SMS
    loaded = tk.load(tmp_path / "m")
    texts = test.items[:50]
    assert np.allclose(loaded.predict_proba(texts), run.model.predict_proba(texts), atol=1e-6)
    assert loaded.threshold == pytest.approx(run.model.threshold)


def test_the_threshold_meets_the_presets_bound_on_validation_data(spam_registry, sms_small):
    train, _ = sms_small
    run = tk.fit("spam", train, preset="spam/finance", model="spam/tfidf-linear")
    val = run.metrics["val"]["binary"]
    assert val["false_positive_rate"] <= 0.001 and val["positive"] == "spam"
    assert run.model.threshold is not None and "max_fpr 0.001" in " ".join(run.notes)


def test_evaluate_reports_spam_precision_recall_fpr_and_the_precision_recall_curve(spam_registry, sms_small, tmp_path):
    train, test = sms_small
    tk.fit("spam", train, preset="spam/sms", model="spam/tfidf-linear", out=tmp_path / "m")
    from transferkit.core.evaluate import evaluate

    metrics = evaluate(tmp_path / "m", test)
    spam = metrics["per_class"]["spam"]
    assert {"precision", "recall", "f1"} <= set(spam)
    binary = metrics["binary"]
    assert binary["false_positive_rate"] is not None and binary["threshold"] == pytest.approx(tk.load(tmp_path / "m").threshold)
    curve = binary["pr_curve"]
    assert 0.5 < curve["average_precision"] <= 1.0 and 2 < len(curve["points"]) <= 50
    recalls = [p["recall"] for p in curve["points"]]
    assert recalls == sorted(recalls, reverse=True)  # thresholds ascending: recall falls


def test_transformer_family_linear_probe_records_the_tfidf_baseline(spam_registry, sms_small, tiny_bert, tmp_path):
    train, test = sms_small
    run = tk.fit("spam", train, test=test, preset="spam/sms", model=tiny_bert, out=tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "transferkit.json").read_text())
    baseline = meta["baselines"]["spam/tfidf-linear"]
    assert baseline["split"] == "test" and baseline["n"] == len(test) and baseline["accuracy"] > 0.9
    assert "spam/tfidf-linear" in (tmp_path / "m" / "README.md").read_text()
    assert run.model.backbone.feature_dim == 32 and (tmp_path / "m" / "tokenizer").is_dir()
    loaded = tk.load(tmp_path / "m")
    assert np.allclose(loaded.predict_proba(test.items[:20]), run.model.predict_proba(test.items[:20]), atol=1e-5)


def test_the_generic_head_is_a_candidate_prior_chosen_or_set_aside_by_cross_validation(spam_registry, sms_small,
                                                                                       tiny_bert, tmp_path):
    """From an encoder artifact, its head is offered as the prior; cross-validation on the new training labels
    chooses between it and the labels alone, and the plan says which and by what score."""
    from transferkit.plugins.spam.adapt import load_prior

    train, _ = sms_small
    tk.fit("spam", train, preset="spam/sms", model=tiny_bert, out=tmp_path / "generic")
    prior = load_prior(tmp_path / "generic", ["ham", "spam"], 32)
    assert prior is not None and prior[0].shape == (32,)
    few = train.subset(list(range(0, 240, 12)) + list(range(240, 300, 6)))  # 20 ham, 10 spam
    adapted = tk.fit("spam", few, preset="spam/finance", model=tmp_path / "generic", out=tmp_path / "specific")
    plan = json.loads((tmp_path / "specific" / "transferkit.json").read_text())["plan"]
    note = next(n for n in plan["notes"] if n.startswith("generic to specific"))
    assert "its linear head (as a prior)" in note and "cross-validation on the new training labels only" in note
    rows = [row for row in adapted.history if "carry" in row]
    assert {row["carry"] for row in rows} == {"alone", "prior"}  # no generic sample in an encoder artifact
    chosen = [row for row in rows if row["chosen"]]
    assert len(chosen) == 1 and chosen[0]["cv_roc_auc"] == max(row["cv_roc_auc"] for row in rows)
    assert f"{chosen[0]['carry']} (" in note


SMALL_PRESET = """id = "test/spam-small"
version = "1"
domain = "spam"
extends = "spam/generic"
description = "spam/generic with 2 x 1,024 hashed columns: small and fast for tests"

[preprocess]
hash_bits = 10
"""


def test_a_tfidf_artifact_keeps_a_bounded_sample_that_the_specific_model_replays(spam_registry, sms_rows,
                                                                                 sms_tools, tmp_path):
    """The generic TF-IDF artifact lists a sample of its training rows; adapting from it offers all four
    carry-overs to cross-validation, and the chosen one is in the plan."""
    from transferkit.core.data import Examples
    from transferkit.plugins.spam.carry import SAMPLE_FILE, load_sample

    sms_slice, _ = sms_tools
    preset = tmp_path / "small.toml"
    preset.write_text(SMALL_PRESET, encoding="utf-8")
    generic_rows, few_rows = sms_slice(sms_rows, 200, 40), sms_slice(sms_rows, 40, 12, offset=200)
    examples = lambda rows: Examples([t for _, t in rows], [label for label, _ in rows], "sms")  # noqa: E731
    tk.fit("spam", examples(generic_rows), preset=preset, model="spam/tfidf-linear", out=tmp_path / "generic")
    meta = json.loads((tmp_path / "generic" / "transferkit.json").read_text())
    assert SAMPLE_FILE in meta["files"]
    counts, labels = load_sample(tmp_path / "generic")
    assert counts.shape == (len(labels), 2048) and 0 < len(labels) <= 240 and set(labels) == {0, 1}
    adapted = tk.fit("spam", examples(few_rows), preset=preset, model=tmp_path / "generic")
    rows = [row for row in adapted.history if "carry" in row]
    assert {row["carry"] for row in rows} == {"alone", "prior", "replay", "augment"}
    # Each row names its series for the report's curves: the way, and its strength where it has one.
    assert all(row["series"] == (row["carry"] if row["carry"] == "alone" else f"{row['carry']} {row['strength']:g}")
               for row in rows)
    note = next(n for n in adapted.model.plan.notes if n.startswith("generic to specific"))
    assert f"a sample of {len(labels):,} of its training messages" in note
    chosen = next(row for row in rows if row["chosen"])
    assert f"{chosen['carry']} (" in note and f"scored {chosen['cv_roc_auc']:.4f}" in note


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known shortfall: a generic SMS filter does not help Enron e-mail; "
                   "cross-validation on the 200 labels sets it aside (carry-over 'alone' on 3 of 3 seeds in "
                   "benchmarks/spam.py, see docs/spam.md), so adapted is not better than alone")
def test_generic_to_specific_on_real_mail_beats_the_same_labels_alone(spam_registry, sms_rows, enron, tmp_path):
    """A generic TF-IDF filter trained on SMS, adapted with 200 labelled Enron e-mails, against the same 200
    e-mails alone; both scored on 600 held-out Enron e-mails (fixed seeds, nothing chosen on them)."""
    from transferkit.core.data import Examples, stratified_split
    from transferkit.core.select import get_domain

    sms = Examples([text for _, text in sms_rows[:2000]], [label for label, _ in sms_rows[:2000]], "sms")
    tk.fit("spam", sms, preset="spam/generic", model="spam/tfidf-linear", out=tmp_path / "generic")
    mail = get_domain("spam").read(enron)
    pool, rest = stratified_split(mail, 0.3, 0)
    _, test = stratified_split(rest, 600 / len(rest), 0)
    _, few = stratified_split(pool, 200 / len(pool), 0)
    adapted = tk.fit("spam", few, test=test, preset="spam/generic", model=tmp_path / "generic")
    alone = tk.fit("spam", few, test=test, preset="spam/generic", model="spam/tfidf-linear")
    assert any("starts from" in note for note in adapted.model.plan.notes)
    assert adapted.metrics["test"]["f1_macro"] > alone.metrics["test"]["f1_macro"]
