"""The compare page's verdict per budget never hides a classic baseline that beat transfer.

A user read "transfer better by 0.243 (0.743 against 0.500 from scratch)" while TF-IDF + logistic
regression had scored 0.7997 at the same budget.
"""
from __future__ import annotations

import re

import pytest

pytest.importorskip("matplotlib")


def _rows(scores: dict[str, list[float]], budget: int = 16) -> list[dict]:
    return [{"method": method, "per_class": budget, "seed": seed, "n_train": 2 * budget, "test_metric": value,
             "val_metric": value, "train_metric": value, "wall_s": 1.0, "epochs": []}
            for method, values in scores.items() for seed, value in enumerate(values)]


def _verdicts(scores: dict[str, list[float]]) -> list[str]:
    from transferkit.core.html_report import render_compare_report

    page = render_compare_report({"domain": "spam", "data": "sms", "preset": "spam/sms", "metric": "f1_macro",
                                  "seeds": len(scores["transfer"]), "rows": _rows(scores)})
    return re.findall(r'<span class="verdict">([^<]+)</span>', page)


def test_a_classic_baseline_above_transfer_is_named_in_the_verdict():
    found = _verdicts({"transfer": [0.743], "scratch": [0.5], "classic": [0.7997], "majority": [0.45]})
    assert found == ["transfer better by 0.243 (0.743 against 0.500 from scratch); one seed, so the spread is "
                     "unmeasured; the classic baseline scored higher (0.800)"]


def test_a_classic_baseline_below_transfer_leaves_the_verdict_as_it_was():
    from transferkit.core.html_report import verdict

    assert _verdicts({"transfer": [0.9, 0.92], "scratch": [0.6, 0.65], "classic": [0.7, 0.72]}) == [
        "transfer better by 0.285 (0.910 against 0.625 from scratch)"]
    assert verdict([0.9, 0.92], [0.6, 0.65]) == verdict([0.9, 0.92], [0.6, 0.65], [0.7, 0.72])
    assert verdict([0.9], [0.6], []) == verdict([0.9], [0.6])  # no classic row (its inputs could not be read)


def test_the_classic_clause_keeps_every_transfer_against_scratch_sentence():
    from transferkit.core.html_report import verdict

    within = verdict([0.80, 0.70, 0.90], [0.78, 0.68, 0.88], [0.95, 0.94, 0.96])
    assert within.startswith("no clear difference") and within.endswith("the classic baseline scored higher (0.950)")
    worse = verdict([0.60, 0.61], [0.80, 0.81], [0.70, 0.71])
    assert worse.startswith("scratch better by 0.200") and worse.endswith("(0.705)")
    # Higher on the mean but within the seed spread: still named, and the spread said.
    close = verdict([0.80, 0.70, 0.90], [0.50, 0.51, 0.52], [0.82, 0.72, 0.92])
    assert close.endswith("the classic baseline scored higher (0.820, within the seed spread)")
    assert verdict([], [0.5], [0.9]) == "no verdict: transfer has no result at this budget"
    assert verdict([0.7], [], [0.9]) == ("no verdict: scratch has no result at this budget; the classic baseline "
                                         "scored higher (0.900)")
