"""A CLI that fits an 80-column terminal: whole ids, true availability, help for every flag, one-line usage
errors with the documented exit codes, predict tables that keep paths whole, and text models that read a
path instead of classifying its name."""
from __future__ import annotations

import json
import re
import signal

import pytest
import typer.main

from transferkit.cli import app, main
from cli_run import run_cli  # tests/ is on the path (tests/conftest.py)

LISTINGS = {  # command -> the JSON key of its id column
    "domains": "name", "models": "id", "presets": "id", "plugins": "name", "datasets": "name",
}


@pytest.fixture
def columns_80(monkeypatch):
    # Rich reads COLUMNS when it renders; output captured by pytest is not a terminal, as in a pipe.
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("TERM", raising=False)


@pytest.mark.parametrize(("command", "wide"), [(c, False) for c in sorted(LISTINGS)] + [("models", True),
                                                                                      ("presets", True)])
def test_listings_keep_every_id_whole_on_one_line_at_80_columns(command, wide, columns_80, capsys):
    code, out, err = run_cli([command, "--json"], capsys)
    assert code == 0, err
    ids = [row[LISTINGS[command]] for row in json.loads(out)]
    assert ids
    code, out, err = run_cli([command, *(["--wide"] if wide else [])], capsys)
    assert code == 0, err
    lines = out.splitlines()
    for id_ in ids:
        rows = [line for line in lines if re.match(rf"{re.escape(id_)}\s", line)]
        assert len(rows) == 1, (id_, out)  # whole, and the start of exactly one row
        assert wide or len(rows[0]) <= 80, rows[0]  # --wide rows may run past 80 columns (kubectl -o wide)
    if not wide:  # compact: one line a row (header, rule, rows), then only the notes, which start with an id
        body = [line for line in lines if line.strip()]
        assert len(body) >= len(ids) + 2
        assert all(len(line) <= 80 for line in body[: len(ids) + 2]), out


WIDE_TEXT = {  # command -> the JSON fields its --wide table shows whole or wrapped at spaces
    "domains": ("name", "default_model", "default_preset", "description"),
    "models": ("id", "location", "availability", "description"),
    "presets": ("id", "model", "description"),
}


@pytest.mark.parametrize("command", sorted(WIDE_TEXT))
def test_wide_listings_split_no_id_and_no_word(command, columns_80, capsys):
    # `--wide` at 80 columns: rows run past the terminal rather than fold `medical/efficientnet-lite0.imagenet`
    # or `linear-probe` in two; descriptions wrap at spaces only.
    code, out, err = run_cli([command, "--json"], capsys)
    assert code == 0, err
    words = {word.strip("()") for row in json.loads(out) for field in WIDE_TEXT[command]
             for word in str(row[field] or "").split()}
    code, out, err = run_cli([command, "--wide"], capsys)
    assert code == 0, err
    printed = {word.strip("()") for word in out.split()}
    assert words - printed == set(), out
    assert any(len(line) > 80 for line in out.splitlines())  # nothing squeezed into 80 columns


def test_a_preset_row_takes_one_line(columns_80, capsys):
    code, out, _ = run_cli(["presets", "--json"], capsys)
    count = len(json.loads(out))
    code, out, err = run_cli(["presets"], capsys)
    assert code == 0, err
    assert len([line for line in out.splitlines() if line.strip()]) == count + 2  # header, rule, one line each


def test_missing_weights_file_is_no_with_where_to_put_it(tmp_path, monkeypatch, columns_80, capsys):
    monkeypatch.setenv("TRANSFERKIT_WEIGHTS_DIR", str(tmp_path))
    model_id = "medical/resnet10-3d.medicalnet"
    code, out, err = run_cli(["models", "--domain", "medical", "--json"], capsys)
    assert code == 0, err
    row = {r["id"]: r for r in json.loads(out)}[model_id]
    expected = tmp_path / "medicalnet" / "resnet_10_23dataset.pth"
    assert row["available"] is False and row["status"] == "no" and str(expected) in row["availability"]
    code, out, _ = run_cli(["models", "--domain", "medical"], capsys)
    assert re.search(rf"^{re.escape(model_id)}\s+local\s+no\s", out, re.M), out
    assert any(line.startswith(f"{model_id}: {expected}") for line in out.splitlines()), out  # where to put it
    expected.parent.mkdir()
    expected.write_bytes(b"weights")
    code, out, _ = run_cli(["models", "--domain", "medical", "--json"], capsys)
    row = {r["id"]: r for r in json.loads(out)}[model_id]
    assert row["available"] is True and row["status"] == "yes"


