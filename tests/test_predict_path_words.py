"""`transferkit predict MODEL photo1.jpg` on a text model: a single word that looks like a file name and does not
exist is an error (docs/cli.md), not the text "photo1.jpg" classified with exit 0. Short texts and web
addresses that merely contain dots (common in spam) are still classified.
"""
from __future__ import annotations

import pytest

from transferkit.core.inputs import looks_like_a_path, text_inputs
from transferkit.errors import DataError

MISTYPED_PATHS = ["photo1.jpg", "data.csv", "report.pdf", "Maildir/", "inbox/0001.eml", "scan.PNG", "mail.mbox",
                  "notes.TXT", "archive.tar.gz", "./messages", "../inbox", "~/mail", "/var/mail/me", "sms.jsonl",
                  "C:\\mail\\", "folder\\"]
TEXTS = ["e.g.", "Mr.Smith", "U.S.", "lol.", "www.win-prize.com", "http://x.co", "https://x.co/claim/",
         "win-prize.com/", "bit.ly/3xYz", "WWW.FREE-RINGTONES.NET", "v1.2", "3.14", "ok...", ":/", "hello",
         "call 0800 now about photo1.jpg", "Call 0800 now to claim your prize.txt", "and/or", ".jpg"]


def _read(path):
    raise AssertionError(f"{path} does not exist: nothing is read")


@pytest.mark.parametrize("word", MISTYPED_PATHS)
def test_a_missing_file_name_is_refused_with_the_one_line_error(word):
    with pytest.raises(DataError, match="no such file") as caught:
        text_inputs([word], read_path=_read, file_suffixes=[".txt"])
    assert "to classify a text that looks like a file name, add a space" in str(caught.value.fix)


@pytest.mark.parametrize("text", TEXTS)
def test_short_texts_and_web_addresses_are_classified(text):
    assert not looks_like_a_path(text)
    assert text_inputs([text], read_path=_read, file_suffixes=[".txt"]) == [text]


def test_the_domains_suffixes_still_count():
    # spam's .msg, nlp's .tsv: the domain's own suffixes are refused too, whatever the shared list holds.
    assert looks_like_a_path("inbox.msg", [".msg"]) and looks_like_a_path("x.weird", [".weird"])


def test_every_text_domain_refuses_a_missing_image_name(tmp_path):
    from transferkit.plugins.nlp.domain import NLPDomain
    from transferkit.plugins.spam.domain import SpamDomain

    for domain in (NLPDomain.__new__(NLPDomain), SpamDomain.__new__(SpamDomain)):  # parse_inputs needs no model
        for word in ("photo1.jpg", "data.csv", "report.pdf", str(tmp_path / "Maildir") + "/"):
            with pytest.raises(DataError, match="no such file"):
                domain.parse_inputs([word])
        assert domain.parse_inputs(["www.win-prize.com", "e.g."]) == ["www.win-prize.com", "e.g."]


def test_an_existing_file_is_read_whatever_its_name(tmp_path):
    texts = tmp_path / "photo1.jpg.txt"
    texts.write_text("first\nsecond\n", encoding="utf-8")
    assert text_inputs([str(texts)], read_path=lambda p: p.read_text().split(), file_suffixes=[]) == [
        "first", "second"]
