"""Routing decisions: the example file, first-match and continue, time, explain."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from conversations.models import Channel, Priority, Routing
from router.cases import load_cases, run_cases
from router.decision import Decision
from router.loader import load_rules, load_rules_text
from tests.router.helpers import (
    EXAMPLE_CASES,
    EXAMPLE_RULES,
    MINIMAL,
    WEDNESDAY_MORNING,
    conversation,
    customer,
    message,
)

# (text, channel, customer attributes, queue, tier, priority, rule)
EVERYDAY = [
    ("I was charged twice this month", Channel.EMAIL, {}, "service", 1, Priority.NORMAL, "billing"),
    ("the app crashes when I open settings", Channel.WEBCHAT, {}, "support", 1, Priority.NORMAL, "crashes-and-bugs"),
    ("Can I exchange these boots for a bigger size?", Channel.SMS, {}, "service", 1, Priority.NORMAL,
     "returns-and-exchanges"),
    ("I forgot my password", Channel.SMS, {}, "support", 1, Priority.NORMAL, "access"),
    ("How do I install the agent on Ubuntu?", Channel.EMAIL, {}, "support", 1, Priority.NORMAL, "technical"),
    ("We want to upgrade to the enterprise plan", Channel.WEBCHAT, {}, "service", 1, Priority.NORMAL,
     "plans-and-pricing"),
    ("Everything is down, none of our users can work", Channel.EMAIL, {}, "support", 2, Priority.URGENT, "outage"),
    ("please refund me asap", Channel.WEBCHAT, {}, "service", 1, Priority.HIGH, "billing"),
    ("please refund me", Channel.WEBCHAT, {"tier": "VIP"}, "service", 2, Priority.HIGH, "billing"),
    ("good morning", Channel.WEBCHAT, {}, "service", 1, Priority.NORMAL, "default"),
]


@pytest.fixture(scope="module")
def example():  # type: ignore[no-untyped-def]
    return load_rules(EXAMPLE_RULES)


@pytest.mark.parametrize(("text", "channel", "attrs", "queue", "tier", "priority", "rule"), EVERYDAY)
def test_everyday_messages_land_right(example, text, channel, attrs, queue, tier, priority, rule) -> None:  # type: ignore[no-untyped-def]
    decision = example.decide(None, message(text, channel), customer(**attrs), WEDNESDAY_MORNING)
    assert (decision.queue, decision.tier, decision.priority, decision.rule) == (queue, tier, priority, rule)


def test_every_example_case_passes(example) -> None:  # type: ignore[no-untyped-def]
    cases, lines = load_cases(EXAMPLE_CASES.read_text(encoding="utf-8"), str(EXAMPLE_CASES))
    results = run_cases(example, cases, lines)
    assert len(results) >= 30
    assert [(r.line, r.problems) for r in results if not r.ok] == []


def test_subject_counts_as_content(example) -> None:  # type: ignore[no-untyped-def]
    decision = example.decide(None, message("see attached", Channel.EMAIL, subject="Refund request"),
                              customer(), WEDNESDAY_MORNING)
    assert decision.rule == "billing"


CONTINUE_RULES = MINIMAL.replace(
    """rules:
  - name: billing""",
    """rules:
  - name: vip
    when: {customer: {tier: vip}}
    then: {tier: 2, priority: high, tags: [vip], continue: true}
  - name: crash
    when: {text: [crash]}
    then: {queue: support, priority: low, tags: [bug], continue: true}
  - name: angry
    when: {text: [angry]}
    then: {queue: service, priority: urgent, tags: [angry]}
  - name: late-tag
    when: {text: [crash]}
    then: {tags: [never-reached]}
  - name: billing""",
)


def test_first_match_keeps_its_decision_and_later_rules_add_tags() -> None:
    rules = load_rules_text(CONTINUE_RULES)
    decision = rules.decide(None, message("crash makes me angry"), customer(tier="vip"), WEDNESDAY_MORNING)
    # vip set tier and priority first; crash chose the queue; angry only added
    # its tag (its queue and priority came too late) and, not continuing,
    # stopped evaluation before late-tag.
    assert decision.queue == "support"
    assert decision.tier == 2
    assert decision.priority == Priority.HIGH
    assert decision.tags == ("vip", "bug", "angry")
    assert decision.rule == "crash"
    assert decision.matched == ("vip", "crash", "angry")


def test_without_continue_the_first_match_ends_evaluation() -> None:
    rules = load_rules_text(CONTINUE_RULES)
    decision = rules.decide(None, message("angry about the crash"), customer(), WEDNESDAY_MORNING)
    # crash continues, angry stops: late-tag (which would also match) is never tried.
    assert decision.tags == ("bug", "angry")
    assert "late-tag" not in decision.matched


def test_modifier_only_match_falls_back_to_default_queue() -> None:
    rules = load_rules_text(CONTINUE_RULES)
    decision = rules.decide(None, message("hello"), customer(tier="vip"), WEDNESDAY_MORNING)
    assert (decision.queue, decision.tier, decision.priority, decision.rule) == ("service", 2, Priority.HIGH, "default")
    assert decision.sla_policy == "std"  # the queue's policy


def test_tier_is_lowered_to_one_the_queue_has() -> None:
    rules = load_rules_text(CONTINUE_RULES.replace(
        "service: {slack_channel: \"#service\", sla_policy: std}",
        "service: {slack_channel: \"#service\", sla_policy: std, tiers: {1: }}"))
    decision = rules.decide(None, message("hello"), customer(tier="vip"), WEDNESDAY_MORNING)
    assert (decision.queue, decision.tier) == ("service", 1)


TIME_RULES = MINIMAL.replace(
    """rules:
  - name: billing""",
    """calendars:
  office:
    timezone: Europe/Berlin
    hours: {weekdays: "09:00-17:00", fri: "09:00-13:00"}
    holidays: {dates: [2026-03-26]}
