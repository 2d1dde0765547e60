"""Every bad input in the corpus, through the command line: exit code 2, one line on stderr that names the
file (or the key) at fault, no traceback, and no file that was there before changed or removed."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import toy_plugin
from cli_helpers import assert_one_line, run_cli, snapshot
from corpus import CASES, png_bytes


def _check(args: list[str], expect: str, root: Path, capsys) -> str:
    before = snapshot(root)
    code, out, err = run_cli(args, capsys)
    assert code == 2, f"exit code {code}\nstdout: {out}\nstderr: {err}"
    line = assert_one_line(err, expect)
    assert "(fix: " in line, f"no fix in: {line}"
    after = snapshot(root)
    assert {k: v for k, v in after.items() if k in before} == before, "a file that was there was changed or removed"
    return line


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_exit_2(name, tmp_path, capsys):
    args, expect = CASES[name](tmp_path)
    _check(args, expect, tmp_path, capsys)
    assert not (tmp_path / "out").exists()  # a refused run writes no output folder


def test_the_corpus_is_large_enough():
    assert len(CASES) + len(ARTIFACT_CASES) >= 50


# ---------------------------------------------------------------------------- model folders
@pytest.fixture(scope="module")
def toy_artifact(tmp_path_factory, full_registry):
    """A trained toy model (seconds) and its data; the cases below damage copies of it."""
    import transferkit as tk

    root = tmp_path_factory.mktemp("artifact")
    data = toy_plugin.write_blobs(root / "blobs.npz", toy_plugin.make_blobs(12, seed=1))
    tk.fit("toy", data, strategy="linear-probe", out=root / "model")
    return root / "model", data


def _copy(model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    return copy


def _truncate_weights(model: Path) -> None:
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _evaluate_truncated(model: Path, data: Path, tmp: Path) -> tuple[list[str], str]:
    _truncate_weights(model)
    return ["evaluate", str(model), "--data", str(data)], "model.safetensors"


def _predict_truncated(model: Path, data: Path, tmp: Path) -> tuple[list[str], str]:
    _truncate_weights(model)
    return ["predict", str(model), str(data)], "model.safetensors"


def _model_of_another_domain(model: Path, data: Path, tmp: Path) -> tuple[list[str], str]:
    images = tmp / "images"
    for label in ("a", "b"):
        (images / label).mkdir(parents=True)
        (images / label / "x.png").write_bytes(png_bytes((8, 8)))
    return ["train", "--domain", "vision", "--data", str(images), "--model", str(model), "--out",
            str(tmp / "out"), "--dry-run"], "toy"


def _not_a_model_folder(model: Path, data: Path, tmp: Path) -> tuple[list[str], str]:
    folder = tmp / "holiday-photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"x")
    return ["evaluate", str(folder), "--data", str(data)], "holiday-photos"


def _metadata_not_json(model: Path, data: Path, tmp: Path) -> tuple[list[str], str]:
    (model / "transferkit.json").write_text("{ not json")
    return ["predict", str(model), str(data)], "transferkit.json"


ARTIFACT_CASES = {
    "evaluate-truncated-safetensors": _evaluate_truncated,
    "predict-truncated-safetensors": _predict_truncated,
    "model-folder-of-another-domain": _model_of_another_domain,
    "not-a-model-folder": _not_a_model_folder,
    "metadata-not-json": _metadata_not_json,
}


@pytest.mark.parametrize("name", sorted(ARTIFACT_CASES))
def test_bad_model_folder_is_one_line_exit_2(name, toy_artifact, tmp_path, capsys):
    model, data = toy_artifact
    copy = _copy(model, tmp_path)
    args, expect = ARTIFACT_CASES[name](copy, data, tmp_path)
    _check(args, expect, tmp_path, capsys)
