"""Measure the transfer gain: arm-A pretrained network vs the same network from scratch, on arm B.

For each label budget (recordings per condition) and each of 3 seeds: simulate arm-B training and
validation sets of that size and one test set of 100 recordings a condition, then train through the public
API (transferkit.fit) with the `robotics/joint-faults` preset (pretrained) and `robotics/scratch` (from
scratch). Writes results.json and transfer_gain.png (mean and standard deviation over the seeds) to --out.
Usage: python examples/tk-robotics/scripts/transfer_gain.py [--out examples/tk-robotics/results]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

import tk_robotics  # noqa: E402
from tk_robotics.simulate import simulate_set, write_npz  # noqa: E402

from transferkit import fit  # noqa: E402
from transferkit.testing import isolated_registry  # noqa: E402

MODELS = {"pretrained on arm A": "robotics/joint-faults", "from scratch": "robotics/scratch"}


def run(budgets: list[int], seeds: list[int], work: Path) -> dict:
    rows = []
    with isolated_registry(robotics=tk_robotics):
        for k in budgets:
            for seed in seeds:
                rng = np.random.default_rng(1000 + seed)
                train = write_npz(str(work / "train.npz"), *simulate_set("arm-b", k, rng))
                val = write_npz(str(work / "val.npz"), *simulate_set("arm-b", k, rng))
                test = write_npz(str(work / "test.npz"), *simulate_set("arm-b", 100, rng))
                for name, preset in MODELS.items():
                    result = fit("robotics", train, val=val, test=test, preset=preset, seed=seed)
                    accuracy = float(result.metrics["test"]["accuracy"])
                    rows.append({"per_class": k, "seed": seed, "model": name, "preset": preset,
                                 "strategy": result.plan.strategy, "test_accuracy": accuracy,
                                 "test_f1_macro": float(result.metrics["test"]["f1_macro"])})
                    print(f"{k:>3} per class, seed {seed}, {name}: test accuracy {accuracy:.3f}", flush=True)
    summary = {}
    for name in MODELS:
        for k in budgets:
            values = [r["test_accuracy"] for r in rows if r["model"] == name and r["per_class"] == k]
            summary.setdefault(name, {})[str(k)] = {"mean": float(np.mean(values)), "std": float(np.std(values)),
                                                    "n_seeds": len(values)}
    return {"task": "arm B, 4 conditions (nominal, payload, friction, collision); test: 100 recordings a condition",
            "rows": rows, "summary": summary}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, by_k in results["summary"].items():
        ks = sorted(int(k) for k in by_k)
        mean = np.array([by_k[str(k)]["mean"] for k in ks])
        std = np.array([by_k[str(k)]["std"] for k in ks])
        ax.errorbar(ks, mean, yerr=std, marker="o", capsize=4, label=name)
    ax.axhline(0.25, color="grey", linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("labelled arm-B recordings per condition")
    ax.set_ylabel("test accuracy (mean ± sd, 3 seeds)")
    ax.set_ylim(0, 1)
    ax.set_title("tk-robotics: transfer from arm A to arm B")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--budgets", type=int, nargs="+", default=[2, 5, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from --out/results.json")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.plot_only:
        results = json.loads((args.out / "results.json").read_text())
    else:
        with tempfile.TemporaryDirectory() as work:
            results = run(args.budgets, args.seeds, Path(work))
        (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "transfer_gain.png")
    for name, by_k in results["summary"].items():
        print(name, {k: f"{v['mean']:.3f} ± {v['std']:.3f}" for k, v in by_k.items()})
    print(f"wrote {'' if args.plot_only else str(args.out / 'results.json') + ' and '}{args.out / 'transfer_gain.png'}")


if __name__ == "__main__":
    main()
