"""The bad-input corpus: each builder writes one bad input under a folder and returns the command that reads it.

Every input is generated here from code (PIL, numpy, nibabel, pydicom, bytes), nothing is committed. A
builder returns ``(cli arguments, text the one-line error must contain)``: the name of the file at fault,
or for a bad option the key.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

VISION = ["train", "--domain", "vision", "--model", "vision/small-cnn.scratch", "--dry-run"]
NLP = ["train", "--domain", "nlp", "--model", "nlp/all-minilm-l6-v2", "--dry-run"]
MEDICAL = ["train", "--domain", "medical", "--model", "medical/resnet18.scratch", "--dry-run"]

Case = tuple[list[str], str]
CASES: dict[str, Callable[[Path], Case]] = {}


def case(group: str) -> Callable[[Callable[[Path], Case]], Callable[[Path], Case]]:
    def register(fn: Callable[[Path], Case]) -> Callable[[Path], Case]:
        CASES[f"{group}-{fn.__name__}"] = fn
        return fn

    return register


def train(base: list[str], data: Path, tmp: Path, *extra: str) -> list[str]:
    return [*base, "--data", str(data), "--out", str(tmp / "out"), *extra]


# ============================================================================ image helpers
def jpeg_bytes(size: tuple[int, int] = (32, 24), colour: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def png_bytes(size: tuple[int, int] = (32, 24), colour: int | tuple[int, ...] = (10, 200, 10), mode: str = "RGB") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb_bytes(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` grey pixels, with a few bytes of data: a bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def class_folders(root: Path, files: dict[str, bytes], good: int = 0) -> Path:
    """``root/<class>/<name>`` for each bad file (one class folder each), plus ``good`` decodable images per class."""
    for index, (name, content) in enumerate(files.items()):
        folder = root / f"class{index}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        for g in range(good):
            (folder / f"good{g}.jpg").write_bytes(jpeg_bytes(colour=(40 * index, 20 * g, 90)))
    return root


def both_classes(root: Path, name: str, content: bytes) -> Path:
    """Two class folders that hold only the bad file: no image of either class is readable."""
    stem, _, suffix = name.rpartition(".")
    return class_folders(root, {name: content, f"{stem}2.{suffix}": content})


def image_manifest(root: Path, text: str, name: str = "labels.csv") -> Path:
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (root / "imgs" / f"a{i}.jpg").write_bytes(jpeg_bytes(colour=(200, 10 * i, 10)))
        (root / "imgs" / f"b{i}.jpg").write_bytes(jpeg_bytes(colour=(10, 10 * i, 200)))
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD_ROWS = "imgs/a0.jpg,ant\nimgs/a1.jpg,ant\nimgs/b0.jpg,bee\nimgs/b1.jpg,bee\n"


# ============================================================================ vision
@case("vision")
def zero_byte_images(tmp: Path) -> Case:
    return train(VISION, both_classes(tmp / "data", "empty.jpg", b""), tmp), "empty.jpg"


@case("vision")
def truncated_jpeg(tmp: Path) -> Case:
    data = jpeg_bytes((256, 256))
    return train(VISION, both_classes(tmp / "data", "cut.jpg", data[: len(data) // 2]), tmp), "cut.jpg"


@case("vision")
def truncated_png(tmp: Path) -> Case:
    rng = np.random.default_rng(0)
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return train(VISION, both_classes(tmp / "data", "cut.png", data[: len(data) // 2]), tmp), "cut.png"


@case("vision")
def text_file_named_jpg(tmp: Path) -> Case:
    return train(VISION, both_classes(tmp / "data", "notes.jpg", b"this is a text file, not a photo\n"), tmp), "notes.jpg"


@case("vision")
def html_error_page_named_png(tmp: Path) -> Case:
    page = b"<!DOCTYPE html><html><body>403 Forbidden</body></html>"
    return train(VISION, both_classes(tmp / "data", "download.png", page), tmp), "download.png"


@case("vision")
def decompression_bomb_png(tmp: Path) -> Case:
    return train(VISION, both_classes(tmp / "data", "bomb.png", png_bomb_bytes()), tmp), "bomb.png"


@case("vision")
def bomb_in_a_manifest(tmp: Path) -> Case:
    root = tmp / "data"
    manifest = image_manifest(root, "path,label\nimgs/bomb.png,ant\nimgs/bomb2.png,bee\n")
    (root / "imgs" / "bomb.png").write_bytes(png_bomb_bytes(30_000, 30_000))
    (root / "imgs" / "bomb2.png").write_bytes(png_bomb_bytes(30_000, 30_000))
    return train(VISION, manifest, tmp), "bomb.png"


@case("vision")
def pixel_cap_from_a_reader_option(tmp: Path) -> Case:
    # Real 100 x 100 images, refused by a cap the user set below them: the option is honoured.
    root = tmp / "data"
    for label in ("ant", "bee"):
        (root / label).mkdir(parents=True)
        (root / label / f"{label}.png").write_bytes(png_bytes((100, 100)))
    return train(VISION, root, tmp, "--read-option", "max_pixels=5000"), "ant.png"


@case("vision")
def bad_pixel_cap_option(tmp: Path) -> Case:
    root = class_folders(tmp / "data", {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()})
    return train(VISION, root, tmp, "--read-option", "max_pixels=lots"), "max_pixels"


@case("vision")
def single_image_file_as_data(tmp: Path) -> Case:
    path = tmp / "photo.jpg"
    path.write_bytes(jpeg_bytes())
    return train(VISION, path, tmp), "photo.jpg"


@case("vision")
def images_without_class_folders(tmp: Path) -> Case:
    root = tmp / "loose"
    root.mkdir()
    for i in range(3):
        (root / f"img{i}.jpg").write_bytes(jpeg_bytes())
    return train(VISION, root, tmp), "loose"


@case("vision")
def one_class_only(tmp: Path) -> Case:
    root = tmp / "onlyants"
    (root / "ants").mkdir(parents=True)
    for i in range(3):
        (root / "ants" / f"a{i}.jpg").write_bytes(jpeg_bytes(colour=(10 * i, 0, 0)))
    return train(VISION, root, tmp), "onlyants"


@case("vision")
def label_that_appears_once(tmp: Path) -> Case:
    manifest = image_manifest(tmp / "data", "path,label\nimgs/a0.jpg,ant\nimgs/a1.jpg,ant\nimgs/b0.jpg,bee\n",
                              name="once.csv")
    return train(VISION, manifest, tmp), "once.csv"


@case("vision")
def manifest_missing_label_column(tmp: Path) -> Case:
    return train(VISION, image_manifest(tmp / "data", "path,species\nimgs/a0.jpg,ant\n", "nolabel.csv"), tmp), "nolabel.csv"


@case("vision")
def manifest_row_with_extra_fields(tmp: Path) -> Case:
    text = "path,label\n" + GOOD_ROWS + "imgs/a2.jpg,ant,extra\n"
    return train(VISION, image_manifest(tmp / "data", text, "extra.csv"), tmp), "extra.csv"


@case("vision")
def manifest_row_with_missing_fields(tmp: Path) -> Case:
    text = "path,label\n" + GOOD_ROWS + "imgs/a2.jpg\n"
    return train(VISION, image_manifest(tmp / "data", text, "short.csv"), tmp), "short.csv"


@case("vision")
def manifest_quoted_newline_in_a_path(tmp: Path) -> Case:
    text = 'path,label\n' + GOOD_ROWS + '"imgs/a2\n.jpg",ant\n'
    return train(VISION, image_manifest(tmp / "data", text, "quoted.csv"), tmp), "quoted.csv"


@case("vision")
def manifest_missing_file(tmp: Path) -> Case:
    text = "path,label\n" + GOOD_ROWS + "imgs/gone.jpg,ant\n"
    return train(VISION, image_manifest(tmp / "data", text), tmp), "gone.jpg"


@case("vision")
def manifest_empty_label(tmp: Path) -> Case:
    text = "path,label\n" + GOOD_ROWS + "imgs/a2.jpg,\n"
    return train(VISION, image_manifest(tmp / "data", text, "nolabelcell.csv"), tmp), "nolabelcell.csv"


@case("vision")
def manifest_header_only(tmp: Path) -> Case:
    return train(VISION, image_manifest(tmp / "data", "path,label\n", "header.csv"), tmp), "header.csv"


@case("vision")
def manifest_utf16(tmp: Path) -> Case:
    root = tmp / "data"
    image_manifest(root, "")
    path = root / "utf16.csv"
    path.write_text("path,label\n" + GOOD_ROWS, encoding="utf-16")
    return train(VISION, path, tmp), "utf16.csv"


@case("vision")
def manifest_absolute_path(tmp: Path) -> Case:
    outside = tmp / "elsewhere.jpg"
    outside.write_bytes(jpeg_bytes())
    text = "path,label\n" + GOOD_ROWS + f"{outside},ant\n"
    return train(VISION, image_manifest(tmp / "data", text, "abs.csv"), tmp), "abs.csv"


@case("vision")
def manifest_dotdot_escape(tmp: Path) -> Case:
    (tmp / "secret.jpg").write_bytes(jpeg_bytes())
    text = "path,label\n" + GOOD_ROWS + "../secret.jpg,bee\n"
    return train(VISION, image_manifest(tmp / "data", text, "escape.csv"), tmp), "escape.csv"


@case("vision")
def manifest_of_undecodable_images(tmp: Path) -> Case:
    root = tmp / "data"
    manifest = image_manifest(root, "path,label\nimgs/x.jpg,ant\nimgs/y.jpg,bee\n")
    (root / "imgs" / "x.jpg").write_bytes(b"GIF89a not really")
    (root / "imgs" / "y.jpg").write_bytes(b"GIF89a not really")
    return train(VISION, manifest, tmp), "x.jpg"


# ============================================================================ text
def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


SMS = "label,text\n" + "".join(f"{'spam' if i % 2 else 'ham'},message number {i}\n" for i in range(12))


@case("text")
def latin1_csv(tmp: Path) -> Case:
    return train(NLP, write(tmp / "latin.csv", SMS.encode() + "ham,caf\xe9 cr\xe8me\n".encode("latin-1")), tmp), "latin.csv"


@case("text")
def zero_byte_csv(tmp: Path) -> Case:
    return train(NLP, write(tmp / "empty.csv", b""), tmp), "empty.csv"


@case("text")
def csv_header_only(tmp: Path) -> Case:
    return train(NLP, write(tmp / "head.csv", "label,text\n"), tmp), "head.csv"


@case("text")
def csv_unknown_label_column(tmp: Path) -> Case:
    return train(NLP, write(tmp / "cols.csv", SMS), tmp, "--label-col", "category"), "cols.csv"


@case("text")
def csv_unknown_text_column(tmp: Path) -> Case:
    return train(NLP, write(tmp / "tcols.csv", SMS), tmp, "--text-col", "body"), "tcols.csv"


@case("text")
def csv_one_class(tmp: Path) -> Case:
    text = "label,text\n" + "".join(f"ham,message {i}\n" for i in range(6))
    return train(NLP, write(tmp / "oneclass.csv", text), tmp), "oneclass.csv"


@case("text")
def csv_label_that_appears_once(tmp: Path) -> Case:
    text = "label,text\n" + "".join(f"ham,message {i}\n" for i in range(6)) + "spam,win a prize\n"
    return train(NLP, write(tmp / "rare.csv", text), tmp), "rare.csv"


@case("text")
def csv_with_nul_bytes(tmp: Path) -> Case:
    return train(NLP, write(tmp / "nul.csv", SMS.encode() + b"ham,a\x00b\n"), tmp), "nul.csv"


@case("text")
def utf16_csv(tmp: Path) -> Case:
    return train(NLP, write(tmp / "wide.csv", SMS.encode("utf-16")), tmp), "wide.csv"


@case("text")
def png_named_csv(tmp: Path) -> Case:
    return train(NLP, write(tmp / "picture.csv", png_bytes()), tmp), "picture.csv"


@case("text")
def csv_every_text_empty(tmp: Path) -> Case:
    text = "label,text\n" + "".join(f"{'spam' if i % 2 else 'ham'},  \n" for i in range(6))
    return train(NLP, write(tmp / "blank.csv", text), tmp), "blank.csv"


@case("text")
def jsonl_bad_line(tmp: Path) -> Case:
    text = '{"text": "hi", "label": "a"}\n{"text": "yo", "label": \n'
    return train(NLP, write(tmp / "broken.jsonl", text), tmp), "broken.jsonl"


@case("text")
def jsonl_list_label(tmp: Path) -> Case:
    text = '{"text": "hi", "label": "a"}\n{"text": "yo", "label": ["a", "b"]}\n'
    return train(NLP, write(tmp / "multi.jsonl", text), tmp), "multi.jsonl"


@case("text")
def json_object_not_array(tmp: Path) -> Case:
    return train(NLP, write(tmp / "obj.json", '{"text": "hi", "label": "a"}'), tmp), "obj.json"


@case("text")
def json_nested_too_deep(tmp: Path) -> Case:
    return train(NLP, write(tmp / "deep.json", "[" * 100_000 + "]" * 100_000), tmp), "deep.json"


@case("text")
def jsonl_huge_integer(tmp: Path) -> Case:
    text = '{"text": "hi", "label": ' + "9" * 5000 + "}\n"
    return train(NLP, write(tmp / "bigint.jsonl", text), tmp), "bigint.jsonl"


@case("text")
def bad_encoding_option(tmp: Path) -> Case:
    return train(NLP, write(tmp / "enc.csv", SMS), tmp, "--read-option", "encoding=klingon"), "enc.csv"


# ============================================================================ medical
def npz(path: Path, **arrays: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def _images(n: int = 6, shape: tuple[int, ...] = (16, 16)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (n, *shape)).astype(np.uint8)


LABELS = np.array([[0], [1]] * 3)


@case("medical")
def npz_without_expected_keys(tmp: Path) -> Case:
    return train(MEDICAL, npz(tmp / "keys.npz", x=_images(), y=LABELS), tmp), "keys.npz"


@case("medical")
def npz_nan_images(tmp: Path) -> Case:
    images = _images().astype(np.float32)
    images[3, 2, 2] = np.nan
    return train(MEDICAL, npz(tmp / "nan.npz", train_images=images, train_labels=LABELS), tmp), "nan.npz"


@case("medical")
def npz_inf_images(tmp: Path) -> Case:
    images = _images().astype(np.float32)
    images[1, 0, 0] = np.inf
    return train(MEDICAL, npz(tmp / "inf.npz", train_images=images, train_labels=LABELS), tmp), "inf.npz"


@case("medical")
def npz_multilabel(tmp: Path) -> Case:
    labels = np.zeros((6, 3), np.int64)
    return train(MEDICAL, npz(tmp / "ml.npz", train_images=_images(), train_labels=labels), tmp), "ml.npz"


@case("medical")
def npz_wrong_dimensions(tmp: Path) -> Case:
    images = _images(6, (4, 4, 4, 3))  # (N, D, H, W, C): no 2D or 3D reading of this
    return train(MEDICAL, npz(tmp / "fived.npz", train_images=images, train_labels=LABELS), tmp), "fived.npz"


@case("medical")
def npz_counts_disagree(tmp: Path) -> Case:
    return train(MEDICAL, npz(tmp / "count.npz", train_images=_images(5), train_labels=LABELS), tmp), "count.npz"


@case("medical")
def npz_that_is_text(tmp: Path) -> Case:
    return train(MEDICAL, write(tmp / "fake.npz", "train_images,train_labels\n"), tmp), "fake.npz"


@case("medical")
def npz_truncated(tmp: Path) -> Case:
    full = npz(tmp / "full.npz", train_images=_images(60, (32, 32)), train_labels=np.array([0, 1] * 30))
    data = full.read_bytes()
    full.unlink()
    return train(MEDICAL, write(tmp / "cut.npz", data[: len(data) // 2]), tmp), "cut.npz"


@case("medical")
def npz_bomb_header(tmp: Path) -> Case:
    # A .npy member whose header declares 2000^3 values per image, with no data behind it.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (2, 2000, 2000, 2000)})
    path = tmp / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train_images.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:])
        labels = io.BytesIO()
        np.save(labels, np.array([0, 1]))
        archive.writestr("train_labels.npy", labels.getvalue())
    return train(MEDICAL, path, tmp), "bomb.npz"


def _nifti(path: Path, array: np.ndarray) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, np.eye(4)), str(path))
    return path


def _scans_manifest(root: Path, files: dict[str, str], name: str = "labels.csv") -> Path:
    rows = "".join(f"{p},{label}\n" for p, label in files.items())
    return write(root / name, "path,label\n" + rows)


@case("medical")
def nifti_wrong_header(tmp: Path) -> Case:
    root = tmp / "scans"
    for name in ("a.nii", "b.nii"):
        path = _nifti(root / name, np.random.default_rng(0).normal(size=(8, 8, 8)).astype(np.float32))
        data = bytearray(path.read_bytes())
        data[42:48] = struct.pack("<hhh", 64, 64, 64)  # dim[1..3]: the header now declares 64^3, the data are 8^3
        path.write_bytes(bytes(data))
    return train(MEDICAL, _scans_manifest(root, {"a.nii": "x", "b.nii": "y"}), tmp), "a.nii"


@case("medical")
def nifti_garbage(tmp: Path) -> Case:
    root = tmp / "scans"
    write(root / "junk.nii.gz", b"\x1f\x8b not really gzip")
    write(root / "junk2.nii.gz", b"\x1f\x8b not really gzip")
    return train(MEDICAL, _scans_manifest(root, {"junk.nii.gz": "x", "junk2.nii.gz": "y"}), tmp), "junk.nii.gz"


@case("medical")
def nifti_bomb_header(tmp: Path) -> Case:
    import nibabel as nib

    root = tmp / "scans"
    root.mkdir(parents=True)
    for name in ("huge.nii", "huge2.nii"):
        header = nib.Nifti1Header()
        header.set_data_dtype(np.uint8)
        header.set_data_shape((2048, 2048, 2048))  # 8.6 billion voxels declared; no data follows
        header["vox_offset"] = 352
        (root / name).write_bytes(header.binaryblock + b"\0" * 4)
    return train(MEDICAL, _scans_manifest(root, {"huge.nii": "x", "huge2.nii": "y"}), tmp), "huge.nii"


def _dicom(path: Path, *, pixels: bool = True, rows: int = 8, cols: int = 8, data: bytes | None = None) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if pixels:
        ds.PixelData = data if data is not None else np.arange(rows * cols, dtype=np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)
    return path


@case("medical")
def dicom_without_pixel_data(tmp: Path) -> Case:
    root = tmp / "scans"
    _dicom(root / "nopix.dcm", pixels=False)
    _dicom(root / "nopix2.dcm", pixels=False)
    return train(MEDICAL, _scans_manifest(root, {"nopix.dcm": "x", "nopix2.dcm": "y"}), tmp), "nopix.dcm"


@case("medical")
def dicom_bomb_header(tmp: Path) -> Case:
    root = tmp / "scans"
    for name in ("wide.dcm", "wide2.dcm"):
        # A few bytes behind a header that declares 60000 x 60000 = 3.6 billion pixels.
        _dicom(root / name, rows=60000, cols=60000, data=b"\0\0" * 16)
    return train(MEDICAL, _scans_manifest(root, {"wide.dcm": "x", "wide2.dcm": "y"}), tmp), "wide.dcm"


@case("medical")
def truncated_nifti(tmp: Path) -> Case:
    root = tmp / "scans"
    for name in ("cut.nii", "cut2.nii"):
        path = _nifti(root / name, np.random.default_rng(1).normal(size=(16, 16, 16)).astype(np.float32))
        path.write_bytes(path.read_bytes()[:4000])
    return train(MEDICAL, _scans_manifest(root, {"cut.nii": "x", "cut2.nii": "y"}), tmp), "cut.nii"


@case("medical")
def truncated_dicom(tmp: Path) -> Case:
    root = tmp / "scans"
    for name in ("half.dcm", "half2.dcm"):
        path = _dicom(root / name)
        path.write_bytes(path.read_bytes()[:200])
    return train(MEDICAL, _scans_manifest(root, {"half.dcm": "x", "half2.dcm": "y"}), tmp), "half.dcm"


@case("medical")
def medical_manifest_absolute_path(tmp: Path) -> Case:
    root = tmp / "scans"
    outside = _dicom(tmp / "outside.dcm")
    _dicom(root / "in.dcm")
    return train(MEDICAL, _scans_manifest(root, {"in.dcm": "x", str(outside): "y"}, "absmed.csv"), tmp), "absmed.csv"


@case("medical")
def medical_manifest_dotdot_escape(tmp: Path) -> Case:
    root = tmp / "scans"
    _dicom(tmp / "up.dcm")
    _dicom(root / "in.dcm")
    return train(MEDICAL, _scans_manifest(root, {"in.dcm": "x", "../up.dcm": "y"}, "upmed.csv"), tmp), "upmed.csv"


@case("medical")
def medical_manifest_missing_file(tmp: Path) -> Case:
    root = tmp / "scans"
    _dicom(root / "in.dcm")
    return train(MEDICAL, _scans_manifest(root, {"in.dcm": "x", "lost.dcm": "y"}), tmp), "lost.dcm"


@case("medical")
def medical_manifest_with_bom_and_missing_column(tmp: Path) -> Case:
    root = tmp / "scans"
    _dicom(root / "in.dcm")
    path = write(root / "bom.csv", "\ufefffile,finding\nin.dcm,x\n")
    return train(MEDICAL, path, tmp), "bom.csv"


@case("medical")
def medical_folder_of_unreadable_files(tmp: Path) -> Case:
    root = tmp / "ct"
    write(root / "tumour" / "t.nii.gz", b"\x1f\x8b\x08 broken")
    write(root / "normal" / "n.nii.gz", b"\x1f\x8b\x08 broken")
    return train(MEDICAL, root, tmp), "n.nii.gz"


# ============================================================================ presets and options
PRESET_HEAD = 'id = "vision/mine"\ndomain = "vision"\ndescription = "mine"\n'


@case("preset")
def preset_wrong_type(tmp: Path) -> Case:
    path = write(tmp / "wrongtype.toml", PRESET_HEAD + '[train]\nepochs = "ten"\n')
    return ["presets", "show", str(path)], "wrongtype.toml"


@case("preset")
def preset_unknown_key(tmp: Path) -> Case:
    path = write(tmp / "unknown.toml", PRESET_HEAD + "[train]\nlearning_rate = 0.1\n")
    return ["presets", "show", str(path)], "unknown.toml"


@case("preset")
def preset_unknown_top_level_key(tmp: Path) -> Case:
    path = write(tmp / "toplevel.toml", PRESET_HEAD + "optimiser = 'adam'\n")
    return ["presets", "show", str(path)], "toplevel.toml"


@case("preset")
def preset_not_toml(tmp: Path) -> Case:
    path = write(tmp / "broken.toml", "id = \n[train\n")
    return ["presets", "show", str(path)], "broken.toml"


@case("preset")
def preset_not_utf8(tmp: Path) -> Case:
    path = write(tmp / "latin.toml", (PRESET_HEAD + 'industry = "caf\xe9"\n').encode("latin-1"))
    return ["presets", "show", str(path)], "latin.toml"


@case("preset")
def preset_value_out_of_range(tmp: Path) -> Case:
    path = write(tmp / "range.toml", PRESET_HEAD + "[train]\nlr = -0.1\n")
    root = class_folders(tmp / "data", {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}, good=2)
    return train(VISION, root, tmp, "--preset", str(path)), "range.toml"


@case("preset")
def preset_for_another_domain(tmp: Path) -> Case:
    path = write(tmp / "nlpfor.toml", 'id = "nlp/mine"\ndomain = "nlp"\ndescription = "d"\n')
    root = class_folders(tmp / "data", {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}, good=2)
    return train(VISION, root, tmp, "--preset", str(path)), "nlpfor.toml"


@case("option")
def set_lr_not_a_number(tmp: Path) -> Case:
    root = class_folders(tmp / "data", {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}, good=2)
    return train(VISION, root, tmp, "--set", "lr=abc"), "lr"


@case("option")
def negative_lr(tmp: Path) -> Case:
    root = class_folders(tmp / "data", {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}, good=2)
    return train(VISION, root, tmp, "--lr", "-1"), "lr"


@case("option")
def unknown_set_key(tmp: Path) -> Case:
    root = class_folders(tmp / "data", {"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes()}, good=2)
    return train(VISION, root, tmp, "--set", "bogus=1"), "bogus"


@case("option")
def allow_outside_not_a_bool(tmp: Path) -> Case:
    manifest = image_manifest(tmp / "data", "path,label\n" + GOOD_ROWS)
    return train(VISION, manifest, tmp, "--read-option", "allow_outside=perhaps"), "allow_outside"
