"""--out is checked before any work, and transferkit never writes among, replaces or deletes a user's files."""
from __future__ import annotations

import os

import pytest
import toy_plugin

from transferkit.cli import main
from transferkit.core.outputs import check_out, prepare_out
from transferkit.errors import UsageError


def run_cli(args, capsys):
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    return toy_plugin.write_blobs(folder / "train.npz", toy_plugin.make_blobs(15, seed=5))


def train_args(data, out, *extra):
    return ["train", "--domain", "toy", "--data", data, "--strategy", "linear-probe", "--out", out, *extra]


def test_case_1_a_folder_of_the_users_files_is_refused_and_survives(toy_registry, tmp_path, data, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("x")
    code, _, err = run_cli(train_args(data, notes), capsys)
    assert code == 2
    assert str(notes) in err and "holds no transferkit model or run" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in notes.iterdir()) == ["thesis.tex"] and (notes / "thesis.tex").read_text() == "x"


def test_a_dry_run_refuses_the_same_output_folder_as_the_real_run(toy_registry, tmp_path, data, capsys):
    """--dry-run writes nothing, but it must not print a plan for a run that --out would refuse."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("x")
    code, out, err = run_cli(train_args(data, notes, "--dry-run"), capsys)
    assert code == 2 and "holds no transferkit model or run" in err and out == ""
    assert sorted(p.name for p in notes.iterdir()) == ["thesis.tex"]
    code, out, _ = run_cli(train_args(data, tmp_path / "new", "--dry-run"), capsys)
    assert code == 0 and out.strip() and not (tmp_path / "new").exists()


@pytest.mark.parametrize("name", [".", "..", ""])
def test_current_folder_parent_and_empty_name_are_refused(toy_registry, tmp_path, data, capsys, monkeypatch, name):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = run_cli(train_args(data, name), capsys)
    assert code == 2 and "fix:" in err
    assert list(work.iterdir()) == []


def test_a_file_is_refused(toy_registry, tmp_path, data, capsys):
    target = tmp_path / "model.bin"
    target.write_text("keep")
    code, _, err = run_cli(train_args(data, target), capsys)
    assert code == 2 and "is a file" in err and target.read_text() == "keep"


def test_data_folder_and_folders_around_it_are_refused(toy_registry, tmp_path, data, capsys):
    for out in (data.parent, tmp_path):  # the folder of the data, and one above it
        code, _, err = run_cli(train_args(data, out), capsys)
        assert code == 2 and "input" in err, out
    assert sorted(p.name for p in data.parent.iterdir()) == ["train.npz"]
    # A model inside a data *folder* would become part of the data (an image folder gains a "class").
    with pytest.raises(UsageError, match="inside the input folder"):
        check_out(data.parent / "m", inputs=[data.parent])


def test_the_check_comes_before_the_data_are_read(toy_registry, tmp_path, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("x")
    code, _, err = run_cli(train_args(tmp_path / "missing.npz", notes), capsys)
    assert code == 2 and "notes" in err and "missing.npz" not in err


def test_resume_with_nothing_to_resume_is_one_line_naming_the_folder(toy_registry, tmp_path, data, capsys):
    out = tmp_path / "new-model"
    code, _, err = run_cli(train_args(data, out, "--resume"), capsys)
    assert code == 2 and str(out) in err and "--resume" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_retraining_into_a_model_folder_keeps_the_users_extra_files(toy_registry, tmp_path, data, capsys):
    out = tmp_path / "m"
    assert run_cli(train_args(data, out), capsys)[0] == 0
    (out / "my-notes.txt").write_text("mine")
    (out / "curves.png").unlink(missing_ok=True)  # a file of the old artifact the user removed
    code, _, err = run_cli(train_args(data, out, "--seed", "3"), capsys)
    assert code == 0, err
    assert (out / "my-notes.txt").read_text() == "mine" and (out / "transferkit.json").is_file()
    assert not (out / ".transferkit-staging").exists()


def test_a_full_disk_is_refused_before_training(toy_registry, tmp_path, data, capsys, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 2**20, 2**20))
    code, _, err = run_cli(train_args(data, tmp_path / "m"), capsys)
    assert code == 2 and "MiB free" in err and not (tmp_path / "m").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_fails_before_training(toy_registry, tmp_path, data, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = run_cli(train_args(data, locked / "m"), capsys)
    finally:
        locked.chmod(0o755)
    assert code == 2 and "cannot write" in err


def test_check_out_writes_nothing_and_prepare_out_marks_the_run(tmp_path):
    out = tmp_path / "a" / "b"
    assert check_out(out) == out and not (tmp_path / "a").exists()
    run_dir = prepare_out(out)
    assert (run_dir / "transferkit-run.json").is_file()
    assert check_out(out, resume=True) == out  # a transferkit run: writable again, and resumable
    with pytest.raises(UsageError):
        check_out(tmp_path / "x", inputs=[tmp_path])  # inside the data folder


def test_evaluate_warns_when_scoring_the_data_the_model_was_trained_on(toy_registry, tmp_path, data, capsys):
    """Scores on the training data are not held-out figures: evaluate says so on stderr (JSON stays clean)."""
    import json

    model = tmp_path / "m"
    code, _, _ = run_cli(train_args(data, model), capsys)
    assert code == 0
    code, out, err = run_cli(["evaluate", model, "--data", data, "--json"], capsys)
    assert code == 0 and "the training data of this model" in err and "not held-out" in err
    assert json.loads(out)["warnings"] and str(data) in json.loads(out)["warnings"][0]
    other = toy_plugin.write_blobs(tmp_path / "other.npz", toy_plugin.make_blobs(15, seed=6))
    code, out, err = run_cli(["evaluate", model, "--data", other, "--json"], capsys)
    assert code == 0 and "warning" not in err and json.loads(out)["warnings"] == []


def test_a_finished_folder_copied_without_its_file_times_is_not_taken_for_an_unfinished_run(toy_registry, tmp_path):
    import transferkit as tk
    from transferkit.core.outputs import unfinished_run

    out = tmp_path / "m"
    tk.fit("toy", toy_plugin.make_blobs(30, seed=4), strategy="full", epochs=2, out=out, time_budget=None)
    checkpoint = out / "run" / "checkpoints" / "last.ckpt"
    model_time = (out / "transferkit.json").stat().st_mtime
    os.utime(checkpoint, (model_time + 60, model_time + 60))  # as `cp -r` may leave them: the checkpoint newer
    assert unfinished_run(out) is None  # it is the checkpoint the model was saved from (its digest says so)
    checkpoint.write_bytes(checkpoint.read_bytes() + b"another epoch")  # a later, unsaved epoch
    assert unfinished_run(out) is not None


def test_a_killed_retrain_stays_unfinished_in_a_copy_whose_model_file_looks_newer(toy_registry, tmp_path):
    """The run marker, not file times, says a retrain's checkpoint is not the model's: a copy that wrote
    transferkit.json after run/ (`cp -r m/* copy/`) must not let a new run delete the retrain's epochs."""
    import transferkit as tk
    from transferkit.core.outputs import unfinished_run

    out = tmp_path / "m"
    tk.fit("toy", toy_plugin.make_blobs(30, seed=4), strategy="full", epochs=2, out=out, time_budget=None)
    prepare_out(out, settings={"seed": 3})  # a retrain starts: the finished run's checkpoints go
    checkpoint = out / "run" / "checkpoints" / "last.ckpt"
    assert not checkpoint.exists()
    checkpoint.write_bytes(b"the retrain's first epoch")  # then it is killed after an epoch
    later = checkpoint.stat().st_mtime + 60
    os.utime(out / "transferkit.json", (later, later))  # the copy's order: the model file newer
    assert unfinished_run(out) is not None
    with pytest.raises(UsageError, match="holds an unfinished run"):  # also what --dry-run checks
        check_out(out)
    assert check_out(out, resume=True) == out