rules:
  - name: night
    when: {time: {outside: office}}
    then: {queue: support, tags: [after-hours]}
  - name: billing""",
)

# (UTC instant, outside office hours?) — Berlin is UTC+1 until 29 March 2026.
TIMES = [
    (datetime(2026, 3, 25, 7, 59, tzinfo=timezone.utc), True),  # Wed 08:59 local
    (datetime(2026, 3, 25, 8, 0, tzinfo=timezone.utc), False),  # Wed 09:00
    (datetime(2026, 3, 25, 15, 59, tzinfo=timezone.utc), False),  # Wed 16:59
    (datetime(2026, 3, 25, 16, 0, tzinfo=timezone.utc), True),  # Wed 17:00
    (datetime(2026, 3, 26, 10, 0, tzinfo=timezone.utc), True),  # Thu: company holiday
    (datetime(2026, 3, 27, 12, 30, tzinfo=timezone.utc), True),  # Fri 13:30: short day
    (datetime(2026, 3, 28, 10, 0, tzinfo=timezone.utc), True),  # Saturday
    (datetime(2026, 3, 30, 7, 30, tzinfo=timezone.utc), False),  # Mon 09:30 CEST (UTC+2)
]


@pytest.mark.parametrize(("now", "outside"), TIMES)
def test_time_conditions_follow_the_driven_clock(now: datetime, outside: bool) -> None:
    rules = load_rules_text(TIME_RULES)
    decision = rules.decide(None, message("hello"), None, now)
    assert (decision.rule == "night") is outside


def test_conversation_facts() -> None:
    rules = load_rules_text(MINIMAL.replace(
        """rules:
  - name: billing""",
        """rules:
  - name: long-support
    when: {conversation: {queue: support, tier: [2, 3], messages: {min: 5}}}
    then: {queue: support, tier: 3}
  - name: returning
    when: {conversation: {reopened: true, tags: [vip]}}
    then: {queue: service, tags: [welcome-back]}
  - name: brand-new
    when: {conversation: {new: true}}
    then: {tags: [new], continue: true}
  - name: billing"""))
    now = WEDNESDAY_MORNING
    hello = message("hello")
    assert rules.decide(conversation(queue="support", tier=2, messages=7), hello, None, now).rule == "long-support"
    assert rules.decide(conversation(queue="support", tier=2, messages=3), hello, None, now).rule == "default"
    assert rules.decide(conversation(queue="support", tier=1, messages=9), hello, None, now).rule == "default"
    assert rules.decide(conversation(reopened=1, tags=("vip",)), hello, None, now).rule == "returning"
    assert rules.decide(conversation(reopened=1), hello, None, now).tags == ()
    assert rules.decide(None, hello, None, now).tags == ("new",)
    assert rules.decide(conversation(messages=4), hello, None, now).tags == ()


def test_text_matching_is_whole_word_case_insensitive_with_prefixes_and_phrases() -> None:
    rules = load_rules_text(MINIMAL.replace(
        "when: {text: [refund, invoice]}",
        "when: {text: [refund*, charged twice, Rückerstattung, log-in]}"))
    now = WEDNESDAY_MORNING

    def rule(text: str) -> str | None:
        return rules.decide(None, message(text), None, now).rule

    assert rule("REFUNDED already?") == "billing"
    assert rule("I was Charged\n twice!") == "billing"
    assert rule("bitte RÜCKERSTATTUNG") == "billing"
    assert rule("Ru\u0308ckerstattung bitte") == "billing"  # decomposed umlaut
    assert rule("can't log in") == "billing"
    assert rule("prerefund") == "default"  # whole words only
    assert rule("charged once, twice the price") == "default"


def test_case_sensitive_words_and_regex() -> None:
    rules = load_rules_text(MINIMAL.replace(
        "when: {text: [refund, invoice]}",
        "when: {text: {words: [SSO], regex: 'ORD-[0-9]{6}', case_sensitive: true}}"))
    now = WEDNESDAY_MORNING
    assert rules.decide(None, message("SSO broken"), None, now).rule == "billing"
    assert rules.decide(None, message("sso broken"), None, now).rule == "default"
    assert rules.decide(None, message("order ORD-123456"), None, now).rule == "billing"
    assert rules.decide(None, message("order ord-123456"), None, now).rule == "default"


def test_regex_only_sees_the_first_10000_characters() -> None:
    rules = load_rules_text(MINIMAL.replace("when: {text: [refund, invoice]}", "when: {text: {regex: 'needle'}}"))
    now = WEDNESDAY_MORNING
    assert rules.decide(None, message("x" * 9_000 + " needle"), None, now).rule == "billing"
    assert rules.decide(None, message("x" * 10_000 + " needle"), None, now).rule == "default"


def test_combinators_and_attributes() -> None:
    rules = load_rules_text(MINIMAL.replace(
        "when: {text: [refund, invoice]}",
        """when:
      any:
        - all:
            - channel: [sms, webchat]
            - customer: {plan: [pro, enterprise]}
        - customer: {language: de}
      not: {text: [test]}"""))
    now = WEDNESDAY_MORNING

    def rule(text: str, channel: Channel, **attrs: str) -> str | None:
        return rules.decide(None, message(text, channel), customer(**attrs), now).rule

    assert rule("hi", Channel.SMS, plan="Pro") == "billing"
    assert rule("hi", Channel.EMAIL, plan="pro") == "default"
    assert rule("hi", Channel.EMAIL, language="DE") == "billing"
    assert rule("a test", Channel.SMS, plan="pro") == "default"
    assert rules.decide(None, message("hi", Channel.SMS), None, now).rule == "default"  # no customer


def test_reroute_without_a_message() -> None:
    rules = load_rules(EXAMPLE_RULES)
    decision = rules.decide(conversation(queue="support"), None, customer(), WEDNESDAY_MORNING)
    assert decision.rule == "default"


def test_explain_traces_each_rule_tried_and_why(example) -> None:  # type: ignore[no-untyped-def]
    decision = example.explain(None, message("I was charged twice", Channel.EMAIL), customer(), WEDNESDAY_MORNING)
    names = [step.rule for step in decision.trace]
    assert names[-1] == "billing"  # evaluation stops at the deciding rule
    assert names.index("outage") < names.index("access") < names.index("billing")
    billing = decision.trace[-1]
    assert billing.matched and "'charged'" in billing.reason
    access = decision.trace[names.index("access")]
    assert not access.matched and "has none of" in access.reason


def test_explain_and_decide_agree(example) -> None:  # type: ignore[no-untyped-def]
    texts = ["refund please", "crash", "the site is down, urgent", "hi", "wie installieren"]
    for text in texts:
        args = (None, message(text), customer(plan="enterprise"), WEDNESDAY_MORNING)
        explained = example.explain(*args)
        decided = example.decide(*args)
        assert (explained.queue, explained.tier, explained.priority, explained.tags, explained.rule) == (
            decided.queue, decided.tier, decided.priority, decided.tags, decided.rule)


def test_decision_converts_to_routing() -> None:
    decision = Decision("support", 2, Priority.HIGH, ("bug",), "std", "crash", None)
    assert decision.routing == Routing("support", 2, Priority.HIGH, ("bug",), "std", "crash", None)
    assert decision.as_dict()["priority"] == "high"


def test_queue_config_lookups() -> None:
    rules = load_rules_text(MINIMAL)
    assert rules.slack_channel("support", 2) == "#support-t2"
    assert rules.slack_channel("support", 1) == "#support"
    assert rules.slack_channel("service", 3) == "#service"
    assert rules.slack_channel("nope", 1) is None
    assert rules.queues["support"].alert_channel == "#oncall"
    assert rules.sla_policy_for("service", None).name == "std"  # type: ignore[union-attr]
    assert rules.sla_policy_for("support", None) is None
    assert rules.sla_policy_for("support", "std").name == "std"  # type: ignore[union-attr]
    assert rules.version and len(rules.version) == 12
