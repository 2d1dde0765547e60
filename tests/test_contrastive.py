"""The contrastive strategy (SetFit's recipe, core/contrastive.py) on a tiny BERT built in the test.

The encoder is tuned on sentence pairs, the logistic head fitted on its features, the tuned weights saved:
a fresh process that loads the artifact predicts exactly what the trained model did. ``auto`` takes the
strategy for a sentence encoder with few labels a class.
"""
from __future__ import annotations

import numpy as np
import pytest
import tiny_hf

import transferkit as tk
from transferkit.core.contrastive import sentence_pairs
from transferkit.core.specs import Preset

pytest.importorskip("sentence_transformers")

OPTIONS = {"text_cols": ["review"], "label_col": "sentiment"}


@pytest.fixture
def nlp(tmp_path):
    yield from tiny_hf.nlp_workspace(tmp_path)


def _pairs_tuned_on(run) -> int:
    """How many sentence pairs tuned the encoder (the history rows of the pair fine-tuning say)."""
    return next(row["pairs"] for row in run.history if row.get("pair_loss") is not None)


def test_pairs_follow_setfit_sampling():
    labels = np.array([0, 0, 0, 1, 1, 2])
    pairs = sentence_pairs(labels, iterations=3, seed=1)
    assert len(pairs) == 2 * 3 * len(labels)  # per round, each text: one positive and one negative pair
    for a, b, score in pairs:
        assert (labels[a] == labels[b]) == (score == 1.0)
        assert a != b or (labels == labels[a]).sum() == 1  # only a single-example class pairs with itself
    assert sum(score for _, _, score in pairs) == 3 * len(labels)
    assert pairs == sentence_pairs(labels, iterations=3, seed=1) != sentence_pairs(labels, iterations=3, seed=2)


def test_contrastive_tunes_the_encoder_and_the_artifact_reloads(nlp, tmp_path):
    from safetensors.torch import load_file

    bert, data = nlp
    preset = Preset(id="nlp/tiny", domain="nlp", description="tiny", head={"pooling": "mean"})
    run = tk.fit("nlp", data, model=bert, preset=preset, strategy="contrastive", out=tmp_path / "m",
                 pair_iterations=3, batch_size=8, seed=0, time_budget=None, read_options=OPTIONS)
    assert run.model.plan.strategy == "contrastive" and run.model.plan.fit["by"] == "domain"
    assert any("sentence pairs" in note for note in run.notes)
    # Few labels: the 20% transferkit held out itself (4 of 24) went back into the pairs and the head.
    assert _pairs_tuned_on(run) == 2 * 3 * 24  # per round, one positive and one negative pair for each text
    assert any("pooled back" in note for note in run.notes)
    assert [row["selection"] for row in run.history if "C" in row] == ["fixed"]  # SetFit's head: C=1
    assert run.metrics["val"]["n"] == 4
    # The tuned encoder, not the pretrained one, is in the artifact.
    pretrained = load_file(str(bert / "model.safetensors"))
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))
    key = next(k for k in saved if k.endswith("encoder.layer.1.attention.self.query.weight"))
    original = next(v for k, v in pretrained.items() if k.endswith("encoder.layer.1.attention.self.query.weight"))
    assert not np.allclose(saved[key].numpy(), original.numpy(), atol=1e-6)
    items = ["good film", "awful movie", "the film was fine", "hate the movie"]
    here = run.model.predict(items)
    fresh = tiny_hf.predict_in_fresh_process(tmp_path / "m", items)
    assert [label for label, _ in fresh] == [p["label"] for p in here]
    np.testing.assert_allclose([s for _, s in fresh], [[p["scores"][k] for k in run.model.labels] for p in here],
                               atol=1e-5)
    assert run.metrics["val"]["accuracy"] >= 0.8  # the reviews' words separate the classes


def test_auto_takes_contrastive_for_a_sentence_encoder_with_few_labels(nlp):
    bert, data = nlp
    preset = Preset(id="nlp/tiny", domain="nlp", description="tiny", head={"pooling": "mean"})
    plan = tk.fit("nlp", data, model=bert, preset=preset, dry_run=True, read_options=OPTIONS)
    assert plan.strategy == "contrastive" and "SetFit" in plan.reason
    assert plan.fit["by"] == "domain" and "sentence-pair" in plan.fit["how"]



def test_validation_the_user_gives_is_never_trained_on(nlp):
    """The pooling above is only for the slice transferkit holds out itself: --val data stay apart."""
    from transferkit.core.data import Examples
    from transferkit.core.select import get_domain

    bert, data = nlp
    preset = Preset(id="nlp/tiny", domain="nlp", description="tiny", head={"pooling": "mean"})
    reviews = get_domain("nlp").read(data, options=OPTIONS)
    train = Examples(reviews.items[:18], reviews.labels[:18], source="train")
    val = Examples(reviews.items[18:], reviews.labels[18:], source="val")
    kept = tk.fit("nlp", train, val=val, model=bert, preset=preset, strategy="contrastive", pair_iterations=1,
                  batch_size=8, seed=0, time_budget=None)
    assert _pairs_tuned_on(kept) == 2 * 18  # the user's 6 validation texts tuned nothing
    assert not any("pooled back" in note for note in kept.notes)
    assert kept.metrics["val"]["n"] == 6


def test_contrastive_is_refused_for_the_tfidf_spam_filter(tmp_path, capsys):
    """TF-IDF has no encoder to tune: a one-line usage error (exit 2), not a silently fitted TF-IDF head."""
    from cli_run import run_cli

    from transferkit.core import registry as reg
    from transferkit.errors import UsageError

    tiny_hf.plugin_registry("transferkit.plugins.spam", "spam")
    try:
        rows = [("spam" if i % 2 else "ham", f"{'WIN a free prize now' if i % 2 else 'see you at lunch'} {i}")
                for i in range(20)]
        data = tmp_path / "sms.tsv"
        data.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
        with pytest.raises(UsageError, match="contrastive"):
            tk.fit("spam", data, model="spam/tfidf-linear", strategy="contrastive", dry_run=True, time_budget=None)
        code, out, err = run_cli(["train", "--domain", "spam", "--model", "spam/tfidf-linear", "--strategy",
                                  "contrastive", "--data", str(data), "--out", str(tmp_path / "m")], capsys)
        assert code == 2 and "contrastive" in err and "sentence encoder" in err
        assert not (tmp_path / "m" / "model.safetensors").exists()
    finally:
        reg.set_registry(None)


def test_the_cost_estimate_adds_the_pair_fine_tuning_to_the_linear_probe():
    """Each pair runs two texts forward and backward; the labels' features, C and scoring cost what the
    linear probe's do (core/budget.py)."""
    from transferkit.core.budget import StepTimes, estimate_plans
    from transferkit.core.contrastive import estimate_seconds

    times = StepTimes(0.002, 0.001, 0.01, 0.03, 16, "cpu")
    sizes = dict(n_train=26, n_val=6, n_test=400, feature_dim=384)
    probe = estimate_plans(times, train={"epochs": 1}, random_augmentation=False, strategies=("linear-probe",),
                           **sizes)["linear-probe"]
    pooled = estimate_seconds(times, iterations=20, **sizes)
    assert pooled - probe == pytest.approx(2 * 20 * 32 * 2 * (0.001 + 0.03))
    assert estimate_seconds(times, iterations=20, pooled=False, **sizes) - probe == pytest.approx(2 * 20 * 26 * 2 * 0.031)
