"""Fixtures for the bad-input corpus: the CLI run in-process, a registry with the toy domain beside the
built-in ones, and a snapshot of the files a failing command must leave as they were."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_limits_and_debug(monkeypatch):
    """Each case starts with the default size caps (a reader option raises them for the process)."""
    from transferkit.datasets import limits

    monkeypatch.delenv(limits.PIXELS_ENV, raising=False)
    monkeypatch.delenv(limits.VOXELS_ENV, raising=False)
    monkeypatch.delenv("TRANSFERKIT_DEBUG", raising=False)
    limits._FROM_OPTIONS.clear()
    yield
    limits._FROM_OPTIONS.clear()


@pytest.fixture(scope="module")
def full_registry():
    """The installed plugins plus the toy domain (fast artifacts for the model-folder cases)."""
    import toy_plugin

    from transferkit.core import registry as reg

    registry = reg.Registry.from_entry_points()
    registry.add_plugin(toy_plugin, name="toy")
    reg.set_registry(registry)
    yield registry
    reg.set_registry(None)
