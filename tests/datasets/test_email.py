"""Mail readers: MIME parsing, charsets, normalisation, mbox / Maildir / label folders, broken messages."""
from __future__ import annotations

import mailbox
import random
from email.message import EmailMessage
from pathlib import Path

import pytest

from transferkit.datasets import mailboxes
from transferkit.datasets.email import decode_bytes, looks_like_rfc822, message_to_text, normalise, parse_mail
from transferkit.datasets.mailboxes import iter_messages, iter_unlabelled, read_messages, read_unlabelled, splits_in
from transferkit.errors import DataError, UsageError


def make(subject: str = "Hello", body: str | None = "See you at lunch.", sender: str = "Ann <ann@corp.example.com>",
         **content) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "bob@corp.example.com"
    msg["Subject"] = subject
    if body is not None:
        msg.set_content(body, **content)
    return msg


def text_of(raw: bytes) -> str:
    return parse_mail(raw).to_text()


# ------------------------------------------------------------------ MIME structure
def test_multipart_alternative_prefers_plain_text_but_keeps_html_links():
    msg = make("Your account", "Please log in at your bank's usual site.")
    msg.add_alternative('<p>Please <a href="https://phish.example.ru/login">log in</a> HTMLONLYWORD</p>',
                        subtype="html")
    text = text_of(msg.as_bytes())
    assert "Please log in at your bank's usual site." in text
    assert "HTMLONLYWORD" not in text  # the HTML alternative's text is not read twice
    assert "urls: phish.example.ru" in text.splitlines()  # its hidden link is still seen
    assert text.splitlines()[:2] == ["subject: Your account", "from: corp.example.com"]


def test_html_only_is_turned_into_text_without_markup_scripts_or_styles():
    msg = make("Deal", None)
    msg.set_content(
        "<html><head><style>p {color: red}</style><script>var secret = 1;</script></head>"
        "<body><h1>Cheap&nbsp;meds</h1><p>Buy <b>now</b> at <a href='http://meds.example.biz/x'>our shop</a>"
        "</p><table><tr><td>A</td><td>B</td></tr></table></body></html>", subtype="html")
    body = text_of(msg.as_bytes()).splitlines()[-1]
    assert body == "Cheap meds Buy now at our shop A B"
    assert "urls: meds.example.biz" in text_of(msg.as_bytes())


def test_quoted_printable_and_base64_bodies_are_decoded():
    qp = make("Résumé", "Café crème, naïve — ok " * 20, cte="quoted-printable")
    raw = qp.as_bytes()
    assert b"quoted-printable" in raw and b"=C3=A9" in raw
    assert "Café crème, naïve — ok" in text_of(raw)
    b64 = make("Offer", "Ünïcödé body line", cte="base64")
    assert b"base64" in b64.as_bytes() and b"body line" not in b64.as_bytes()
    assert text_of(b64.as_bytes()).endswith("Ünïcödé body line")


def test_declared_latin1_body_and_encoded_subject():
    msg = make("Année été", None)
    msg.set_content("Très bon marché, voilà".encode("latin-1"), maintype="text", subtype="plain",
                    params={"charset": "iso-8859-1"}, cte="8bit")
    raw = msg.as_bytes()
    assert b"Tr\xe8s bon" in raw and b"charset=\"iso-8859-1\"" in raw
    text = text_of(raw)
    assert text.startswith("subject: Année été\n") and text.endswith("Très bon marché, voilà")


def test_undeclared_non_utf8_headers_and_body_fall_back_to_cp1252():
    raw = (b"From: Jos\xe9 <jose@shop.example.com>\r\nSubject: Caf\xe9 \x96 offre\r\nMIME-Version: 1.0\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\nPrix sp\xe9cial \x80 na\xefve\r\n")
    text = text_of(raw)
    assert text.splitlines() == ["subject: Café – offre", "from: shop.example.com", "Prix spécial € naïve"]


@pytest.mark.parametrize("declared, data, expected", [
    ("utf-8", "Café déjà".encode("latin-1"), "Café déjà"),         # says UTF-8, is latin-1
    ("iso-8859-1", "Café déjà".encode("utf-8"), "Café déjà"),      # says latin-1, is UTF-8
    ("us-ascii", "Café".encode("utf-8"), "Café"),
    ("x-no-such-charset", "Café".encode("utf-8"), "Café"),
    ("gb2312", "价格".encode("gb18030"), "价格"),
    (None, b"\x81\x8d raw", "\x81\x8d raw"),  # bytes undefined in cp1252: latin-1, never an error
])
def test_wrong_or_unknown_declared_charsets_are_decoded(declared, data, expected):
    assert decode_bytes(data, declared) == expected


