"""tk-robotics through transferkit.testing: the real entry point, the shipped weights, the whole protocol."""
import json

import numpy as np
import pytest

from tk_robotics.simulate import CONDITIONS, simulate_set, write_npz


def test_the_shipped_weights_recognise_arm_a(transferkit_registry):
    """The committed backbone, with its pretraining head, classifies fresh arm-A recordings: it is pretrained."""
    import importlib.resources

    import torch
    from safetensors.torch import load_file

    from tk_robotics.network import normalise
    from transferkit.core.select import select

    transferkit_registry("robotics")
    backbone = select("robotics").backbone.eval()  # the default model: the package's weights
    weights = load_file(str(importlib.resources.files("tk_robotics") / "weights" / "imu1d-arm-a.safetensors"))
    head = torch.nn.Linear(backbone.feature_dim, len(CONDITIONS))
    head.load_state_dict({"weight": weights["head.weight"], "bias": weights["head.bias"]})
    x, y = simulate_set("arm-a", 25, np.random.default_rng(7))
    with torch.no_grad():
        pred = head(backbone(normalise(torch.as_tensor(x)))).argmax(1).numpy()
    assert backbone.source_id == "robotics/imu1d.arm-a"
    assert (np.array(CONDITIONS)[pred] == y).mean() >= 0.85


def test_end_to_end_on_arm_b(transferkit_registry, plugin_roundtrip, tmp_path):
    transferkit_registry("robotics")
    data = write_npz(str(tmp_path / "arm-b.npz"), *simulate_set("arm-b", 6, np.random.default_rng(0)))
    run = plugin_roundtrip("robotics", data, epochs=3)
    assert run.result.plan.strategy == "linear-probe"  # the preset's `auto` on six labels a condition
    assert {p["label"] for p in run.predictions} <= set(CONDITIONS)
    meta = json.loads((run.out / "transferkit.json").read_text())
    assert meta["domain"] == "robotics"


def test_csv_reader_and_its_errors(transferkit_registry, tmp_path):
    from transferkit.core.select import get_domain
    from transferkit.errors import DataError

    transferkit_registry("robotics")
    domain = get_domain("robotics")
    good = tmp_path / "rec.csv"
    good.write_text("recording,label,t,a,b\nr1,ok,1,0.5,1\nr1,ok,0,0.25,2\nr2,bad,0,3,4\nr2,bad,1,5,6\n")
    examples = domain.read(good)
    assert examples.labels == ["ok", "bad"]
    assert examples.items[0].tolist() == [[0.25, 0.5], [2.0, 1.0]]  # rows ordered by t, one row per channel
    bad = tmp_path / "bad.csv"
    bad.write_text("recording,a\nr1,1\n")
    with pytest.raises(DataError, match="missing column label"):
        domain.read(bad)
