"""An isolated plugin registry for a test: only the plugins the test names, restored afterwards."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

from transferkit.core.registry import ENTRY_POINT_GROUP, PluginInfo, Registry, registry_scope
from transferkit.errors import PluginError


def forget_domain_objects() -> None:
    """Drop the Domain objects built so far, so the next ``get_domain`` builds a fresh one.

    ``select.get_domain`` keeps one Domain object per name: a test must not see one built for another registry.
    :func:`isolated_registry` calls this on entry and exit.
    """
    from transferkit.core import select

    select._DOMAINS.clear()


def _installed(name: str) -> bool:
    wanted = name.lower().replace("_", "-")
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        names = {ep.name, ep.dist.name if ep.dist is not None else ""}
        if wanted in {n.lower().replace("_", "-") for n in names}:
            return True
    return False


def build_registry(*plugins: Any, strict: bool = True, **named: Any) -> Registry:
    """A registry holding only ``plugins``: module objects, or names of installed entry points.

    A name (``"vision"``, ``"acme-xray"``) is loaded through its real entry point, as ``transferkit`` itself
    would; a module or object is registered directly (``named`` gives it a plugin name). With ``strict``, a
    plugin that ends up broken raises :class:`~transferkit.errors.PluginError` with its error.

    Example:
        >>> from transferkit.testing import tiny_plugin
        >>> build_registry(tiny=tiny_plugin).plugins["tiny"].status
        'ok'
    """
    names = [p for p in plugins if isinstance(p, str)]
    for name in names:
        if not _installed(name):
            raise PluginError(f"no installed plugin called '{name}' in the '{ENTRY_POINT_GROUP}' entry-point group",
                              fix="install the package (pip install -e .) or pass the plugin module itself")
    registry = Registry.from_entry_points(only=names) if names else Registry.empty()
    # Plugins left out by `only` are listed as disabled: a test registry lists only what it loaded.
    registry.plugins = {k: v for k, v in registry.plugins.items() if v.status != "disabled"}
    objects = [(getattr(p, "__name__", type(p).__name__), p) for p in plugins if not isinstance(p, str)]
    for label, plugin in [*objects, *named.items()]:
        registry.add_plugin(plugin, info=PluginInfo(name=label, package=label, version="", module=label))
    if strict:
        broken = registry.broken()
        if broken:
            raise PluginError("; ".join(f"plugin '{p.name}' ({p.package}) is broken: {p.error}" for p in broken))
    return registry


@contextmanager
def isolated_registry(*plugins: Any, strict: bool = True, **named: Any) -> Iterator[Registry]:
    """Make a registry of only ``plugins`` the process-wide one inside the block (see :func:`build_registry`).

    The previous registry and the domain objects built for it come back afterwards, so tests do not
    leak plugins into each other.

    Example:
        >>> from transferkit.testing import tiny_plugin
        >>> with isolated_registry(tiny_plugin) as registry:
        ...     registry.domain("tiny").default_model
        'tiny/mlp.seeded'
    """
    registry = build_registry(*plugins, strict=strict, **named)
    forget_domain_objects()
    try:
        with registry_scope(registry):
            yield registry
    finally:
        forget_domain_objects()
