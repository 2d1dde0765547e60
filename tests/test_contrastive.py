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
    from transferkit.core import registry as reg

    tiny_hf.plugin_registry("transferkit.plugins.nlp", "nlp")
    yield tiny_hf.build_tiny_bert(tmp_path / "bert"), tiny_hf.make_reviews(tmp_path / "reviews.csv")
    reg.set_registry(None)


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
    assert any(row.get("pair_loss") is not None for row in run.history)
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
