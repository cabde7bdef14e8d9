"""The rule file's shape, as pydantic models (``extra="forbid"`` everywhere).

These models only say what a well-formed file looks like, key by key; whether
the names it uses refer to something (a rule's queue, a policy's calendar) is
checked across the whole file in ``router/checks.py``, and the runtime objects
are built in ``router/compile.py``. ``gateway rules schema`` prints the JSON
Schema generated from here, so descriptions double as editor hints.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from conversations.models import Channel, Priority
from router.fields import (
    AttrValues,
    Clock,
    DayHours,
    DayKey,
    Duration,
    Fraction,
    Name,
    OneOrMany,
    Tier,
    Trigger,
)
from router.localized import Localized, LocalizedText
from router.text import check_regex, check_word

# A rating arrives on the conversation's dedupe-protected ingest path; 30 days matches how
# long a provider's message id is remembered, and nobody answers a survey later than that.
MAX_CSAT_WINDOW = timedelta(days=30)
MAX_QUESTION = 500  # it goes out as one SMS-sized message with the scale appended


class Model(BaseModel):
    # frozen: the compiled rules are shared by every request; populate_by_name
    # lets code build models with the Python names of aliased keys.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TierConfig(Model):
    description: str | None = None
    slack_channel: str | None = Field(default=None, description="overrides the queue's channel for this tier")


def _tiers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


class CsatModel(Model):
    """A satisfaction survey sent when a conversation is resolved (docs/ROUTING.md, CSAT)."""

    ask_on_resolve: bool = Field(default=True, description="send the question when an agent resolves")
    question: Localized = Field(
        description="what the customer is asked, one text or one per language; SMS, email and Slack add how "
                    "to answer (a number 1-5)"
    )
    window: Duration = Field(default=timedelta(days=3),
                             description="how long a reply starting with 1-5 counts as the rating")

    @field_validator("question")
    @classmethod
    def _short_question(cls, value: LocalizedText) -> LocalizedText:
        for language, text in value.texts:
            if len(text) > MAX_QUESTION:
                raise ValueError(f"the {language or 'question'} text is longer than {MAX_QUESTION} characters")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if value > MAX_CSAT_WINDOW:
            raise ValueError(f"the window may be at most {MAX_CSAT_WINDOW.days} days")
        return value


class QueueModel(Model):
    description: str | None = None
    slack_channel: str | None = Field(default=None, description="where its conversations are posted, e.g. '#support'")
    alert_channel: str | None = Field(default=None, description="where the last tier's SLA alerts go")
    sla_policy: Name | None = Field(default=None, description="policy used when a rule names none")
    tiers: Annotated[dict[Tier, TierConfig], BeforeValidator(_tiers)] = Field(
        default_factory=lambda: {1: TierConfig(), 2: TierConfig(), 3: TierConfig()},
        description="the tiers this queue has (default 1, 2 and 3)",
    )
    csat: CsatModel | None = Field(default=None, description="satisfaction survey on resolve")


class SlaPolicyModel(Model):
    description: str | None = None
    first_response: Duration | None = None
    next_response: Duration | None = None
    resolution: Duration | None = None
    calendar: Name | None = Field(default=None, description="count only business hours of this calendar; unset = 24/7")
    pause_while_pending: bool = Field(default=True, description="stop the clocks while waiting on the customer")
    warning_at: Fraction = 0.8
    csat: CsatModel | None = Field(default=None, description="satisfaction survey on resolve; wins over the queue's")

    @model_validator(mode="after")
    def _has_target(self) -> SlaPolicyModel:
        if not (self.first_response or self.next_response or self.resolution):
            raise ValueError("set at least one of first_response, next_response, resolution")
        return self


class HolidaysModel(Model):
    country: str | None = Field(default=None, description="ISO code whose public holidays are closed, e.g. DE")
    subdivision: str | None = Field(default=None, description="state or province for country holidays, e.g. BY")
    dates: list[date] = Field(default_factory=list, description="company holidays, YYYY-MM-DD")

    @model_validator(mode="after")
    def _known_country(self) -> HolidaysModel:
        if self.country is None:
            if self.subdivision is not None:
                raise ValueError("subdivision needs a country")
            return self
        supported = holidays_lib.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"unknown holiday country {self.country!r} (use an ISO code such as DE, US, ES)")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise ValueError(f"{self.country} has no subdivision {self.subdivision!r}")
        return self


class CalendarModel(Model):
    description: str | None = None
    timezone: str = Field(description="IANA zone, e.g. Europe/Berlin")
    hours: dict[DayKey, DayHours] = Field(
        description="open hours per day: mon..sun, or weekdays / weekend / daily (specific days win)"
    )
    holidays: HolidaysModel | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (expected an IANA name such as Europe/Berlin)") from None
        return value


def _restart_default() -> list[Clock]:
    # A named function, not a lambda: mypy infers a lambda's list as list[str].
    return ["first_response"]


class EscalationStepModel(Model):
    from_tier: Tier
    to_tier: Tier
    to_queue: Name | None = Field(default=None, description="hand over to another queue (service <-> support)")
    on: OneOrMany[Trigger] = Field(description="what triggers this step")
    priority: Priority | None = Field(default=None, description="raise the priority to at least this")
    sla_policy: Name | None = Field(default=None, description="switch policy; default: the target queue's policy")
    restart: list[Clock] = Field(
        default_factory=_restart_default, description="clocks that start over after the step"
    )


class EscalationModel(Model):
    steps: list[EscalationStepModel] = Field(default_factory=list)


class TextMatch(Model):
    words: OneOrMany[str] | None = Field(
        default=None, description="any of these words or phrases, whole words; 'refund*' also matches refunds"
    )
    regex: str | None = Field(default=None, description="an RE2 regular expression, searched anywhere")
    case_sensitive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"words": value} if isinstance(value, list) else value

    @field_validator("words")
    @classmethod
    def _words(cls, value: list[str] | None) -> list[str] | None:
        for word in value or ():
            check_word(word)
        return value

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            check_regex(value)
        return value

    @model_validator(mode="after")
    def _something(self) -> TextMatch:
        if not self.words and self.regex is None:
            raise ValueError("give words, a regex, or both (either may match)")
        return self


class Range(Model):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class ConversationMatch(Model):
    new: bool | None = Field(default=None, description="the conversation has just opened (never reopened)")
    reopened: bool | None = Field(default=None, description="the conversation was resolved and reopened")
    messages: int | Range | None = Field(default=None, description="number of messages: exact, or {min, max}")
    queue: OneOrMany[Name] | None = Field(default=None, description="its current queue is one of these")
    tier: OneOrMany[Tier] | None = None
    tags: OneOrMany[str] | None = Field(default=None, description="it carries any of these tags")


class TimeMatch(Model):
    inside: Name | None = Field(default=None, description="inside this calendar's open hours")
    outside: Name | None = Field(default=None, description="outside this calendar's open hours")

    @model_validator(mode="after")
    def _exactly_one(self) -> TimeMatch:
        if (self.inside is None) == (self.outside is None):
            raise ValueError("give exactly one of inside, outside")
        return self


class When(Model):
    """Every key given must hold; use any/not for alternatives."""

    channel: OneOrMany[Channel] | None = None
    text: TextMatch | None = None
    subject: TextMatch | None = Field(default=None, description="the email subject")
    content: TextMatch | None = Field(default=None, description="the subject or the text")
    customer: dict[str, AttrValues] | None = Field(
        default=None, description="customer attributes: value or list of values, compared case-insensitively"
    )
    conversation: ConversationMatch | None = None
    time: TimeMatch | None = None
    all: list[When] | None = Field(default=None, min_length=1)
    any: list[When] | None = Field(default=None, min_length=1)
    not_: When | None = Field(default=None, alias="not")


class Then(Model):
    queue: Name | None = None
    tier: Tier | None = None
    priority: Priority | None = None
    tags: OneOrMany[str] = Field(default_factory=list, description="tags to add")
    sla_policy: Name | None = None
    auto_reply: Localized | None = Field(
        default=None, description="sent to the customer once, on a new conversation; one text or one per language"
    )
    continue_: bool = Field(
        default=False, alias="continue", description="let later rules add tags and fill unset fields"
    )

    @model_validator(mode="after")
    def _sets_something(self) -> Then:
        fields = (self.queue, self.tier, self.priority, self.sla_policy, self.auto_reply)
        if all(f is None for f in fields) and not self.tags:
            raise ValueError("then sets nothing: give queue, tier, priority, tags, sla_policy or auto_reply")
        return self


class RuleModel(Model):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    description: str | None = None
    when: When | None = Field(default=None, description="omit to match everything")
    then: Then


class DefaultModel(Model):
    queue: Name
    tier: Tier = 1
    priority: Priority = Priority.NORMAL
    tags: OneOrMany[str] = Field(default_factory=list)
    sla_policy: Name | None = None
    auto_reply: Localized | None = None


class TrendMatch(Model):
    """What a conversation must carry to count for a trend; every key given must hold (as in ``when``)."""

    tags: OneOrMany[str] | None = Field(default=None, description="it carries any of these tags")
    words: OneOrMany[str] | None = Field(
        default=None, description="its first message (subject or text) has any of these words; 'login*' = prefix"
    )
    case_sensitive: bool = False

    @field_validator("words")
    @classmethod
    def _words(cls, value: list[str] | None) -> list[str] | None:
        for word in value or ():
            check_word(word)
        return value

    @model_validator(mode="after")
    def _something(self) -> TrendMatch:
        if not self.tags and not self.words:
            raise ValueError("give tags, words, or both")
        return self


class TrendModel(Model):
    """A topic to watch: alert when a window holds far more matching conversations than usual."""

    name: Name
    description: str | None = None
    queue: Name | None = Field(default=None, description="count only conversations routed to this queue")
    match: TrendMatch
    window: Duration = Field(description="how far back the current count looks, e.g. 1h")
    baseline: Duration = Field(description="the history the usual rate per window is averaged over, e.g. 7d")
    factor: float = Field(default=3.0, ge=1, le=1000, description="alert at factor x the usual count per window")
    min_count: int = Field(default=5, ge=1, le=1_000_000, description="and never below this many conversations")
    notify: str = Field(min_length=2, max_length=80, pattern=r"^#?[A-Za-z0-9][A-Za-z0-9_.-]*$",
                        description="the Slack channel the alert is posted to, e.g. '#service'")

    @model_validator(mode="after")
    def _spans(self) -> TrendModel:
        if self.window.total_seconds() < 60:
            raise ValueError("window must be at least 1m")
        if self.baseline < self.window:
            raise ValueError("baseline must be at least as long as window")
        return self


class RuleFile(Model):
    """A routing rule file: queues, SLA policies, calendars, escalation, rules and the default."""

    model_config = ConfigDict(title="Gateway routing rules")

    queues: dict[Name, QueueModel] = Field(min_length=1)
    sla_policies: dict[Name, SlaPolicyModel] = Field(default_factory=dict)
    calendars: dict[Name, CalendarModel] = Field(default_factory=dict)
    escalation: dict[Name, EscalationModel] = Field(default_factory=dict, description="per queue")
    rules: list[RuleModel] = Field(default_factory=list, description="tried in order; first match decides")
    default: DefaultModel
    trends: list[TrendModel] = Field(default_factory=list, description="topics to watch for bursts (trend alerts)")

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, value: Any) -> Any:
        # "rules:" with every rule commented out is an empty list, not an error.
        if isinstance(value, dict):
            optional = ("sla_policies", "calendars", "escalation", "rules", "trends")
            return {k: v for k, v in value.items() if not (k in optional and v is None)}
        return value


def json_schema() -> dict[str, Any]:
    schema = RuleFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


_DAY_GROUPS = {
    "daily": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    "weekdays": ("mon", "tue", "wed", "thu", "fri"),
    "weekend": ("sat", "sun"),
}


def weekly_hours(calendar: CalendarModel) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Open intervals for Monday..Sunday: groups first, then single days override."""
    week: dict[str, tuple[tuple[int, int], ...]] = {day: () for day in _DAY_GROUPS["daily"]}
    for group in ("daily", "weekdays", "weekend"):
        if group in calendar.hours:
            for day in _DAY_GROUPS[group]:
                week[day] = calendar.hours[group]
    for day in _DAY_GROUPS["daily"]:
        if day in calendar.hours:
            week[day] = calendar.hours[day]
    return tuple(week[day] for day in _DAY_GROUPS["daily"])
