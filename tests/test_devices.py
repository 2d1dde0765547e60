"""The device used everywhere (core/devices.py): choice of device and precision, moves, loaders, the
memory-mapped feature cache, sharding across ranks and the distributed options.

There is no GPU here: the GPU branches are exercised with ``torch.cuda`` monkeypatched, and the moves to
the GPU are recorded instead of made (a CPU-only torch cannot allocate on CUDA).
"""
from __future__ import annotations

import contextlib
import tracemalloc

import numpy as np
import pytest
import toy_plugin

import transferkit as tk
from transferkit.core import devices
from transferkit.errors import UsageError


@pytest.fixture
def no_override(monkeypatch):
    for name in (devices.DEVICE_ENV, devices.WORKERS_ENV, "LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)


def fake_gpus(monkeypatch, count: int = 1, bf16: bool = True) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)


def test_pick_device_gpu_when_present_per_local_rank_and_override(monkeypatch, no_override):
    import torch

    fake_gpus(monkeypatch, count=0)
    assert devices.pick_device() == torch.device("cpu")
    fake_gpus(monkeypatch, count=2)
    assert devices.pick_device() == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "1")  # the second process of a DDP run takes the second GPU
    assert devices.pick_device() == torch.device("cuda", 1)
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")  # the user's choice wins
    assert devices.pick_device() == torch.device("cpu")
    assert devices.lightning_accelerator() == "cpu"


def test_precision_mixed_on_gpu_bf16_where_supported_float32_on_cpu(monkeypatch, no_override):
    import torch

    fake_gpus(monkeypatch, count=0)
    assert devices.training_precision("auto") == "32-true"
    assert isinstance(devices.autocast(torch.device("cpu")), contextlib.nullcontext)
    fake_gpus(monkeypatch, count=1, bf16=True)
    assert devices.training_precision("auto") == "bf16-mixed"
    cast = devices.autocast(torch.device("cuda", 0))
    assert isinstance(cast, torch.autocast) and cast.fast_dtype == torch.bfloat16
    fake_gpus(monkeypatch, count=1, bf16=False)  # e.g. a T4 or V100: float16 with loss scaling
    assert devices.training_precision("auto") == "16-mixed"
    assert devices.autocast(torch.device("cuda", 0)).fast_dtype == torch.float16
    assert devices.training_precision("32-true") == "32-true"  # an explicit choice is kept
    assert devices.training_precision("auto", "cpu") == "32-true"


@pytest.fixture
def toy_model(toy_registry):
    from transferkit.core.configure import configure

    return configure(tk.select("toy"), ["a", "b"], strategy="linear-probe")


def _record_moves(monkeypatch, model, device):
    """Send the model 'to' ``device`` and record it, without allocating there; likewise for batches."""
    import torch

    record = {"model": [], "batches": [], "autocast": []}
    monkeypatch.setattr(devices, "pick_device", lambda: device)
    monkeypatch.setattr(model, "to", lambda target, *a, **k: record["model"].append(torch.device(target)) or model)

    def to_device(batch, target, non_blocking=False):
        record["batches"].append((target, non_blocking))
        return batch

    monkeypatch.setattr(devices, "to_device", to_device)
    monkeypatch.setattr(devices, "autocast", lambda target: record["autocast"].append(target) or contextlib.nullcontext())
    return record


@pytest.mark.parametrize("path", ["predict", "features"])
@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")
def test_inference_moves_model_and_batches_to_the_gpu_and_back(monkeypatch, no_override, toy_model, path):
    import torch

    from transferkit.core.evaluate import predict_proba
    from transferkit.core.features import extract_features

    items = toy_plugin.make_blobs(10, seed=0).items
    gpu = torch.device("cuda", 0)
    record = _record_moves(monkeypatch, toy_model, gpu)
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self, *a, **k: self)  # no CUDA to pin for here
    if path == "predict":
        assert predict_proba(toy_model, items, batch_size=8).shape == (20, 2)
    else:
        assert tuple(extract_features(toy_model, items, 8).shape) == (20, toy_model.backbone.feature_dim)
    assert record["model"] == [gpu, torch.device("cpu")]  # there for the work, then back where it was
    # Every batch went to the GPU, asynchronously (pinned host memory), under autocast for the GPU.
    assert record["batches"] == [(gpu, True)] * 3
    assert record["autocast"] == [gpu] * 3
    assert toy_model.training is True  # the mode is restored too


