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
    assert info.status == "broken" and "preset file not found" in info.error
    assert registry.presets == {}
