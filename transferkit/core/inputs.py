"""The rule for `transferkit predict` inputs of text domains: a path is read, a sentence is classified.

A text model given ``inbox/0001.eml`` must never label the string "inbox/0001.eml". Every text domain
(nlp, spam and plugins built on them) turns its command-line inputs into items with :func:`text_inputs`.
"""
from __future__ import annotations

import re
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


# File extensions a single-word argument may end in to be taken for a mistyped path. A known list, not "any
# 1-5 letters after a dot": short texts ("e.g.", "Mr.Smith", "U.S.", "lol.") and the web addresses spam is
# full of ("win-prize.com", "bit.ly") end in a dot and letters too. Left out on purpose: endings that are
# mostly web domains (.com, .net, .org, .io, .co, .ly, .me, .ai, ...) and program files.
FILE_EXTENSIONS = frozenset({
    # images
    "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "heic", "svg", "dcm", "nii",
    # text and data
    "txt", "csv", "tsv", "json", "jsonl", "ndjson", "xml", "yaml", "yml", "toml", "log", "parquet", "arrow",
    "feather", "npy", "npz", "pkl", "h5", "xls", "xlsx", "ods", "html", "htm", "md", "rst",
    # documents
    "pdf", "doc", "docx", "odt", "rtf", "ppt", "pptx", "epub",
    # archives
    "zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar",
    # mail
    "eml", "msg", "mbox", "emlx",
    # audio and video
    "wav", "mp3", "flac", "ogg", "mp4", "mov", "avi", "mkv",
})
PATH_PREFIXES = ("./", "../", "~/", ".\\", "..\\")  # relative and home (and Windows' relative)
# An absolute path: a drive ("C:\\data", "c:/in"), or "/" with a second separator further on ("/data/in"):
# "/start" or "/help" alone is a chat command, a text.
_ABSOLUTE = re.compile(r"^([a-z]:[\\/]|/[^/]+/)")
PATH_SEPARATORS = ("/", "\\")
# A host name before the first "/" ("win-prize.com/", "bit.ly/x"): a web address without its scheme.
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.([a-z]{2,})(:\d+)?$")


def is_web_address(word: str) -> bool:
    """Whether one word is a web address: a scheme (``http://``), ``www.``, or a host name before a ``/``.

    Example:
        >>> [is_web_address(w) for w in ("http://x.co", "www.win-prize.com", "win-prize.com/claim", "Maildir/")]
        [True, True, True, False]
    """
    lowered = word.lower()
    if "://" in lowered or lowered.startswith("www."):
        return True
    host, slash, _ = lowered.partition("/")
    found = _HOST.match(host) if slash else None
    # "photos.zip/" names an archive's folder, not a site: a file extension is no top-level domain here.
    return bool(found) and found.group(2) not in FILE_EXTENSIONS


def looks_like_a_path(value: str, extra_suffixes: Iterable[str] = ()) -> bool:
    """A single word a person meant as a path: it ends in a known file extension (:data:`FILE_EXTENSIONS`,
    or one of ``extra_suffixes``), ends with a path separator, starts with ``./``, ``../`` or ``~/``, or is
    absolute (a drive letter, or ``/`` with another separator further on). A web address (:func:`is_web_address`) is never one: it is a text to classify.

    Example:
        >>> [looks_like_a_path(v) for v in ("photo1.jpg", "Maildir/", "./notes", "report.PDF", "~/in", "C:\\in", "/x/y")]
        [True, True, True, True, True, True, True]
        >>> [looks_like_a_path(v) for v in ("/start", "/help")]  # chat commands
        [False, False]
        >>> [looks_like_a_path(v) for v in ("e.g.", "Mr.Smith", "U.S.", "lol.", "a b.jpg")]
        [False, False, False, False, False]
        >>> [looks_like_a_path(v) for v in ("www.win-prize.com", "http://x.co", "win-prize.com/")]
        [False, False, False]
    """
    if not value or any(ch.isspace() for ch in value) or is_web_address(value):
        return False
    lowered = value.lower()
    if lowered.startswith(PATH_PREFIXES) or _ABSOLUTE.match(lowered):
        return True
    if lowered.endswith(PATH_SEPARATORS):
        # A name before the separator ("Maildir/"), not a face (":/").
        return any(ch.isalnum() for ch in lowered)
    if lowered.endswith(tuple(s.lower() for s in extra_suffixes if s)):
        return True
    stem, dot, extension = lowered.rpartition(".")
    # A name before the dot ("photo1.jpg", "in/a.csv"), not a bare ".jpg" or "...".
    return bool(dot) and bool(stem.strip("./\\")) and extension in FILE_EXTENSIONS


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
    in it, or raises a one-line error); one that looks like a path (:func:`looks_like_a_path`: one word
    ending in a known file extension or one of ``file_suffixes``, ending with a separator or starting like
    a path) but does not exist is an error; anything else is a text to classify.

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
        elif looks_like_a_path(value, suffixes):
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
