"""Readers for labelled images: class folders (optionally split into train/val/test) and CSV manifests.

Every image is checked for decodability when it is read, so that a broken file is reported once, with
its reason, in ``Examples.skipped`` instead of failing an epoch halfway through. Known placeholder images
(the "this image could not be found" pictures that photo sites serve for deleted photos, one of which
ships inside the public hymenoptera set) decode fine but carry no label information: they are skipped too.

Torch-free: PIL and the standard library only.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transferkit.core.data import Examples, Skipped, require_classes
from transferkit.datasets.limits import PIXELS_ENV, max_pixels, too_large
from transferkit.datasets.manifest import is_manifest, option_bool, read_manifest_rows
from transferkit.datasets.splits import SPLITS, split_folders
from transferkit.errors import DataError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
SPLIT_NAMES = SPLITS  # the shared table: transferkit.datasets.splits

# Placeholder images known to sit in public image sets in place of a deleted photo: (size, sha256).
# Keyed by size first so that only files of exactly that size are hashed.
KNOWN_PLACEHOLDERS = {
    (5504, "6b4966252973c581b521f804453c6a0649ea6a2ce7e3e5c7deeb7d80623de231"): "the 'we're sorry, this image "
    "could not be found' placeholder (hymenoptera train/ants/imageNotFound.gif)",
}
_PLACEHOLDER_SIZES = {size for size, _ in KNOWN_PLACEHOLDERS}
_PLACEHOLDER_NAME = re.compile(r"(image|photo|img)[-_ ]?(not[-_ ]?found|unavailable|missing|removed)", re.I)


def _is_hidden(path: Path | str) -> bool:
    # Dot-files (.DS_Store, .ipynb_checkpoints) and __MACOSX are operating-system litter, not data.
    name = path if isinstance(path, str) else path.name
    return name.startswith(".") or name.startswith("__")


@contextlib.contextmanager
def open_image(path: Path | str, *, limit: int | None = None) -> Iterator[Any]:
    """``PIL.Image.open`` that refuses an image declaring more than ``limit`` pixels before decoding it.

    PIL reads only the header on open; the size it declares is checked here against the cap of
    :mod:`transferkit.datasets.limits` (reader option ``max_pixels``, ``TRANSFERKIT_MAX_PIXELS``), which
    replaces PIL's own fixed bomb limit so that one setting governs both.

    Example:
        >>> with open_image("big.png", limit=1000) as image:  # doctest: +SKIP
        ...     image.load()
        Traceback (most recent call last):
        transferkit.errors.DataError: big.png: image declares 2000 x 2000 = 4,000,000 pixels, over the limit ...
    """
    from PIL import Image

    limit = max_pixels() if limit is None else limit
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our check below replaces PIL's, with the limit the user set
    try:
        image = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    with image:
        width, height = image.size
        reason = too_large(width * height, limit, what="pixels", shape=(width, height), key="max_pixels",
                           env=PIXELS_ENV)
        if reason:
            raise DataError(f"image {reason}", file=path, fix="remove the file, or raise the limit as said")
        yield image


def check_image(path: Path, *, verify: bool = True, limit: int | None = None) -> str | None:
    """Why ``path`` cannot be used as a training image, or None when it is fine.

    Decodes the image (reduced, for JPEG) because ``Image.verify()`` alone lets truncated JPEGs through.
    An image declaring more than ``limit`` pixels (see :func:`open_image`) is refused before decoding.

    Example:
        >>> check_image(Path("missing.jpg"))
        'file not found'
    """
    from PIL import Image

    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "file not found"
    except OSError as err:
        return f"cannot read the file: {err}"
    if size == 0:
        return "empty file (0 bytes)"
    if size in _PLACEHOLDER_SIZES:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if (size, digest) in KNOWN_PLACEHOLDERS:
            return f"placeholder image: {KNOWN_PLACEHOLDERS[size, digest]}"
    if _PLACEHOLDER_NAME.search(path.stem):
        return "placeholder image (its name says the original photo is missing)"
    if not verify:
        return None
    try:
        with open_image(path, limit=limit) as image:
            if image.format == "JPEG":
                image.draft("RGB", (64, 64))  # decode at 1/8 scale: still reads every byte of the file
            image.load()
            if image.width < 1 or image.height < 1:
                return "image has no pixels"
    except DataError as err:
        return err.message
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
        # PIL raises OSError for truncated data and UnidentifiedImageError (an OSError) for non-images.
        return f"cannot decode the image: {err}"
    return None


def _split_dirs(root: Path) -> dict[str, Path]:
    # A split folder counts when it holds class folders.
    return split_folders(root, accept=lambda d: any(c.is_dir() and not _is_hidden(c) for c in d.iterdir()))


def image_folder_splits(root: str | Path) -> list[str]:
    """The splits ``root`` holds as sub-folders (``train``/``val``/``test``, also ``valid``, ``validation``...).

    Example:
        >>> image_folder_splits("/nonexistent")
        []
    """
    found = _split_dirs(Path(root))
    return [s for s in SPLIT_NAMES if s in found]


def read_image_folder(root: str | Path, *, split: str | None = None, verify: bool = True,
                      limit: int | None = None) -> Examples:
    """Read ``root/<class>/*.<image>``, or ``root/<split>/<class>/*`` when ``root`` holds split folders.

    ``split=None`` on a folder with splits reads ``train``. On a folder without split sub-folders the
    folder is the one set there is and ``split`` is ignored. Files that are not images, cannot be decoded
    or are known placeholders are listed in ``Examples.skipped`` with the reason.

    Example:
        >>> ex = read_image_folder("data/hymenoptera", split="val")  # doctest: +SKIP
        >>> ex.counts()  # doctest: +SKIP
        {'ants': 70, 'bees': 83}
    """
    root = Path(root)
    if not root.exists():
        raise DataError("folder not found", file=root, fix="check the path to the image folder")
    if not root.is_dir():
        raise DataError("not a folder", file=root, fix="pass a folder of class sub-folders, or a CSV manifest")
    splits = _split_dirs(root)
    chosen: str | None = None
    folder = root
    if splits:
        chosen = split or "train"
        if chosen not in splits:
            raise DataError(
                f"no '{chosen}' split here (found: {', '.join(s for s in SPLIT_NAMES if s in splits)})",
                file=root,
                field="split",
                fix=f"add a '{chosen}/' sub-folder of class folders, or choose one of the splits found",
            )
        folder = splits[chosen]

    class_dirs = [d for d in sorted(folder.iterdir()) if d.is_dir() and not _is_hidden(d)]
    loose = [f for f in sorted(folder.iterdir()) if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS]
    if not class_dirs:
        what = f"{len(loose)} images directly in the folder" if loose else "no class sub-folders"
        raise DataError(
            f"{what}; an image folder holds one sub-folder per class",
            file=folder,
            field="class folders",
            fix=f"arrange the images as {folder}/<class name>/<image>.jpg, or use a CSV manifest with path,label",
        )
    items: list[str] = []
    labels: list[str] = []
    skipped: list[Skipped] = []
    for f in loose:
        skipped.append(Skipped(str(f), "image outside any class folder: its label is unknown"))
    for class_dir in class_dirs:
        for path in sorted(class_dir.rglob("*")):
            if not path.is_file() or any(_is_hidden(p) for p in path.relative_to(class_dir).parts):
                continue
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append(Skipped(str(path), f"not an image file (extension '{path.suffix or 'none'}')"))
                continue
            reason = check_image(path, verify=verify, limit=limit)
            if reason:
                skipped.append(Skipped(str(path), reason))
                continue
            items.append(str(path))
            labels.append(class_dir.name)
    empty = [d.name for d in class_dirs if d.name not in set(labels)]
    examples = Examples(items=items, labels=labels, source=str(folder), skipped=skipped,
                        meta={"format": "image-folder", "root": str(root), "split": chosen})
    if not items:
        raise DataError(
            f"no readable images in {len(class_dirs)} class folder(s)"
            + (f" ({len(skipped)} files skipped, first: {skipped[0].item}: {skipped[0].reason})" if skipped else ""),
            file=folder,
            field="images",
            fix=f"put images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {folder}/<class name>/",
        )
    for name in empty:
        # Never a silent drop: a class folder with no usable image leaves that class out of the model.
        examples.skipped.append(
            Skipped(str(folder / name), f"class folder has no readable image: class '{name}' is left out")
        )
    require_classes(examples)
    return examples


def read_csv_manifest(path: str | Path, *, path_col: str = "path", label_col: str = "label",
                      verify: bool = True, allow_outside: bool = False, bad_rows: str = "error",
                      limit: int | None = None) -> Examples:
    """Read a CSV with one image path and one label per row; paths are relative to the CSV's folder.

    The rows are read by :func:`transferkit.datasets.manifest.read_manifest_rows` (shared with the medical
    reader): a missing column, an empty cell, a file that does not exist, or a path outside the CSV's folder
    (unless ``allow_outside``) raise :class:`DataError` naming the file, the row and the fix; undecodable
    images are skipped and listed.

    Example:
        >>> ex = read_csv_manifest("labels.csv", label_col="species")  # doctest: +SKIP
    """
    manifest = read_manifest_rows(path, path_col=path_col, label_col=label_col, path_guesses=("path",),
                                  label_guesses=("label",), allow_outside=allow_outside, bad_rows=bad_rows)
    items: list[str] = []
    labels: list[str] = []
    skipped = list(manifest.skipped)
    for row in manifest.rows:
        reason = check_image(row.path, verify=verify, limit=limit)
        if reason:
            skipped.append(Skipped(str(row.path), reason))
            continue
        items.append(str(row.path))
        labels.append(row.label)
    examples = Examples(items=items, labels=labels, source=str(path), skipped=skipped,
                        meta={"format": "csv-manifest", "root": str(manifest.base), "split": None})
    if not items:
        first = f" (first: {skipped[0].item}: {skipped[0].reason})" if skipped else ""
        raise DataError(f"no readable images among {len(skipped)} rows{first}", file=path, field=manifest.path_col,
                        fix="list decodable images (" + ", ".join(sorted(IMAGE_EXTENSIONS)) + ")")
    require_classes(examples)
    return examples


def read_images(path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
    """Read labelled images from a class folder (with or without split folders) or a ``.csv`` manifest.

    ``options``: ``path_col``, ``label_col`` (manifest columns), ``verify`` (decode-check every image,
    default true), ``max_pixels`` (the size cap, see :mod:`transferkit.datasets.limits`), and for a manifest
    ``allow_outside`` (accept paths outside its folder) and ``bad_rows`` (``error`` or ``skip``).

    Example:
        >>> read_images("data/hymenoptera", split="val").classes  # doctest: +SKIP
        ['ants', 'bees']
    """
    options = dict(options or {})
    verify = option_bool(options.pop("verify", True), name="verify", file=path)
    path_col = options.pop("path_col", None) or "path"
    label_col = options.pop("label_col", None) or "label"
    limit = max_pixels(options)
    path = Path(path)
    if is_manifest(path):
        return read_csv_manifest(path, path_col=path_col, label_col=label_col, verify=verify, limit=limit,
                                 allow_outside=option_bool(options.get("allow_outside", False),
                                                           name="allow_outside", file=path),
                                 bad_rows=str(options.get("bad_rows", "error")))
    if path.is_file():
        raise DataError(
            "a single file is not a labelled data set",
            file=path,
            fix="pass a folder of class sub-folders (<class>/<image>.jpg) or a CSV manifest with path,label",
        )
    return read_image_folder(path, split=split, verify=verify, limit=limit)


def list_images(inputs: list[str]) -> list[str]:
    """Expand prediction inputs: image files as they are, folders to the images they hold (sorted).

    Example:
        >>> list_images([])
        []
    """
    out: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not _is_hidden(p))
            if not found:
                raise DataError("no images in this folder", file=path, fix="pass image files or a folder of images")
            out.extend(found)
        elif path.is_file():
            out.append(str(path))
        else:
            raise DataError("no such file or folder", file=path, fix="check the path of the image to predict")
    return out
