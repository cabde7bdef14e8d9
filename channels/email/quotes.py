"""Where the customer's new words end and the quoted history (or a forwarded mail) begins. Pure.

The first boundary from the top wins, and a reply boundary only counts below
some text of the customer's own. Rules, each the shape a client writes:

1. a drawn line titled "Original Message" (any language), "Forwarded message",
   or Zoho's "---- On … wrote ----";
2. a bare rule (``____``, ``-----``, ``====``), or a drawn line with words we
   do not know, right above a header block or a reply header;
3. a From/Sent/To/Subject header block in one language (Outlook, GMX, QQ, Naver);
4. a reply header line ("On … wrote:", "W dniu … napisał:", "…, "Name" <addr>:"),
   wrapped over up to three lines, above a ``>``-quoted block that runs to the
   end of the mail (or above anything, when it names verb, address and date;
   or above an unquoted original when the verbless or colonless whole header
   stands between blank lines). A quoted line re-wrapped without its ``>``
   and a ``-- `` footer below the quote belong to the quoted block;
5. a ``>``-quoted block running to the end, not introduced by a line of the
   customer's own ending in ":" ("Your site says:").

An inline reply (the customer's text between quoted lines) has no boundary:
nothing is cut.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from channels.email import shapes

Kind = Literal["reply", "forward"]


@dataclass(frozen=True, slots=True)
class Boundary:
    start: int  # first line of the quoted history or forwarded block
    kind: Kind
    header: shapes.HeaderBlock | None = None  # the quoted/forwarded message's own header block, when found
    intro_end: int | None = None  # index after the reply header line(s), when the boundary is one
    footer: int | None = None  # the "-- " line of a signature below the quoted history, when there is one


@dataclass(frozen=True, slots=True)
class _View:
    """The body's lines with what every rule asks of them, computed once (a long mail stays linear)."""

    lines: list[str]
    plain: list[str]  # trimmed, unquoted, without bidi marks
    quoted: list[bool]  # the line is ">"-quoted
    tail: list[bool]  # every non-blank line from here on is quoted (and there is one)
    quoted_after: list[bool]  # some line from here on is quoted
    last_filled: int  # index of the last non-blank line (-1: none)
    footer: int  # the "-- " line of a signature below the quoted history (len(lines): none)

    @classmethod
    def of(cls, lines: list[str]) -> _View:
        plain = [shapes.clean(shapes.unquote(line)) for line in lines]
        quoted = [shapes.quote_depth(line) > 0 for line in lines]
        for index in range(1, len(lines)):
            if not quoted[index] and quoted[index - 1] and _rewrapped(plain[index - 1], plain[index]):
                quoted[index] = True
        footer = _footer_below_quote(lines, plain, quoted)
        tail = [False] * (len(lines) + 1)
        quoted_after = [False] * (len(lines) + 1)
        seen = False
        for index in range(len(lines) - 1, -1, -1):
            quoted_after[index] = quoted_after[index + 1] or quoted[index]
            if not plain[index] or index >= footer:
                tail[index] = seen and tail[index + 1]
                continue
            tail[index] = quoted[index] and (tail[index + 1] or not seen)
            seen = True
        last_filled = max((i for i, text in enumerate(plain) if text), default=-1)
        return cls(lines, plain, quoted, tail, quoted_after, last_filled, footer)

    def has_content(self, start: int) -> bool:
        return start <= self.last_filled


# A quoted line this long was wrapped by the client at ~76 characters; a wrapped quote whose tail
# lost its ">" continues in lower case right below it ("> … entro cin" / "que giorni lavorativi.").
_WRAPPED_QUOTE_CHARS = 50


_SENTENCE_END = (".", "?", "!", ":", ";", "。", "？", "！", "：")


def _rewrapped(quoted_line: str, line: str) -> bool:
    """``line`` is the rest of the ``>``-quoted line above it, re-wrapped without its ``>``.

    A re-wrapped quote carries on mid-sentence, in lower case, below a long line
    that stops without ending its sentence. A customer answering inline answers a
    question ("…damaged on arrival?" / "yes, the box was crushed"), writes a new
    sentence or leaves a blank line: their line stays theirs.
    """
    return (len(quoted_line) >= _WRAPPED_QUOTE_CHARS and not quoted_line.endswith(_SENTENCE_END)
            and line[:1].islower())


