"""Run select / configure / train / load / predict on a plugin's domain, checking the contract on the way."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transferkit.core.data import Examples
from transferkit.core.specs import Preset


@dataclass
class RoundTrip:
    """What :func:`run_end_to_end` returns: each step's result, for the test's own assertions."""

    selection: Any  # transferkit.core.select.Selection
    result: Any  # transferkit.core.train.TrainResult (metrics, history, the trained model)
    loaded: Any  # the TransferModel read back from ``out`` (as `transferkit predict` would)
    predictions: list[dict[str, Any]]
    out: Path

    @property
    def metrics(self) -> dict[str, Any]:
        return self.result.metrics


def check_backbone(backbone: Any, inputs: Any) -> None:
    """Assert that ``backbone`` fulfils the Backbone contract on a batch of its own ``inputs``.

    Checked: ``forward`` returns ``[batch, feature_dim]``; every parameter belongs to exactly one of
    ``layer_groups()``; ``config()`` is JSON. Each failure says which rule is broken.

    Example:
        >>> import torch
        >>> from transferkit.testing import tiny_backbone
        >>> check_backbone(tiny_backbone(), torch.zeros(4, 8))
    """
    import torch

    backbone.eval()
    with torch.no_grad():
        features = backbone(inputs)
    batch = len(inputs) if not isinstance(inputs, dict) else len(next(iter(inputs.values())))
    assert tuple(features.shape) == (batch, backbone.feature_dim), (
        f"forward returned shape {tuple(features.shape)}, expected (batch={batch}, feature_dim={backbone.feature_dim})")
    owners: dict[int, int] = {}
    for index, group in enumerate(backbone.layer_groups()):
        for param in group.parameters():
            assert id(param) not in owners, f"a parameter is in layer groups {owners[id(param)]} and {index}"
            owners[id(param)] = index
    orphans = [name for name, param in backbone.named_parameters() if id(param) not in owners]
    assert not orphans, f"parameters in no layer group (the strategies could not freeze them): {orphans[:5]}"
    json.dumps(backbone.config())  # raises TypeError on a value rebuild_backbone could not read back


def run_end_to_end(
    domain: str,
    data: "str | Path | Examples",
    *,
    out: str | Path,
    preset: "str | Path | Preset | None" = None,
    model: str | Path | None = None,
    strategy: str | None = None,
    items: list[Any] | None = None,
    read_options: dict[str, Any] | None = None,
    **train_overrides: Any,
) -> RoundTrip:
    """Select, configure, train, save, load and predict with ``domain`` on ``data``, as the CLI does.

    Uses the process-wide registry (wrap the call in :func:`~transferkit.testing.isolated_registry`).
    Checks the backbone contract on a real batch and that the model read back from ``out`` predicts
    what the trained model predicted (a ``config()`` / ``rebuild_backbone`` pair that loses something
    fails here). ``items`` to predict default to the first four training items.

    Example:
        >>> from transferkit.testing import isolated_registry, tiny_examples, tiny_plugin
        >>> with isolated_registry(tiny_plugin):  # doctest: +SKIP
        ...     run = run_end_to_end("tiny", tiny_examples(), out="/tmp/tiny-model", epochs=2)
        >>> run.predictions[0]["label"]  # doctest: +SKIP
        'a'
    """
    from transferkit.core.artifact import load
    from transferkit.core.configure import configure
    from transferkit.core.evaluate import predict, predict_proba
    from transferkit.core.seeding import seed_all
    from transferkit.core.select import select
    from transferkit.core.train import read_data, train

    seed_all(int(train_overrides.get("seed", 0)))
    selection = select(domain, model, preset)
    examples = data if isinstance(data, Examples) else read_data(selection.domain, data, options=read_options)
    sample = [selection.domain.dataset(selection.backbone, examples.items[:2], None, selection.preset, train=False)[i]
              for i in range(min(2, len(examples)))]
    inputs, _ = selection.domain.collate(sample)
    check_backbone(selection.backbone, inputs)
    counts = examples.counts()
    tk_model = configure(selection, sorted(counts), strategy=strategy, min_per_class=min(counts.values()),
                         **train_overrides)
    result = train(tk_model, examples, out=out, read_options=read_options)
    loaded = load(out)
    chosen = list(items) if items is not None else examples.items[:4]
    before, after = predict_proba(result.model, chosen), predict_proba(loaded, chosen)
    assert np.allclose(before, after, atol=1e-5), (
        "the model read back from disk predicts differently from the trained one: check that config() records "
        "everything rebuild_backbone needs and that the domain's preprocessing is deterministic at train=False")
    return RoundTrip(selection=selection, result=result, loaded=loaded, predictions=predict(loaded, chosen),
                     out=Path(out))
