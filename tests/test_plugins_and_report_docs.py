"""docs/plugins.md shows `transferkit plugins` as it prints: a table of plugin, package, version, status and
what each provides, counted ("domains 1, models 1, presets 1"), not the "acme-xray: ok, provides domains:
acme-xray" the guide showed before; docs/report.md sends a reader looking for the gain of transfer to compare."""
from __future__ import annotations

import re
from pathlib import Path

from cli_run import run_cli

ROOT = Path(__file__).resolve().parents[1]
PROVIDES = r"[a-z]+ \d+(, [a-z]+ \d+)*"  # the CLI's counted form, "domains 1, models 1, presets 1"


def _plugins_block() -> list[str]:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"^```text\n(.*?)^```", guide, re.M | re.S) if b.startswith("plugin "))
    return [line for line in block.splitlines() if line.strip() and not set(line.strip()) <= {"─"}]


def test_the_guide_shows_the_plugins_table_the_cli_prints(capsys):
    code, out, err = run_cli(["plugins"], capsys)
    assert code == 0, err
    printed = [line.split() for line in out.splitlines() if line.strip() and not set(line.strip()) <= {"─"}]
    header, *rows = _plugins_block()
    assert header.split() == printed[0] == ["plugin", "package", "version", "status", "provides"]
    shown = {row.split()[0]: re.split(r"\s{2,}", row.strip()) for row in rows}
    # The built-in plugins the guide lists are printed with the same package, version and status (another
    # test may have installed a registry of its own: only the rows both hold are compared).
    both = [cells for cells in printed[1:] if cells[0] in shown]
    assert both and all(shown[cells[0]][1:4] == cells[1:4] for cells in both), (printed, shown)
    for name, cells in shown.items():
        assert len(cells) == 5 and re.fullmatch(PROVIDES, cells[4]), (name, cells)
    assert shown["acme-xray"] == ["acme-xray", "acme-xray", "0.1.0", "ok", "domains 1, models 1, presets 1"]
    assert "provides domains: acme-xray" not in (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_the_report_guide_points_to_compare_for_the_gain_of_transfer():
    intro = (ROOT / "docs" / "report.md").read_text(encoding="utf-8").split("\n## ")[0]
    assert "`transferkit compare`" in intro and "(compare.md)" in intro and "from scratch" in intro
