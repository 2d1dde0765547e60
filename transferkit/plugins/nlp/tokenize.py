"""Text to token ids, once per run; dynamic padding per batch.

Tokenizing is the slow part of text preprocessing, so :func:`encode_texts` runs once over all items
(without padding) and :class:`TokenCache` keeps the result for the run: the training set is tokenized
once even though the core asks for it for training, for the feature cache and for evaluation. Padding
happens per batch in :func:`collate_encoded`, to the longest text of the batch, never to the model limit.
"""
from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from transferkit.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerBase

Truncation = Literal["right", "left", "head+tail"]
TRUNCATIONS = ("right", "left", "head+tail")

# Sun et al. (2019), "How to Fine-Tune BERT for Text Classification": for long documents, keeping the
# first 128 and the last 382 of 510 tokens beats keeping the head alone. We keep the same proportion.
HEAD_FRACTION = 128 / 510

_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str, *, whitespace: bool = False, mask_urls: bool = False) -> str:
    """Light, deterministic cleaning chosen by the preset's ``[preprocess]``.

    Example:
        >>> normalize_text("see  https://x.io/a\\n now", whitespace=True, mask_urls=True)
        'see [URL] now'
    """
    if mask_urls:
        # Ticket and mail text is full of links and addresses whose exact form carries no topic signal
        # but eats many word pieces; one placeholder keeps the fact that a link was there.
        text = _EMAIL.sub("[EMAIL]", _URL.sub("[URL]", text))
    if whitespace:
        text = _SPACE.sub(" ", text).strip()
    return text


@dataclass(frozen=True)
class SpecialTokens:
    """The ids a tokenizer puts before and after a single text (``[CLS] ... [SEP]``, ``<s> ... </s>``)."""

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]

    @classmethod
    def of(cls, tokenizer: "PreTrainedTokenizerBase") -> "SpecialTokens":
        """Find the template by encoding a probe with and without special tokens.

        Fast tokenizers in transformers 5 have no ``build_inputs_with_special_tokens``; the probe works
        for every tokenizer with a single-sequence template (BERT, RoBERTa, DeBERTa, MPNet...).
        """
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        full = tokenizer("a")["input_ids"]
        for start in range(len(full) - len(plain) + 1):
            if full[start : start + len(plain)] == plain:
                return cls(tuple(full[:start]), tuple(full[start + len(plain) :]))
        return cls((), ())  # pragma: no cover - a tokenizer that rewrites the probe itself


def truncate_ids(ids: list[int], budget: int, truncation: str = "right") -> list[int]:
    """Cut ``ids`` to ``budget`` tokens: keep the start, the end, or both (head+tail).

    Example:
        >>> truncate_ids(list(range(10)), 4, "head+tail")
        [0, 7, 8, 9]
    """
    if len(ids) <= budget:
        return ids
    if truncation == "right":
        return ids[:budget]
    if truncation == "left":
        return ids[len(ids) - budget :]
    if truncation == "head+tail":
        head = max(1, int(round(budget * HEAD_FRACTION)))
        return ids[:head] + ids[len(ids) - (budget - head) :]
    raise UsageError(
        f"unknown truncation '{truncation}'", field="preprocess.truncation", fix=f"use one of {', '.join(TRUNCATIONS)}"
    )


