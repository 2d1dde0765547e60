"""One augmentation vocabulary for every domain: a name means one thing, and every domain refuses a bad value
the way the preset loader does (file, key, what is allowed)."""
from __future__ import annotations

import pytest

from transferkit.core.augment_spec import TERMS, augment_model, check_table
from transferkit.errors import UsageError


def _domain_keys():
    from transferkit.plugins.medical import settings as medical
    from transferkit.plugins.vision import preprocess as vision

    return {"vision": vision.AUGMENT_KEYS, "medical": medical.AUGMENT_KEYS}


def test_a_name_means_the_same_in_every_domain():
    for domain, keys in _domain_keys().items():
        for key, meaning in keys.items():
            assert key in TERMS, f"{domain} augments with {key!r}, which is not in the shared vocabulary"
            assert meaning == TERMS[key].meaning, f"{domain} gives {key!r} its own meaning"
    vision, medical = _domain_keys()["vision"], _domain_keys()["medical"]
    assert vision["contrast"] == medical["contrast"] and "gamma" not in vision["contrast"]


@pytest.mark.parametrize("parse", ["vision", "medical"])
def test_every_domain_refuses_a_flag_that_is_not_a_boolean(parse):
    from transferkit.plugins.medical.settings import AugmentSettings as MedicalAugment
    from transferkit.plugins.vision.preprocess import AugmentSettings as VisionAugment

    cls, key = (VisionAugment, "rot90") if parse == "vision" else (MedicalAugment, "rotate90")
    with pytest.raises(UsageError) as err:
        cls.parse({key: "yes"}, source="my.toml")
    assert err.value.file == "my.toml" and err.value.field == f"augment.{key}"
    assert err.value.fix == f"augment.{key} must be true or false"


def test_values_are_checked_without_coercion_and_errors_say_what_is_allowed():
    model = augment_model("Aug", ["hflip", "contrast", "random_resized_crop"])
    assert check_table(model, {"hflip": True, "random_resized_crop": True}, section="augment").hflip == 0.5
    for table, allowed in (({"hflip": "0.5"}, "a probability in [0, 1]"), ({"contrast": 1.5}, "a number in [0, 1]"),
                           ({"random_resized_crop": [0.9, 0.1]}, "[min, max] with 0.01 <= min <= max <= 1")):
        with pytest.raises(UsageError) as err:
            check_table(model, table, section="augment", source="p.toml")
        assert err.value.fix.startswith(f"augment.{next(iter(table))} must be {allowed}")
    with pytest.raises(UsageError, match="unknown key 'augment.hlfip'; did you mean: hflip"):
        check_table(model, {"hlfip": 0.5}, section="augment", source="p.toml")


def test_medical_contrast_scales_about_the_mean_and_gamma_is_its_own_key():
    np = pytest.importorskip("numpy")
    pytest.importorskip("monai")
    from transferkit.core.backbone import Backbone
    from transferkit.plugins.medical.transforms import build_transforms

    class Grey(Backbone):  # the contract's defaults, but one grey channel
        feature_dim, in_channels, default_image_size = 4, 1, [16]

    x = np.random.default_rng(0).integers(0, 256, (16, 16)).astype(np.uint8)
    plain = build_transforms(Grey(), {}, None)({"image": x, "source": "x"})["image"]
    chain = build_transforms(Grey(), {}, {"contrast": 0.5, "prob": 1.0})
    chain.set_random_state(seed=3)
    out = chain({"image": x, "source": "x"})["image"]
    assert float(out.mean()) == pytest.approx(float(plain.mean()), abs=1e-5)  # the mean stays
    assert abs(float(out.std()) - float(plain.std())) > 1e-3  # the spread changes
    gamma = build_transforms(Grey(), {}, {"gamma": 0.5, "prob": 1.0})
    gamma.set_random_state(seed=3)
    assert float(gamma({"image": x, "source": "x"})["image"].mean()) != pytest.approx(float(plain.mean()), abs=1e-3)


def test_nlp_tables_are_models_over_the_same_vocabulary():
    from typing import get_args

    from transferkit.plugins.nlp.domain import NLPDomain, NLPPreprocess
    from transferkit.plugins.nlp.tokenize import TRUNCATIONS

    assert NLPDomain.augment_keys == {"token_dropout": TERMS["token_dropout"].meaning}
    assert get_args(NLPPreprocess.model_fields["truncation"].annotation) == TRUNCATIONS
    with pytest.raises(UsageError) as err:
        check_table(NLPPreprocess, {"mask_urls": "yes"}, section="preprocess", source="t.toml")
    assert err.value.field == "preprocess.mask_urls" and err.value.fix == "preprocess.mask_urls must be true or false"
