"""Real 2-process DDP on the CPU (gloo), through ``fit(devices=2, distributed_strategy="ddp")``.

Lightning's DDP launcher starts the other rank by running the same script again, so the run happens in
a script of its own (written below), in a subprocess: the toy domain, a small MLP, 120 examples.
It checks that the two ranks really split the work (each takes half the training steps of one process),
that the model reaches the accuracy of the same run in one process, and that rank 0 alone writes the model.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# The same seed, data and plan in one process and in two; with two, each step averages two batches of 8
# (one per rank), so the runs differ in their steps, not in what they can learn.
RUN = dict(strategy="full", seed=0, epochs=8, batch_size=8, lr=0.02, patience=0, holdout_test=0.25,
           time_budget=None)
# The test accuracy of the two runs may differ by at most this (one test example in 30 is 0.033).
TOLERANCE = 0.07

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    import toy_plugin
    from transferkit.core import registry as reg

    registry = reg.Registry.empty()
    registry.add_plugin(toy_plugin, name="toy")
    reg.set_registry(registry)

    import transferkit as tk
    from transferkit.core import train as train_module
    from transferkit.core.lightning_module import TransferModule

    counts = {{"steps": 0, "saves": 0}}
    step, save = TransferModule.training_step, train_module.save_run

    def counted_step(self, batch, index):
        counts["steps"] += 1
        return step(self, batch, index)

    def counted_save(*args, **kwargs):
        counts["saves"] += 1
        return save(*args, **kwargs)

    TransferModule.training_step, train_module.save_run = counted_step, counted_save
    devices, out, reports = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    result = tk.fit("toy", toy_plugin.make_blobs(60, seed=3, noise=1.6), out=out, devices=devices,
                    distributed_strategy="ddp" if devices > 1 else "auto", **{run!r})
    import torch.distributed as dist

    world = dist.get_world_size() if dist.is_initialized() else 1
    with open(f"{{reports}}/rank{{result.rank}}.json", "w") as handle:
        json.dump({{"rank": result.rank, "world": world, "out": None if result.out is None else str(result.out),
                   "metrics": result.metrics, **counts}}, handle)
""")


def _run(tmp_path: Path, devices: int) -> dict[int, dict]:
    folder = tmp_path / f"devices{devices}"
    reports = folder / "reports"
    reports.mkdir(parents=True)
    script = folder / "run.py"
    script.write_text(SCRIPT.format(tests=str(TESTS), run=RUN))
    # One thread per rank: two ranks on two cores, without their thread pools competing.
    env = {**os.environ, "TRANSFERKIT_DEVICE": "cpu", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_PORT"):  # a clean launch
        env.pop(name, None)
    done = subprocess.run([sys.executable, str(script), str(devices), str(folder / "model"), str(reports)],
                          env=env, cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {int(p.stem.removeprefix("rank")): json.loads(p.read_text()) for p in reports.glob("rank*.json")}


def _run_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[int, dict]:
    """The same run in this process, one device: the reference (an interpreter start cheaper)."""
    import toy_plugin

    import transferkit as tk
    from transferkit.core import train as train_module
    from transferkit.core.lightning_module import TransferModule

    counts = {"steps": 0, "saves": 0}
    step, save = TransferModule.training_step, train_module.save_run

    def counted_step(self, batch, index):
        counts["steps"] += 1
        return step(self, batch, index)

    def counted_save(*args, **kwargs):
        counts["saves"] += 1
        return save(*args, **kwargs)

    monkeypatch.setattr(TransferModule, "training_step", counted_step)
    monkeypatch.setattr(train_module, "save_run", counted_save)
    monkeypatch.setenv("TRANSFERKIT_DEVICE", "cpu")
    result = tk.fit("toy", toy_plugin.make_blobs(60, seed=3, noise=1.6), out=tmp_path / "one", **RUN)
    return {0: {"rank": result.rank, "world": 1, "out": str(result.out), "metrics": result.metrics, **counts}}


def test_two_process_ddp_matches_one_process_and_only_rank_zero_writes(tmp_path, monkeypatch, toy_registry):
    pytest.importorskip("lightning")
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    one = _run_here(tmp_path, monkeypatch)
    two = _run(tmp_path, 2)

    assert sorted(two) == [0, 1] and one[0]["saves"] == 1
    assert two[0]["world"] == two[1]["world"] == 2  # a real process group of two
    # Each rank trains on its half of the data: half the steps of one process (90 training examples).
    assert one[0]["steps"] > 0
    for rank in (0, 1):
        assert two[rank]["steps"] == pytest.approx(one[0]["steps"] / 2, abs=RUN["epochs"])
    # Rank 0 alone scores and writes the model folder; rank 1 returns without metrics and writes nothing.
    assert two[0]["saves"] == 1 and two[1]["saves"] == 0
    assert two[1]["out"] is None and two[1]["metrics"] == {}
    model = tmp_path / "devices2" / "model"
    assert (model / "transferkit.json").is_file() and (model / "model.safetensors").is_file()
    meta = json.loads((model / "transferkit.json").read_text())
    assert meta["metrics"]["test"]["accuracy"] == two[0]["metrics"]["test"]["accuracy"]
    # The same accuracy as one process, on the same held-out test split, within TOLERANCE.
    single, ddp = one[0]["metrics"]["test"]["accuracy"], two[0]["metrics"]["test"]["accuracy"]
    assert single >= 0.8, one[0]["metrics"]["test"]
    assert abs(ddp - single) <= TOLERANCE, (single, ddp)
