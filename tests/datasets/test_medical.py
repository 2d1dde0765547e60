"""Medical readers: MedMNIST npz, CSV manifests, class folders, item kinds and the checks on arrays.

No MONAI here: the readers only list items; decoding is tested with the plugin's transforms.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transferkit.datasets import medical
from transferkit.errors import DataError


def _npz(path: Path, n: int = 6, label_shape: str = "flat", images: np.ndarray | None = None) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, size in (("train", n), ("val", 4), ("test", 4)):
        labels = np.arange(size) % 2
        arrays[f"{split}_images"] = rng.integers(0, 255, (size, 8, 8)).astype(np.uint8) if images is None else images[:size]
        arrays[f"{split}_labels"] = labels[:, None] if label_shape == "column" else labels
    np.savez(path, **arrays)
    return path


def _nifti(path: Path, array: np.ndarray) -> Path:
    import nibabel as nib

    nib.save(nib.Nifti1Image(array, np.eye(4)), str(path))
    return path


def _dicom(path: Path) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = 4, 4
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 16, 16, 15, 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.arange(16, dtype=np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


# --------------------------------------------------------------------------- npz
@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_npz_reads_each_split_and_accepts_both_label_shapes(tmp_path, label_shape):
    path = _npz(tmp_path / "mine.npz", label_shape=label_shape)
    assert medical.splits_in(path) == ["train", "val", "test"]
    train = medical.read_medical(path)  # None = the training split
    test = medical.read_medical(path, split="test")
    assert len(train) == 6 and len(test) == 4
    assert train.labels[:2] == ["0", "1"]  # an unknown set keeps the number as its label
    assert isinstance(train.items[0], np.ndarray) and train.items[0].shape == (8, 8)
    assert train.meta["spatial_dims"] == 2 and test.source.endswith("[test]")


def test_npz_of_a_known_medmnist_set_gets_the_official_names(tmp_path):
    path = _npz(tmp_path / "breastmnist.npz")
    ex = medical.read_npz(path, "val")
    assert ex.labels == ["malignant", "normal-benign", "malignant", "normal-benign"]
    assert medical.medmnist_label_names("x/pneumoniamnist_224.npz", 2) == ["normal", "pneumonia"]
    assert medical.medmnist_label_names("mine.npz", 2) is None


def test_npz_volumes_are_3d_items(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (6, 4, 5, 6)).astype(np.uint8)
    ex = medical.read_npz(_npz(tmp_path / "nodulemnist3d.npz", images=images), "train")
    assert ex.meta["spatial_dims"] == 3 and ex.items[0].shape == (4, 5, 6)
    assert set(ex.labels) == {"benign", "malignant"}


def test_npz_multilabel_and_missing_split_are_refused(tmp_path):
    path = tmp_path / "chestmnist.npz"
    np.savez(path, train_images=np.zeros((3, 4, 4), np.uint8), train_labels=np.zeros((3, 14), np.uint8))
    with pytest.raises(DataError, match="multi-label") as err:
        medical.read_npz(path)
    assert err.value.field == "train_labels"
    with pytest.raises(DataError, match="no 'test' split"):
        medical.read_npz(path, "test")


def test_npz_with_nan_images_names_the_first_bad_index(tmp_path):
    images = np.ones((6, 4, 4), np.float32)
    images[3, 1, 1] = np.nan
    with pytest.raises(DataError, match="index 3"):
        medical.read_npz(_npz(tmp_path / "f.npz", images=images), "train")


# --------------------------------------------------------------------------- CSV manifest
def test_manifest_paths_are_relative_to_the_csv_and_missing_files_are_reported(tmp_path, monkeypatch):
    (tmp_path / "scans").mkdir()
    _nifti(tmp_path / "scans" / "a.nii.gz", np.arange(27, dtype=np.float32).reshape(3, 3, 3))
    _dicom(tmp_path / "scans" / "b.dcm")
    (tmp_path / "labels.csv").write_text("path,label\nscans/a.nii.gz,tumour\nscans/b.dcm,normal\n"
                                        "scans/gone.nii.gz,normal\n")
    monkeypatch.chdir(tmp_path.parent)  # relative to the CSV, not to the working directory
    # A missing file is an error naming the row (as for image manifests), unless the user asks to skip.
    with pytest.raises(DataError, match=r"gone.nii.gz' \(line 4\)"):
        medical.read_medical(tmp_path / "labels.csv")
    ex = medical.read_medical(tmp_path / "labels.csv", options={"bad_rows": "skip"})
    assert ex.items == [str(tmp_path / "scans" / "a.nii.gz"), str(tmp_path / "scans" / "b.dcm")]
    assert ex.labels == ["tumour", "normal"]
    assert len(ex.skipped) == 1 and "gone.nii.gz" in ex.skipped[0].item and "line 4" in ex.skipped[0].reason


def test_manifest_without_label_column_names_the_columns(tmp_path):
    (tmp_path / "m.csv").write_text("file,finding\na.png,x\n")
    with pytest.raises(DataError, match="no 'label' column") as err:
        medical.read_medical(tmp_path / "m.csv")
    assert "file, finding" in err.value.message and "--label-col" in err.value.fix
    with pytest.raises(DataError, match="do not exist"):  # the columns are found now; the file is not
        medical.read_medical(tmp_path / "m.csv", options={"label_col": "finding"})


# --------------------------------------------------------------------------- folders and kinds
def test_class_folders_hold_files_and_dicom_series(tmp_path):
    root = tmp_path / "data"
    (root / "tumour" / "patient1").mkdir(parents=True)
    for i in range(3):
        _dicom(root / "tumour" / "patient1" / f"IM{i:04d}")  # suffix-less slices, as scanners write them
    (root / "normal").mkdir()
    _nifti(root / "normal" / "p2.nii", np.arange(27, dtype=np.float32).reshape(3, 3, 3))
    (root / "normal" / "notes.txt").write_text("not an image")
    ex = medical.read_medical(root)
    assert ex.labels == ["normal", "tumour"]
    assert ex.items[1].endswith("patient1")  # the series folder is one item
    assert [s.item for s in ex.skipped] == [str(root / "normal" / "notes.txt")]
    assert medical.item_kind(root / "tumour" / "patient1") == "dicom-series"
    assert medical.item_kind(root / "tumour" / "patient1" / "IM0000") == "dicom"


def test_folder_with_splits(tmp_path):
    for split in ("train", "val"):
        for label in ("a", "b"):
            (tmp_path / split / label).mkdir(parents=True)
            _nifti(tmp_path / split / label / "x.nii.gz", np.arange(8, dtype=np.float32).reshape(2, 2, 2))
    assert medical.splits_in(tmp_path) == ["train", "val"]
    assert medical.read_medical(tmp_path, split="val").source == str(tmp_path / "val")
    with pytest.raises(DataError, match="no 'test' folder"):
        medical.read_medical(tmp_path, split="test")


def test_a_single_image_or_series_is_not_labelled_data(tmp_path):
    series = tmp_path / "series"
    series.mkdir()
    _dicom(series / "1.dcm")
    with pytest.raises(DataError, match="one DICOM series"):
        medical.read_medical(series)
    with pytest.raises(DataError, match="carries no label"):
        medical.read_medical(_nifti(tmp_path / "v.nii.gz", np.ones((2, 2, 2), np.float32)))


# --------------------------------------------------------------------------- array checks
@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((0, 4)), "empty"),
        (np.full((4, 4), np.nan, np.float32), "NaN/inf"),
        (np.array([[1.0, np.inf]]), "1 NaN/inf"),
        (np.full((3, 3, 3), 7, np.int16), "blank"),
    ],
)
def test_check_array_refuses_empty_blank_and_nan_naming_the_file(array, message):
    with pytest.raises(DataError, match=message) as err:
        medical.check_array(array, file="scan.nii.gz")
    assert err.value.file == "scan.nii.gz"


def test_check_array_accepts_a_normal_image():
    medical.check_array(np.arange(16, dtype=np.uint8).reshape(4, 4), file="ok.png")


@pytest.mark.real_data
def test_breastmnist_mirror(dataset_mirror):
    path = dataset_mirror("breastmnist", "breastmnist.npz") / "breastmnist.npz"
    counts = {s: medical.read_medical(path, split=s).counts() for s in medical.splits_in(path)}
    assert counts == {
        "train": {"malignant": 147, "normal-benign": 399},
        "val": {"malignant": 21, "normal-benign": 57},
        "test": {"malignant": 42, "normal-benign": 114},
    }
