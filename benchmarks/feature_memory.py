"""Peak memory of the feature cache at 1x, 2x and 4x the data: does it stay flat?

Each size runs in a fresh child process (peak RSS is per process): it builds the examples, then
extracts features with the frozen backbone either into memory (``extract_features`` without a file,
the pre-memmap behaviour kept for the no-cache case) or into the memory-mapped ``.npy`` cache
(``cached_features``), then makes one pass over the features in batches, as the head's training does.
Reported per child, from ``/proc/self/status``: the peak RSS growth during extraction (VmHWM after minus
VmRSS before), and after the pass the anonymous memory (RssAnon: the process's own) and the file pages
mapped (RssFile: page cache the kernel may drop at any time, not memory the run holds).

    .venv/bin/python benchmarks/feature_memory.py            # 20k, 40k, 80k examples, 512-d features
    .venv/bin/python benchmarks/feature_memory.py --base 5000 --dim 256

The toy backbone (a 3-layer MLP on 8-d vectors, tests/toy_plugin.py) keeps the compute small so that the
figures are about memory; a real backbone only changes how long extraction takes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile of this process, in MiB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0]) // 1024
    return values


def child(n: int, dim: int, mode: str) -> dict[str, float]:
    """One measurement, in this process (run by the parent as a fresh child)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import toy_plugin
    import torch

    import transferkit as tk
    from transferkit.core import registry as reg
    from transferkit.core.configure import configure
    from transferkit.core.features import cached_features, extract_features

    registry = reg.Registry.empty()
    registry.add_plugin(toy_plugin, name="toy")
    reg.set_registry(registry)
    torch.set_num_threads(1)
    model = configure(tk.select("toy"), ["a", "b"], strategy="linear-probe")
    model.backbone = toy_plugin.ToyBackbone(hidden=dim)
    examples = toy_plugin.make_blobs(n // 2, seed=0)
    before = _status()["VmRSS"]
    with tempfile.TemporaryDirectory() as folder:
        if mode == "memory":
            features = extract_features(model, examples.items, 256)
        else:
            features = cached_features(model, examples, 256, Path(folder))
        peak = _status()["VmHWM"] - before
        total = 0.0
        for start in range(0, len(features), 256):  # one pass, as an epoch of the head does
            total += float(features[start:start + 256].sum())
        after = _status()
    return {"n": n, "mode": mode, "feature_mib": round(n * dim * 4 / 2**20, 1), "extract_peak_mib": peak,
            "anon_after_pass_mib": after["RssAnon"], "file_after_pass_mib": after["RssFile"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=20000, help="examples at 1x")
    parser.add_argument("--dim", type=int, default=512, help="feature size")
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.dim, args.child[1])))
        return
    rows = []
    for mode in ("memory", "memmap"):
        for scale in (1, 2, 4):
            done = subprocess.run([sys.executable, __file__, "--dim", str(args.dim), "--child",
                                   str(args.base * scale), mode], capture_output=True, text=True, check=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{'mode':8} {'n':>7} {'features MiB':>12} {'extract peak MiB':>16} {'anon after MiB':>14} "
          f"{'file pages MiB':>14}")
    for row in rows:
        print(f"{row['mode']:8} {row['n']:>7} {row['feature_mib']:>12} {row['extract_peak_mib']:>16} "
              f"{row['anon_after_pass_mib']:>14} {row['file_after_pass_mib']:>14}")


if __name__ == "__main__":
    main()