def test_wrong_declared_charset_in_a_message():
    raw = (b"From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=utf-8\n"
           b"Content-Transfer-Encoding: 8bit\n\nd\xe9j\xe0 vu\n")
    assert text_of(raw).endswith("déjà vu")


def test_attachments_are_named_not_read():
    msg = make("Invoice", "Please find the invoice attached.")
    msg.add_attachment(b"%PDF-1.4 PDFCONTENTWORD", maintype="application", subtype="pdf", filename="invoice 2024.pdf")
    msg.add_attachment("TEXTATTACHMENTWORD", filename="notes.txt")
    msg.add_attachment(b"MZ\x90\x00\x03", maintype="application", subtype="octet-stream", filename="setup.exe")
    text = text_of(msg.as_bytes())
    assert "attachments: invoice 2024.pdf, notes.txt, setup.exe" in text.splitlines()
    assert "PDFCONTENTWORD" not in text and "TEXTATTACHMENTWORD" not in text
    assert text.endswith("Please find the invoice attached.")


@pytest.mark.parametrize("header, expected", [
    (b"=?x-unknown?q?caf=E9?= deal", "café deal"),  # a charset Python does not know
    (b"=?iso-8859-1?q?caf=E9?= =?utf-8?b?w6k=?= ok", "caféé ok"),  # RFC 2047: no space between words
    (b"caf\xc3\xa9 raw utf-8", "café raw utf-8"),
    (b"caf\xe9 raw latin-1", "café raw latin-1"),
])
def test_subject_headers_in_any_encoding(header, expected):
    raw = b"From: a@b.example\nSubject: " + header + b"\n\nx"
    assert parse_mail(raw).subject == expected


def test_malformed_from_header_falls_back_and_keeps_the_message():
    raw = b'From: "\nSubject: still readable\nMessage-ID: <1@x>\n\nbody text\n'
    assert text_of(raw) == "subject: still readable\nbody text"


def test_fields_and_normalise_options_change_the_input():
    msg = make("Win $500", "Go to www.win.example now")
    mail = parse_mail(msg.as_bytes())
    assert mail.to_text(["subject", "body"]) == "subject: Win MONEY\nGo to URL win.example now"
    assert mail.to_text(["body"], normalise=False) == "Go to www.win.example now"
    assert message_to_text(msg, fields=["from", "urls"]) == "from: corp.example.com\nurls: win.example"


def test_enron_style_plain_text_message():
    raw = "Subject: re : meeting\nlet ' s meet at 10 : 30 , café\n".encode("latin-1")
    assert not looks_like_rfc822(raw)
    assert text_of(raw) == "subject: re : meeting\nlet ' s meet at NUMBER : NUMBER , café"
    assert text_of(b"Subject: \n") == "EMPTY"  # Enron-Spam has such spam; an empty mail is a signal


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty message"),
    (b" \n\t\n", "empty message"),
    (random.Random(0).randbytes(3000), "binary"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00", "binary"),
])
def test_unusable_bytes_raise_with_a_reason(raw, reason):
    from transferkit.datasets.email import MailError

    with pytest.raises(MailError, match=reason):
        parse_mail(raw)


