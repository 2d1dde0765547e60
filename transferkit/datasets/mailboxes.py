"""Mail as it is stored: folders of messages per label, ``.eml`` files, mbox files, Maildir, SMS tables.

:func:`read_messages` reads labelled mail for training and evaluation; :func:`iter_messages` and
:func:`read_unlabelled` read mail to score, one message at a time. Each message becomes one model input
string (:mod:`transferkit.datasets.email`). A message that cannot be used (empty, binary, unparseable, no
text) is listed in ``Examples.skipped`` with its path and the reason, never dropped silently; when no
message at all can be used, a :class:`~transferkit.errors.DataError` names the folder.

Layouts read by :func:`read_messages`:

- ``data/<label>/...``: each sub-folder is a label (``ham/``, ``spam/``, any names); inside, any mix of
  ``.eml`` files, plain-text messages (Enron-Spam's ``Subject:`` first line, any charset), mbox files and
  Maildir folders (``cur/``, ``new/``), nested folders too;
- ``data/train/<label>/...``, ``data/val/...``, ``data/test/...``: one such folder per split;
- a single mbox file, Maildir, ``.eml`` file or folder of messages with ``options={"label": "spam"}``;
- a CSV/TSV/JSONL table such as the SMS Spam Collection (read by :func:`~transferkit.datasets.text.read_text_table`).

Hidden files and folders (``.DS_Store``, Maildir++ sub-folders) and a Maildir's ``tmp/`` (deliveries in
progress, by the Maildir convention) are not messages and are not read.

Example:
    >>> ex = read_messages("enron1")  # doctest: +SKIP
    >>> ex.counts()  # doctest: +SKIP
    {'ham': 3672, 'spam': 1500}
"""
from __future__ import annotations

import logging
import mailbox
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferkit.core.data import Examples, Skipped
from transferkit.datasets.email import (
    FIELDS, MAX_CHARS, MailError, fields_option, looks_like_rfc822, normalise, parse_mail,
)
from transferkit.datasets.text import FORMATS, SPLIT_NAMES, label_string, read_text_table, split_files
from transferkit.errors import DataError, MissingDependencyError, UsageError

log = logging.getLogger("transferkit")

# Options of the mail reader itself; the table reader's options pass through for CSV/TSV/JSONL files.
MAIL_OPTIONS = {
    "label": "the label of every message read: for one mbox, Maildir, .eml file or folder without label folders",
    "fields": f"the message fields the model reads, comma-separated (default: {','.join(FIELDS)})",
    "normalise": "replace URLs, e-mail addresses, amounts and numbers with tokens (true/false, default true)",
    "max_chars": f"characters of each message body kept (default {MAX_CHARS})",
}
TABLE_OPTIONS = ("text_cols", "text_col", "label_col", "format", "header", "join", "encoding")
READ_OPTIONS = (*MAIL_OPTIONS, *TABLE_OPTIONS)
# Seconds between progress lines while a large folder is read.
PROGRESS_EVERY = 3.0
_MAIL_SUFFIXES = (".eml", ".msg", ".mbox", ".mbx", ".mail")


@dataclass(frozen=True)
class _Settings:
    fields: tuple[str, ...] = FIELDS
    normalise: bool = True
    max_chars: int = MAX_CHARS
    label: str | None = None


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"read option {name} must be true or false, got {value!r}", field=name)


def _settings(options: dict[str, Any] | None) -> tuple[_Settings, dict[str, Any]]:
    """Split options into the mail reader's settings and the table reader's options; refuse unknown ones."""
    opts = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(opts) - set(READ_OPTIONS))
    if unknown:
        raise UsageError(f"unknown read option(s) {', '.join(unknown)} for mail", field=unknown[0],
                         fix=f"allowed: {', '.join(READ_OPTIONS)}")
    try:
        fields = fields_option(opts.get("fields"))
    except ValueError as err:
        raise UsageError(str(err), field="fields", fix="e.g. --read-option fields=subject,body") from None
    try:
        max_chars = int(opts.get("max_chars", MAX_CHARS))
    except (TypeError, ValueError):
        max_chars = 0
    if max_chars < 1:
        raise UsageError(f"read option max_chars must be a positive integer, got {opts['max_chars']!r}",
                         field="max_chars")
    label = label_string(opts["label"]) if "label" in opts else None
    if label == "":
        raise UsageError("read option label is empty", field="label", fix="e.g. --read-option label=spam")
    settings = _Settings(fields, _bool(opts.get("normalise", True), "normalise"), max_chars, label)
    return settings, {k: v for k, v in opts.items() if k in TABLE_OPTIONS}


