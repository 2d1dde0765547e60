"""CSV/TSV manifests: one file path and one label per row. The one reader images and medical data share.

A manifest is data a user may have downloaded, so its paths are not trusted: each is read relative to the
manifest's folder and must stay inside it. An absolute path, or one whose ``..`` climbs out, is refused
(naming the row) unless the caller allows it (``--read-option allow_outside=true``). The check is on the
path as written, made absolute and normalised without following symbolic links: a link the user placed
inside the folder is the user's choice, a ``../../home`` in a file is not.

Rows that cannot be used (an empty path or label, a file that does not exist) are refused by default,
naming the row, because a wrong base folder would otherwise train silently on a subset; with
``bad_rows="skip"`` they are skipped and listed in ``Examples.skipped`` instead.

Standard library only.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferkit.core.data import Skipped
from transferkit.errors import DataError

MANIFEST_SUFFIXES = (".csv", ".tsv")


def is_manifest(path: str | Path) -> bool:
    """Whether a reader should read ``path`` as a manifest: a ``.csv``/``.tsv`` that is not a folder. A missing
    one counts, so that every domain reports it the same way (:func:`read_manifest_rows`: "manifest file not
    found").

    Example:
        >>> is_manifest("missing/labels.csv"), is_manifest("data/")
        (True, False)
    """
    path = Path(path)
    return path.suffix.lower() in MANIFEST_SUFFIXES and not path.is_dir()


@dataclass
class ManifestRow:
    """One usable row: where it is in the file (``line``), the file it names and its label."""

    line: int
    path: Path
    label: str


@dataclass
class Manifest:
    """The rows of a manifest that name an existing file inside the allowed folder, and those skipped."""

    source: Path
    base: Path
    rows: list[ManifestRow]
    skipped: list[Skipped] = field(default_factory=list)
    path_col: str = "path"
    label_col: str = "label"


def option_bool(value: Any, *, name: str, file: object = None) -> bool:
    """A yes/no reader option given as a bool or as text (``true``, ``1``, ``yes``...).

    Example:
        >>> option_bool("true", name="allow_outside"), option_bool(0, name="allow_outside")
        (True, False)
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise DataError(f"reader option {name}={value!r} is not true or false", file=file, field=name,
                    fix=f"pass --read-option {name}=true or {name}=false")


def inside(base: Path, raw: str) -> tuple[Path, bool]:
    """``raw`` (relative to ``base``, or absolute) as a normalised absolute path, and whether it is in ``base``.

    Example:
        >>> inside(Path("/data"), "a/b.png")
        (PosixPath('/data/a/b.png'), True)
        >>> inside(Path("/data"), "../etc/passwd")[1], inside(Path("/data"), "/etc/passwd")[1]
        (False, False)
    """
    root = os.path.normpath(os.path.abspath(base))
    full = os.path.normpath(os.path.join(root, os.path.expanduser(raw) if raw.startswith("~") else raw))
    return Path(full), os.path.commonpath([root, full]) == root


def _pick(option: Any, columns: list[str], guesses: Sequence[str], default: str) -> str:
    if option:
        return str(option)
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[g] for g in guesses if g in lowered), default)


