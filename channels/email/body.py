"""The customer's words out of a MIME message: pick the text part, decode any charset, split the body.

Pure functions; nothing here raises on bad input: a problem becomes a note in
``problems`` and the best readable text is returned. The split into new
words, signature, quoted history and forwarded mail is ``split_body``; the
rules live in ``quotes``, ``signatures`` and ``forwards``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from email.message import Message, MIMEPart

import html2text

from channels.email import forwards, quotes, signatures
from channels.email.forwards import Forwarded

# Labels mail clients write that Python does not know, or that mean a superset in practice
# (mail labelled ISO-8859-1 or ASCII is very often Windows-1252; Shift_JIS is usually CP932).
CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "big5": "big5hkscs", "tis-620": "cp874",
    "iso-8859-11": "cp874", "utf8": "utf-8", "x-mac-roman": "mac_roman",
}
UNKNOWN_CHARSETS = frozenset({"", "unknown-8bit", "x-unknown", "unknown", "default", "charset"})
MAX_TEXT_CHARS = 100_000
# HTML fed to the converter: html2text takes about a second per megabyte, so a 25 MB HTML mail would
# keep a parser busy for most of a minute. The customer's new words are at the top (what is cut is
# quoted history or a newsletter's tail), and this much HTML already gives more than MAX_TEXT_CHARS.
MAX_HTML_CHARS = 512 * 1024
# Lists and quotes nested deeper than this are read as if they were not nested further. html2text
# indents each level, so its output grows with depth × lines: 2,000 nested <ul><li> (10 KiB) become
# 4 M characters and 0.5 s of CPU, 512 KiB of them gigabytes. Real mail nests a few levels; a long
# reply chain quoted in HTML, a few dozen.
MAX_HTML_NESTING = 50
NESTING_TAG = re.compile(r"<(/?)(ul|ol|dl|dir|menu|blockquote)\b[^>]*>", re.IGNORECASE)


def decode_bytes(payload: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset, then sensible fallbacks; returns (text, problem or None)."""
    label = (declared or "").strip().strip('"').lower()
    candidates: list[str] = []
    if label not in UNKNOWN_CHARSETS:
        candidates.append(CHARSET_ALIASES.get(label, label))
    candidates += ["utf-8", "cp1252"]
    for name in candidates:
        try:
            codecs.lookup(name)
            text = payload.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        problem = None
        if candidates[0] != name and label not in UNKNOWN_CHARSETS:
            problem = f"declared charset {label!r} did not decode; read as {name}"
        return text, problem
    return payload.decode("latin-1"), f"undecodable text in charset {label or 'unknown'!r}; read as latin-1"


def part_text(part: Message) -> tuple[str, list[str]]:
    """A text part's content as str, whatever its transfer encoding and charset."""
    problems: list[str] = []
    try:
        payload = part.get_payload(decode=True)
    except Exception as error:  # a broken base64/qp body is still partly readable
        problems.append(f"unreadable body encoding: {error}")
        raw = part.get_payload()
        payload = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    if not isinstance(payload, bytes):  # None: a multipart has no decoded payload of its own
        raw = part.get_payload()
        payload = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    declared = part.get_content_charset() or part.get_param("charset")
    # get_param gives a (charset, language, value) tuple for an RFC 2231 value get_content_charset refused.
    text, problem = decode_bytes(payload, declared if isinstance(declared, str) else None)
    if problem:
        problems.append(problem)
    return text.replace("\r\n", "\n"), problems


def bound_nesting(html: str) -> tuple[str, bool]:
    """``html`` with list and quote tags beyond ``MAX_HTML_NESTING`` levels removed (their content kept);
    True when any was. One regex pass; markup that nests less comes back unchanged."""
    kept: list[bool] = []  # per open list/quote tag, innermost last: was it kept?
    depth = 0
    flattened = False

    def visit(tag: re.Match[str]) -> str:
        nonlocal depth, flattened
        if not tag.group(1):  # an opening tag
            keep = depth < MAX_HTML_NESTING
            kept.append(keep)
            depth += keep
            flattened |= not keep
            return tag.group(0) if keep else ""
        if not kept:
            return tag.group(0)  # a stray closing tag: html2text ignores it as before
        keep = kept.pop()
        depth -= keep
        return tag.group(0) if keep else ""

    bounded = NESTING_TAG.sub(visit, html)
    return (bounded, True) if flattened else (html, False)


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wrapping: agents' screens wrap
    converter.ignore_images = True
    converter.ignore_emphasis = True  # "**From:**" would hide Outlook's reply header from the parser
    converter.unicode_snob = True
    # html2text indents top-level list items by two spaces ("  * Browser"); the customer did not.
    return re.sub(r"(?m)^  (?=(?:\*|\d+\.) )", "", converter.handle(html)).strip()


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment"


