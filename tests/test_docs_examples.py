"""The worked example of each domain guide shows output in the current layout: the plan block has the sections
the plan renderer writes today, in its order, and the result block is what `transferkit train` prints now.

The blocks are written by benchmarks/worked_examples.py from real runs; this test renders no model of its own
beyond a toy plan (no training), so a change of the renderer or of the results lines fails here until the
script has been run again and the guides hold the new layout.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import toy_plugin

ROOT = Path(__file__).resolve().parents[1]
GUIDES = {"vision": "docs/vision.md", "nlp": "docs/nlp.md", "medical": "docs/medical.md", "spam": "docs/spam.md"}


def _worked_examples():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("worked_examples", ROOT / "benchmarks" / "worked_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while the module runs
    spec.loader.exec_module(module)
    return module


EXAMPLES = _worked_examples().EXAMPLES


def section(domain: str) -> str:
    """The guide's worked-example section (its heading up to the next '## ' line)."""
    text = (ROOT / GUIDES[domain]).read_text(encoding="utf-8")
    heading = EXAMPLES[domain].heading
    assert heading in text.splitlines(), f"{GUIDES[domain]} has no section {heading!r}"
    return re.search(rf"^{re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M).group(1)


def text_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```text\n(.*?)^```", markdown, flags=re.M | re.S)


def headings(plan_text: str) -> list[str]:
    """The section titles of a rendered plan: its lines at column 0 (rows and items are indented)."""
    return [line for line in plan_text.splitlines() if line and not line.startswith((" ", "[transferkit "))]


@pytest.fixture
def renderer_layout(toy_registry):
    """The renderer's titles, in order: those every plan has, and all of them (a plan with every optional part)."""
    import transferkit as tk

    plan = tk.fit("toy", toy_plugin.make_blobs(10), dry_run=True, time_budget="none", holdout_test=0.2)
    plan.preprocessing, plan.notes, plan.estimate = [], [], None
    always = headings(plan.render())
    plan.preprocessing, plan.notes = ["resized"], ["a note"]
    plan.estimate = {"seconds": 60.0, "how": "timed"}
    return always, headings(plan.render())


@pytest.mark.parametrize("domain", GUIDES)
def test_the_plan_in_each_guide_has_the_renderers_sections(domain, renderer_layout):
    always, every = renderer_layout
    assert always[0] == "Transfer plan" and "Data" in always and "Decision" in always  # the renderer's own layout
    plans = [block for block in text_blocks(section(domain)) if "\nTransfer plan\n" in f"\n{block}"]
    assert len(plans) == 1, f"{GUIDES[domain]}: expected one plan block in the worked example"
    shown = headings(plans[0])
    missing = [title for title in always if title not in shown]
    assert not missing, f"{GUIDES[domain]}: the plan lacks {missing}: run python benchmarks/worked_examples.py"
    positions = [every.index(title) if title in every else -1 for title in shown]
    assert -1 not in positions and positions == sorted(positions), (
        f"{GUIDES[domain]}: plan sections {shown} are not the renderer's {every}: "
        f"run python benchmarks/worked_examples.py --domains {domain}")


@pytest.mark.parametrize("domain", GUIDES)
def test_the_result_in_each_guide_is_what_train_prints_now(domain):
    from transferkit.cli import _results_lines
    from transferkit.core.metrics import SPLIT_LABELS

    result = next(block for block in text_blocks(section(domain)) if block.startswith("Results\n"))
    shown = result.splitlines()
    names = {label: split for split, label in SPLIT_LABELS.items()}
    metrics = {}
    for line in shown[2:]:
        match = re.match(r"^  (.+?)\s+([\d,]+)\s+([\d.]+)\s+([\d.]+)\s+(n/a|[\d.]+)$", line)
        if not match:
            break
        label, n, accuracy, f1, auroc = match.groups()
        metrics[names[label]] = {"n": int(n.replace(",", "")), "accuracy": float(accuracy), "f1_macro": float(f1),
                                 "auroc": None if auroc == "n/a" else float(auroc)}
    assert metrics, f"{GUIDES[domain]}: no figures under 'Results'"
    expected = _results_lines(metrics)
    assert shown[: len(expected)] == expected  # the same title, columns and alignment as the CLI today
    assert all(len(line) <= 80 for line in expected)
    assert any(line.startswith("model written to ") for line in shown[len(expected):])


@pytest.mark.parametrize("domain", GUIDES)
def test_each_guide_shows_the_commands_the_script_runs(domain):
    text = section(domain)
    for command in EXAMPLES[domain].commands:
        assert command in text, f"{GUIDES[domain]} does not show {command!r}"
    assert "benchmarks.md" in text and "illustration" in text  # single-run figures are labelled as such
