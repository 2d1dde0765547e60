"""The plan says once, and rightly, how a linear probe chooses C: its "Training" section said "by cross-validation
on train+val" (under 50 validation examples, as train.py's _fit_linear_probe does) while its "Expected time"
line said "C chosen on validation" for the same run."""
from __future__ import annotations

import re

import pytest
import toy_plugin

pytest.importorskip("transferkit.core.train")


def _section(text: str, title: str) -> str:
    return re.search(rf"^{title}\n(.*?)(?=^\S|\Z)", text, re.S | re.M).group(1)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _probe_plan(per_class: int) -> str:
    import transferkit as tk

    # A real time budget: budget.py times the toy model and writes the estimate the plan renders.
    plan = tk.fit("toy", toy_plugin.make_blobs(per_class), strategy="linear-probe", dry_run=True, time_budget="10m")
    assert plan.estimate and plan.estimate.get("how")
    return plan.render()


def test_a_small_validation_set_is_said_once_to_choose_c_by_cross_validation(toy_registry):
    text = _probe_plan(10)  # 4 validation examples
    assert "C chosen by cross-validation on train+val accuracy" in _flat(_section(text, "Training"))
    assert "features computed once" in _flat(_section(text, "Expected time"))
    assert "chosen on validation" not in _flat(text)


def test_a_large_validation_set_is_said_to_choose_c_on_validation(toy_registry):
    from transferkit.core.train import SMALL_VALIDATION

    text = _probe_plan(SMALL_VALIDATION * 3)  # two classes, 20% of each held out for validation
    assert int(re.search(r"validation\s+(\d+) examples", text).group(1)) >= SMALL_VALIDATION
    assert "C chosen on validation accuracy" in _flat(_section(text, "Training"))
    assert "cross-validation" not in _flat(text)
    assert _flat(text).count("C chosen") == 1


def test_a_saved_plan_with_the_old_time_wording_reads_the_same():
    from transferkit.core.plan_text import time_how

    old = ("timed up to 16 examples; features computed once, then one fit of the logistic regression (C chosen on "
           "validation); budget 10.0 min")
    assert time_how(old) == ("timed up to 16 examples; features computed once, then one fit of the logistic "
                             "regression; budget 10.0 min")
    assert time_how("timed 8 steps on cpu") == "timed 8 steps on cpu"
