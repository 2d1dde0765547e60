"""benchmarks/budget_presets.py without running it: the verdicts its docs section states come from the results."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _module():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("budget_presets", BENCH / "budget_presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seed(seed, auroc, acc, train_seconds):
    plan = {"strategy": "linear-probe", "side": 224, "top_groups": 0, "reason": "r", "estimate_seconds": 600.0,
            "alternatives": ["freeze-unfreeze at 64 px: 9000 s"]}
    return {"seed": seed, "auroc": auroc, "accuracy": acc, "accuracy_argmax": acc, "spam_f1": None,
            "train_seconds": train_seconds, "seconds": train_seconds + 30, "peak_rss_mib": 700.0,
            "load": {"mean": 12.0, "max": 20.0}, "plan": plan}


def test_the_section_says_whether_each_seed_met_the_budget_and_the_published_figures():
    bench = _module()
    meta = {"date": "d", "machine": "m", "commands": ["c"]}
    met = {"meta": meta, "runs": {"chest-xray": {"seeds": [_seed(0, 0.91, 0.87, 800), _seed(1, 0.92, 0.88, 850)]},
                                  "spam": {"not_measured": "no time"}}}
    text = bench.render(met)
    row = next(line for line in text.splitlines() if line.startswith("| `medical/chest-xray`"))
    assert "within budget: yes" in row and "figures: met" in row and "linear-probe at 224 px" in row
    assert "not measured (no time)" in text and "12.0 (max 20.0)" in row
    # One seed over 15 minutes, one under the published AUROC: both said, for every seed.
    missed = {"meta": meta, "runs": {"chest-xray": {"seeds": [_seed(0, 0.91, 0.87, 950), _seed(1, 0.89, 0.88, 800)]}}}
    row = next(line for line in bench.render(missed).splitlines() if line.startswith("| `medical/chest-xray`"))
    assert "within budget: no" in row and "figures: not met" in row
