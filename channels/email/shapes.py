"""The shapes mail clients write above quoted or forwarded mail, line by line. Pure.

A reply header is recognised by its shape, never by one word: an attribution
line needs a verb with an address or a date and time ("On 3 Mar 2025 at 10:15,
Anna <anna@x> wrote:"), or an address with a date and time and no verb
(Yandex, Mail.ru, Gmail in Russian or Japanese); a header block needs From,
a dated Sent/Date and To or Subject labels, all in one language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from channels.email.reply_words import FIRST_PERSON, FORWARD_TITLES, LABELS, ORIGINAL_TITLES, VERBS

# Zero-width and bidi marks Gmail puts around names in Arabic and Hebrew headers.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                    "\u2066\u2067\u2068\u2069\ufeff"), None)
_QUOTE_MARKS = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_MAILTO_LINK = re.compile(r"\[([^\]]*)\]\(mailto:[^)]*\)")
ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)|\d{1,2}\s?[月월]|\d{4}\s?[年년]")
_NUMERIC_DATE = re.compile(r"(?<!\d)\d{1,4}\s?[./-]\s?\d{1,2}\s?[./-]\s?\d{2,4}(?!\d)")
_TIME = re.compile(r"(?<![\d.:])\d{1,2}[:.h]\d{2}(?!\.?\d)|\d{1,2}\s?[時시]|[上下]午\s?\d|오[전후]\s?\d")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_ADDRESS_LAST = re.compile(r"<\s*[\w.+'-]+@[\w-]+(?:\.[\w-]+)+\s*>\s*[:：]$")


def _spaced(word: str) -> bool:
    """Scripts that separate words with spaces get whole-word matching; CJK does not."""
    return all(ord(char) < 0x2E80 for char in word)


def _verb_pattern() -> re.Pattern[str]:
    words = sorted({verb for verbs in VERBS.values() for verb in verbs}, key=len, reverse=True)
    parts = [rf"(?<!\w){re.escape(w)}(?!\w)" if _spaced(w) else re.escape(w) for w in words]
    return re.compile("|".join(parts), re.IGNORECASE)


VERB = _verb_pattern()
# Longest first: "napisał(a)" is matched whole, not as "a)".
_VERB_ENDINGS = tuple(sorted({verb.lower() for verbs in VERBS.values() for verb in verbs}, key=len, reverse=True))
_ADDRESS_END = re.compile(r"<\s*[\w.+'-]+@[\w-]+(?:\.[\w-]+)+\s*>\s*$")
_LABEL_LINE = re.compile(r"^\*{0,2}\s*(?P<label>[^\W\d_][^:：*]{0,24}?)\s*\*{0,2}\s*[:：]\s*\*{0,2}\s*(?P<value>.*)$")
_SEPARATOR = re.compile(r"^[-=_*~—–]{2,}\s*(?P<title>[^-=_*~—–].*?)?\s*[-=_*~—–]{2,}$")
_RULE = re.compile(r"^(?:[-_=*~—–]\s?){3,}$")
_END_TITLES = ("end of forwarded message", "end forwarded message", "конец пересылаемого сообщения",
               "ende der weitergeleiteten nachricht", "fin du message transféré")


def _label_index() -> dict[str, tuple[str, frozenset[str]]]:
    index: dict[str, tuple[str, set[str]]] = {}
    for language, fields in LABELS.items():
        for name, labels in fields.items():
            for label in labels:
                field_name, languages = index.setdefault(label.lower(), (name, set()))
                if field_name == name:  # a label means one field; the first language to use it decides
                    languages.add(language)
    return {label: (name, frozenset(langs)) for label, (name, langs) in index.items()}


LABEL_INDEX = _label_index()


def clean(line: str) -> str:
    """The line as matched: no bidi marks, no-break spaces as spaces, no mailto link markup, trimmed."""
    line = _MAILTO_LINK.sub(r"\1", line.translate(_INVISIBLE).replace("\xa0", " "))
    return line.replace("\\-", "-").strip()


def quote_depth(line: str) -> int:
    marks = _QUOTE_MARKS.match(line)
    return marks.group(0).count(">") if marks else 0


def unquote(line: str, levels: int = 99) -> str:
    """The line without up to ``levels`` leading ``>`` marks."""
    for _ in range(levels):
        stripped = re.sub(r"^[ \t]*>[ \t]?", "", line, count=1)
        if stripped == line:
            break
        line = stripped
    return line


def has_date(text: str) -> bool:
    return bool(_YEAR.search(text) or _NUMERIC_DATE.search(text))


def has_time(text: str) -> bool:
    return bool(_TIME.search(text))


Strength = Literal["strong", "separated", "quoted"]
_RANK: dict[Strength | None, int] = {"strong": 3, "separated": 2, "quoted": 1}


def _first_person(text: str, verb: re.Match[str]) -> bool:
    """"On Monday I wrote:" is the customer's sentence: clients write a name next to the verb, never a pronoun."""
    before = re.findall(r"[^\W\d_]+", text[:verb.start()])
    after = re.findall(r"[^\W\d_]+", text[verb.end():])
    return bool(before and before[-1].lower() in FIRST_PERSON or after and after[0].lower() in FIRST_PERSON)


