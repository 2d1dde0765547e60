"""The plugin manager: entry-point loading with guards, conflict detection, and the catalogs.

Every plugin, the built-in ones included, is an entry point in the ``transferkit`` group. Loading is
guarded: a plugin that fails to import or to register is recorded as broken (name, package, error)
and skipped, so one bad package never takes the CLI down (llm#1280, conda#12096).

``TRANSFERKIT_LOAD_PLUGINS`` (comma list of distribution or entry-point names; empty loads none) and
``TRANSFERKIT_DISABLE_PLUGINS`` choose what loads; a blocked plugin is never imported.

Registering is cheap (no framework, no pydantic): domains, models and datasets are checked at once; presets are
queued and read, checked against the schema and claimed on first use (:meth:`Registry.validate_presets`).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from transferkit.core import hookspecs
from transferkit.core.specs import DatasetSpec, DomainSpec, ModelSource
from transferkit.errors import PluginError, unknown_name

if TYPE_CHECKING:  # pydantic: imported when a preset is first used, see Registry.validate_presets
    from transferkit.core.preset_schema import Preset

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
    hook_api: int = 1  # the hook API version the plugin declares it needs (hookspecs.HOOK_API_VERSION)

    @property
    def owner(self) -> str:
        """How records and commands name this plugin: ``package (plugin 'name')``."""
        return f"{self.package} (plugin '{self.name}')"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "provides": self.provides,
            "hook_api": self.hook_api,
        }


def _distribution_of(ep: metadata.EntryPoint, parsed: dict[int, tuple[str, str]]) -> tuple[str, str]:
    """The name and version of the distribution that declares ``ep``.

    ``Distribution.name`` and ``.version`` each parse the METADATA file again (an e-mail parser, about 1 ms a
    time); the entry points of one distribution share one object, so ``parsed`` (keyed by its id, valid while
    the entry points are alive) lets each file be parsed once.
    """
    if ep.dist is None:
        return ep.module.split(".")[0], ""
    key = id(ep.dist)
    if key not in parsed:
        meta = ep.dist.metadata
        parsed[key] = (meta["Name"], meta["Version"])
    return parsed[key]


@dataclass
class _QueuedPreset:
    """A preset as a plugin registered it (a TOML file, or a Preset), read and checked on first use."""

    item: Any
    info: PluginInfo


def _error_text(err: Exception) -> str:
    return err.message if isinstance(err, PluginError) else f"{type(err).__name__}: {err}"


_PROVIDES_ORDER = ["domains", "models", "presets", "datasets", "commands"]


def _conflict(kind: str, key: str, other: str, info: PluginInfo) -> PluginError:
    """The error for a name that two plugins register: the earlier claim stays, the later plugin is broken."""
    return PluginError(f"{kind} '{key}' is registered by both {other} and {info.owner}",
                       fix=f"uninstall one of them, or disable one with TRANSFERKIT_DISABLE_PLUGINS={info.name}")


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
        self._presets: dict[str, Preset] = {}
        # Presets wait here, in registration order, until first used (see validate_presets).
        self._preset_queue: list[_QueuedPreset] = []
        self.datasets: dict[str, DatasetSpec] = {}

    # ----------------------------------------------------------------- loading
    @classmethod
    def empty(cls) -> "Registry":
        """A registry with no plugin loaded (tests add their own with :meth:`add_plugin`)."""
        return cls()

    @classmethod
    def from_entry_points(cls, only: Iterable[str] | None = None) -> "Registry":
        """Load every allowed plugin of the ``transferkit`` entry-point group.

        ``only`` (entry-point or distribution names) replaces ``TRANSFERKIT_LOAD_PLUGINS`` for this call:
        what :func:`transferkit.testing.isolated_registry` uses to load a plugin through its real entry point.
        """
        registry = cls()
        allow = list(only) if only is not None else _env_list("TRANSFERKIT_LOAD_PLUGINS")
        deny = _env_list("TRANSFERKIT_DISABLE_PLUGINS") or []
        seen: set[tuple[str, str]] = set()
        parsed: dict[int, tuple[str, str]] = {}
        found = [(ep, *_distribution_of(ep, parsed)) for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)]
        # Built-ins first, then third parties by name: on a conflict the earlier claim stays and the later
        # plugin is reported as broken, so a third-party package can never silently replace a built-in.
        found.sort(key=lambda row: (row[0].dist is None or row[1] != "transferkit", row[0].name))
        for ep, dist, version in found:
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
        refusal = _check_hook_api(plugin, info)
        if refusal:
            info.status, info.error = "broken", refusal
            return info
        try:
            self.pm.register(plugin, name=info.name)
            self.pm.check_pending()
        except Exception as err:  # noqa: BLE001 - unknown hooks (newer plugin than host), duplicates...
            info.status, info.error = "broken", f"failed to register: {type(err).__name__}: {err}"
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            return info
        snapshot = (dict(self.domains), dict(self.models), list(self._preset_queue), dict(self.datasets))
        try:
            self._collect(plugin, info)
        except Exception as err:  # noqa: BLE001
            self.domains, self.models, self._preset_queue, self.datasets = snapshot
            info.status = "broken"
            info.error = _error_text(err)
            info.provides = {}
            self.pm.unregister(plugin)
        return info

    def _collect(self, plugin: object, info: PluginInfo) -> None:
        owner = info.owner

        def adder(kind: str, table: dict[str, Any], cls: type, key: str) -> Callable[[Any], None]:
            def register(record: Any) -> None:
                if not isinstance(record, cls):
                    raise PluginError(
                        f"{kind} registered by {owner} is a {type(record).__name__}, expected {cls.__name__}"
                    )
                record_key = getattr(record, key)
                if record_key in table:
                    raise _conflict(kind, record_key, table[record_key].plugin, info)
                table[record_key] = record.model_copy(update={"plugin": owner})
                info.provides.setdefault(kind + "s", []).append(record_key)

            return register

        caller = self._hook_caller_for(plugin)
        caller("register_domains", register=adder("domain", self.domains, DomainSpec, "name"))
        caller("register_models", register=adder("model", self.models, ModelSource, "id"))
        caller("register_presets", register=lambda item: self._preset_queue.append(_QueuedPreset(item, info)))
        caller("register_datasets", register=adder("dataset", self.datasets, DatasetSpec, "name"))

    @property
    def presets(self) -> dict[str, Preset]:
        """Every registered preset by id, read and checked on first use (see :meth:`validate_presets`)."""
        self.validate_presets()
        return self._presets

    def validate_presets(self) -> None:
        """Read and check the presets the plugins registered, in the order they registered them: a plugin whose
        preset file is missing, is not TOML, fails the preset schema or takes an id another plugin registered
        first is marked broken, and everything it registered is forgotten, as if its hook had failed.

        Registration only queues them: reading 22 TOML files and importing pydantic for the schema took half
        the start-up of `transferkit domains` and `--help`, which need no preset.

        Example:
            >>> registry = Registry.from_entry_points()
            >>> registry.validate_presets()
            >>> registry.presets["vision/general"].domain
            'vision'
        """
        queue, self._preset_queue = self._preset_queue, []
        for queued in queue:
            info = queued.info
            if info.status == "broken":  # marked broken by one of its presets just before
                continue
            try:
                preset = _read_preset(queued.item, info)
                if preset.id in self._presets:
                    raise _conflict("preset", preset.id, self._presets[preset.id].plugin, info)
            except Exception as err:  # noqa: BLE001 - whatever a plugin's preset is, it breaks the plugin, not the CLI
                self._mark_broken(info, _error_text(err))
                continue
            self._presets[preset.id] = preset.model_copy(update={"plugin": info.owner})
            info.provides.setdefault("presets", []).append(preset.id)
            # Listed in hook order, as when presets were read at registration: domains, models, presets...
            info.provides = {kind: info.provides[kind] for kind in sorted(info.provides, key=_PROVIDES_ORDER.index)}

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

    def broken(self, *, presets: bool = True) -> list[PluginInfo]:
        """The plugins that failed to load or register, their presets included (:meth:`validate_presets`).
        ``presets=False`` leaves the presets unread: `transferkit domains`, which has no other use for them."""
        if presets:
            self.validate_presets()
        return [p for p in self.plugins.values() if p.status == "broken"]

    def add_commands(self, cli: Any) -> None:
        """Let plugins add CLI commands to the Typer app ``cli``, refusing any name already taken.

        A plugin whose ``register_commands`` raises, or adds a command (or command group) whose name the
        core or another plugin already uses, is marked broken: the commands it added are removed and
        everything else it registered is forgotten, so no plugin can silently replace ``train``. Calling
        this again on the same app (``main()`` run twice in one process) replaces a plugin's own commands.
        """
        owners: dict[str, str] = cli.__dict__.setdefault("_transferkit_command_owners", {})
        for name, plugin in self.pm.list_name_plugin():
            impl = getattr(plugin, "register_commands", None)
            if impl is None or not hasattr(impl, hookspecs.PROJECT + "_impl"):
                continue
            info = self.plugins.get(name) or PluginInfo(name=name, package=name, version="", module=name)
            if any(queued.info is info for queued in self._preset_queue):
                # A plugin with a bad preset is broken and adds no command: check its presets first (the
                # built-in plugins add none, so `transferkit domains` still reads no preset).
                self.validate_presets()
                if info.status == "broken":
                    continue
            commands, groups = list(cli.registered_commands), list(cli.registered_groups)
            try:
                impl(cli=cli)
                added = [(c, _command_name(c)) for c in cli.registered_commands if c not in commands]
                added += [(g, n) for g in cli.registered_groups if g not in groups for n in _group_names(g)]
                taken = {n: owners.get(n, "transferkit (built-in command)")
                         for n in _taken_names(commands, groups)}
                mine = [n for n, holder in taken.items() if holder == info.owner]
                seen: set[str] = set()
                for _, command in added:
                    holder = taken.get(command) if command not in mine else None
                    if command in seen:
                        holder = info.owner
                    if holder is not None:
                        raise PluginError(
                            f"command '{command}' is registered by both {holder} and {info.owner}",
                            fix=f"rename the plugin's command, or disable it with TRANSFERKIT_DISABLE_PLUGINS={name}",
                        )
                    seen.add(command)
            except Exception as err:  # noqa: BLE001 - a plugin may raise anything
                cli.registered_commands[:] = commands
                cli.registered_groups[:] = groups
                message = err.message if isinstance(err, PluginError) else f"{type(err).__name__}: {err}"
                self._mark_broken(info, f"register_commands failed: {message}")
                continue
            # The same plugin added these commands on an earlier call: keep only the new copies.
            stale = {n for n in seen if n in mine}
            cli.registered_commands[:] = [c for c in cli.registered_commands
                                          if c not in commands or _command_name(c) not in stale]
            cli.registered_groups[:] = [g for g in cli.registered_groups
                                        if g not in groups or not set(_group_names(g)) & stale]
            for command in seen:
                owners[command] = info.owner
            if seen:
                info.provides["commands"] = sorted(seen)

    def _mark_broken(self, info: PluginInfo, error: str) -> None:
        """Mark a plugin broken after it registered: forget every record it provided."""
        info.status, info.error, info.provides = "broken", error, {}
        for table in (self.domains, self.models, self._presets, self.datasets):
            for key in [k for k, record in table.items() if record.plugin == info.owner]:
                del table[key]
        self._preset_queue = [queued for queued in self._preset_queue if queued.info is not info]
        if self.pm.has_plugin(info.name):
            self.pm.unregister(name=info.name)


def _read_preset(item: Any, info: PluginInfo) -> Preset:
    """The Preset a plugin registered: a TOML file's path (read and checked here), or a Preset itself."""
    from transferkit.core.preset_schema import Preset
    from transferkit.core.presets import read_preset_file

    if isinstance(item, (str, os.PathLike)):
        return read_preset_file(Path(item))
    if not isinstance(item, Preset):
        raise PluginError(f"preset registered by {info.owner} is a {type(item).__name__}, expected Preset "
                          "or the path of a TOML file")
    return item.model_copy(update={"source": item.source or info.owner})


