"""One e-mail message as model input: parse it, decode it whatever its charset, normalise its text.

A message becomes one string of fields, each on its own line, with a marker the model can learn from::

    subject: WIN a prize of MONEY now
    from: example.com
    attachments: invoice.pdf.exe
    urls: evil.example, bit.ly
    Dear friend, click URL evil.example to claim ...

RFC 822 messages (``.eml`` files, mbox and Maildir entries) are parsed with the standard library's
``email`` package: multipart MIME, quoted-printable and base64 bodies, any declared charset. Its
``compat32`` policy walks the MIME structure (tolerant, and about 7 times faster than ``policy.default`` on
multipart mail); the headers the model reads are decoded with ``policy.default``, falling back to the
raw value when it raises or meets an unknown charset. Undeclared or wrong charsets fall back to UTF-8,
cp1252 and latin-1 (:func:`decode_bytes`), so that decoding never fails. When a message offers text
and HTML alternatives the text one is used, else the HTML one is turned into text with ``html-text``
(an lxml-based converter, not regular expressions); links hidden behind HTML anchors still reach the
``urls`` field. Plain-text messages as in Enron-Spam (first line
``Subject: ...``, then the body, no other headers) are read as such.

:func:`normalise` replaces URLs with ``URL <domain>``, e-mail addresses with ``EMAIL <domain>``, currency
amounts with ``MONEY`` and other numbers with ``NUMBER``, and collapses whitespace: these are token
classes, and a regular expression is the right tool for them.

Example:
    >>> mail = parse_mail(b"Subject: Win $1,000 now\\n\\nVisit https://www.win.example/x today")
    >>> mail.to_text()
    'subject: Win MONEY now\\nurls: win.example\\nVisit URL win.example today'
"""
from __future__ import annotations

import codecs
import email
import email.header
import email.message
import email.policy
import email.utils
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from transferkit.errors import MissingDependencyError

# The fields a message can contribute, in the order they are written; presets pick a subset.
FIELDS = ("subject", "from", "attachments", "urls", "body")
# Long bodies are cut: models read a few hundred tokens, and a 5 MB mail must not stall a folder read.
MAX_CHARS = 20_000
# HTML beyond this many characters is not parsed (it is almost always embedded data, not prose).
_MAX_HTML = 1_000_000
MAX_URLS = 20

URL_TOKEN, EMAIL_TOKEN, MONEY_TOKEN, NUMBER_TOKEN, EMPTY_TOKEN = "URL", "EMAIL", "MONEY", "NUMBER", "EMPTY"


class MailError(ValueError):
    """A message that cannot be used (empty, binary, unparseable, no text); the reason is the message."""


@dataclass
class Mail:
    """What the model may see of one message.

    Example:
        >>> Mail(subject="Hi", body="See you").to_text(fields=["subject", "body"])
        'subject: Hi\\nSee you'
    """

    subject: str = ""
    sender_domain: str = ""
    attachments: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    body: str = ""

    def to_text(self, fields: Sequence[str] = FIELDS, *, normalise: bool = True, max_chars: int = MAX_CHARS) -> str:
        """The model input: one line per non-empty field, the body last and without a marker (so that
        an e-mail body and an SMS read alike); ``EMPTY`` for a message with nothing in those fields."""
        body_hosts: list[str] = []
        body = self.body[:max_chars] if ("body" in fields or "urls" in fields) else ""
        if normalise:
            body = _substitute(body, body_hosts)
        elif "urls" in fields:
            body_hosts = _domains_in(body)
        clean = _normalise if normalise else _collapse
        lines = []
        for name in fields:
            if name == "subject" and self.subject.strip():
                lines.append("subject: " + clean(self.subject))
            elif name == "from" and self.sender_domain:
                lines.append("from: " + self.sender_domain)
            elif name == "attachments" and self.attachments:
                lines.append("attachments: " + ", ".join(_collapse(a) for a in self.attachments))
            elif name == "urls" and (self.urls or body_hosts):
                lines.append("urls: " + ", ".join(list(dict.fromkeys(self.urls + body_hosts))[:MAX_URLS]))
            elif name == "body" and body.strip():
                lines.append(_collapse(body))
        # An empty mail is itself a signal (Enron-Spam holds spam that is a bare "Subject:" line).
        return "\n".join(lines) or EMPTY_TOKEN


