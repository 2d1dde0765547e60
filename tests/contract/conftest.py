"""The plugin contract's tests use transferkit.testing's fixtures, as a plugin author's tests would."""
from transferkit.testing.fixtures import (  # noqa: F401 - imported fixtures are registered by pytest
    plugin_roundtrip,
    tiny_backbone,
    tiny_dataset,
    transferkit_registry,
)

import sys
import textwrap
from pathlib import Path

import pytest


def make_dist(root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str],
              version: str = "1.0") -> Path:
    """Install a fake distribution into ``root``: a dist-info with real entry points, and its modules.

    ``importlib.metadata`` finds it like any pip-installed package once ``root`` is on the path.
    """
    # The folder name as pip writes it (dashes become underscores): importlib.metadata reads the
    # distribution name from it, up to the first dash.
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[transferkit]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """``fake_site(name, entry_points, modules)``: a fake installed distribution on sys.path for the test."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    added: list[str] = []

    def install(name: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
        added.extend(modules)
        return make_dist(site, name, entry_points, modules)

    yield install
    for module in added:
        sys.modules.pop(module, None)


ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def pip_install(sources: list[Path], target: Path, work: Path) -> Path:
    """pip-install packages (no dependencies) into ``target``, as a user would, from copies of ``sources``.

    Copies first: building a wheel writes build/ and *.egg-info/ next to the sources. The result is a real
    installation: a dist-info with its entry_points.txt, found by importlib.metadata once on the path.
    """
    import shutil
    import subprocess

    copies = []
    for source in sources:
        copy = work / source.name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "results"))
        copies.append(str(copy))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), *copies], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def cli_env(*paths: Path) -> dict[str, str]:
    """The environment of a `transferkit` subprocess that sees packages installed under ``paths``."""
    import os

    extra = [str(p) for p in paths] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(extra)}
    env.pop("TRANSFERKIT_LOAD_PLUGINS", None)
    return env


def transferkit_cli() -> str:
    """The installed `transferkit` console script of this interpreter's environment."""
    return str(Path(sys.executable).with_name("transferkit"))


@pytest.fixture(scope="session")
def installed_examples(tmp_path_factory) -> Path:
    """Both example plugins pip-installed (their real entry points) into one folder for the session."""
    work = tmp_path_factory.mktemp("examples-src")
    return pip_install([EXAMPLES / "tk-insurance-presets", EXAMPLES / "tk-robotics"],
                       tmp_path_factory.mktemp("examples-site"), work)
