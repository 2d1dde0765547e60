"""Insurance presets for transferkit's nlp domain: data, not code.

Registered through the ``transferkit`` entry point in pyproject.toml; ``transferkit presets --domain nlp``
lists them with this package as their origin.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from transferkit import hookimpl

TRANSFERKIT_HOOK_API = 1  # the hook API this plugin was written for
PRESETS_DIR = Path(__file__).parent / "presets"


@hookimpl
def register_presets(register: Any) -> None:
    for path in sorted(PRESETS_DIR.glob("*.toml")):
        register(path)
