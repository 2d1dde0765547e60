"""The vision presets: every file validates, and each one makes the choices its industry needs."""
from __future__ import annotations

from pathlib import Path

import pytest

from transferkit.core.presets import preset_from_dict, read_preset_file, resolve_preset
from transferkit.errors import UsageError
from transferkit.plugins.vision import PRESET_DIR
from transferkit.plugins.vision.preprocess import AugmentSettings, PreprocessSettings

PRESET_FILES = sorted(PRESET_DIR.glob("*.toml"))


def load(name: str):
    return read_preset_file(PRESET_DIR / f"{name}.toml")


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: p.stem)
def test_every_preset_file_validates(path: Path, vision_domain):
    preset = read_preset_file(path)
    assert preset.domain == "vision" and preset.id == f"vision/{path.stem}"
    assert len(preset.description) > 200, "the description says what industry use it is for and why"
    assert preset.industry
    vision_domain.validate_preset(preset)


def test_the_expected_presets_exist():
    assert {"general", "wildlife", "manufacturing-defects", "retail-products"} <= {p.stem for p in PRESET_FILES}


def test_general_is_cacheable_and_the_domain_default(vision_registry):
    general = load("general")
    assert general.strategy == "linear-probe" and not AugmentSettings.parse(general.augment).is_random
    assert PreprocessSettings.parse(general.preprocess).resolution > 224  # measured: see the description
    assert vision_registry.domain("vision").default_preset == general.id


def test_wildlife_flips_horizontally_only_and_balances_classes():
    wildlife = load("wildlife")
    augment = AugmentSettings.parse(wildlife.augment)
    assert augment.hflip > 0 and augment.vflip == 0 and not augment.rot90
    assert augment.crop_scale and augment.brightness > 0
    assert wildlife.strategy == "freeze-unfreeze"
    assert wildlife.train.class_weights == "balanced" and wildlife.train.metric == "f1_macro"


def test_manufacturing_defects_choices():
    defects = load("manufacturing-defects")
    augment = AugmentSettings.parse(defects.augment)
    settings = PreprocessSettings.parse(defects.preprocess)
    assert settings.resolution > PreprocessSettings.parse(load("general").preprocess).resolution
    assert settings.resize_mode == "pad"  # no border cropped away: a defect may sit at the edge
    assert augment.hflip and augment.vflip and augment.rot90 and augment.rotation
    assert augment.crop_scale is None
    assert augment.brightness == augment.contrast == augment.saturation == 0
    assert defects.train.class_weights == "balanced" and defects.train.metric == "auroc"
    assert defects.threshold.policy == "min_sensitivity" and defects.threshold.positive == "defect"


def test_retail_products_never_mirror_packaging():
    augment = AugmentSettings.parse(load("retail-products").augment)
    assert augment.hflip == 0 and augment.vflip == 0


def test_unknown_preprocess_key_is_refused_naming_file_and_allowed_keys(vision_domain):
    preset = preset_from_dict({"id": "vision/mine", "domain": "vision", "description": "d",
                               "preprocess": {"resolutoin": 256}}, source="mine.toml")
    with pytest.raises(UsageError) as err:
        vision_domain.validate_preset(preset)
    assert err.value.file == "mine.toml" and err.value.field == "preprocess.resolutoin"
    assert "resolution" in err.value.fix


def test_bad_augment_value_is_refused(vision_domain):
    preset = preset_from_dict({"id": "vision/mine", "domain": "vision", "description": "d",
                               "augment": {"hflip": "yes"}}, source="mine.toml")
    with pytest.raises(UsageError) as err:
        vision_domain.validate_preset(preset)
    assert err.value.field == "augment.hflip"


def test_a_user_preset_can_extend_a_vision_preset(tmp_path, vision_registry, vision_domain):
    path = tmp_path / "my-traps.toml"
    path.write_text('id = "vision/my-traps"\ndomain = "vision"\ndescription = "our cameras"\n'
                    'extends = "vision/wildlife"\n[preprocess]\nresolution = 256\n[augment]\nrotation = 0\n')
    resolved = resolve_preset(read_preset_file(path), vision_registry.preset)
    vision_domain.validate_preset(resolved)
    assert resolved.preprocess["resolution"] == 256 and resolved.augment["rotation"] == 0
    assert resolved.augment["hflip"] == 0.5 and resolved.train.metric == "f1_macro"
