"""The README's main job: a real transfer on lfw_subset with the real EfficientNet-Lite0 weights."""
from __future__ import annotations

import json

import pytest
from rich.console import Console


@pytest.mark.real_weights
@pytest.mark.slow  # a real transfer, a CNN trained from scratch and a pixel baseline: minutes on a CPU
def test_demo_transfer_beats_both_baselines_and_writes_the_artifact(tmp_path):
    from transferkit.demo import run_demo

    console = Console(record=True, width=120)
    results = run_demo(tmp_path / "demo", console=console)
    ours = results["transferkit (pretrained, linear probe)"]
    # Two labelled images a class: one draw's accuracy moves with a few test images (0.927 at 288 px,
    # 0.833 at the 320 px that cross-validation chose for vision/general), so the claim checked is the
    # threshold-free one: the pretrained features rank the 192 held-out images far better than both
    # baselines (measured AUROC 0.996 against 0.80 and 0.74).
    assert ours["auroc"] >= 0.95
    assert ours["auroc"] > results["small CNN from scratch"]["auroc"] + 0.1
    assert ours["auroc"] > results["pixels + logistic regression"]["auroc"] + 0.1
    assert ours["accuracy"] >= results["small CNN from scratch"]["accuracy"]
    from rich.text import Text

    from transferkit.demo import verdict

    assert Text.from_markup(verdict(results)).plain.split(":")[0] in console.export_text()
    meta = json.loads((tmp_path / "demo" / "transferkit.json").read_text())
    assert set(meta["baselines"]) == {"small CNN from scratch", "pixels + logistic regression"}
    assert (tmp_path / "demo" / "README.md").read_text().count("| small CNN from scratch |") == 1
