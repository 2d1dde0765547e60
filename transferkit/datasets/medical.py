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

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from transferkit.core.data import Examples, Skipped
from transferkit.datasets.limits import VOXELS_ENV, max_voxels, too_large
from transferkit.datasets.manifest import is_manifest, option_bool, read_manifest_rows
from transferkit.datasets.splits import SPLITS, split_folders
from transferkit.errors import DataError

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


# =========================================================================== header checks
class _HeaderProblem(ValueError):
    """A header that reads but cannot be right; its message is shown to the user as it is."""


def _dicom_header(path: Path) -> Any:
    import pydicom

    # defer_size: large values (the pixel data) are not read, only noted, so this costs a header read.
    return pydicom.dcmread(str(path), defer_size="1 KB")


def _dicom_shape(ds: Any) -> tuple[int, ...]:
    if not any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise _HeaderProblem("DICOM file has no pixel data (a report, a presentation state, a stripped export, "
                             "or a file cut short)")
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows < 1 or cols < 1:
        raise _HeaderProblem(f"DICOM header declares {rows} x {cols} pixels")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    return (frames, rows, cols, samples) if frames > 1 else (rows, cols, samples)


def declared_shape(path: Path, kind: str) -> tuple[int, ...]:
    """The shape an image or volume file declares in its header, read without decoding its data.

    Raises the underlying library's error (or ``ValueError``) when the header is unreadable.

    Example:
        >>> declared_shape(Path("ct.nii.gz"), "nifti")  # doctest: +SKIP
        (512, 512, 300)
    """
    if kind == "nifti":
        import nibabel

        return tuple(int(s) for s in nibabel.load(str(path)).header.get_data_shape())
    if kind == "dicom":
        return _dicom_shape(_dicom_header(path))
    if kind == "dicom-series":
        files = sorted(p for p in path.iterdir() if p.is_file() and is_dicom_file(p))
        if not files:
            raise _HeaderProblem("the folder holds no DICOM slices")
        return (len(files), *_dicom_shape(_dicom_header(files[0])))
    if kind == "image":
        from PIL import Image

        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # the voxel cap below decides, not PIL's fixed limit
        try:
            with Image.open(path) as image:
                return (image.height, image.width, len(image.getbands()))
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    if kind == "npy":
        return tuple(int(s) for s in np.load(str(path), mmap_mode="r", allow_pickle=False).shape)
    raise ValueError(f"unknown kind {kind}")


def check_item(path: Path, kind: str, limit: int | None = None) -> str | None:
    """Why the file (or DICOM series) at ``path`` cannot be read, from its header alone; None when it can.

    Catches what is cheap to see before decoding: an unreadable or inconsistent header (a NIfTI whose
    header is cut or wrong, a DICOM without pixel data) and a declared size over the voxel cap
    (:func:`transferkit.datasets.limits.max_voxels`).

    Example:
        >>> check_item(Path("missing.nii.gz"), "nifti") is not None
        True
    """
    limit = max_voxels() if limit is None else limit
    try:
        shape = declared_shape(path, kind)
    except Exception as err:  # noqa: BLE001 - nibabel, pydicom, PIL and numpy each raise their own errors
        text = (str(err).strip().splitlines() or [""])[0][:200]
        if isinstance(err, _HeaderProblem):
            return text
        return f"cannot read the {kind.replace('-', ' ')} header: {type(err).__name__}: {text}"
    count = int(np.prod(shape, dtype=np.int64)) if shape else 0
    if count < 1:
        return f"the header declares an empty image (shape {shape})"
    reason = too_large(count, limit, what="voxels", shape=shape, key="max_voxels", env=VOXELS_ENV)
    if reason:
        return f"image {reason}"
    if kind == "nifti" and not _lower_name(path).endswith(".gz"):
        return _nifti_size_problem(path, count)
    return None


def _nifti_size_problem(path: Path, count: int) -> str | None:
    """An uncompressed NIfTI must hold what its header declares (else: a cut download, or a wrong header)."""
    import nibabel

    header = nibabel.load(str(path)).header
    need = int(header.get_data_offset()) + count * header.get_data_dtype().itemsize
    size = path.stat().st_size
    if size < need:
        return (f"NIfTI header declares shape {tuple(header.get_data_shape())} ({need:,} bytes) but the file holds "
                f"{size:,} bytes: the file is cut short, or its header is wrong")
    return None


def require_item(path: Path, kind: str, limit: int | None = None) -> None:
    """:func:`check_item`, raising :class:`DataError` naming the file: what decoders call first."""
    reason = check_item(path, kind, limit)
    if reason:
        raise DataError(reason, file=path, fix="replace or remove the file (re-export it from the scanner or PACS)")


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
    if not zipfile.is_zipfile(str(path)):
        # Checked first: numpy would answer "pickled data... load it unsafely", which is not advice to give.
        raise DataError("not a complete npz file (an npz is a zip archive of .npy arrays: this is not one, or "
                        "it is cut short)", file=path,
                        fix="pass a MedMNIST-style .npz (numpy.savez), or check that the download is complete")
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
        raise DataError(f"labels must be integer class indices, got dtype {labels.dtype}", file=path, field=key,
                        fix="store labels as integers 0..K-1 (numpy int64)")
    return labels.astype(np.int64)


