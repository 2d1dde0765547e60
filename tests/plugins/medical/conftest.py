"""Fixtures for the medical plugin tests (file writers are in medfiles.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def medical_registry():
    """The process-wide registry holding only the medical plugin (and nothing another test registered)."""
    import transferkit.plugins.medical as plugin
    from transferkit.core import registry as reg
    from transferkit.core import select

    registry = reg.Registry.empty()
    info = registry.add_plugin(plugin, name="medical")
    assert info.status == "ok", info.error
    reg.set_registry(registry)
    select._DOMAINS.pop("medical", None)
    yield registry
    reg.set_registry(None)
    select._DOMAINS.pop("medical", None)
