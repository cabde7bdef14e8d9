"""Per-language auto-replies and survey questions: the rule file, its errors, and the choice of language."""

from __future__ import annotations

from pathlib import Path

import pytest

from router import cli
from router.errors import RulesError
from router.language import customer_language, detect, normalize
from router.loader import load_rules_text
from tests.router.helpers import WEDNESDAY_MORNING, conversation, customer, message

RULES = """\
queues:
  support:
    csat:
      question: {en: "How did we do?", de: "Wie waren wir?", es: "¿Qué tal lo hicimos?"}
  billing: {}
rules:
  - name: billing
    when: {text: [invoice, rechnung, factura]}
    then:
      queue: billing
      auto_reply:
        en: "Thanks, billing will answer within a day."
        de: "Danke, die Buchhaltung antwortet innerhalb eines Tages."
        es: "Gracias, facturación responderá en un día."
default:
  queue: support
  auto_reply: "Thanks, we got your message."
"""


def decide(text: str, **attributes: str):  # type: ignore[no-untyped-def]
    rules = load_rules_text(RULES, path="routing.yaml")
    return rules.decide(conversation(), message(text), customer(**attributes), WEDNESDAY_MORNING)


def test_a_german_message_gets_the_german_text() -> None:
    decision = decide("Hallo, meine Rechnung ist doppelt abgebucht worden")
    assert decision.language == "de"
    assert decision.auto_reply == "Danke, die Buchhaltung antwortet innerhalb eines Tages."
    assert decision.as_dict()["language"] == "de"


def test_the_language_attribute_wins_over_the_text() -> None:
    decision = decide("my invoice is wrong", language="es")
    assert (decision.language, decision.auto_reply) == ("es", "Gracias, facturación responderá en un día.")


def test_a_regional_tag_counts_as_its_language() -> None:
    assert decide("invoice please", language="de-AT").auto_reply.startswith("Danke")  # type: ignore[union-attr]


def test_a_language_without_a_text_gets_the_first_listed() -> None:
    decision = decide("my invoice", language="fr")
    assert decision.language == "fr"
    assert decision.auto_reply == "Thanks, billing will answer within a day."


def test_an_unclear_text_gets_the_first_listed() -> None:
    decision = decide("invoice 4711 ??")
    assert decision.auto_reply == "Thanks, billing will answer within a day."


def test_a_plain_string_goes_to_everyone() -> None:
    assert decide("Hola, necesito ayuda con mi cuenta").auto_reply == "Thanks, we got your message."


def test_the_survey_question_per_language() -> None:
    rules = load_rules_text(RULES, path="routing.yaml")
    survey = rules.csat_for("support", None)
    assert survey is not None
    assert survey.question == "How did we do?"
    assert survey.question_in("de") == "Wie waren wir?"
    assert survey.question_in("it") == survey.question_in(None) == "How did we do?"
    assert rules.languages == ("de", "en", "es")
    assert rules.language_of({"language": "ES"}, None) == "es"


@pytest.mark.parametrize(("text", "expected"), [
    ("Hallo, mein Paket ist nicht angekommen", "de"),
    ("Hi, my parcel has not arrived yet", "en"),
    ("Hola, mi paquete no ha llegado", "es"),
    ("Bonjour, mon colis n'est pas arrivé", "fr"),
])
def test_detection_among_the_file_languages(text: str, expected: str) -> None:
    assert detect(text, ("en", "de", "es", "fr")) == expected


def test_detection_needs_a_choice_and_some_letters() -> None:
    assert detect("Hallo, mein Paket ist nicht angekommen", ("en",)) is None
    assert detect("42 !", ("en", "de")) is None
    assert customer_language({"language": "German"}, None, ("en", "de")) is None  # a name, not a code
    assert [normalize(v) for v in ("de", "pt-BR", "EN_us", "", "Deutsch", 7)] == ["de", "pt", "en", None, None, None]


BAD = [
    ("unknown language", "default:\n  queue: support\n  auto_reply: {en: Hi, xx: Yo}\n", 3, 15,
     "default.auto_reply: unknown language 'xx'"),
    ("empty language text", "default:\n  queue: support\n  auto_reply: {en: Hi, de: ''}\n", 3, 15,
     "default.auto_reply: the de text must not be empty"),
    ("no languages", "default:\n  queue: support\n  auto_reply: {}\n", 3, 15, "give at least one language"),
    ("a list", "default:\n  queue: support\n  auto_reply: [Hi]\n", 3, 15, "expected a text, or texts per language"),
    ("upper-case code", "default:\n  queue: support\n  auto_reply:\n    EN: Hi\n", 4, 5, "unknown language 'EN'"),
]


@pytest.mark.parametrize(("case", "tail", "line", "column", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_language_text_names_file_line_and_column(case: str, tail: str, line: int, column: int,
                                                        words: str) -> None:
    text = "queues:\n  support: {}\n" + tail
    with pytest.raises(RulesError) as raised:
        load_rules_text(text, path="routing.yaml")
    message = str(raised.value)
    assert f"routing.yaml:{line + 2}:{column}:" in message and words in message, message


def test_a_long_survey_question_is_refused() -> None:
    text = "queues:\n  support:\n    csat:\n      question: {en: Hi, de: '" + "x" * 501 + "'}\ndefault: {queue: support}\n"
    with pytest.raises(RulesError, match=r"routing.yaml:4:\d+: .*the de text is longer than 500"):
        load_rules_text(text, path="routing.yaml")


def test_rules_explain_shows_the_language_and_its_text(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "routing.yaml"
    path.write_text(RULES, encoding="utf-8")
    assert cli.main(["rules", "explain", "--rules", str(path), "--channel", "webchat", "Hola, mi factura está mal"]) == 0
    out = capsys.readouterr().out
    assert "es" in out.split("language", 1)[1].splitlines()[0]
    assert "Gracias, facturación responderá en un día." in out


def test_plain_texts_never_run_detection() -> None:
    rules = load_rules_text("queues: {support: {}}\ndefault: {queue: support, auto_reply: Thanks}\n")
    assert rules.languages == ()
    decision = rules.decide(conversation(), message("Hallo, mein Paket ist nicht angekommen"), customer(),
                            WEDNESDAY_MORNING)
    assert (decision.language, decision.auto_reply) == (None, "Thanks")


def test_the_survey_language_is_found_when_the_auto_reply_has_one_text() -> None:
    # The default's auto-reply is a plain string, so deciding needs no language; the
    # 3-language survey later does, and the decision still carries it (found when read).
    decision = decide("Hallo, mein Paket ist nicht angekommen")
    assert decision.auto_reply == "Thanks, we got your message."
    assert decision.language == "de"
    assert decision.as_dict()["language"] == "de"
    assert decide("Hello, my parcel has not arrived", language="es").language == "es"
