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


def test_the_generic_head_is_the_prior_of_the_specific_one(spam_registry, sms_small, tiny_bert, tmp_path):
    """From an artifact, the plan says what is carried over, and the new head is pulled toward the old one."""
    from transferkit.plugins.spam.adapt import load_prior

    train, _ = sms_small
    tk.fit("spam", train, preset="spam/sms", model=tiny_bert, out=tmp_path / "generic")
    prior = load_prior(tmp_path / "generic", ["ham", "spam"], 32)
    assert prior is not None and prior[0].shape == (32,)
    few = train.subset(list(range(0, 240, 12)) + list(range(240, 300, 6)))  # 20 ham, 10 spam
    adapted = tk.fit("spam", few, preset="spam/finance", model=tmp_path / "generic", out=tmp_path / "specific")
    plan = json.loads((tmp_path / "specific" / "transferkit.json").read_text())["plan"]
    assert any("prior of the new one" in note for note in plan["notes"])
    weight = adapted.model.head[-1].weight.detach().double().numpy()
    new = weight[1] - weight[0]
    scratch = tk.fit("spam", few, preset="spam/finance", model=tiny_bert).model.head[-1].weight.detach().double().numpy()
    # closer to the generic head than a head fitted from scratch on the same 30 labels
    assert np.linalg.norm(new - prior[0]) < np.linalg.norm((scratch[1] - scratch[0]) - prior[0])


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known shortfall: across SMS and e-mail the generic prior does not reliably "
                   "help (benchmarks/spam.py); on this slice adapted 0.898 vs alone 0.904 macro-F1")
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
