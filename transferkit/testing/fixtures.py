"""pytest fixtures for plugin authors. Enable them in your ``tests/conftest.py``::

    pytest_plugins = ["transferkit.testing.fixtures"]

``transferkit_registry("my-plugin")`` makes a registry of only the plugins named (installed entry-point
names, or modules) the process-wide one for the test; ``tiny_backbone`` and ``tiny_dataset`` stand in for
real weights and data; ``plugin_roundtrip("my-domain", data)`` runs select / configure / train / load /
predict into the test's temporary folder.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from transferkit.testing.registry import isolated_registry
from transferkit.testing.roundtrip import RoundTrip, run_end_to_end
from transferkit.testing.tiny import tiny_backbone as _tiny_backbone
from transferkit.testing.tiny import tiny_examples


@pytest.fixture
def transferkit_registry() -> Iterator[Callable[..., Any]]:
    """``transferkit_registry(*plugins, strict=True, **named) -> Registry``, installed process-wide until the
    test ends (see :func:`transferkit.testing.isolated_registry`)."""
    with ExitStack() as stack:
        yield lambda *plugins, **kwargs: stack.enter_context(isolated_registry(*plugins, **kwargs))


@pytest.fixture
def tiny_backbone() -> Any:
    """A seeded tiny MLP backbone (vectors of length 8 in, 16 features out)."""
    return _tiny_backbone()


@pytest.fixture
def tiny_dataset() -> Callable[..., Any]:
    """``tiny_dataset(per_class=12, classes=("a", "b"), seed=0) -> Examples`` of separable vectors."""
    return tiny_examples


@pytest.fixture
def plugin_roundtrip(tmp_path: Path) -> Callable[..., RoundTrip]:
    """``plugin_roundtrip(domain, data, **options) -> RoundTrip``: the end-to-end run, saved under tmp_path."""
    counter = itertools.count()

    def run(domain: str, data: Any, **options: Any) -> RoundTrip:
        options.setdefault("out", tmp_path / f"model-{next(counter)}")
        return run_end_to_end(domain, data, **options)

    return run
