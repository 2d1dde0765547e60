"""The benchmark scripts' logic, without running a benchmark: selection by CV, figures rendered from results JSON.

What matters here is what makes the published figures honest: the candidate that wins on cross-validation
is the one chosen, the docs section is written from saved results only (mean ± sd over seeds, "not
measured" where a cell was not run), and writing one section leaves the others byte for byte.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def common():
    return _load("common")


@pytest.fixture(scope="module")
def selection():
    return _load("selection")


# ----------------------------------------------------------------------------- common
def test_mean_sd_and_cells(common):
    assert common.mean_sd([0.8, 0.9, 1.0]) == (0.9, 0.1)
    run = {"seeds": [{"auroc": 0.90, "seconds": 30, "peak_rss_mib": 800},
                     {"auroc": 0.94, "seconds": 90, "peak_rss_mib": 1200}]}
    assert common.cell(run, "auroc") == "0.920 ± 0.028"
    assert common.time_cell(run) == "1.0 min, 1200 MiB"
    gap = common.not_measured("3 seeds take 2 h on this CPU")
    assert common.cell(gap, "auroc") == "not measured (3 seeds take 2 h on this CPU)"
    assert common.time_cell(gap) == "-"
    assert common.fmt([0.5]) == "0.500 (1 seed)"  # one seed is never passed off as a spread


def test_run_command_measures_the_child(common, tmp_path):
    # A child that allocates ~200 MiB must report at least that much peak memory, and its exit code.
    code = "import sys; b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); sys.exit(3)"
    usage = common.run_command([sys.executable, "-c", code], tmp_path / "log")
    assert usage["returncode"] == 3
    assert usage["peak_rss_mib"] >= 190
    assert usage["seconds"] > 0


def test_run_json_reads_the_printed_object_after_other_output(common, tmp_path):
    code = "print('loading {weights}'); import json; print(json.dumps({'a': {'b': 1}}, indent=2))"
    data, usage = common.run_json([sys.executable, "-c", code], tmp_path / "log")
    assert data == {"a": {"b": 1}} and usage["returncode"] == 0
    with pytest.raises(RuntimeError, match="exited with 1"):
        common.run_json([sys.executable, "-c", "raise SystemExit(1)"], tmp_path / "log")


def test_write_section_keeps_other_sections_byte_for_byte(common, tmp_path):
    doc = tmp_path / "benchmarks.md"
    before = "# Benchmarks\n\nintro  \n\n## A\n\nold a\n\n## Spam\n\nspam table | x |\n"
    doc.write_text(before)
    common.write_section(doc, "## A", "## A\n\nnew a\n")
    assert doc.read_text() == before.replace("old a", "new a")
    common.write_section(doc, "## B", "## B\n\nb\n")  # a new section is appended
    assert doc.read_text().endswith("spam table | x |\n\n## B\n\nb\n")
    with pytest.raises(ValueError):
        common.write_section(doc, "## A", "## Other\n")


def test_results_can_be_built_in_parts(common, tmp_path):
    path = tmp_path / "results.json"
    first = common.start_results(path, False, {"commands": ["python x.py --stages select"]})
    first["selection"] = {"best": "a"}
    common.save_results(path, first)
    again = common.start_results(path, True, {"commands": ["python x.py --reuse"]})
    assert again["selection"] == {"best": "a"}
    assert common.commands_text(again["meta"]) == "`python x.py --stages select`, then `python x.py --reuse`"
    assert "selection" not in common.start_results(path, False, {"commands": ["c"]})
    # Results saved by a selection-only run (no "runs" yet) can take runs when reused.
    common.save_results(path, {"meta": {"commands": ["s"]}, "selection": {}})
    assert common.start_results(path, True, {"commands": ["r"]})["runs"] == {}


# ----------------------------------------------------------------------------- selection
def test_combine_is_what_the_backbone_computes(selection):
    # MedicalEfficientNetLite applies the signed square root to each scale's features, then averages.
    import torch

    a, b = np.array([[4.0, -9.0]]), np.array([[16.0, 1.0]])
    expected = (torch.sign(torch.tensor(a)) * torch.sqrt(torch.tensor(a).abs())
                + torch.sign(torch.tensor(b)) * torch.sqrt(torch.tensor(b).abs())) / 2
    got = selection.combine({224: a, 288: b}, [224, 288], sqrt=True)
    assert np.allclose(got, expected.numpy())
    assert np.allclose(selection.combine({224: a, 288: b}, [288], sqrt=False), b)


def test_nested_cv_picks_the_informative_candidate(selection):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    informative = rng.normal(size=(60, 4)) + 1.5 * y[:, None]
    noise = rng.normal(size=(60, 4))
    best, scores = selection.select_candidate(
        {"noise": lambda: noise, "informative": lambda: informative}, y, metric="auroc", log=lambda s: None,
        folds=3, repeats=1, inner_folds=3, grid=[0.01, 1.0])
    assert best == "informative"
    assert scores["informative"]["mean"] > 0.9 > scores["noise"]["mean"] + 0.2
    assert len(scores["noise"]["fold_scores"]) == 3 and len(scores["noise"]["chosen_C"]) == 3


def test_ties_go_to_the_first_candidate(selection):
    y = np.repeat([0, 1], 12)
    x = np.c_[y, y].astype(float)
    best, _ = selection.select_candidate({"simple": lambda: x, "complex": lambda: x.copy()}, y, metric="accuracy",
                                         log=lambda s: None, folds=3, repeats=1, inner_folds=2, grid=[1.0])
    assert best == "simple"


def test_choose_c_uses_only_the_data_it_is_given(selection):
    # With labels that are pure noise the inner CV still returns a value from the grid (no test data involved).
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 3)), np.repeat([0, 1], 15)
    assert selection.choose_c(x, y, metric="auroc", grid=[0.1, 1.0], folds=3, balanced=True, seed=0) in (0.1, 1.0)


# ----------------------------------------------------------------------------- medical
def _medical_results(best: str = "224 px, raw", shipped: str = "224 px, raw") -> dict:
    seeds = [{"seed": s, "auroc": 0.90 + 0.01 * s, "auroc_ci95": [0.85, 0.95], "accuracy_argmax": 0.85,
              "accuracy": 0.8, "sensitivity": 0.9, "specificity": 0.7, "n_test": 156, "val_auroc": 0.93,
              "seconds": 120, "peak_rss_mib": 1500} for s in range(3)]
    scores = {name: {"mean": 0.88 if name != best else 0.90, "sd": 0.03} for name in
              ["224 px, raw", "224+288 px, sqrt"]}
    return {"meta": {"preset_choice": shipped, "date": "2026-11-28", "machine": "x86_64",
                     "commands": ["python benchmarks/medical_breastmnist.py --seeds 0,1,2"]},
            "selection": {"n": {"train": 546, "val": 78}, "cv": {"folds": 5, "repeats": 3, "inner_folds": 3},
                          "scores": scores, "best": best},
            "runs": {"preset": {"seeds": seeds}, "scratch": {"not_measured": "100 epochs x 3 seeds: hours"}}}


def test_medical_section_is_rendered_from_results(tmp_path):
    bench = _load("medical_breastmnist")
    text = bench.render(_medical_results())
    assert text.startswith(bench.SECTION + "\n")
    assert "| 224 px, raw (chosen) | 0.900 ± 0.030 |" in text
    assert "figures used for selection" in text
    assert "**0.910 ± 0.010**" in text  # test AUROC over seeds 0.90, 0.91, 0.92
    assert "not measured (100 epochs x 3 seeds: hours)" in text
    assert "the CV winner" in text and "update the preset" not in text
    # A preset that is not the CV winner is called out, never silently published.
    stale = bench.render(_medical_results(best="224 px, raw", shipped="224+288 px, sqrt"))
    assert "not the CV winner (224 px, raw); update the preset" in stale
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(_medical_results()))
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Spam\n\nkeep\n")
    assert bench.main(["--render-only", "--results", str(saved), "--doc", str(doc)]) == 0
    assert "## Spam\n\nkeep\n" in doc.read_text() and "(chosen)" in doc.read_text()


def test_medical_candidates_cover_the_shipped_preset():
    bench = _load("medical_breastmnist")
    assert bench.preset_choice() in bench.CANDIDATES
    assert list(bench.CANDIDATES)[0] == "224 px, raw"  # the simplest first: it wins ties


# ----------------------------------------------------------------------------- spam
def _spam_results():
    corpus = lambda acc, f1: {"seeds": [{"seed": s, "accuracy": acc + s / 1000, "spam_f1": f1, "auroc": 0.99,  # noqa: E731
                                         "fpr": 0.002 * (s + 1), "seconds": 6} for s in range(3)]}
    transfer = lambda f1s: {"seeds": [{"seed": s, "f1_macro": f, "spam_f1": f, "auroc": 0.97, "fpr": 0.0,  # noqa: E731
                                       "carry": {"carry": "replay", "strength": 0.3, "cv_roc_auc": 0.9}}
                                      for s, f in enumerate(f1s)]}
    return {"meta": {"date": "2026-11-29", "machine": "x86_64", "commands": ["python benchmarks/spam.py"]},
            "runs": {"sms/tfidf": corpus(0.99, 0.96), "sms/minilm": corpus(0.97, 0.90),
                     "enron/tfidf": corpus(0.98, 0.97),
                     "enron/minilm": {"not_measured": "no time"},
                     "transfer/enron-sms/200/adapted": transfer([0.90, 0.80, 0.85]),
                     "transfer/enron-sms/200/alone": {"seeds": [{**row, "f1_macro": 0.84} for row in
                                                                transfer([0, 0, 0])["seeds"]]},
                     "speed/tfidf/sms": {"messages": 1000, "seconds": 0.5, "per_second": 2000.0},
                     "generic/enron": {"messages": 5172, "megabytes": 8.0,
                                       "files": {"model.safetensors": 3_400_000, "generic_sample.npz": 4_550_000,
                                                 "transferkit.json": 50_000}}}}


def test_spam_guide_figures_are_rendered_from_the_results(tmp_path):
    bench = _load("spam")
    text = bench.render_guide(_spam_results())
    assert text.startswith("## Figures\n")
    assert "| SMS Spam Collection, `spam/sms` | `spam/tfidf-linear` | 0.991 ± 0.001 | 0.960 ± 0.000 |" in text
    assert "not measured (no time)" in text  # a gap says why, in the guide as in benchmarks.md
    assert "met on every seed" in text and "(0.20% to 0.60%)" in text
    assert "2,000 SMS a second for `spam/tfidf-linear`" in text
    assert "Enron-Spam mailbox 1 8.0 MB (`generic_sample.npz` 4.5 MB, `model.safetensors` 3.4 MB)" in text
    assert "| replay s=0.3, replay s=0.3, replay s=0.3 | 0.900 / 0.840, 0.800 / 0.840, 0.850 / 0.840 (2 of 3) |" in text
    saved, doc, guide = tmp_path / "spam.json", tmp_path / "benchmarks.md", tmp_path / "spam.md"
    saved.write_text(json.dumps(_spam_results()))
    guide.write_text("# Spam\n\n## Throughput\n\nkeep\n\n## Figures\n\nold 0.5\n")
    assert bench.main(["--render-only", "--results", str(saved), "--doc", str(doc), "--guide", str(guide)]) == 0
    written = guide.read_text()
    assert "## Throughput\n\nkeep\n\n## Figures\n\nWritten by `benchmarks/spam.py`" in written
    assert "old 0.5" not in written and "## Spam: SMS and Enron-Spam" in doc.read_text()


# ----------------------------------------------------------------------------- vision
def test_vision_test_split_is_carved_from_train_reproducibly(tmp_path):
    bench = _load("vision_hymenoptera")
    src = tmp_path / "src"
    for c in ("ants", "bees"):
        (src / "train" / c).mkdir(parents=True)
        for i in range(10):
            (src / "train" / c / f"{c}{i}.jpg").write_bytes(b"x")
    (src / "val" / "ants").mkdir(parents=True)
    (src / "val" / "ants" / "v.jpg").write_bytes(b"x")
    assert bench.carve_test(src, tmp_path / "a") == {"train": 16, "test": 4}
    bench.carve_test(src, tmp_path / "b")
    listing = lambda root: sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg"))  # noqa: E731
    assert listing(tmp_path / "a") == listing(tmp_path / "b")
    test = listing(tmp_path / "a" / "data" / "test")
    assert len([t for t in test if t.startswith("ants/")]) == 2  # stratified: a quarter of each class
    assert not any("v.jpg" in t for t in listing(tmp_path / "a"))  # validation images never land in the test
    train = set(p.name for p in (tmp_path / "a" / "data" / "train").rglob("*.jpg"))
    assert train.isdisjoint(p.name for p in (tmp_path / "a" / "data" / "test").rglob("*.jpg"))


def test_vision_section_labels_selection_and_test_figures():
    bench = _load("vision_hymenoptera")
    results = {
        "meta": {"split": {"train": 183, "test": 61}, "split_seed": 0, "preset_resolution": 288,
                 "date": "2026-11-28", "machine": "x86_64", "commands": ["python benchmarks/vision_hymenoptera.py"]},
        "selection": {"pool": {"train (carved)": 182, "val": 153}, "cv": {"folds": 5, "repeats": 2, "inner_folds": 3},
                      "scores": {"224 px": {"mean": 0.95, "sd": 0.02}, "288 px": {"mean": 0.96, "sd": 0.02}},
                      "best": "288 px"},
        "runs": {"preset": {"seeds": [{"seed": s, "accuracy": 0.95, "f1_macro": 0.95, "auroc": 0.99, "n_test": 61,
                                       "val_accuracy": 0.97, "seconds": 200, "peak_rss_mib": 1000}
                                      for s in range(3)]}},
    }
    text = bench.render(results)
    assert "| 288 px (chosen) | 0.960 ± 0.020 |" in text
    assert "**0.950 ± 0.000**" in text and "| 0, 1, 2 |" in text
    assert "update the preset" not in text
    results["meta"]["preset_resolution"] = 224
    assert "differs from the CV winner (288 px)" in bench.render(results)
    del results["runs"]["preset"]
    assert "not measured (not run)" in bench.render(results)


@pytest.mark.parametrize("name", ["common", "selection", "vision_hymenoptera", "nlp_agnews", "speed", "budget_presets", "spam"])
def test_docstring_examples_run(name):
    import doctest

    import importlib

    sys.path.insert(0, str(BENCH))
    # The imported module (the one sys.modules holds): doctest only collects objects of that module.
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
