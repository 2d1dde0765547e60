"""The real all-MiniLM-L6-v2 on a slice of the real AG News: transfer must beat chance by far."""
from __future__ import annotations

import pytest

import transferkit as tk
from transferkit.core.data import sample_per_class


@pytest.mark.real_data
@pytest.mark.real_weights
@pytest.mark.slow
def test_minilm_linear_probe_on_an_ag_news_slice(nlp_registry, minilm, ag_news):
    from transferkit.core.select import get_domain

    articles = get_domain("nlp").read(ag_news)
    train = sample_per_class(articles, 16, seed=0)
    chosen = set(map(str, train.items))
    rest = articles.subset([i for i, text in enumerate(articles.items) if text not in chosen])
    test = sample_per_class(rest, 40, seed=1)
    run = tk.fit("nlp", train, strategy="linear-probe")
    assert run.model.plan.strategy == "linear-probe" and run.model.backbone.pooling == "mean"
    scored = tk.evaluate(run.model, test)
    # 4 balanced classes: chance is 0.25; frozen MiniLM features with 13 labels a class reach about 0.8.
    assert scored["n"] == 160 and scored["accuracy"] >= 0.7, scored["accuracy"]
