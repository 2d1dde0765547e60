"""Feature cache for frozen backbones.

When the backbone is frozen and there is no random augmentation, each example's backbone output is
computed once and the head trains on those features: training a head for many epochs then costs about
one forward pass over the data, which is the floor every speed figure is measured against.

The backbone runs on the GPU when there is one (core/devices.py), in mixed precision there, in inference
mode everywhere. The cache is a ``.npy`` file under the run folder keyed by backbone, preprocessing and
data, written batch by batch and read back memory-mapped: memory stays flat however many examples there
are (only the pages the head touches are read, and the OS may drop them again).

Several training processes (DDP) each build the cache from the same inputs; each writes its own temporary
file and renames it into place, so the file is always whole and every rank's copy is identical.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from transferkit.core.data import Examples

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from transferkit.core.model import TransferModel

CACHE_SUFFIX = ".npy"


def cache_key(model: "TransferModel", examples: Examples) -> str:
    """Hash of what determines the features: backbone, its config, preprocessing and the data."""
    payload = {
        "backbone": model.backbone.source_id,
        "config": model.backbone.config(),
        "preprocess": model.preset.preprocess,
        "remove_last": model.plan.remove_last if model.plan else 0,
        "data": examples.fingerprint(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def feature_batches(model: "TransferModel", items: list[Any], batch_size: int) -> Iterator[np.ndarray]:
    """The frozen backbone's float32 features of ``items``, one NumPy array per batch, in order.

    The model is on :func:`~transferkit.core.devices.pick_device` meanwhile (then back where it was), in
    eval and inference mode, under autocast on a GPU; texts are batched by length
    (:func:`~transferkit.core.evaluate.outputs_in_order`).

    Example:
        >>> sum(len(chunk) for chunk in feature_batches(model, items, 32)) == len(items)  # doctest: +SKIP
        True
    """
    from transferkit.core.evaluate import outputs_in_order

    yield from outputs_in_order(model, items, batch_size, model.backbone)


def extract_features(model: "TransferModel", items: list[Any], batch_size: int,
                     into: Path | None = None) -> "torch.Tensor":
    """Run the frozen backbone once over ``items`` (deterministic preprocessing, inference mode).

    Without ``into`` the features are returned in memory. With ``into`` (a ``.npy`` path) they are
    written there batch by batch and the returned tensor maps the file: memory stays flat.

    Example:
        >>> extract_features(model, ["a.jpg", "b.jpg"], 32).shape  # doctest: +SKIP
        torch.Size([2, 1280])
    """
    import torch

    if into is not None:
        _write_npy(Path(into), len(items), feature_batches(model, items, batch_size),
                   model.backbone.feature_dim)
        return read_cached(Path(into))
    filled, array = 0, None
    for chunk in feature_batches(model, items, batch_size):
        if array is None:  # one allocation of the final size: no list of chunks and no concatenated copy
            array = np.empty((len(items), chunk.shape[1]), dtype=np.float32)
        array[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    if array is None:
        return torch.zeros((0, model.backbone.feature_dim))
    return torch.from_numpy(array)


def _write_npy(path: Path, n: int, chunks: Iterator[np.ndarray], empty_dim: int) -> None:
    """Write ``n`` rows arriving in ``chunks`` as one ``.npy`` file, atomically (temporary file + rename).

    Plain sequential writes, not a writable memory map: written pages stay out of this process's memory.
    The temporary name holds the process id, so that ranks writing the same cache never share a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    written = 0
    try:
        with open(tmp, "wb") as handle:
            for chunk in chunks:
                chunk = np.ascontiguousarray(chunk, dtype=np.float32)
                if written == 0:
                    header = {"descr": np.lib.format.dtype_to_descr(chunk.dtype), "fortran_order": False,
                              "shape": (n, int(chunk.shape[1]))}
                    np.lib.format.write_array_header_1_0(handle, header)
                handle.write(chunk.tobytes())
                written += len(chunk)
            if written == 0:
                np.save(handle, np.zeros((0, empty_dim), dtype=np.float32))
        if written != n:
            raise RuntimeError(f"feature extraction gave {written} rows for {n} items")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_cached(path: Path) -> "torch.Tensor":
    """A tensor over the ``.npy`` feature file ``path``, memory-mapped copy-on-write (the file never changes).

    Example:
        >>> read_cached(Path("run/features/features-0123.npy")).shape  # doctest: +SKIP
        torch.Size([4708, 1280])
    """
    import torch

    return torch.from_numpy(np.load(path, mmap_mode="c"))


class FeatureBatches:
    """``(features[idx], targets[idx])`` batches of tensors in memory (or memory-mapped): for training, in the
    order of :class:`~transferkit.core.seeding.EpochSampler` (``(seed, epoch)``, this rank's shard under DDP);
    without a ``seed`` (validation), every row in order, on every rank.

    What a DataLoader over a ``TensorDataset`` yields, batch for batch and bit for bit, without its
    per-item indexing, seeding and collating: training a head on cached features is a few tiny matrix
    products an epoch, and that per-item Python work cost more than the training itself. Lightning calls
    ``sampler.set_epoch`` before every epoch, as it does for a DataLoader's sampler.

    Example:
        >>> import torch
        >>> batches = FeatureBatches(torch.zeros(5, 3), torch.arange(5), batch_size=2)
        >>> len(batches), [t.tolist() for _, t in batches]
        (3, [[0, 1], [2, 3], [4]])
    """

    batch_sampler = None  # what Lightning inspects on a DataLoader: the batches are made here

    def __init__(self, features: "torch.Tensor", targets: "torch.Tensor", *, batch_size: int,
                 seed: int | None = None, shuffle: bool = False):
        from transferkit.core.seeding import EpochSampler

        self.features, self.targets, self.batch_size = features, targets, batch_size
        self.sampler = EpochSampler(len(features), seed=seed, shuffle=shuffle) if seed is not None else None

    def _order(self) -> list[int]:
        if self.sampler is None:
            return list(range(len(self.features)))
        return [index for _, index in self.sampler]

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.features)
        return -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple["torch.Tensor", "torch.Tensor"]]:
        import torch

        order = torch.tensor(self._order(), dtype=torch.long)
        for start in range(0, len(order), self.batch_size):
            picked = order[start:start + self.batch_size]
            yield self.features[picked], self.targets[picked]


@contextlib.contextmanager
def one_thread_on_cpu() -> Iterator[None]:
    """Run a block with one torch thread (then restore the count): for a head's tiny matrix products.

    Each operation of a small head takes microseconds, less than waking a second thread for it; on a
    busy machine the wait for a descheduled thread made every step 10-20 times slower (benchmarks/speed.py).
    Results are bit for bit the same for a given thread count, a resumed run included.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cached_features(
    model: "TransferModel", examples: Examples, batch_size: int, cache_dir: Path | None
) -> "torch.Tensor":
    """Features of ``examples``, read from ``cache_dir`` when computed before, else computed and stored.

    Example:
        >>> cached_features(model, splits.train, 32, Path("run/features")).shape  # doctest: +SKIP
        torch.Size([96, 1280])
    """
    if cache_dir is None:
        return extract_features(model, examples.items, batch_size)
    path = Path(cache_dir) / f"features-{cache_key(model, examples)}{CACHE_SUFFIX}"
    if path.is_file():
        return read_cached(path)
    return extract_features(model, examples.items, batch_size, into=path)
