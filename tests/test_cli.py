"""The command line: listing without torch, error messages and exit codes, a real train/evaluate/predict."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import toy_plugin

from cli_run import run_cli  # tests/ is on the path (tests/conftest.py)


def test_listing_commands_import_no_deep_learning_framework():
    # Start-up is part of the interface: `--help` and the --json listings print no Rich output, so they must
    # not import Rich (about 30 ms); the tables do, and still import no deep-learning framework.
    code = (
        "import sys; from transferkit.cli import main\n"
        "def run(args):\n"
        "    try: main(args)\n"
        "    except SystemExit: pass\n"
        "for args in (['--help'], ['domains', '--json'], ['plugins', '--json'], ['presets', '--json'],\n"
        "             ['models', '--json']):\n"
        "    run(args)\n"
        "assert 'rich' not in sys.modules, 'Rich imported by --help or a --json listing'\n"
        "run(['domains'])\n"
        "heavy = [m for m in ('torch', 'lightning', 'transformers', 'monai') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_domains_and_help_import_neither_pydantic_nor_a_deep_learning_framework():
    # The issue #12 target: `transferkit domains` under 0.3 s. Importing pydantic was half of it, through the
    # records (core/specs.py), the preset files read at registration, and Typer's coercion of an unset --help.
    code = (
        "import sys; from transferkit.cli import main\n"
        "def run(args):\n"
        "    try: main(args)\n"
        "    except SystemExit as stop: assert not stop.code, (args, stop.code)\n"
        "for args in (['--help'], ['domains'], ['domains', '--json'], ['domains', '--wide']):\n"
        "    run(args)\n"
        "heavy = [m for m in ('pydantic', 'torch', 'lightning', 'transformers', 'monai') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "vision" in result.stdout and "Usage: transferkit" in result.stdout


def test_domains_json_lists_installed_domains(capsys):
    code, out, _ = run_cli(["domains", "--json"], capsys)
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0 and rows["vision"]["status"] == "available"


def test_unknown_domain_exit_code_2_with_close_matches(capsys):
    code, _, err = run_cli(["models", "--domain", "visoin"], capsys)
    assert code == 2 and "did you mean: vision" in err


def test_unknown_flag_exit_code_2(capsys):
    code, _, err = run_cli(["domains", "--jsno"], capsys)
    assert code == 2 and "--json" in err


def test_unknown_preset_exit_code_2(capsys):
    code, _, err = run_cli(["presets", "show", "vision/wildlfe"], capsys)
    assert code == 2 and "vision/wildlife" in err


def test_train_evaluate_predict_on_the_toy_domain(toy_registry, tmp_path, capsys):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15, seed=5))
    code, out, err = run_cli(["train", "--domain", "toy", "--data", str(data), "--out", str(tmp_path / "m"),
                              "--strategy", "linear-probe", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["val"]["accuracy"] >= 0.9
    code, out, err = run_cli(["evaluate", str(tmp_path / "m"), "--data", str(data), "--json"], capsys)
    metrics = json.loads(out)
    assert code == 0 and {"accuracy", "f1_macro", "auroc", "n", "per_class"} <= set(metrics)
    assert set(metrics["per_class"]["a"]) >= {"precision", "recall", "f1"}
    # The table says first which data, and which split of them, its figures are of.
    code, out, err = run_cli(["evaluate", str(tmp_path / "m"), "--data", str(data)], capsys)
    assert code == 0 and out.splitlines()[0] == f"scored {metrics['n']} examples of {metrics['data']}", out
    assert metrics["data"].startswith(str(data))
    # predict through the command: one .npy vector per input, labels as the loaded model gives them.
    fresh = toy_plugin.make_blobs(2, seed=5)
    paths = []
    for i, item in enumerate(fresh.items):
        np.save(tmp_path / f"x{i}.npy", item)
        paths.append(str(tmp_path / f"x{i}.npy"))
    code, out, err = run_cli(["predict", str(tmp_path / "m"), *paths, "--json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    expected = __import__("transferkit").load(tmp_path / "m").predict(fresh.items)
    assert [r["label"] for r in rows] == [r["label"] for r in expected] == fresh.labels
    assert [set(r) for r in rows] == [{"input", "label", "scores"}] * 4
    np.testing.assert_allclose([r["scores"]["a"] for r in rows], [r["scores"]["a"] for r in expected], atol=1e-6)
    code, out, err = run_cli(["predict", str(tmp_path / "m"), *paths[:2]], capsys)  # the table
    assert code == 0 and out.count("\n") >= 4 and fresh.labels[0] in out


def test_train_table_names_what_each_figure_is_worth(toy_registry, tmp_path, capsys):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15, seed=5))
    test = toy_plugin.write_blobs(tmp_path / "test.npz", toy_plugin.make_blobs(5, seed=5))
    args = ["train", "--domain", "toy", "--data", str(data), "--strategy", "linear-probe"]
    code, out, err = run_cli([*args, "--out", str(tmp_path / "m1")], capsys)
    assert code == 0, err
    assert "validation (used for selection)" in out and "held-out test" not in out
    # The note after the table (the plan printed first may warn too, e.g. of duplicates between splits).
    # A note is wrapped at 80 columns: its continuation lines are indented; join them back.
    paragraphs = re.split(r"\n(?! )", out)
    notes = [" ".join(p.split()) for p in paragraphs if p.startswith("note:") and "optimistic" in p]
    assert len(notes) == 1 and "--test PATH" in notes[0] and "--holdout-test" in notes[0]
    code, out, err = run_cli([*args, "--out", str(tmp_path / "m2"), "--test", str(test)], capsys)
    assert code == 0, err
    assert "validation (used for selection)" in out and "held-out test" in out
    assert not [line for line in out.splitlines() if line.startswith("note:") and "optimistic" in line]


def test_dry_run_prints_the_plan_and_writes_nothing(toy_registry, tmp_path, capsys):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15))
    code, out, err = run_cli(["train", "--domain", "toy", "--data", str(data), "--out", str(tmp_path / "m"),
                              "--dry-run", "--strategy", "gradual"], capsys)
    assert code == 0, err
    assert "strategy    gradual" in out and "unfreezes at epoch" in out
    assert not (tmp_path / "m").exists()


def test_bad_data_path_is_one_clear_line(toy_registry, tmp_path, capsys):
    code, _, err = run_cli(["train", "--domain", "toy", "--data", str(tmp_path / "nope.npz"), "--out",
                            str(tmp_path / "m")], capsys)
    assert code == 2 and "nope.npz" in err and "Traceback" not in err


def test_bad_strategy_exit_code_2(toy_registry, tmp_path, capsys):
    code, _, err = run_cli(["train", "--domain", "toy", "--data", "x", "--out", str(tmp_path / "m"),
                            "--strategy", "freeze-unfrezee"], capsys)
    assert code == 2 and "freeze-unfreeze" in err


def test_datasets_says_when_no_local_mirror_was_searched(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("TRANSFERKIT_DATA_DIR", raising=False)
    code, out, _ = run_cli(["datasets"], capsys)
    assert code == 0 and "TRANSFERKIT_DATA_DIR is not set: only the download cache was searched" in out
    monkeypatch.setenv("TRANSFERKIT_DATA_DIR", str(tmp_path))
    code, out, _ = run_cli(["datasets"], capsys)
    assert code == 0 and "is not set" not in out and "local copies: TRANSFERKIT_DATA_DIR" in out
