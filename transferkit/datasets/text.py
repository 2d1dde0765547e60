"""Readers for labelled text: CSV, TSV, JSONL (or a JSON array), and folders of ``class/*.txt``.

Every reader returns :class:`~transferkit.core.data.Examples` with one string per item and string
labels (``1`` and ``"1"`` are the same label). Bad input gets a :class:`~transferkit.errors.DataError`
naming the file, the field and the fix; rows that cannot be used (an empty text, a missing label, a
short row) are skipped and listed in ``Examples.skipped``, never dropped silently.

Columns (``text_cols``, ``label_col``) are names from the header row, or 0-based positions written as
numbers (``["1"]``, ``"0"``) for files without a header. When they are not given they are guessed from
common names (``text``, ``title``, ``description``, ``label``, ``class index``...), and a two-column file
without a header (the SMS Spam Collection's ``label<TAB>text``) takes the column with few distinct
values as the label. Several text columns are joined with ``join`` (``" . "`` by default), so that a
title and a description read as two sentences.

Example:
    >>> ex = read_text_table("ag_news.csv", text_cols=["Title", "Description"], label_col="Class Index")  # doctest: +SKIP
    >>> ex.items[0][:40], ex.labels[0]  # doctest: +SKIP
    ('Fears for T N pension after talks . Unio', '3')
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from transferkit.core.data import Examples, Skipped
from transferkit.datasets.splits import SPLIT_NAMES
from transferkit.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
# File stems and folders of each split: the shared table (transferkit.datasets.splits).

# Header names recognised when the user names no column (compared lower-cased, '_' and '-' as spaces).
LABEL_NAMES = (
    "label", "labels", "class", "class index", "category", "target", "y", "sentiment", "topic", "intent",
    "tag", "gold label", "class label",
)
TEXT_NAMES = (
    "text", "sentence", "sentence1", "content", "body", "message", "msg", "review", "title", "headline",
    "subject", "description", "document", "doc", "question", "query", "utterance", "abstract", "clause",
    "tweet", "comment", "summary", "provision", "sms", "email", "ticket",
)
# Python's csv refuses fields over 128 KiB by default; whole documents in one cell are normal here.
_FIELD_LIMIT = 2**31 - 1


def _norm(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


def _as_list(cols: Any) -> list[str] | None:
    if cols is None or cols == "" or cols == []:
        return None
    if isinstance(cols, (str, int)):
        cols = [cols]
    # "title,description" from a CLI flag is two columns; a header with a comma in a name is rare.
    return [part.strip() for c in cols for part in str(c).split(",") if part.strip()]


def _is_index(ref: str) -> bool:
    # ASCII digits only: "²".isdigit() is True but int("²") fails.
    return ref.strip().isascii() and ref.strip().isdigit()


def detect_format(path: Path, sample: str) -> str:
    """The table format from the extension, else from the first line (``{`` JSONL, a tab TSV, else CSV).

    Example:
        >>> detect_format(Path("SMSSpamCollection"), "ham\\tGo until jurong point")
        'tsv'
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt:
        return fmt
    first = sample.lstrip().split("\n", 1)[0]
    if first.startswith("{"):
        return "jsonl"
    if first.startswith("["):
        return "json"
    return "tsv" if "\t" in first else "csv"


def decode_file(path: Path, encoding: str = "utf-8") -> str:
    """The file's text, with a clear error naming the line when bytes do not decode.

    A UTF-8 byte-order mark is removed (Excel writes one), so that the first header name is clean.
    """
    if not isinstance(encoding, str):
        raise DataError(f"encoding must be a name such as 'utf-8', got {encoding!r}", file=path, field="encoding",
                        fix="pass --read-option encoding=latin-1 (for example)")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", file=path, fix="check the path") from None
    except IsADirectoryError:  # pragma: no cover - callers route folders elsewhere
        raise DataError("expected a file, got a folder", file=path) from None
    except OSError as err:
        raise DataError(f"cannot read the file: {err.strerror or err}", file=path, fix="check its permissions") from None
    try:
        text = raw.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"bytes {raw[err.start:err.start + 4]!r} at line {line} (byte {err.start}) are not valid {encoding}",
            file=path,
            field="encoding",
            fix="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`), or pass the "
            "file's encoding as a read option (encoding='latin-1')",
        ) from None
    except (LookupError, ValueError):  # ValueError: a name Python knows but cannot decode with ("rot13")
        raise DataError(f"unknown encoding '{encoding}'", file=path, field="encoding", fix="use e.g. utf-8 or latin-1") from None
    if not text.strip():
        raise DataError("the file is empty", file=path, fix="point at a file with a header and labelled rows")
    if "\x00" in text:
        # Text never holds NUL: this is a binary file, or UTF-16 without a byte-order mark.
        line = text[: text.index("\x00")].count("\n") + 1
        raise DataError(f"NUL bytes at line {line}: a binary file, or UTF-16 text", file=path, field="encoding",
                        fix="save the file as UTF-8 text, or pass its encoding as a read option (encoding='utf-16')")
    return text


