"""A built-in plugin builds on the core only: what two domains share lives in transferkit.core, so a third-party
plugin can reach the same pieces through the public API (no plugin imports another)."""
from __future__ import annotations

import ast
from pathlib import Path

import transferkit.plugins

PLUGINS = Path(transferkit.plugins.__file__).parent
# spam is nlp specialised for one task (SpamDomain extends NLPDomain): a declared dependency, not shared code.
DECLARED = {("spam", "nlp")}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # inside functions too
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def cross_plugin_imports(root: Path = PLUGINS) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        plugin = path.relative_to(root).parts[0]
        if plugin == "__init__.py":
            continue
        for name in sorted(_imported_modules(path)):
            parts = name.split(".")
            if parts[:2] == ["transferkit", "plugins"] and len(parts) > 2:
                other = parts[2]
                if other != plugin and (plugin, other) not in DECLARED:
                    found.append(f"{path.relative_to(root)} imports {name}")
    return found


def test_no_plugin_imports_another():
    assert cross_plugin_imports() == []


def test_the_scan_sees_an_import_inside_a_function(tmp_path):
    (tmp_path / "medical").mkdir()
    (tmp_path / "medical" / "models.py").write_text(
        "def f():\n    from transferkit.plugins.vision.models import EfficientNetLiteBackbone\n")
    (tmp_path / "medical" / "ok.py").write_text("from transferkit.plugins.medical import settings\n")
    assert cross_plugin_imports(tmp_path) == [
        "medical/models.py imports transferkit.plugins.vision.models",
        "medical/models.py imports transferkit.plugins.vision.models.EfficientNetLiteBackbone"]
