"""Epochs are numbered from 1 everywhere a person reads them: the console's progress lines ("epoch 1/10"), the
training notes and model card ("restored the best epoch (epoch 6, ...)"), curves.png and report.html.

The stored history keeps Lightning's 0-based ``current_epoch``; only what is shown counts from 1.
"""
from __future__ import annotations

import re

import pytest

pytest.importorskip("matplotlib")


def _history(scores: list[float]) -> list[dict]:
    """A run's stored history: epochs 0, 1, ... as Lightning counts them."""
    return [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 0.5, "val_accuracy": s, "elapsed_s": float(e)}
            for e, s in enumerate(scores)]


def _run_page(history: list[dict], notes: list[str]) -> str:
    from transferkit.core.html_report import render_run_report

    meta = {"domain": "toy", "labels": ["a", "b"], "metrics": {}, "notes": notes,
            "plan": {"train": {"metric": "accuracy"}}}
    return render_run_report(meta, history, {})


def _curves_table(page: str) -> list[list[str]]:
    section = re.search(r"<h2>Learning curves</h2>(.*?)</section>", page, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", section, re.S).group(1)
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_curves_figure_numbers_epochs_from_1_like_the_console():
    from transferkit.core.report import curves_figure

    # Ten epochs, the best the sixth: the console and the card say "restored the best epoch (epoch 6, ...)".
    fig = curves_figure(_history([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.9, 0.9, 0.8, 0.8]), "accuracy")
    for ax in fig.axes:
        drawn = [line for line in ax.get_lines() if not line.get_label().startswith("chosen")]
        assert drawn and all(list(line.get_xdata()) == list(range(1, 11)) for line in drawn)
        marks = [line for line in ax.get_lines() if line.get_label() == "chosen epoch = 6"]
        assert len(marks) == 1 and list(marks[0].get_xdata()) == [6, 6]
        assert ax.get_xlim() == (0.5, 10.5)


def test_report_html_names_the_same_epoch_as_the_training_note():
    note = "restored the best epoch (epoch 6, val_score 1.0000)"  # train.py's note: keeper.epoch + 1
    page = _run_page(_history([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.9, 0.9, 0.8, 0.8]), [note])
    assert "the dashed line marks the epoch kept (chosen epoch = 6)." in page
    rows = _curves_table(page)
    assert [row[0] for row in rows] == [str(e) for e in range(1, 11)]
    assert [row[0] for row in rows if row[-1] == "chosen"] == ["6"]
    assert note in page


def test_a_one_epoch_run_shows_epoch_1_not_epoch_0():
    page = _run_page(_history([0.75]), ["restored the best epoch (epoch 1, val_score 0.7500)"])
    assert "(chosen epoch = 1)" in page and "chosen epoch = 0" not in page
    assert [row[0] for row in _curves_table(page)] == ["1"]


def test_a_linear_probes_c_is_shown_as_it_is():
    # Rows of C carry no epoch: their axis and table keep the C values.
    from transferkit.core.report import curves_figure

    probe = [{"C": c, "val_accuracy": 0.6, "val_loss": 0.4, "train_loss": None, "chosen": c == 0.1}
             for c in (0.01, 0.1, 1.0)]
    page = _run_page(probe, [])
    assert "(chosen C = 0.1)" in page
    assert [row[0] for row in _curves_table(page)] == ["0.0100", "0.1000", "1.0000"]
    marks = [line for line in curves_figure(probe, "accuracy").axes[1].get_lines()
             if line.get_label() == "chosen C = 0.1"]
    assert list(marks[0].get_xdata()) == [0.1, 0.1]


def test_the_stored_history_stays_0_based():
    # metrics.json and checkpoints keep Lightning's count; only the display converts.
    from transferkit.core.report import shown_epoch

    history = _history([0.5, 0.6])
    assert [shown_epoch(row, i) for i, row in enumerate(history)] == [1, 2]
    assert [row["epoch"] for row in history] == [0, 1]