# ---------------------------------------------------------------------------- rows
def _table_rows(text: str, fmt: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) for each CSV/TSV record; blank lines are not records."""
    if fmt == "tsv":
        # TSV is one record per line, split on tabs, quotes kept as text: SMS messages start with '"'
        # and a quoting parser would swallow the following lines into one field.
        return [(n, line.rstrip("\r").split("\t")) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as err:
        raise DataError(f"not valid CSV at line {reader.line_num}: {err}", field="csv") from None
    return rows


def _json_records(text: str, fmt: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    records: list[tuple[int, Any]] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"not valid JSON at line {err.lineno}: {err.msg}", file=path, field="json",
                            fix="write one object per line (JSONL) or a JSON array of objects") from None
        except (ValueError, RecursionError) as err:  # a 5000-digit number, nesting deeper than Python's stack
            raise DataError(f"JSON that cannot be read: {type(err).__name__}: {str(err)[:100]}", file=path,
                            field="json", fix="write one object per line (JSONL) or a JSON array of objects") from None
        if not isinstance(data, list):
            raise DataError("a .json file must hold an array of objects", file=path, field="json",
                            fix='write [{"text": ..., "label": ...}, ...] or use JSONL')
        records = [(i + 1, item) for i, item in enumerate(data)]
        what = "item"
    else:
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as err:
                raise DataError(f"line {number} is not valid JSON: {err.msg}", file=path, field=f"line {number}",
                                fix="each line must be one JSON object") from None
            except (ValueError, RecursionError) as err:  # a 5000-digit number, nesting deeper than the stack
                raise DataError(f"line {number} cannot be read: {type(err).__name__}: {str(err)[:100]}", file=path,
                                field=f"line {number}", fix="each line must be one JSON object") from None
        what = "line"
    for number, record in records:
        if not isinstance(record, dict):
            raise DataError(f"{what} {number} is a {type(record).__name__}, not an object", file=path,
                            field=f"{what} {number}", fix='write objects such as {"text": "...", "label": "..."}')
    return records


# ---------------------------------------------------------------------------- columns
def _guess_label(names: list[str]) -> str | None:
    for wanted in LABEL_NAMES:
        for name in names:
            if _norm(name) == wanted:
                return name
    return None


def _guess_text(names: list[str], label: str | None) -> list[str]:
    return [n for n in names if n != label and _norm(n) in TEXT_NAMES]


def _looks_like_header(first: list[str], rows: list[list[str]], label_idx: int | None) -> bool:
    """Whether the first row names the columns rather than holding an example."""
    known = set(LABEL_NAMES) | set(TEXT_NAMES)
    if any(_norm(cell) in known for cell in first):
        return True
    if label_idx is None or label_idx >= len(first):
        return False
    later = [r[label_idx].strip() for r in rows[:2000] if len(r) > label_idx]
    # A label column repeats its values; a header cell appears once, at the top.
    repeats = len(later) > 1 and len(set(later)) <= max(1, len(later) // 2)
    return repeats and first[label_idx].strip() not in set(later)


def _label_by_values(rows: list[list[str]], width: int) -> int:
    """For a header-less table: the column with the fewest distinct values (then the shortest) is the label."""
    sample = rows[:2000]

    def score(i: int) -> tuple[int, float]:
        values = [r[i].strip() for r in sample if len(r) > i]
        return len(set(values)), sum(map(len, values)) / max(1, len(values))

    return min(range(width), key=score)


def _columns_hint(names: list[str], header: bool) -> str:
    if header:
        return "columns in the file: " + ", ".join(repr(n) for n in names)
    return f"the file has no header row; refer to its {len(names)} columns by position: " + ", ".join(
        f"{i} (e.g. {cell[:20]!r})" for i, cell in enumerate(names)
    )


def _resolve(ref: str, names: list[str], header: bool, path: Path, field: str) -> int:
    if header and ref in names:
        return names.index(ref)
    if header:
        lowered = [_norm(n) for n in names]
        if _norm(ref) in lowered:
            return lowered.index(_norm(ref))
    if _is_index(ref) and int(ref) < len(names):
        return int(ref)
    hint = _columns_hint(names, header)
    if header and not _is_index(ref):
        hint += " (if the file has no header row, give 0-based column numbers, e.g. --label-col 0 --text-col 1)"
    raise DataError(f"no column {ref!r}", file=path, field=field, fix=hint)


# ---------------------------------------------------------------------------- readers
def read_text_table(
    path: str | Path,
    *,
    text_cols: list[str] | str | None = None,
    label_col: str | int | None = None,
    format: str | None = None,
    header: bool | None = None,
    join: str = " . ",
    encoding: str = "utf-8",
    min_classes: int = 2,
    text_col: str | None = None,
) -> Examples:
    """Read labelled texts from a CSV, TSV, JSONL or JSON-array file.

    Args:
        text_cols: column(s) holding the text, joined with ``join`` when several; guessed when None.
        label_col: the label column; guessed when None.
        format: ``csv``, ``tsv``, ``jsonl`` or ``json``; from the extension or the content when None.
        header: whether a CSV/TSV file starts with a header row; detected when None.
        min_classes: 2 for training data (one class is an error); 1 for data that is only scored.
        text_col: alias of ``text_cols`` for one column.

    Example:
        >>> ex = read_text_table("SMSSpamCollection")  # doctest: +SKIP
        >>> ex.counts()  # doctest: +SKIP
        {'ham': 4827, 'spam': 747}
    """
    path = Path(path)
    for name, value in (("join", join), ("format", format)):
        if value is not None and not isinstance(value, str):
            raise DataError(f"reader option {name}={value!r} must be text", file=path, field=name,
                            fix=f"pass --read-option {name}=... as a string")
    if header is not None and not isinstance(header, bool):
        from transferkit.datasets.manifest import option_bool

        header = option_bool(header, name="header", file=path)
    text = decode_file(path, encoding)
    fmt = (format or detect_format(path, text[:4096])).lower()
    texts_ref = _as_list(text_cols) or _as_list(text_col)
    label_ref = None if label_col is None or label_col == "" else str(label_col)
    if fmt in ("jsonl", "json"):
        examples = _read_records(path, _json_records(text, fmt, path), texts_ref, label_ref, join, fmt)
    elif fmt in ("csv", "tsv"):
        try:
            rows = _table_rows(text, fmt)
        except DataError as err:
            raise DataError(err.message, file=path, field=err.field, fix="check quoting around that line") from None
        examples = _read_rows(path, rows, texts_ref, label_ref, header, join, fmt)
    else:
        raise DataError(f"unknown format '{format}'", file=path, field="format", fix="use csv, tsv, jsonl or json")
    return _finish(examples, min_classes)


def _read_rows(
    path: Path,
    rows: list[tuple[int, list[str]]],
    texts_ref: list[str] | None,
    label_ref: str | None,
    header: bool | None,
    join: str,
    fmt: str,
) -> Examples:
    if not rows:
        raise DataError("the file has no rows", file=path, fix="add a header and labelled rows")
    first = rows[0][1]
    body = [cells for _, cells in rows[1:]]
    refs = [r for r in [*(texts_ref or []), label_ref] if r is not None]
    if header is None:
        if any(not _is_index(r) for r in refs):
            header = True  # columns given by name: the first row must name them
        else:
            guess = int(label_ref) if label_ref is not None else (
                _label_by_values(body, len(first)) if len(first) == 2 and body else None
            )
            header = _looks_like_header(first, body, guess)
    names = first if header else [str(i) for i in range(len(first))]
    data = rows[1:] if header else rows
    if not data:
        raise DataError("the file has a header but no data rows", file=path, fix="add labelled rows")

    if label_ref is not None:
        label_idx = _resolve(label_ref, first, header, path, "label_col")
    else:
        guessed = _guess_label(names) if header else None
        if guessed is not None:
            label_idx = names.index(guessed)
        elif len(first) == 2:
            label_idx = _label_by_values([c for _, c in data], 2)
        else:
            raise DataError(
                "cannot tell which column holds the label",
                file=path,
                field="label_col",
                fix=f"pass label_col (--label-col); {_columns_hint(first, header)}",
            )
    if texts_ref is not None:
        text_idx = [_resolve(ref, first, header, path, "text_cols") for ref in texts_ref]
    else:
        guessed_texts = _guess_text(names, names[label_idx]) if header else []
        if guessed_texts:
            text_idx = [names.index(n) for n in guessed_texts]
        elif len(first) == 2:
            text_idx = [1 - label_idx]
        else:
            raise DataError(
                "cannot tell which column(s) hold the text",
                file=path,
                field="text_cols",
                fix=f"pass text_cols (--text-col); {_columns_hint(first, header)}",
            )
    items, labels, skipped = [], [], []
    needed = max([label_idx, *text_idx]) + 1
    for line, cells in data:
        where = f"{path}:{line}"
        if len(cells) < needed:
            skipped.append(Skipped(where, f"row has {len(cells)} field(s), the columns used need {needed}"))
            continue
        if fmt == "tsv" and len(cells) > len(first) and text_idx == [len(first) - 1]:
            # A tab inside the last (text) column of a TSV: keep the whole text.
            cells = cells[: len(first) - 1] + ["\t".join(cells[len(first) - 1 :])]
        _append(items, labels, skipped, where, [cells[i] for i in text_idx], cells[label_idx], join)
    meta = {"format": fmt, "header": header, "text_cols": [names[i] for i in text_idx], "label_col": names[label_idx]}
    return Examples(items=items, labels=labels, source=str(path), skipped=skipped, meta=meta)


def _read_records(
    path: Path,
    records: list[tuple[int, dict[str, Any]]],
    texts_ref: list[str] | None,
    label_ref: str | None,
    join: str,
    fmt: str,
) -> Examples:
    if not records:
        raise DataError("the file has no records", file=path, fix="add one JSON object per labelled text")
    keys = list(dict.fromkeys(k for _, r in records[:1000] for k in r))
    label_key = label_ref if label_ref is not None else _guess_label(keys)
    text_keys = texts_ref if texts_ref is not None else _guess_text(keys, label_key)
    if label_key is None or label_key not in keys:
        raise DataError(
            f"no key {label_key!r}" if label_key else "cannot tell which key holds the label",
            file=path,
            field="label_col",
            fix=f"pass label_col (--label-col); keys in the file: {', '.join(map(repr, keys))}",
        )
    missing = [k for k in text_keys if k not in keys]
    if not text_keys or missing:
        raise DataError(
            f"no key {missing[0]!r}" if missing else "cannot tell which key(s) hold the text",
            file=path,
            field="text_cols",
            fix=f"pass text_cols (--text-col); keys in the file: {', '.join(map(repr, keys))}",
        )
    items, labels, skipped = [], [], []
    what = "line" if fmt == "jsonl" else "item"
    for number, record in records:
        where = f"{path}:{what} {number}" if fmt == "json" else f"{path}:{number}"
        label = record.get(label_key)
        if isinstance(label, (list, dict)):
            raise DataError(
                f"{what} {number}: the label is a {type(label).__name__}; multi-label data is not supported",
                file=path,
                field=label_key,
                fix="give one label per text",
            )
        _append(items, labels, skipped, where, [record.get(k) for k in text_keys], label, join)
    meta = {"format": fmt, "text_cols": list(text_keys), "label_col": label_key}
    return Examples(items=items, labels=labels, source=str(path), skipped=skipped, meta=meta)


def label_string(value: Any) -> str:
    """Labels as strings: ``1``, ``1.0`` and ``"1"`` are all ``"1"``; ``True`` is ``"true"``.

    Example:
        >>> label_string(2.0), label_string(" spam "), label_string(False)
        ('2', 'spam', 'false')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _append(items: list, labels: list, skipped: list, where: str, parts: list[Any], label: Any, join: str) -> None:
    pieces = [str(p).strip() for p in parts if p is not None and str(p).strip()]
    label_text = label_string(label)
    if not pieces:
        skipped.append(Skipped(where, "empty text"))
    elif not label_text:
        skipped.append(Skipped(where, "empty label"))
    else:
        items.append(join.join(pieces))
        labels.append(label_text)


