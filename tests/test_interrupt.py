"""Signals and crashes: a real training process is stopped at chosen points and then resumed.

Each stopped run must end non-zero (SIGKILL: killed; SIGTERM: 143; SIGINT: 130, with one line that gives
the resume command), leave a complete artifact or none, and `--resume` must then reach the same weights
and metrics, bit for bit, as the uninterrupted run with the same seed. The toy domain keeps each process
to a few seconds; the preset turns on every random source (shuffling, augmentation noise, dropout).
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import toy_plugin

DRIVER = Path(__file__).parent / "toy_cli.py"
PRESET = """
id = "toy/every-random-source"
domain = "toy"
description = "shuffling, augmentation noise and dropout"
extends = "toy/default"

[head]
hidden = [8]
dropout = 0.3

[augment]
noise = 0.2
"""
# The frozen-backbone path computes features once, which needs a preset without random augmentation.
NO_AUGMENT = PRESET.split("[augment]")[0].replace("toy/every-random-source", "toy/no-augmentation")


def options(root: Path, strategy: str) -> list[str]:
    return ["--strategy", strategy, "--preset", str(root / f"{strategy}.toml")]


def run(args: list[str], signal_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TK_TEST_SIGNAL": signal_at or ""}
    return subprocess.run([sys.executable, str(DRIVER), *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parents[1])


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def same_weights(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def metrics(folder: Path) -> dict:
    return json.loads((folder / "transferkit.json").read_text())["metrics"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    data = toy_plugin.write_blobs(root / "train.npz", toy_plugin.make_blobs(48, seed=1, noise=1.5))
    val = toy_plugin.write_blobs(root / "val.npz", toy_plugin.make_blobs(20, seed=2, noise=1.5))
    (root / "full.toml").write_text(PRESET)
    (root / "freeze.toml").write_text(NO_AUGMENT)
    base = ["train", "--domain", "toy", "--data", str(data), "--val", str(val), "--epochs", "3", "--seed", "7"]
    references = {}
    for strategy in ("full", "freeze"):
        out = root / f"reference-{strategy}"
        done = run([*base, *options(root, strategy), "--out", str(out)])
        assert done.returncode == 0, done.stderr
        references[strategy] = out
    return root, base, references


# (strategy, where the signal comes, which signal, expected exit code)
CASES = [
    ("freeze", "features:1:KILL", -signal.SIGKILL),  # during feature extraction
    ("full", "step:9:KILL", -signal.SIGKILL),  # mid-epoch 2 (6 steps an epoch)
    ("full", "step:9:TERM", 143),
    ("full", "step:4:INT", 130),  # mid-epoch 1: no epoch saved yet
    ("full", "move:4:KILL", -signal.SIGKILL),  # while the artifact's files are moved into place
]


@pytest.mark.parametrize(("strategy", "signal_at", "code"), CASES, ids=[c[1] for c in CASES])
def test_stopped_run_resumes_to_the_same_model(setup, strategy, signal_at, code):
    root, base, references = setup
    out = root / f"{strategy}-{signal_at.replace(':', '-')}"
    args = [*base, *options(root, strategy), "--out", str(out)]

    stopped = run(args, signal_at)
    assert stopped.returncode == code, stopped.stderr
    # Never half an artifact: a folder without transferkit.json is no model; one with it loads.
    assert not (out / "transferkit.json").exists()
    if code > 0:  # SIGTERM / SIGINT: one line that names the signal and gives the exact resume command
        last = stopped.stderr.strip().splitlines()[-1]
        assert last.startswith(f"interrupted by {signal.Signals(code - 128).name}") and "Traceback" not in stopped.stderr
        command = shlex.split(last.split("to continue: ", 1)[1])
        assert command[0] == "transferkit" and command[-1] == "--resume"
        resumed = run(command[1:])
    else:
        resumed = run([*args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert same_weights(weights(out), weights(references[strategy]))
    assert metrics(out) == metrics(references[strategy])


def test_sigterm_from_outside_is_never_success(setup):
    """`kill` from another process while the run trains: exit 143, never 0 with no model."""
    root, base, _ = setup
    out = root / "external-term"
    proc = subprocess.Popen([sys.executable, str(DRIVER), *base, *options(root, "full"), "--epochs", "200",
                             "--out", str(out)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "TK_TEST_SIGNAL": ""}, cwd=Path(__file__).parents[1])
    lines = []
    for line in proc.stderr:  # plain progress lines: stderr is a pipe
        lines.append(line)
        if "epoch 1/200 done" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait() == 143, "".join(lines) + rest
    assert "--resume" in rest.strip().splitlines()[-1]
    assert not (out / "transferkit.json").exists() and (out / "run" / "checkpoints" / "last.ckpt").is_file()


def test_a_killed_run_is_named_and_resumed_only_with_its_own_arguments(setup):
    """After a kill: evaluate says the folder is an unfinished run and how to continue it; --resume with
    another seed is refused before any work (its first epochs trained on the first seed's split), and so is
    the same command without --resume (the saved epochs are kept); once resumed and finished, a new run may
    replace the model."""
    root, base, _ = setup
    out = root / "killed-then-misused"
    args = [*base, *options(root, "full"), "--out", str(out)]
    assert run(args, "step:9:KILL").returncode == -signal.SIGKILL
    checkpoint = out / "run" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()

    evaluated = run(["evaluate", str(out), "--data", str(root / "val.npz")])
    assert evaluated.returncode != 0
    assert "an unfinished training run, not a model yet" in evaluated.stderr and "--resume" in evaluated.stderr

    saved = checkpoint.read_bytes()
    other_seed = [a if a != "7" else "8" for a in args]
    refused = run([*other_seed, "--resume"])
    assert refused.returncode == 2, refused.stderr
    assert "--resume: this run was started with --seed 7, not 8" in refused.stderr
    assert checkpoint.read_bytes() == saved and not (out / "transferkit.json").exists()

    forgot = run(args)  # the same command without --resume: refused, the saved epochs kept
    assert forgot.returncode == 2, forgot.stderr
    assert "holds an unfinished run" in forgot.stderr and "--resume" in forgot.stderr
    assert checkpoint.read_bytes() == saved

    resumed = run([*args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    again = run(args)  # a finished run's folder: a new run replaces it, its checkpoints first
    assert again.returncode == 0, again.stderr


def test_a_users_own_transferkit_json_does_not_make_a_folder_a_model(setup):
    """A file merely named transferkit.json (a user's config) must not let a save replace the user's files."""
    root, base, _ = setup
    out = root / "users-folder"
    out.mkdir()
    mine = {"transferkit.json": '{"my": "config"}', "metrics.json": "my thesis", "report.html": "mine"}
    for name, text in mine.items():
        (out / name).write_text(text)
    refused = run([*base, *options(root, "full"), "--out", str(out)])
    assert refused.returncode == 2, refused.stderr
    assert "holds no transferkit model or run" in refused.stderr
    assert {p.name: p.read_text() for p in out.iterdir()} == mine