class TokenIds:
    """Token ids of many texts in one flat ``int32`` array plus offsets.

    A Python list of lists costs about 36 bytes a token; 120,000 texts of 60 tokens would take 260 MB.
    Here they take 29 MB, and a text is a zero-copy slice.

    Example:
        >>> ids = TokenIds.from_lists([[101, 7, 102], [101, 102]])
        >>> len(ids), ids[1].tolist(), ids.lengths().tolist()
        (2, [101, 102], [3, 2])
    """

    def __init__(self, flat: np.ndarray, offsets: np.ndarray):
        self.flat = flat
        self.offsets = offsets

    @classmethod
    def from_lists(cls, lists: list[list[int]]) -> "TokenIds":
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter((t for x in lists for t in x), dtype=np.int32, count=int(offsets[-1]))
        return cls(flat, offsets)

    @classmethod
    def concat(cls, parts: list["TokenIds"]) -> "TokenIds":
        if not parts:
            return cls(np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64))
        lengths = np.concatenate([p.lengths() for p in parts])
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.concatenate([p.flat for p in parts]), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        return self.flat[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def encode_texts(
    tokenizer: "PreTrainedTokenizerBase",
    texts: list[str],
    max_length: int,
    truncation: str = "right",
    batch: int = 2048,
) -> TokenIds:
    """Token ids of each text with special tokens, at most ``max_length`` long, unpadded.

    Example:
        >>> encode_texts(tok, ["hello world"], max_length=8)[0].tolist()  # doctest: +SKIP
        [101, 7592, 2088, 102]
    """
    special = SpecialTokens.of(tokenizer)
    budget = max_length - len(special.prefix) - len(special.suffix)
    if budget < 1:
        raise UsageError(f"max_length {max_length} leaves no room for text", field="preprocess.max_length")
    chunks: list[TokenIds] = []
    for start in range(0, len(texts), batch):
        # No truncation inside the tokenizer: head+tail needs the whole text, and one code path for
        # all three strategies is easier to trust. verbose=False: the over-length warning is expected.
        pieces = tokenizer(
            texts[start : start + batch],
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )["input_ids"]
        chunks.append(
            TokenIds.from_lists([[*special.prefix, *truncate_ids(ids, budget, truncation), *special.suffix] for ids in pieces])
        )
    return TokenIds.concat(chunks)


def texts_key(tokenizer: "PreTrainedTokenizerBase", texts: list[str], settings: dict[str, Any]) -> str:
    """A key for the token cache: tokenizer identity, preprocessing settings and the texts themselves."""
    digest = hashlib.sha256()
    digest.update(repr((getattr(tokenizer, "name_or_path", ""), len(tokenizer), sorted(settings.items()))).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


class TokenCache:
    """A small LRU of tokenized item lists, so one run tokenizes each set once.

    Example:
        >>> cache = TokenCache(size=2)
        >>> cache.get_or_compute("k", lambda: "tokens")
        'tokens'
        >>> cache.hits
        0
    """

    def __init__(self, size: int = 4):
        self.size = size
        self.hits = 0
        self._store: OrderedDict[str, Any] = OrderedDict()

    def get_or_compute(self, key: str, compute: Any) -> Any:
        if key in self._store:
            self.hits += 1
            self._store.move_to_end(key)
            return self._store[key]
        value = compute()
        self._store[key] = value
        while len(self._store) > self.size:
            self._store.popitem(last=False)
        return value


@dataclass(frozen=True)
class Encoded:
    """One tokenized text as a dataset yields it; :func:`collate_encoded` pads a list of them."""

    ids: np.ndarray
    pad_id: int


class EncodedTexts(Dataset):
    """Tokenized texts and their targets; with ``token_dropout`` (training only) words are dropped at random.

    Dropping token ids after tokenization keeps "tokenize once" true while still giving a different
    view of each text every epoch (a cheap text augmentation in the spirit of word dropout). The
    random draws come from torch's generator, so a seeded run is reproducible.
    """

    def __init__(
        self,
        ids: TokenIds,
        targets: list[int] | None,
        pad_id: int,
        *,
        n_prefix: int = 1,
        n_suffix: int = 1,
        token_dropout: float = 0.0,
    ):
        self.ids = ids
        self.targets = targets
        self.pad_id = pad_id
        self.n_prefix = n_prefix
        self.n_suffix = n_suffix
        self.token_dropout = token_dropout

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        """Tokens per text: inference (core/evaluate.py) and training (core/seeding.py) batch texts of
        similar length together."""
        return self.ids.lengths()

    def __getitem__(self, index: int) -> tuple[Encoded, int]:
        ids = self.ids[index]
        if self.token_dropout:
            body = ids[self.n_prefix : len(ids) - self.n_suffix]
            keep = torch.rand(len(body)).numpy() >= self.token_dropout
            kept = body[keep] if keep.any() else body[:1]  # never drop a text to nothing
            ids = np.concatenate([ids[: self.n_prefix], kept, ids[len(ids) - self.n_suffix :]])
        target = -1 if self.targets is None else int(self.targets[index])
        return Encoded(ids, self.pad_id), target


def collate_encoded(batch: list[tuple[Encoded, int]]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Pad a batch to its longest text: ``({"input_ids", "attention_mask"}, targets)``.

    Example:
        >>> a, b = Encoded(np.array([1, 5, 2]), 0), Encoded(np.array([1, 2]), 0)
        >>> inputs, y = collate_encoded([(a, 1), (b, 0)])
        >>> inputs["input_ids"].tolist(), inputs["attention_mask"].tolist(), y.tolist()
        ([[1, 5, 2], [1, 2, 0]], [[1, 1, 1], [1, 1, 0]], [1, 0])
    """
    longest = max(len(item.ids) for item, _ in batch)
    input_ids = torch.full((len(batch), longest), batch[0][0].pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, (item, _) in enumerate(batch):
        input_ids[row, : len(item.ids)] = torch.from_numpy(np.asarray(item.ids, dtype=np.int64))
        attention[row, : len(item.ids)] = 1
    targets = torch.tensor([target for _, target in batch], dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": attention}, targets
