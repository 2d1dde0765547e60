"""What a broken third-party plugin may do, and what it may not: each case through a real entry point.

A plugin that raises on import, raises inside a hook, claims a name or a command already taken, implements
a hook this transferkit does not define, or needs a newer hook API is reported by `transferkit plugins`
with its package and its error; the CLI and every other plugin keep working.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import typer

from transferkit import hookimpl
from transferkit.core.hookspecs import HOOK_API_VERSION
from transferkit.core.registry import Registry

GOOD = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec, Preset

TRANSFERKIT_HOOK_API = 1

@hookimpl
def register_domains(register):
    register(DomainSpec(name="audio", description="sounds", factory="tkg_good:Nothing", default_model="audio/m"))

@hookimpl
def register_presets(register):
    register(Preset(id="vision/acme-parts", domain="vision", description="parts on a conveyor"))

@hookimpl
def register_commands(cli):
    @cli.command("audio-info")
    def audio_info():
        print("audio plugin here")
"""
RAISES_ON_IMPORT = "raise RuntimeError('the import of this plugin explodes')\n"
RAISES_IN_HOOK = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

@hookimpl
def register_domains(register):
    register(DomainSpec(name="lidar", description="point clouds", factory="x.y:Z", default_model="lidar/m"))
    raise ValueError("the hook explodes half-way")
"""
TAKES_A_NAME = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

@hookimpl
def register_domains(register):
    register(DomainSpec(name="nlp", description="mine now", factory="x.y:Z", default_model="nlp/m"))
"""
TAKES_TRAIN = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

@hookimpl
def register_domains(register):
    register(DomainSpec(name="sonar", description="sonar pings", factory="x.y:Z", default_model="sonar/m"))

@hookimpl
def register_commands(cli):
    @cli.command("train")
    def train():
        print("HIJACKED")
"""
RAISES_IN_COMMANDS = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

@hookimpl
def register_domains(register):
    register(DomainSpec(name="thermal", description="thermal frames", factory="x.y:Z", default_model="thermal/m"))

@hookimpl
def register_commands(cli):
    @cli.command("thermal-info")
    def thermal_info():
        print("half-added")
    raise RuntimeError("commands explode after adding one")
"""
UNKNOWN_HOOK = """
from transferkit import hookimpl

@hookimpl
def register_teleporters(register):
    pass
"""
NEWER_API = f"""
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

TRANSFERKIT_HOOK_API = {HOOK_API_VERSION + 1}

@hookimpl
def register_domains(register):
    register(DomainSpec(name="future", description="tomorrow", factory="x.y:Z", default_model="future/m"))
"""

BROKEN = {  # entry-point name -> (distribution, module, source, what its error must say)
    "imports-badly": ("tk-import-bomb", "tkg_import", RAISES_ON_IMPORT, "failed to import: RuntimeError: the import"),
    "hook-raises": ("tk-hook-bomb", "tkg_hook", RAISES_IN_HOOK, "ValueError: the hook explodes half-way"),
    "takes-nlp": ("tk-name-thief", "tkg_name", TAKES_A_NAME, "domain 'nlp' is registered by both transferkit"),
    "takes-train": ("tk-train-thief", "tkg_train", TAKES_TRAIN,
                    "command 'train' is registered by both transferkit (built-in command)"),
    "commands-raise": ("tk-cmd-bomb", "tkg_cmd", RAISES_IN_COMMANDS, "RuntimeError: commands explode"),
    "teleporter": ("tk-teleporter", "tkg_unknown", UNKNOWN_HOOK, "'register_teleporters' that transferkit hook API"),
    "from-future": ("tk-future", "tkg_future", NEWER_API,
                    f"built for transferkit hook API {HOOK_API_VERSION + 1}, this transferkit provides {HOOK_API_VERSION}"),
}


def install_all(fake_site) -> Path:
    site = None
    for ep_name, (dist, module, source, _) in BROKEN.items():
        site = fake_site(dist, {ep_name: module}, {module: source})
    return fake_site("tk-good", {"audio": "tkg_good"}, {"tkg_good": GOOD}) or site


def copy_of_the_cli() -> typer.Typer:
    """A Typer app with transferkit's own commands, which the test may change without touching the real one."""
    from transferkit.cli import app

    copy = typer.Typer()
    copy.registered_commands, copy.registered_groups = list(app.registered_commands), list(app.registered_groups)
    return copy


def test_each_broken_plugin_is_reported_and_the_others_work(fake_site):
    install_all(fake_site)
    registry = Registry.from_entry_points()
    registry.add_commands(copy_of_the_cli())
    for ep_name, (dist, _, _, expected) in BROKEN.items():
        info = registry.plugins[ep_name]
        assert (info.status, info.package) == ("broken", dist), (ep_name, info)
        assert expected in info.error, (ep_name, info.error)
    assert registry.plugins["audio"].status == "ok"
    assert {"vision", "nlp", "medical", "audio"} <= set(registry.domains)
    assert "vision/acme-parts" in registry.presets
    # Nothing a broken plugin registered before it failed survives.
    assert not {"lidar", "sonar", "thermal", "future"} & set(registry.domains)
    assert registry.domains["nlp"].plugin.startswith("transferkit ")


def run_cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "transferkit.cli", *args], capture_output=True, text=True, env=env)


