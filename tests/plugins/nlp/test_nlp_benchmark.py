"""The AG News benchmark's helpers: a reproducible split, and a docs section that leaves others alone."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("nlp_agnews", ROOT / "benchmarks" / "nlp_agnews.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_is_stratified_and_reproducible(bench, tmp_path):
    source = tmp_path / "ag.csv"
    rows = ["Class Index,Title,Description"] + [f"{1 + i % 4},title {i},text {i}" for i in range(40)]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    train, test = bench.make_splits(source, tmp_path / "a", seed=0)
    again, _ = bench.make_splits(source, tmp_path / "b", seed=0)
    assert train.read_text() == again.read_text()
    body = [line.split(",")[0] for line in train.read_text().splitlines()[1:]]
    assert sorted(body) == sorted(["1", "2", "3", "4"] * 5)
    assert len(test.read_text().splitlines()) == 21


def test_write_section_replaces_only_its_own_section(bench, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Vision: ants\n\nkeep me\n\n## NLP: AG News\n\nold table\n\n## Medical\n\nme too\n")
    bench.write_section(doc, "## NLP: AG News\n\nnew table\n")
    text = doc.read_text()
    assert "new table" in text and "old table" not in text
    assert "keep me" in text and "me too" in text and text.index("new table") < text.index("## Medical")
    fresh = tmp_path / "new.md"
    bench.write_section(fresh, "## NLP: AG News\n\nt\n")
    assert fresh.read_text().startswith("# Benchmarks\n\n## NLP: AG News")


def test_tfidf_baseline_learns_words(bench):
    texts = [f"{w} {i}" for i in range(6) for w in ("stocks shares market", "goal match team")]
    labels = ["biz", "sport"] * 6
    assert bench.tfidf_baseline(texts, labels, ["market stocks", "team goal"]) == ["biz", "sport"]


def test_kept_epoch_says_when_fine_tuning_never_won(bench):
    from types import SimpleNamespace

    plan = SimpleNamespace(strategy="freeze-unfreeze", train={"metric": "accuracy"},
                           groups=[SimpleNamespace(unfreeze_epoch=3)])
    history = [{"epoch": e, "val_accuracy": a} for e, a in enumerate([0.7, 0.8, 0.8, 0.8, 0.75])]
    assert bench.kept_epoch(history, plan) == "1 (head only)"
    history.append({"epoch": 5, "val_accuracy": 0.9})
    assert bench.kept_epoch(history, plan) == "5"


def _cell(accs, **extra):
    return {"seeds": [{"seed": s, "accuracy": a, "f1_macro": a - 0.01, "seconds": 60, "peak_rss_mib": 900, **extra}
                      for s, a in enumerate(accs)]}


def test_section_is_rendered_from_results_with_gaps_said(bench):
    results = {
        "meta": {"split_seed": 0, "n_test": 3800, "date": "2026-11-28", "machine": "x86_64", "sizes": ["32", "all"],
                 "commands": ["python benchmarks/nlp_agnews.py --sizes 32"]},
        "runs": {
            "32": {"n_pool": 3800, "tfidf": _cell([0.68, 0.70, 0.72]), "frozen": _cell([0.83, 0.83, 0.83]),
                   "fine-tuned": _cell([0.85, 0.86, 0.87], strategy="freeze-unfreeze", kept="6", auroc=0.96,
                                       n_test=3800, val_accuracy=0.9)},
            "all": {"n_pool": 3800, "fine-tuned": {"not_measured": "about 25 min a seed"}},
        },
    }
    text = bench.render(results)
    assert text.startswith(bench.SECTION + "\n")
    row = next(line for line in text.splitlines() if line.startswith("| 32 |"))
    assert "0.700 ± 0.020" in row and "**0.860 ± 0.010**" in row and "6; 6; 6" in row
    assert "| all (950) | not measured [1] |" in text  # no TF-IDF cell was run for "all": said, not blank
    assert "[1] not measured: not run." in text and "[2] not measured: about 25 min a seed." in text
    all_row = next(line for line in text.splitlines() if line.startswith("| all (950) |"))
    assert "**" not in all_row  # nothing to compare: no cell is marked best
    # The acceptance figure is the table's fine-tuned cell at 32, not a separately typed number.
    assert "held-out test accuracy **0.860 ± 0.010**" in text
    assert "validation accuracy (used for selection" in text


def test_fine_tuned_cell_is_the_plain_acceptance_command_at_32(bench):
    assert bench.strategy_for("32") is None and bench.strategy_for("all") is None
    assert bench.strategy_for("8") == "freeze-unfreeze"
