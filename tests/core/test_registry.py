"""Plugin loading: guards, conflicts, allow/deny lists, unavailable domains. Real entry points, no install."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from transferkit.core.registry import Registry
from transferkit.errors import UsageError


def make_dist(root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """A fake installed distribution: a dist-info with entry points, and its modules (conda's trick)."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[transferkit]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


GOOD = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

@hookimpl
def register_domains(register):
    register(DomainSpec(name="audio", description="sounds", factory="x.y:Z", default_model="audio/m"))
"""
CLAIMS_VISION = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

@hookimpl
def register_domains(register):
    register(DomainSpec(name="vision", description="mine", factory="x.y:Z", default_model="vision/m"))
"""
NEEDS_MISSING = """
from transferkit import hookimpl
from transferkit.core.specs import DomainSpec

@hookimpl
def register_domains(register):
    register(DomainSpec(name="radar", description="radar returns", factory="x.y:Z", default_model="radar/m",
                        requires=["surely_not_installed_radar_lib"], install="pip install tk-radar[full]"))
"""
BROKEN = "import surely_not_installed_module_xyz\n"
UNKNOWN_HOOK = """
from transferkit import hookimpl

@hookimpl
def register_teleporters(register):
    pass
"""


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    make_dist(
        tmp_path,
        "tk_fake_plugins",
        {"audio": "tkf_good", "broken": "tkf_broken", "thief": "tkf_thief", "radar": "tkf_radar",
         "future": "tkf_future"},
        {"tkf_good": GOOD, "tkf_broken": BROKEN, "tkf_thief": CLAIMS_VISION, "tkf_radar": NEEDS_MISSING,
         "tkf_future": UNKNOWN_HOOK},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m.startswith("tkf_")]:
        monkeypatch.delitem(sys.modules, module)
    return tmp_path


def test_broken_and_conflicting_plugins_are_reported_and_skipped(fake_site):
    registry = Registry.from_entry_points()
    assert {"audio", "vision", "radar"} <= set(registry.domains)
    assert registry.plugins["broken"].status == "broken"
    assert "surely_not_installed_module_xyz" in registry.plugins["broken"].error
    thief = registry.plugins["thief"]
    assert thief.status == "broken"
    assert "'vision' is registered by both" in thief.error and "tk_fake_plugins" in thief.error
    assert registry.domains["vision"].plugin.startswith("transferkit")
    assert registry.plugins["future"].status == "broken" and "register_teleporters" in registry.plugins["future"].error


def test_unavailable_domain_lists_the_fix(fake_site):
    from transferkit.core.registry import iter_domains_status

    rows = {row["name"]: row for row in iter_domains_status(Registry.from_entry_points())}
    assert rows["radar"]["status"] == "unavailable"
    assert rows["radar"]["fix"] == "pip install tk-radar[full]"
    assert rows["audio"]["status"] == "available"


def test_load_plugins_allow_list_never_imports_blocked(fake_site, monkeypatch):
    monkeypatch.setenv("TRANSFERKIT_LOAD_PLUGINS", "audio")
    registry = Registry.from_entry_points()
    assert set(registry.domains) == {"audio"}
    assert "tkf_broken" not in sys.modules and "tkf_thief" not in sys.modules
    assert registry.plugins["vision"].status == "disabled"


def test_empty_load_list_loads_nothing(fake_site, monkeypatch):
    monkeypatch.setenv("TRANSFERKIT_LOAD_PLUGINS", "")
    assert Registry.from_entry_points().domains == {}


def test_disable_list_by_distribution_name(fake_site, monkeypatch):
    monkeypatch.setenv("TRANSFERKIT_DISABLE_PLUGINS", "tk-fake-plugins")
    registry = Registry.from_entry_points()
    assert "audio" not in registry.domains and "vision" in registry.domains
    assert "tkf_broken" not in sys.modules


def test_unknown_domain_suggests_close_matches():
    registry = Registry.from_entry_points()
    with pytest.raises(UsageError, match="did you mean: vision") as info:
        registry.domain("visoin")
    assert info.value.exit_code == 2


def test_invalid_record_rolls_back_the_plugin():
    import types

    from transferkit import hookimpl

    plugin = types.ModuleType("half_broken")

    @hookimpl
    def register_presets(register):
        register("/nonexistent/preset.toml")

    plugin.register_presets = register_presets
    registry = Registry.empty()
    info = registry.add_plugin(plugin, name="half")
    assert registry.presets == {}  # presets are read on first use (Registry.validate_presets)
    assert info.status == "broken" and "preset file not found" in info.error


def test_a_bad_record_breaks_its_plugin_with_one_line_naming_the_field():
    import types

    from transferkit import hookimpl
    from transferkit.core.specs import DomainSpec, ModelSource

    plugin = types.ModuleType("bad_kind")

    @hookimpl
    def register_domains(register):
        register(DomainSpec(name="audio", description="sounds", factory="x.y:Z", default_model="audio/m"))

    @hookimpl
    def register_models(register):
        register(ModelSource(id="audio/m", domain="audio", description="", kind="weights", location="m"))

    plugin.register_domains, plugin.register_models = register_domains, register_models
    registry = Registry.empty()
    info = registry.add_plugin(plugin, name="bad-kind")
    assert info.status == "broken" and "\n" not in info.error
    assert "ModelSource: kind='weights' is not valid: it must be one of 'package', 'hub'" in info.error
    assert registry.domains == {} and registry.models == {}


def test_a_preset_file_the_schema_refuses_breaks_its_plugin_when_presets_are_first_used(tmp_path):
    import types

    from transferkit import hookimpl
    from transferkit.core.specs import DomainSpec

    good = tmp_path / "good.toml"
    good.write_text('id = "audio/general"\ndomain = "audio"\ndescription = "d"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "audio/noisy"\ndomain = "audio"\ndescription = "d"\n[train]\nepochs = 0\n')
    plugin = types.ModuleType("bad_preset")

    @hookimpl
    def register_domains(register):
        register(DomainSpec(name="audio", description="sounds", factory="x.y:Z", default_model="audio/m"))

    @hookimpl
    def register_presets(register):
        register(good)
        register(str(bad))

    plugin.register_domains, plugin.register_presets = register_domains, register_presets
    registry = Registry.empty()
    info = registry.add_plugin(plugin, name="bad-preset")
    # Registration only queued the files: listing domains reads no preset (nor imports the schema) ...
    assert info.status == "ok" and "presets" not in info.provides
    assert registry.broken(presets=False) == [] and "audio" in registry.domains
    # ... the first use of the presets does, and the plugin is then broken as if its hook had failed.
    assert registry.presets == {}
    assert registry.broken() == [info] and "audio" not in registry.domains and info.provides == {}
    assert str(bad) in info.error and "train.epochs=0 is not valid" in info.error


def test_presets_from_files_are_validated_records_with_their_source_and_owner(tmp_path):
    import types

    from transferkit import hookimpl
    from transferkit.core.specs import Preset

    path = tmp_path / "general.toml"
    path.write_text('id = "audio/general"\ndomain = "audio"\ndescription = "d"\nstrategy = "freeze"\n')
    plugin = types.ModuleType("presets_only")

    @hookimpl
    def register_presets(register):
        register(path)

    plugin.register_presets = register_presets
    registry = Registry.empty()
    info = registry.add_plugin(plugin, name="presets-only")
    preset = registry.preset("audio/general")
    assert isinstance(preset, Preset) and preset.strategy == "freeze"
    assert preset.source == str(path) and preset.plugin == "presets-only (plugin 'presets-only')"
    assert info.provides == {"presets": ["audio/general"]}


def test_a_preset_id_taken_first_stays_with_its_plugin_in_registration_order(tmp_path):
    import types

    from transferkit import hookimpl
    from transferkit.core.specs import Preset

    path = tmp_path / "general.toml"
    path.write_text('id = "audio/general"\ndomain = "audio"\ndescription = "from a file"\n')
    first, second = types.ModuleType("first"), types.ModuleType("second")

    @hookimpl
    def register_presets_from_file(register):
        register(path)

    @hookimpl
    def register_presets_as_object(register):
        register(Preset(id="audio/general", domain="audio", description="an object"))

    first.register_presets, second.register_presets = register_presets_from_file, register_presets_as_object
    registry = Registry.empty()
    registry.add_plugin(first, name="first")
    second_info = registry.add_plugin(second, name="second")
    assert registry.presets["audio/general"].description == "from a file"
    assert second_info.status == "broken"
    assert "preset 'audio/general' is registered by both first (plugin 'first') and second" in second_info.error