def _footer_below_quote(lines: list[str], plain: list[str], quoted: list[bool]) -> int:
    """Where a "-- " signature block below the quoted history starts (``len(lines)``: none).

    A server or client adds the sender's signature or disclaimer at the very
    bottom, below the quote: it is the signature, never an inline answer, and the
    quote above it still runs to the end of the message.
    """
    for index in range(len(lines) - 1, 0, -1):
        if lines[index].rstrip() in ("--", "-- ") and not quoted[index]:
            above = next((i for i in range(index - 1, -1, -1) if plain[i]), None)
            return index if above is not None and quoted[above] else len(lines)
    return len(lines)


def _after_separator(view: _View, index: int, kind: Kind) -> Boundary | None:
    """What follows a drawn line: the quoted message's header block or reply header."""
    below = shapes.next_filled(view.plain, index + 1)
    if below is None:
        return None
    block = shapes.read_header_block(view.plain, below, after_separator=True)
    if block is not None:
        return Boundary(index, kind, block)
    found = shapes.attribution_end(view.plain, below)
    if found is not None:
        return Boundary(index, kind, None, found[0])
    return None


def _boundary_at(view: _View, index: int, forward_subject: bool) -> Boundary | None:
    text = view.plain[index]
    if view.quoted[index] and not view.tail[index]:
        return None  # inside an inline reply: the customer writes again below
    reply_kind: Kind = "forward" if forward_subject else "reply"
    separator = shapes.separator_kind(text)
    if separator == "forward":
        return _after_separator(view, index, "forward") or Boundary(index, "forward")
    if separator == "original":
        return _after_separator(view, index, reply_kind) or (
            Boundary(index, reply_kind) if view.has_content(index + 1) else None)
    if separator == "attribution":
        return Boundary(index, "reply", None, index + 1) if view.has_content(index + 1) else None
    if separator in ("rule", "titled"):
        return _after_separator(view, index, reply_kind)
    block = shapes.read_header_block(view.plain, index)
    if block is not None:
        return Boundary(index, reply_kind, block)
    found = shapes.attribution_end(view.plain, index)
    if found is not None:
        end, strength = found
        # Yahoo writes its full header above an unquoted original; the verbless or colonless whole
        # header counts above one when it stands apart between blank lines; else the ">" block.
        unquoted = not view.quoted[index] and not view.quoted_after[end] and view.has_content(end)
        apart = not view.plain[index - 1] if index else True
        apart = apart and (end >= len(view.plain) or not view.plain[end])
        plain_original = unquoted and (strength == "strong" or strength == "separated" and apart)
        if view.tail[end] or plain_original:
            return Boundary(index, "reply", None, end)
    return None


def _starts_trailing_quote(view: _View, index: int) -> bool:
    """The first line of a quoted block running to the end, not introduced by the customer.

    A quote right below a line of the customer's own ending in ":" ("Your site
    says:") is part of what they wrote.
    """
    above = next((i for i in range(index - 1, -1, -1) if view.plain[i]), None)
    if above is None or view.quoted[above]:
        return False
    return not view.plain[above].endswith((":", "："))


def _rule_above(plain: list[str], index: int) -> int:
    """Move a boundary up over the rule a client draws above it ("____", "* * *" from an HTML <hr>)."""
    above = next((i for i in range(index - 1, -1, -1) if plain[i]), None)
    if above is not None and shapes.separator_kind(plain[above]) in ("rule", "titled"):
        return above
    return index


def _footer(view: _View, boundary: Boundary) -> int | None:
    """The signature below the quoted history of a reply (a forward keeps all it brought)."""
    if boundary.kind == "forward" or view.footer >= len(view.lines) or view.footer <= boundary.start:
        return None
    return view.footer


def find_boundary(lines: list[str], *, forward_subject: bool = False) -> Boundary | None:
    """The first line of quoted history or of a forwarded mail, or ``None`` when all is new text.

    Args:
        lines: the body, split on newlines.
        forward_subject: the subject says forward ("Fwd:", "WG:", "TR:"): an
            Outlook header block below starts a forwarded mail, not history.
    """
    view = _View.of(lines)
    own_text = False
    for index, text in enumerate(view.plain):
        if not text:
            continue
        boundary = _boundary_at(view, index, forward_subject)
        if boundary is not None and (own_text or boundary.kind == "forward"):
            return replace(boundary, start=_rule_above(view.plain, boundary.start), footer=_footer(view, boundary))
        if own_text and view.tail[index] and view.quoted[index] and _starts_trailing_quote(view, index):
            return Boundary(index, "reply", footer=_footer(view, Boundary(index, "reply")))
        own_text = True
    return None
