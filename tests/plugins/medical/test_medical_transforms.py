"""The MONAI transform chain: every reader, channel handling, intensity, augmentation axes, clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from medfiles import blob_volume, write_dicom_series, write_dicom_slice, write_nifti, write_png

from transferkit.errors import DataError
from transferkit.plugins.medical.models import MedicalEfficientNetLite, MonaiBackbone
from transferkit.plugins.medical.transforms import MedicalDataset, build_transforms

TINY = {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [4, 8, 16, 32]}


@pytest.fixture(scope="module")
def lite():
    return MedicalEfficientNetLite("efficientnet-lite0")  # random weights: only its input spec is used


@pytest.fixture(scope="module")
def net3d():
    return MonaiBackbone("resnet", spatial_dims=3, in_channels=1, options=TINY, image_size=[16])


def _image(chain, item):
    return chain({"image": item, "source": "test item"})["image"]


def test_grey_npz_item_is_resized_and_scaled_for_the_imagenet_backbone(lite):
    x = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    out = _image(build_transforms(lite, {"image_size": 56}, None), x)
    # One channel (the backbone replicates it), upsampled like torch's bilinear, on (255 x - 127) / 128.
    expected = torch.nn.functional.interpolate(torch.tensor(x, dtype=torch.float32)[None, None], size=(56, 56),
                                               mode="bilinear", align_corners=False)[0]
    assert out.shape == (1, 56, 56) and out.dtype == torch.float32
    assert torch.allclose(out, (expected - 127) / 128, atol=1e-5)


def test_png_reads_the_same_way_up_as_the_npz_array(tmp_path, lite):
    x = np.arange(28 * 20, dtype=np.uint16).reshape(28, 20) % 251
    chain = build_transforms(lite, {"image_size": [28, 20]}, None)
    from_png = _image(chain, str(write_png(tmp_path / "a.png", x)))
    from_array = _image(chain, x.astype(np.uint8))
    assert torch.equal(from_png, from_array)  # rows stay rows: a model trained on npz sees PNGs correctly


def test_rgb_png_keeps_colour_and_rgba_drops_alpha(tmp_path, lite):
    from PIL import Image

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "c.png")
    out = _image(build_transforms(lite, {"image_size": 8}, None), str(tmp_path / "c.png"))
    assert out.shape == (3, 8, 8)
    assert out[0].mean() > 0.9 and out[1].mean() < -0.9  # red stays red


def test_nifti_and_dicom_series_give_the_same_volume(tmp_path, net3d):
    volume = blob_volume(1)
    chain = build_transforms(net3d, {"intensity": "range", "intensity_range": [-1000, 1000]}, None)
    from_nifti = _image(chain, str(write_nifti(tmp_path / "v.nii.gz", volume.astype(np.int16))))
    series = _image(chain, str(write_dicom_series(tmp_path / "series", volume.astype(np.int16))))
    assert from_nifti.shape == series.shape == (1, 16, 16, 16)
    # Same voxels up to the axis convention: the slice order is restored from positions, not file names.
    assert torch.allclose(from_nifti.flatten().sort().values, series.flatten().sort().values, atol=1e-6)
    assert 0.0 <= float(series.min()) and float(series.max()) <= 1.0  # HU window mapped to 0..1


def test_ct_window_clips_to_the_range(net3d):
    volume = np.linspace(-2000, 2000, 16**3, dtype=np.float32).reshape(16, 16, 16)
    out = _image(build_transforms(net3d, {"intensity": "range", "intensity_range": [-1000, 400]}, None), volume)
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0
    assert (out == 0).float().mean() > 0.2  # air and below clipped, not stretched


def test_single_dicom_file_is_a_2d_image(tmp_path, lite):
    pixels = (np.arange(64, dtype=np.int16).reshape(8, 8) * 10)
    chain = build_transforms(lite, {"image_size": 8, "intensity": "percentile", "percentiles": [0, 100]}, None)
    out = _image(chain, str(write_dicom_slice(tmp_path / "xray.dcm", pixels)))
    assert out.shape == (1, 8, 8)
    assert out[0, 0, 0] < out[0, 0, -1] < out[0, -1, 0]  # rows, columns as stored (not transposed)


def test_flips_only_on_the_axes_the_preset_allows(lite):
    x = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    base = _image(build_transforms(lite, {"image_size": 16}, None), x)
    chain = build_transforms(lite, {"image_size": 16}, {"flip_axes": [1], "flip_prob": 1.0})
    flipped = _image(chain, x)
    assert torch.equal(flipped, base.flip(-1))  # left-right only; up-down never


def test_random_chain_changes_images_and_eval_chain_does_not(lite):
    x = np.random.default_rng(1).integers(0, 256, (32, 32)).astype(np.uint8)
    aug = {"rotate_degrees": 10, "zoom": 0.1, "contrast": 0.2, "prob": 1.0}
    train = build_transforms(lite, {"image_size": 32}, aug)
    train.set_random_state(seed=0)
    evaluation = build_transforms(lite, {"image_size": 32}, None)
    assert not torch.equal(_image(train, x), _image(train, x))
    assert torch.equal(_image(evaluation, x), _image(evaluation, x))


def test_dataset_caches_and_yields_pairs(lite):
    items = [np.full((8, 8), i, np.uint8) + np.eye(8, dtype=np.uint8) for i in range(3)]
    ds = MedicalDataset(items, [0, 1, 0], build_transforms(lite, {"image_size": 8}, None))
    image, target = ds[1]
    assert image.shape == (1, 8, 8) and target == 1 and len(ds) == 3
    assert MedicalDataset(items, None, build_transforms(lite, {"image_size": 8}, None))[0][1] == -1


def test_drawn_items_are_plain_tensors_and_monai_s_switch_is_put_back(lite):
    """Per item the chain runs on plain tensors: no metadata copied through every operation. MONAI's
    process-wide switch is as it was afterwards, for whoever else uses MONAI in the process."""
    from monai.data.meta_obj import get_track_meta

    items = [np.random.default_rng(i).integers(0, 256, (12, 12)).astype(np.uint8) for i in range(2)]
    aug = {"rotate_degrees": 10, "zoom": 0.1, "contrast": 0.2, "prob": 1.0}
    for augment in (aug, None):
        image, _ = MedicalDataset(items, [0, 1], build_transforms(lite, {"image_size": 16}, augment))[1]
        assert type(image) is torch.Tensor and image.shape == (1, 16, 16)
    assert get_track_meta()


def test_random_transforms_share_one_generator_reseeded_per_item(lite):
    """One generator for every random transform, reseeded per item from NumPy's (which core/seeding.py seeds
    per item and epoch): an item's augmentation repeats, also in a copy of the dataset such as a spawned
    DataLoader worker unpickles."""
    import pickle

    from monai.transforms import Randomizable

    items = [np.random.default_rng(i).integers(0, 256, (16, 16)).astype(np.uint8) for i in range(2)]
    aug = {"rotate_degrees": 10, "zoom": 0.1, "contrast": 0.2, "prob": 1.0}
    ds = MedicalDataset(items, [0, 1], build_transforms(lite, {"image_size": 16}, aug))
    randoms = [t for t in ds.data.transform.transforms if isinstance(t, Randomizable)]
    assert len(randoms) == 3 and all(t.R is ds.generator for t in randoms)

    def draw(dataset, seed):
        np.random.seed(seed)
        return dataset[0][0]

    first = draw(ds, 5)
    assert torch.equal(first, draw(ds, 5)) and not torch.equal(first, draw(ds, 6))
    copy = pickle.loads(pickle.dumps(ds))
    assert all(t.R is copy.generator for t in copy.data.transform.transforms if isinstance(t, Randomizable))
    assert torch.equal(draw(copy, 5), first)


# --------------------------------------------------------------------------- errors name the file
def test_nan_volume_is_reported_with_its_path(tmp_path, net3d):
    bad = blob_volume(0)
    bad[3, 3, 3] = np.nan
    path = write_nifti(tmp_path / "broken.nii.gz", bad)
    good = write_nifti(tmp_path / "good.nii.gz", blob_volume(1))
    with pytest.raises(DataError, match="NaN") as err:
        MedicalDataset([str(good), str(path)], [1, 0], build_transforms(net3d, {}, None))
    assert err.value.file == str(path)


def test_truncated_nifti_is_reported_with_its_path(tmp_path, net3d):
    full = write_nifti(tmp_path / "full.nii.gz", blob_volume(0)).read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(full[: len(full) // 3])
    with pytest.raises(DataError, match="cannot read this nifti") as err:
        MedicalDataset([str(tmp_path / "cut.nii.gz")], [0], build_transforms(net3d, {}, None))
    assert err.value.file == str(tmp_path / "cut.nii.gz") and "truncated" in err.value.fix
    assert "Traceback" not in str(err.value)


def test_blank_volume_and_wrong_dimension_are_refused(tmp_path, net3d, lite):
    with pytest.raises(DataError, match="blank"):
        MedicalDataset([str(write_nifti(tmp_path / "zeros.nii", np.zeros((8, 8, 8), np.float32)))], [0],
                       build_transforms(net3d, {}, None))
    with pytest.raises(DataError, match="3D image .* cannot go into a 2D network") as err:
        MedicalDataset([str(write_nifti(tmp_path / "v.nii", blob_volume(1)))], [0], build_transforms(lite, {}, None))
    assert "ct-3d" in err.value.fix


def test_preset_for_3d_with_a_2d_backbone_is_refused(lite):
    with pytest.raises(DataError, match="3D images but the backbone is a 2D network"):
        build_transforms(lite, {"spatial_dims": 3}, None)


def test_large_sets_are_cached_at_their_decoded_size(lite, monkeypatch, medical_registry):
    from transferkit.core.select import get_domain
    from transferkit.core.specs import Preset
    from transferkit.plugins.medical import domain as medical_domain
    from transferkit.plugins.medical.transforms import CacheBoundary, cached_bytes

    assert cached_bytes(lite, {}, 90_000) > 50 * 1024**3  # PathMNIST-sized at 224 px: must not be cached resized
    items = [np.random.default_rng(i).integers(0, 256, (28, 28)).astype(np.uint8) for i in range(4)]
    preset = Preset(id="medical/x", domain="medical", description="x", preprocess={"image_size": 32})
    dom = get_domain("medical", medical_registry)
    small = dom.dataset(lite, items, [0, 1, 0, 1], preset, train=False)
    monkeypatch.setattr(medical_domain, "CACHE_BUDGET_BYTES", 10)
    large = dom.dataset(lite, items, [0, 1, 0, 1], preset, train=False)
    assert not any(isinstance(t, CacheBoundary) for t in small.data.transform.transforms)
    assert any(isinstance(t, CacheBoundary) for t in large.data.transform.transforms)
    assert tuple(large.data._cache[0]["image"].shape) == (1, 28, 28)  # cached before the resize
    assert torch.equal(small[2][0], large[2][0])  # and the items are the same
