"""Every hook is documented in docs/plugins.md with an example that works, and tested with a real plugin."""
from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
import typer

from transferkit.core.hookspecs import hook_names
from transferkit.core.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
SECTIONS = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^#{1,3} )", GUIDE, flags=re.M | re.S))
HERE = Path(__file__).parent


def test_the_guide_documents_only_real_hooks():
    hooks = hook_names()
    assert hooks, "no hook found in transferkit.core.hookspecs"
    documented = [name for name in SECTIONS if name.startswith("register_")]
    assert sorted(documented) == sorted(hooks), f"hooks {hooks}, documented {documented}"


@pytest.mark.parametrize("hook", hook_names())
def test_each_hook_has_a_section_whose_example_registers(hook, tmp_path):
    assert hook in SECTIONS, f"docs/plugins.md has no '### `{hook}`' section"
    blocks = re.findall(r"```python\n(.*?)```", SECTIONS[hook], flags=re.S)
    assert blocks, f"the {hook} section has no python example"
    example = blocks[0]
    assert f"def {hook}(" in example and "@hookimpl" in example
    # Run the example as a plugin module: its registration must succeed.
    module = types.ModuleType(f"doc_example_{hook}")
    module.__file__ = str(tmp_path / "plugin.py")
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "demo.toml").write_text('id = "nlp/demo"\ndomain = "nlp"\ndescription = "demo"\n')
    exec(compile(example, f"docs/plugins.md:{hook}", "exec"), module.__dict__)
    registry = Registry.empty()
    info = registry.add_plugin(module, name="example")
    registry.add_commands(typer.Typer())
    registry.validate_presets()  # presets are read on first use, not at registration
    assert info.status == "ok", info.error
    kind = hook.removeprefix("register_")
    assert info.provides.get(kind), f"the {hook} example registered no {kind}"


@pytest.mark.parametrize("hook", hook_names())
def test_each_hook_is_implemented_by_a_test_plugin(hook):
    sources = "\n".join(p.read_text(encoding="utf-8") for p in HERE.glob("test_*.py") if p.name != Path(__file__).name)
    # Inside a test plugin's source (a string installed as a module) or a test's own plugin object.
    assert re.search(rf"@hookimpl\s*\n\s*def {hook}\(", sources), f"no test in tests/contract implements {hook}"
