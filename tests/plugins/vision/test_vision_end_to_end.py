"""The vision domain through the core protocol: fit -> artifact -> load -> predict / evaluate, on tiny data."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("transferkit.core.train")


@pytest.fixture
def split_images(tmp_path, make_class_folder):
    root = tmp_path / "data"
    make_class_folder(root / "train", per_class=6)
    make_class_folder(root / "val", per_class=3)
    return root


@pytest.fixture
def tiny_resnet(tmp_path):
    import torch

    pytest.importorskip("transformers")
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    folder = tmp_path / "tiny-resnet"
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
    ResNetModel(config).save_pretrained(folder)
    return folder


def test_linear_probe_on_a_local_hf_folder_round_trips(split_images, tiny_resnet, tmp_path, vision_registry, preset):
    import transferkit as tk

    out = tmp_path / "model"
    run = tk.fit("vision", split_images, model=tiny_resnet, out=out,
                 preset=preset(strategy="linear-probe", preprocess={"resolution": 32}))
    assert run.plan.strategy == "linear-probe" and run.metrics["val"]["n"] == 6
    meta = json.loads((out / "transferkit.json").read_text())
    assert meta["backbone"]["type"] == "hf" and (out / "backbone" / "config.json").is_file()
    loaded = tk.load(out)
    images = sorted(str(p) for p in (split_images / "val").rglob("*.jpg"))
    before = [r["scores"] for r in tk.predict(run.model, images)]
    after = [r["scores"] for r in tk.predict(loaded, images)]
    for a, b in zip(before, after):
        assert a == pytest.approx(b, abs=1e-5)
    metrics = tk.evaluate(out, split_images)
    assert metrics["split"] == "val" and metrics["n"] == 6


def test_fine_tuning_with_augmentation_runs_through_lightning(split_images, tmp_path, vision_registry, preset):
    import transferkit as tk

    p = preset(strategy="full", preprocess={"resolution": 32},
               augment={"random_resized_crop": [0.5, 1.0], "hflip": 0.5, "brightness": 0.2},
               train={"epochs": 1, "batch_size": 4, "patience": 0})
    run = tk.fit("vision", split_images, model="vision/small-cnn.scratch", preset=p, out=tmp_path / "m")
    assert run.plan.strategy == "full" and len(run.history) >= 1
    assert tk.load(tmp_path / "m").predict([str(next((split_images / "val" / "ants").iterdir()))])[0]["label"] in (
        "ants", "bees")