def attribution_strength(text: str) -> Strength | None:
    """How sure a line ending in ":" is a client's reply header.

    ``strong``: verb, address and a date or time, the whole header (Yahoo and some
    Outlook builds write it above an unquoted original). ``separated``: the whole
    header without a verb (date, time, then "<address>:", as Yandex, Mail.ru and
    Gmail in Russian write it) or without its colon ("… Name <addr> wrote"): counts
    above a ``>``-quoted block, or on a line of its own between blank lines above
    an unquoted original. ``quoted``: counts only above a ``>``-quoted block
    (Thunderbird's name without address). ``None``: not a header.
    """
    text = text.strip()
    if len(text) > 320:
        return None
    if not text.endswith((":", "：")):
        return _colonless_strength(text)
    address = bool(ADDRESS.search(text))
    dated, timed = has_date(text), has_time(text)
    if not address and not (dated and timed):
        return None  # every shape below needs one of these; the verb search is the costly one
    verb = VERB.search(text)
    if verb is not None:
        if _first_person(text, verb):
            return None
        if address and (dated or timed):
            return "strong"
        return "quoted" if address or dated and timed else None
    # Without a verb the shape must be exactly the clients': date, time, then "<address>:" last.
    return "separated" if dated and timed and _ADDRESS_LAST.search(text) else None


def _colonless_strength(text: str) -> Strength | None:
    """"On Wed, 14 Nov 2018 08:14 -0200 Name <name@x> wrote" with the colon lost: the client's exact
    shape (date, time, "<address>" right before the verb that ends the line) or nothing."""
    # Plain string tests first: this runs on every line of every mail, and most end in no verb.
    lowered = text.lower()
    if not lowered.endswith(_VERB_ENDINGS):
        return None
    ending = next(verb for verb in _VERB_ENDINGS if lowered.endswith(verb))
    before = text[:len(text) - len(ending)]
    if _spaced(ending) and before[-1:].isalnum() or not before.rstrip().endswith(">"):
        return None
    if not (_ADDRESS_END.search(before) and has_date(before) and has_time(before)):
        return None
    verb = VERB.search(text, len(before))
    return None if verb is None or _first_person(text, verb) else "separated"


def join_wrapped(parts: list[str]) -> str:
    """Lines of one header wrapped by the client: "Anna <" + "anna@x> wrote:" reads as one line."""
    joined = " ".join(parts)
    return re.sub(r"<\s+", "<", re.sub(r"\s+>", ">", joined))


def attribution_end(plain: list[str], start: int, max_lines: int = 3) -> tuple[int, Strength] | None:
    """(index after, strength) of a reply header starting at ``start``, wrapped over up to three lines.

    A header starts where the client began it: when the lines from a later start
    already make as strong a header ("…the packaging it came in." above "On …
    <addr> wrote:"), the lines above are the customer's and this is no header.
    """
    parts: list[str] = []
    for index in range(start, min(start + max_lines, len(plain))):
        if not plain[index]:
            return None
        parts.append(plain[index])
        strength = attribution_strength(join_wrapped(parts))
        if strength is not None:
            rank = _RANK[strength]
            if any(_RANK.get(attribution_strength(join_wrapped(parts[later:])), 0) >= rank
                   for later in range(1, len(parts))):
                return None
            return index + 1, strength
    return None


