"""The spam domain: mail and SMS in, a cost-aware spam filter out, in two model families side by side.

- **Transformer encoders** from the nlp domain's catalog (the offline all-MiniLM-L6-v2 by default), loaded,
  tokenized and fine-tuned exactly as the nlp domain does it: :class:`SpamDomain` extends
  :class:`~transferkit.plugins.nlp.domain.NLPDomain`.
- **``spam/tfidf-linear``**: hashed TF-IDF on words and characters (:mod:`.tfidf`) and a calibrated
  logistic regression (:mod:`.linear`): the baseline shown beside every transformer result, and a fast
  filter of its own.

Both keep their head linear so that a generic model can be the prior of a specific one (:meth:`fit_head`).
The decision threshold is chosen by the core on validation data with the preset's policy (``max_fpr``:
at most that share of legitimate mail flagged).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transferkit.core.data import Examples
from transferkit.core.specs import ModelSource, Preset
from transferkit.errors import DataError, UsageError
from transferkit.plugins.nlp.domain import NLPDomain

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

    from transferkit.core.backbone import Backbone
    from transferkit.core.model import TransferModel

TFIDF_ARCHITECTURE = "tfidf-hashing"
TFIDF_KEYS = {
    "word_ngrams": "TF-IDF: [min, max] word n-gram lengths (default [1, 2])",
    "char_ngrams": "TF-IDF: [min, max] character n-gram lengths within words (default [3, 5])",
    "hash_bits": "TF-IDF: 2**hash_bits hashed columns per analyzer (default 17)",
    "max_chars": "TF-IDF: characters of each text vectorized (default 3000)",
}
# The field markers of transferkit.datasets.email's text form: one "name: value" line per header field,
# then the body without a marker (so that an SMS and an e-mail body read alike).
FIELD_MARKERS = {"subject": "subject: ", "from": "from: ", "attachments": "attachments: ", "urls": "urls: "}
FIELDS = ("subject", "from", "attachments", "urls", "body")
PREDICT_SUFFIXES = (".eml", ".mbox", ".txt", ".msg", "")


@dataclass(frozen=True)
class Message:
    """One message to classify: where it came from (echoed in predictions) and its text."""

    source: str
    text: str

    def __str__(self) -> str:
        return self.source


def select_fields(text: str, fields: tuple[str, ...] | list[str]) -> str:
    """Keep only the ``fields`` of a message's text form (see :mod:`transferkit.datasets.email`).

    Leading ``subject:``/``from:``/``attachments:``/``urls:`` lines are header fields; the rest is the body.
    Texts without markers (an SMS) are all body.

    Example:
        >>> select_fields("subject: Win\\nfrom: x.example\\nClaim now", ["subject", "body"])
        'subject: Win\\nClaim now'
    """
    if tuple(fields) == FIELDS:
        return text
    lines = text.split("\n")
    kept, index = [], 0
    while index < len(lines):
        name = next((n for n, m in FIELD_MARKERS.items() if lines[index].startswith(m)), None)
        if name is None:
            break
        if name in fields:
            kept.append(lines[index])
        index += 1
    if "body" in fields:
        kept += lines[index:]
    return "\n".join(kept)


class _Texts:
    """A torch-style dataset of raw texts for the TF-IDF family: vectorizing happens per batch."""

    def __init__(self, texts: list[str], targets: list[int] | None):
        self.texts, self.targets = texts, targets

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.texts[index], -1 if self.targets is None else int(self.targets[index])


def is_tfidf(backbone: Any) -> bool:
    from transferkit.plugins.spam.tfidf import TfidfBackbone

    return isinstance(backbone, TfidfBackbone)


MESSAGE_SUFFIXES = (".eml", ".msg", ".mbox", ".txt")


def looks_like_a_message_file(value: str) -> bool:
    """A single word ending in a message file's suffix: a mistyped path, not a text to classify.

    Example:
        >>> looks_like_a_message_file("inbox/0001.eml"), looks_like_a_message_file("WIN a prize.txt now")
        (True, False)
    """
    from transferkit.core.inputs import looks_like_a_file_name

    return looks_like_a_file_name(value, MESSAGE_SUFFIXES)


MAIL_HEADER_NAMES = frozenset({
    "subject", "from", "to", "cc", "bcc", "date", "received", "return-path", "message-id", "mime-version",
    "content-type", "delivered-to", "reply-to", "sender", "content-transfer-encoding",
})


def starts_with_a_header(path: Path) -> bool:
    """Whether a file's first non-empty line is a mail header (``Subject: ...``, ``From: ...``): then the file
    is one message (Enron-Spam saves each e-mail as a ``.txt`` starting with ``Subject:``); a ``.txt`` that
    does not is a list of texts, one a line.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "a.txt").write_text("Subject: lunch\\nsee you at 1\\n"), (Path(d) / "b.txt").write_text("Reminder: at 3\\nWIN now\\n")
        ...     starts_with_a_header(Path(d) / "a.txt"), starts_with_a_header(Path(d) / "b.txt")
        (True, False)
    """
    import re

    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    first = next((line for line in head.splitlines() if line.strip()), b"")
    found = re.match(rb"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:", first)
    # Only a mail header's own name: an SMS list may well start "Reminder: ..." or "URGENT: ...".
    name = found.group(1).decode("ascii").lower() if found else ""
    return name in MAIL_HEADER_NAMES or name.startswith("x-")


class SpamDomain(NLPDomain):
    """Spam filtering of e-mail and SMS with transformer encoders or TF-IDF + a linear model."""

    preprocess_keys = {
        **NLPDomain.preprocess_keys,
        **TFIDF_KEYS,
        "fields": f"message fields the model reads, any of {', '.join(FIELDS)} (default: all)",
    }

    # ---------------------------------------------------------------- data
    def read(self, path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        """Read mail as it comes (.eml, mbox, Maildir, ``ham/``/``spam/`` folders) or an SMS-style table."""
        try:
            from transferkit.datasets.email import read_messages
        except ImportError:  # the e-mail reader is optional at import time: tables and text folders still read
            return super().read(path, split=split, options=options)
        return read_messages(path, split=split, options=options, progress=_progress_line)

    def splits_in(self, path: str | Path) -> list[str]:
        try:
            from transferkit.datasets.email import splits_in
        except ImportError:
            return super().splits_in(path)
        return splits_in(path)

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        """Paths (an .eml file, an mbox, a Maildir or a folder of messages) become one item per message;
        anything else is a text to classify."""
        from transferkit.core.inputs import text_inputs  # the rule every text domain shares

        return text_inputs(raw, read_path=self._messages_at, file_suffixes=MESSAGE_SUFFIXES)

    @staticmethod
    def _messages_at(path: Path) -> list[Message | str]:
        if path.is_file() and path.suffix.lower() == ".txt" and not starts_with_a_header(path):
            from transferkit.core.inputs import read_text_lines

            return list(read_text_lines(path))  # a list of SMS-style texts, one a line, as docs/cli.md says
        try:
            from transferkit.datasets.email import iter_messages
        except ImportError:
            if path.is_file():
                return [Message(str(path), path.read_text(encoding="utf-8", errors="replace"))]
            raise DataError("reading a folder of messages needs transferkit.datasets.email", file=path) from None
        found = [Message(str(source), text) for source, text in iter_messages(path)]
        if not found:
            raise DataError("no messages found", file=path, fix="point at .eml files, an mbox, a Maildir or a folder")
        return found

    # ---------------------------------------------------------------- models
    def load_backbone(self, source: ModelSource | Path, preset: Preset) -> "Backbone":
        """``spam/tfidf-linear`` builds an unfitted TF-IDF backbone; other sources load a transformer encoder."""
        if isinstance(source, ModelSource) and source.options.get("architecture") == TFIDF_ARCHITECTURE:
            from transferkit.plugins.spam.tfidf import TfidfBackbone

            return TfidfBackbone(**{k: preset.preprocess[k] for k in TFIDF_KEYS if k in preset.preprocess})
        return super().load_backbone(source, preset)

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> "Backbone":
        if config.get("architecture") == TFIDF_ARCHITECTURE:
            from transferkit.plugins.spam.tfidf import TfidfBackbone

            return TfidfBackbone(**{k: v for k, v in config.items() if k != "architecture"})
        return super().rebuild_backbone(config, folder)

    def save_backbone_files(self, backbone: "Backbone", folder: Path) -> None:
        if not is_tfidf(backbone):  # TF-IDF has no tokenizer: its state is the idf in model.safetensors
            super().save_backbone_files(backbone, folder)
            return
        sample = getattr(backbone, "training_sample", None)
        if sample is not None:  # what a later model adapted from this one may replay (generic to specific)
            from transferkit.plugins.spam.carry import save_sample

            save_sample(folder, *sample)

    # ---------------------------------------------------------------- preprocessing
    @staticmethod
    def texts_of(items: list[Any], preset: Preset) -> list[str]:
        """The model's input text of each item: the preset's ``fields`` of each message."""
        fields = tuple(preset.preprocess.get("fields", FIELDS))
        return [select_fields(getattr(item, "text", "" if item is None else str(item)), fields) for item in items]

    def dataset(self, backbone: "Backbone", items: list[Any], targets: list[int] | None, preset: Preset, *,
                train: bool) -> "Dataset":
        texts = self.texts_of(items, preset)
        if is_tfidf(backbone):
            return _Texts(texts, targets)  # type: ignore[return-value]
        return super().dataset(backbone, texts, targets, preset, train=train)

    def collate(self, batch: list[Any]) -> Any:
        if batch and isinstance(batch[0][0], str):
            import torch

            return [text for text, _ in batch], torch.tensor([t for _, t in batch])
        return super().collate(batch)

    def validate_preset(self, preset: Preset) -> None:
        """The nlp checks for the shared keys, then the TF-IDF and ``fields`` values."""
        from transferkit.core.domain import Domain

        Domain.validate_preset(self, preset)  # known keys, with the spam domain's own list
        shared = {k: v for k, v in preset.preprocess.items() if k in NLPDomain.preprocess_keys}
        super().validate_preset(preset.model_copy(update={"preprocess": shared}))
        where = preset.source or preset.id
        pre = preset.preprocess
        for key in ("word_ngrams", "char_ngrams"):
            value = pre.get(key)
            if value is not None and not (isinstance(value, list) and len(value) == 2
                                          and all(isinstance(v, int) and v >= 1 for v in value) and value[0] <= value[1]):
                raise UsageError(f"{key} must be [min, max] with 1 <= min <= max, got {value!r}", file=where,
                                 field=f"preprocess.{key}", fix=f"e.g. {key} = [1, 2]")
        fields = pre.get("fields")
        if fields is not None and (not isinstance(fields, list) or not fields or set(fields) - set(FIELDS)):
            raise UsageError(f"fields must be a non-empty list of {', '.join(FIELDS)}, got {fields!r}", file=where,
                             field="preprocess.fields", fix='e.g. fields = ["subject", "body"]')

    def describe_preprocessing(self, backbone: "Backbone", preset: Preset) -> list[str]:
        """The message fields read, then TF-IDF's n-grams and columns, or the nlp domain's tokenization."""
        fields = list(preset.preprocess.get("fields", FIELDS))
        lines = [f"message fields read: {', '.join(fields)}"]
        if not is_tfidf(backbone):
            return lines + super().describe_preprocessing(backbone, preset)
        cfg = backbone.settings
        (w0, w1), (c0, c1) = cfg["word_ngrams"], cfg["char_ngrams"]
        return lines + [f"TF-IDF: word {w0}-{w1}-grams and character {c0}-{c1}-grams within words, hashed into "
                        f"2^{cfg['hash_bits']} columns each; idf fitted on the training texts",
                        f"the first {cfg['max_chars']:,} characters of each text; no tokenizer, no length limit "
                        "in tokens"]

    # ---------------------------------------------------------------- training
    def describe_head_fit(self, model: "TransferModel") -> str | None:
        """The cases :meth:`fit_head` takes: TF-IDF (any strategy) and a two-class transformer linear probe."""
        if model.plan.strategy == "contrastive":  # TF-IDF has no encoder to tune: None, and configure refuses it
            return None if is_tfidf(model.backbone) else super().describe_head_fit(model)
        tfidf = is_tfidf(model.backbone)
        if len(model.labels) != 2 or (not tfidf and model.plan.strategy != "linear-probe"):
            return None
        from transferkit.plugins.spam.adapt import parent_artifact

        features = "TF-IDF features" if tfidf else "frozen encoder features (standardised, computed once)"
        prior = "; the earlier model's head is the prior" if parent_artifact(model) is not None else ""
        return (f"logistic regression on {features}, C chosen on validation {model.plan.train.get('metric')}, "
                f"probabilities calibrated{prior}")

    def check_plan(self, selection: Any, splits: Any) -> None:
        """TF-IDF's linear filter takes two classes: refused here rather than after the data are vectorized."""
        labels = splits.train.classes
        if is_tfidf(selection.backbone) and len(labels) != 2:
            raise UsageError(f"spam/tfidf-linear is a two-class filter; the data have labels {labels}",
                             file=splits.train.source,
                             fix="use two labels (ham, spam), or a transformer model for more classes")

    def fit_head(self, model: "TransferModel", splits: Any, targets: tuple[Any, Any], cfg: dict[str, Any],
                 run_dir: Path) -> "tuple[list[dict[str, Any]], np.ndarray, list[str]] | None":
        """Fit the linear head here for TF-IDF (any strategy) and for a transformer's linear probe.

        From an earlier spam artifact, its head is the prior of the new one (generic to specific). Fine-tuning
        strategies of a transformer are left to the core (they start from the earlier artifact's encoder).
        """
        from transferkit.plugins.spam.adapt import fit_spam_head, plan_note

        tfidf = is_tfidf(model.backbone)
        if model.plan.strategy == "contrastive" and not tfidf:
            return super().fit_head(model, splits, targets, cfg, run_dir)  # pairs, then a logistic head
        if not tfidf and model.plan.strategy != "linear-probe":
            note = plan_note(model, fitted_here=False)
            if note:
                model.plan.notes.append(note)
            return None
        if len(model.labels) != 2:
            if tfidf:
                raise UsageError(f"spam/tfidf-linear is a two-class filter; the data have labels {model.labels}",
                                 fix="use two labels (ham, spam), or a transformer model for more classes")
            return None
        return fit_spam_head(model, splits, targets, cfg, run_dir)

    def baselines(self, model: "TransferModel", splits: Any) -> dict[str, Any]:
        """The TF-IDF baseline on the same split, beside every transformer result."""
        if is_tfidf(model.backbone) or len(model.labels) != 2:
            return {}
        from transferkit.plugins.spam.adapt import tfidf_baseline

        return tfidf_baseline(model, splits)


def _progress_line(line: Any) -> None:
    """The reader's progress lines (every few seconds, then a summary) on stderr, on a terminal only."""
    import sys

    if sys.stderr.isatty():
        sys.stderr.write(f"{line}\n")
        sys.stderr.flush()