# ---------------------------------------------------------------------------- where messages are
def is_maildir(path: Path) -> bool:
    """Whether ``path`` is a Maildir folder (it has ``cur/`` and ``new/``)."""
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def is_mbox(path: Path) -> bool:
    """Whether ``path`` is an mbox file: its first line is an mbox ``From `` separator."""
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"From "
    except OSError:
        return False


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _message_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` that may hold messages, in a stable order."""
    if is_maildir(folder):
        # cur/ and new/ hold delivered messages; tmp/ holds deliveries in progress (Maildir convention).
        return [f for sub in ("new", "cur") for f in sorted((folder / sub).iterdir()) if f.is_file() and _visible(f)]
    files: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if not _visible(entry):
            continue
        if entry.is_dir():
            files.extend(_message_files(entry))
        elif entry.is_file():
            files.append(entry)
    return files


def _raw_messages(file: Path, skip: Callable[[Skipped], None]) -> Iterator[tuple[str, bytes, bool | None]]:
    """(source id, bytes, whether it is RFC 822: None to decide from the content) for each message in a file."""
    try:
        with file.open("rb") as handle:
            head = handle.read(5)
            raw = b"" if head == b"From " else head + handle.read()
    except OSError as err:
        skip(Skipped(str(file), f"cannot read the file: {err.strerror or err}"))
        return
    if head == b"From ":  # an mbox: its first line is a "From " separator
        yield from _mbox_messages(file, skip)
        return
    yield str(file), raw, (True if file.suffix.lower() == ".eml" else None)


def _mbox_messages(file: Path, skip: Callable[[Skipped], None]) -> Iterator[tuple[str, bytes, bool | None]]:
    try:
        box = mailbox.mbox(file, create=False)
        keys = list(box.iterkeys())
    except Exception as err:  # noqa: BLE001 - reported with the path
        skip(Skipped(str(file), f"cannot read as mbox: {type(err).__name__}: {err}"))
        return
    try:
        for number, key in enumerate(keys, 1):
            where = f"{file}#{number}"
            try:
                raw = box.get_bytes(key)
            except Exception as err:  # noqa: BLE001
                skip(Skipped(where, f"cannot read message {number} of the mbox: {err}"))
                continue
            yield where, raw, True
    finally:
        box.close()  # nothing was changed, so close() writes nothing


def _texts(files: Iterable[Path], settings: _Settings, skip: Callable[[Skipped], None],
           on_file: Callable[[], None] | None = None) -> Iterator[tuple[str, str]]:
    """(source id, model input) for every usable message in ``files``; the others go to ``skip``."""
    for file in files:
        for where, raw, rfc822 in _raw_messages(file, skip):
            try:
                mail = parse_mail(raw, rfc822=rfc822)
                text = mail.to_text(settings.fields, normalise=settings.normalise, max_chars=settings.max_chars)
            except MailError as err:
                skip(Skipped(where, str(err)))
                continue
            except MissingDependencyError:
                raise
            except Exception as err:  # noqa: BLE001 - one odd message must not stop a folder of thousands
                skip(Skipped(where, f"unexpected error while reading: {type(err).__name__}: {err}"))
                continue
            yield where, text
        if on_file is not None:
            on_file()


class _Progress:
    """Progress lines while a folder is read, at most one every PROGRESS_EVERY seconds, and a summary."""

    def __init__(self, total_files: int, source: Path, report: Callable[[str], None] | None):
        self.total, self.source = total_files, source
        self.report = report or log.info
        self.files = self.messages = self.skipped = 0
        self.start = self.last = time.monotonic()

    def file_done(self) -> None:
        self.files += 1
        self.tick()

    def tick(self) -> None:
        """Called after each message and file: a line when PROGRESS_EVERY seconds have passed (an mbox
        of thousands of messages is one file)."""
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY:
            self.last = now
            self.report(f"reading mail from {self.source}: {self.files:,}/{self.total:,} files, "
                        f"{self.messages:,} messages, {self.skipped:,} skipped")

    def finish(self) -> float:
        seconds = max(time.monotonic() - self.start, 1e-9)
        self.report(f"read {self.messages:,} messages from {self.source} ({self.skipped:,} skipped) in "
                    f"{seconds:.1f} s, {self.messages / seconds:,.0f} messages/s")
        return seconds


# ---------------------------------------------------------------------------- labelled mail
def splits_in(path: str | Path) -> list[str]:
    """The splits a folder holds: ``train``/``val``/``test`` sub-folders or split files (``train.csv``).

    Example:
        >>> splits_in("data")  # doctest: +SKIP
        ['test', 'train', 'val']
    """
    path = Path(path)
    found = set(split_files(path))
    if path.is_dir():
        found |= {split for split, names in SPLIT_NAMES.items() if any((path / n).is_dir() for n in names)}
    return sorted(found)


def _split_folder(path: Path, split: str | None) -> Path:
    present = {split: next((path / n for n in names if (path / n).is_dir()), None)
               for split, names in SPLIT_NAMES.items()}
    if not any(present.values()):
        return path  # one set, read as it is (also when --val points at it with split="val")
    wanted = split or "train"
    folder = present.get(wanted)
    if folder is None:
        found = ", ".join(s for s, f in present.items() if f)
        raise DataError(f"no '{wanted}' sub-folder (found: {found})", file=path,
                        fix=f"add {path / wanted}/<label>/ with messages, or point at a split folder itself")
    return folder


def read_messages(
    path: str | Path,
    *,
    split: str | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Examples:
    """Read labelled mail: one model input string per message, labels as strings.

    Args:
        path: a folder of label sub-folders (or of ``train/``, ``val/``, ``test/`` folders holding them),
            a single mbox/Maildir/``.eml``/message folder with ``options["label"]``, or a CSV/TSV/JSONL table.
        split: ``train``, ``val`` or ``test`` for a folder with split sub-folders; None reads ``train``.
        options: ``label``, ``fields``, ``normalise``, ``max_chars``, and the table reader's options
            (``text_cols``, ``label_col``, ``encoding``...).
        progress: called with a progress line every few seconds and a summary at the end (default: the
            ``transferkit`` logger at INFO level).

    Example:
        >>> ex = read_messages("mail/", options={"fields": "subject,body"})  # doctest: +SKIP
        >>> ex.items[0]  # doctest: +SKIP
        'subject: Lunch?\\nAre you free at NUMBER ?'
    """
    settings, table_opts = _settings(options)
    path = Path(path)
    if not path.exists():
        raise DataError("file or folder not found", file=path, fix="check the path")
    min_classes = 1 if split == "test" or settings.label is not None else 2
    if path.is_dir() and settings.label is None:
        files = split_files(path)
        if files and not any((path / n).is_dir() for names in SPLIT_NAMES.values() for n in names):
            wanted = split or "train"
            if wanted not in files:
                raise DataError(f"no '{wanted}' split file in the folder (found: {', '.join(sorted(files))})",
                                file=path, fix=f"add {wanted}.csv (or .tsv/.jsonl), or point at the file itself")
            return _read_table(files[wanted], settings, table_opts, min_classes)
        path = _split_folder(path, split)
    if path.is_file() and settings.label is None:
        return _read_single_file(path, settings, table_opts, min_classes)
    if settings.label is not None:
        groups = [(settings.label, _message_files(path) if path.is_dir() else [path])]
        stray: list[Path] = []
    else:
        if is_maildir(path):
            raise DataError("a Maildir holds no labels", file=path,
                            fix="pass its label, e.g. --read-option label=spam, or lay out <folder>/<label>/ folders")
        labels = [d for d in sorted(path.iterdir()) if d.is_dir() and _visible(d)]
        if not labels:
            raise DataError("no label sub-folders", file=path,
                            fix="lay mail out as <folder>/<label>/ (e.g. ham/, spam/) holding .eml, text, mbox or "
                                "Maildir, or pass the label of every message, e.g. --read-option label=spam")
        groups = [(d.name, _message_files(d)) for d in labels]
        stray = [f for f in sorted(path.iterdir()) if f.is_file() and _visible(f)]
    return _read_groups(path, groups, stray, settings, progress, min_classes)


def _read_groups(path: Path, groups: list[tuple[str, list[Path]]], stray: list[Path], settings: _Settings,
                 progress: Callable[[str], None] | None, min_classes: int) -> Examples:
    skipped = [Skipped(str(f), "a file beside the label folders has no label; move it into one") for f in stray]
    meter = _Progress(sum(len(files) for _, files in groups), path, progress)
    meter.skipped = len(skipped)

    def skip(item: Skipped) -> None:
        skipped.append(item)
        meter.skipped += 1

    items: list[str] = []
    labels: list[str] = []
    for label, files in groups:
        for _, text in _texts(files, settings, skip, meter.file_done):
            items.append(text)
            labels.append(label)
            meter.messages += 1
            meter.tick()
    seconds = meter.finish()
    meta = {"format": "mail", "fields": list(settings.fields), "normalised": settings.normalise,
            "messages_per_second": round(len(items) / seconds, 1)}
    return _finish(Examples(items, labels, str(path), skipped, meta), min_classes)


def _read_single_file(path: Path, settings: _Settings, table_opts: dict[str, Any], min_classes: int) -> Examples:
    fmt = str(table_opts.get("format", "")).lower()
    if not fmt and path.suffix.lower() not in FORMATS:
        if path.suffix.lower() in _MAIL_SUFFIXES or is_mbox(path) or _head_is_rfc822(path):
            kind = "an mbox file" if is_mbox(path) else "one message"
            raise DataError(f"{kind} holds no labels", file=path,
                            fix="pass its label, e.g. --read-option label=spam, or lay out <folder>/<label>/ folders")
    return _read_table(path, settings, table_opts, min_classes)


def _head_is_rfc822(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return looks_like_rfc822(handle.read(16384))
    except OSError:
        return False


def _read_table(path: Path, settings: _Settings, table_opts: dict[str, Any], min_classes: int) -> Examples:
    """SMS-style tables: the text reader's rows, normalised like mail bodies."""
    examples = read_text_table(path, min_classes=min_classes, **table_opts)
    if settings.normalise:
        examples.items = [normalise(text) for text in examples.items]
    examples.meta.update(normalised=settings.normalise)
    return examples


def _finish(examples: Examples, min_classes: int) -> Examples:
    if len(examples) == 0:
        reasons = Counter(s.reason for s in examples.skipped)
        if not reasons:
            raise DataError("no messages found", file=examples.source,
                            fix="put .eml, plain-text, mbox or Maildir mail in the label folders")
        why = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3))
        raise DataError(f"none of the {len(examples.skipped)} messages could be used ({why})",
                        file=examples.source, fix="check that the files are e-mails (.eml, mbox, Maildir or text); "
                        f"first one: {examples.skipped[0].item}")
    if len(examples.classes) < min_classes:
        raise DataError(f"only one class ({examples.classes[0]!r}) in {len(examples)} messages", file=examples.source,
                        fix="a classifier needs mail of at least two labels, e.g. ham/ and spam/ folders")
    return examples


# ---------------------------------------------------------------------------- mail to score
def _warn(item: Skipped) -> None:
    log.warning("skipped %s: %s", item.item, item.reason)


def iter_messages(path: str | Path, *, options: dict[str, Any] | None = None,
                  on_skip: Callable[[Skipped], None] | None = None) -> Iterator[tuple[str, str]]:
    """Yield (source id, model input) for each message in a file, mbox, Maildir or folder, one at a time.

    The source id is the file's path, or ``path#N`` for the N-th message of an mbox. Messages that cannot
    be used are passed to ``on_skip`` (default: a warning on the ``transferkit`` logger).

    Example:
        >>> for source, text in iter_messages("inbox.mbox"):  # doctest: +SKIP
        ...     print(source, text[:30])
        inbox.mbox#1 subject: Lunch?
    """
    settings, _ = _settings(options)
    path = Path(path)
    if not path.exists():
        raise DataError("file or folder not found", file=path, fix="check the path")
    files = _message_files(path) if path.is_dir() else [path]
    yield from _texts(files, settings, on_skip or _warn)


def _exists(text: str) -> bool:
    if "\n" in text or len(text) > 4096:
        return False
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and " " not in text.strip() and (
        "/" in text or "\\" in text or text.lower().endswith((*_MAIL_SUFFIXES, ".txt"))
    )


def iter_unlabelled(paths: Iterable[str], *, options: dict[str, Any] | None = None,
                    on_skip: Callable[[Skipped], None] | None = None) -> Iterator[tuple[str, str]]:
    """Yield (source id, model input) for each input: a path to mail (see :func:`iter_messages`), or
    the text of a message itself (source id ``input N``).

    Example:
        >>> list(iter_unlabelled(["WINNER! Claim £900 at www.prize.example"]))
        [('input 1', 'urls: prize.example\\nWINNER! Claim MONEY at URL prize.example')]
    """
    settings, _ = _settings(options)
    for number, raw in enumerate(paths, 1):
        text = str(raw)
        if _exists(text):
            yield from iter_messages(text, options=options, on_skip=on_skip)
            continue
        if _looks_like_path(text):
            raise DataError("file or folder not found", file=text, fix="check the path, or quote a message's text")
        try:
            mail = parse_mail(text.encode("utf-8", "surrogateescape"))
        except MailError as err:
            raise UsageError(f"input {number}: {err}",
                             fix='pass the text in quotes: predict MODEL "some text"') from None
        yield f"input {number}", mail.to_text(settings.fields, normalise=settings.normalise,
                                              max_chars=settings.max_chars)


def read_unlabelled(paths: list[str], *, options: dict[str, Any] | None = None,
                    on_skip: Callable[[Skipped], None] | None = None) -> list[str]:
    """The model inputs for ``predict``: every message of the given paths, or the given texts themselves.

    For large mailboxes, :func:`iter_unlabelled` yields the same inputs one at a time.

    Example:
        >>> read_unlabelled(["Subject: hi\\nlunch at 12?"])
        ['subject: hi\\nlunch at NUMBER ?']
    """
    texts = [text for _, text in iter_unlabelled(paths, options=options, on_skip=on_skip)]
    if not texts:
        raise DataError("no messages to score", file=", ".join(map(str, paths)),
                        fix="point at .eml files, an mbox, a Maildir or a folder of messages")
    return texts
