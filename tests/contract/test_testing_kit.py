"""transferkit.testing: the isolated registry, the tiny backbone and dataset, and the end-to-end helper."""
from __future__ import annotations

import pytest

from transferkit.core.registry import get_registry
from transferkit.errors import PluginError
from transferkit.testing import check_backbone, isolated_registry, tiny_plugin, write_npz


def test_isolated_registry_holds_only_its_plugins_and_restores_the_previous_one():
    outer = get_registry()
    with isolated_registry(tiny_plugin) as registry:
        assert get_registry() is registry
        assert set(registry.domains) == {"tiny"}
    assert get_registry() is outer


def test_isolated_registry_loads_a_plugin_through_its_installed_entry_point():
    with isolated_registry("vision") as registry:
        assert set(registry.domains) == {"vision"}
        assert registry.plugins["vision"].package == "transferkit"


def test_isolated_registry_refuses_an_unknown_name_and_a_broken_plugin():
    import types

    from transferkit import hookimpl

    with pytest.raises(PluginError, match="no installed plugin called 'surely-not-a-plugin'"):
        with isolated_registry("surely-not-a-plugin"):
            pass
    broken = types.ModuleType("broken_hook")

    @hookimpl
    def register_domains(register):
        raise RuntimeError("boom")

    broken.register_domains = register_domains
    with pytest.raises(PluginError, match="broken_hook.*boom"):
        with isolated_registry(broken):
            pass


def test_check_backbone_names_a_parameter_outside_every_layer_group(tiny_backbone):
    import torch

    check_backbone(tiny_backbone, torch.zeros(3, 8))
    tiny_backbone.extra = torch.nn.Linear(2, 2)  # registered on the module, in no layer group
    with pytest.raises(AssertionError, match="in no layer group.*extra"):
        check_backbone(tiny_backbone, torch.zeros(3, 8))


def test_roundtrip_trains_saves_loads_and_predicts_the_tiny_domain(transferkit_registry, plugin_roundtrip,
                                                                    tiny_dataset, tmp_path):
    transferkit_registry(tiny_plugin)
    data = write_npz(tmp_path / "train.npz", tiny_dataset(per_class=16))
    run = plugin_roundtrip("tiny", data, epochs=4)
    assert (run.out / "transferkit.json").is_file()
    assert run.metrics["val"]["accuracy"] >= 0.9
    assert [p["label"] for p in run.predictions] == tiny_dataset(per_class=16).labels[:4]


def test_roundtrip_catches_a_backbone_that_does_not_rebuild(transferkit_registry, plugin_roundtrip, tiny_dataset,
                                                             monkeypatch):
    transferkit_registry(tiny_plugin)

    def forgetful(self, config, folder):  # rebuilds a different architecture: the saved weights do not fit
        from transferkit.testing.tiny_network import TinyBackbone

        return TinyBackbone(hidden=config["hidden"] * 2)

    monkeypatch.setattr(tiny_plugin.TinyDomain, "rebuild_backbone", forgetful)
    with pytest.raises(Exception):
        plugin_roundtrip("tiny", tiny_dataset(per_class=8), epochs=1)


def test_no_submodule_shadows_an_exported_name():
    """Importing a submodule sets it as an attribute of the package: one named like an exported function
    (``tiny_backbone``) replaced that function for everything imported later."""
    import pkgutil

    from transferkit import testing

    submodules = {info.name for info in pkgutil.iter_modules(testing.__path__)}
    # tiny_plugin is exported as the module itself (a plugin is a module); no other name may be shared.
    assert submodules & set(testing.__all__) <= {"tiny_plugin"}