def read_manifest_rows(
    path: str | Path,
    *,
    path_col: str | None = None,
    label_col: str | None = None,
    path_guesses: Sequence[str] = ("path",),
    label_guesses: Sequence[str] = ("label",),
    allow_outside: bool = False,
    bad_rows: str = "error",
) -> Manifest:
    """Read a manifest's rows: columns checked, every path resolved against the manifest's folder and kept in it.

    ``path_col``/``label_col`` name the columns; when None, the first header name (case-insensitive) found
    in ``path_guesses``/``label_guesses`` is used. ``bad_rows``: ``"error"`` (default) or ``"skip"``.

    Example:
        >>> m = read_manifest_rows("scans/labels.csv", allow_outside=False)  # doctest: +SKIP
        >>> m.rows[0].path, m.rows[0].label  # doctest: +SKIP
        (PosixPath('/home/me/scans/a.nii.gz'), 'tumour')
    """
    path = Path(path)
    if bad_rows not in ("error", "skip"):
        raise DataError(f"reader option bad_rows={bad_rows!r} is not 'error' or 'skip'", file=path,
                        field="bad_rows", fix="pass --read-option bad_rows=skip to skip unusable rows")
    if not path.is_file():
        raise DataError("manifest file not found" if not path.exists() else "the manifest is not a file",
                        file=path, fix="check the path to the CSV file")
    raw_bytes = path.read_bytes()
    try:
        text = raw_bytes.decode("utf-8-sig")  # Excel's byte-order mark is not part of the first column name
    except UnicodeDecodeError as err:
        line = raw_bytes[: err.start].count(b"\n") + 1
        raise DataError(f"not UTF-8 text (bytes {raw_bytes[err.start:err.start + 4]!r} at line {line})", file=path,
                        fix="save the manifest as UTF-8 CSV") from None
    if "\x00" in text:
        raise DataError("the manifest holds NUL bytes: it is a binary file, or UTF-16 text", file=path,
                        fix="save the manifest as UTF-8 CSV")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = []
        start = 1
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as err:
        raise DataError(f"not valid CSV near line {reader.line_num}: {err}", file=path,
                        fix="check the quoting on that line") from None
    records = [(line, cells) for line, cells in records if any(c.strip() for c in cells)]
    if not records:
        raise DataError("the manifest is empty", file=path, fix="write a header (path,label) and one row per file")
    header = [c.strip() for c in records[0][1]]
    path_col = _pick(path_col, header, path_guesses, "path")
    label_col = _pick(label_col, header, label_guesses, "label")
    for column, option, flag in ((path_col, "path_col", "--read-option path_col=NAME"),
                                 (label_col, "label_col", "--label-col NAME")):
        if column not in header:
            raise DataError(
                f"no '{column}' column (columns: {', '.join(h for h in header if h) or 'none'})",
                file=path,
                field=column,
                fix=f"add a '{column}' column, or name the one to use with {flag} (reader option {option})",
            )
    if len(records) == 1:
        raise DataError("the manifest has a header but no rows", file=path, fix="add one row per file")
    p_idx, l_idx = header.index(path_col), header.index(label_col)
    base = path.parent
    manifest = Manifest(source=path, base=base, rows=[], path_col=path_col, label_col=label_col)
    missing: list[str] = []

    def bad(line: int, item: str, reason: str) -> None:
        if bad_rows == "skip":
            manifest.skipped.append(Skipped(item, f"line {line}: {reason}"))
            return
        raise DataError(f"line {line}: {reason}", file=path, field=path_col,
                        fix="correct or remove that row, or pass --read-option bad_rows=skip to skip such rows")

    for line, cells in records[1:]:
        if len(cells) > len(header):
            raise DataError(
                f"line {line} has {len(cells)} fields but the header has {len(header)}",
                file=path,
                fix="quote fields that hold a comma (\"a,b.png\"), or remove the extra fields",
            )
        raw = cells[p_idx].strip() if len(cells) > p_idx else ""
        label = cells[l_idx].strip() if len(cells) > l_idx else ""
        if not raw:
            bad(line, f"{path}:{line}", f"empty path (column '{path_col}')")
            continue
        if not label:
            bad(line, f"{path}:{line}", f"empty label (column '{label_col}') for {raw}")
            continue
        file, ok = inside(base, raw)
        if not ok and not allow_outside:
            raise DataError(
                f"line {line}: path {raw!r} points outside the manifest's folder ({base.resolve()})",
                file=path,
                field=path_col,
                fix="keep the files under the manifest's folder and use relative paths, or, if you trust this "
                "manifest, pass --read-option allow_outside=true",
            )
        if not file.exists():
            if bad_rows == "skip":
                manifest.skipped.append(Skipped(str(file), f"listed on line {line} but not found"))
            else:
                missing.append(f"{raw!r} (line {line})")
            continue
        manifest.rows.append(ManifestRow(line, file, label))
    if missing:
        raise DataError(
            f"{len(missing)} of {len(records) - 1} paths do not exist (first: {', '.join(missing[:3])})",
            file=path,
            field=path_col,
            fix=f"paths are read relative to the manifest's folder ({base}); correct them or remove those rows, "
            "or pass --read-option bad_rows=skip",
        )
    return manifest