# ---------------------------------------------------------------------------- normalisation
# Top-level domains recognised in bare domain names ("visit cheap-meds.biz"); a scheme or "www." needs none.
_TLDS = (
    "com|net|org|info|biz|edu|gov|mil|int|io|co|us|uk|de|fr|ru|cn|jp|nl|it|es|ca|au|br|in|eu|ch|se|pl|be|at|"
    "dk|fi|cz|hu|ro|gr|pt|ie|tv|cc|ws|mobi|name|pro|xyz|top|online|site|club|shop|app|dev|ly|kr|tw|hk|mx|ar|za"
)
_URL_CHARS = r"[^\s<>\"'`{}|\\^\[\]]"
_AMOUNT = r"\d+(?:[.,]\d+)*"
# One pass, leftmost match first; the leading look-around skips positions inside words cheaply.
_TOKENS = re.compile(
    rf"""
    (?<!\w)(?=[\w$€£¥])(?:
    (?P<url>\b(?:(?:https?|ftp)://|www\.){_URL_CHARS}+)
    |(?P<email>\b[\w.%+-]+@(?P<email_domain>(?:[a-z0-9-]+\.)+[a-z]{{2,}})\b)
    |(?P<domain>(?<!{URL_TOKEN}\ )(?<!{EMAIL_TOKEN}\ )(?<![\w.@-])
        (?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})
        (?![\w-])(?:/{_URL_CHARS}*)?)
    |(?P<money>[$€£¥]\s?{_AMOUNT}(?:\s?(?:k|m|bn|million|billion)\b)?
        |(?<![\w.]){_AMOUNT}\s?(?:[$€£¥]|(?:usd|eur|gbp|dollars?|euros?)\b)
        |\b(?:usd|eur|gbp)\s?{_AMOUNT}(?![.,]?\w)
        |(?<![\w.])\d+p\b)
    |(?P<number>(?<![\w.])\d+(?:[.,:/-]\d+)*(?![.,:/-]?\w))
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_TRAILING = ".,;:!?)'\""


def host_of(url: str) -> str:
    """The host of a URL, lower-cased and without ``www.``; "" when there is none.

    Example:
        >>> host_of("HTTPS://WWW.Example.com:8080/a?b=1")
        'example.com'
    """
    if "://" not in url[:10]:
        url = "http://" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. a malformed IPv6 literal
        return ""
    return host[4:] if host.startswith("www.") else host


def _substitute(text: str, hosts: list[str] | None = None) -> str:
    """Replace the token classes in ``text``; the hosts of its URLs are appended to ``hosts``."""

    def token(match: re.Match) -> str:
        kind = match.lastgroup
        if kind in ("url", "domain"):
            whole = match.group(0)
            core = whole.rstrip(_TRAILING)
            host = host_of(core)
            if not host:
                return f" {URL_TOKEN} "
            if hosts is not None:
                hosts.append(host)
            return f" {URL_TOKEN} {host} {whole[len(core):]}"
        if kind == "email":
            return f" {EMAIL_TOKEN} {match.group('email_domain').lower()} "
        return f" {MONEY_TOKEN} " if kind == "money" else f" {NUMBER_TOKEN} "

    return _collapse(_TOKENS.sub(token, unicodedata.normalize("NFKC", text)))


def _collapse(text: str) -> str:
    return " ".join(text.split())


def normalise(text: str) -> str:
    """Replace URLs, e-mail addresses, currency amounts and numbers with tokens; collapse whitespace.

    Unicode is NFKC-normalised first, so that full-width digits and ligatures used to dodge filters read
    as plain ones. Applying it twice changes nothing.

    Example:
        >>> normalise("Call 0800 123 now, win £1,000! Mail bob@Mail.Example.com or see http://x.com/a.")
        'Call NUMBER NUMBER now, win MONEY ! Mail EMAIL mail.example.com or see URL x.com .'
    """
    return _substitute(text)


_normalise = normalise  # Mail.to_text's keyword argument is also called "normalise"


def _domains_in(text: str) -> list[str]:
    found = []
    for match in _TOKENS.finditer(text):
        if match.lastgroup in ("url", "domain"):
            host = host_of(match.group(0).rstrip(_TRAILING))
            if host:
                found.append(host)
    return found


# ---------------------------------------------------------------------------- decoding
# Labels mail software writes for a charset whose superset is what it actually sends (the WHATWG
# Encoding Standard maps them the same way): decoding with the superset loses nothing.
_SUPERSETS = {"ascii": "cp1252", "iso8859-1": "cp1252", "gb2312": "gb18030", "gbk": "gb18030",
              "euc_kr": "cp949", "shift_jis": "cp932", "big5": "big5hkscs"}


@functools.lru_cache(maxsize=256)
def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        found = codecs.lookup(name.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None
    return _SUPERSETS.get(found, found)


def _single_byte(codec: str) -> bool:
    return codec.startswith(("iso8859", "cp125", "latin", "koi8", "mac-", "cp437", "cp850"))


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode message bytes: the declared charset, then UTF-8, then cp1252, then latin-1 (never fails).

    A body declared in an 8-bit charset that is valid UTF-8 is read as UTF-8: an 8-bit charset accepts
    any bytes, so a mislabelled UTF-8 message would otherwise turn into mojibake without an error.

    Example:
        >>> decode_bytes("café".encode("utf-8"), "iso-8859-1"), decode_bytes(b"caf\\xe9", "utf-8")
        ('café', 'café')
    """
    codec = _codec(declared)
    if codec and _single_byte(codec) and not data.isascii():
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    for name in (codec, "utf-8", "cp1252"):
        if name:
            try:
                return data.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("latin-1")


def _clean(text: str) -> str:
    """Text safe for any tokenizer: undecoded bytes (surrogate escapes) decoded, BOMs and NULs removed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            text = decode_bytes(text.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:  # lone surrogates that are not escaped bytes
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\ufeff", "").replace("\x00", " ")


def _decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words (``=?charset?q?...?=``) with :func:`decode_bytes`' fallbacks, so
    that a charset Python does not know still gives text."""
    try:
        words = email.header.decode_header(text)
    except Exception:  # noqa: BLE001 - malformed encoded words: keep the text as it is
        return text
    return "".join(decode_bytes(part, charset) if isinstance(part, bytes) else part for part, charset in words)


def _header(msg: email.message.Message, name: str) -> str:
    """A header as text, never an exception.

    ``policy.default`` decodes it where it can (RFC 2047 words, address syntax); raw 8-bit bytes, words
    in a charset it does not know (which it shows as U+FFFD) and headers it cannot parse at all (it
    raises on ``From: "``) are decoded with :func:`decode_bytes`' fallbacks instead.
    """
    raw = next((value for key, value in msg.raw_items() if key.lower() == name), None)
    if raw is None:
        return ""
    raw = str(raw)
    if not raw.isascii() and "=?" not in raw:
        return _clean(_collapse(raw))  # raw 8-bit bytes: decoded by _clean's fallbacks
    try:
        parsed: str | None = str(email.policy.default.header_fetch_parse(name, raw))
    except Exception:  # noqa: BLE001 - the email package raises many kinds on malformed headers
        parsed = None
    if parsed is not None and ("\ufffd" not in parsed or not raw.isascii()):
        return _clean(parsed)
    return _clean(_collapse(_decode_words(raw)))


def _sender_domain(msg: email.message.Message) -> str:
    value = _header(msg, "from")
    try:
        address = email.utils.parseaddr(value)[1]
    except Exception:  # noqa: BLE001
        return ""
    return address.rpartition("@")[2].strip(" .>").lower() if "@" in address else ""


# ---------------------------------------------------------------------------- MIME walk
@dataclass
class _Parts:
    texts: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    has_plain: bool = False


def _part_text(part: email.message.Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if data is None:  # not decodable as bytes: take the payload as it stands
        payload = part.get_payload()
        return _clean(payload) if isinstance(payload, str) else ""
    try:
        declared = part.get_content_charset()
    except Exception:  # noqa: BLE001
        declared = None
    return _clean(decode_bytes(data, declared))


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Readable text of an HTML body, and the hosts its links point to.

    Example:
        >>> html_to_text('<p>Hello <b>you</b></p><a href="https://evil.example/x">PayPal</a>')
        ('Hello you\\n\\nPayPal', ['evil.example'])
    """
    try:
        import html_text
    except ImportError:
        raise MissingDependencyError(
            "reading HTML e-mail needs the html-text package", fix="pip install 'transferkit[spam]'"
        ) from None
    tree = html_text.parse_html(html[:_MAX_HTML])
    hosts = []
    for href in tree.xpath("//a/@href | //area/@href | //form/@action"):
        href = str(href).strip()
        if href.lower().startswith(("http://", "https://", "www.")):
            host = host_of(href)
            if host:
                hosts.append(host)
    return html_text.extract_text(tree), hosts


def _filename(part: email.message.Message) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        name = part.get_param("name", header="content-type", failobj=None)
        name = name if isinstance(name, str) else None
    if not name:
        return ""
    return _clean(_collapse(_decode_words(name) if "=?" in name else name))  # Outlook encodes names so


def _collect(part: email.message.Message, out: _Parts, depth: int = 0) -> None:
    if depth > 20:  # a pathological nesting of multiparts; what was collected so far stands
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, email.message.Message)]
        if part.get_content_type() == "multipart/alternative" and children:
            _collect_alternative(children, out, depth)
        else:
            for child in children:
                _collect(child, out, depth + 1)
        return
    ctype = part.get_content_type()
    try:
        disposition = part.get_content_disposition()
    except Exception:  # noqa: BLE001
        disposition = None
    name = _filename(part)
    if disposition == "attachment" or name or not ctype.startswith("text/"):
        # Attached files are known by name; unnamed inline images by type (an image-only mail is a signal).
        out.attachments.append(name or ctype)
        return
    text = _part_text(part)
    if ctype == "text/html":
        text, hosts = html_to_text(text)
        out.urls.extend(hosts)
    elif ctype == "text/plain" and text.strip():
        out.has_plain = True
    if text.strip():
        out.texts.append(text)


def _collect_alternative(children: list[email.message.Message], out: _Parts, depth: int) -> None:
    """Keep one alternative: the plain-text one when it has text, else the last (richest) with text."""
    options = []
    for child in children:
        sub = _Parts()
        _collect(child, sub, depth + 1)
        options.append(sub)
    with_text = [o for o in options if o.texts]
    plain = [o for o in with_text if o.has_plain]
    chosen = plain[0] if plain else (with_text[-1] if with_text else options[-1])
    out.texts.extend(chosen.texts)
    out.attachments.extend(chosen.attachments)
    out.has_plain = out.has_plain or chosen.has_plain
    # Links behind HTML anchors are kept even when the text alternative is read: phishing hides there.
    for option in options:
        out.urls.extend(option.urls)


def mail_from_message(msg: email.message.Message) -> Mail:
    """The fields of a parsed message.

    Example:
        >>> import email, email.policy
        >>> msg = email.message_from_string("From: a@b.example\\nSubject: hi\\n\\nbody", policy=email.policy.default)
        >>> mail_from_message(msg).sender_domain
        'b.example'
    """
    parts = _Parts()
    _collect(msg, parts)
    return Mail(
        subject=_header(msg, "subject"),
        sender_domain=_sender_domain(msg),
        attachments=parts.attachments,
        urls=list(dict.fromkeys(parts.urls)),
        body="\n\n".join(parts.texts),
    )


def message_to_text(msg: email.message.Message, *, fields: Sequence[str] = FIELDS, normalise: bool = True,
                    max_chars: int = MAX_CHARS) -> str:
    """The model input for a parsed message (see the module docstring for its layout).

    Example:
        >>> import email, email.policy
        >>> msg = email.message_from_string("Subject: Hello\\n\\nCall 555 1234", policy=email.policy.default)
        >>> message_to_text(msg)
        'subject: Hello\\nCall NUMBER NUMBER'
    """
    return mail_from_message(msg).to_text(fields, normalise=normalise, max_chars=max_chars)


# ---------------------------------------------------------------------------- raw bytes
_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_MAIL_HEADERS = {
    b"from", b"to", b"cc", b"date", b"received", b"message-id", b"return-path", b"mime-version",
    b"content-type", b"delivered-to", b"reply-to", b"sender", b"x-mailer", b"content-transfer-encoding",
}


def looks_like_rfc822(raw: bytes) -> bool:
    """Whether ``raw`` starts with an RFC 822 header block (not just Enron-Spam's lone ``Subject:`` line).

    Example:
        >>> looks_like_rfc822(b"From: a@b.example\\nSubject: x\\n\\nbody"), looks_like_rfc822(b"Subject: x\\nbody")
        (True, False)
    """
    names = set()
    for line in raw[:16384].splitlines()[:300]:
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t") and names:
            continue  # a folded header line
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(b":", 1)[0].strip().lower())
    return bool(names & _MAIL_HEADERS)


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


def _looks_binary(raw: bytes) -> bool:
    """Control bytes (NUL included) in more than 5% of the start: random data has about 11%, and text
    has almost none (Enron-Spam holds a real message ending in one NUL byte, which is kept)."""
    head = raw[:4096]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls > len(head) * 0.05


def parse_mail(raw: bytes, *, rfc822: bool | None = None) -> Mail:
    """Parse one message's bytes; raise :class:`MailError` with the reason when it is not a message
    (no bytes, only whitespace, binary data, or bytes the parser rejects). A message that parses but
    holds no text is kept: its model input is ``EMPTY``.

    ``rfc822=None`` decides from the content: a header block makes it an RFC 822 message, anything else
    is a plain-text message whose optional first line ``Subject: ...`` is the subject (Enron-Spam).

    Example:
        >>> parse_mail(b"Subject: meeting\\nsee you at 10").subject
        'meeting'
    """
    if not raw.strip():
        raise MailError(f"empty message ({len(raw)} bytes)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte-order mark: re-encode, then parse
        raw = raw.decode("utf-16", "replace").encode("utf-8")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    if _looks_binary(raw):
        raise MailError("binary content, not a text message")
    if rfc822 is None:
        rfc822 = looks_like_rfc822(raw)
    if rfc822:
        try:
            # compat32 for the MIME structure: policy.default re-parses every Content-Type through its
            # header registry, about 7 times slower on multipart mail; the headers read are decoded
            # with policy.default (_header).
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            mail = mail_from_message(msg)
        except MissingDependencyError:
            raise
        except Exception as err:  # noqa: BLE001 - the reason is reported with the file's path
            raise MailError(f"cannot parse as e-mail: {type(err).__name__}: {err}") from None
    else:
        mail = _plain_mail(decode_bytes(raw))
    return mail


def _plain_mail(text: str) -> Mail:
    text = _clean(text)
    first, _, rest = text.lstrip().partition("\n")
    if first[:8].lower() == "subject:":
        return Mail(subject=first[8:].strip(), body=rest)
    return Mail(body=text)


def fields_option(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The ``fields`` read option as a tuple, checked: ``"subject,body"`` or a list.

    Example:
        >>> fields_option("subject, body")
        ('subject', 'body')
    """
    if value is None:
        return FIELDS
    names = [p.strip().lower() for p in (value.split(",") if isinstance(value, str) else value) if str(p).strip()]
    unknown = [n for n in names if n not in FIELDS]
    if unknown or not names:
        raise ValueError(f"unknown field(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(FIELDS)}")
    return tuple(names)


# The readers of mail containers live in transferkit.datasets.mailboxes (which imports this module);
# they are importable from here too, lazily, so that either module can be imported first.
_CONTAINER_READERS = ("read_messages", "iter_messages", "iter_unlabelled", "read_unlabelled", "splits_in")


def __getattr__(name: str):  # PEP 562
    if name in _CONTAINER_READERS:
        from transferkit.datasets import mailboxes

        return getattr(mailboxes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
