"""A tiny backbone and a tiny dataset: enough to run the whole protocol in seconds, without real weights."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from transferkit.core.data import Examples

TINY_DIM = 8  # the length of every tiny input vector


def tiny_examples(per_class: int = 12, classes: tuple[str, ...] = ("a", "b"), seed: int = 0,
                  noise: float = 0.6) -> Examples:
    """Labelled vectors of length :data:`TINY_DIM`, one well-separated Gaussian blob per class.

    Any working trainer learns them; the same seed gives the same examples.

    Example:
        >>> ex = tiny_examples(per_class=3, classes=("x", "y"))
        >>> len(ex), ex.classes, ex.items[0].shape
        (6, ['x', 'y'], (8,))
    """
    rng = np.random.default_rng(seed)
    centers = {c: rng.normal(0, 2.0, TINY_DIM) for c in classes}
    items, labels = [], []
    for c in classes:
        for _ in range(per_class):
            items.append((centers[c] + rng.normal(0, noise, TINY_DIM)).astype(np.float32))
            labels.append(c)
    return Examples(items=items, labels=labels, source=f"tiny_examples(seed={seed})")


def write_npz(path: str | Path, examples: Examples) -> Path:
    """Write examples as an ``.npz`` with arrays ``x`` (items stacked) and ``y`` (labels): the tiny domain's format.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_npz(Path(folder) / "d.npz", tiny_examples(2)).name
        'd.npz'
    """
    path = Path(path)
    np.savez(path, x=np.stack(examples.items), y=np.array(examples.labels))
    return path


def tiny_backbone(hidden: int = 16, seed: int = 0) -> Any:
    """A seeded MLP over :data:`TINY_DIM`-vectors that fulfils the Backbone contract: three layer groups,
    BatchNorm (so ``train_bn`` and ``from_scratch`` matter), ``config()`` to rebuild it.

    Example:
        >>> backbone = tiny_backbone()
        >>> backbone.feature_dim, [g._tk_name for g in backbone.layer_groups()]
        (16, ['block1', 'block2', 'block3'])
    """
    import torch

    from transferkit.testing.tiny_network import TinyBackbone

    torch.manual_seed(seed)  # the same "pretrained" weights whatever ran before, like a fixed checkpoint
    return TinyBackbone(hidden)