def find_text_part(msg: Message) -> Message | None:
    """The part holding the customer's words: text/plain preferred, else HTML.

    An empty plain alternative ("view this mail in HTML") loses to its HTML twin.
    """
    plain: Message | None = None
    html: Message | None = None
    if isinstance(msg, MIMEPart):  # parsed with policy.default; a compat32 Message has no get_body
        try:
            plain = msg.get_body(preferencelist=("plain",))
            html = msg.get_body(preferencelist=("html",))
        except Exception:
            plain = html = None
    if plain is None and html is None:
        for part in msg.walk():
            if part.get_content_maintype() == "text" and not _is_attachment(part):
                return part
        return None
    if plain is not None and html is not None and not part_text(plain)[0].strip():
        return html
    return plain if plain is not None else html


def extract_text(msg: Message) -> tuple[str, list[str]]:
    """The full readable body (quotes included), and what went wrong reading it."""
    part = find_text_part(msg)
    if part is None:
        return "", ["no text body"]
    text, problems = part_text(part)
    if part.get_content_subtype() == "html":
        if len(text) > MAX_HTML_CHARS:
            problems.append(f"HTML cut to its first {MAX_HTML_CHARS // 1024} KiB before conversion")
            text = text[:MAX_HTML_CHARS]  # cut before converting: the cost is in the conversion
        text, flattened = bound_nesting(text)
        if flattened:
            problems.append(f"lists or quotes nested deeper than {MAX_HTML_NESTING} levels read as {MAX_HTML_NESTING}")
        try:
            text = html_to_text(text)
        except Exception as error:  # html2text on pathological markup
            problems.append(f"HTML could not be converted: {error}")
            text = re.sub(r"<[^>]+>", " ", text)
    if len(text) > MAX_TEXT_CHARS:
        problems.append(f"body truncated to {MAX_TEXT_CHARS} characters")
        text = text[:MAX_TEXT_CHARS]
    return text.strip(), problems


@dataclass(frozen=True, slots=True)
class Body:
    """A mail body split into what the customer wrote now and what came with it."""

    text: str  # the new words: no quoted history, no signature (what routing and agents read first)
    signature: str  # "" when none; shown collapsed, never routed on
    quoted: str  # the quoted history below the new words ("" when none)
    forwards: tuple[Forwarded, ...]  # a forwarded mail in the body: kept whole, with its sender and date


def split_body(full_text: str, subject: str | None = None) -> Body:
    """Split a readable body; a mail that is all quote, or all signature, stays whole as the text."""
    lines = full_text.split("\n")
    boundary = quotes.find_boundary(lines, forward_subject=forwards.is_forward_subject(subject))
    footer = ""
    if boundary is None:
        new, rest = full_text, ""
    else:
        end = len(lines) if boundary.footer is None else boundary.footer
        new, rest = "\n".join(lines[:boundary.start]), "\n".join(lines[boundary.start:end]).strip()
        if boundary.footer is not None:  # the customer's signature, below the quote they answered
            footer = "\n".join(line.rstrip() for line in lines[boundary.footer + 1:]).strip()
    forwarded = (forwards.read_forward(lines, boundary),) if boundary is not None and boundary.kind == "forward" else ()
    text, signature = signatures.split_signature(new)
    signature = "\n\n".join(part for part in (signature, footer) if part)
    if not text and not forwarded:
        return Body(full_text.strip(), "", "", ())
    return Body(_trim_lines(text), signature, "" if forwarded else rest, forwarded)


def _trim_lines(text: str) -> str:
    """No trailing spaces: html2text ends a <br> line with two ("Regards  ")."""
    return "\n".join(line.rstrip() for line in text.split("\n"))
