"""End to end on a tiny BERT: train (full fine-tuning and LoRA), save, reload in a fresh process, predict."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import transferkit as tk
from transferkit.core.specs import Preset

POSITIVE = "great good excellent love".split()
NEGATIVE = "bad awful terrible hate".split()
FILLER = "the movie film product service was is a".split()


def make_reviews(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["review,sentiment"]
    for i in range(n):
        label, words = ("pos", POSITIVE) if i % 2 else ("neg", NEGATIVE)
        text = " ".join(rng.sample(FILLER, 3) + rng.sample(words, 2) + rng.sample(FILLER, 2))
        lines.append(f"{text},{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


PROBE = ["the film was great and excellent", "awful terrible service", "a product"]

RELOAD = """
import json, sys
import transferkit as tk
model = tk.load(sys.argv[1])
out = model.predict(json.loads(sys.argv[2]))
print(json.dumps([[p["label"], [p["scores"][k] for k in model.labels]] for p in out]))
"""


def _reload_in_fresh_process(folder: Path) -> list:
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(folder), json.dumps(PROBE)],
        capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# Mean pooling: a random tiny BERT is a bag of embeddings that learns in a few steps; its CLS does not.
TINY = Preset(id="nlp/tiny", domain="nlp", description="tiny tests", head={"pooling": "mean"})
SETTINGS = {"full": {"epochs": 6, "lr": 1e-2, "backbone_lr": 3e-3}, "lora": {"epochs": 8, "lr": 3e-2}}


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_train_save_and_reload_in_a_fresh_process(nlp_registry, tiny_bert, tmp_path, strategy):
    data = make_reviews(tmp_path / "reviews.csv", 48)
    options = {"text_cols": ["review"], "label_col": "sentiment"}
    run = tk.fit("nlp", data, model=tiny_bert, preset=TINY, strategy=strategy, out=tmp_path / "m",
                 read_options=options, batch_size=8, patience=0, seed=0, **SETTINGS[strategy])
    assert run.model.plan.strategy == strategy
    assert run.metrics["val"]["accuracy"] >= 0.7, run.history
    meta = json.loads((tmp_path / "m" / "transferkit.json").read_text())
    assert meta["backbone"]["pooling"] == "mean" and meta["read_options"] == options
    assert (tmp_path / "m" / "tokenizer" / "tokenizer_config.json").is_file()
    if strategy == "lora":
        from safetensors import safe_open

        with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as weights:
            assert any("lora_A" in key for key in weights.keys())

    here = run.model.predict(PROBE)
    fresh = _reload_in_fresh_process(tmp_path / "m")
    assert [label for label, _ in fresh] == [p["label"] for p in here]
    np.testing.assert_allclose([s for _, s in fresh], [[p["scores"][k] for k in run.model.labels] for p in here],
                               atol=1e-5)
    scored = tk.evaluate(tmp_path / "m", data)  # the saved read options are reused
    assert scored["n"] == 48 and scored["accuracy"] >= 0.7


def test_artifact_is_a_starting_point_for_a_new_transfer(nlp_registry, tiny_bert, tmp_path):
    data = make_reviews(tmp_path / "reviews.csv", 32)
    options = {"text_cols": ["review"], "label_col": "sentiment"}
    tk.fit("nlp", data, model=tiny_bert, preset=TINY, strategy="full", out=tmp_path / "generic", read_options=options,
           epochs=2, batch_size=8, patience=0)
    second = tk.fit("nlp", data, model=tmp_path / "generic", preset=TINY, strategy="freeze-unfreeze", out=tmp_path / "specific",
                    read_options=options, epochs=2, unfreeze_epoch=1, batch_size=8, patience=0)
    assert second.model.plan.source == str(tmp_path / "generic")
    assert tk.load(tmp_path / "specific").predict(PROBE[:1])[0]["label"] in {"pos", "neg"}