def _commands(command, path=("transferkit",)):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_flag_and_argument_has_help_and_help_shows_no_type_labels_for_flags(capsys):
    from transferkit.core.registry import get_registry

    get_registry().add_commands(app)
    tree = list(_commands(typer.main.get_command(app)))
    assert len(tree) >= 10
    missing = [f"{' '.join(path)} {param.name}" for path, command in tree for param in command.params
               if not (getattr(param, "help", None) or "").strip()]
    assert not missing, missing
    for path, _ in tree:
        code, out, err = run_cli([*path[1:], "--help"], capsys)
        assert code == 0, err
        assert "<bool>" not in out and not re.search(r"--\S+ <list\[", out), (path, out)  # flags take no value
        assert "--help" in out and "╭" not in out  # plain help: no Rich box


@pytest.fixture
def boom(monkeypatch):
    def install(exception):
        def fail(*args, **kwargs):
            raise exception
        monkeypatch.setattr("transferkit.cli.iter_domains_status", fail)
    return install


@pytest.mark.parametrize(("args", "raise_", "code", "says"), [
    (["--version"], None, 0, None),
    (["domains", "--json"], None, 0, None),
    (["domains", "--bogus"], None, 2, "No such option: --bogus (see `transferkit domains --help`)"),
    (["train", "--domain", "vision", "--data", ".", "--out", "o", "--holdout-test", "1.5"], None, 2,
     "'--holdout-test'"),
    (["train", "--domain", "vision", "--out", "o"], None, 2, "Missing option '--data' (see `transferkit train --help`)"),
    (["evaluate"], None, 2, "Missing argument"),
    (["frobnicate"], None, 2, "No such command 'frobnicate'"),
    (["models", "--domain", "visoin"], None, 2, "did you mean: vision"),
    (["domains"], RuntimeError("a bug"), 1, "internal error: RuntimeError: a bug"),
    (["domains"], KeyboardInterrupt(), 130, "interrupted"),
])
def test_exit_code_table_with_one_line_errors(args, raise_, code, says, boom, capsys):
    if raise_ is not None:
        boom(raise_)
    got, out, err = run_cli(args, capsys)
    assert got == code, (out, err)
    if code == 0:
        assert out and not err
    else:
        assert len(err.strip().splitlines()) == 1, err  # one line, no box, no traceback
        assert err.startswith("error: ") and "Traceback" not in err and "│" not in err
        assert says in err, err


def test_sigterm_exit_code_is_143_with_one_line(toy_registry, tmp_path, monkeypatch, capsys):
    from transferkit.core.interrupt import Interrupted

    def stopped(*args, **kwargs):
        raise Interrupted(signal.SIGTERM, out=tmp_path / "m")

    monkeypatch.setattr("transferkit.core.train.fit", stopped)
    code, _, err = run_cli(["train", "--domain", "toy", "--data", str(tmp_path / "x.npz"), "--out",
                            str(tmp_path / "m")], capsys)
    assert code == 143 and len(err.strip().splitlines()) == 1 and "SIGTERM" in err


def test_other_training_processes_print_nothing(toy_registry, tmp_path, monkeypatch, capsys):
    """--devices 2: Lightning starts the second process with LOCAL_RANK=1. Its progress lines and its
    "interrupted" line repeated rank 0's; now it trains quietly and exits with the same code."""
    from transferkit.core.interrupt import Interrupted

    seen = {}

    def stopped(*args, **kwargs):
        seen["progress"] = kwargs["progress"]
        raise Interrupted(signal.SIGINT, out=tmp_path / "m", epochs_done=1, epochs=5)

    monkeypatch.setattr("transferkit.core.train.fit", stopped)
    monkeypatch.setenv("LOCAL_RANK", "1")
    args = ["train", "--domain", "toy", "--data", str(tmp_path / "x.npz"), "--out", str(tmp_path / "m")]
    code, out, err = run_cli(args, capsys)
    assert (code, out, err, seen["progress"]) == (130, "", "", "none")
    monkeypatch.setenv("LOCAL_RANK", "0")  # the first process still says it
    code, _, err = run_cli(args, capsys)
    assert code == 130 and "SIGINT" in err and seen["progress"] != "none"


def test_train_results_are_plain_lines_that_fit_80_columns(toy_registry, tmp_path, columns_80, capsys):
    import toy_plugin

    data = toy_plugin.write_blobs(tmp_path / "train.npz", toy_plugin.make_blobs(15, seed=5))
    model = tmp_path / "m"
    code, out, err = run_cli(["train", "--domain", "toy", "--data", str(data), "--out", str(model),
                              "--strategy", "linear-probe", "--time-budget", "none"], capsys)
    assert code == 0, err
    assert not re.search("[\u2500-\u257f]", out), out  # no box drawing: what a pipe or a log file gets
    lines = out[out.index("\nResults\n") + 1:].replace(str(model), "M").splitlines()
    assert all(len(line) <= 80 for line in lines), lines  # the long note is wrapped, not cut
    assert re.fullmatch(r"  split\s+n\s+accuracy\s+macro-F1\s+AUROC", lines[1])
    assert re.fullmatch(r"  validation \(used for selection\)\s+\d+\s+\d\.\d{4}\s+\d\.\d{4}\s+(n/a|\d\.\d{4})", lines[2])
    note = next(i for i, line in enumerate(lines) if line.startswith("note: no test data"))
    assert lines[note + 1].startswith("  ") and "--holdout-test 0.2" in " ".join(lines[note:note + 3])
    # Two durations, named: the whole command, and the training and scoring inside it.
    took = re.fullmatch(r"model written to M: the run took (\d+) s, of which training and scoring (\d+) s", lines[-1])
    assert took and int(took[1]) >= int(took[2]), lines[-1]


