"""LoRA is applied in one place: a `lora` run of vision and of nlp reloads in a fresh process, same predictions.

Through the public path only: ``tk.fit(strategy="lora")`` writes the artifact, ``tk.load`` in a new Python
process (real entry points, nothing shared) rebuilds it and must predict exactly what the trained model did.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import tiny_hf

import transferkit as tk
from transferkit.core.specs import Preset

pytest.importorskip("peft")
pytest.importorskip("transformers")


@pytest.fixture
def isolated():
    from transferkit.core import registry as reg

    yield
    reg.set_registry(None)


def _adapters_trained_and_saved(run, folder) -> None:
    from safetensors import safe_open

    assert run.model.plan.strategy == "lora" and run.model.backbone.lora["r"] == 2
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        b_keys = [k for k in weights.keys() if "lora_B" in k]
        assert b_keys
        # lora_B starts at zero: a non-zero one shows the adapters trained and were saved, not re-initialised.
        assert any(weights.get_tensor(k).abs().sum() > 0 for k in b_keys)
    meta = json.loads((folder / "transferkit.json").read_text())
    assert "lora" not in meta["backbone"]  # the plan is the one record of the adapters


def _same_predictions(run, folder, items) -> None:
    here = run.model.predict(items)
    fresh = tiny_hf.predict_in_fresh_process(folder, [str(i) for i in items])
    assert [label for label, _ in fresh] == [p["label"] for p in here]
    np.testing.assert_allclose([s for _, s in fresh], [[p["scores"][k] for k in run.model.labels] for p in here],
                               atol=1e-5)


def test_vision_lora_artifact_reloads_in_a_fresh_process(isolated, tmp_path):
    tiny_hf.plugin_registry("transferkit.plugins.vision", "vision")
    vit = tiny_hf.build_tiny_vit(tmp_path / "vit")
    images = tiny_hf.make_images(tmp_path / "images")
    preset = Preset(id="vision/tiny", domain="vision", description="tiny", preprocess={"resolution": 32})
    run = tk.fit("vision", images, model=vit, preset=preset, strategy="lora", out=tmp_path / "m", epochs=2,
                 batch_size=4, lr=1e-2, lora_r=2, lora_alpha=4, lora_dropout=0.0, val_fraction=0.34, patience=0,
                 seed=0)
    _adapters_trained_and_saved(run, tmp_path / "m")
    _same_predictions(run, tmp_path / "m", sorted((tmp_path / "images").rglob("*.png"))[:4])


def test_nlp_lora_artifact_reloads_in_a_fresh_process(isolated, tmp_path):
    tiny_hf.plugin_registry("transferkit.plugins.nlp", "nlp")
    bert = tiny_hf.build_tiny_bert(tmp_path / "bert")
    data = tiny_hf.make_reviews(tmp_path / "reviews.csv")
    preset = Preset(id="nlp/tiny", domain="nlp", description="tiny", head={"pooling": "mean"})
    run = tk.fit("nlp", data, model=bert, preset=preset, strategy="lora", out=tmp_path / "m", epochs=2, batch_size=8,
                 lr=1e-2, lora_r=2, lora_alpha=4, lora_dropout=0.0, patience=0, seed=0,
                 read_options={"text_cols": ["review"], "label_col": "sentiment"})
    _adapters_trained_and_saved(run, tmp_path / "m")
    _same_predictions(run, tmp_path / "m", ["good film", "awful movie", "the film was fine"])


def test_a_lora_artifact_as_a_starting_point_has_its_adapters_merged(isolated, tmp_path):
    tiny_hf.plugin_registry("transferkit.plugins.nlp", "nlp")
    bert = tiny_hf.build_tiny_bert(tmp_path / "bert")
    data = tiny_hf.make_reviews(tmp_path / "reviews.csv")
    preset = Preset(id="nlp/tiny", domain="nlp", description="tiny", head={"pooling": "mean"})
    options = {"text_cols": ["review"], "label_col": "sentiment"}
    tk.fit("nlp", data, model=bert, preset=preset, strategy="lora", out=tmp_path / "first", epochs=1, batch_size=8,
           lr=1e-2, lora_r=2, lora_alpha=4, lora_dropout=0.0, patience=0, seed=0, read_options=options)
    start = tk.select("nlp", model=tmp_path / "first", preset=preset)
    batch = start.domain.collate([start.domain.dataset(start.backbone, ["good film"], None, preset, train=False)[0]])[0]
    start.backbone.eval()
    before = start.backbone(batch).detach()
    model = tk.configure(start, ["neg", "pos"], strategy="full")
    assert not any("lora_" in name for name, _ in model.named_parameters())
    model.backbone.eval()
    np.testing.assert_allclose(model.backbone(batch).detach().numpy(), before.numpy(), atol=1e-5)
    assert any("LoRA adapters were merged" in note for note in model.plan.notes)
