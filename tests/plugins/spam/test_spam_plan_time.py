"""The plan of a TF-IDF model under a time budget: nothing is timed (there is no network), and the plan says so."""
from __future__ import annotations

import pytest

import transferkit as tk
from transferkit.core.data import Examples
from transferkit.core.progress import Reporter

pytestmark = pytest.mark.real_data


def test_a_tfidf_plan_times_nothing_and_says_what_happens_instead(spam_registry, sms_rows):
    import io

    hams = [r for r in sms_rows if r[0] == "ham"][:30]
    spams = [r for r in sms_rows if r[0] == "spam"][:30]
    rows = hams + spams
    data = Examples([text for _, text in rows], [label for label, _ in rows], "sms-slice")
    log = io.StringIO()
    plan = tk.fit("spam", data, preset="spam/sms", model="spam/tfidf-linear", time_budget="15m", dry_run=True,
                  progress=Reporter("plain", stream=log))
    assert "timing" not in log.getvalue(), log.getvalue()  # no "timing a few training steps" for no network
    assert plan.estimate["seconds"] is None
    text = plan.render()
    section = text[text.index("Expected time"):]
    assert "not estimated" in section and "no network" in section, text
