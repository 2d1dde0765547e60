"""The one table of split names: which folder (or file stem) holds the training, validation or test data.

Every reader (images, text, medical, mailboxes) maps names through here, so ``valid/``, ``validation/``
and ``dev/`` are a validation split for every domain alike. Standard library only.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SPLITS = ("train", "val", "test")
# Accepted spellings (compared lower-cased), mapped to the names ``read(split=...)`` uses.
SPLIT_NAMES: dict[str, tuple[str, ...]] = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation", "dev"),
    "test": ("test", "testing"),
}
_CANONICAL = {name: split for split, names in SPLIT_NAMES.items() for name in names}


def split_of(name: str) -> str | None:
    """The split a folder or file stem called ``name`` holds, or None.

    Example:
        >>> split_of("Validation"), split_of("dev"), split_of("cats")
        ('val', 'val', None)
    """
    return _CANONICAL.get(name.lower())


def split_folders(root: str | Path, *, accept: Callable[[Path], bool] | None = None) -> dict[str, Path]:
    """``{split: folder}`` for the split sub-folders of ``root``, in ``SPLITS`` order; the first folder in name
    order wins when two spell the same split. ``accept`` filters candidates (e.g. only non-empty folders).

    Example:
        >>> split_folders("/nonexistent")
        {}
    """
    root = Path(root)
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for child in sorted(root.iterdir()):
        split = split_of(child.name)
        if split and split not in found and child.is_dir() and (accept is None or accept(child)):
            found[split] = child
    return {s: found[s] for s in SPLITS if s in found}
