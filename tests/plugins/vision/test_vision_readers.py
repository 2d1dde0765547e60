"""Image readers: class folders, split folders, CSV manifests, and the files they must skip or refuse."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transferkit.datasets.images import check_image, list_images, read_images
from transferkit.errors import DataError


def test_class_folder_reads_labels_in_sorted_order(image_folder, vision_domain):
    ex = vision_domain.read(image_folder)
    assert ex.classes == ["ants", "bees"]
    assert ex.counts() == {"ants": 3, "bees": 3}
    assert all(Path(p).is_file() for p in ex.items)
    assert ex.skipped == []
    assert vision_domain.splits_in(image_folder) == []


def test_bad_files_are_skipped_with_a_reason(image_folder, make_image):
    ants = image_folder / "ants"
    (ants / "corrupt.jpg").write_bytes(b"this is not a jpeg at all")
    (ants / "empty.png").write_bytes(b"")
    good = make_image(ants / "big.jpg", (10, 200, 10), size=(200, 160))
    (ants / "truncated.jpg").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    Image.new("RGB", (30, 30), (128, 128, 128)).save(ants / "imageNotFound.gif")
    (ants / "notes.txt").write_text("field notes")
    (ants / ".DS_Store").write_bytes(b"\0\1")  # operating-system litter: ignored, not data

    ex = read_images(image_folder)
    reasons = {Path(s.item).name: s.reason for s in ex.skipped}
    assert set(reasons) == {"corrupt.jpg", "empty.png", "truncated.jpg", "imageNotFound.gif", "notes.txt"}
    assert "cannot decode" in reasons["corrupt.jpg"]
    assert "empty file" in reasons["empty.png"]
    assert "truncated" in reasons["truncated.jpg"] or "cannot decode" in reasons["truncated.jpg"]
    assert "placeholder" in reasons["imageNotFound.gif"]
    assert "not an image file" in reasons["notes.txt"]
    assert ex.counts() == {"ants": 4, "bees": 3}  # the three generated ants and big.jpg
    assert all(".DS_Store" not in item for item in ex.items)


@pytest.mark.real_data
def test_known_placeholder_is_recognised_by_content_whatever_its_name(tmp_path, hymenoptera):
    placeholder = hymenoptera / "train" / "ants" / "imageNotFound.gif"
    copy = tmp_path / "photo_0001.gif"
    copy.write_bytes(placeholder.read_bytes())
    assert "could not be found" in check_image(copy)


def test_split_folders(tmp_path, make_class_folder, vision_domain):
    make_class_folder(tmp_path / "data" / "train", per_class=3)
    make_class_folder(tmp_path / "data" / "val", per_class=2)
    root = tmp_path / "data"
    assert vision_domain.splits_in(root) == ["train", "val"]
    assert len(vision_domain.read(root)) == 6  # split=None on a folder with splits: train
    val = vision_domain.read(root, split="val")
    assert val.counts() == {"ants": 2, "bees": 2} and val.meta["split"] == "val"
    with pytest.raises(DataError, match="no 'test' split") as err:
        vision_domain.read(root, split="test")
    assert err.value.field == "split" and err.value.fix


def test_validation_folder_spelled_differently_is_a_split(tmp_path, make_class_folder, vision_domain):
    make_class_folder(tmp_path / "d" / "training")
    make_class_folder(tmp_path / "d" / "validation")
    assert vision_domain.splits_in(tmp_path / "d") == ["train", "val"]


@pytest.mark.parametrize("layout, message", [
    ("empty", "no class sub-folders"),
    ("loose", "images directly in the folder"),
    ("one-class", "only one class"),
    ("all-bad", "no readable images"),
    ("missing", "folder not found"),
])
def test_unusable_folders_raise_a_clear_error(tmp_path, make_image, layout, message):
    root = tmp_path / "data"
    root.mkdir()
    if layout == "loose":
        make_image(root / "a.jpg", (1, 2, 3))
    elif layout == "one-class":
        make_image(root / "ants" / "a.jpg", (1, 2, 3))
    elif layout == "all-bad":
        (root / "ants").mkdir()
        (root / "ants" / "a.jpg").write_bytes(b"junk")
    elif layout == "missing":
        root = tmp_path / "nope"
    with pytest.raises(DataError, match=message) as err:
        read_images(root)
    assert err.value.file and err.value.fix


def test_empty_class_folder_is_reported_not_dropped_silently(image_folder):
    (image_folder / "wasps").mkdir()
    ex = read_images(image_folder)
    assert any("class 'wasps' is left out" in s.reason for s in ex.skipped)


def _write_manifest(folder: Path, text: str, name: str = "labels.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_manifest_paths_relative_to_the_csv(image_folder, vision_domain):
    manifest = _write_manifest(image_folder,
                               "path,label\nants/ants_0.jpg,ant\nbees/bees_0.jpg,bee\nbees/bees_1.jpg,bee\n")
    ex = vision_domain.read(manifest)
    assert ex.labels == ["ant", "bee", "bee"]
    assert ex.items[0] == str(image_folder / "ants" / "ants_0.jpg")


def test_csv_manifest_custom_columns_and_tsv(image_folder, vision_domain):
    manifest = _write_manifest(image_folder, "file\tspecies\nants/ants_0.jpg\tant\nbees/bees_0.jpg\tbee\n", "m.tsv")
    ex = vision_domain.read(manifest, options={"path_col": "file", "label_col": "species"})
    assert ex.classes == ["ant", "bee"]


def test_csv_manifest_missing_column_names_file_field_and_fix(image_folder):
    manifest = _write_manifest(image_folder, "path,species\nants/ants_0.jpg,ant\n")
    with pytest.raises(DataError) as err:
        read_images(manifest)
    assert err.value.field == "label" and "labels.csv" in err.value.file
    assert "label_col" in err.value.fix and "species" in err.value.message


def test_csv_manifest_missing_image_file(image_folder):
    manifest = _write_manifest(image_folder, "path,label\nants/ants_0.jpg,ant\nbees/gone.jpg,bee\n")
    with pytest.raises(DataError, match="do not exist") as err:
        read_images(manifest)
    assert err.value.field == "path" and "gone.jpg" in err.value.message and "relative" in err.value.fix


def test_csv_manifest_empty_label_and_corrupt_image(image_folder):
    with pytest.raises(DataError, match="empty label"):
        read_images(_write_manifest(image_folder, "path,label\nants/ants_0.jpg,\n"))
    (image_folder / "bad.jpg").write_bytes(b"junk")
    ex = read_images(_write_manifest(image_folder, "path,label\nants/ants_0.jpg,a\nbees/bees_0.jpg,b\nbad.jpg,b\n"))
    assert len(ex) == 2 and "bad.jpg" in ex.skipped[0].item


def test_missing_manifest_and_single_file(tmp_path, make_image):
    with pytest.raises(DataError, match="not found"):
        read_images(tmp_path / "labels.csv")
    with pytest.raises(DataError, match="single file"):
        read_images(make_image(tmp_path / "a.jpg", (1, 2, 3)))


def test_grey_palette_alpha_and_16bit_images_are_read_as_rgb(tmp_path, make_image):
    from transferkit.plugins.vision.preprocess import load_image

    grey = make_image(tmp_path / "g.png", (90, 90, 90), mode="L")
    rgba = tmp_path / "a.png"
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(rgba)  # fully transparent red: composited on white
    deep = tmp_path / "d.png"
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(deep)
    assert load_image(grey).mode == "RGB"
    assert load_image(rgba).getpixel((0, 0)) == (255, 255, 255)
    assert load_image(deep).getpixel((0, 0)) == (156, 156, 156)  # 40000 / 256, not clipped to 255


def test_exif_orientation_is_applied(tmp_path):
    from transferkit.plugins.vision.preprocess import load_image

    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": stored landscape, shown portrait
    Image.new("RGB", (40, 20)).save(path, exif=exif)
    assert load_image(path).size == (20, 40)


def test_parse_inputs_expands_folders_and_refuses_missing_paths(image_folder, vision_domain):
    items = vision_domain.parse_inputs([str(image_folder / "ants"), str(image_folder / "bees" / "bees_0.jpg")])
    assert len(items) == 4 and items[-1].endswith("bees_0.jpg")
    with pytest.raises(DataError, match="no such file"):
        list_images([str(image_folder / "nothing.jpg")])


@pytest.mark.real_data
def test_hymenoptera_reads_with_the_placeholder_skipped(hymenoptera, vision_domain):
    assert vision_domain.splits_in(hymenoptera) == ["train", "val"]
    train = vision_domain.read(hymenoptera, split="train")
    assert train.counts() == {"ants": 123, "bees": 121}
    assert [Path(s.item).name for s in train.skipped] == ["imageNotFound.gif"]
    assert "could not be found" in train.skipped[0].reason
    assert vision_domain.read(hymenoptera, split="val").counts() == {"ants": 70, "bees": 83}



def test_registration_imports_no_framework():
    code = (
        "import sys\n"
        "from transferkit.core.registry import Registry\n"
        "import transferkit.plugins.vision as p\n"
        "r = Registry.empty(); info = r.add_plugin(p, name='vision')\n"
        "assert info.status == 'ok', info.error\n"
        "assert 'vision' in r.domains and 'vision/efficientnet-lite0.imagenet' in r.models\n"
        "assert {'vision/general', 'vision/wildlife', 'vision/manufacturing-defects'} <= set(r.presets)\n"
        "assert r.datasets['hymenoptera'].mirror_path == 'hymenoptera'\n"
        "from transferkit.plugins.vision.domain import VisionDomain\n"
        "d = VisionDomain(r.domains['vision'])\n"
        "[d.validate_preset(x) for x in r.presets.values()]\n"
        "heavy = [m for m in ('torch', 'transformers', 'lightning', 'efficientnet_lite_pytorch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