# ------------------------------------------------------------------ normalisation
@pytest.mark.parametrize("text, expected", [
    ("see https://www.Example.com/a?b=1.", "see URL example.com ."),
    ("go to http://10.0.0.1:8080/x now", "go to URL 10.0.0.1 now"),
    ("visit www.cheap-meds.biz today", "visit URL cheap-meds.biz today"),
    ("visit cheap-meds.biz/buy today", "visit URL cheap-meds.biz today"),
    ("(http://a.example/x)", "( URL a.example )"),
    ("mail John.Smith+x@Mail.Example.co.uk!", "mail EMAIL mail.example.co.uk !"),
    ("only $5.99 or $ 1,000 or £100 or €20", "only MONEY or MONEY or MONEY or MONEY"),
    ("costs 5 EUR, 20 usd, 30€ or USD 40", "costs MONEY , MONEY , MONEY or MONEY"),
    ("150p per msg", "MONEY per msg"),
    ("call 0800-123-456 or 555 1234 on 12/10/1999 at 10:30", "call NUMBER or NUMBER NUMBER on NUMBER at NUMBER"),
    ("pi is 3.14, it is 1,000", "pi is NUMBER , it is NUMBER"),
    ("mp3 4u 2day b2b 1st", "mp3 4u 2day b2b 1st"),  # digits inside words stay
    ("v1.2 and file.pdf and e.g. this", "v1.2 and file.pdf and e.g. this"),
    ("ＷＩＮ １００ now", "WIN NUMBER now"),  # full-width forms are NFKC-normalised
    ("  lots \n\n of\t space ", "lots of space"),
])
def test_normalise_table(text, expected):
    assert normalise(text) == expected


def test_normalise_is_idempotent():
    once = normalise("Win £1,000 at http://x.example.com or mail a@b.example.org, call 0800 123")
    assert normalise(once) == once


# ------------------------------------------------------------------ containers
def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def make_mbox(path: Path, messages: list[EmailMessage]) -> Path:
    box = mailbox.mbox(path)
    for msg in messages:
        box.add(msg)
    box.flush()
    box.close()
    return path


def make_maildir(path: Path, messages: list[EmailMessage]) -> Path:
    box = mailbox.Maildir(path, create=True)
    for msg in messages:
        box.add(msg)
    (path / "tmp" / "123.partial").write_bytes(make("PARTIALDELIVERY").as_bytes())  # in delivery: not read
    return path


def test_mbox_with_several_messages(tmp_path):
    box = make_mbox(tmp_path / "spam.mbox", [
        make("First", "one"),
        make("Second", "From here on, a body line that starts with From"),
        make("Third", "three"),
    ])
    ex = read_messages(box, options={"label": "spam"})
    assert ex.labels == ["spam"] * 3 and not ex.skipped
    assert [t.splitlines()[0] for t in ex.items] == ["subject: First", "subject: Second", "subject: Third"]
    assert ex.items[1].endswith("From here on, a body line that starts with From")
    assert [sid for sid, _ in iter_messages(box)] == [f"{box}#1", f"{box}#2", f"{box}#3"]
    with pytest.raises(DataError, match="label=spam"):
        read_messages(box)  # one mailbox has no labels of its own


def test_maildir_reads_cur_and_new_not_tmp(tmp_path):
    box = make_maildir(tmp_path / "inbox", [make("Alpha", "a"), make("Beta", "b")])
    ex = read_messages(box, options={"label": "ham"})
    assert sorted(t.splitlines()[0] for t in ex.items) == ["subject: Alpha", "subject: Beta"]
    assert not any("PARTIALDELIVERY" in t for t in ex.items)
    with pytest.raises(DataError, match="Maildir"):
        read_messages(box)


def test_label_folders_mixing_eml_text_mbox_and_maildir(tmp_path):
    root = write_tree(tmp_path / "mail", {
        "ham/a.eml": make("Lunch", "At noon?").as_bytes(),
        "ham/old/b.txt": "Subject: réunion\nà 10 heures".encode("latin-1"),
        "spam/c.eml": make("WIN", "Claim $1000").as_bytes(),
        ".hidden/x.eml": make("hidden").as_bytes(),
        "ham/.DS_Store": b"\x00\x01binary",
    })
    make_mbox(root / "spam" / "more.mbox", [make("Prize 1", "x"), make("Prize 2", "y")])
    make_maildir(root / "ham" / "Maildir", [make("Family", "z")])
    ex = read_messages(root)
    assert ex.counts() == {"ham": 3, "spam": 3} and not ex.skipped
    assert "subject: réunion\nà NUMBER heures" in ex.items
    assert ex.meta["format"] == "mail"


