"""Progress a person can follow in a log: plain lines on stderr when it is not a terminal, stdout kept for --json."""
from __future__ import annotations

import io
import json

import toy_plugin

import transferkit as tk
from transferkit.cli import main
from transferkit.core.progress import Reporter


def test_plain_lines_on_stderr_and_json_on_stdout(toy_registry, tmp_path, capsys):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(20, seed=5))
    out = tmp_path / ("a-folder-name-long-enough-that-the-line-passes-eighty-columns-" * 2) / "model"
    try:
        main(["train", "--domain", "toy", "--data", str(data), "--strategy", "full", "--epochs", "2",
              "--out", str(out), "--json"])
    except SystemExit as exit_:
        assert not exit_.code
    captured = capsys.readouterr()
    assert json.loads(captured.out)["out"] == str(out)  # stdout: the JSON document only
    lines = captured.err.splitlines()
    assert any("epoch 1/2 done" in line and "val_accuracy" in line and "left" in line for line in lines)
    assert any("epoch 2/2 done" in line for line in lines)
    assert any(line.endswith(f"saving the model to {out}") for line in lines)  # one line, not wrapped


def test_lines_within_an_epoch_follow_the_interval_and_none_is_silent(toy_registry):
    data = toy_plugin.make_blobs(40, seed=2)
    stream = io.StringIO()
    tk.fit("toy", data, strategy="full", epochs=1, batch_size=8, progress=Reporter("plain", stream, interval=0))
    batch_lines = [line for line in stream.getvalue().splitlines() if ": batch " in line]
    assert batch_lines and "epoch 1/1: batch 1/" in batch_lines[0] and "left" in batch_lines[-1]
    quiet = io.StringIO()
    tk.fit("toy", data, strategy="full", epochs=1, batch_size=8, progress=Reporter("none", quiet, interval=0))
    assert quiet.getvalue() == ""


def test_quiet_turns_progress_off(toy_registry, tmp_path, capsys):
    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(20, seed=5))
    try:
        main(["--quiet", "train", "--domain", "toy", "--data", str(data), "--strategy", "full", "--epochs", "1",
              "--out", str(tmp_path / "m"), "--json"])
    except SystemExit as exit_:
        assert not exit_.code
    captured = capsys.readouterr()
    assert json.loads(captured.out)["out"] == str(tmp_path / "m")
    assert "[transferkit" not in captured.err and "epoch" not in captured.err
