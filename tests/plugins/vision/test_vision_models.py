"""Backbones on tiny models: layer groups, truncation, rebuild from config(), local Hugging Face folders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from transferkit.core.specs import ModelSource
from transferkit.errors import ArtifactError, UsageError



def assert_groups_cover_every_parameter_once(backbone):
    seen: dict[int, str] = {}
    for group in backbone.layer_groups():
        assert getattr(group, "_tk_name", ""), "every group is named"
        params = list(group.parameters())
        assert params, f"group {group._tk_name} is empty"
        for p in params:
            assert id(p) not in seen, f"parameter in both {seen[id(p)]} and {group._tk_name}"
            seen[id(p)] = group._tk_name
    assert set(seen) == {id(p) for p in backbone.parameters()}


def assert_same_architecture(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(sa[k].shape == sb[k].shape for k in sa)


def rebuild(domain, backbone, folder: Path):
    """What the core does at load time: save files, rebuild from config(), load the weights."""
    domain.save_backbone_files(backbone, folder)
    config = json.loads(json.dumps(backbone.config()))  # it goes through transferkit.json
    rebuilt = domain.rebuild_backbone(config, folder)
    assert rebuilt.lora is None  # adapters are the core's to re-apply (from the plan), never the domain's
    if backbone.lora:
        rebuilt.apply_lora(backbone.lora["r"], backbone.lora["alpha"], backbone.lora["dropout"])
    assert_same_architecture(backbone, rebuilt)
    rebuilt.load_state_dict(backbone.state_dict())
    return rebuilt


def outputs_match(a, b, size=32):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    a.eval(), b.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


# --------------------------------------------------------------------------- EfficientNet-Lite
@pytest.fixture(scope="module")
def effnet():
    from transferkit.plugins.vision.models import EfficientNetLiteBackbone

    return EfficientNetLiteBackbone("efficientnet-lite0")  # architecture only: no weights needed here


def test_efficientnet_groups_and_features(effnet):
    names = [g._tk_name for g in effnet.layer_groups()]
    assert names == ["stem", *[f"stage{i}" for i in range(1, 8)], "head"]
    assert_groups_cover_every_parameter_once(effnet)
    assert not any(k.startswith("net._fc") for k in effnet.state_dict())  # ImageNet classifier removed
    effnet.eval()
    with torch.no_grad():
        assert effnet(torch.zeros(1, 3, 64, 64)).shape == (1, 1280)
        assert effnet(torch.zeros(1, 3, 72, 96)).shape == (1, 1280)  # any input size ("same" padding per input)


@pytest.mark.parametrize("n, dim, groups", [(1, 320, 8), (2, 192, 7), (3, 112, 6)])
def test_efficientnet_truncate_and_rebuild(tmp_path, vision_domain, n, dim, groups):
    from transferkit.plugins.vision.models import EfficientNetLiteBackbone

    bb = EfficientNetLiteBackbone("efficientnet-lite0")
    bb.truncate(n)
    assert bb.feature_dim == dim and len(bb.layer_groups()) == groups
    assert_groups_cover_every_parameter_once(bb)
    with torch.no_grad():
        assert bb.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, dim)
    outputs_match(bb, rebuild(vision_domain, bb, tmp_path))


def test_efficientnet_truncate_everything_is_refused(effnet):
    with pytest.raises(UsageError, match="remove_last"):
        effnet.truncate(len(effnet.layer_groups()))


def test_frozen_blocks_have_no_stochastic_depth(effnet):
    # In train mode a frozen backbone must give the features of eval mode (BatchNorm kept in eval,
    # as TransferModel does): otherwise the feature cache and the training loop would disagree.
    for p in effnet.parameters():
        p.requires_grad = False
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = effnet.eval()(x)  # the features the cache stores
    effnet.train()
    for m in effnet.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    with torch.no_grad():
        torch.testing.assert_close(effnet(x), expected)  # train mode (frozen) against eval mode
    for p in effnet.parameters():
        p.requires_grad = True
    effnet.eval()


def test_efficientnet_pooling_choice(vision_domain):
    from transferkit.plugins.vision.models import EfficientNetLiteBackbone

    assert EfficientNetLiteBackbone(pooling="max").config()["pooling"] == "max"
    with pytest.raises(UsageError, match="CLS"):
        EfficientNetLiteBackbone(pooling="cls")


def test_package_weights_file_loads_safely(tmp_path, effnet):
    from transferkit.plugins.vision.models import EfficientNetLiteBackbone

    good = {k.removeprefix("net."): v for k, v in effnet.state_dict().items()}
    good["_fc.weight"], good["_fc.bias"] = torch.zeros(1000, 1280), torch.zeros(1000)  # as the package ships it
    torch.save(good, tmp_path / "w.pth")
    loaded = EfficientNetLiteBackbone.pretrained(weights_path=tmp_path / "w.pth")
    outputs_match(effnet, loaded, size=64)
    torch.save({"something": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(UsageError, match="does not match"):
        EfficientNetLiteBackbone.pretrained(weights_path=tmp_path / "bad.pth")


# --------------------------------------------------------------------------- Hugging Face folders
@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory):
    pytest.importorskip("transformers")
    from transformers import BertConfig, BertModel, ResNetConfig, ResNetForImageClassification, ViTConfig, ViTModel

    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    resnet = ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                                       layer_type="basic", num_labels=5))
    resnet.save_pretrained(root / "resnet")
    (root / "resnet" / "preprocessor_config.json").write_text(json.dumps(
        {"image_mean": [0.5, 0.4, 0.3], "image_std": [0.2, 0.2, 0.2], "do_normalize": True}))
    vit = ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=32))
    vit.save_pretrained(root / "vit")
    BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=16)).save_pretrained(root / "bert")
    (root / "empty").mkdir()
    return root


def test_hf_resnet_folder(hf_folders, vision_domain, preset, tmp_path):
    from transferkit.plugins.vision.models import HFImageBackbone

    bb = vision_domain.load_backbone(hf_folders / "resnet", preset())
    assert isinstance(bb, HFImageBackbone) and bb.feature_dim == 16
    assert [g._tk_name for g in bb.layer_groups()] == ["embeddings", "block0", "block1"]
    assert_groups_cover_every_parameter_once(bb)
    assert bb.normalization.mean == pytest.approx((127.5, 102.0, 76.5))  # from preprocessor_config.json
    assert not any("classifier" in k for k in bb.state_dict())  # the 5-class head is not the backbone
    rebuilt = rebuild(vision_domain, bb, tmp_path)
    outputs_match(bb, rebuilt)
    assert (tmp_path / "backbone" / "config.json").is_file()
    assert rebuilt.normalization == bb.normalization


def test_hf_resnet_truncate(hf_folders, vision_domain, preset, tmp_path):
    bb = vision_domain.load_backbone(hf_folders / "resnet", preset())
    bb.truncate(1)
    assert bb.feature_dim == 8 and [g._tk_name for g in bb.layer_groups()] == ["embeddings", "block0"]
    assert_groups_cover_every_parameter_once(bb)
    outputs_match(bb, rebuild(vision_domain, bb, tmp_path))


def test_hf_vit_folder_uses_cls_token_and_drops_dense_pooler(hf_folders, vision_domain, preset, tmp_path):
    bb = vision_domain.load_backbone(hf_folders / "vit", preset())
    assert bb.feature_dim == 16 and bb.drop_pooler
    assert [g._tk_name for g in bb.layer_groups()] == ["embeddings", "block0", "block1", "final"]
    assert_groups_cover_every_parameter_once(bb)
    assert not any(k.startswith("model.pooler") for k in bb.state_dict())
    x = torch.randn(2, 3, 32, 32)
    bb.eval()
    with torch.no_grad():
        hidden = bb.model(pixel_values=x).last_hidden_state
        torch.testing.assert_close(bb(x), hidden[:, 0])
        assert bb(torch.randn(1, 3, 48, 48)).shape == (1, 16)  # other resolutions: position embeddings interpolated
    assert bb.normalization.mean == pytest.approx((123.675, 116.28, 103.53))  # no processor file: ImageNet
    outputs_match(bb, rebuild(vision_domain, bb, tmp_path))
    bb.truncate(2)  # the final norm, then the last block
    assert [g._tk_name for g in bb.layer_groups()] == ["embeddings", "block0"]
    assert_groups_cover_every_parameter_once(bb)
    outputs_match(bb, rebuild(vision_domain, bb, tmp_path / "t"))


def test_hf_vit_mean_pooling(hf_folders, vision_domain, preset):
    bb = vision_domain.load_backbone(hf_folders / "vit", preset(head={"pooling": "mean"})).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(bb(x), bb.model(pixel_values=x).last_hidden_state.mean(1))


def test_rebuild_without_the_config_file_uses_the_embedded_config(hf_folders, vision_domain, preset, tmp_path):
    bb = vision_domain.load_backbone(hf_folders / "resnet", preset())
    rebuilt = vision_domain.rebuild_backbone(json.loads(json.dumps(bb.config())), tmp_path)  # no backbone/ here
    assert_same_architecture(bb, rebuilt)


@pytest.mark.parametrize("folder, message", [("bert", "does not take images"), ("empty", "no config.json"),
                                             ("missing", "not found")])
def test_folders_that_are_not_image_models_are_refused(hf_folders, vision_domain, preset, folder, message):
    with pytest.raises(UsageError, match=message) as err:
        vision_domain.load_backbone(hf_folders / folder, preset())
    assert err.value.fix


def test_hub_model_offline_gives_a_clear_error(vision_domain, preset, monkeypatch):
    pytest.importorskip("transformers")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # fail fast instead of retrying
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = ModelSource(id="vision/resnet-50.in1k", domain="vision", description="d", kind="hub",
                         location="microsoft/resnet-50-surely-not-cached")
    with pytest.raises(UsageError, match="cannot load the Hugging Face hub model") as err:
        vision_domain.load_backbone(source, preset())
    assert "efficientnet-lite0" in err.value.fix


def test_local_catalog_entry(hf_folders, vision_domain, preset):
    source = ModelSource(id="vision/my-resnet.local", domain="vision", description="d", kind="local",
                         location=str(hf_folders / "resnet"))
    assert vision_domain.load_backbone(source, preset()).feature_dim == 16


# --------------------------------------------------------------------------- small CNN
def test_small_cnn_scratch(vision_domain, preset, tmp_path):
    from transferkit.plugins.vision.models import SmallCNNBackbone

    source = ModelSource(id="vision/small-cnn.scratch", domain="vision", description="d", kind="scratch",
                         location="small-cnn", options={"channels": [4, 8, 16]})
    bb = vision_domain.load_backbone(source, preset())
    assert isinstance(bb, SmallCNNBackbone) and bb.feature_dim == 16
    assert [g._tk_name for g in bb.layer_groups()] == ["block0", "block1", "block2"]
    assert_groups_cover_every_parameter_once(bb)
    # The same seed gives the same initial weights: baseline runs compare like with like.
    again = vision_domain.load_backbone(source, preset())
    outputs_match(bb, again)
    bb.truncate(1)
    assert bb.feature_dim == 8
    outputs_match(bb, rebuild(vision_domain, bb, tmp_path))


def test_unknown_backbone_type_in_an_artifact(vision_domain, tmp_path):
    with pytest.raises(ArtifactError, match="unknown vision backbone type"):
        vision_domain.rebuild_backbone({"type": "mystery"}, tmp_path)


def test_lora_on_a_vit_folder(hf_folders, vision_domain, preset, tmp_path):
    pytest.importorskip("peft")
    bb = vision_domain.load_backbone(hf_folders / "vit", preset())
    bb.apply_lora(r=2, alpha=4, dropout=0.0)
    lora = bb.lora_parameters()
    assert lora and all(p.shape[0] == 2 or p.shape[1] == 2 for p in lora)
    assert_groups_cover_every_parameter_once(bb)  # adapters live inside the encoder blocks' groups
    with torch.no_grad():
        for p in lora:
            p.add_(0.1)  # trained adapters: make sure they are saved and rebuilt, not re-initialised
    outputs_match(bb, rebuild(vision_domain, bb, tmp_path))


def test_lora_on_a_cnn_is_refused(hf_folders, vision_domain, preset, effnet):
    pytest.importorskip("peft")
    with pytest.raises(UsageError, match="attention layers"):
        vision_domain.load_backbone(hf_folders / "resnet", preset()).apply_lora(2, 4, 0.0)
    with pytest.raises(UsageError, match="transformer"):
        effnet.apply_lora(2, 4, 0.0)
