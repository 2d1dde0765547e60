"""Shared fixtures. The test session sees only the plugins each test asks for (llm's rule)."""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the toy plugin lives next to the tests

from ci_env import in_ci  # noqa: E402  (on the path just above)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = ROOT.parent / "shared" / "datasets"  # what the Makefile and .ci/run export by default


def mirror_root() -> Path:
    """The dataset mirror: the registry's TRANSFERKIT_DATA_DIR, else ../shared/datasets beside the repository."""
    from transferkit.datasets.registry import data_root

    return data_root() or DEFAULT_MIRROR


@functools.lru_cache(maxsize=1)
def registered_datasets() -> dict:
    """Every dataset the installed plugins register (the full registry, whatever registry a test installed)."""
    from transferkit.core.registry import Registry

    return dict(Registry.from_entry_points().datasets)


def find_dataset(name: str, file: str | None = None) -> Path:
    """The mirror folder of the registered dataset ``name`` (and check ``file`` inside it exists).

    Missing data FAILS under CI (a mirror that is not there must not turn the real-data tests into
    silent skips) and skips locally, with the path and the fix as the visible reason (``-rs``).
    """
    spec = registered_datasets().get(name)
    if spec is None:
        pytest.fail(f"no registered dataset '{name}' (known: {', '.join(sorted(registered_datasets()))})")
    folder = mirror_root() / spec.mirror_path
    target = folder / file if file else folder
    if not target.exists():
        reason = f"dataset '{name}' not in the mirror: {target} is missing (set TRANSFERKIT_DATA_DIR to the mirror)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true, so this is an error, not a skip")
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="session")
def dataset_mirror() -> Callable[..., Path]:
    """``dataset_mirror("breastmnist", "breastmnist.npz")`` -> the dataset's mirror folder, found through the
    dataset registry. Tests that use it are marked ``real_data`` automatically."""
    return find_dataset


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test that reads the mirror needs the real data, whether or not its author remembered the marker:
    # so `-m "not real_data"` really runs without the mirror.
    for item in items:
        if "dataset_mirror" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)


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
