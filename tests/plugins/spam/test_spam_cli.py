"""End to end through the command line on a small slice of the real SMS collection: train the TF-IDF
filter with the SMS preset, evaluate it, and stream predictions for a folder of messages as JSON lines."""
from __future__ import annotations

import json

import pytest

from cli_run import run_cli  # tests/ is on the path (tests/conftest.py)

pytestmark = pytest.mark.real_data


def test_train_evaluate_and_stream_predictions(sms_rows, sms_tools, tmp_path, capsys):
    sms_slice, write_sms = sms_tools

    train = write_sms(tmp_path / "train.tsv", sms_slice(sms_rows, 240, 60))
    test = write_sms(tmp_path / "test.tsv", sms_slice(sms_rows, 300, 60, offset=300))
    code, out, err = run_cli(["train", "--domain", "spam", "--model", "spam/tfidf-linear", "--preset", "spam/sms",
                              "--data", str(train), "--out", str(tmp_path / "m"), "--json"], capsys)
    assert code == 0, err
    trained = json.loads(out)
    assert trained["val"]["binary"]["false_positive_rate"] <= 0.005

    code, out, err = run_cli(["evaluate", str(tmp_path / "m"), "--data", str(test), "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["accuracy"] > 0.9 and metrics["per_class"]["spam"]["precision"] > 0.8
    assert "pr_curve" in metrics["binary"]

    messages = tmp_path / "inbox"
    messages.mkdir()
    texts = [text for label, text in sms_slice(sms_rows, 5, 5, offset=700)]
    for i, text in enumerate(texts):
        (messages / f"{i:03d}.eml").write_text(f"Subject: message {i}\n\n{text}\n", encoding="utf-8")
    code, out, err = run_cli(["predict", str(tmp_path / "m"), str(messages), "--jsonl"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 10 and all(row["label"] in ("ham", "spam") for row in rows)
    by_file = {row["input"].rsplit("/", 1)[-1].split(".")[0]: row["label"] for row in rows}
    assert sorted(by_file) == [f"{i:03d}" for i in range(10)]  # each message reported under its own path
    assert sum(by_file[f"{i:03d}"] == "spam" for i in range(5, 10)) >= 3  # 005-009 are real spam SMS


def test_generic_to_specific_from_the_command_line(sms_rows, sms_tools, tmp_path, capsys):
    """`train --model <generic artifact> --preset spam/finance`: continues from the artifact (its hashing and
    idf), and the plan in the artifact says which carry-over cross-validation chose."""
    sms_slice, write_sms = sms_tools
    preset = tmp_path / "small.toml"  # spam/generic with 2 x 1,024 hashed columns: fast
    preset.write_text('id = "test/spam-small"\nversion = "1"\ndomain = "spam"\nextends = "spam/generic"\n'
                      'description = "small hashing for tests"\n\n[preprocess]\nhash_bits = 10\n', encoding="utf-8")
    generic = write_sms(tmp_path / "generic.tsv", sms_slice(sms_rows, 200, 40))
    few = write_sms(tmp_path / "few.tsv", sms_slice(sms_rows, 60, 15, offset=200))
    code, _, err = run_cli(["train", "--domain", "spam", "--model", "spam/tfidf-linear", "--preset", str(preset),
                            "--data", str(generic), "--out", str(tmp_path / "generic")], capsys)
    assert code == 0, err
    code, _, err = run_cli(["train", "--domain", "spam", "--model", str(tmp_path / "generic"), "--preset",
                            "spam/finance", "--data", str(few), "--out", str(tmp_path / "finance")], capsys)
    assert code == 0, err
    meta = json.loads((tmp_path / "finance" / "transferkit.json").read_text())
    assert meta["backbone"]["hash_bits"] == 10  # the generic model's columns, not the preset's default
    note = next(n for n in meta["plan"]["notes"] if n.startswith("generic to specific"))
    assert str(tmp_path / "generic") in note and "carry-over chosen by 3-fold cross-validation" in note
