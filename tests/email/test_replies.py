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

# The clients the issue names, each with reply cases of its own.
REQUIRED_CLIENTS = {
    "gmail-web", "gmail-android", "gmail-ios", "apple-mail", "outlook-desktop", "outlook-web", "outlook-ios",
    "outlook-android", "thunderbird", "yahoo", "proton", "zoho", "hotmail", "gmx", "web.de", "yandex", "mail.ru",
    "naver", "qq",
}
# Every layout the issue names as failing before, with the cases that hold it (each asserted by test_case)
# and a piece of its body that makes it that layout.
LAYOUTS = {
    "Polish 'W dniu … użytkownik … napisał:'": ("pl-gmail-old-w-dniu", "W dniu"),
    "Polish 'Dnia … napisał(a):'": ("pl-dnia-napisal-a", "napisał(a):"),
    "Dutch 'Op … schreef …:'": ("nl-gmail-web", "schreef"),
    "Finnish '… kirjoitti:'": ("fi-gmail-web", "kirjoitti:"),
    "Norwegian '… skrev …:'": ("no-gmail-web", "skrev"),
    "Portuguese 'Em … escreveu:'": ("pt-gmail-web-br", "escreveu:"),
    "Russian date then '…, … <…>:'": ("ru-gmail-web", "<support@example.com>:"),
    "Russian, unquoted original below": ("ru-gmail-unquoted-original", "<support@example.com>:"),
    "Italian 'In data … ha scritto:'": ("it-in-data", "In data"),
    "French 'Le … a écrit :' over two lines": ("fr-gmail-web-wrapped", "a\nécrit :"),
    "French '-------- Message d'origine --------'": ("fr-outlook-desktop-message-origine", "Message d'origine"),
    "French Outlook 'De : … Envoyé le : …'": ("fr-outlook-desktop-envoye-le", "Envoyé le :"),
    "German Outlook block": ("de-outlook-desktop", "Gesendet:"),
    "Outlook desktop 'From:' split over lines": ("en-outlook-desktop-split-from", "From: Example Support\n<"),
    "Outlook for iOS, underscore rule and block": ("fr-outlook-ios", "Outlook pour iOS<https://aka.ms/o0ukef>\n____"),
    "Outlook for Android, underscore rule and block": ("en-outlook-android", "________________________________"),
    "bare '2017-11-24 16:32 GMT+01:00 Name <addr>:'": ("en-gmail-bare-gmt-header-unquoted-original", "GMT+01:00"),
    "bare '30.09.2017, 18.30, \"Name\" <addr>:'": ("ru-yandex-unquoted-original", "18.30, \"Example"),
    "'====' before a header block": ("fr-orange-equals-rule-unquoted-block", "====\n\nMessage du :"),
    "header right below the customer's last line": ("en-gmail-header-right-below-the-text", "came in.\nOn Dec"),
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


def test_every_client_the_issue_names_has_replies():
    assert REQUIRED_CLIENTS <= set(counts(CASES)["reply_client"])


@pytest.mark.parametrize("layout", LAYOUTS, ids=list(LAYOUTS))
def test_every_layout_that_failed_before_is_a_reply_case(layout):
    case_id, shape = LAYOUTS[layout]
    [case] = [case for case in CASES if case.id == case_id]
    assert case.kind in ("reply", "signature") and shape in case.body
    assert split_body(case.body.strip(), case.subject).text == case.expected
