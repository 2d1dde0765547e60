"""The transformer backbone: layer groups, pooling, token limits, LoRA, rebuild from an artifact config."""
from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch

import transferkit as tk
from transferkit.core.backbone import count_parameters
from transferkit.errors import MissingDependencyError
from transferkit.plugins.nlp.backbone import pool


def _batch(selection, texts):
    data = selection.domain.dataset(selection.backbone, texts, None, selection.preset, train=False)
    return selection.domain.collate([data[i] for i in range(len(data))])[0]


def test_layer_groups_cover_every_parameter_once(nlp_registry, tiny_bert):
    backbone = tk.select("nlp", model=tiny_bert).backbone
    groups = backbone.layer_groups()
    assert [g._tk_name for g in groups] == ["embeddings", "encoder.layer.0", "encoder.layer.1"]
    ids = [id(p) for g in groups for p in g.parameters()]
    assert len(ids) == len(set(ids)) == len(list(backbone.parameters()))
    assert sum(count_parameters(g) for g in groups) == count_parameters(backbone)
    assert backbone.model.pooler is None  # the NSP pooler is removed: it would get no gradient
    assert not any(k.startswith("model.pooler") for k in backbone.state_dict())


def test_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [50.0, 50.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert pool(hidden, mask, "mean").tolist() == [[2.0, 1.0]]
    assert pool(hidden, mask, "max").tolist() == [[3.0, 2.0]]
    assert pool(hidden, mask, "cls").tolist() == [[1.0, 0.0]]


def test_features_do_not_depend_on_batch_padding(nlp_registry, tiny_bert):
    sel = tk.select("nlp", model=tiny_bert)
    sel.backbone.eval()
    with torch.no_grad():
        alone = sel.backbone(_batch(sel, ["good film"]))
        padded = sel.backbone(_batch(sel, ["good film", "the movie was great fun and the price was good"]))
    assert alone.shape == (1, 32)
    torch.testing.assert_close(alone[0], padded[0], atol=1e-5, rtol=1e-4)


def test_auto_pooling_is_cls_for_bert_and_mean_for_sentence_transformers(nlp_registry, tiny_bert, tmp_path):
    assert tk.select("nlp", model=tiny_bert).backbone.pooling == "cls"
    st = tmp_path / "st"
    shutil.copytree(tiny_bert, st)
    (st / "1_Pooling").mkdir()
    (st / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (st / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 48}))
    backbone = tk.select("nlp", model=st).backbone
    assert backbone.pooling == "mean" and backbone.max_length == 48 and backbone.model_limit == 64


def test_preset_pooling_and_max_length_win(nlp_registry, tiny_bert):
    from transferkit.core.specs import Preset

    preset = Preset(id="nlp/t", domain="nlp", description="t", head={"pooling": "avg"},
                    preprocess={"max_length": 1000, "truncation": "left"})
    sel = tk.select("nlp", model=tiny_bert, preset=preset)
    assert sel.backbone.pooling == "mean"
    settings = sel.domain.text_settings(sel.backbone, sel.preset)
    assert settings["max_length"] == 64 and settings["truncation"] == "left"  # capped at the model limit
    batch = _batch(sel, [" ".join(["word"] * 200)])
    assert batch["input_ids"].shape == (1, 64)