def test_the_cli_keeps_working_and_names_each_broken_package(fake_site):
    site = install_all(fake_site)
    listed = run_cli(site, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    for ep_name, (dist, _, _, expected) in BROKEN.items():
        assert rows[ep_name]["package"] == dist and rows[ep_name]["status"] == "broken"
        assert expected in rows[ep_name]["error"]
    assert rows["audio"]["status"] == "ok" and rows["audio"]["provides"]["commands"] == ["audio-info"]

    domains = run_cli(site, "domains")
    assert domains.returncode == 0, domains.stderr
    assert "vision" in domains.stdout and "audio" in domains.stdout
    warnings = " ".join(domains.stderr.split())
    for dist, *_ in BROKEN.values():
        assert dist in warnings

    hello = run_cli(site, "audio-info")  # a good plugin's command works beside the broken ones
    assert hello.returncode == 0 and "audio plugin here" in hello.stdout
    train = run_cli(site, "train", "--help")  # still transferkit's own train
    assert train.returncode == 0 and "HIJACKED" not in train.stdout and "--domain" in train.stdout
    half = run_cli(site, "thermal-info")  # the command added before the hook raised was removed
    assert half.returncode == 2


def _command_plugin(name: str, command: str):
    import types

    plugin = types.ModuleType(name)

    @hookimpl
    def register_commands(cli):
        @cli.command(command)
        def run():
            print(name)

    plugin.register_commands = register_commands
    return plugin


def test_two_plugins_cannot_share_a_command_and_a_group_cannot_shadow_one():
    app = typer.Typer()

    @app.command()
    def train():
        pass

    registry = Registry.empty()
    first = registry.add_plugin(_command_plugin("tk_one", "export"), name="one")
    second = registry.add_plugin(_command_plugin("tk_two", "export"), name="two")
    import types

    grouping = types.ModuleType("tk_group")

    @hookimpl
    def register_commands(cli):
        cli.add_typer(typer.Typer(), name="train")

    grouping.register_commands = register_commands
    third = registry.add_plugin(grouping, name="group")
    registry.add_commands(app)
    assert first.status == "ok" and first.provides == {"commands": ["export"]}
    assert second.status == "broken" and "command 'export' is registered by both one (plugin 'one') and two" in second.error
    assert third.status == "broken" and "command 'train' is registered by both transferkit" in third.error
    assert [c.callback.__name__ for c in app.registered_commands] == ["train", "run"]
    assert app.registered_groups == []


def test_adding_commands_twice_to_one_app_keeps_one_copy():
    # main() runs add_commands on every call; in one process (tests, notebooks) that is the same app.
    app = typer.Typer()
    for _ in range(2):
        registry = Registry.empty()
        info = registry.add_plugin(_command_plugin("tk_one", "export"), name="one")
        registry.add_commands(app)
        assert info.status == "ok", info.error
    assert len(app.registered_commands) == 1


def test_a_hook_api_version_that_is_not_a_number_is_refused():
    import types

    plugin = types.ModuleType("tk_odd")
    plugin.TRANSFERKIT_HOOK_API = "2.0"
    info = Registry.empty().add_plugin(plugin, name="odd")
    assert info.status == "broken" and "TRANSFERKIT_HOOK_API = '2.0' is not a hook API version" in info.error


EVERY_HOOK = """
from transferkit import hookimpl
from transferkit.core.specs import DatasetSpec, DomainSpec, ModelSource, Preset

TRANSFERKIT_HOOK_API = 1

@hookimpl
def register_domains(register):
    register(DomainSpec(name="sonar", description="pings", factory="tkg_every:Nothing", default_model="sonar/cnn.a"))

@hookimpl
def register_models(register):
    register(ModelSource(id="sonar/cnn.a", domain="sonar", description="a CNN", kind="scratch", location="-"))

@hookimpl
def register_presets(register):
    register(Preset(id="sonar/harbour", domain="sonar", description="harbour noise"))

@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="sonar-pings", domain="sonar", description="pings", url="https://example.org",
                         license="CC0", citation="none", mirror_path="sonar"))

@hookimpl
def register_commands(cli):
    @cli.command("sonar-info")
    def sonar_info():
        print("sonar")
"""
SAME_MODEL = """
from transferkit import hookimpl
from transferkit.core.specs import ModelSource

@hookimpl
def register_models(register):
    register(ModelSource(id="sonar/cnn.a", domain="sonar", description="mine", kind="scratch", location="-"))
"""


def test_every_hook_registers_under_its_package_and_a_taken_model_id_is_refused(fake_site):
    fake_site("tk-sonar", {"sonar": "tkg_every"}, {"tkg_every": EVERY_HOOK})
    fake_site("tk-sonar-copy", {"sonar-copy": "tkg_same"}, {"tkg_same": SAME_MODEL})
    registry = Registry.from_entry_points()
    app = copy_of_the_cli()
    registry.add_commands(app)
    owner = "tk-sonar (plugin 'sonar')"
    assert registry.plugins["sonar"].provides == {"domains": ["sonar"], "models": ["sonar/cnn.a"],
                                                  "presets": ["sonar/harbour"], "datasets": ["sonar-pings"],
                                                  "commands": ["sonar-info"]}
    records = [registry.domains["sonar"], registry.models["sonar/cnn.a"], registry.presets["sonar/harbour"],
               registry.datasets["sonar-pings"]]
    assert [r.plugin for r in records] == [owner] * 4
    assert app._transferkit_command_owners == {"sonar-info": owner}
    copy = registry.plugins["sonar-copy"]
    assert copy.status == "broken" and f"model 'sonar/cnn.a' is registered by both {owner}" in copy.error
