"""The reply corpus (tests/email/replies) per language and per client, as the detector does on it.

    python benchmarks/reply_corpus.py

For each language and each client: the cases, the replies (quoted history to
strip, with or without a signature) and how many the gateway stripped exactly
right, the keep-whole mails and how many it kept whole, the forwards and how
many it kept with their sender and date. "Right" is what tests/email/test_replies.py
asserts: the exact text an agent sees, the signature apart, the forward's fields.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.email.body import split_body  # noqa: E402
from tests.email.replies import Case, load  # noqa: E402

COLUMNS = ("cases", "replies", "stripped", "keep", "kept", "forwards", "fwd_ok")


def right(case: Case) -> bool:
    body = split_body(case.body.strip(), case.subject)
    if (body.text, body.signature) != (case.expected, case.signature):
        return False
    if case.kind == "keep":
        return (body.quoted, body.forwards) == ("", ())
    if case.kind == "forward":
        if len(body.forwards) != 1:
            return False
        forwarded = body.forwards[0]
        return {"sender": forwarded.sender, "date": forwarded.date, "subject": forwarded.subject,
                "text": forwarded.text} == case.forward
    return bool(body.quoted) and not body.forwards


def table(cases: list[Case], key: str) -> list[tuple[str, Counter[str]]]:
    rows: dict[str, Counter[str]] = {}
    for case in cases:
        row = rows.setdefault(getattr(case, key), Counter())
        ok = right(case)
        row["cases"] += 1
        if case.kind in ("reply", "signature"):
            row["replies"] += 1
            row["stripped"] += ok
        elif case.kind == "keep":
            row["keep"] += 1
            row["kept"] += ok
        else:
            row["forwards"] += 1
            row["fwd_ok"] += ok
    return sorted(rows.items())


def show(title: str, rows: list[tuple[str, Counter[str]]]) -> None:
    print(f"\n| {title} | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    total: Counter[str] = Counter()
    for name, row in rows:
        total.update(row)
        print(f"| {name} | " + " | ".join(str(row[column]) for column in COLUMNS) + " |")
    print("| **total** | " + " | ".join(str(total[column]) for column in COLUMNS) + " |")


def main() -> None:
    cases = load()
    rows = table(cases, "language")
    print(f"reply corpus: {len(cases)} cases, {len(rows)} languages, {len({c.client for c in cases})} clients")
    show("language", rows)
    show("client", table(cases, "client"))


if __name__ == "__main__":
    main()
