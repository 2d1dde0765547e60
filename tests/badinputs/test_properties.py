"""Property-based tests: whatever bytes or values arrive, the text readers and the preset loader either
return a result or raise a transferkit error (one line, naming the file). Nothing else escapes."""
from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from transferkit.core.presets import preset_from_dict, read_preset_file
from transferkit.datasets.text import read_text_folder, read_text_table
from transferkit.errors import TransferkitError

# No deadline: a wall-clock bound would make the tests depend on the machine's load.
# No example database: the tests must not write into the working tree.
SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = st.sampled_from([".csv", ".tsv", ".jsonl", ".json", ".txt", ""])
COLUMN = st.one_of(st.none(), st.sampled_from(["text", "label", "0", "1", "2", "title,body"]), st.text(max_size=8))
HEADER = st.one_of(st.none(), st.booleans(), st.sampled_from(["yes", "off"]))


def _read(content: bytes, suffix: str, **options) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(content)
        try:
            examples = read_text_table(path, **options)
        except TransferkitError as err:
            text = err.render()
            assert "\n" not in text and str(path) in text, text
            return
        assert len(examples.items) == len(examples.labels) > 0
        assert all(isinstance(t, str) and t for t in examples.items)
        assert len(set(examples.labels)) >= 2


@SETTINGS
@given(content=st.binary(max_size=600), suffix=SUFFIXES, text_cols=COLUMN, label_col=COLUMN, header=HEADER)
# Found by hand, kept as regressions: "²".isdigit() is True but int("²") fails; a 5000-digit number; NUL bytes.
@example(content=b"label,text\na,b\nc,d\n", suffix=".csv", text_cols="\u00b2", label_col=None, header=None)
@example(content=b'{"text": "a", "label": ' + b"9" * 5000 + b"}\n", suffix=".jsonl", text_cols=None,
         label_col=None, header=None)
@example(content=b"[" * 50_000 + b"]" * 50_000, suffix=".json", text_cols=None, label_col=None, header=None)
@example(content="label,text\n".encode("utf-16-le"), suffix=".csv", text_cols=None, label_col=None, header=None)
def test_text_table_on_arbitrary_bytes(content, suffix, text_cols, label_col, header):
    _read(content, suffix, text_cols=text_cols, label_col=label_col, header=header)


CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@SETTINGS
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=12), delimiter=st.sampled_from([",", "\t"]),
       text_cols=COLUMN, label_col=COLUMN, bom=st.booleans())
def test_text_table_on_arbitrary_tables(rows, delimiter, text_cols, label_col, bom):
    # Well-formed CSV/TSV of arbitrary cells (quotes, newlines, tabs, empty cells, ragged rows).
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    content = ("\ufeff" if bom else "") + buffer.getvalue()
    _read(content.encode("utf-8"), ".tsv" if delimiter == "\t" else ".csv", text_cols=text_cols, label_col=label_col)


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
RECORD = st.dictionaries(st.sampled_from(["text", "label", "title", "y", "other"]), JSON_VALUE, max_size=4)


@SETTINGS
@given(records=st.lists(st.one_of(RECORD, JSON_VALUE), max_size=8), as_array=st.booleans(), label_col=COLUMN)
def test_json_readers_on_arbitrary_records(records, as_array, label_col):
    import json

    if as_array:
        content, suffix = json.dumps(records), ".json"
    else:
        content, suffix = "\n".join(json.dumps(r) for r in records), ".jsonl"
    _read(content.encode("utf-8"), suffix, label_col=label_col)


@SETTINGS
@given(files=st.lists(st.tuples(st.sampled_from(["a", "b", ".hidden"]), st.binary(max_size=40)), max_size=6),
       encoding=st.sampled_from(["utf-8", "latin-1", "ascii", "utf-16"]))
def test_text_folder_on_arbitrary_files(files, encoding):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "a").mkdir()
        for index, (label, content) in enumerate(files):
            (root / label).mkdir(exist_ok=True)
            (root / label / f"{index}.txt").write_bytes(content)
        try:
            examples = read_text_folder(root, encoding=encoding)
        except TransferkitError as err:
            assert "\n" not in err.render()
            return
        assert len(examples.classes) >= 2


# ---------------------------------------------------------------------------- presets
PRESET_KEYS = ["id", "domain", "description", "strategy", "model", "extends", "industry", "version", "train",
               "head", "preprocess", "augment", "threshold", "lr", "epochs", "hidden", "dropout", "policy", "value"]
PRESET_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
              st.sampled_from(["vision/x", "vision", "freeze", "min_sensitivity", "argmax"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(PRESET_KEYS) | st.text(max_size=6),
                                                              inner, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(data=st.dictionaries(st.sampled_from(PRESET_KEYS) | st.text(max_size=8), PRESET_VALUE, max_size=8))
def test_preset_from_arbitrary_mappings(data):
    try:
        preset = preset_from_dict(data, source="mine.toml")
    except TransferkitError as err:
        text = err.render()
        assert "\n" not in text and "mine.toml" in text and "errors.pydantic.dev" not in text, text
        return
    assert preset.source == "mine.toml"


@SETTINGS
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
@example(content=b"a = " + b"[" * 50_000 + b"]" * 50_000)
@example(content=b'id = "vision/x"\ndomain = "vision"\ndescription = "d"\n[train]\nlr = "fast"\n')
def test_preset_file_from_arbitrary_bytes(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.toml"
        path.write_bytes(content)
        try:
            read_preset_file(path)
        except TransferkitError as err:
            assert "\n" not in err.render() and str(path) in err.render()


@SETTINGS
@given(train=st.dictionaries(st.sampled_from(["lr", "epochs", "batch_size", "milestones", "seed", "metric", "zz"]),
                             PRESET_VALUE, max_size=4))
def test_preset_train_tables(train):
    # Closer to real files: a valid preset with an arbitrary [train] table, so validation reaches the values.
    try:
        preset_from_dict({"id": "vision/x", "domain": "vision", "description": "d", "train": train}, source="t.toml")
    except TransferkitError as err:
        assert "t.toml" in err.render() and "\n" not in err.render()