# --------------------------------------------------------------------------- predict, evaluate on real SMS
@pytest.fixture(scope="module")
def sms_model(tmp_path_factory, dataset_mirror):
    """A TF-IDF spam filter trained through the CLI on 300 real SMS, with a 20% held-out test split."""
    rows = [line.split("\t", 1) for line in
            (dataset_mirror("sms-spam", "SMSSpamCollection") / "SMSSpamCollection").read_text("utf-8").splitlines()]
    picked = [r for r in rows if r[0] == "ham"][:240] + [r for r in rows if r[0] == "spam"][:60]
    folder = tmp_path_factory.mktemp("sms")
    data = folder / "sms.tsv"
    data.write_text("".join(f"{label}\t{text}\n" for label, text in picked), encoding="utf-8")
    args = ["train", "--domain", "spam", "--model", "spam/tfidf-linear", "--preset", "spam/sms", "--data",
            str(data), "--holdout-test", "0.2", "--seed", "0", "--out", str(folder / "m"), "--json", "-q"]
    try:
        main(args)
    except SystemExit as exit_:
        assert not exit_.code
    return folder / "m", data, rows


@pytest.mark.real_data
def test_predict_prints_the_threshold_and_whole_paths(sms_model, tmp_path, columns_80, capsys):
    model, _, rows = sms_model
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "inbox"
    deep.mkdir(parents=True)
    files = []
    for i, (label, text) in enumerate(rows[1000:1003]):
        files.append(deep / f"message-{i:03d}-{label}.txt")
        files[-1].write_text(f"Subject: sms {i}\n\n{text}\n", encoding="utf-8")
    code, out, err = run_cli(["predict", str(model), *map(str, files)], capsys)
    assert code == 0, err
    import transferkit as tk

    loaded = tk.load(model)
    assert loaded.threshold is not None
    header = out.splitlines()[0]
    assert f"{loaded.threshold:.4f}" in header and f"'{loaded.labels[loaded.positive]}'" in header, out
    for path in files:  # whole, on one line, however narrow the terminal
        assert str(path) in out.replace("\n", "") and any(str(path) in line for line in out.splitlines()), out


@pytest.mark.real_data
def test_evaluate_split_is_honoured_or_refused(sms_model, capsys):
    model, data, _ = sms_model
    meta = json.loads((model / "transferkit.json").read_text())
    held = meta["data"]["test"]["holdout"]
    code, out, err = run_cli(["evaluate", str(model), "--data", str(data), "--split", "test", "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["n"] == len(held["indices"]) == 60 and metrics["split"] == "test"
    code, out, err = run_cli(["evaluate", str(model), "--data", str(data), "--split", "val"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no 'val' split" in err, err


# --------------------------------------------------------------------------- a path is read, not classified
def test_text_models_read_paths_and_classify_sentences(tmp_path, monkeypatch):
    from transferkit.core import inputs
    from transferkit.errors import DataError, UsageError
    from transferkit.plugins.nlp.domain import NLPDomain
    from transferkit.plugins.spam.domain import SpamDomain

    nlp = NLPDomain.__new__(NLPDomain)  # parse_inputs needs no loaded model
    texts = tmp_path / "texts.txt"
    texts.write_text("the first review\n\nthe second review\n", encoding="utf-8")
    assert nlp.parse_inputs([str(texts), "a sentence naming no file"]) == [
        "the first review", "the second review", "a sentence naming no file"]
    with pytest.raises(DataError, match="no such file"):
        nlp.parse_inputs([str(tmp_path / "missing.txt")])
    with pytest.raises(UsageError, match="folder"):
        nlp.parse_inputs([str(tmp_path)])
    table = tmp_path / "t.csv"
    table.write_text("text,label\nhi,a\n", encoding="utf-8")
    with pytest.raises(UsageError, match="evaluate"):
        nlp.parse_inputs([str(table)])

    # One rule for every text domain: spam goes through the same core function.
    calls = []
    real = inputs.text_inputs
    monkeypatch.setattr(inputs, "text_inputs", lambda raw, **kw: calls.append(raw) or real(raw, **kw))
    SpamDomain.__new__(SpamDomain).parse_inputs(["WIN a prize now"])
    nlp.parse_inputs(["hello"])
    assert calls == [["WIN a prize now"], ["hello"]]
