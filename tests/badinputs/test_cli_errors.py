"""The CLI's error plumbing: one line per failure, the exit-code table, --debug, --version."""
from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from cli_helpers import assert_one_line, run_cli

from transferkit import __version__
from transferkit.cli import app
from transferkit.errors import ArtifactError, DataError, MissingDependencyError, PluginError, UsageError


@pytest.fixture
def crashing_command():
    """A command that fails in a way transferkit did not foresee (registered for one test only)."""

    def boom() -> None:
        {}["missing key"]

    def wrapped() -> None:
        try:
            raise ValueError("inner library failure")
        except ValueError as err:
            raise RuntimeError("applying transform <LoadMedicald>") from DataError(
                "image holds 3 NaN/inf value(s)", file="scan.nii.gz", fix="fix or remove the volume")

    app.command("boom-for-test")(boom)
    app.command("wrapped-for-test")(wrapped)
    yield
    app.registered_commands[:] = [c for c in app.registered_commands
                                  if c.name not in ("boom-for-test", "wrapped-for-test")]


def test_every_transferkit_error_is_exit_code_2():
    # DESIGN.md section 10: 1 is an internal error, 2 bad usage or bad data.
    for cls in (DataError, UsageError, PluginError, ArtifactError, MissingDependencyError):
        assert cls("x").exit_code == 2, cls


def test_an_unexpected_exception_is_one_line_exit_1(crashing_command, capsys):
    code, _, err = run_cli(["boom-for-test"], capsys)
    assert code == 1
    line = assert_one_line(err, "internal error: KeyError")
    assert "--debug" in line and "please report it" in line


def test_debug_shows_the_traceback(crashing_command, capsys):
    code, _, err = run_cli(["--debug", "boom-for-test"], capsys)
    assert code == 1 and "Traceback (most recent call last)" in err and "KeyError" in err
    assert err.strip().splitlines()[-1].startswith("error: internal error")


def test_debug_from_the_environment(crashing_command, capsys, monkeypatch):
    monkeypatch.setenv("TRANSFERKIT_DEBUG", "1")
    code, _, err = run_cli(["boom-for-test"], capsys)
    assert code == 1 and "Traceback" in err


def test_a_transferkit_error_wrapped_by_a_library_is_reported_as_itself(crashing_command, capsys):
    code, _, err = run_cli(["wrapped-for-test"], capsys)
    assert code == 2
    assert_one_line(err, "scan.nii.gz: image holds 3 NaN/inf value(s)")


def test_a_dataloader_worker_error_loses_the_worker_traceback(capsys, monkeypatch):
    # torch re-raises a worker's exception as the same class, its message the worker's whole traceback.
    message = ("Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
               '  File "x.py", line 1, in f\n    raise DataError(...)\n'
               "transferkit.errors.DataError: cut.jpg: cannot decode the image (fix: remove the file)\n")

    def raise_worker_error() -> None:
        raise DataError(message)

    app.command("worker-for-test")(raise_worker_error)
    try:
        code, _, err = run_cli(["worker-for-test"], capsys)
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "worker-for-test"]
    assert code == 2
    assert assert_one_line(err, "cut.jpg") == "error: cut.jpg: cannot decode the image (fix: remove the file)"


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"transferkit {__version__}"


def test_version_in_a_real_process():
    result = subprocess.run([sys.executable, "-m", "transferkit.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"transferkit {__version__}"


@pytest.mark.parametrize("args", [["domains", "--jsno"], ["nosuchcommand"], ["train", "--domain"]])
def test_usage_errors_stay_exit_2(args, capsys):
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "Traceback" not in err


def test_bad_data_in_a_real_process_has_no_traceback(tmp_path):
    # The installed entry point, as a shell runs it: stderr is a pipe, the exit code is what `$?` sees.
    data = tmp_path / "notes.csv"
    data.write_bytes(b"label,text\nham,caf\xe9\nspam,x\n")
    result = subprocess.run([sys.executable, "-m", "transferkit.cli", "--quiet", "train", "--domain", "nlp",
                             "--data", str(data), "--out", str(tmp_path / "m"), "--dry-run"],
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "notes.csv")
    assert not (tmp_path / "m").exists() and data.read_bytes().startswith(b"label,text")


def test_validation_error_reaching_main_is_one_line(capsys):
    from pydantic import BaseModel, Field

    class Settings(BaseModel):
        epochs: int = Field(1, ge=1)

    def validate() -> None:
        Settings(epochs=0)

    app.command("validate-for-test")(validate)
    try:
        code, _, err = run_cli(["validate-for-test"], capsys)
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "validate-for-test"]
    assert code == 2
    line = assert_one_line(err, "epochs=0")
    assert ">= 1" in line and "https://" not in line


@pytest.mark.parametrize(("flag", "key", "allowed"), [
    (["--set", "lr=abc"], "lr='abc'", "a number > 0"),
    (["--lr", "-1"], "lr=-1.0", "a number > 0"),
    (["--set", "label_smoothing=2"], "label_smoothing=2", "< 1"),
    (["--set", "bogus=1"], "unknown key 'bogus'", "weight_decay"),
])
def test_bad_training_values_name_the_key_and_what_is_allowed(flag, key, allowed, toy_registry, tmp_path, capsys):
    import toy_plugin

    data = toy_plugin.write_blobs(tmp_path / "blobs.npz", toy_plugin.make_blobs(6))
    code, _, err = run_cli(["train", "--domain", "toy", "--data", str(data), "--out", str(tmp_path / "m"),
                            "--dry-run", *flag], capsys)
    assert code == 2
    line = assert_one_line(err, key)
    assert allowed in line and "errors.pydantic.dev" not in line


def test_typer_exit_is_not_an_error(capsys):
    def leave() -> None:
        raise typer.Exit(0)

    app.command("exit-for-test")(leave)
    try:
        code, _, err = run_cli(["exit-for-test"], capsys)
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "exit-for-test"]
    assert code == 0 and err == ""


def test_an_error_quoting_a_multi_line_library_message_renders_as_one_line():
    error = DataError("cannot decode the image: broken data\n  at chunk IDAT\n", file="a.png", fix="remove it")
    assert error.render() == "a.png: cannot decode the image: broken data at chunk IDAT (fix: remove it)"


def test_an_os_error_on_a_named_file_is_the_users_to_fix(capsys, tmp_path):
    locked = tmp_path / "locked.csv"

    def read_locked() -> None:
        raise PermissionError(13, "Permission denied", str(locked))

    app.command("oserror-for-test")(read_locked)
    try:
        code, _, err = run_cli(["oserror-for-test"], capsys)
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "oserror-for-test"]
    assert code == 2
    assert "Permission denied" in assert_one_line(err, str(locked))
