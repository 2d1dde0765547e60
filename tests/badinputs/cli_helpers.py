"""Running the CLI in-process and checking what a user would see of a failure."""
from __future__ import annotations

import re
from pathlib import Path

# Progress lines (transferkit.core.progress) go to stderr when it is not a terminal; they are not the error.
PROGRESS = re.compile(r"^\[transferkit \d\d:\d\d:\d\d\] ")


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``transferkit ARGS`` in this process; return (exit code, stdout, stderr)."""
    from transferkit.cli import main

    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, expect: str) -> str:
    """Besides progress lines, stderr is exactly one ``error:`` line that mentions ``expect``; no traceback."""
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in err, err
    assert expect in lines[0], f"{expect!r} not in: {lines[0]}"
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
