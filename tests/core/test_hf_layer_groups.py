"""One layer-group rule for every Hugging Face backbone (vision and nlp alike): every parameter in exactly one
group, shared inputs below the blocks, final norms above them."""
from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from transformers import CLIPVisionConfig, DebertaV2Config, DistilBertConfig, T5Config  # noqa: E402

from transferkit.core.hf_backbone import HFBackbone, model_from_config  # noqa: E402


class _Plain(HFBackbone):
    def __init__(self, model):
        super().__init__()
        self.model = model


def _groups(config) -> dict[str, set[str]]:
    backbone = _Plain(model_from_config(config))
    names = {id(p): n for n, p in backbone.model.named_parameters()}
    groups = {g._tk_name: [names[id(p)] for p in g.parameters()] for g in backbone.layer_groups()}
    flat = [n for members in groups.values() for n in members]
    assert sorted(flat) == sorted(names.values())  # every parameter once, none twice
    return {k: set(v) for k, v in groups.items()}


def test_both_domain_wrappers_use_the_core_layer_groups():
    from transferkit.plugins.nlp.backbone import TextBackbone
    from transferkit.plugins.vision.models import HFImageBackbone

    for cls in (TextBackbone, HFImageBackbone):
        assert cls.layer_groups is HFBackbone.layer_groups and cls.encoder_blocks is HFBackbone.encoder_blocks


def test_relative_positions_inside_the_encoder_stay_below_the_layers():
    config = DebertaV2Config(vocab_size=30, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=16, relative_attention=True, position_buckets=8, max_relative_positions=16)
    groups = _groups(config)
    assert list(groups) == ["embeddings", "encoder.layer.0", "encoder.layer.1"]
    assert any("rel_embeddings" in n for n in groups["embeddings"])


def test_final_norms_go_on_top_and_pre_norms_below():
    clip = _groups(CLIPVisionConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                                    image_size=16, patch_size=8))
    assert [k.rpartition("encoder.")[2] for k in clip] == ["embeddings", "layers.0", "layers.1", "final"]
    assert all("post_layernorm" in n for n in clip["final"])
    assert any("pre_layrnorm" in n for n in clip["embeddings"])
    t5 = _groups(T5Config(vocab_size=30, d_model=8, d_kv=4, d_ff=16, num_layers=2, num_heads=2))
    assert any("encoder.final_layer_norm" in n for n in t5["final"])


def test_blocks_outside_the_known_paths_are_found():
    groups = _groups(DistilBertConfig(vocab_size=30, dim=8, n_layers=2, n_heads=2, hidden_dim=16))
    assert list(groups) == ["embeddings", "transformer.layer.0", "transformer.layer.1"]
