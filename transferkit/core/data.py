"""Labelled examples, splits and few-label sampling: the one data shape every domain reader returns.

Kept free of torch: readers and listing commands use it without importing a framework.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transferkit.errors import DataError


@dataclass
class Skipped:
    """One input that a reader left out, and why (never a silent drop)."""

    item: str
    reason: str


@dataclass
class Examples:
    """Labelled examples as a domain reader returns them.

    ``items`` are whatever the domain's dataset understands: file paths, strings, numpy arrays.
    ``labels`` are strings (numeric labels are turned into their string form by readers), one per item.

    Example:
        >>> ex = Examples(items=["a", "b"], labels=["x", "y"], source="mem")
        >>> ex.classes
        ['x', 'y']
    """

    items: list[Any]
    labels: list[str]
    source: str
    skipped: list[Skipped] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.items) != len(self.labels):
            raise DataError(f"{len(self.items)} items but {len(self.labels)} labels", file=self.source)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def classes(self) -> list[str]:
        """The sorted distinct labels."""
        return sorted(set(self.labels))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))

    def subset(self, indices: Any) -> "Examples":
        indices = [int(i) for i in indices]
        return Examples(
            items=[self.items[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            source=self.source,
            skipped=list(self.skipped),
            meta=dict(self.meta),
        )

    def fingerprint(self) -> str:
        """A stable hash of the items and labels: keys the feature cache and is saved in the artifact."""
        digest = hashlib.sha256()
        for item, label in zip(self.items, self.labels):
            if isinstance(item, np.ndarray):
                digest.update(item.tobytes())
            else:
                digest.update(str(item).encode("utf-8", "surrogatepass"))
            digest.update(b"\0" + label.encode() + b"\n")
        return digest.hexdigest()[:16]


def require_classes(examples: Examples, minimum: int = 2) -> None:
    """Refuse data with fewer than ``minimum`` classes, naming the file and the fix."""
    classes = examples.classes
    if len(examples) == 0:
        raise DataError("no examples were read", file=examples.source, fix="check the path and the file format")
    if len(classes) < minimum:
        raise DataError(
            f"only one class ({classes[0]!r}) in {len(examples)} examples",
            file=examples.source,
            field="label",
            fix="a classifier needs examples of at least two classes",
        )


def stratified_split(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Split off ``fraction`` of each class (at least one example each) as a held-out set.

    Example:
        >>> ex = Examples(items=list(range(10)), labels=["a"] * 5 + ["b"] * 5, source="mem")
        >>> train, val = stratified_split(ex, 0.2, seed=0)
        >>> len(train), len(val)
        (8, 2)
    """
    rng = np.random.default_rng(seed)
    train_idx: list[int] = []
    val_idx: list[int] = []
    labels = np.array(examples.labels)
    for label in examples.classes:
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        if len(idx) < 2:
            raise DataError(
                f"class {label!r} has {len(idx)} example; cannot hold one out for validation",
                file=examples.source,
                fix="add examples of that class, or pass a separate validation set with --val",
            )
        n_val = min(len(idx) - 1, max(1, int(round(len(idx) * fraction))))
        val_idx.extend(idx[:n_val].tolist())
        train_idx.extend(idx[n_val:].tolist())
    return examples.subset(sorted(train_idx)), examples.subset(sorted(val_idx))


def sample_per_class(examples: Examples, per_class: int, seed: int) -> Examples:
    """Keep at most ``per_class`` examples of each class, chosen with ``seed`` (few-label experiments).

    Example:
        >>> ex = Examples(items=list(range(10)), labels=["a"] * 5 + ["b"] * 5, source="mem")
        >>> sample_per_class(ex, 2, seed=0).counts()
        {'a': 2, 'b': 2}
    """
    rng = np.random.default_rng(seed)
    labels = np.array(examples.labels)
    keep: list[int] = []
    for label in examples.classes:
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        keep.extend(idx[:per_class].tolist())
    return examples.subset(sorted(keep))


def describe(examples: Examples) -> str:
    """One line: size, class counts and skipped files."""
    text = f"{len(examples)} examples from {examples.source}: {json.dumps(examples.counts())}"
    if examples.skipped:
        text += f"; skipped {len(examples.skipped)} (first: {examples.skipped[0].item}: {examples.skipped[0].reason})"
    return text
