"""Safe loading: no code runs from a model folder, no path leaves it, and the plugin that made it is checked.

Each refusal is a one-line transferkit error naming the file; planted payloads would create a marker
folder if they ever ran, and the tests check that it does not exist.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tiny_hf
import toy_plugin

import transferkit as tk
from transferkit.core.registry import PluginInfo, Registry, set_registry
from transferkit.errors import ArtifactError, UsageError


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: the file a hostile model folder would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _plant(path: Path, marker: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": _Payload(marker), "epoch": 1}, str(path))  # torch.save does not run it
    return path


@pytest.fixture
def trained(toy_registry, tmp_path):
    tk.fit("toy", toy_plugin.make_blobs(10), strategy="full", epochs=1, out=tmp_path / "m")
    return tmp_path / "m"


# --------------------------------------------------------------------------- pickles and weights
def test_a_pickle_payload_in_place_of_the_weights_is_refused_and_never_runs(trained, tmp_path):
    marker = tmp_path / "PWNED"
    _plant(trained / "model.safetensors", marker)
    with pytest.raises(ArtifactError) as err:
        tk.load(trained)
    assert "model.safetensors" in _one_line(err) and "not a complete safetensors file" in str(err.value)
    assert not marker.exists()


def test_planted_pickles_beside_the_weights_are_never_read(trained, tmp_path):
    marker = tmp_path / "PWNED"
    _plant(trained / "model.pt", marker)
    for ckpt in (trained / "run" / "checkpoints").glob("*.ckpt"):
        _plant(ckpt, marker)
    assert tk.load(trained).labels == ["a", "b"]
    assert not marker.exists()


def test_resuming_from_a_planted_checkpoint_is_refused_and_never_runs(trained, tmp_path):
    marker = tmp_path / "PWNED"
    last = trained / "run" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    _plant(last, marker)
    with pytest.raises(ArtifactError) as err:
        tk.fit("toy", toy_plugin.make_blobs(10), strategy="full", epochs=1, out=trained, resume=True)
    assert "last.ckpt" in _one_line(err) and "mkdir" in str(err.value)  # names what it wanted to run
    assert not marker.exists()


def test_a_truncated_safetensors_file_is_a_one_line_error(trained):
    weights = trained / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-16])
    with pytest.raises(ArtifactError) as err:
        tk.load(trained)
    assert str(weights) in _one_line(err) and "truncated" in str(err.value)


def test_weights_linked_from_outside_the_model_folder_are_refused(trained, tmp_path):
    elsewhere = tmp_path / "elsewhere.safetensors"
    shutil.copy(trained / "model.safetensors", elsewhere)
    (trained / "model.safetensors").unlink()
    (trained / "model.safetensors").symlink_to(elsewhere)
    with pytest.raises(ArtifactError, match="outside the model folder"):
        tk.load(trained)


# --------------------------------------------------------------------------- the plugin that made it
def _toy_registry(package: str, version: str) -> Registry:
    registry = Registry.empty()
    info = registry.add_plugin(toy_plugin, info=PluginInfo(name="toy", package=package, version=version,
                                                           module="toy_plugin"))
    assert info.status == "ok", info.error
    set_registry(registry)
    return registry


@pytest.fixture
def versioned(tmp_path):
    _toy_registry("toy-plugin", "1.2.0")
    tk.fit("toy", toy_plugin.make_blobs(10), strategy="linear-probe", out=tmp_path / "m")
    yield tmp_path / "m"
    set_registry(None)


def test_the_artifact_records_the_plugin_name_package_and_version(versioned):
    meta = json.loads((versioned / "transferkit.json").read_text())
    assert meta["plugin"] == {"name": "toy", "package": "toy-plugin", "version": "1.2.0"}


@pytest.mark.parametrize("package, version", [("toy-plugin", "1.0.0"), ("toy_plugin", "1.9"), ("toy-plugin", "2.0.0")])
def test_the_same_or_a_newer_compatible_plugin_loads_it(versioned, package, version):
    _toy_registry(package, version)
    assert tk.load(versioned).labels == ["a", "b"]


@pytest.mark.parametrize(
    "package, version, expected",
    [
        ("toy-plugin", "0.9.0", "older release"),  # an older major cannot know what a newer one wrote
        ("other-toys", "1.2.0", "comes from 'other-toys'"),  # another implementation of the same name
        (None, None, "not installed"),
    ],
)
def test_a_plugin_that_cannot_honour_the_model_is_refused(versioned, package, version, expected):
    if package is None:
        set_registry(Registry.empty())
    else:
        _toy_registry(package, version)
    with pytest.raises(ArtifactError) as err:
        tk.load(versioned)
    assert expected in _one_line(err)
    if package is None:
        assert "pip install 'toy-plugin>=1.2.0'" in str(err.value)


def test_before_1_0_each_minor_release_is_its_own_series():
    from transferkit.core.provenance import compat_series

    assert compat_series("0.3.9") < compat_series("0.4.0") < compat_series("1.0.0") == compat_series("1.7.2")


# --------------------------------------------------------------------------- paths inside the artifact
@pytest.fixture(scope="module")
def nlp_artifact(tmp_path_factory):
    pytest.importorskip("transformers")
    from transferkit.core.specs import Preset

    root = tmp_path_factory.mktemp("nlp-artifact")
    tiny_hf.plugin_registry("transferkit.plugins.nlp", "nlp")
    try:
        tk.fit("nlp", tiny_hf.make_reviews(root / "reviews.csv"), model=tiny_hf.build_tiny_bert(root / "bert"),
               preset=Preset(id="nlp/tiny", domain="nlp", description="tiny", head={"pooling": "mean"}),
               strategy="linear-probe", out=root / "m", read_options={"text_cols": ["review"], "label_col": "sentiment"})
    finally:
        set_registry(None)
    return root / "m"


@pytest.fixture
def nlp_copy(nlp_artifact, tmp_path):
    tiny_hf.plugin_registry("transferkit.plugins.nlp", "nlp")
    shutil.copytree(nlp_artifact, tmp_path / "m")
    shutil.copytree(nlp_artifact / "tokenizer", tmp_path / "elsewhere")  # a real tokenizer outside the folder
    yield tmp_path / "m"
    set_registry(None)


def _edit_tokenizer_path(folder: Path, value: str) -> None:
    meta = json.loads((folder / "transferkit.json").read_text())
    meta["backbone"]["tokenizer"] = value
    (folder / "transferkit.json").write_text(json.dumps(meta))


def test_an_unedited_nlp_artifact_loads(nlp_copy):
    assert tk.load(nlp_copy).labels == ["neg", "pos"]


@pytest.mark.parametrize("where", ["../elsewhere", "absolute"])
def test_a_path_in_transferkit_json_that_leaves_the_folder_is_refused(nlp_copy, where):
    value = str(nlp_copy.parent / "elsewhere") if where == "absolute" else where
    _edit_tokenizer_path(nlp_copy, value)
    with pytest.raises(ArtifactError) as err:
        tk.load(nlp_copy)
    assert "points outside the model folder" in _one_line(err) and "backbone.tokenizer" in str(err.value)


def test_a_tokenizer_folder_linked_from_outside_is_refused(nlp_copy):
    shutil.rmtree(nlp_copy / "tokenizer")
    (nlp_copy / "tokenizer").symlink_to(nlp_copy.parent / "elsewhere", target_is_directory=True)
    with pytest.raises(ArtifactError, match="outside the model folder"):
        tk.load(nlp_copy)


def test_the_cli_answers_a_truncated_artifact_in_one_line_with_exit_code_2(nlp_artifact, tmp_path):
    shutil.copytree(nlp_artifact, tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: len(weights.read_bytes()) // 2])
    result = subprocess.run([sys.executable, "-m", "transferkit.cli", "predict", str(tmp_path / "m"), "good film"],
                            capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "not a complete safetensors file" in result.stderr


# --------------------------------------------------------------------------- TorchScript bundles
def _torchscript_bundle(tmp_path: Path) -> Path:
    import torch
    from monai.networks.nets import ResNet

    folder = tmp_path / "bundle"
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    network_def = {"_target_": "ResNet", "block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [4, 8, 16, 32],
                   "spatial_dims": 2, "n_input_channels": 1, "num_classes": 2}
    (folder / "configs" / "inference.json").write_text(json.dumps({"network_def": network_def}))
    net = ResNet(block="basic", layers=[1, 1, 1, 1], block_inplanes=[4, 8, 16, 32], spatial_dims=2,
                 n_input_channels=1, num_classes=2)
    torch.jit.save(torch.jit.script(net), str(folder / "models" / "model.ts"))
    return folder


def test_a_torchscript_bundle_is_refused_by_default_and_loads_when_trusted(tmp_path, monkeypatch):
    pytest.importorskip("monai")
    from transferkit.plugins.medical.bundles import BundleBackbone
    from transferkit.plugins.medical.domain import load_local

    monkeypatch.delenv("TRANSFERKIT_TRUST_TORCHSCRIPT", raising=False)
    folder = _torchscript_bundle(tmp_path)
    with pytest.raises(UsageError) as err:
        load_local(folder)  # what `--model BUNDLE` and tk.select(model=BUNDLE) do
    text = _one_line(err)
    assert "model.ts" in text and "TRANSFERKIT_TRUST_TORCHSCRIPT=1" in text and "trust_torchscript=True" in text
    assert BundleBackbone.from_folder(folder, trust_torchscript=True).feature_dim == 32
    monkeypatch.setenv("TRANSFERKIT_TRUST_TORCHSCRIPT", "1")
    assert load_local(folder).feature_dim == 32
