"""Text readers: CSV / TSV / JSONL / JSON / class folders, with the errors and skip reports users see."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from transferkit.datasets.text import detect_format, label_string, read_text_folder, read_text_table, split_files
from transferkit.errors import DataError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


AG_LIKE = (
    "Class Index,Title,Description\n"
    '3,Wall St. Bears Claw Back,"Short-sellers, Wall Street\'s dwindling band."\n'
    "4,NASA probe,A new probe launched to Mars.\n"
    "2,Team wins,The team won the final match.\n"
)


def test_csv_guesses_label_and_joins_text_columns(tmp_path):
    ex = read_text_table(write(tmp_path / "ag.csv", AG_LIKE))
    assert ex.labels == ["3", "4", "2"]
    assert ex.items[0] == "Wall St. Bears Claw Back . Short-sellers, Wall Street's dwindling band."
    assert ex.meta["text_cols"] == ["Title", "Description"] and ex.meta["label_col"] == "Class Index"


def test_explicit_columns_and_custom_join(tmp_path):
    ex = read_text_table(write(tmp_path / "ag.csv", AG_LIKE), text_cols=["Description"], label_col="Class Index")
    assert ex.items[1] == "A new probe launched to Mars."
    ex = read_text_table(tmp_path / "ag.csv", text_cols="Title,Description", label_col="class index", join="\n")
    assert ex.items[2] == "Team wins\nThe team won the final match."
    assert read_text_table(tmp_path / "ag.csv", text_cols=["Title,Description"]).items[1] == (
        "NASA probe . A new probe launched to Mars.")  # the CLI's --text-col title,description


def test_wrong_column_name_lists_existing_columns(tmp_path):
    with pytest.raises(DataError) as err:
        read_text_table(write(tmp_path / "ag.csv", AG_LIKE), text_cols=["Body"], label_col="Class Index")
    message = str(err.value)
    assert "ag.csv" in message and "'Body'" in message and "text_cols" in message
    assert "'Title'" in message and "'Description'" in message and "'Class Index'" in message


def test_headerless_tsv_is_detected_like_the_sms_collection(tmp_path):
    rows = ["ham\tGo until jurong point", "spam\tFree entry in 2 a wkly comp", 'ham\t"Wen u miss someone" gdeve..',
            "ham\tOk lar... Joking wif u oni", "spam\tWINNER!! claim your prize"]
    path = write(tmp_path / "SMSSpamCollection", "\n".join(rows) + "\n")
    ex = read_text_table(path)
    assert ex.meta["header"] is False and ex.meta["format"] == "tsv"
    assert ex.counts() == {"ham": 3, "spam": 2}
    assert ex.items[2] == '"Wen u miss someone" gdeve..'  # quotes are text in TSV, not quoting
    by_index = read_text_table(path, text_cols=["1"], label_col="0")
    assert by_index.items == ex.items and by_index.labels == ex.labels


def test_tsv_with_header_and_tab_in_text(tmp_path):
    path = write(tmp_path / "d.tsv", "label\ttext\npos\tgood\tvery good\nneg\tbad\n")
    ex = read_text_table(path)
    assert ex.items == ["good\tvery good", "bad"]


def test_column_name_on_headerless_file_suggests_positions(tmp_path):
    path = write(tmp_path / "sms.tsv", "ham\thello there\nspam\twin now\nham\tsee you\n")
    with pytest.raises(DataError) as err:
        read_text_table(path, text_cols=["text"], label_col="label")
    assert "column" in str(err.value) and "--label-col 0" in str(err.value)


def test_jsonl_numeric_labels_become_strings_and_missing_labels_are_reported(tmp_path):
    lines = [{"text": "good", "label": 1}, {"text": "bad", "label": 0.0}, {"text": "meh", "label": None},
             {"text": "fine", "label": "1"}]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    ex = read_text_table(path)
    assert ex.labels == ["1", "0", "1"]
    assert [s.reason for s in ex.skipped] == ["empty label"] and ex.skipped[0].item.endswith("d.jsonl:3")


def test_json_array_and_explicit_keys(tmp_path):
    data = [{"title": "A", "body": "x y", "topic": "t1"}, {"title": "B", "body": "z", "topic": "t2"}]
    ex = read_text_table(write(tmp_path / "d.json", json.dumps(data)), text_cols=["title", "body"], label_col="topic")
    assert ex.items == ["A . x y", "B . z"] and ex.labels == ["t1", "t2"]


def test_bad_jsonl_line_is_named(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": "x"}\n{"text": oops}\n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_text_table(path)


def test_multi_label_is_refused(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": ["x", "y"]}\n{"text": "b", "label": "y"}\n')
    with pytest.raises(DataError, match="multi-label"):
        read_text_table(path)


def test_undecodable_bytes_name_the_line_and_the_fix(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\ngood,pos\nna\xefve caf\xe9,neg\n")
    with pytest.raises(DataError) as err:
        read_text_table(path)
    assert "line 3" in str(err.value) and err.value.field == "encoding" and err.value.file == str(path)
    assert "UTF-8" in err.value.fix
    ex = read_text_table(path, encoding="latin-1", min_classes=1)
    assert ex.items[1] == "naïve café"


def test_utf8_bom_is_removed_from_the_header(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("\ufefftext,label\nhi,a\nho,b\n".encode("utf-8"))
    assert read_text_table(path).meta["text_cols"] == ["text"]


def test_empty_texts_are_skipped_with_a_report(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\n"",a\nhello,a\n   ,b\nbye,b\n')
    ex = read_text_table(path)
    assert ex.items == ["hello", "bye"]
    assert [(Path(s.item.rsplit(":", 1)[0]).name, s.item.rsplit(":", 1)[1], s.reason) for s in ex.skipped] == [
        ("d.csv", "2", "empty text"), ("d.csv", "4", "empty text")]


def test_all_empty_texts_is_an_error(tmp_path):
    with pytest.raises(DataError) as err:
        read_text_table(write(tmp_path / "d.csv", "text,label\n,a\n ,b\n"))
    assert "empty text" in str(err.value) and err.value.field == "text"


def test_multiline_quoted_csv_field_and_short_rows(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\n"line one\nline two",a\nshort\nok,b\n')
    ex = read_text_table(path)
    assert ex.items == ["line one\nline two", "ok"]
    assert ex.skipped[0].item.endswith("d.csv:4") and "field" in ex.skipped[0].reason


def test_single_class_is_an_error_for_training_data(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\na,x\nb,x\n")
    with pytest.raises(DataError) as err:
        read_text_table(path)
    assert "one class" in str(err.value) and err.value.field == "label" and "two classes" in err.value.fix
    assert read_text_table(path, min_classes=1).classes == ["x"]


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_is_an_error(tmp_path, content):
    with pytest.raises(DataError, match="empty") as err:
        read_text_table(write(tmp_path / "d.csv", content))
    assert err.value.file.endswith("d.csv")


def test_header_only_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no data rows"):
        read_text_table(write(tmp_path / "d.csv", "text,label\n"))


def test_three_columns_without_known_names_ask_for_columns(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,c\n1,x,y\n2,x,z\n")
    with pytest.raises(DataError) as err:
        read_text_table(path)
    assert err.value.field == "label_col" and "'a'" in err.value.fix


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_text_table(tmp_path / "nope.csv")


def test_class_folders_skip_undecodable_and_empty_files(tmp_path):
    for label, texts in {"ham": ["hi there", "see you"], "spam": ["win money"]}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            write(tmp_path / label / f"{i}.txt", text)
    (tmp_path / "spam" / "bad.txt").write_bytes(b"caf\xe9")
    write(tmp_path / "spam" / "empty.txt", "  ")
    ex = read_text_folder(tmp_path)
    assert ex.counts() == {"ham": 2, "spam": 1}
    reasons = {Path(s.item).name: s.reason for s in ex.skipped}
    assert "latin-1" in reasons["bad.txt"] and reasons["empty.txt"] == "empty text"


def test_split_files_and_format_detection(tmp_path):
    for name in ("train.csv", "dev.jsonl", "test.tsv", "notes.md"):
        write(tmp_path / name, "x")
    assert {k: v.name for k, v in split_files(tmp_path).items()} == {
        "train": "train.csv", "val": "dev.jsonl", "test": "test.tsv"}
    assert detect_format(Path("x"), '{"a": 1}') == "jsonl" and detect_format(Path("x"), "a,b") == "csv"
    assert label_string(3.0) == "3" and label_string(True) == "true"


# ------------------------------------------------------------------ real data (small slices)
@pytest.mark.real_data
def test_real_sms_spam_collection(dataset_mirror):
    path = dataset_mirror("sms-spam", "SMSSpamCollection") / "SMSSpamCollection"
    ex = read_text_table(path)
    assert ex.counts() == {"ham": 4827, "spam": 747} and not ex.skipped
    assert ex.items[0].startswith("Go until jurong point")


@pytest.mark.real_data
def test_real_ag_news(dataset_mirror):
    path = dataset_mirror("ag-news", "test.csv") / "test.csv"
    ex = read_text_table(path)
    assert len(ex) == 7600 and ex.counts() == {"1": 1900, "2": 1900, "3": 1900, "4": 1900}
    assert ex.items[0].startswith("Fears for T N pension after talks . Unions representing")
