"""The two example plugins, pip-installed and found through their real entry points: listed, trained,
evaluated and used for prediction through the CLI like the built-in domains, and their own tests pass."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, cli_env, transferkit_cli


def tk(site, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([transferkit_cli(), *map(str, args)], capture_output=True, text=True, env=cli_env(site),
                          cwd=cwd)


def test_both_examples_are_listed_through_their_entry_points(installed_examples):
    listed = tk(installed_examples, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["insurance"]["package"] == "tk-insurance-presets" and rows["insurance"]["status"] == "ok"
    assert rows["insurance"]["provides"]["presets"] == ["nlp/insurance-claims", "nlp/insurance-fraud-referral"]
    assert rows["robotics"]["package"] == "tk-robotics" and rows["robotics"]["status"] == "ok"
    assert rows["robotics"]["provides"]["domains"] == ["robotics"]
    domains = {row["name"]: row for row in json.loads(tk(installed_examples, "domains", "--json").stdout)}
    assert domains["robotics"]["status"] == "available"
    assert domains["robotics"]["plugin"] == "tk-robotics (plugin 'robotics')"


def test_robotics_trains_evaluates_and_predicts_through_the_cli(installed_examples, tmp_path):
    sys.path.insert(0, str(installed_examples))
    try:
        from tk_robotics.simulate import simulate_set, write_npz
    finally:
        sys.path.remove(str(installed_examples))
    rng = np.random.default_rng(0)
    train = write_npz(str(tmp_path / "train.npz"), *simulate_set("arm-b", 5, rng))
    x_test, y_test = simulate_set("arm-b", 5, rng)
    test = write_npz(str(tmp_path / "test.npz"), x_test, y_test)
    np.save(tmp_path / "one.npy", x_test[0])
    out = tmp_path / "model"
    trained = tk(installed_examples, "train", "--domain", "robotics", "--data", train, "--out", out, "--epochs", "3",
                 "--json")
    assert trained.returncode == 0, trained.stderr[-2000:]
    meta = json.loads((out / "transferkit.json").read_text())
    assert meta["domain"] == "robotics"
    scored = tk(installed_examples, "evaluate", out, "--data", test, "--json")
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert json.loads(scored.stdout)["n"] == 20
    predicted = tk(installed_examples, "predict", out, tmp_path / "one.npy", "--json")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert json.loads(predicted.stdout)[0]["label"] in {"nominal", "payload", "friction", "collision"}


def _tiny_bert(folder):
    # The nlp tests' tiny BERT (2 layers, 32 features): the preset's own model needs real weights.
    spec = importlib.util.spec_from_file_location("nlp_conftest", ROOT / "tests" / "plugins" / "nlp" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tiny_bert(folder)


def test_insurance_presets_train_evaluate_and_predict_through_the_cli(installed_examples, tmp_path):
    pytest.importorskip("transformers")
    bert = _tiny_bert(tmp_path / "tiny-bert")
    rows = [("water", "water damage in the kitchen after a pipe burst"), ("theft", "bike stolen from the garage"),
            ("water", "flood water in the basement ruined the carpet"), ("theft", "car broken into and laptop stolen"),
            ("water", "roof leak caused water stains on the ceiling"), ("theft", "phone stolen on the train")] * 4
    data = tmp_path / "claims.csv"
    data.write_text("category,note\n" + "".join(f"{label},{text}\n" for label, text in rows))
    out = tmp_path / "claims-model"
    trained = tk(installed_examples, "train", "--domain", "nlp", "--preset", "nlp/insurance-claims", "--model", bert,
                 "--data", data, "--text-col", "note", "--label-col", "category", "--out", out, "--epochs", "2")
    assert trained.returncode == 0, trained.stderr[-2000:]
    meta = json.loads((out / "transferkit.json").read_text())
    assert "nlp/insurance-claims" in json.dumps(meta)
    scored = tk(installed_examples, "evaluate", out, "--data", data, "--text-col", "note", "--label-col", "category",
                "--json")
    assert scored.returncode == 0, scored.stderr[-2000:]
    predicted = tk(installed_examples, "predict", out, "pipe burst, water everywhere", "--json")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert json.loads(predicted.stdout)[0]["label"] in {"water", "theft"}


@pytest.mark.parametrize("example", ["tk-insurance-presets", "tk-robotics"])
def test_the_examples_own_tests_pass(installed_examples, example, tmp_path):
    import shutil

    shutil.copytree(EXAMPLES / example / "tests", tmp_path / "tests")  # outside this project's conftest tree
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          capture_output=True, text=True, env=cli_env(installed_examples), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
