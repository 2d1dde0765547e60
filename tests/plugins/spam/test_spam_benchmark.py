"""benchmarks/spam.py renders its section from results.json only and replaces only its own section."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _script():
    spec = importlib.util.spec_from_file_location("spam_benchmark", ROOT / "benchmarks" / "spam.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


RESULTS = {
    "meta": {"commands": ["python benchmarks/spam.py"], "machine": "test machine", "date": "2026-01-01"},
    "runs": {
        "sms/tfidf": {"seeds": [
            {"seed": 0, "accuracy": 0.99, "spam_f1": 0.96, "auroc": 0.997, "fpr": 0.004, "seconds": 60},
            {"seed": 1, "accuracy": 0.98, "spam_f1": 0.93, "auroc": 0.995, "fpr": 0.006, "seconds": 70}]},
        "sms/minilm": {"not_measured": "too slow here"},
        "transfer/sms-enron/200/adapted": {"seeds": [{"seed": 0, "f1_macro": 0.91, "spam_f1": 0.87, "auroc": 0.98,
                                                      "fpr": 0.06}]},
        "speed/tfidf/sms": {"messages": 1000, "seconds": 2.0, "per_second": 500.0},
    },
}


def test_render_reports_every_cell_and_the_acceptance_verdict():
    text = _script().render(RESULTS)
    assert text.startswith("## Spam: SMS and Enron-Spam\n")
    assert "0.9850 ± 0.0071" in text  # accuracy over the two seeds
    assert "not measured (too slow here)" in text
    assert "NOT met on every seed" in text  # seed 1 misses spam F1 0.94
    assert "| 500 |" in text and "| 200 | adapted from generic | 1 |" in text


def test_write_section_replaces_only_the_spam_section(tmp_path):
    module = _script()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## NLP: AG News\n\nkeep\n\n## Spam: SMS and Enron-Spam\n\nold\n\n## Medical\n\nkeep too\n")
    from common import write_section  # benchmarks/ is on sys.path once the script is loaded

    write_section(doc, module.SECTION, module.render(RESULTS))
    text = doc.read_text()
    assert "\nold\n" not in text and "keep\n" in text and "keep too" in text and text.count("## Spam") == 1
