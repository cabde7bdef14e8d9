"""The consent verbs of the service: SMS STOP / START / HELP, and whether anything may go to an address.

A consent keyword is never a support request: it changes the address's opt-out
(``consent.py``) and joins the customer's latest conversation as an event, as is.
``refusal`` is the one check every outbound message passes (``service.reply``,
the CSAT question of ``service.resolve``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from conversations import consent, ids
from conversations.consent import ConsentStore, KeywordOutcome, OptOut, Request
from conversations.events import ConversationEvent, EventBus, EventKind
from conversations.messages import InboundMessage
from conversations.models import ConversationId, Direction, Identity, Message, MessageId
from conversations.store import ConversationStore


class ConsentVerbs:
    """Part of ``ConversationService``: what it needs is set by the service's constructor."""

    store: ConversationStore
    consent: ConsentStore
    events: EventBus
    clock: Callable[[], datetime]

    async def keyword(self, message: InboundMessage, request: Request, *, via: str, resume: str,
                      help_text: str = "") -> KeywordOutcome:
        """A consent keyword (SMS STOP, START, HELP): kept on the address and the customer's timeline.

        Never a support request: no conversation opens or reopens, nothing is routed, no SLA
        clock starts; the event joins the customer's latest conversation, if any, as is.
        ``via`` says what the customer did (``texted "STOP"``), ``resume`` how they opt back in.

        The duplicate check comes first and the opt-out change before the timeline entry, so a
        webhook retried after a crash in between still records the opt-out, and a late retry of
        an old STOP never undoes a newer START.
        """
        identity = message.identity
        owner = await self.store.customer_for(identity)
        duplicate = owner is not None and await self.consent.seen(owner, message.dedupe_key)
        changed = False
        if not duplicate and request == Request.OPT_OUT:
            changed = await self.consent.record(OptOut(identity, self.clock(), via, resume))
        elif not duplicate and request == Request.OPT_IN:
            changed = await self.consent.clear(identity)
        opted_out = await self.consent.opt_out(identity)
        # Nothing goes to an opted-out address, the help text included (Twilio answers HELP itself).
        answer = help_text if request == Request.HELP and help_text and opted_out is None else None
        if duplicate:
            await self.store.confirm_replicated()  # its first try may have stored it unconfirmed
            return KeywordOutcome(duplicate=True, changed=False, opted_out=opted_out, answer=answer)
        customer_id = await self.store.claim_identity(identity)
        text = consent.event_text(request, identity, via=via, changed=changed, opted_out=opted_out,
                                  help_text=help_text, answered=answer is not None)
        event = Message(id=MessageId(ids.message_id()), conversation_id=ConversationId(""),
                        direction=Direction.EVENT, channel=None, author=identity.address, text=text,
                        created_at=self.clock(), provider_id=message.provider_id, kind=consent.EVENT_KINDS[request],
                        meta={"identity": identity.key, "keyword": message.text.strip()[:100],
                              "changed": "1" if changed else ""})
        result = await self.consent.record_event(customer_id, identity, message.dedupe_key, event,
                                                 name=message.name or "")
        await self.store.confirm_replicated()  # acknowledged only once replicas have it, when they must
        if not result.duplicate and result.conversation_id:
            await self.events.emit(ConversationEvent(
                EventKind.CONSENT, result.conversation_id, result.customer_id, result.message_id,
                {"request": request.value, "changed": "1" if changed else "", "identity": identity.key}))
        return KeywordOutcome(duplicate=result.duplicate, changed=changed, opted_out=opted_out, answer=answer,
                              conversation_id=result.conversation_id)

    async def refusal(self, to: Identity) -> str | None:
        """Why nothing may be sent to ``to`` (it opted out), or None."""
        opt_out = await self.consent.opt_out(to)
        return opt_out.reason if opt_out else None
