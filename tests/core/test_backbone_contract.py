"""The backbone contract is declared in core: every attribute a domain reads has a type, a default and a line
in docs/plugins.md, and no domain reads a backbone through getattr(..., default)."""
from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest

import transferkit
from transferkit.core import backbone as contract

ROOT = Path(transferkit.__file__).parent
DOC = ROOT.parent / "docs" / "plugins.md"


def test_every_contract_attribute_is_typed_with_a_default():
    hints = typing.get_type_hints(contract.Backbone, localns={"Normalization": object})
    for name in contract.CONTRACT_ATTRIBUTES:
        assert name in hints, f"{name} has no type on Backbone"
        if name != "feature_dim":  # the one each backbone must set
            assert hasattr(contract.Backbone, name), f"{name} has no default on Backbone"


def test_every_contract_attribute_is_documented_with_an_example():
    text = DOC.read_text(encoding="utf-8")
    for name in contract.CONTRACT_ATTRIBUTES:
        rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
        assert rows and rows[0].count("`") >= 4, f"docs/plugins.md has no table row with an example for {name}"


def _getattr_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in contract.CONTRACT_ATTRIBUTES):
            found.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return found


@pytest.mark.parametrize("folder", ["core", "plugins", "datasets"])
def test_domains_read_the_contract_as_plain_attributes(folder):
    offenders = {str(p.relative_to(ROOT)): reads for p in sorted((ROOT / folder).rglob("*.py"))
                 if (reads := _getattr_reads(ast.parse(p.read_text(encoding="utf-8"))))}
    assert offenders == {}


def test_the_scan_finds_a_getattr_read():
    assert _getattr_reads(ast.parse('x = getattr(backbone, "spatial_dims", 2)')) == [
        "line 1: getattr(..., 'spatial_dims')"]


def test_a_backbone_that_sets_only_feature_dim_gets_the_documented_defaults():
    class Minimal(contract.Backbone):
        feature_dim = 4

    bb = Minimal()
    text = DOC.read_text(encoding="utf-8")
    for name in ("default_resolution", "spatial_dims", "in_channels", "expands_grey", "input_scale"):
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        documented = re.findall(r"`([^`]*)`", row.split("|")[3])[0]
        assert repr(getattr(bb, name)) == documented, name
