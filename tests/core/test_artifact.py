"""Artifacts: safetensors only, never a pickle; atomic writes; clear refusals."""
from __future__ import annotations

import json
import pickle

import pytest
import toy_plugin

import transferkit as tk
from transferkit.errors import ArtifactError


@pytest.fixture
def trained(toy_registry, tmp_path):
    tk.fit("toy", toy_plugin.make_blobs(10), strategy="linear-probe", out=tmp_path / "m")
    return tmp_path / "m"


def test_loading_never_unpickles(trained, monkeypatch):
    import torch

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling during load")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    model = tk.load(trained)
    assert model.labels == ["a", "b"]


def test_a_pickle_in_place_of_the_weights_is_refused(trained):
    (trained / "model.safetensors").write_bytes(pickle.dumps({"evil": 1}))
    with pytest.raises(ArtifactError, match="not a complete safetensors file"):
        tk.load(trained)


def test_newer_format_version_is_refused(trained):
    meta = json.loads((trained / "transferkit.json").read_text())
    meta["format_version"] = 99
    (trained / "transferkit.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="upgrade transferkit"):
        tk.load(trained)


def test_not_an_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="not a transferkit model folder"):
        tk.load(tmp_path)


def test_a_failed_save_keeps_the_previous_artifact(trained, toy_registry):
    from transferkit.core.artifact import save_artifact

    before = (trained / "model.safetensors").read_bytes()
    model = tk.load(trained)

    def crash(folder):
        raise KeyboardInterrupt  # killed half-way through writing the report

    with pytest.raises(KeyboardInterrupt):
        save_artifact(model, trained, dict(model.meta), write_files=crash)
    assert (trained / "model.safetensors").read_bytes() == before
    assert tk.load(trained).labels == ["a", "b"]
    assert not [p for p in trained.parent.iterdir() if ".tmp-" in p.name]


def test_artifact_is_a_source_for_a_new_transfer(trained, toy_registry):
    selection = tk.select("toy", model=trained)
    assert selection.base_artifact["labels"] == ["a", "b"]
    model = tk.configure(selection, ["x", "y", "z"], strategy="full")
    assert model.head[-1].out_features == 3  # a different class count never gives a shape error


@pytest.mark.parametrize("text", ['{"my": "config"}', '[1, 2]', '{"format_version": "1", "domain": "toy"}'])
def test_a_users_own_transferkit_json_is_not_taken_for_a_model(tmp_path, text):
    from transferkit.core.artifact import is_artifact

    (tmp_path / "transferkit.json").write_text(text)
    assert not is_artifact(tmp_path)
    with pytest.raises(ArtifactError, match="not a transferkit model's metadata"):
        tk.load(tmp_path)
