"""Fixtures for the medical plugin tests (file writers are in medfiles.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def medical_registry():
    """The process-wide registry holding only the medical plugin (and nothing another test registered)."""
    import transferkit.plugins.medical as plugin
    from transferkit.testing import isolated_registry

    with isolated_registry(medical=plugin) as registry:
        yield registry
