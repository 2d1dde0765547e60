"""Batched inference groups texts of similar length (core/evaluate.py ``outputs_in_order``).

A batch is padded to its longest text, so batching by length saves the padding; the outputs must still
come back in the order the texts were given, equal to scoring each text alone.
"""
from __future__ import annotations

import random

import numpy as np

import transferkit as tk
from transferkit.core.evaluate import SORT_WINDOW_BATCHES, predict_proba
from transferkit.core.features import extract_features

WORDS = "the film was great and excellent awful terrible service a product good bad".split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def _model(nlp_registry, tiny_bert):
    return tk.configure(tk.select("nlp", model=tiny_bert), ["neg", "pos"], strategy="linear-probe")


def test_outputs_come_back_in_the_order_given(nlp_registry, tiny_bert):
    model = _model(nlp_registry, tiny_bert)
    texts = _texts(2 * SORT_WINDOW_BATCHES + 5)  # more than one window, and a short last one
    alone = predict_proba(model, texts, batch_size=1)  # one text a batch: no padding, no reordering
    np.testing.assert_allclose(predict_proba(model, texts, batch_size=2), alone, atol=1e-5)
    features = extract_features(model, texts, 2).numpy()
    np.testing.assert_allclose(features, extract_features(model, texts, 1).numpy(), atol=1e-5)


def test_texts_are_batched_by_length(nlp_registry, tiny_bert, monkeypatch):
    model = _model(nlp_registry, tiny_bert)
    texts = _texts(64)
    padded: list[int] = []
    collate = model.domain.collate

    def counting(batch):
        inputs, targets = collate(batch)
        padded.append(int(inputs["input_ids"].numel()))
        return inputs, targets

    monkeypatch.setattr(model.domain, "collate", counting)
    predict_proba(model, texts, batch_size=8)
    # In the order given, each batch of 8 would be padded to its longest text.
    lengths = model.domain.dataset(model.backbone, texts, None, model.preset, train=False).lengths()
    given_order = sum(8 * int(lengths[i:i + 8].max()) for i in range(0, len(texts), 8))
    assert sum(padded) < 0.8 * given_order, (sum(padded), given_order)