def test_broken_empty_binary_and_oddly_encoded_messages_are_reported_with_their_path(tmp_path):
    root = write_tree(tmp_path / "mail", {
        "ham/good.eml": make("Fine", "ok").as_bytes(),
        "ham/empty.eml": b"",
        "ham/blank.txt": b"\n\n  \n",
        "spam/junk.bin": random.Random(1).randbytes(5000),
        "spam/image.eml": b"\x89PNG\r\n\x1a\n" + bytes(200),
        "spam/utf16.txt": "Subject: offre spéciale\nGagnez 100 €".encode("utf-16"),
        "spam/bad-header.eml": b'From: "\nSubject: =?x-unknown?q?caf=E9?= deal\nTo: <\n\nbody\n',
        "spam/wrong-charset.eml": b"From: a@b.example\nContent-Type: text/plain; charset=bogus\n\n\xe9t\xe9\n",
        "spam/truncated.eml": b"From: a@b.example\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\n"
                              b"Content-Type: text/plain\n\ncut off here",
        "README.txt": b"notes about this folder",
    })
    ex = read_messages(root)
    reasons = {Path(s.item).name: s.reason for s in ex.skipped}
    assert set(reasons) == {"empty.eml", "blank.txt", "junk.bin", "image.eml", "README.txt"}
    assert "empty" in reasons["empty.eml"] and "0 bytes" in reasons["empty.eml"]
    assert "binary" in reasons["junk.bin"] and "binary" in reasons["image.eml"]
    assert "label" in reasons["README.txt"]
    assert all(Path(s.item).is_absolute() or str(root) in s.item for s in ex.skipped)
    assert ex.counts() == {"ham": 1, "spam": 4}
    assert "subject: offre spéciale\nGagnez MONEY" in ex.items
    assert any(t.startswith("from: b.example\nété") for t in ex.items)
    assert any(t.endswith("cut off here") for t in ex.items)


def test_a_folder_without_label_folders_needs_the_label_option(tmp_path):
    root = write_tree(tmp_path / "inbox", {"a.eml": make("A").as_bytes(), "b.txt": b"Subject: B\nbody"})
    with pytest.raises(DataError, match="no label sub-folders"):
        read_messages(root)
    ex = read_messages(root, options={"label": "ham"})
    assert ex.counts() == {"ham": 2} and ex.items[1] == "subject: B\nbody"


def test_a_folder_of_only_bad_messages_is_an_error_naming_it(tmp_path):
    root = write_tree(tmp_path / "bad", {"ham/a.eml": b"", "spam/b.eml": bytes(100)})
    with pytest.raises(DataError) as err:
        read_messages(root)
    assert str(root) in str(err.value) and "none of the 2 messages" in str(err.value)


def test_one_label_is_an_error_for_training_but_not_for_a_test_split(tmp_path):
    root = write_tree(tmp_path / "d", {"test/spam/a.eml": make("x").as_bytes(),
                                       "train/spam/b.eml": make("y").as_bytes()})
    assert read_messages(root, split="test").counts() == {"spam": 1}
    with pytest.raises(DataError, match="only one class"):
        read_messages(root, split="train")


def test_split_folders_are_honoured(tmp_path):
    files = {f"{split}/{label}/{i}.eml": make(f"{split} {label} {i}").as_bytes()
             for split, n in (("train", 3), ("val", 2)) for label in ("ham", "spam") for i in range(n)}
    root = write_tree(tmp_path / "d", files)
    assert splits_in(root) == ["train", "val"]
    assert read_messages(root).counts() == {"ham": 3, "spam": 3}
    val = read_messages(root, split="val")
    assert val.counts() == {"ham": 2, "spam": 2} and all(t.startswith("subject: val ") for t in val.items)
    with pytest.raises(DataError, match="no 'test' sub-folder"):
        read_messages(root, split="test")


def test_sms_style_table_is_read_and_normalised(tmp_path):
    path = tmp_path / "SMSSpamCollection"
    path.write_text("ham\tOk lar see u at 5\nspam\tWIN £1000 now! txt 87121\nham\tcall me\n")
    ex = read_messages(path)
    assert ex.labels == ["ham", "spam", "ham"]
    assert ex.items[1] == "WIN MONEY now! txt NUMBER"
    assert read_messages(path, options={"normalise": "false"}).items[1] == "WIN £1000 now! txt 87121"