def test_frozen_layers_run_in_inference_mode(nlp_registry, tiny_bert):
    model = tk.configure(tk.select("nlp", model=tiny_bert), ["a", "b"], strategy="linear-probe")
    model.train()
    dropouts = [m for m in model.backbone.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and not any(m.training for m in dropouts) and model.head.training
    gradual = tk.configure(tk.select("nlp", model=tiny_bert), ["a", "b"], strategy="gradual", milestones=[0])
    gradual.train()
    layers = gradual.backbone.model.encoder.layer
    assert layers[1].output.dropout.training and not layers[0].output.dropout.training


def test_layer_wise_decay_gives_lower_rates_to_lower_layers(nlp_registry, tiny_bert):
    model = tk.configure(tk.select("nlp", model=tiny_bert), ["a", "b"], strategy="full", backbone_lr=1e-4,
                         layer_decay=0.5)
    assert [round(g.lr, 8) for g in model.plan.groups] == [2.5e-05, 5e-05, 1e-04]


def test_lora_trains_only_adapters_and_keys_survive_a_rebuild(nlp_registry, tiny_bert, tmp_path):
    sel = tk.select("nlp", model=tiny_bert)
    model = tk.configure(sel, ["a", "b"], strategy="lora", lora_r=4, lora_alpha=8)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert any(n.startswith("head.") for n in trainable)
    assert sel.backbone.lora["targets"] == ["query", "value"]
    # What the core does when it loads an artifact of a LoRA run: rebuild, re-apply, load the weights.
    sel.domain.save_backbone_files(sel.backbone, tmp_path)
    rebuilt = sel.domain.rebuild_backbone(json.loads(json.dumps(sel.backbone.config())), tmp_path)
    rebuilt.apply_lora(4, 8, 0.1)
    assert set(rebuilt.state_dict()) == set(sel.backbone.state_dict())
    rebuilt.load_state_dict(sel.backbone.state_dict())
    sel.backbone.eval(), rebuilt.eval()
    batch = _batch(sel, ["good film", "bad"])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(batch), sel.backbone(batch))


def test_lora_without_peft_says_how_to_install(nlp_registry, tiny_bert, monkeypatch):
    backbone = tk.select("nlp", model=tiny_bert).backbone
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft -> ImportError
    with pytest.raises(MissingDependencyError) as err:
        backbone.apply_lora(8, 16, 0.1)
    assert "pip install 'transferkit[lora]'" in str(err.value)


def test_remove_last_drops_top_layers_and_rebuilds(nlp_registry, tiny_bert, tmp_path):
    sel = tk.select("nlp", model=tiny_bert)
    model = tk.configure(sel, ["a", "b"], strategy="full", remove_last=1)
    assert [g.name for g in model.plan.groups] == ["embeddings", "encoder.layer.0"]
    # The removed group is named as in the plan's group list (not its container type, ModuleList).
    assert model.plan.removed[-1] == "the last 1 layer group(s): encoder.layer.1"
    assert "ModuleList" not in model.plan.render()
    sel.domain.save_backbone_files(sel.backbone, tmp_path)
    rebuilt = sel.domain.rebuild_backbone(json.loads(json.dumps(sel.backbone.config())), tmp_path)
    assert set(rebuilt.state_dict()) == set(sel.backbone.state_dict())
    with pytest.raises(Exception, match="remove_last"):
        tk.configure(tk.select("nlp", model=tiny_bert), ["a", "b"], remove_last=2)


def test_rebuild_needs_the_tokenizer_files(nlp_registry, tiny_bert, tmp_path):
    from transferkit.errors import ArtifactError

    sel = tk.select("nlp", model=tiny_bert)
    with pytest.raises(ArtifactError, match="tokenizer"):
        sel.domain.rebuild_backbone(sel.backbone.config(), tmp_path)


def test_token_limit_of_roberta_style_positions():
    from types import SimpleNamespace

    from transferkit.plugins.nlp.backbone import model_token_limit

    roberta = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=514, model_type="roberta", pad_token_id=1))
    assert model_token_limit(roberta, SimpleNamespace(model_max_length=int(1e30))) == 512
    bert = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=512, model_type="bert"))
    assert model_token_limit(bert, SimpleNamespace(model_max_length=128)) == 128


# ------------------------------------------------------------------ the real all-MiniLM-L6-v2
@pytest.mark.real_weights
def test_default_model_is_minilm_from_the_package(nlp_registry, minilm):
    sel = tk.select("nlp")
    backbone = sel.backbone
    assert sel.source == "nlp/all-minilm-l6-v2" and sel.preset.id == "nlp/general"
    assert backbone.feature_dim == 384 and backbone.pooling == "mean" and backbone.model_limit == 512
    assert [g._tk_name for g in backbone.layer_groups()] == ["embeddings"] + [f"encoder.layer.{i}" for i in range(6)]
    texts = ["The stock market fell sharply today.", "Shares dropped on Wall Street.", "The striker scored twice."]
    backbone.eval()
    with torch.no_grad():
        emb = torch.nn.functional.normalize(backbone(_batch(sel, texts)), dim=-1)
    # Real sentence-encoder weights: two finance sentences are closer than finance and football.
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2