def _check_hook_api(plugin: object, info: PluginInfo) -> str:
    """Why ``plugin`` cannot be used with this hook API ('' when it can): a newer API, an unknown hook."""
    declared = getattr(plugin, hookspecs.HOOK_API_ATTRIBUTE, 1)
    if not isinstance(declared, int) or isinstance(declared, bool) or declared < 1:
        return (f"{hookspecs.HOOK_API_ATTRIBUTE} = {declared!r} is not a hook API version "
                f"(a whole number; this transferkit provides {hookspecs.HOOK_API_VERSION})")
    info.hook_api = declared
    if declared > hookspecs.HOOK_API_VERSION:
        return (f"built for transferkit hook API {declared}, this transferkit provides "
                f"{hookspecs.HOOK_API_VERSION}: upgrade transferkit (pip install -U transferkit) or install "
                f"an older release of {info.package}")
    known = set(hookspecs.hook_names())
    unknown = sorted(name for name in dir(plugin) if hasattr(getattr(plugin, name, None), hookspecs.PROJECT + "_impl")
                     and name not in known)
    if unknown:
        return (f"implements hook {', '.join(repr(n) for n in unknown)} that transferkit hook API "
                f"{hookspecs.HOOK_API_VERSION} does not define (known hooks: {', '.join(sorted(known))}): "
                "the plugin needs a newer transferkit, or misspelt the hook name")
    return ""


