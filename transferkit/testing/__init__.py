"""Test helpers for plugin authors: an isolated registry, a tiny backbone and dataset, an end-to-end run.

Use them from pytest by adding one line to your ``tests/conftest.py``::

    pytest_plugins = ["transferkit.testing.fixtures"]

which gives the fixtures ``transferkit_registry``, ``tiny_backbone``, ``tiny_dataset`` and
``plugin_roundtrip`` (docs/plugins.md, "Testing your plugin"). Or call the functions directly:

    >>> from transferkit.testing import isolated_registry, tiny_plugin
    >>> with isolated_registry(tiny_plugin) as registry:
    ...     sorted(registry.domains)
    ['tiny']

Importing this package imports no deep-learning framework; the helpers that need torch import it.
"""
from __future__ import annotations

from transferkit.testing import tiny_plugin
from transferkit.testing.registry import build_registry, forget_domain_objects, isolated_registry
from transferkit.testing.roundtrip import RoundTrip, check_backbone, run_end_to_end
from transferkit.testing.tiny import TINY_DIM, tiny_backbone, tiny_examples, write_npz

__all__ = [
    "TINY_DIM",
    "RoundTrip",
    "build_registry",
    "check_backbone",
    "forget_domain_objects",
    "isolated_registry",
    "run_end_to_end",
    "tiny_backbone",
    "tiny_examples",
    "tiny_plugin",
    "write_npz",
]
