"""Long steps outside the training loop are never silent in a log: feature extraction, scoring and a single
scikit-learn fit write how far they are (or how long they have run) at most every interval."""
from __future__ import annotations

import io
import threading

import toy_plugin

import transferkit as tk
from transferkit.core.progress import Reporter, Task, advance


def _lines_until(log: io.StringIO, text: str) -> list[str]:
    for _ in range(20_000):  # the heartbeat thread writes within milliseconds; this only bounds a broken one
        lines = [line for line in log.getvalue().splitlines() if text in line]
        if lines:
            return lines
        threading.Event().wait(0.001)
    return []


def test_a_long_step_writes_a_line_every_interval_until_it_ends():
    log = io.StringIO()
    reporter = Reporter("plain", log, interval=0)
    with reporter.working("fitting the model", announce=False) as task:
        beats = _lines_until(log, "fitting the model: still running")
        task.total = 10
        advance(4)
        counted = _lines_until(log, "4 of 10 done")
    assert beats and counted and "left" in counted[0]
    assert not [t for t in threading.enumerate() if t.name == "transferkit-progress"]  # the thread ended with it
    assert advance(3) is None and task.done == 4  # outside the step nothing counts
    quiet = io.StringIO()
    with Reporter("none", quiet, interval=0).working("scoring", total=5):
        advance(5)
    assert quiet.getvalue() == ""


def test_batched_inference_counts_its_items_for_the_progress_lines(toy_registry):
    from transferkit.core.evaluate import predict_proba
    from transferkit.core.features import extract_features

    data = toy_plugin.make_blobs(10, seed=1)
    model = tk.configure(tk.select("toy"), ["a", "b"], strategy="linear-probe")
    reporter = Reporter("plain", io.StringIO())
    with reporter.working("scoring", total=len(data)) as task:
        predict_proba(model, data.items, batch_size=3)
    assert task.done == len(data)
    with reporter.working("features", total=len(data)) as task:
        extract_features(model, data.items, 4)
    assert task.done == len(data)


class _Recording(Reporter):
    def __init__(self) -> None:
        super().__init__("plain", io.StringIO())
        self.steps: list[tuple[str, int | None]] = []

    def working(self, what, *, total=None, announce=True):
        self.steps.append((what, total))
        return super().working(what, total=total, announce=announce)


def test_training_follows_features_the_probe_fit_and_scoring(toy_registry):
    train, test = toy_plugin.make_blobs(12, seed=1), toy_plugin.make_blobs(4, seed=2)
    reporter = _Recording()
    tk.fit("toy", train, test=test, strategy="linear-probe", progress=reporter, time_budget=None)
    steps = dict(reporter.steps)
    features = next(what for what in steps if what.startswith("computing features"))
    assert steps[features] == len(train)  # train + validation: the validation split is carved from train
    assert any(what.startswith("fitting the linear probe") for what in steps)
    assert steps[f"scoring the test data ({len(test)} examples)"] == len(test)
    assert any("own fit" in what for what in steps)  # a domain's own fit (spam: TF-IDF) is followed too
    assert Task("x").status().startswith("x: still running")
