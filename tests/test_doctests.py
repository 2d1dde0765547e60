"""Every docstring example in transferkit runs, as written (``+SKIP`` only where it needs data or weights)."""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import transferkit

PACKAGE = Path(transferkit.__file__).parent
# Found by reading the files, not by importing them: collecting this test costs no framework import.
MODULES = sorted(
    ".".join(("transferkit", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
    if ">>> " in path.read_text(encoding="utf-8") and path.name != "__main__.py"
)


def test_the_examples_are_found():
    assert "transferkit.core.metrics" in MODULES and "transferkit.core.data" in MODULES
    assert len(MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