def test_loader_workers_only_for_per_item_work(monkeypatch, no_override):
    import torch

    from transferkit.core.seeding import SeededItems
    from transferkit.plugins.vision.domain import ImageDataset

    monkeypatch.setattr(devices, "_usable_cpus", lambda: 8)
    images = ImageDataset([np.zeros((4, 4), np.uint8)] * 100, None, lambda im: np.zeros((3, 2, 2), np.float32))
    assert devices.loader_workers(images, batch_size=16) == devices.MAX_WORKERS
    assert devices.loader_workers(SeededItems(images, seed=0), batch_size=16) == devices.MAX_WORKERS  # seen through
    assert devices.loader_workers(images, batch_size=128) == 0  # one batch: a worker would only add start-up
    assert devices.loader_workers(list(range(100)), batch_size=16) == 0  # already in memory
    # On the CPU, workers only on the cores torch's threads leave free: they would compete with the passes.
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert devices.loader_options(images, 16, torch.device("cpu")) == {"num_workers": 0, "pin_memory": False}
    assert devices.loader_options(images, 16, torch.device("cuda", 0))["num_workers"] == devices.MAX_WORKERS
    monkeypatch.setattr(torch, "get_num_threads", lambda: 6)
    assert devices.loader_options(images, 16, torch.device("cpu"))["num_workers"] == 2
    monkeypatch.setattr(devices, "_usable_cpus", lambda: 1)
    assert devices.loader_workers(images, batch_size=16) == 0  # no spare core
    monkeypatch.setenv(devices.WORKERS_ENV, "2")
    assert devices.loader_workers(list(range(100)), batch_size=16) == 2
    assert devices.loader_options(images, 16, torch.device("cpu"))["num_workers"] == 2  # asked for: given
    gpu = devices.loader_options(images, 16, torch.device("cuda", 0))
    assert gpu == {"num_workers": 2, "pin_memory": True, "persistent_workers": True}
    assert devices.loader_options(images, 16, torch.device("cpu"))["pin_memory"] is False


def test_features_in_a_worker_process_equal_the_main_process(monkeypatch, no_override, toy_model):
    from transferkit.core.features import extract_features

    items = toy_plugin.make_blobs(20, seed=1).items
    main = extract_features(toy_model, items, 8)
    monkeypatch.setenv(devices.WORKERS_ENV, "1")
    assert np.array_equal(extract_features(toy_model, items, 8).numpy(), main.numpy())


def _wide_toy_model(toy_registry_model, width: int):
    toy_registry_model.backbone = toy_plugin.ToyBackbone(hidden=width)
    return toy_registry_model


def test_feature_cache_is_written_in_chunks_and_read_memory_mapped(monkeypatch, no_override, toy_model, tmp_path):
    import torch

    from transferkit.core import features

    model = _wide_toy_model(toy_model, 256)
    examples = toy_plugin.make_blobs(1000, seed=2)  # 2000 x 256 float32 features: 2 MB
    full_bytes = len(examples) * 256 * 4
    in_memory = features.extract_features(model, examples.items, 64)

    tracemalloc.start()
    cached = features.cached_features(model, examples, 64, tmp_path / "cache")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Written batch by batch: the peak is a few batches, not the whole array (NumPy allocations are traced).
    assert peak < full_bytes / 4, (peak, full_bytes)
    files = list((tmp_path / "cache").iterdir())
    assert [f.suffix for f in files] == [".npy"]  # no temporary file left behind
    assert torch.equal(cached, in_memory)

    def no_backbone(*args, **kwargs):
        raise AssertionError("the backbone ran although the features were cached")

    monkeypatch.setattr(features, "feature_batches", no_backbone)
    tracemalloc.start()
    again = features.cached_features(model, examples, 64, tmp_path / "cache")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < full_bytes / 4, (peak, full_bytes)  # mapped, not read into memory
    assert torch.equal(again, in_memory)
    again[0, 0] = 1e9  # copy-on-write: the tensor is writable and the cache file never changes
    assert torch.equal(features.read_cached(files[0]), in_memory)