def _npz_array_shape(path: Path, key: str) -> tuple[int, ...]:
    """The shape of ``key`` in an npz, from the array's .npy header inside the zip (nothing decompressed)."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = reader(member)
    return tuple(int(s) for s in shape)


def _check_npz_item_size(path: Path, key: str, limit: int | None) -> None:
    try:
        shape = _npz_array_shape(path, key)
    except Exception as err:  # noqa: BLE001 - a broken zip or .npy header: np.load reports it next
        raise DataError(f"cannot read the array '{key}': {type(err).__name__}: {err}", file=path, field=key,
                        fix="check that the npz is complete (re-download or re-save it)") from None
    item = shape[1:]
    count = int(np.prod(item, dtype=np.int64)) if item else 1
    reason = too_large(count, max_voxels() if limit is None else limit, what="values per image", shape=item,
                       key="max_voxels", env=VOXELS_ENV)
    if reason:
        raise DataError(f"each image {reason}", file=path, field=key, fix="use a smaller-resolution version")


def read_npz(path: str | Path, split: str | None = None, *, limit: int | None = None) -> Examples:
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
    _check_npz_item_size(path, f"{split}_images", limit)
    try:
        with np.load(str(path), allow_pickle=False) as data:
            images = data[f"{split}_images"]
            labels = _labels_1d(np.asarray(data[f"{split}_labels"]), path, f"{split}_labels")
            all_labels = np.concatenate([_labels_1d(np.asarray(data[f"{s}_labels"]), path, f"{s}_labels")
                                         for s in available])
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - zlib, zip and value errors all mean "cannot be read"
        raise DataError(f"cannot read the arrays: {type(err).__name__}: {err}", file=path,
                        fix="check that the npz is complete (re-download or re-save it)") from None
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels", file=path, field=f"{split}_images",
                        fix=f"save one label per image in {split}_labels")
    if images.ndim not in (3, 4):
        raise DataError(
            f"images have shape {images.shape}; expected (N, H, W), (N, H, W, 3) or (N, D, H, W)",
            file=path, field=f"{split}_images",
            fix="save 2D images as (N, H, W) or (N, H, W, 3), volumes as (N, D, H, W)",
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
    """Read a CSV of image paths with labels; paths are relative to the CSV's folder and must stay in it.

    Columns: ``options["path_col"]`` / ``options["label_col"]`` (``--label-col``), else the first of the
    usual names (``path``, ``image``, ``file``...; ``label``, ``class``, ``target``...). The rows are read
    by :func:`transferkit.datasets.manifest.read_manifest_rows`, shared with the image reader: a file
    that does not exist, an empty cell or a path outside the CSV's folder is an error naming the row
    (options ``bad_rows=skip``, ``allow_outside=true``). Files whose header is unreadable, that hold no
    pixel data, or that declare more voxels than the cap are skipped and reported.

    Example:
        >>> ex = read_manifest("scans/labels.csv")  # doctest: +SKIP
    """
    path = Path(path)
    options = options or {}
    manifest = read_manifest_rows(
        path, path_col=options.get("path_col"), label_col=options.get("label_col"), path_guesses=PATH_COLUMNS,
        label_guesses=LABEL_COLUMNS, allow_outside=option_bool(options.get("allow_outside", False),
                                                               name="allow_outside", file=path),
        bad_rows=str(options.get("bad_rows", "error")),
    )
    limit = max_voxels(options)
    items: list[str] = []
    labels: list[str] = []
    skipped = list(manifest.skipped)
    for row in manifest.rows:
        kind = item_kind(row.path)
        reason = ("not a NIfTI, DICOM, PNG/JPEG or .npy file, nor a DICOM series folder" if kind is None
                  else check_item(row.path, kind, limit))
        if reason:
            skipped.append(Skipped(str(row.path), f"line {row.line}: {reason}"))
            continue
        items.append(str(row.path))
        labels.append(row.label)
    if not items:
        first = f" (first problem: {skipped[0].item}: {skipped[0].reason})" if skipped else ""
        raise DataError(f"no usable rows in the manifest{first}", file=path, field=manifest.path_col,
                        fix="list NIfTI, DICOM, PNG/JPEG or .npy files that hold pixel data")
    return Examples(items=items, labels=labels, source=str(path), skipped=skipped, meta={"format": "csv"})


# =========================================================================== class folders
def _folder_items(folder: Path, limit: int | None = None) -> tuple[list[str], list[Skipped]]:
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
        reason = check_item(entry, kind, limit)
        if reason:
            skipped.append(Skipped(str(entry), reason))
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
    found = list(split_folders(path))
    return found if "train" in found else []


def read_class_folders(path: str | Path, split: str | None = None, *, limit: int | None = None) -> Examples:
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
        root = split_folders(root)[split]
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
        found, bad = _folder_items(class_dir, limit)
        items += found
        labels += [class_dir.name] * len(found)
        skipped += bad
    if not items:
        first = f" ({len(skipped)} skipped, first: {skipped[0].item}: {skipped[0].reason})" if skipped else ""
        raise DataError(f"no usable medical images in the class folders{first}", file=root,
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
    if not path.exists() and not is_manifest(path):  # a missing manifest: the manifest reader says so
        raise DataError("no such file or folder", file=path, fix="check the --data path")
    name = _lower_name(path)
    limit = max_voxels(options)
    if path.is_file() and name.endswith(".npz"):
        return read_npz(path, split, limit=limit)
    if is_manifest(path):
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
        return read_class_folders(path, split, limit=limit)
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
