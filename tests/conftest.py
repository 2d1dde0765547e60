"""Shared fixtures. The test session sees only the plugins each test asks for (llm's rule)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the toy plugin lives next to the tests

ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The shared dataset mirror: TRANSFERKIT_DATA_DIR, else ../shared/datasets beside the repo."""
    return Path(os.environ.get("TRANSFERKIT_DATA_DIR", ROOT.parent / "shared" / "datasets"))


@pytest.fixture
def shared_data() -> Path:
    path = data_dir()
    if not path.is_dir():
        pytest.skip(f"dataset mirror not found at {path} (set TRANSFERKIT_DATA_DIR)")
    return path


@pytest.fixture
def toy_registry():
    """A registry holding only the toy plugin, installed as the process-wide one for the test."""
    import toy_plugin

    from transferkit.core import registry as reg

    registry = reg.Registry.empty()
    registry.add_plugin(toy_plugin, name="toy")
    reg.set_registry(registry)
    yield registry
    reg.set_registry(None)
