"""One table of split-folder names and one manifest reader for every domain's readers."""
from __future__ import annotations

import pytest
from PIL import Image

from transferkit.datasets import images, medical
from transferkit.datasets.splits import SPLIT_NAMES, split_of
from transferkit.errors import DataError


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 128).save(path)


@pytest.mark.parametrize("val_folder", [n for n in SPLIT_NAMES["val"]])
def test_every_reader_finds_a_validation_folder_by_any_of_its_names(tmp_path, val_folder):
    from transferkit.core.select import get_domain

    assert split_of(val_folder.upper()) == "val"
    root = tmp_path / "img"
    for split in ("train", val_folder):
        for label in ("a", "b"):
            _image(root / split / label / "x.png")
    assert images.image_folder_splits(root) == ["train", "val"]
    assert medical.folder_splits(root) == ["train", "val"]
    assert medical.read_class_folders(root, "val").source == str(root / val_folder)
    text = tmp_path / "text"
    for split in ("train", val_folder):
        for label in ("a", "b"):
            (text / split / label).mkdir(parents=True)
            (text / split / label / "1.txt").write_text(f"{label} text", encoding="utf-8")
    nlp = get_domain("nlp")
    assert nlp.splits_in(text) == ["train", "val"]
    assert nlp.read(text, split="val").source.endswith(val_folder)


def test_a_missing_manifest_is_reported_alike_by_every_domain(tmp_path):
    missing = tmp_path / "labels.csv"
    messages = set()
    for read in (images.read_images, medical.read_medical):
        with pytest.raises(DataError) as err:
            read(missing)
        messages.add((err.value.message, err.value.file))
    assert messages == {("manifest file not found", str(missing))}
