"""Run the CLI in-process, as the tests that read its output and exit code need it."""
from __future__ import annotations

from typing import Any

from transferkit.cli import main


def run_cli(args: list[str], capsys: Any) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``transferkit ARGS``; ``capsys`` is pytest's fixture."""
    code = 0
    try:
        main(args)
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err
