"""`transferkit new-plugin`: the package it writes installs with `pip install -e`, appears in `transferkit
plugins` through its entry point, and its own tests pass as generated."""
from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from transferkit.cli import main


def run(args: list[str]) -> int:
    """Run the CLI in this process; its exit code (Typer's standalone mode exits even on success)."""
    try:
        main(args)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def throwaway_venv(root: Path) -> Path:
    """A new virtual environment that also sees this one's packages (transferkit, torch, pytest).

    Made without pip (fast); pip runs from this environment with --python. A .pth line adds this
    environment's site-packages as a site directory, so its own .pth files (transferkit's editable
    install) are processed too.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "_parent_environment.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def pip_install_editable(python: Path, package: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-build-isolation", "--no-index", "-e", str(package)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_generated_plugins_install_appear_and_pass_their_tests(tmp_path, capsys):
    assert run(["new-plugin", "acme-xray", "--dir", str(tmp_path)]) == 0
    assert run(["new-plugin", "acme-parts", "--dir", str(tmp_path), "--kind", "presets", "--domain", "vision"]) == 0
    assert "next: pip install -e" in capsys.readouterr().out
    python = throwaway_venv(tmp_path / "venv")
    for name in ("acme-xray", "acme-parts"):
        pip_install_editable(python, tmp_path / name)
    listed = subprocess.run([str(python), "-m", "transferkit.cli", "plugins", "--json"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["acme-xray"]["status"] == "ok" and rows["acme-xray"]["provides"]["domains"] == ["acme-xray"]
    assert rows["acme-parts"]["status"] == "ok" and rows["acme-parts"]["provides"]["presets"] == ["vision/acme-parts"]
    for name in ("acme-xray", "acme-parts"):
        tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                               capture_output=True, text=True, cwd=tmp_path / name)
        assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
        assert " passed" in tests.stdout


def test_an_existing_non_empty_folder_is_refused_and_left_alone(tmp_path, capsys):
    mine = tmp_path / "acme-xray" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("my notes")
    assert run(["new-plugin", "acme-xray", "--dir", str(tmp_path)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in mine.parent.iterdir()] == ["notes.txt"] and mine.read_text() == "my notes"


@pytest.mark.parametrize("args, message", [
    (["Acme_Xray"], "is not a valid plugin name"),
    (["acme", "--kind", "widgets"], "unknown kind 'widgets'"),
    (["acme", "--kind", "presets", "--domain", "visoin"], "did you mean: vision"),
])
def test_bad_names_kinds_and_domains_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    assert run(["new-plugin", *args, "--dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
