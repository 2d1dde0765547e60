"""Which plugin made a model, and whether the plugin installed here can load it.

``transferkit.json`` records the plugin that provided the model's domain: its entry-point name, its
distribution (package) and that package's version. ``load`` then refuses, with the reason:

- a domain no installed plugin provides (install the recorded package);
- a domain now provided by a different package than the one that made the model (another
  implementation of the same name would rebuild a different network);
- a plugin older than the one that made the model, by compatibility series: the major version, or
  ``0.minor`` before 1.0 (semantic versioning: those are the releases that may change what they write).
  A newer plugin may load older models; if it cannot, its ``rebuild_backbone`` says so.

A plugin registered by hand rather than from an installed distribution (a test, a notebook) has no
package version; its models record no package, and versions are compared only when both are known.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.errors import ArtifactError

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.registry import PluginInfo, Registry


def plugin_info(domain: str, registry: "Registry") -> "PluginInfo | None":
    """The loaded plugin that registered ``domain``, if any."""
    for info in registry.plugins.values():
        if info.status == "ok" and domain in info.provides.get("domains", []):
            return info
    return None


def plugin_record(domain: str, registry: "Registry | None" = None) -> dict[str, str]:
    """What ``transferkit.json`` keeps about the plugin that provides ``domain``.

    Example:
        >>> plugin_record("vision")  # doctest: +SKIP
        {'name': 'vision', 'package': 'transferkit', 'version': '0.1.0'}
    """
    from transferkit.core.registry import get_registry

    info = plugin_info(domain, registry or get_registry())
    if info is None:
        return {"name": "", "package": "", "version": ""}
    if not info.version:  # registered by hand (tests, a notebook), not from an installed distribution
        return {"name": info.name, "package": "", "version": ""}
    return {"name": info.name, "package": info.package, "version": info.version}


def compat_series(version: str) -> tuple[int, ...] | None:
    """The releases that read each other's models: ``(major,)``, or ``(0, minor)`` before 1.0.

    Example:
        >>> compat_series("2.3.1"), compat_series("0.4.0rc1"), compat_series("")
        ((2,), (0, 4), None)
    """
    match = re.match(r"^\s*v?(\d+)(?:\.(\d+))?", version or "")
    if not match:
        return None
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return (major,) if major else (0, minor)


def _same_package(a: str, b: str) -> bool:
    return a.lower().replace("_", "-") == b.lower().replace("_", "-")


def check_plugin(meta: dict[str, Any], registry: "Registry", folder: Path) -> None:
    """Refuse, with the reason and the fix, a model whose domain's plugin cannot be honoured here."""
    domain = meta["domain"]
    recorded = meta.get("plugin")
    legacy = recorded if isinstance(recorded, str) and recorded else "an unknown plugin"
    recorded = recorded if isinstance(recorded, dict) else {}  # models written before the record: no check
    package, version = str(recorded.get("package") or ""), str(recorded.get("version") or "")
    wanted = f"{package}>={version}" if package and version else (package or legacy)
    if domain not in registry.domains:
        raise ArtifactError(
            f"this model needs the '{domain}' domain, provided by {wanted}, which is not installed",
            file=folder,
            field="domain",
            fix=f"pip install '{wanted}'" if package else f"install the plugin that provides '{domain}' "
            "(see `transferkit plugins`)",
        )
    if not package:
        return
    info = plugin_info(domain, registry)
    if info is None:
        return  # a domain registered by hand (tests, notebooks): nothing to compare
    if not _same_package(info.package, package):
        raise ArtifactError(
            f"this model was made with the '{domain}' domain of package '{package}', but here '{domain}' comes "
            f"from '{info.package}'",
            file=folder,
            field="plugin",
            fix=f"install '{package}' (and disable the other with TRANSFERKIT_DISABLE_PLUGINS={info.name})",
        )
    made, here = compat_series(version), compat_series(info.version)
    if made is not None and here is not None and here < made:
        raise ArtifactError(
            f"this model was made with {package} {version}; the installed {info.version} is an older release "
            "that cannot read it",
            file=folder,
            field="plugin.version",
            fix=f"upgrade the plugin: pip install -U '{package}>={version}'",
        )
