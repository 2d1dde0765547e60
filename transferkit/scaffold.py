"""``transferkit new-plugin``: write a complete, installable plugin package from the templates.

The package has a pyproject with the ``transferkit`` entry point, the hook implementations, a preset,
tests that use :mod:`transferkit.testing`, and a README; ``pip install -e`` on it makes the plugin appear
in ``transferkit plugins`` and its tests pass as generated. Templates live in transferkit/templates/plugin/
(``common`` for both kinds, then ``domain`` or ``presets``), with ``${name}`` placeholders.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from transferkit.errors import UsageError

KINDS = ("domain", "presets")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def plugin_names(name: str) -> dict[str, str]:
    """The names derived from NAME: distribution, import module, entry point, domain.

    Example:
        >>> plugin_names("acme-xray")["module"]
        'acme_xray'
    """
    if not NAME_PATTERN.match(name):
        raise UsageError(f"'{name}' is not a valid plugin name",
                         fix="use lowercase letters, digits and single dashes, starting with a letter: acme-xray")
    return {"dist": name, "module": name.replace("-", "_"), "entry_point": name, "domain": name}


def _requirement(extras: str = "") -> str:
    """The dependency on transferkit: this compatibility series, e.g. ``transferkit[train]>=0.1,<0.2``."""
    from transferkit import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    # The compatibility series this transferkit belongs to: a newer major (or 0.minor) may change hooks.
    upper = f"{major + 1}" if major else f"0.{minor + 1}"
    return f"transferkit{extras}>={major}.{minor},<{upper}"


def _files(kind: str) -> list[tuple[str, str]]:
    """(path relative to the package root with placeholders, template text) for every template of ``kind``."""
    base = resources.files("transferkit") / "templates" / "plugin"
    found: list[tuple[str, str]] = []

    def walk(folder: object, relative: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):  # type: ignore[attr-defined]
            path = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir():
                walk(entry, path)
            elif entry.name.endswith(".tmpl"):
                found.append((path.removesuffix(".tmpl"), entry.read_text(encoding="utf-8")))

    for part in ("common", kind):
        walk(base / part, "")
    return found


def _destination(relative: str, names: dict[str, str], kind: str) -> str:
    """Where a template goes: modules and presets into the import package, tests and the rest at the root."""
    if relative.startswith("tests/") or "/" not in relative and not relative.endswith(".py"):
        return relative
    if kind == "presets" and relative.startswith("presets/"):
        return f"{names['module']}/presets/{names['dist']}.toml"
    return f"{names['module']}/{relative}"


def new_plugin(name: str, folder: str | Path = ".", kind: str = "domain", domain: str | None = None) -> list[Path]:
    """Write the plugin package ``name`` into ``folder/name`` and return the files written.

    ``kind="domain"`` adds a domain called ``name`` (reader, backbone, model, preset); ``kind="presets"``
    adds a preset ``DOMAIN/NAME`` for the installed domain ``domain``. Refuses a target folder that exists
    and is not empty: nothing is ever overwritten.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     sorted(f.name for f in new_plugin("acme-xray", folder))[:3]
        ['README.md', '__init__.py', 'conftest.py']
    """
    from transferkit.core import hookspecs

    if kind not in KINDS:
        raise UsageError(f"unknown kind '{kind}'", fix=f"use one of: {', '.join(KINDS)}")
    names = plugin_names(name)
    target = Path(folder) / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError("the folder exists and is not empty", file=target,
                         fix="choose another --dir or NAME; new-plugin never overwrites files")
    # A domain trains: it needs the deep-learning core (transferkit[train]); presets need only their domain.
    values = {**names, "hook_api": str(hookspecs.HOOK_API_VERSION), "requirement": _requirement("[train]"),
              "description": f"the {name} domain for transferkit", "extends": "", "preset_id": ""}
    if kind == "presets":
        values.update(_presets_values(name, domain or "vision"))
    written: list[Path] = []
    for relative, text in _files(kind):
        path = target / _destination(relative, names, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
        written.append(path)
    return written


def _presets_values(name: str, domain: str) -> dict[str, str]:
    from transferkit.core.registry import get_registry

    spec = get_registry().domain(domain)  # an unknown domain: one line with the close matches
    return {
        "domain": domain,
        "preset_id": f"{domain}/{name}",
        "description": f"{name} presets for the {domain} domain",
        "extends": f'extends = "{spec.default_preset}"\n' if spec.default_preset else "",
        "requirement": _requirement(),
    }
