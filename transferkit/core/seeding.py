"""Seeding: every random draw of a run is a function of ``--seed`` and of where it happens.

Three sources, three rules, so that a run gives the same weights bit for bit on CPU, in any number of
DataLoader workers, and when it is resumed from a checkpoint at an epoch boundary:

* the order of the training examples in epoch ``e`` is a permutation drawn from ``(seed, e)``
  (:class:`EpochSampler`, whose epoch Lightning sets before each epoch); for texts, examples of similar
  length are then put in the same batch, and the batches shuffled, from the same draw;
* the augmentation of example ``i`` in epoch ``e`` runs with Python's ``random``, NumPy's and torch's
  global generators seeded from ``(seed, e, i)`` (:class:`SeededItems`), in whichever process loads it,
  and the generators are restored afterwards;
* the dropout of step ``b`` of epoch ``e`` uses torch's generator seeded from ``(seed, e, b)``
  (:class:`StepSeed`, a Lightning callback).

Nothing depends on how many random numbers an earlier step drew, so a resumed run (which skips the
earlier epochs) draws exactly what the uninterrupted run drew. Model building (head initialisation,
weights a pretrained checkpoint lacks) happens after :func:`seed_all` in ``fit``.
"""
from __future__ import annotations

import hashlib
import random
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed from ``seed`` and ``parts``, stable across processes and Python versions.

    Example:
        >>> derive_seed(0, "item", 1, 5) == derive_seed(0, "item", 1, 5)
        True
        >>> derive_seed(0, "item", 1, 5) != derive_seed(0, "item", 1, 6)
        True
    """
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def seed_all(seed: int) -> None:
    """Seed Python's ``random``, NumPy's and torch's global generators (every device).

    Example:
        >>> seed_all(0); a = random.random(); seed_all(0); a == random.random()
        True
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # all devices, CUDA included


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with every global generator seeded from ``seed``, then put the previous states back."""
    import torch

    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        random.seed(seed)
        np.random.seed(seed)
        torch.random.default_generator.manual_seed(seed)  # CPU only: data loading runs on the CPU
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


class EpochSampler:
    """Shuffles ``range(n)`` with a permutation drawn from ``(seed, epoch)`` and yields ``(epoch, index)``.

    Lightning calls :meth:`set_epoch` before every epoch (resumed ones too). A plain class, not a torch
    ``Sampler``: the DataLoader only needs ``__iter__`` and ``__len__``, and the core imports no torch at
    import time. The epoch travels with the index so that :class:`SeededItems` seeds augmentation from it even inside a DataLoader worker.

    ``lengths`` (texts' token counts) with ``batch_size``: batches of similar length (:func:`group_by_length`).

    Example:
        >>> s = EpochSampler(4, seed=0, shuffle=True); s.set_epoch(1); sorted(i for _, i in s)
        [0, 1, 2, 3]
    """

    def __init__(self, n: int, *, seed: int, shuffle: bool = True, lengths: Any = None, batch_size: int = 1):
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0
        self.lengths, self.batch_size = lengths, batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        _, world = _shard()
        return -(-self.n // world)  # this rank's share when several processes train (DDP)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        import torch

        rank, world = _shard()
        if self.shuffle:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, "order", self.epoch))
            order = torch.randperm(self.n, generator=generator).tolist()
            if self.lengths is not None:
                # A batch of each rank is batch_size consecutive entries of its share: chunks of
                # batch_size x world in the whole order.
                order = group_by_length(order, self.lengths, self.batch_size * world, generator)
        else:
            order = list(range(self.n))
        if world > 1 and order:
            # Several training processes (DDP): every rank draws the same permutation, pads it to a multiple
            # of the world size by repeating its start (as torch's DistributedSampler does) and keeps every
            # world-th index from its rank; so the shards are disjoint and still follow (seed, epoch).
            total = -(-self.n // world) * world
            order = (order * -(-total // self.n))[:total][rank::world]
        return iter([(self.epoch, i) for i in order])


def group_by_length(order: list[int], lengths: Any, batch_size: int, generator: Any) -> list[int]:
    """``order`` rearranged so that each batch holds texts of similar length, the batches in random order.

    A batch of texts is padded to its longest one: on AG News slices about 40% of the tokens a shuffled
    batch computes are padding. As the Hugging Face ``Trainer`` does with ``group_by_length``, texts are
    sorted by length within windows of the random order (:func:`~transferkit.core.evaluate.length_order`,
    16 batches), so batches stay random draws; the batches are then shuffled with ``generator``, so their
    length does not follow their place in the epoch. The ``len(order) % batch_size`` texts that make the
    last, short batch (the one ``drop_last`` drops) are taken from the random order before grouping: always
    the longest ones would otherwise be left out.

    Example (texts 1 and 3 are short, 0 and 2 long; 4 is left over for the last batch):
        >>> import torch
        >>> group_by_length([0, 1, 2, 3, 4], [9, 1, 8, 2, 5], 2, torch.Generator().manual_seed(0))
        [1, 3, 2, 0, 4]
    """
    import torch

    from transferkit.core.evaluate import length_order

    batch_size = max(1, batch_size)
    whole = len(order) - len(order) % batch_size
    head, rest = order[:whole], order[whole:]
    grouped = [head[j] for j in length_order([lengths[i] for i in head], batch_size)]
    batches = [grouped[k:k + batch_size] for k in range(0, whole, batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [i for b in shuffled for i in batches[b]] + rest


def _shard() -> tuple[int, int]:
    """``(rank, world size)`` of this process while several train together (DDP), else ``(0, 1)``."""
    import sys

    torch = sys.modules.get("torch")  # no process group can exist unless torch was imported already
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        return int(torch.distributed.get_rank()), int(torch.distributed.get_world_size())
    return 0, 1


class SeededItems:
    """Wraps a map-style dataset: item ``(epoch, i)`` is loaded with the generators seeded from
    ``(seed, epoch, i)``, so its augmentation does not depend on order, workers or earlier epochs."""

    def __init__(self, dataset: Any, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Any) -> Any:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        with seeded(derive_seed(self.seed, "item", epoch, index)):
            return self.dataset[index]


def seeded_loader(dataset: Any, *, seed: int, batch_size: int, shuffle: bool, **kwargs: Any) -> Any:
    """A DataLoader whose order and per-item randomness follow :class:`EpochSampler` / :class:`SeededItems`.

    Example:
        >>> loader = seeded_loader(dataset, seed=0, batch_size=16, shuffle=True)  # doctest: +SKIP
    """
    from torch.utils.data import DataLoader

    # Texts (a dataset that tells its items' token counts) train in batches of similar length.
    lengths = dataset.lengths() if shuffle and hasattr(dataset, "lengths") else None
    sampler = EpochSampler(len(dataset), seed=seed, shuffle=shuffle, lengths=lengths, batch_size=batch_size)
    return DataLoader(SeededItems(dataset, seed), batch_size=batch_size, sampler=sampler, **kwargs)


def _step_seed_callback() -> Any:
    import lightning.pytorch as pl

    class StepSeed(pl.Callback):
        """Seeds torch (every device) from ``(seed, epoch, step)`` before each training step: dropout and
        any other draw inside the step then repeat exactly, resumed runs included."""

        def __init__(self, seed: int):
            self.seed = seed

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            import torch

            torch.manual_seed(derive_seed(self.seed, "step", trainer.current_epoch, batch_idx))

    return StepSeed


def step_seed(seed: int) -> Any:
    """The Lightning callback that seeds each training step (see the module docstring)."""
    return _step_seed_callback()(seed)
