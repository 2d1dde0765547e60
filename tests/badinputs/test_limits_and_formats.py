"""Size caps read from headers (images and volumes), images that are odd but valid (read, not refused), and
the manifest rules the image and medical readers now share."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from corpus import _dicom, _nifti, jpeg_bytes, png_bomb_bytes, png_bytes
from PIL import Image

from transferkit.datasets import images, limits, medical
from transferkit.datasets.manifest import read_manifest_rows
from transferkit.errors import DataError


# ---------------------------------------------------------------------------- caps
def test_default_caps_are_well_above_real_scans():
    assert limits.max_pixels() >= 178_956_970  # PIL's own bomb limit
    assert limits.max_voxels() >= 512 * 512 * 2000  # a 2000-slice CT


def test_pixel_cap_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "p.png"
    path.write_bytes(png_bytes((100, 100)))
    assert images.check_image(path) is None
    monkeypatch.setenv(limits.PIXELS_ENV, "9999")
    assert "over the limit of 9,999" in images.check_image(path)


def test_a_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb_bytes(40_000, 40_000))

    def no_decoding(self, *args, **kwargs):  # pragma: no cover - reached only if the cap failed
        raise AssertionError("the pixel data were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    from PIL import PngImagePlugin

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding, raising=False)
    reason = images.check_image(path)
    assert "40000 x 40000 = 1,600,000,000 pixels" in reason and "max_pixels" in reason


def test_a_raised_pixel_cap_reaches_decoding(tmp_path):
    # The reader option raises the cap for the process, so the dataset that decodes later accepts the file.
    from transferkit.plugins.vision.preprocess import load_image

    path = tmp_path / "wide.png"
    Image.new("RGB", (20_000, 10), (1, 2, 3)).save(path)
    with pytest.raises(DataError, match="over the limit of 100,000"):
        with limits_env(limits.PIXELS_ENV, "100000"):
            load_image(path)
    with limits_env(limits.PIXELS_ENV, "100000"):
        assert limits.max_pixels({"max_pixels": 300_000}) == 300_000
        assert load_image(path).size == (20_000, 10)


class limits_env:  # noqa: N801 - used like a function
    """Set an environment variable for a block."""

    def __init__(self, name: str, value: str):
        self.name, self.value = name, value

    def __enter__(self):
        import os

        self.old = os.environ.get(self.name)
        os.environ[self.name] = self.value

    def __exit__(self, *exc):
        import os

        if self.old is None:
            os.environ.pop(self.name, None)
        else:
            os.environ[self.name] = self.old


def test_predict_refuses_a_bomb_with_the_file_named(tmp_path):
    from transferkit.plugins.vision.preprocess import load_image

    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb_bytes())
    with pytest.raises(DataError) as err:
        load_image(path)
    assert err.value.file == str(path) and "pixels" in err.value.message


@pytest.mark.parametrize("bad", ["0", "-5", "many", "true"])
def test_bad_cap_values_are_refused(bad):
    with pytest.raises(DataError, match="positive whole number"):
        limits.max_voxels({"max_voxels": bad})


def test_voxel_cap_on_nifti_dicom_and_npy_headers(tmp_path, monkeypatch):
    nifti = _nifti(tmp_path / "v.nii.gz", np.ones((10, 10, 10), np.float32))
    dicom = _dicom(tmp_path / "s.dcm", rows=8, cols=8)
    npy = tmp_path / "a.npy"
    np.save(npy, np.ones((10, 10), np.uint8))
    for path, kind in ((nifti, "nifti"), (dicom, "dicom"), (npy, "npy")):
        assert medical.check_item(path, kind) is None
        assert "over the limit of 50" in medical.check_item(path, kind, limit=50)
    monkeypatch.setenv(limits.VOXELS_ENV, "50")
    assert "over the limit of 50" in medical.check_item(nifti, "nifti")


def test_decoding_a_volume_checks_its_header_first(tmp_path, monkeypatch):
    pytest.importorskip("monai")
    from transferkit.plugins.medical.transforms import LoadMedicald

    path = _nifti(tmp_path / "big.nii.gz", np.random.default_rng(0).normal(size=(12, 12, 12)).astype(np.float32))
    assert LoadMedicald(spatial_dims=3)({"image": str(path)})["image"].shape == (1, 12, 12, 12)
    monkeypatch.setenv(limits.VOXELS_ENV, "1000")
    with pytest.raises(DataError, match="1,728 voxels, over the limit of 1,000") as err:
        LoadMedicald(spatial_dims=3)({"image": str(path)})
    assert err.value.file == str(path)


def test_a_nan_volume_is_refused_when_decoded(tmp_path):
    pytest.importorskip("monai")
    from transferkit.plugins.medical.transforms import LoadMedicald

    volume = np.random.default_rng(0).normal(size=(8, 8, 8)).astype(np.float32)
    volume[1, 2, 3] = np.nan
    path = _nifti(tmp_path / "nan.nii.gz", volume)
    with pytest.raises(DataError, match="NaN/inf") as err:
        LoadMedicald(spatial_dims=3)({"image": str(path)})
    assert err.value.file == str(path)


# ---------------------------------------------------------------------------- odd but valid images
def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def test_16_bit_cmyk_palette_and_grey_alpha_images_are_read_as_rgb(tmp_path):
    from transferkit.plugins.vision.preprocess import load_image

    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    deep = _save(Image.fromarray(np.full((6, 6), 65535, np.uint16)), root / "a" / "deep.png")
    cmyk = _save(Image.new("CMYK", (6, 6), (0, 0, 0, 0)), root / "a" / "cmyk.jpg", quality=95)
    palette = Image.new("P", (6, 6), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal = _save(palette, root / "b" / "pal.png")
    grey_alpha = _save(Image.new("LA", (6, 6), (80, 255)), root / "b" / "la.png")
    tiff16 = _save(Image.fromarray(np.full((6, 6), 32768, np.uint16)), root / "b" / "deep.tif")
    examples = images.read_images(root)
    assert sorted(Path(p).name for p in examples.items) == ["cmyk.jpg", "deep.png", "deep.tif", "la.png", "pal.png"]
    assert examples.skipped == []
    assert load_image(deep).getpixel((0, 0)) == (255, 255, 255)  # 16-bit scaled, not clipped
    assert load_image(tiff16).getpixel((0, 0)) == (128, 128, 128)
    assert all(abs(c - 255) <= 2 for c in load_image(cmyk).getpixel((0, 0)))  # CMYK 0,0,0,0 is white
    assert load_image(pal).getpixel((0, 0)) == (255, 0, 0)
    assert load_image(grey_alpha).getpixel((0, 0)) == (80, 80, 80)


def test_medical_reader_accepts_palette_and_16_bit_pngs(tmp_path):
    root = tmp_path / "xr"
    for label, mode, value in (("a", "P", 3), ("b", "I;16", 40000)):
        (root / label).mkdir(parents=True)
        image = Image.new("P", (8, 8), value) if mode == "P" else Image.fromarray(np.full((8, 8), value, np.uint16))
        image.save(root / label / "x.png")
    assert len(medical.read_medical(root)) == 2


# ---------------------------------------------------------------------------- manifests
def _layout(tmp_path: Path) -> Path:
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    for name in ("a0", "a1", "b0", "b1"):
        (tmp_path / "data" / "imgs" / f"{name}.jpg").write_bytes(jpeg_bytes(colour=(50 * int(name[1]) + 10, 9, 9)))
    (tmp_path / "outside.jpg").write_bytes(jpeg_bytes())
    return tmp_path / "data"


def test_manifest_with_bom_crlf_and_quoted_fields_is_read(tmp_path):
    root = _layout(tmp_path)
    text = '\ufeffpath,label\r\nimgs/a0.jpg,"ant, worker"\r\nimgs/a1.jpg,"ant, worker"\r\n"imgs/b0.jpg",bee\r\nimgs/b1.jpg,bee\r\n'
    (root / "m.csv").write_text(text, encoding="utf-8")
    examples = images.read_images(root / "m.csv")
    assert examples.counts() == {"ant, worker": 2, "bee": 2}


def test_outside_paths_are_allowed_only_on_request(tmp_path):
    root = _layout(tmp_path)
    text = f"path,label\nimgs/a0.jpg,ant\nimgs/a1.jpg,ant\nimgs/b0.jpg,bee\n{tmp_path / 'outside.jpg'},bee\n"
    (root / "m.csv").write_text(text)
    with pytest.raises(DataError, match="line 5: path .* points outside") as err:
        images.read_images(root / "m.csv")
    assert "allow_outside=true" in err.value.fix
    examples = images.read_images(root / "m.csv", options={"allow_outside": "true"})
    assert str(tmp_path / "outside.jpg") in examples.items


@pytest.mark.parametrize("raw", ["../outside.jpg", "imgs/../../outside.jpg", "/etc/hostname", "~/x.jpg"])
def test_escaping_paths_are_refused_the_same_way_by_both_readers(tmp_path, raw):
    root = _layout(tmp_path)
    (root / "m.csv").write_text(f"path,label\nimgs/a0.jpg,a\n{raw},b\n")
    for read in (images.read_images, medical.read_medical):
        with pytest.raises(DataError, match="line 3: path .* points outside the manifest's folder"):
            read(root / "m.csv")


def test_paths_that_only_pass_through_a_parent_stay_inside(tmp_path):
    root = _layout(tmp_path)
    manifest = read_manifest_rows(_write(root / "m.csv", "path,label\nimgs/../imgs/a0.jpg,a\n./imgs/b0.jpg,b\n"))
    assert [r.path for r in manifest.rows] == [root / "imgs" / "a0.jpg", root / "imgs" / "b0.jpg"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_both_readers_agree_on_a_missing_file(tmp_path):
    root = _layout(tmp_path)
    manifest = _write(root / "m.csv", "path,label\nimgs/a0.jpg,a\nimgs/b0.jpg,b\nimgs/gone.jpg,b\n")
    for read in (images.read_images, medical.read_medical):
        with pytest.raises(DataError, match=r"'imgs/gone.jpg' \(line 4\)"):
            read(manifest)
        examples = read(manifest, options={"bad_rows": "skip"})
        assert len(examples) == 2 and any("gone.jpg" in s.item and "line 4" in s.reason for s in examples.skipped)


def test_both_readers_agree_on_an_empty_label(tmp_path):
    root = _layout(tmp_path)
    manifest = _write(root / "m.csv", "path,label\nimgs/a0.jpg,a\nimgs/b0.jpg,b\nimgs/b1.jpg,\n")
    for read in (images.read_images, medical.read_medical):
        with pytest.raises(DataError, match="line 4: empty label"):
            read(manifest)
        assert len(read(manifest, options={"bad_rows": "skip"})) == 2


def test_a_symlink_placed_in_the_folder_is_the_users_choice(tmp_path):
    root = _layout(tmp_path)
    (root / "linked.jpg").symlink_to(tmp_path / "outside.jpg")
    manifest = read_manifest_rows(_write(root / "m.csv", "path,label\nlinked.jpg,a\n"))
    assert manifest.rows[0].path == root / "linked.jpg"


def test_npz_item_size_is_read_from_the_array_header(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, train_images=np.zeros((4, 10, 10), np.uint8), train_labels=np.array([0, 1, 0, 1]))
    assert len(medical.read_medical(path)) == 4
    with pytest.raises(DataError, match="100 values per image, over the limit of 99"):
        medical.read_medical(path, options={"max_voxels": 99})