def test_epoch_sampler_shards_disjoint_halves_that_follow_seed_and_epoch(monkeypatch):
    from transferkit.core import seeding

    def shards(n, epoch):
        out = []
        for rank in (0, 1):
            monkeypatch.setattr(seeding, "_shard", lambda rank=rank: (rank, 2))
            sampler = seeding.EpochSampler(n, seed=4, shuffle=True)
            sampler.set_epoch(epoch)
            out.append([i for _, i in sampler])
            assert len(sampler) == len(out[-1]) == -(-n // 2)
        return out

    first, second = shards(10, 0)
    assert not set(first) & set(second) and sorted(first + second) == list(range(10))
    assert shards(10, 0) == [first, second]  # the same split on a repeat...
    assert shards(10, 1) != [first, second]  # ...and a new order each epoch
    odd = shards(7, 0)  # padded by repeating the start, as DistributedSampler does
    assert len(odd[0]) == len(odd[1]) == 4 and set(odd[0] + odd[1]) == set(range(7))
    monkeypatch.setattr(seeding, "_shard", lambda: (0, 1))
    assert len(list(seeding.EpochSampler(10, seed=4))) == 10


def test_distributed_options_are_checked_before_any_work(toy_registry, tmp_path):
    missing = tmp_path / "no-such-data.npz"  # read only after the checks: a DataError would mean they ran late
    for bad in ({"devices": "0"}, {"devices": "two"}, {"num_nodes": 0}, {"distributed_strategy": "horovod"}):
        with pytest.raises(UsageError) as caught:
            tk.fit("toy", missing, time_budget=None, **bad)
        assert "--devices" in str(caught.value) or "num-nodes" in str(caught.value) \
            or "distributed strategy" in str(caught.value)
    with pytest.MonkeyPatch.context() as patch:  # on GPUs, under a launcher: accepted
        patch.setattr("torch.cuda.is_available", lambda: True)
        patch.setenv("MASTER_ADDR", "10.0.0.1")
        patch.setenv("NODE_RANK", "1")
        assert devices.distributed_settings("auto", 2, "fsdp") == {"devices": "auto", "num_nodes": 2,
                                                                   "distributed_strategy": "fsdp"}


def test_fsdp_without_a_gpu_and_several_machines_without_a_launcher_are_refused_first(toy_registry, tmp_path,
                                                                                       monkeypatch):
    """Both passed --dry-run before: fsdp then failed inside Lightning with an internal error, and
    --num-nodes 2 on one machine waited for the other machine forever, deaf to Ctrl-C."""
    for name in ("MASTER_ADDR", "NODE_RANK", "SLURM_NTASKS", "TORCHELASTIC_RUN_ID", "LSB_JOBID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    missing = tmp_path / "no-such-data.npz"  # read only after the checks
    with pytest.raises(UsageError, match="shards the model across GPUs") as caught:
        tk.fit("toy", missing, devices=2, distributed_strategy="fsdp", dry_run=True)
    assert "--distributed-strategy ddp" in caught.value.fix
    with pytest.raises(UsageError, match="--num-nodes 2: no launcher") as caught:
        tk.fit("toy", missing, num_nodes=2, dry_run=True)
    assert "srun" in caught.value.fix and "--num-nodes 1" in caught.value.fix
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")  # set by hand on every machine, as Lightning reads them
    monkeypatch.setenv("NODE_RANK", "0")
    assert devices.distributed_settings(1, 2, "ddp")["num_nodes"] == 2


def test_unfreezing_during_training_is_refused_with_several_devices(toy_registry):
    from transferkit.core.configure import configure
    from transferkit.core.train import train

    model = configure(tk.select("toy"), ["a", "b"], strategy="freeze-unfreeze", unfreeze_epoch=1)
    with pytest.raises(UsageError, match="unfreezes backbone layers"):
        train(model, toy_plugin.make_blobs(10, seed=0), devices=2)


def test_unfreezing_with_several_devices_is_refused_before_timing_and_in_a_dry_run(toy_registry, monkeypatch):
    """It was refused only when training started: after the plan was printed and the steps timed, and
    --dry-run passed it. Also when auto's data-size rule would take freeze-unfreeze."""
    from transferkit.core import budget

    def no_timing(*args, **kwargs):
        raise AssertionError("timed before refusing")

    monkeypatch.setattr(budget, "measure_steps", no_timing)
    data = toy_plugin.make_blobs(40, seed=0)  # 32 a class left to train on: auto's rule says freeze-unfreeze
    for strategy in ("freeze-unfreeze", "gradual", "auto"):
        with pytest.raises(UsageError, match="unfreezes backbone layers"):
            tk.fit("toy", data, strategy=strategy, devices=2, time_budget="10m", dry_run=True)


def test_trainer_gets_devices_nodes_strategy_and_precision(tmp_path, no_override):
    from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

    from transferkit.core.progress import Reporter
    from transferkit.core.train import _trainer

    cfg = {"epochs": 1, "patience": 0, "precision": "auto", "devices": 2, "num_nodes": 1,
           "distributed_strategy": "ddp"}
    trainer = _trainer(cfg, tmp_path, [], Reporter(False), False)
    assert trainer.num_devices == 2 and isinstance(trainer.strategy, DDPStrategy)
    assert trainer.precision == "32-true"  # auto on the CPU
    assert trainer._accelerator_connector.use_distributed_sampler is False  # EpochSampler shards itself
    single = _trainer({**cfg, "devices": 1, "distributed_strategy": "auto"}, tmp_path, [], Reporter(False), False)
    assert isinstance(single.strategy, SingleDeviceStrategy) and single.num_devices == 1
