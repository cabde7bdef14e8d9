"""How well reply-stripping detectors do on the reply corpus (tests/email/replies).

    python benchmarks/reply_detectors.py

Compares, case by case against the text an agent should see:
- ``before``: the gateway's old stripper, mail-parser-reply with its nine
  languages and the trailing-quote trim (what ``strip_reply`` was);
- ``mail-parser-reply (all)``: the same library with every language it knows;
- ``quotequail``: Close's quotequail ``quote()`` (first expanded part), when installed;
- ``email-reply-parser``: the Python port of GitHub's English-only parser, when installed;
- ``gateway``: ``channels.email.body.split_body``.

A case counts as right when the output is the new text, with or without its
signature (the libraries differ on what a signature is).

A benchmark, not a test: it prints figures per kind (reply cases stripped
correctly, keep cases kept whole).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.email.body import split_body  # noqa: E402
from tests.email.replies import Case, load  # noqa: E402

OLD_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "sv", "da", "ja"]


def _mail_parser_reply(languages: list[str]) -> Callable[[str], str] | None:
    try:
        from mailparser_reply import EmailReplyParser
    except ImportError:
        return None

    def strip(text: str) -> str:
        try:
            replies = EmailReplyParser(languages=list(languages)).read(text).replies
            latest = replies[0].body if replies else text
        except Exception:
            latest = text
        lines = latest.rstrip().split("\n")
        while lines and lines[-1].lstrip().startswith(">"):
            lines.pop()
        return "\n".join(lines).strip() or text.strip()

    return strip


def _email_reply_parser() -> Callable[[str], str] | None:
    try:
        from email_reply_parser import EmailReplyParser
    except ImportError:
        return None
    return lambda text: EmailReplyParser.parse_reply(text).strip() or text.strip()


def _quotequail() -> Callable[[str], str] | None:
    try:
        import quotequail
    except ImportError:
        return None
    return lambda text: quotequail.quote(text, quote_intro_line=True)[0][1].strip()


def _gateway(case: Case) -> str:
    body = split_body(case.body.strip(), case.subject)
    return "\n".join(part for part in (body.text, body.signature) if part)


def _wanted(case: Case) -> list[str]:
    """Right answers: the new text, with or without its signature (the libraries differ on signatures)."""
    return [case.expected, "\n".join(part for part in (case.expected, case.signature) if part)]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _same(got: str, wanted: list[str]) -> bool:
    return any(_lines(got) == _lines(text) for text in wanted)


def main() -> None:
    cases = [case for case in load() if case.kind != "forward"]
    every = sorted({code for code in _all_languages()})
    detectors: dict[str, Callable[[Case], str]] = {"gateway": _gateway}
    for name, strip in (("before (strip_reply)", _mail_parser_reply(OLD_LANGUAGES)),
                        ("mail-parser-reply (all languages)", _mail_parser_reply(every)),
                        ("quotequail", _quotequail()),
                        ("email-reply-parser", _email_reply_parser())):
        if strip is not None:
            detectors[name] = lambda case, strip=strip: strip(case.body.strip())
    totals = Counter(case.kind if case.kind == "keep" else "reply" for case in cases)
    print(f"{len(cases)} cases: {totals['reply']} replies (quoted history to strip), {totals['keep']} keep-whole")
    for name, detect in detectors.items():
        right = Counter()
        for case in cases:
            if _same(detect(case), _wanted(case)):
                right["keep" if case.kind == "keep" else "reply"] += 1
        print(f"{name:36} replies stripped right {right['reply']:3}/{totals['reply']}"
              f"   keep-whole kept {right['keep']:3}/{totals['keep']}")


def _all_languages() -> list[str]:
    try:
        from mailparser_reply.constants import MAIL_LANGUAGES
    except ImportError:
        return []
    return [code for code in MAIL_LANGUAGES if code != "david"]


if __name__ == "__main__":
    main()
