"""What a new user sees (issue 11, round 4): listings as the run resolves them, a resume command with only the
options given, no Lightning notice on --resume, the real --time-budget default, and plans that say what is timed."""
from __future__ import annotations

import json

import pytest

from cli_run import run_cli  # tests/ is on the path (tests/conftest.py)


def test_presets_listing_shows_each_preset_resolved_as_presets_show_does(capsys):
    code, out, err = run_cli(["presets", "--json"], capsys)
    assert code == 0, err
    rows = {row["id"]: row for row in json.loads(out)}
    # spam/sms extends spam/generic: its file sets neither strategy nor model, the resolved preset does.
    assert rows["spam/sms"]["extends"] == "spam/generic"
    for preset_id in [pid for pid, row in rows.items() if row["extends"]]:
        code, out, err = run_cli(["presets", "show", preset_id], capsys)
        assert code == 0, err
        shown = json.loads(out)
        assert (rows[preset_id]["strategy"], rows[preset_id]["model"]) == (shown["strategy"], shown["model"])
    assert rows["spam/sms"]["strategy"] != "auto" and rows["spam/sms"]["model"]
    code, out, err = run_cli(["presets", "--domain", "spam"], capsys)  # the table shows the same strategy
    line = next(line for line in out.splitlines() if line.startswith("spam/sms "))
    assert rows["spam/sms"]["strategy"] in line.split()


def test_resume_command_repeats_only_the_options_given(toy_registry, tmp_path, monkeypatch, capsys):
    # `--time-budget default --devices 1 --num-nodes 1 --distributed-strategy auto`, never typed, made the
    # printed command long and showed a value (`default`) that reads like a placeholder.
    import shlex
    import signal

    from transferkit.core.interrupt import Interrupted
    from transferkit.core.outputs import RUN_DIR, RUN_MARKER

    out = tmp_path / "m"
    (out / RUN_DIR).mkdir(parents=True)
    (out / RUN_DIR / RUN_MARKER).write_text("")

    def stopped(*args, **kwargs):
        raise Interrupted(signal.SIGINT, out=out)

    monkeypatch.setattr("transferkit.core.train.fit", stopped)
    code, _, err = run_cli(["train", "--domain", "toy", "--data", str(tmp_path / "x.npz"), "--out", str(out),
                            "--epochs", "3"], capsys)
    assert code == 130, err
    command = shlex.split(err.strip().split("to continue: ", 1)[1])
    assert command == ["transferkit", "train", "--domain", "toy", "--data", str(tmp_path / "x.npz"), "--out",
                       str(out), "--epochs", "3", "--resume"]


def test_time_budget_help_shows_the_real_default(capsys):
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    assert "default: default" not in out and "15m on CPU, 60m with a GPU" in " ".join(out.split())


def test_resume_prints_no_lightning_notice_about_its_own_checkpoint_folder(toy_registry, tmp_path):
    import warnings

    import toy_plugin

    import transferkit as tk

    data = toy_plugin.make_blobs(12, seed=4)
    tk.fit("toy", data, strategy="full", epochs=1, out=tmp_path / "m", time_budget=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tk.fit("toy", data, strategy="full", epochs=2, out=tmp_path / "m", resume=True, time_budget=None)
    assert not [w for w in caught if "exists and is not empty" in str(w.message)], [str(w.message) for w in caught]


def test_a_linear_probe_estimate_names_one_fit_not_epochs(toy_registry, monkeypatch):
    # "30 epochs at most (early stopping may end sooner)" was printed for a probe, which has no epochs.
    import toy_plugin

    import transferkit as tk
    from transferkit.core import budget

    monkeypatch.setattr(budget, "measure_steps", lambda *a, **k: budget.StepTimes(0.0, 0.0, 1e-4, 3e-4, 16, "cpu"))
    data = toy_plugin.make_blobs(40, seed=0)
    probe = tk.fit("toy", data, strategy="linear-probe", time_budget="10m", dry_run=True)
    assert "one fit of the logistic regression" in probe.estimate["how"] and "epochs" not in probe.estimate["how"]
    full = tk.fit("toy", data, strategy="full", time_budget="10m", dry_run=True)
    assert "epochs at most" in full.estimate["how"]


@pytest.mark.parametrize("bad", [["--preset", "toy/nope"], ["--model", "toy/nope"], ["--data", "missing.npz"]])
def test_bad_names_and_paths_are_refused_before_the_domain_is_loaded(bad, toy_registry, tmp_path, monkeypatch,
                                                                      capsys):
    # Each took 14-20 s ("loading the spam model", importing torch) before the one-line error.
    import toy_plugin

    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(6))
    monkeypatch.setattr("transferkit.core.select.get_domain", lambda *a, **k: pytest.fail("the domain was loaded"))
    monkeypatch.setattr("transferkit.core.budget.default_budget", lambda: pytest.fail("the budget asked torch"))
    args = {"--domain": "toy", "--data": str(data), "--out": str(tmp_path / "m")}
    args.update({bad[0]: str(tmp_path / bad[1]) if bad[0] == "--data" else bad[1]})
    code, out, err = run_cli(["train", *[word for pair in args.items() for word in pair]], capsys)
    assert code == 2 and ("nope" in err or "missing.npz" in err), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "m").exists()


def test_a_3d_preset_on_2d_images_is_refused_before_the_network_is_loaded(monkeypatch):
    import numpy as np

    import transferkit as tk
    import transferkit.plugins.medical as plugin
    from transferkit.core.data import Examples
    from transferkit.errors import UsageError
    from transferkit.plugins.medical.domain import MedicalDomain
    from transferkit.testing import isolated_registry

    monkeypatch.setattr(MedicalDomain, "load_backbone", lambda *a, **k: pytest.fail("the 3D network was loaded"))
    images = Examples(items=[np.zeros((28, 28), np.uint8)] * 8, labels=["a", "b"] * 4, source="breastmnist.npz",
                      meta={"spatial_dims": 2})
    with isolated_registry(medical=plugin), pytest.raises(UsageError, match="2D images but preset 'medical/ct-3d'"):
        tk.fit("medical", images, preset="medical/ct-3d", dry_run=True, time_budget=None)


@pytest.mark.parametrize(("args", "code"), [(["domains", "--json"], 0), (["domains", "--jsno"], 2)])
def test_the_program_exits_after_its_last_line_without_the_module_teardown(args, code):
    # The interpreter's teardown of torch, Lightning and scikit-learn kept a finished `train` alive 7-9 s
    # after "model written"; the program skips it and still runs the exit handlers and keeps the exit code.
    import subprocess
    import sys

    script = (
        "import atexit, sys\n"
        "class Teardown:\n"
        "    def __del__(self): sys.__stderr__.write('module teardown\\n')\n"
        "kept = Teardown()\n"
        "atexit.register(lambda: sys.__stderr__.write('exit handlers ran\\n'))\n"
        "from transferkit.cli import entry\n"
        f"sys.argv = ['transferkit', *{args!r}]\n"
        "entry()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == code, done.stderr
    assert "exit handlers ran" in done.stderr and "module teardown" not in done.stderr, done.stderr
    assert (code == 0) == bool(json.loads(done.stdout or "null"))
