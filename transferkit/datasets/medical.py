"""Readers for medical images: MedMNIST ``.npz``, CSV manifests, class folders, DICOM, NIfTI, PNG/JPEG.

A reader turns what a radiology or pathology team has into :class:`~transferkit.core.data.Examples`:

- a MedMNIST-style ``.npz`` (keys ``train_images``, ``train_labels``, ``val_*``, ``test_*``): items are
  numpy arrays, one per image or volume, and the file's own splits are used;
- a CSV manifest with ``path,label`` columns (paths relative to the CSV);
- a folder of class folders (``data/<label>/<file or DICOM series folder>``), optionally split into
  ``train/``, ``val/`` and ``test/``.

Items that are files stay paths here: they are decoded (with MONAI's image readers) by the domain's
dataset, where decoded volumes are cached once. Decoding problems (unreadable, empty, NaN) are raised
there with the file's path, by :func:`check_array`.

This module imports numpy only (pydicom is imported when a file has to be sniffed), so listing commands
and readers stay fast.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from transferkit.core.data import Examples, Skipped
from transferkit.errors import DataError

SPLITS = ("train", "val", "test")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
DICOM_SUFFIXES = (".dcm", ".dicom")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
NUMPY_SUFFIXES = (".npy",)
PATH_COLUMNS = ("path", "image", "image_path", "file", "filename", "filepath", "volume", "series")
LABEL_COLUMNS = ("label", "class", "target", "diagnosis", "y")
# File names a folder of DICOM slices may contain besides the slices themselves.
_IGNORED_NAMES = {"dicomdir", ".ds_store", "thumbs.db", "readme", "readme.txt", "license", "license.txt"}

# MedMNIST v2 label names (medmnist's INFO table, Yang et al. 2023), by file stem. Only these sets get
# names; any other npz keeps the number as its label. BreastMNIST follows the spelling
# ("normal, benign" -> "normal-benign") so that no label holds a comma.
MEDMNIST_LABELS: dict[str, list[str]] = {
    "breastmnist": ["malignant", "normal-benign"],
    "pneumoniamnist": ["normal", "pneumonia"],
    "pathmnist": [
        "adipose", "background", "debris", "lymphocytes", "mucus", "smooth-muscle",
        "normal-colon-mucosa", "cancer-associated-stroma", "colorectal-adenocarcinoma-epithelium",
    ],
    "dermamnist": [
        "actinic-keratoses-and-intraepithelial-carcinoma", "basal-cell-carcinoma",
        "benign-keratosis-like-lesions", "dermatofibroma", "melanoma", "melanocytic-nevi", "vascular-lesions",
    ],
    "octmnist": ["choroidal-neovascularization", "diabetic-macular-edema", "drusen", "normal"],
    "bloodmnist": [
        "basophil", "eosinophil", "erythroblast", "immature-granulocytes", "lymphocyte", "monocyte",
        "neutrophil", "platelet",
    ],
    "organamnist": [
        "bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver", "lung-left",
        "lung-right", "pancreas", "spleen",
    ],
    "nodulemnist3d": ["benign", "malignant"],
    "adrenalmnist3d": ["normal", "hyperplasia"],
    "vesselmnist3d": ["vessel", "aneurysm"],
    "synapsemnist3d": ["inhibitory-synapse", "excitatory-synapse"],
}
MEDMNIST_LABELS["organcmnist"] = MEDMNIST_LABELS["organsmnist"] = MEDMNIST_LABELS["organamnist"]
MEDMNIST_LABELS["organmnist3d"] = MEDMNIST_LABELS["organamnist"]


# =========================================================================== item kinds
def _lower_name(path: Path) -> str:
    return path.name.lower()


def is_nifti(path: Path) -> bool:
    return _lower_name(path).endswith(NIFTI_SUFFIXES)


def is_dicom_file(path: Path) -> bool:
    """True for a ``.dcm`` file, or a suffix-less file with the DICOM preamble (``DICM`` at byte 128)."""
    if not path.is_file():
        return False
    if _lower_name(path).endswith(DICOM_SUFFIXES):
        return True
    if path.suffix and path.suffix.lower() not in (".ima",) and not re.fullmatch(r"\.\d+", path.suffix):
        return False  # an unrelated file type (.txt, .json...): not worth opening
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def is_dicom_series(folder: Path) -> bool:
    """A folder whose files are DICOM slices: one volume (CT/MR series)."""
    if not folder.is_dir():
        return False
    files = [p for p in folder.iterdir() if p.is_file() and _lower_name(p) not in _IGNORED_NAMES
             and not p.name.startswith(".")]
    return bool(files) and all(is_dicom_file(p) for p in files[:8])


def item_kind(path: Path) -> str | None:
    """What a path holds as one example: ``nifti``, ``dicom``, ``dicom-series``, ``image``, ``npy``; else None.

    Example:
        >>> item_kind(Path("scan.nii.gz")), item_kind(Path("notes.txt"))
        ('nifti', None)
    """
    name = _lower_name(path)
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(IMAGE_SUFFIXES):
        return "image"
    if name.endswith(NUMPY_SUFFIXES):
        return "npy"
    if path.is_dir():
        return "dicom-series" if is_dicom_series(path) else None
    if is_dicom_file(path):
        return "dicom"
    return None


# =========================================================================== array checks
def check_array(array: Any, *, file: Any) -> None:
    """Refuse an image or volume that is empty, constant, or holds NaN/inf, naming ``file``.

    A constant volume (every voxel equal) has no content to classify: it is the usual sign of a broken
    export or a series whose pixel data were stripped.

    Example:
        >>> check_array(np.zeros((0, 4)), file="a.nii")
        Traceback (most recent call last):
        transferkit.errors.DataError: a.nii: image is empty (shape (0, 4)) (fix: re-export the image; check that the file holds pixel data)
    """
    arr = np.asarray(array)
    if arr.size == 0:
        raise DataError(f"image is empty (shape {tuple(arr.shape)})", file=file,
                        fix="re-export the image; check that the file holds pixel data")
    if arr.dtype.kind in "fc":
        finite = np.isfinite(arr)
        if not finite.all():
            bad = int(arr.size - finite.sum())
            raise DataError(
                f"image holds {bad} NaN/inf value(s) of {arr.size}",
                file=file,
                fix="fix or remove the volume (NaNs usually come from a failed resampling or conversion)",
            )
    if arr.dtype.kind not in "biufc":
        raise DataError(f"image has a non-numeric dtype {arr.dtype}", file=file, fix="store pixel values as numbers")
    flat = arr.reshape(-1)
    if flat.size > 1 and (flat == flat[0]).all():
        raise DataError(
            f"image is blank: every one of its {arr.size} values is {flat[0]!r}",
            file=file,
            fix="check the export (windowing, stripped pixel data), or remove it from the data",
        )


# =========================================================================== MedMNIST npz
def medmnist_label_names(path: str | Path, n_classes: int) -> list[str] | None:
    """The official label names of a MedMNIST set recognised by its file name, else None.

    Example:
        >>> medmnist_label_names("data/breastmnist.npz", 2)
        ['malignant', 'normal-benign']
        >>> medmnist_label_names("data/breastmnist_224.npz", 2)
        ['malignant', 'normal-benign']
        >>> medmnist_label_names("mine.npz", 2) is None
        True
    """
    stem = Path(path).name.lower().removesuffix(".npz")
    stem = re.sub(r"_(28|64|128|224)$", "", stem)  # MedMNIST+ size variants: breastmnist_224.npz
    names = MEDMNIST_LABELS.get(stem)
    if names is None or len(names) < n_classes:
        return None
    return names


def npz_splits(path: str | Path) -> list[str]:
    """The splits a MedMNIST-style npz holds (those with both ``<split>_images`` and ``<split>_labels``)."""
    try:
        with np.load(str(path), allow_pickle=False) as data:
            keys = set(data.files)
    except Exception as err:  # noqa: BLE001 - zip, pickle and value errors all mean "not readable"
        raise DataError(f"cannot read npz file: {err}", file=path, fix="check that it is a MedMNIST-style .npz") from None
    return [s for s in SPLITS if f"{s}_images" in keys and f"{s}_labels" in keys]


def _labels_1d(labels: np.ndarray, path: Path, key: str) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(
            f"labels have shape {labels.shape}; multi-label sets (like ChestMNIST) are not supported",
            file=path, field=key, fix="use a single-label set: labels of shape (N,) or (N, 1)",
        )
    if labels.dtype.kind not in "iu" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
        raise DataError(f"labels must be integer class indices, got dtype {labels.dtype}", file=path, field=key)
    return labels.astype(np.int64)


def read_npz(path: str | Path, split: str | None = None) -> Examples:
    """Read one split of a MedMNIST-style npz; ``None`` means the training split.

    Each item is the image (``H x W``, ``H x W x 3``) or volume (``D x H x W``) as a numpy array.

    Example:
        >>> ex = read_npz("breastmnist.npz", "test")  # doctest: +SKIP
        >>> len(ex), ex.classes  # doctest: +SKIP
        (156, ['malignant', 'normal-benign'])
    """
    path = Path(path)
    available = npz_splits(path)
    split = split or ("train" if "train" in available else None)
    if split is None or split not in available:
        with np.load(str(path), allow_pickle=False) as data:
            keys = sorted(data.files)
        raise DataError(
            f"no '{split or 'train'}' split in this npz (keys: {', '.join(keys)})",
            file=path,
            field=f"{split or 'train'}_images",
            fix="a MedMNIST-style npz has train_images/train_labels, val_*, test_* arrays",
        )
    with np.load(str(path), allow_pickle=False) as data:
        images = data[f"{split}_images"]
        labels = _labels_1d(np.asarray(data[f"{split}_labels"]), path, f"{split}_labels")
        all_labels = np.concatenate([_labels_1d(np.asarray(data[f"{s}_labels"]), path, f"{s}_labels")
                                     for s in available])
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels", file=path, field=f"{split}_images")
    if images.ndim not in (3, 4):
        raise DataError(
            f"images have shape {images.shape}; expected (N, H, W), (N, H, W, 3) or (N, D, H, W)",
            file=path, field=f"{split}_images",
        )
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        bad = np.flatnonzero(~np.isfinite(images.reshape(len(images), -1)).all(axis=1))
        raise DataError(
            f"{len(bad)} image(s) hold NaN/inf values (first: index {int(bad[0])})",
            file=path, field=f"{split}_images", fix="fix or remove those images",
        )
    n_classes = int(all_labels.max()) + 1 if len(all_labels) else 0
    names = medmnist_label_names(path, n_classes)
    to_name = (lambda i: names[i]) if names else str
    spatial_dims = 3 if images.ndim == 4 and images.shape[-1] not in (3, 4) else 2
    return Examples(
        items=list(images),
        labels=[to_name(int(i)) for i in labels],
        source=f"{path}[{split}]",
        meta={"split": split, "format": "npz", "spatial_dims": spatial_dims, "label_names": names},
    )


# =========================================================================== CSV manifest
def read_manifest(path: str | Path, options: dict[str, Any] | None = None) -> Examples:
    """Read a CSV of image paths with labels; paths are relative to the CSV's folder.

    Columns: ``options["path_col"]`` / ``options["label_col"]`` (``--label-col``), else the first of the
    usual names (``path``, ``image``, ``file``...; ``label``, ``class``, ``target``...). Rows whose file
    does not exist are skipped and reported; a manifest where no file exists is an error.

    Example:
        >>> ex = read_manifest("scans/labels.csv")  # doctest: +SKIP
    """
    path = Path(path)
    options = options or {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read CSV: {err}", file=path, fix="save the manifest as UTF-8 CSV") from None
    columns = list(rows[0].keys()) if rows else []
    path_col = options.get("path_col") or next((c for c in PATH_COLUMNS if c in columns), "path")
    label_col = options.get("label_col") or next((c for c in LABEL_COLUMNS if c in columns), "label")
    for column, fix in ((path_col, "name the image column 'path'"), (label_col, "name it 'label' or pass --label-col NAME")):
        if column not in columns:
            raise DataError(
                f"no '{column}' column (columns: {', '.join(c for c in columns if c) or 'none'})",
                file=path, field=column, fix=fix,
            )
    items: list[str] = []
    labels: list[str] = []
    skipped: list[Skipped] = []
    for line, row in enumerate(rows, start=2):
        raw, label = (row.get(path_col) or "").strip(), (row.get(label_col) or "").strip()
        if not raw:
            skipped.append(Skipped(f"{path}:{line}", "empty path"))
            continue
        if not label:
            skipped.append(Skipped(f"{path}:{line}", f"empty label for {raw}"))
            continue
        file = (path.parent / raw) if not Path(raw).is_absolute() else Path(raw)
        if not file.exists():
            skipped.append(Skipped(str(file), f"listed on line {line} but not found"))
            continue
        if item_kind(file) is None:
            skipped.append(Skipped(str(file), "not a NIfTI, DICOM, PNG/JPEG or .npy file, nor a DICOM series folder"))
            continue
        items.append(str(file))
        labels.append(label)
    if not items:
        first = f" (first problem: {skipped[0].item}: {skipped[0].reason})" if skipped else ""
        raise DataError(f"no usable rows in the manifest{first}", file=path, field=path_col,
                        fix="paths in the CSV are relative to the CSV's own folder")
    return Examples(items=items, labels=labels, source=str(path), skipped=skipped, meta={"format": "csv"})


# =========================================================================== class folders
def _folder_items(folder: Path) -> tuple[list[str], list[Skipped]]:
    items: list[str] = []
    skipped: list[Skipped] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or _lower_name(entry) in _IGNORED_NAMES:
            continue
        kind = item_kind(entry)
        if kind is None:
            what = "folder holds no DICOM slices" if entry.is_dir() else "not a medical image file"
            skipped.append(Skipped(str(entry), what))
            continue
        items.append(str(entry))
    return items, skipped


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def folder_splits(path: str | Path) -> list[str]:
    """Splits of a folder laid out as ``train/<label>/...``, ``val/<label>/...``, ``test/<label>/...``."""
    path = Path(path)
    if not path.is_dir():
        return []
    found = [s for s in SPLITS if (path / s).is_dir()]
    return found if "train" in found else []


def read_class_folders(path: str | Path, split: str | None = None) -> Examples:
    """Read ``path/<label>/<item>``: each item a file or a DICOM series folder (one volume).

    With ``train/``, ``val/``, ``test/`` sub-folders, ``split`` picks one (``None``: train).

    Example:
        >>> ex = read_class_folders("ct/train")  # doctest: +SKIP
    """
    root = Path(path)
    splits = folder_splits(root)
    if splits:
        split = split or "train"
        if split not in splits:
            raise DataError(f"no '{split}' folder", file=root, fix=f"this folder holds: {', '.join(splits)}")
        root = root / split
    class_dirs = _class_dirs(root)
    if not class_dirs or all(is_dicom_series(d) for d in class_dirs):
        raise DataError(
            "no class folders found",
            file=root,
            fix="lay the data out as <folder>/<label>/<image or DICOM series folder>, or pass a CSV manifest "
            "(path,label) or a MedMNIST .npz",
        )
    items: list[str] = []
    labels: list[str] = []
    skipped: list[Skipped] = []
    for class_dir in class_dirs:
        found, bad = _folder_items(class_dir)
        items += found
        labels += [class_dir.name] * len(found)
        skipped += bad
    if not items:
        raise DataError("no medical images found in the class folders", file=root,
                        fix="supported: .nii/.nii.gz, .dcm or DICOM series folders, .png/.jpg, .npy")
    return Examples(items=items, labels=labels, source=str(root), skipped=skipped,
                    meta={"format": "folder", "split": split})


# =========================================================================== dispatch
def splits_in(path: str | Path) -> list[str]:
    """The splits ``path`` holds on its own: an npz's ``train``/``val``/``test`` or a folder's split folders.

    Example:
        >>> splits_in("breastmnist.npz")  # doctest: +SKIP
        ['train', 'val', 'test']
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".npz":
        return npz_splits(path)
    if path.is_dir():
        return folder_splits(path)
    return []


