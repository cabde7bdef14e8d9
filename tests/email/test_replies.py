"""Every case of the reply corpus (tests/email/replies): the exact text an agent sees, the signature, the forward."""

from __future__ import annotations

import pytest

from channels.email.body import split_body
from tests.email.replies import Case, counts, load

CASES = load()
MIN_REPLIES, MIN_KEEP, MIN_LANGUAGES, MIN_CLIENTS = 150, 50, 25, 10
# The languages the issue names: every EU language plus these.
REQUIRED_LANGUAGES = {
    "bg", "hr", "cs", "da", "nl", "en", "et", "fi", "fr", "de", "el", "hu", "ga", "it", "lv", "lt", "mt", "pl",
    "pt", "ro", "sk", "sl", "es", "sv", "ru", "tr", "ja", "zh", "ko", "ar", "he", "hi", "no", "uk",
}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case):
    body = split_body(case.body.strip(), case.subject)
    assert body.text == case.expected
    assert body.signature == case.signature
    if case.kind == "keep":
        assert (body.quoted, body.forwards) == ("", ())
    if case.kind in ("reply", "signature"):
        assert body.quoted and not body.forwards
    if case.kind == "forward":
        [forwarded] = body.forwards
        assert {"sender": forwarded.sender, "date": forwarded.date, "subject": forwarded.subject,
                "text": forwarded.text} == case.forward
    else:
        assert not body.forwards


def test_signature_never_takes_a_line_of_the_message():
    for case in CASES:
        body = split_body(case.body.strip(), case.subject)
        kept = [line.strip() for line in f"{body.text}\n{body.signature}".splitlines() if line.strip()]
        new_part = case.expected.splitlines() + case.signature.splitlines()
        assert kept == [line.strip() for line in new_part if line.strip()], case.id


def test_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_corpus_size_and_spread(capsys):
    figures = counts(CASES)
    replies = figures["kind"]["reply"] + figures["kind"]["signature"]
    with capsys.disabled():
        print(f"\nreply corpus: {len(CASES)} cases, {dict(figures['kind'])}")
        print("cases per language:", dict(sorted(figures["language"].items())))
        print("cases per client:", dict(sorted(figures["client"].items())))
        print("reply cases per language:", dict(sorted(figures["reply_language"].items())))
        print("reply cases per client:", dict(sorted(figures["reply_client"].items())))
    assert replies >= MIN_REPLIES
    assert figures["kind"]["keep"] >= MIN_KEEP
    assert len(figures["reply_language"]) >= MIN_LANGUAGES
    assert REQUIRED_LANGUAGES <= set(figures["reply_language"])
    assert len(figures["reply_client"]) >= MIN_CLIENTS
