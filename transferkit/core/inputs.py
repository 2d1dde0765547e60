"""The rule for `transferkit predict` inputs of text domains: a path is read, a sentence is classified.

A text model given ``inbox/0001.eml`` must never label the string "inbox/0001.eml". Every text domain
(nlp, spam and plugins built on them) turns its command-line inputs into items with :func:`text_inputs`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from transferkit.errors import DataError, UsageError

# Longer than any path a file system accepts: such an argument is a text, and stat() on it could fail.
MAX_PATH_CHARS = 4096


def looks_like_a_file_name(value: str, suffixes: Iterable[str]) -> bool:
    """A single word ending in one of ``suffixes``: a mistyped path, not a text to classify.

    Example:
        >>> looks_like_a_file_name("inbox/0001.eml", [".eml"]), looks_like_a_file_name("WIN a prize.eml now", [".eml"])
        (True, False)
    """
    return not any(ch.isspace() for ch in value) and value.lower().endswith(tuple(suffixes))


def existing_path(value: str) -> Path | None:
    """``value`` as a path when a file or folder of that name exists, else None (then it is a text).

    Example:
        >>> existing_path("a sentence that names no file") is None
        True
    """
    if not value or len(value) > MAX_PATH_CHARS or "\n" in value or "\0" in value:
        return None
    try:
        path = Path(value).expanduser()
        return path if path.exists() else None
    except (OSError, ValueError):  # a name too long for this file system, or one it cannot hold
        return None


def text_inputs(raw: list[str], *, read_path: Callable[[Path], list[Any]], file_suffixes: Iterable[str]) -> list[Any]:
    """Items for a text model from command-line inputs.

    Each input that names an existing file or folder is read with ``read_path`` (which returns the items
    in it, or raises a one-line error); one that looks like a file name (one word ending in one of
    ``file_suffixes``) but does not exist is an error; anything else is a text to classify.

    Example:
        >>> text_inputs(["free entry now", "hello"], read_path=lambda p: [], file_suffixes=[".txt"])
        ['free entry now', 'hello']
    """
    suffixes = tuple(file_suffixes)
    items: list[Any] = []
    for value in raw:
        value = str(value)
        path = existing_path(value)
        if path is not None:
            items += read_path(path)
        elif looks_like_a_file_name(value, suffixes):
            raise DataError("no such file", file=value,
                            fix="check the path; to classify a text that looks like a file name, add a space")
        elif value.strip():
            items.append(value)
        else:
            raise UsageError("empty text given to predict", fix='pass the texts in quotes, or files to read them from')
    if not items:
        raise UsageError("nothing to predict", fix='pass texts in quotes: predict MODEL "some text"')
    return items


def read_text_lines(path: Path) -> list[str]:
    """The non-empty lines of a UTF-8 text file, one text each; a folder or a table is refused.

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "a.txt").write_text("first text\\n\\nsecond text\\n")
        ...     read_text_lines(Path(d) / "a.txt")
        ['first text', 'second text']
    """
    if path.is_dir():
        raise UsageError("a folder given to predict: a text model reads texts, or a .txt file of them", file=path,
                         fix="pass a .txt file with one text per line, or the texts in quotes")
    if path.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json", ".parquet"):
        raise UsageError("a table given to predict: its columns are not known here", file=path,
                         fix="put one text per line in a .txt file, or score a labelled table with "
                         "`transferkit evaluate MODEL --data FILE`")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file", file=path, fix="save it as UTF-8, one text per line") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError("no text in the file", file=path, fix="put one text per line")
    return lines
