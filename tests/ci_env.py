"""Whether the tests run under CI. A module of its own: several test folders have a ``conftest.py``, so
``from conftest import ...`` resolves to whichever of them pytest loaded last."""
from __future__ import annotations

import os


def in_ci() -> bool:
    """True under CI (``CI=true``, as GitHub Actions, GitLab and most runners set it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