def test_unknown_and_bad_options_are_usage_errors(tmp_path):
    root = write_tree(tmp_path / "d", {"ham/a.eml": make("x").as_bytes(), "spam/b.eml": make("y").as_bytes()})
    with pytest.raises(UsageError, match="labl"):
        read_messages(root, options={"labl": "spam"})
    with pytest.raises(UsageError, match="fields"):
        read_messages(root, options={"fields": "subject,bdy"})
    with pytest.raises(UsageError, match="normalise"):
        read_messages(root, options={"normalise": "maybe"})
    ex = read_messages(root, options={"fields": "body", "text_cols": None})
    assert ex.items == ["See you at lunch."] * 2


def test_progress_lines_and_summary(tmp_path, monkeypatch):
    root = write_tree(tmp_path / "d", {f"{label}/{i}.eml": make(f"m{i}").as_bytes()
                                       for label in ("ham", "spam") for i in range(3)})
    lines: list[str] = []
    monkeypatch.setattr(mailboxes, "PROGRESS_EVERY", 0.0)
    read_messages(root, progress=lines.append)
    assert lines[0].startswith(f"reading mail from {root}: 0/6 files, 1 messages")  # ticks per message
    assert f"reading mail from {root}: 1/6 files, 1 messages, 0 skipped" in lines  # and per file
    assert lines[-1].startswith(f"read 6 messages from {root} (0 skipped)") and "messages/s" in lines[-1]
    monkeypatch.setattr(mailboxes, "PROGRESS_EVERY", 3600.0)
    lines.clear()
    read_messages(root, progress=lines.append)
    assert len(lines) == 1  # only the summary when the read takes less than the interval


# ------------------------------------------------------------------ mail to score
def test_read_unlabelled_paths_mboxes_and_raw_texts(tmp_path):
    eml = tmp_path / "one.eml"
    eml.write_bytes(make("Single", "hi").as_bytes())
    box = make_mbox(tmp_path / "box.mbox", [make("A", "a"), make("B", "b")])
    (tmp_path / "empty.eml").write_bytes(b"")
    skipped = []
    pairs = list(iter_unlabelled([str(eml), str(box), str(tmp_path / "empty.eml"), "WIN £5 now"],
                                 on_skip=skipped.append))
    assert [sid for sid, _ in pairs] == [str(eml), f"{box}#1", f"{box}#2", "input 4"]
    assert pairs[-1][1] == "WIN MONEY now"
    assert [s.item for s in skipped] == [str(tmp_path / "empty.eml")]
    assert read_unlabelled([str(box)]) == [t for sid, t in pairs[1:3]]
    with pytest.raises(DataError, match="not found"):
        read_unlabelled([str(tmp_path / "missing.mbox")])
    with pytest.raises(UsageError):
        read_unlabelled(["   "])


def test_iter_messages_streams_a_large_mbox_lazily(tmp_path):
    box = make_mbox(tmp_path / "big.mbox", [make(f"Message {i}", f"body {i}") for i in range(50)])
    stream = iter_messages(box)
    first = next(stream)
    assert first == (f"{box}#1", "subject: Message NUMBER\nfrom: corp.example.com\nbody NUMBER")
    stream.close()  # stopping early leaves the mbox as it was
    assert len(list(iter_messages(box))) == 50


# ------------------------------------------------------------------ real data (the shared mirror)
@pytest.mark.real_data
def test_real_enron_mailbox_1(dataset_mirror):
    path = dataset_mirror("enron-spam", "enron1") / "enron1"
    ex = read_messages(path, progress=lambda line: None)
    assert ex.counts() == {"ham": 3672, "spam": 1500}
    assert [Path(s.item).name for s in ex.skipped] == ["Summary.txt"]  # the corpus's own notes, no label
    assert ex.items[0] == "subject: christmas tree farm pictures"
    assert sum(t == "EMPTY" for t in ex.items) == 16


@pytest.mark.real_data
def test_real_sms_collection_through_the_mail_reader(dataset_mirror):
    path = dataset_mirror("sms-spam", "SMSSpamCollection") / "SMSSpamCollection"
    ex = read_messages(path)
    assert ex.counts() == {"ham": 4827, "spam": 747} and not ex.skipped
    assert ex.items[2].startswith("Free entry in NUMBER a wkly comp to win FA Cup final tkts 21st May NUMBER .")


def test_container_readers_are_importable_from_the_email_module_too():
    from transferkit.datasets import email as email_module

    assert email_module.read_messages is read_messages and email_module.iter_messages is iter_messages
    with pytest.raises(AttributeError):
        email_module.no_such_reader  # noqa: B018
