"""The contrastive fit follows SetFit's trainer where it matters (core/contrastive.py): the Hugging Face
Trainer's optimizer (weight decay not on biases or LayerNorm weights, warm-up from learning rate 0, gradients
clipped at norm 1), and SetFit's head (logistic regression, C=1) on unit-length sentence vectors, which the
saved model keeps producing.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import tiny_hf
import torch

import transferkit as tk
from transferkit.core import contrastive
from transferkit.core.specs import Preset

pytest.importorskip("sentence_transformers")

OPTIONS = {"text_cols": ["review"], "label_col": "sentiment"}


@pytest.fixture
def nlp(tmp_path):
    yield from tiny_hf.nlp_workspace(tmp_path)


def test_optimizer_and_schedule_are_the_hf_trainers():
    """SetFit tunes through the HF Trainer: no decay on biases and LayerNorm, ceil(10%) warm-up from lr 0."""
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    optimizer, schedule = contrastive.optimizer_and_schedule(net, 2e-5, steps=8)
    by_decay = {g["weight_decay"]: {id(p) for p in g["params"]} for g in optimizer.param_groups}
    assert by_decay[contrastive.WEIGHT_DECAY] == {id(net[0].weight), id(net[2].weight)}
    assert by_decay[0.0] == {id(net[0].bias), id(net[1].weight), id(net[1].bias), id(net[2].bias)}
    lrs = []
    for _ in range(8):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    warm = math.ceil(contrastive.WARMUP * 8)
    assert lrs[0] == 0.0 and lrs[warm] == pytest.approx(2e-5)  # the first step does not move the weights
    assert lrs[warm:] == sorted(lrs[warm:], reverse=True) and lrs[-1] == pytest.approx(2e-5 / 7)


def test_tuning_clips_gradients_and_the_head_is_setfits_on_unit_vectors(nlp, tmp_path, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    from transferkit.core.features import extract_features
    from transferkit.core.select import get_domain

    clipped: list[float] = []
    original = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        clipped.append(max_norm)
        return original(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    bert, data = nlp
    preset = Preset(id="nlp/tiny", domain="nlp", description="tiny", head={"pooling": "mean"})
    run = tk.fit("nlp", data, model=bert, preset=preset, strategy="contrastive", out=tmp_path / "m",
                 pair_iterations=2, batch_size=8, seed=0, time_budget=None, read_options=OPTIONS)
    steps = math.ceil(2 * 2 * 24 / contrastive.PAIR_BATCH)  # 24 texts pooled: one positive, one negative a round
    assert clipped == [contrastive.MAX_GRAD_NORM] * steps
    # The sentence vectors are unit length, in the trained model and in the saved one.
    reviews = get_domain("nlp").read(data, options=OPTIONS)
    features = extract_features(run.model, reviews.items, 8).numpy().astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    assert tk.load(tmp_path / "m").backbone.normalize
    # The head is SetFit's: scikit-learn's default logistic regression on those vectors, every label.
    y = np.array([run.model.labels.index(label) for label in reviews.labels])
    expected = LogisticRegression(C=1.0, max_iter=3000).fit(features, y).predict_proba(features)
    here = run.model.predict(reviews.items)
    np.testing.assert_allclose([[p["scores"][k] for k in run.model.labels] for p in here], expected, atol=1e-4)
    chosen = [row for row in run.history if row.get("chosen")]
    assert [row["C"] for row in chosen] == [1.0]
