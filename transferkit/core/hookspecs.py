"""The hooks a transferkit plugin can implement, and the version of this hook API.

Plugins import the marker as ``from transferkit import hookimpl``, never pluggy itself, and register
what they provide through the ``register`` callback, so that the core can validate every record,
remember which plugin provided it, and refuse duplicates with both names in the message.

A plugin module may declare the hook API it was written for, ``TRANSFERKIT_HOOK_API = 1``; a plugin
that needs a newer API than :data:`HOOK_API_VERSION` is refused with the reason (upgrade transferkit)
instead of failing half-way. Every hook is documented in docs/plugins.md, with an example
(tests/contract/test_hooks_documented.py enforces it).

Example plugin module::

    from transferkit import hookimpl
    from transferkit.core.specs import DomainSpec

    TRANSFERKIT_HOOK_API = 1

    @hookimpl
    def register_domains(register):
        register(DomainSpec(name="audio", description="...", factory="tk_audio.domain:AudioDomain",
                            default_model="audio/wav2vec2-base"))
"""
from __future__ import annotations

import pluggy

PROJECT = "transferkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# Bumped when a hook is added or a hook's arguments change. Older plugins keep working (hooks are only
# added, never removed within a major release); a plugin that declares a newer version is refused.
HOOK_API_VERSION = 1
# The module attribute in which a plugin declares the hook API it needs.
HOOK_API_ATTRIBUTE = "TRANSFERKIT_HOOK_API"


@hookspec
def register_domains(register):  # type: ignore[no-untyped-def]
    """Register domains: call ``register(DomainSpec(...))`` once per domain."""


@hookspec
def register_models(register):  # type: ignore[no-untyped-def]
    """Register pretrained backbones for any domain: ``register(ModelSource(...))``."""


@hookspec
def register_presets(register):  # type: ignore[no-untyped-def]
    """Register presets: ``register(path_to_toml)`` or ``register(Preset(...))``."""


@hookspec
def register_datasets(register):  # type: ignore[no-untyped-def]
    """Register public datasets: ``register(DatasetSpec(...))``."""


@hookspec
def register_commands(cli):  # type: ignore[no-untyped-def]
    """Add sub-commands to the ``transferkit`` Typer app ``cli``; a name already taken is refused."""


def hook_names() -> list[str]:
    """The names of every hook of this API, in declaration order.

    Example:
        >>> hook_names()[0]
        'register_domains'
    """
    return [name for name, value in globals().items() if hasattr(value, PROJECT + "_spec")]
