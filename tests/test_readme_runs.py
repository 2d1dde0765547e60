"""The README's examples run as written: its Python block, every `transferkit` command of its shell blocks
(on the mirrored SMS collection), and every document it links to exists."""
from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from transferkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The README's data paths are written from the repository root, beside the shared mirror.
WRITTEN_MIRROR = "../shared/datasets"


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in a Markdown text.

    Example:
        >>> code_blocks("a\\n```sh\\nls\\n```\\n", "sh")
        ['ls\\n']
    """
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def shell_commands(block: str) -> list[list[str]]:
    """The commands of a shell block as argument lists: continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


@pytest.fixture
def in_a_fresh_folder(tmp_path, monkeypatch, dataset_mirror):
    """Run from an empty folder (the examples write models/...), with the README's data paths pointing at the
    mirror wherever it is."""
    mirror = dataset_mirror("sms-spam", "SMSSpamCollection").parent
    monkeypatch.chdir(tmp_path)
    return lambda text: text.replace(WRITTEN_MIRROR, str(mirror))


def test_the_python_example_runs_as_written(in_a_fresh_folder):
    (block,) = code_blocks(README, "python")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(in_a_fresh_folder(block), "README.md", "exec"), {"__name__": "readme"})
    assert "Transfer plan" in printed.getvalue()
    assert "'label': 'spam'" in printed.getvalue()  # the example message is a real spam SMS
    assert (Path("models/sms") / "transferkit.json").is_file() and (Path("models/sms") / "README.md").is_file()


def test_every_cli_example_runs_as_written(in_a_fresh_folder, capsys):
    commands = [words for block in code_blocks(README, "bash") for words in shell_commands(in_a_fresh_folder(block))]
    examples = [words for words in commands if words[0] == "transferkit"]
    assert len(examples) >= 7 and {w[1] for w in examples} >= {"train", "evaluate", "predict", "models"}
    assert {words[0] for words in commands} <= {"transferkit", "make"}  # nothing else to run by hand
    for words in examples:
        try:
            main(words[1:])
        except SystemExit as exit_:
            assert not exit_.code, (words, capsys.readouterr().err)
        out = capsys.readouterr().out
        if words[1] == "predict":
            lines = out.splitlines()
            assert re.match(r"spam\s", lines[-2]) and re.match(r"ham\s", lines[-1]), out
        if words[1] == "evaluate":
            assert re.search(r"n=\d+\s+accuracy=0\.9", out), out


def test_every_document_the_readme_links_exists():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert "docs/vision.md" in local and len(local) >= 8
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, missing
