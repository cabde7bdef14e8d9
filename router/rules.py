"""``RuleSet``: one compiled, validated rule file, and the routing decision.

Semantics, in the order the file is written:

1. Rules are tried top to bottom. The first rule that matches starts the
   decision with every field its ``then`` names.
2. If that rule says ``continue: true``, later rules are tried too; a later
   match adds its tags and fills fields no earlier match named (it never
   changes a field already decided). The first matching rule *without*
   ``continue`` ends the evaluation.
3. If no matching rule chose a queue, ``default`` decides: its queue, and its
   values for every field the matching rules left open (its tags are added).
   Otherwise open fields take tier 1, priority normal, no auto-reply. The SLA
   policy falls back to the queue's policy; a tier the queue does not have is
   lowered to the nearest tier it has.

So "VIP" or "urgent" rules that only set priority or tier go first with
``continue: true``, and the topic rules that pick the queue come after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.messages import InboundMessage
from conversations.models import Conversation, Customer, Priority
from router.calendar import Calendar
from router.conditions import Condition, Facts
from router.config import CsatSurvey, EscalationPath, EscalationStep, QueueConfig, SlaPolicy
from router.decision import DEFAULT_RULE, Decision, LanguageSpot, TraceStep
from router.index import CandidateIndex
from router.language import customer_language, prepare
from router.localized import LocalizedText
from router.text import RegexBank
from router.trends import Trend


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    condition: Condition
    queue: str | None = None
    tier: int | None = None
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    sla_policy: str | None = None
    auto_reply: LocalizedText | None = None
    continue_: bool = False


class RuleSet:
    """A rule file ready to route: immutable, shared by every request.

    Attributes:
        version: first 12 hex digits of the SHA-256 of the file's bytes.
        path: where it was loaded from (``None`` for text or the built-in default).
    """

    def __init__(
        self,
        *,
        version: str,
        path: str | None,
        queues: dict[str, QueueConfig],
        sla_policies: dict[str, SlaPolicy],
        calendars: dict[str, Calendar],
        escalation: dict[str, EscalationPath],
        rules: tuple[CompiledRule, ...],
        default: CompiledRule,
        bank: RegexBank | None = None,
        trends: tuple[Trend, ...] = (),
    ) -> None:
        self.version = version
        self.path = path
        self.queues = queues
        self.sla_policies = sla_policies
        self.calendars = calendars
        self.escalation = escalation
        self.rules = rules
        self.default = default
        self.trends = trends
        self.languages = _languages(queues, sla_policies, (*rules, default))
        prepare(self.languages)
        self._index = CandidateIndex([rule.condition for rule in rules], bank)
        # Per queue, the tier a decision's tier (1-3) becomes, and the queue's SLA policy:
        # looked up per decision rather than recomputed.
        self._placing = {name: ({t: q.clamp_tier(t) for t in (1, 2, 3)}, q.sla_policy) for name, q in queues.items()}

    def __repr__(self) -> str:
        return f"<RuleSet {self.version} {len(self.rules)} rules from {self.path or 'text'}>"

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)

    def decide(
        self,
        conversation: Conversation | None,
        message: InboundMessage | None,
        customer: Customer | None,
        now: datetime,
    ) -> Decision:
        """Route one message; ``now`` is tz-aware and drives time conditions.

        ``message`` may be ``None`` for a reroute without a new message: text
        and channel conditions then do not match.
        """
        return self._evaluate(Facts(conversation, message, customer, now), trace=None)

    def explain(
        self,
        conversation: Conversation | None,
        message: InboundMessage | None,
        customer: Customer | None,
        now: datetime,
    ) -> Decision:
        """Like :meth:`decide`, with ``trace`` listing every rule tried and why.

        Explaining tests every rule in order (not only the index's candidates),
        so the trace also shows the rules that were skipped as impossible.
        """
        trace: list[TraceStep] = []
        return self._evaluate(Facts(conversation, message, customer, now), trace=trace)

    def _evaluate(self, facts: Facts, trace: list[TraceStep] | None) -> Decision:
        # First the rules that match, in file order, up to the first without ``continue``;
        # then their fields merged. Deciding tests only the index's candidates.
        hits: list[CompiledRule] = []
        rules = self.rules
        if trace is None:
            for position in self._index.candidates(facts):
                rule = rules[position]
                if rule.condition.test(facts):
                    hits.append(rule)
                    if not rule.continue_:
                        break
        else:
            for rule in rules:
                ok, reason = rule.condition.explain(facts)
                trace.append(TraceStep(rule.name, ok, reason))
                if ok:
                    hits.append(rule)
                    if not rule.continue_:
                        break
        queue = tier = priority = sla_policy = auto_reply = None
        decided_by: str | None = None
        tags: list[str] = []
        for rule in hits:
            if queue is None and rule.queue is not None:
                queue, decided_by = rule.queue, rule.name
            if tier is None:
                tier = rule.tier
            if priority is None:
                priority = rule.priority
            if sla_policy is None:
                sla_policy = rule.sla_policy
            if auto_reply is None:
                auto_reply = rule.auto_reply
            tags.extend(rule.tags)
        if queue is None:
            # Nothing chose a queue: the default decision fills every field
            # the matching rules (if any) left open.
            default = self.default
            # The default rule always names one: DefaultModel.queue is required.
            assert default.queue is not None
            queue = default.queue
            tier = tier if tier is not None else default.tier
            priority = priority or default.priority
            sla_policy = sla_policy or default.sla_policy
            auto_reply = auto_reply if auto_reply is not None else default.auto_reply
            tags.extend(default.tags)
            if trace is not None:
                trace.append(TraceStep(DEFAULT_RULE, True, "no rule chose a queue"))
        tiers, queue_policy = self._placing[queue]
        tier = tier if tier is not None else 1
        # The customer's language (stated, else detected in this message among the file's
        # languages) is worked out when read: here only if the auto-reply has texts to choose
        # from; else by whoever reads Decision.language (the routing write keeps it for the survey).
        facts_customer, facts_message = facts.customer, facts.message
        spot: LanguageSpot | None = (facts_customer.attributes if facts_customer is not None else None,
                                     facts_message.text if facts_message is not None else None, self.languages)
        reply = language = None
        if auto_reply is not None:
            if len(auto_reply.texts) > 1 and spot is not None:
                language = customer_language(*spot)
                reply, spot = auto_reply.pick(language), None
            else:
                reply = auto_reply.default
        return Decision(
            queue,
            tiers.get(tier) or self.queues[queue].clamp_tier(tier),
            priority or Priority.NORMAL,
            tuple(dict.fromkeys(tags)),
            sla_policy or queue_policy,
            decided_by or DEFAULT_RULE,
            reply,
            language,
            tuple(trace) if trace is not None else (),
            tuple(rule.name for rule in hits),
            spot=spot,
        )

    def language_of(self, attributes: dict[str, str] | None, text: str | None) -> str | None:
        """The customer's language as :meth:`decide` finds it (stated, else detected among the file's)."""
        return customer_language(attributes, text, self.languages)

    def slack_channel(self, queue: str, tier: int) -> str | None:
        """The tier's own Slack channel, else the queue's; ``None`` for an unknown queue."""
        config = self.queues.get(queue)
        return config.channel_for(tier) if config is not None else None

    def alert_channel(self, queue: str) -> str | None:
        config = self.queues.get(queue)
        return config.alert_channel if config is not None else None

    def sla_policy_for(self, queue: str, explicit: str | None) -> SlaPolicy | None:
        """The policy a conversation in ``queue`` runs on: ``explicit`` if it exists, else the queue's."""
        if explicit is not None and explicit in self.sla_policies:
            return self.sla_policies[explicit]
        config = self.queues.get(queue)
        if config is None or config.sla_policy is None:
            return None
        return self.sla_policies.get(config.sla_policy)

    def csat_for(self, queue: str, explicit_policy: str | None) -> CsatSurvey | None:
        """The survey for a conversation resolved in ``queue``: its SLA policy's, else the queue's."""
        policy = self.sla_policy_for(queue, explicit_policy)
        if policy is not None and policy.csat is not None:
            return policy.csat
        config = self.queues.get(queue)
        return config.csat if config is not None else None

    def calendar_for(self, policy: SlaPolicy | None) -> Calendar | None:
        """The business-hours calendar of ``policy`` (``None`` = 24/7)."""
        if policy is None or policy.calendar is None:
            return None
        return self.calendars.get(policy.calendar)

    def escalation_step(self, queue: str, tier: int, trigger: str) -> EscalationStep | None:
        """Where ``trigger`` moves a conversation at ``queue``/``tier``; ``None`` = stay (alert)."""
        path = self.escalation.get(queue)
        return path.step_for(tier, trigger) if path is not None else None

    def summary(self) -> str:
        return (
            f"{len(self.rules)} rules, {len(self.queues)} queues, {len(self.sla_policies)} SLA policies, "
            f"{len(self.calendars)} calendars; version {self.version}"
        )


def _languages(queues: dict[str, QueueConfig], policies: dict[str, SlaPolicy],
               rules: tuple[CompiledRule, ...]) -> tuple[str, ...]:
    """Every language the file has a text in: what detection chooses among."""
    texts = [rule.auto_reply for rule in rules if rule.auto_reply is not None]
    surveys = [q.csat for q in queues.values()] + [p.csat for p in policies.values()]
    texts += [survey.questions for survey in surveys if survey is not None]
    return tuple(sorted({language for text in texts for language in text.languages}))