SeparatorKind = Literal["original", "forward", "attribution", "rule", "titled", "end"]


def separator_kind(text: str) -> SeparatorKind | None:
    """What a drawn line says.

    "-----Original Message-----", "---------- Forwarded message ---------", Zoho's
    "---- On … wrote ----", a bare rule, other words between rules, or Apple's
    "Begin forwarded message:".
    """
    lowered = text.lower()
    if text.endswith((":", "：")) and lowered.rstrip(":： ") in FORWARD_TITLES:
        return "forward"
    match = _SEPARATOR.match(text)
    if match is None:
        return "rule" if _RULE.match(text) else None
    title = (match.group("title") or "").lower()
    if not title:
        return "rule"
    if any(word in title for word in _END_TITLES):
        return "end"
    if any(word in title for word in FORWARD_TITLES):
        return "forward"
    if any(word in title for word in ORIGINAL_TITLES):
        return "original"
    if attribution_strength(title.rstrip(" :") + ":") is not None:
        return "attribution"
    return "titled"  # a drawn line with words we do not know: a boundary only above a header


@lru_cache(maxsize=4096)  # a block is read from every line: each line's label is looked up many times
def header_label(text: str) -> tuple[str, frozenset[str], str] | None:
    """(field, languages, value) of a "From: …" style line, when its label is a known header label."""
    match = _LABEL_LINE.match(text)
    if match is None:
        return None
    known = LABEL_INDEX.get(" ".join(match.group("label").split()).lower())
    if known is None:
        return None
    return known[0], known[1], match.group("value").strip(" *")


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    start: int
    end: int  # index after the last header line
    fields: dict[str, str]
    languages: frozenset[str]


def _continues(value: str, text: str) -> bool:
    """A header value wrapped onto the next line: Outlook puts "<addr>" or the date below the label."""
    return not value or "@" in text or text.startswith(("<", "[", "(")) or value.endswith((",", ";"))


def read_header_block(plain: list[str], start: int, *, after_separator: bool = False) -> HeaderBlock | None:
    """The From/Sent/To/Subject block starting at ``start``, in one language, or ``None``.

    Without a separator line above it the block must be the whole shape:
    a From, a Sent/Date with a number in it, and a To or a Subject.
    """
    fields: dict[str, str] = {}
    languages: frozenset[str] | None = None
    last = ""
    wrapped = 0
    index = start
    while index < len(plain) and index - start < 16:
        text = plain[index]
        label = header_label(text)
        if label is not None:
            name, label_languages, value = label
            if name in fields:
                break
            # "Cc" is written alike everywhere, and clients leave some labels in English
            # (Gmail's German forward: "Von:", "Date:", "Subject:"); the others pin the language.
            if name != "cc" and "en" not in label_languages:
                narrowed = label_languages if languages is None else languages & label_languages
                if not narrowed:
                    break
                languages = narrowed
            fields[name], last, wrapped = value, name, 0
            index += 1
            continue
        if not text:
            following = next((i for i in range(index + 1, min(index + 3, len(plain))) if plain[i]), None)
            if fields and following is not None and header_label(plain[following]) is not None:
                index = following
                continue
            break
        if last and wrapped < 2 and _continues(fields[last], text):
            fields[last] = f"{fields[last]} {text}".strip()
            wrapped += 1
            index += 1
            continue
        break
    sender, sent = fields.get("from", ""), fields.get("date", "")
    # A sender has a name or an address ("From: 10:00 / To: 12:00" is a delivery slot, not a header).
    sender = sender if _LETTER.search(sender) else ""
    whole = bool(sender and _DIGIT.search(sent) and ("to" in fields or "subject" in fields))
    if not whole and not (after_separator and sender and len(fields) >= 2):
        return None
    return HeaderBlock(start, index, fields, languages or frozenset())


def next_filled(plain: list[str], start: int, limit: int = 2) -> int | None:
    """The first non-blank line at or after ``start``, skipping at most ``limit`` blank lines."""
    for index in range(start, min(start + limit + 1, len(plain))):
        if plain[index]:
            return index
    return None
