"""Tiny Hugging Face models and data built in the test session (no download): a ViT and a BERT.

Used by the safe-loading and LoRA-reload tests, which need real vision and nlp artifacts in seconds.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

WORDS = "good great excellent love fine bad awful terrible hate poor the a film movie was is very".split()
POSITIVE, NEGATIVE = WORDS[:5], WORDS[5:10]


def plugin_registry(module_name: str, name: str) -> Any:
    """A registry holding only one built-in plugin, installed as the process-wide registry."""
    import importlib

    from transferkit.core.registry import set_registry
    from transferkit.testing import build_registry, forget_domain_objects

    registry = build_registry(**{name: importlib.import_module(module_name)})
    set_registry(registry)
    forget_domain_objects()
    return registry


def nlp_workspace(tmp_path: Path) -> Any:
    """A generator for a pytest fixture: the nlp plugin as the process-wide registry, a tiny BERT folder and
    a reviews CSV under ``tmp_path``; the registry is reset afterwards."""
    from transferkit.core import registry as reg

    plugin_registry("transferkit.plugins.nlp", "nlp")
    yield build_tiny_bert(tmp_path / "bert"), make_reviews(tmp_path / "reviews.csv")
    reg.set_registry(None)


def build_tiny_vit(folder: Path) -> Path:
    """A random 2-layer ViT for 32x32 images, saved with save_pretrained."""
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=32)).save_pretrained(str(folder))
    return folder


def build_tiny_bert(folder: Path) -> Path:
    """A random 2-layer BERT with a word-level tokenizer, saved with save_pretrained."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast.from_pretrained(str(folder), do_lower_case=True, model_max_length=32)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=32, pad_token_id=0)).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def make_images(root: Path, per_class: int = 6) -> Path:
    """Two classes of noisy 32x32 images, red and blue."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, colour in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour)[None, None] + rng.normal(0, 30, (32, 32, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8), "RGB").save(root / label / f"{label}{i}.png")
    return root


def make_reviews(path: Path, n: int = 24) -> Path:
    """A CSV of short positive and negative reviews (columns review, sentiment)."""
    rng = np.random.default_rng(0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        for i in range(n):
            label = "pos" if i % 2 else "neg"
            words = list(rng.choice(POSITIVE if label == "pos" else NEGATIVE, 3)) + ["the", "film"]
            writer.writerow([" ".join(words), label])
    return path


RELOAD = """
import json, sys
import transferkit as tk
model = tk.load(sys.argv[1])
out = model.predict(json.loads(sys.argv[2]))
print(json.dumps([[p["label"], [p["scores"][k] for k in model.labels]] for p in out]))
"""


def predict_in_fresh_process(folder: Path, items: list[str]) -> list[Any]:
    """``tk.load(folder).predict(items)`` in a new Python process (installed plugins, nothing shared)."""
    import os

    result = subprocess.run([sys.executable, "-c", RELOAD, str(folder), json.dumps(items)], capture_output=True,
                            text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
