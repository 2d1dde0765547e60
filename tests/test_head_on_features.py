"""The frozen-backbone head on cached features (core/train.py, core/features.py): what was made cheaper must
train the very same head as before, and neither training nor inference may start decoding workers on busy CPU cores."""
from __future__ import annotations

import contextlib

import pytest
import toy_plugin

import transferkit as tk


def test_feature_batches_equal_the_seeded_data_loader_batch_for_batch():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from transferkit.core.features import FeatureBatches
    from transferkit.core.seeding import seeded_loader

    x, y = torch.randn(37, 5), torch.arange(37) % 3
    fast = FeatureBatches(x, y, batch_size=8, seed=3, shuffle=True)
    slow = seeded_loader(TensorDataset(x, y), seed=3, batch_size=8, shuffle=True)
    for epoch in range(3):  # Lightning sets the epoch on the sampler of either
        fast.sampler.set_epoch(epoch)
        slow.sampler.set_epoch(epoch)
        pairs = list(zip(fast, slow, strict=True))
        assert len(pairs) == len(fast) == len(slow) == 5
        for (a, ya), (b, yb) in pairs:
            assert torch.equal(a, b) and torch.equal(ya, yb) and ya.dtype == yb.dtype
    in_order = [t.tolist() for _, t in FeatureBatches(x, y, batch_size=16)]  # validation: no seed, no shuffle
    assert in_order == [t.tolist() for _, t in DataLoader(TensorDataset(x, y), batch_size=16)]


def _fit_freeze(root):
    data = toy_plugin.make_blobs(40, seed=1, noise=1.5)
    val = toy_plugin.make_blobs(20, seed=2, noise=1.5)
    run = tk.fit("toy", data, val=val, strategy="freeze", epochs=5, patience=0, seed=7, batch_size=8,
                 head={"hidden": [8], "dropout": 0.3}, out=root, time_budget=None)
    return run


def test_head_trains_as_with_data_loaders_and_checkpoint_files(toy_registry, tmp_path, monkeypatch):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from transferkit.core import features, train
    from transferkit.core.seeding import seeded_loader

    fast = _fit_freeze(tmp_path / "fast")
    assert not list((tmp_path / "fast" / "run").rglob("*.ckpt"))  # the best epoch was kept in memory
    assert any(n.startswith("restored the best epoch (epoch ") for n in fast.notes)

    # The previous path: DataLoaders over TensorDatasets, all threads, best/last checkpoint files.
    def loaders(f, t, *, batch_size, seed=None, shuffle=False):
        if seed is None:
            return DataLoader(TensorDataset(f, t), batch_size=batch_size)
        return seeded_loader(TensorDataset(f, t), seed=seed, batch_size=batch_size, shuffle=shuffle)

    run_lightning = train._run_lightning
    monkeypatch.setattr(features, "FeatureBatches", loaders)
    monkeypatch.setattr(features, "one_thread_on_cpu", contextlib.nullcontext)
    monkeypatch.setattr(train, "_run_lightning", lambda *a, checkpoints=True, **k: run_lightning(*a, **k))
    slow = _fit_freeze(tmp_path / "slow")
    assert (tmp_path / "slow" / "run" / "checkpoints" / "best.ckpt").is_file()

    a, b = fast.model.state_dict(), slow.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in row.items() if k != "elapsed_s"} for row in fast.history]
    assert strip == [{k: v for k, v in row.items() if k != "elapsed_s"} for row in slow.history]
    assert fast.metrics == slow.metrics


def test_head_thread_count_is_restored(toy_registry, tmp_path):
    import torch

    before = torch.get_num_threads()
    _fit_freeze(tmp_path / "m")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("cpus", "threads", "workers"), [(2, 2, 0), (4, 2, 1)])
def test_inference_leaves_torch_s_cores_to_torch(toy_registry, monkeypatch, cpus, threads, workers):
    import torch
    import torch.utils.data

    from transferkit.core import devices
    from transferkit.core.configure import configure
    from transferkit.core.evaluate import batches

    monkeypatch.delenv(devices.WORKERS_ENV, raising=False)
    model = configure(tk.select("toy"), ["a", "b"], strategy="linear-probe")
    monkeypatch.setattr(devices, "loader_workers", lambda *a, **k: 1)  # as for items that cost real decoding
    monkeypatch.setattr(devices, "_usable_cpus", lambda: cpus)
    seen = []
    real = torch.utils.data.DataLoader
    monkeypatch.setattr(torch.utils.data, "DataLoader",
                        lambda *a, **k: seen.append(k["num_workers"]) or real(*a, **{**k, "num_workers": 0}))
    items = toy_plugin.make_blobs(6).items
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert sum(len(t) for _, t in batches(model, items, 4)) == len(items)
    finally:
        torch.set_num_threads(old)
    assert seen == [workers]
    monkeypatch.setenv(devices.WORKERS_ENV, "1")  # the user's choice stands
    seen.clear()
    list(batches(model, toy_plugin.make_blobs(6).items, 4))
    assert seen == [1]


@pytest.mark.parametrize(("cpus", "threads", "workers"), [(2, 2, 0), (4, 2, 1)])
def test_training_leaves_torch_s_cores_to_torch(toy_registry, tmp_path, monkeypatch, cpus, threads, workers):
    """Fine-tuning's loaders follow the rule of inference's: on the CPU, no decoding worker on a core torch's
    threads use (docs/benchmarks.md, speed section 2, measures what one costs)."""
    import torch
    import torch.utils.data

    from transferkit.core import devices

    monkeypatch.delenv(devices.WORKERS_ENV, raising=False)
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    monkeypatch.setattr(devices, "loader_workers", lambda *a, **k: 1)  # as for items that cost real decoding
    monkeypatch.setattr(devices, "_usable_cpus", lambda: cpus)
    seen = []
    real = torch.utils.data.DataLoader

    def recording(*args, **kwargs):
        seen.append(kwargs.get("num_workers", 0))
        kwargs.pop("persistent_workers", None)
        return real(*args, **{**kwargs, "num_workers": 0})

    monkeypatch.setattr(torch.utils.data, "DataLoader", recording)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        tk.fit("toy", toy_plugin.make_blobs(40, seed=1), val=toy_plugin.make_blobs(20, seed=2), strategy="full",
               epochs=1, patience=0, seed=0, batch_size=8, out=tmp_path / "m", time_budget=None)
    finally:
        torch.set_num_threads(old)
    assert seen[:2] == [workers, workers]  # the training and the validation loader
