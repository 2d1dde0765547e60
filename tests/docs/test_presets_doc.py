"""docs/presets.md is the reference that error messages point at: every key of the schema is in it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from transferkit.core.specs import HeadConfig, Preset, ThresholdPolicy, TrainConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "presets.md"


def documented_keys(table_heading: str) -> set[str]:
    """The backticked keys in the first column of the tables under ``table_heading``."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(table_heading, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.M))


@pytest.mark.parametrize(
    ("model", "heading"),
    [(Preset, "## Top-level keys"), (HeadConfig, "## `[head]`"), (TrainConfig, "## `[train]`"),
     (ThresholdPolicy, "## `[threshold]`")],
)
def test_every_schema_key_is_documented(model, heading):
    expected = set(model.model_fields) - {"head", "train", "preprocess", "augment", "threshold"}
    assert expected - documented_keys(heading) == set()


def test_every_domain_key_is_documented():
    """Each built-in domain's [preprocess] and [augment] keys appear in its section of the doc."""
    from transferkit.core.registry import get_registry
    from transferkit.core.select import get_domain

    text = DOC.read_text(encoding="utf-8")
    checked = 0
    for name, spec in get_registry().domains.items():
        if spec.missing() or f"\n### {name}\n" not in text:
            continue
        section = text.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
        rows = set(re.findall(r"^\| (preprocess|augment) \| `([a-z_0-9]+)` \|", section, flags=re.M))
        domain = get_domain(name)
        expected = {("preprocess", k) for k in domain.preprocess_keys} | {("augment", k) for k in domain.augment_keys}
        assert expected - rows == set(), name
        checked += 1
    assert checked >= 3  # vision, nlp and medical at least


def test_every_built_in_domain_with_keys_has_a_section():
    from transferkit.core.registry import get_registry
    from transferkit.core.select import get_domain

    text = DOC.read_text(encoding="utf-8")
    for name, spec in get_registry().domains.items():
        if spec.missing() or not spec.plugin.startswith("transferkit"):
            continue
        domain = get_domain(name)
        if domain.preprocess_keys or domain.augment_keys:
            assert f"\n### {name}\n" in text, f"docs/presets.md has no section for the {name} domain"
