"""Warnings about a run's data, for the model card and report.html: what makes its figures less trustworthy.

Class imbalance, tiny classes, a tiny validation set, examples that appear in both the training and an
evaluation split (compared by content where that is cheap), classes missing from a split, and files the
readers skipped. Each warning is one sentence a person can act on.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

# Thresholds of the warnings: below these counts the figures of a class or split carry wide intervals.
IMBALANCE_RATIO = 3.0
TINY_CLASS_TRAIN = 10
TINY_CLASS_EVAL = 5
TINY_VALIDATION = 30
# Files larger than this are compared by resolved path, not content (reading them would cost more than it tells).
HASH_LIMIT_BYTES = 64 * 2**20


def _local_path(item: str) -> Path | None:
    """The file or folder ``item`` names, or None for a text that is not a path."""
    if len(item) > 4096 or "\n" in item:
        return None
    try:
        path = Path(item)
        return path if path.exists() else None
    except (OSError, ValueError):
        return None


def item_digest(item: Any) -> str:
    """What identifies an example's content: a hash of a file's bytes, an array's values, or a text's words.

    Texts compare without case and spacing; folders (a DICOM series) and files over 64 MiB by resolved path.

    Example:
        >>> item_digest("Free  entry NOW") == item_digest("free entry now")
        True
    """
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(item, np.ndarray):
        digest.update(f"array:{item.dtype}:{item.shape}:".encode())
        digest.update(np.ascontiguousarray(item).tobytes())
    elif isinstance(item, (str, Path)):
        path = _local_path(str(item))
        if path is not None and path.is_file() and path.stat().st_size <= HASH_LIMIT_BYTES:
            digest.update(b"file:")
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(2**20), b""):
                    digest.update(block)
        elif path is not None:
            digest.update(f"path:{path.resolve()}".encode("utf-8", "surrogatepass"))
        else:
            digest.update(("text:" + " ".join(str(item).split()).lower()).encode("utf-8", "surrogatepass"))
    else:
        digest.update(f"repr:{item!r}".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def shared_items(reference: list[Any], other: list[Any]) -> list[int]:
    """Positions in ``other`` whose content also appears in ``reference``.

    Example:
        >>> shared_items(["a b", "c"], ["x", "A  B"])
        [1]
    """
    seen = {item_digest(item) for item in reference}
    return [i for i, item in enumerate(other) if item_digest(item) in seen]


def _short(item: Any) -> str:
    if isinstance(item, np.ndarray):
        return f"an array of shape {item.shape}"
    text = " ".join(str(item).split())
    return repr(text if len(text) <= 60 else text[:57] + "...")


def data_warnings(train: Any, val: Any, test: Any = None) -> list[str]:
    """The warnings about a run's data (``Examples`` for each split; ``test`` may be None).

    Example:
        >>> from transferkit.core.data import Examples
        >>> tr = Examples(items=[f"t{i}" for i in 12 * [0]] + ["u"] * 2, labels=["a"] * 12 + ["b"] * 2, source="x")
        >>> va = Examples(items=["t0", "v"], labels=["a", "b"], source="y")
        >>> for w in data_warnings(tr, va): print(w[:60])
        class imbalance in the training data: 12 'a' against 2 'b' (
        tiny classes in the training data: 'b' (2); their figures ar
        tiny validation set: 2 examples; its figures carry wide inte
        tiny classes in the validation data: 'a' (1), 'b' (1); their
        duplicates: 1 of 2 validation examples also appear in the tr
    """
    warnings: list[str] = []
    train_counts = Counter(train.labels)
    if len(train_counts) >= 2:
        (big, n_big), (small, n_small) = train_counts.most_common()[0], train_counts.most_common()[-1]
        if n_big >= IMBALANCE_RATIO * n_small:
            warnings.append(
                f"class imbalance in the training data: {n_big} {big!r} against {n_small} {small!r} "
                f"({n_big / n_small:.1f}:1); accuracy rewards the large class, read macro-F1 and balanced "
                "accuracy, and compare with the majority-class baseline")
    tiny = sorted((label, n) for label, n in train_counts.items() if n < TINY_CLASS_TRAIN)
    if tiny:
        warnings.append("tiny classes in the training data: " + ", ".join(f"{label!r} ({n})" for label, n in tiny)
                        + "; their figures are estimates from a handful of examples, add labelled examples")
    if len(val) < TINY_VALIDATION:
        warnings.append(f"tiny validation set: {len(val)} examples; its figures carry wide intervals and the "
                        "epoch or C chosen on it is a noisy choice; give more validation data (--val)")
    for name, split in (("validation", val), ("test", test)):
        if split is None:
            continue
        counts = Counter(split.labels)
        tiny_eval = sorted((label, counts.get(label, 0)) for label in train_counts
                           if counts.get(label, 0) < TINY_CLASS_EVAL)
        if tiny_eval:
            warnings.append(f"tiny classes in the {name} data: "
                            + ", ".join(f"{label!r} ({n})" for label, n in tiny_eval)
                            + "; their per-class figures say little")
        unseen = sorted(set(counts) - set(train_counts))
        if unseen:
            warnings.append(f"classes in the {name} data that the training data lack: {', '.join(map(repr, unseen))}")
    for name, split in (("validation", val), ("test", test)):
        if split is None:
            continue
        shared = shared_items(train.items, split.items)
        if shared:
            warnings.append(
                f"duplicates: {len(shared)} of {len(split)} {name} examples also appear in the training data "
                f"(same content; first: {_short(split.items[shared[0]])}); their {name} figures are "
                "optimistic, remove the duplicates from one side")
    # Readers copy a source's skipped files to every split cut from it: count each file once.
    skipped = {(s.item, s.reason): s for split in (train, val, test) if split is not None
               for s in (getattr(split, "skipped", None) or [])}
    if skipped:
        first = next(iter(skipped.values()))
        warnings.append(f"skipped {len(skipped)} unreadable file(s) while reading the data (first: {first.item}: "
                        f"{first.reason}); the figures leave them out, fix or remove them")
    return warnings
