"""The reply detector on a public collection of real-world reply layouts, not ours.

    python benchmarks/public_replies.py PATH/TO/email-reply-parser

PATH is a checkout of crisp-oss/email-reply-parser (MIT): its ``test/fixtures``
hold real replies from many clients and languages, and its ``test/test.js``
names, for most of them, the exact text above the quoted history. The
collection is read where it lies; nothing of it is copied into this
repository (our own corpus is tests/email/replies).

Counted:
- replies: every fixture whose test says the new text is exactly the shared
  first paragraph (``COMMON_FIRST_FRAGMENT``): right when the text an agent
  sees is that paragraph (the signature is shown apart, so it is not counted);
- keep-whole: the fixtures whose tests say nothing may be cut (a tricky
  "On …", "wrote:" in a URL, "regards" or "sent from" in a sentence, an inline
  reply): right when the text is the whole mail.

Also runs the libraries benchmarks/reply_detectors.py compares, when installed
(``before`` is mail-parser-reply with the nine languages the gateway's old
``strip_reply`` used).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reply_detectors import (  # noqa: E402
    OLD_LANGUAGES,
    _all_languages,
    _email_reply_parser,
    _mail_parser_reply,
    _quotequail,
)
from channels.email.body import split_body  # noqa: E402

KEEP_WHOLE = (
    "email_tricky_1_on_false_positive", "email_tricky_2_url_with_wrote", "email_tricky_3_code_block",
    "email_tricky_4_from_in_body", "email_tricky_6_regards_in_sentence", "email_tricky_7_multiple_dashes",
    "email_tricky_8_sent_from_in_content", "email_tricky_13_timestamp_variations", "email_tricky_18_inline_reply",
    "email_not_a_signature", "email_not_a_signature_2",
)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _replies(tests: str) -> tuple[str, list[str]]:
    """The shared first paragraph and the fixtures whose test expects exactly it as the new text."""
    found = re.search(r"COMMON_FIRST_FRAGMENT = '(.*?)';", tests, re.S)
    if found is None:
        raise SystemExit("test/test.js has no COMMON_FIRST_FRAGMENT: not an email-reply-parser checkout?")
    common = found.group(1).replace("\\n\\\n", "\n")
    names = []
    for function in tests.split("export function ")[1:]:
        fixture = re.search(r'get_email\("([^"]+)"\)', function)
        if fixture and "test.equal(COMMON_FIRST_FRAGMENT" in function:
            names.append(fixture.group(1))
    return common, names


def _gateway(raw: str) -> str:
    return split_body(raw).text


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    root = Path(sys.argv[1])
    fixtures = root / "test" / "fixtures"
    common, replies = _replies((root / "test" / "test.js").read_text(encoding="utf-8"))
    detectors: dict[str, Callable[[str], str]] = {"gateway": _gateway}
    for label, other in (("before (strip_reply)", _mail_parser_reply(OLD_LANGUAGES)),
                         ("mail-parser-reply (all)", _mail_parser_reply(_all_languages())),
                         ("quotequail", _quotequail()), ("email-reply-parser", _email_reply_parser())):
        if other is not None:
            detectors[label] = other
    read = {name: (fixtures / f"{name}.txt").read_text(encoding="utf-8").strip() for name in (*replies, *KEEP_WHOLE)}
    print(f"{len(replies)} replies with their exact new text, {len(KEEP_WHOLE)} keep-whole, from {fixtures}")
    for label, detect in detectors.items():
        wrong = [name for name in replies if _lines(detect(read[name])) != _lines(common)]
        cut = [name for name in KEEP_WHOLE if _lines(detect(read[name])) != _lines(read[name])]
        print(f"{label:24} replies stripped right {len(replies) - len(wrong):3}/{len(replies)}"
              f"   keep-whole kept {len(KEEP_WHOLE) - len(cut):3}/{len(KEEP_WHOLE)}")
        if wrong or cut:
            print(f"{'':24} wrong: {', '.join(wrong) or '-'}; cut: {', '.join(cut) or '-'}")


if __name__ == "__main__":
    main()