def _finish(examples: Examples, min_classes: int) -> Examples:
    if len(examples) == 0:
        reasons = Counter(s.reason for s in examples.skipped)
        why = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3)) or "no rows"
        field = examples.meta.get("text_cols") if "empty text" in reasons else examples.meta.get("label_col")
        raise DataError(
            f"no usable examples ({why})",
            file=examples.source,
            field=",".join(field) if isinstance(field, list) else field,
            fix="check that text_cols and label_col name the right columns and that they are filled in",
        )
    if min_classes > 1 and len(examples.classes) < min_classes:
        raise DataError(
            f"only one class ({examples.classes[0]!r}) in {len(examples)} examples",
            file=examples.source,
            field=str(examples.meta.get("label_col", "label")),
            fix="a classifier needs examples of at least two classes; check label_col, or add examples",
        )
    return examples


def read_text_folder(
    path: str | Path, *, encoding: str = "utf-8", min_classes: int = 2, suffixes: tuple[str, ...] = (".txt",)
) -> Examples:
    """Read ``path/<label>/*.txt``: one text per file, the folder name is the label.

    Files that do not decode or are empty are skipped and listed with the reason (a folder of e-mails
    in latin-1 is read with ``encoding="latin-1"``).

    Example:
        >>> read_text_folder("aclImdb/train").classes  # doctest: +SKIP
        ['neg', 'pos']
    """
    path = Path(path)
    classes = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    items, labels, skipped = [], [], []
    for folder in classes:
        for file in sorted(folder.rglob("*")):
            if not file.is_file() or file.suffix.lower() not in suffixes:
                continue
            raw = file.read_bytes()
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as err:
                line = raw[: err.start].count(b"\n") + 1
                skipped.append(Skipped(str(file), f"not valid {encoding} at line {line}; pass encoding='latin-1'?"))
                continue
            if not text.strip():
                skipped.append(Skipped(str(file), "empty text"))
                continue
            items.append(text.strip())
            labels.append(folder.name)
    if not items and not skipped:
        raise DataError(
            f"no {'/'.join(suffixes)} files in class sub-folders",
            file=path,
            fix="lay the data out as <folder>/<label>/*.txt, or use a CSV/JSONL file",
        )
    return _finish(Examples(items, labels, str(path), skipped, {"format": "folder"}), min_classes)


def split_files(folder: str | Path) -> dict[str, Path]:
    """Split files in a folder: ``train.csv``, ``val.jsonl``/``validation``/``dev``, ``test.tsv``...

    Example:
        >>> split_files("data/ag-news")  # doctest: +SKIP
        {'train': PosixPath('data/ag-news/train.csv'), 'test': PosixPath('data/ag-news/test.csv')}
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for split, stems in SPLIT_NAMES.items():
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.stem.lower() in stems and file.suffix.lower() in FORMATS:
                found.setdefault(split, file)
    return found
