"""The plugin manager: entry-point loading with guards, conflict detection, and the catalogs.

Every plugin, the built-in ones included, is an entry point in the ``transferkit`` group. Loading is
guarded: a plugin that fails to import or to register is recorded as broken (name, package, error)
and skipped, so one bad package never takes the CLI down (llm#1280, conda#12096).

``TRANSFERKIT_LOAD_PLUGINS`` (comma list of distribution or entry-point names; empty loads none) and
``TRANSFERKIT_DISABLE_PLUGINS`` choose what loads; a blocked plugin is never imported.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from transferkit.core import hookspecs
from transferkit.core.specs import DatasetSpec, DomainSpec, ModelSource, Preset
from transferkit.errors import PluginError, unknown_name

ENTRY_POINT_GROUP = "transferkit"


@dataclass
class PluginInfo:
    """What the registry knows about one plugin: where it came from and what it provided."""

    name: str
    package: str
    version: str
    module: str
    status: str = "ok"  # ok | broken | disabled
    error: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "provides": self.provides,
        }


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _normalise(name: str) -> str:
    # Distribution names and entry-point names get mixed up (datasette PR#2165): compare them loosely.
    return name.lower().replace("_", "-")


class Registry:
    """Loads plugins and holds what they registered.

    Example:
        >>> Registry.empty().domains
        {}
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.domains: dict[str, DomainSpec] = {}
        self.models: dict[str, ModelSource] = {}
        self.presets: dict[str, Preset] = {}
        self.datasets: dict[str, DatasetSpec] = {}
        self._preset_files: dict[str, tuple[Path, str]] = {}

    # ----------------------------------------------------------------- loading
    @classmethod
    def empty(cls) -> "Registry":
        """A registry with no plugin loaded (tests add their own with :meth:`add_plugin`)."""
        return cls()

    @classmethod
    def from_entry_points(cls) -> "Registry":
        """Load every allowed plugin of the ``transferkit`` entry-point group."""
        registry = cls()
        allow = _env_list("TRANSFERKIT_LOAD_PLUGINS")
        deny = _env_list("TRANSFERKIT_DISABLE_PLUGINS") or []
        seen: set[tuple[str, str]] = set()
        # Built-ins first, then third parties by name: on a conflict the earlier claim stays and the later
        # plugin is reported as broken, so a third-party package can never silently replace a built-in.
        def order(ep: metadata.EntryPoint) -> tuple[bool, str]:
            return (ep.dist is None or ep.dist.name != "transferkit", ep.name)

        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=order):
            dist = ep.dist.name if ep.dist is not None else ep.module.split(".")[0]
            version = ep.dist.version if ep.dist is not None else ""
            # The same dist-info seen twice (a lib64 -> lib symlink, instawow#188) is one plugin.
            if (ep.name, ep.value) in seen:
                continue
            seen.add((ep.name, ep.value))
            names = {_normalise(ep.name), _normalise(dist)}
            info = PluginInfo(name=ep.name, package=dist, version=version, module=ep.value)
            if (allow is not None and not names & {_normalise(a) for a in allow}) or names & {
                _normalise(d) for d in deny
            }:
                info.status = "disabled"
                registry.plugins[ep.name] = info
                continue
            try:
                module = ep.load()
            except BaseException as err:  # noqa: BLE001 - a plugin may raise anything, even SystemExit
                if isinstance(err, KeyboardInterrupt):
                    raise
                info.status, info.error = "broken", f"failed to import: {type(err).__name__}: {err}"
                registry.plugins[ep.name] = info
                continue
            registry.add_plugin(module, info=info)
        return registry

    def add_plugin(self, plugin: object, *, info: PluginInfo | None = None, name: str | None = None) -> PluginInfo:
        """Register one plugin object (a module or any object with hookimpls) and collect what it provides.

        A plugin whose hooks raise, or that registers something invalid, is marked broken and everything
        it registered is rolled back. A name another plugin already registered makes the later plugin
        broken, with both packages named in its error (conda's rule: refuse, never silently rename).
        """
        if info is None:
            label = name or getattr(plugin, "__name__", type(plugin).__name__)
            info = PluginInfo(name=label, package=label, version="", module=label)
        self.plugins[info.name] = info
        try:
            self.pm.register(plugin, name=info.name)
            self.pm.check_pending()
        except Exception as err:  # noqa: BLE001 - unknown hooks (newer plugin than host), duplicates...
            info.status, info.error = "broken", f"failed to register: {type(err).__name__}: {err}"
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            return info
        snapshot = (dict(self.domains), dict(self.models), dict(self.presets), dict(self.datasets))
        try:
            self._collect(plugin, info)
        except Exception as err:  # noqa: BLE001
            self.domains, self.models, self.presets, self.datasets = snapshot
            info.status = "broken"
            info.error = err.message if isinstance(err, PluginError) else f"{type(err).__name__}: {err}"
            info.provides = {}
            self.pm.unregister(plugin)
        return info

    def _collect(self, plugin: object, info: PluginInfo) -> None:
        owner = f"{info.package} (plugin '{info.name}')"

        def adder(kind: str, table: dict[str, Any], cls: type, key: str) -> Callable[[Any], None]:
            def register(record: Any) -> None:
                if not isinstance(record, cls):
                    raise PluginError(
                        f"{kind} registered by {owner} is a {type(record).__name__}, expected {cls.__name__}"
                    )
                record_key = getattr(record, key)
                if record_key in table:
                    other = table[record_key].plugin
                    raise PluginError(
                        f"{kind} '{record_key}' is registered by both {other} and {owner}",
                        fix=f"uninstall one of them, or disable one with TRANSFERKIT_DISABLE_PLUGINS={info.name}",
                    )
                table[record_key] = record.model_copy(update={"plugin": owner})
                info.provides.setdefault(kind + "s", []).append(record_key)

            return register

        def register_preset(item: Any) -> None:
            from transferkit.core.presets import read_preset_file

            preset = item if isinstance(item, Preset) else read_preset_file(Path(item))
            preset = preset.model_copy(update={"source": preset.source or f"{owner}"})
            adder("preset", self.presets, Preset, "id")(preset)

        caller = self._hook_caller_for(plugin)
        caller("register_domains", register=adder("domain", self.domains, DomainSpec, "name"))
        caller("register_models", register=adder("model", self.models, ModelSource, "id"))
        caller("register_presets", register=register_preset)
        caller("register_datasets", register=adder("dataset", self.datasets, DatasetSpec, "name"))

    def _hook_caller_for(self, plugin: object) -> Callable[..., None]:
        # Call each hook for this one plugin only, so that a failure is attributed to it (pluggy#419).
        def call(hook_name: str, **kwargs: Any) -> None:
            impl = getattr(plugin, hook_name, None)
            if impl is not None and hasattr(impl, hookspecs.PROJECT + "_impl"):
                impl(**kwargs)

        return call

    # ----------------------------------------------------------------- lookups
    def domain(self, name: str) -> DomainSpec:
        """The domain called ``name``, or an error listing close matches and how to add a plugin."""
        if name not in self.domains:
            raise unknown_name(
                "domain",
                name,
                self.domains,
                fix="run `transferkit domains` to see what is installed; a third-party domain is a plugin "
                "installed with pip (see docs/plugins.md)",
            )
        return self.domains[name]

    def model(self, model_id: str) -> ModelSource:
        if model_id not in self.models:
            raise unknown_name("model", model_id, self.models, fix="run `transferkit models` to list the catalog")
        return self.models[model_id]

    def preset(self, preset_id: str) -> Preset:
        if preset_id not in self.presets:
            raise unknown_name(
                "preset", preset_id, self.presets, fix="run `transferkit presets`, or pass a .toml file"
            )
        return self.presets[preset_id]

    def models_for(self, domain: str) -> list[ModelSource]:
        return [m for m in self.models.values() if m.domain == domain]

    def presets_for(self, domain: str) -> list[Preset]:
        return [p for p in self.presets.values() if p.domain == domain]

    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status == "broken"]

    def add_commands(self, cli: Any) -> None:
        """Let plugins add CLI commands; a failing plugin is reported, the others still add theirs."""
        for name, plugin in self.pm.list_name_plugin():
            impl = getattr(plugin, "register_commands", None)
            if impl is None or not hasattr(impl, hookspecs.PROJECT + "_impl"):
                continue
            try:
                impl(cli=cli)
            except Exception as err:  # noqa: BLE001
                info = self.plugins.get(name)
                if info is not None:
                    info.status, info.error = "broken", f"register_commands failed: {type(err).__name__}: {err}"


_REGISTRY: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, loaded from entry points on first use.

    Example:
        >>> "vision" in get_registry().domains  # doctest: +SKIP
        True
    """
    global _REGISTRY
    if _REGISTRY is None or refresh:
        _REGISTRY = Registry.from_entry_points()
    return _REGISTRY


def set_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry (tests use this to isolate plugins)."""
    global _REGISTRY
    _REGISTRY = registry


def load_object(path: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute, with a clear error if it fails."""
    module_name, _, attr = path.partition(":")
    import importlib

    try:
        module: ModuleType = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as err:
        raise PluginError(f"cannot load '{path}': {err}") from err


def iter_domains_status(registry: Registry) -> Iterable[dict[str, Any]]:
    """One dict per domain: name, plugin, status (available / unavailable) and the fix."""
    for spec in sorted(registry.domains.values(), key=lambda s: s.name):
        missing = spec.missing()
        yield {
            "name": spec.name,
            "description": spec.description,
            "plugin": spec.plugin,
            "status": "available" if not missing else "unavailable",
            "missing": missing,
            "fix": spec.install if missing else "",
            "default_model": spec.default_model,
            "default_preset": spec.default_preset,
            "data": spec.data_help,
        }

