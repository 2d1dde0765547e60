"""The hooks a transferkit plugin can implement.

Plugins import the marker as ``from transferkit import hookimpl``, never pluggy itself, and register
what they provide through the ``register`` callback, so that the core can validate every record,
remember which plugin provided it, and refuse duplicates with both names in the message.

Example plugin module::

    from transferkit import hookimpl
    from transferkit.core.specs import DomainSpec

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
    """Add sub-commands to the ``transferkit`` Typer app ``cli``."""