def _plain(value: Any) -> Any:
    # Typer keeps unset options as DefaultPlaceholder objects; their .value is the default.
    from typer.models import DefaultPlaceholder

    return value.value if isinstance(value, DefaultPlaceholder) else value


def _command_name(command: Any) -> str:
    """The name Typer gives a registered command: its explicit name, else the function's, dashed."""
    from typer.main import get_command_name

    name = _plain(command.name)
    return name or get_command_name(command.callback.__name__)


def _group_names(group: Any) -> list[str]:
    """The top-level names a command group adds: its own, or its commands' when it has none (merged)."""
    instance = _plain(group.typer_instance)
    name = _plain(group.name) or (_plain(instance.info.name) if instance is not None else None)
    if name:
        return [name]
    if instance is None:
        return []
    return [_command_name(c) for c in instance.registered_commands] + [
        n for g in instance.registered_groups for n in _group_names(g)
    ]


def _taken_names(commands: list[Any], groups: list[Any]) -> list[str]:
    return [_command_name(c) for c in commands] + [n for g in groups for n in _group_names(g)]


_REGISTRY: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, loaded from entry points on first use.

    Example:
        >>> "vision" in get_registry().domains
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


@contextmanager
def registry_scope(registry: Registry | None) -> Iterator[Registry | None]:
    """Use ``registry`` as the process-wide registry inside the block, then restore the previous one.

    Example:
        >>> with registry_scope(Registry.empty()) as scoped:
        ...     get_registry() is scoped
        True
    """
    global _REGISTRY
    previous = _REGISTRY
    _REGISTRY = registry
    try:
        yield registry
    finally:
        _REGISTRY = previous


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

