"""The shared Hugging Face backbone base: one pooler rule, one LoRA-target rule, one rebuild, for vision and nlp."""
from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from transformers import BertConfig, ResNetConfig, ViTConfig  # noqa: E402

from transferkit.core.hf_backbone import HFBackbone, drop_pooler, lora_target_names, model_from_config  # noqa: E402
from transferkit.errors import UsageError  # noqa: E402

BERT = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
VIT = ViTConfig(image_size=16, patch_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=16)
RESNET = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")


def test_both_domains_wrappers_share_the_base():
    from transferkit.plugins.nlp.backbone import TextBackbone
    from transferkit.plugins.vision.models import HFImageBackbone

    assert issubclass(TextBackbone, HFBackbone) and issubclass(HFImageBackbone, HFBackbone)


def test_lora_targets_one_rule_for_text_and_images():
    assert lora_target_names(model_from_config(BERT)) == ["query", "value"]  # peft's table
    # Not in peft's table: found by name (transformers 5 calls ViT's projections q_proj/v_proj, 4 query/value).
    assert lora_target_names(model_from_config(VIT)) in (["query", "value"], ["q_proj", "v_proj"])
    assert lora_target_names(model_from_config(RESNET)) == []  # a CNN: the core refuses the strategy


def test_a_dense_pooler_goes_and_a_parameter_free_one_stays():
    vit, resnet = model_from_config(VIT), model_from_config(RESNET)
    assert drop_pooler(vit) and vit.pooler is None
    assert not drop_pooler(resnet) and resnet.pooler is not None
    assert drop_pooler(resnet, only_if_dense=False) and resnet.pooler is None


def test_rebuilding_from_a_saved_config_never_runs_remote_code(tmp_path):
    data = {**BERT.to_dict(), "auto_map": {"AutoModel": "evil.Model"}}
    with pytest.raises(UsageError, match="remote code"):
        model_from_config(data, where=tmp_path)
    assert model_from_config(BERT.to_dict()).config.hidden_size == 8
