"""Preprocessing: eval transform is deterministic, augmentation changes pixels, settings are validated."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
from PIL import Image

from transferkit.errors import UsageError
from transferkit.plugins.vision.preprocess import (
    AugmentSettings,
    EvalTransform,
    Normalization,
    PreprocessSettings,
    TrainTransform,
)


@pytest.fixture
def photo(tmp_path, make_image):
    return make_image(tmp_path / "p.jpg", (120, 80, 60), size=(64, 48))


def test_eval_transform_is_deterministic_and_sized(photo):
    t = EvalTransform(PreprocessSettings.parse({"resolution": 32}), Normalization.imagenet())
    a, b = t(photo), t(photo)
    assert a.shape == (3, 32, 32) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_eval_resize_then_center_crop():
    settings = PreprocessSettings.parse({"resolution": 224})
    assert (settings.resize, settings.resolution) == (256, 224)
    assert PreprocessSettings.parse({"resolution": 100, "crop_pct": 1.0}).resize == 100
    # A left half black / right half white image keeps its layout after a center crop.
    array = np.zeros((50, 100, 3), np.uint8)
    array[:, 50:] = 255
    out = EvalTransform(PreprocessSettings.parse({"resolution": 40, "crop_pct": 1.0}),
                        Normalization((0.0,) * 3, (255.0,) * 3))(array)
    assert out[:, :, :15].max() < 0.05 and out[:, :, 25:].min() > 0.95


@pytest.mark.parametrize("mode", ["pad", "stretch"])
def test_pad_and_stretch_keep_the_whole_image(mode):
    # A wide image with white 10-pixel bands at both ends: center-cropping would cut them away.
    array = np.zeros((40, 100, 3), np.uint8)
    array[:, :10] = array[:, -10:] = 255
    identity = Normalization((0.0,) * 3, (255.0,) * 3)
    settings = PreprocessSettings.parse({"resolution": 50, "resize_mode": mode})
    out = EvalTransform(settings, identity)(array)
    assert out.shape == (3, 50, 50)
    assert out[:, 25, :3].min() > 0.9 and out[:, 25, -3:].min() > 0.9  # both bands are there
    cropped = EvalTransform(PreprocessSettings.parse({"resolution": 50}), identity)(array)
    assert cropped[:, 25, :3].max() < 0.1
    if mode == "pad":  # letterbox bands above and below, filled with the mean colour
        assert out[:, 0, 25].tolist() == pytest.approx([0.0, 0.0, 0.0])


def test_efficientnet_normalisation_scales_raw_pixels():
    out = EvalTransform(PreprocessSettings.parse({"resolution": 16, "crop_pct": 1.0}),
                        Normalization.efficientnet())(np.full((16, 16, 3), 255, np.uint8))
    np.testing.assert_allclose(out, (255 - 127) / 128)


def test_normalisation_from_a_processor_config(tmp_path):
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5, 0.5, 0.5],
                                                                    "image_std": [0.5, 0.5, 0.5]}))
    norm = Normalization.from_processor_config(tmp_path)
    assert norm.mean == (127.5, 127.5, 127.5) and norm.std == (127.5, 127.5, 127.5)
    assert Normalization.from_processor_config(tmp_path / "none") == Normalization.imagenet()


def test_augmentation_changes_pixels_but_not_shape(photo):
    settings = PreprocessSettings.parse({"resolution": 32})
    augment = AugmentSettings.parse({"random_resized_crop": [0.3, 1.0], "hflip": 0.5, "rotation": 20,
                                     "brightness": 0.4, "contrast": 0.4, "saturation": 0.4})
    assert augment.is_random
    train = TrainTransform(settings, augment, Normalization.imagenet(), rng=random.Random(0))
    plain = EvalTransform(settings, Normalization.imagenet())(photo)
    outs = [train(photo) for _ in range(4)]
    assert all(o.shape == (3, 32, 32) for o in outs)
    assert all(not np.allclose(o, plain) for o in outs)
    assert not np.allclose(outs[0], outs[1])
    again = TrainTransform(settings, augment, Normalization.imagenet(), rng=random.Random(0))
    np.testing.assert_array_equal(again(photo), outs[0])  # seeded: reproducible


@pytest.mark.parametrize("key, flip", [("hflip", Image.Transpose.FLIP_LEFT_RIGHT),
                                       ("vflip", Image.Transpose.FLIP_TOP_BOTTOM)])
def test_flips(tmp_path, make_image, key, flip):
    photo = make_image(tmp_path / "square.png", (120, 80, 60), size=(48, 48))  # no odd crop margin
    settings = PreprocessSettings.parse({"resolution": 32, "crop_pct": 1.0})
    norm = Normalization.imagenet()
    flipped = TrainTransform(settings, AugmentSettings.parse({key: 1.0}), norm)(photo)
    expected = EvalTransform(settings, norm)(Image.open(photo).convert("RGB").transpose(flip))
    np.testing.assert_allclose(flipped, expected, atol=1e-5)


def test_vertical_flip_is_off_unless_asked():
    assert AugmentSettings.parse({"hflip": True}).vflip == 0.0
    assert AugmentSettings.parse({"hflip": True}).hflip == 0.5


def test_grayscale_option_gives_equal_channels(photo):
    out = EvalTransform(PreprocessSettings.parse({"resolution": 16, "grayscale": True}), Normalization((0.0,) * 3,
                                                                                                     (1.0,) * 3))(photo)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[1], out[2])


def test_no_augmentation_means_not_random():
    assert not AugmentSettings.parse({}).is_random
    assert not AugmentSettings.parse({"random_resized_crop": False, "hflip": 0, "brightness": 0.0}).is_random


@pytest.mark.parametrize("table, field", [
    ({"random_resized_crop": [0.9, 0.1]}, "augment.random_resized_crop"),
    ({"random_resized_crop": "big"}, "augment.random_resized_crop"),
    ({"hflip": 2}, "augment.hflip"),
    ({"rotation": -5}, "augment.rotation"),
])
def test_bad_augment_values_name_the_field(table, field):
    with pytest.raises(UsageError) as err:
        AugmentSettings.parse(table, source="my.toml")
    assert err.value.field == field and err.value.file == "my.toml" and err.value.fix


@pytest.mark.parametrize("table, field", [
    ({"resolution": "224"}, "preprocess.resolution"),
    ({"resolution": 224, "resize": 100}, "preprocess.resize"),
    ({"interpolation": "nearest-ish"}, "preprocess.interpolation"),
    ({"crop_pct": 3}, "preprocess.crop_pct"),
    ({"resize_mode": "zoom"}, "preprocess.resize_mode"),
])
def test_bad_preprocess_values_name_the_field(table, field):
    with pytest.raises(UsageError) as err:
        PreprocessSettings.parse(table, source="my.toml")
    assert err.value.field == field


def test_domain_dataset_yields_tensors_and_targets(image_folder, vision_domain, preset):
    import torch
    from torch.utils.data import DataLoader

    from transferkit.plugins.vision.models import SmallCNNBackbone

    ex = vision_domain.read(image_folder)
    bb = SmallCNNBackbone(channels=[4, 8])
    p = preset(preprocess={"resolution": 24}, augment={"hflip": 0.5, "random_resized_crop": [0.5, 1.0]})
    train = vision_domain.dataset(bb, ex.items, [0, 0, 0, 1, 1, 1], p, train=True)
    x, y = train[0]
    assert isinstance(x, torch.Tensor) and x.shape == (3, 24, 24) and x.dtype == torch.float32 and y == 0
    assert type(train.transform).__name__ == "TrainTransform"
    predict = vision_domain.dataset(bb, ex.items, None, p, train=False)
    assert predict[5][1] == -1 and type(predict.transform).__name__ == "EvalTransform"
    inputs, targets = next(iter(DataLoader(train, batch_size=4, collate_fn=vision_domain.collate)))
    assert inputs.shape == (4, 3, 24, 24) and targets.tolist() == [0, 0, 0, 1]
    assert vision_domain.has_random_augmentation(p)
    assert not vision_domain.has_random_augmentation(preset(augment={"hflip": 0, "vflip": False}))