def read_medical(path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
    """Read labelled medical images from an npz, a CSV manifest or a folder of class folders.

    Example:
        >>> read_medical("breastmnist.npz").counts()  # doctest: +SKIP
        {'malignant': 147, 'normal-benign': 399}
    """
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", file=path, fix="check the --data path")
    name = _lower_name(path)
    if path.is_file() and name.endswith(".npz"):
        return read_npz(path, split)
    if path.is_file() and name.endswith((".csv", ".tsv")):
        if split not in (None, "train"):
            raise DataError(f"a CSV manifest holds one set, not a '{split}' split", file=path,
                            fix="pass the validation or test manifest with --val / --test")
        return read_manifest(path, options)
    if path.is_dir():
        if is_dicom_series(path):
            raise DataError(
                "this folder is one DICOM series (one volume) and carries no label",
                file=path,
                fix="put series folders under <folder>/<label>/, or list them in a CSV manifest (path,label)",
            )
        return read_class_folders(path, split)
    if item_kind(path) is not None:
        raise DataError(
            "a single image carries no label",
            file=path,
            fix="to label it use `transferkit predict`; to train, pass a CSV manifest, class folders or an npz",
        )
    raise DataError(
        "unknown medical data format",
        file=path,
        fix="pass a MedMNIST .npz, a CSV manifest (path,label) or a folder of class folders",
    )
