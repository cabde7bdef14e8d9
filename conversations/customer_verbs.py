"""The customer verbs of the service: linking identities (and the merges they cause), editing a customer.

A change of the customer is shown on their latest conversation's timeline and
announced as a domain event. ``service.ingest`` links the identities a message
proves through ``_link_if_new`` and follows a merge it caused with ``_surviving``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from conversations import changes, claims
from conversations.events import ConversationEvent, EventBus, EventKind
from conversations.merge import MERGED_INTO_CONVERSATION, merge_customers
from conversations.models import ConversationId, Customer, Identity
from conversations.store import Change, ConversationStore, IngestResult

MAX_MERGE_HOPS = 5


class CustomerVerbs:
    """Part of ``ConversationService``: what it needs is set by the service's constructor."""

    store: ConversationStore
    events: EventBus
    clock: Callable[[], datetime]

    async def link_identity(self, customer_id: str, identity: Identity, *, author: str) -> Customer:
        """Give a customer another identity; if it belongs to someone else, merge the two customers."""
        customer = await self.store.current_customer(customer_id)
        owner = await self.store.customer_for(identity)
        if owner is None:
            owner = await self.store.claim_identity_for(identity, customer.id)
        if owner != customer.id:
            owner = await claims.heal(self.store.redis, identity, owner, customer.id)
        if owner == customer.id:
            if identity.key not in {i.key for i in customer.identities}:
                await self.store.add_identity(customer.id, identity)
                live = await self._on_customer_timeline(customer.id, "identity_linked",
                                                        f"{author} linked {identity.key} to this customer",
                                                        {"identity": identity.key, "by": author})
                await self.events.emit(ConversationEvent(EventKind.LINKED, live or "", customer.id,
                                                         detail={"identity": identity.key, "by": author}))
            return await self.store.customer(customer.id)
        other = await self.store.customer(owner)
        # The older customer survives, so ids people already hold stay valid.
        keep, fold = (other, customer) if other.created_at < customer.created_at else (customer, other)
        result = await merge_customers(self.store, keep.id, fold.id, now=self.clock(), author=author)
        await self.store.add_identity(keep.id, identity)
        await self.events.emit(ConversationEvent(
            EventKind.MERGED, result.live_conversation_id or "", keep.id,
            detail={"merged": fold.id, "identity": identity.key, "moved": ",".join(result.moved_conversations),
                    "by": author},
        ))
        return await self.store.customer(keep.id)

    async def update_customer(self, customer_id: str, *, name: str | None, attributes: dict[str, str] | None,
                              author: str) -> Customer:
        """Edit a customer's name or attributes (attributes are replaced whole); says which fields changed."""
        customer = await self.store.current_customer(customer_id)
        await self.store.update_customer(customer.id, name=name, attributes=attributes)
        changed = (["name"] if name is not None and name != customer.name else []) + sorted(
            f"attributes.{key}" for key in set(customer.attributes) | set(attributes or {})
            if attributes is not None and customer.attributes.get(key) != attributes.get(key))
        if changed:
            await self._on_customer_timeline(customer.id, "customer_updated",
                                             f"{author} edited the customer: {', '.join(changed)}",
                                             {"fields": ",".join(changed), "by": author})
            await self.events.emit(ConversationEvent(EventKind.CUSTOMER_UPDATED, "", customer.id,
                                                     detail={"fields": ",".join(changed), "by": author}))
        return await self.store.customer(customer.id)

    async def _on_customer_timeline(self, customer_id: str, kind: str, text: str,
                                    meta: dict[str, str]) -> ConversationId | None:
        """A change of the customer, shown on their latest conversation's timeline (if they have one)."""
        live = await self.store.live_conversation_id(customer_id)
        if live is None:
            return None
        now = self.clock()
        await self.store.mutate(live, lambda current: Change(
            messages=[changes.event_message(current, kind, text, now, meta)]))
        return live

    async def _link_if_new(self, customer_id: str, identity: Identity) -> bool:
        """Link a proven identity, once: later messages find it already theirs without a merge.

        Returns True if it linked (and so may have merged two customers).
        """
        if await self.store.customer_for(identity) != customer_id:
            await self.link_identity(customer_id, identity, author="verification")
            return True
        return False

    async def _surviving(self, result: IngestResult) -> IngestResult:
        """Where the message is after a merge its own links caused: the survivor's live conversation.

        The channel (a web chat socket) must follow it, and it no longer opened a
        conversation of its own: the survivor's is neither routed again nor auto-answered.
        """
        customer = await self.store.current_customer(result.customer_id)
        conversation = await self.store.conversation(result.conversation_id)
        for _ in range(MAX_MERGE_HOPS):
            target = conversation.extra.get(MERGED_INTO_CONVERSATION)
            if not target:
                break
            conversation = await self.store.conversation(target)
        if conversation.id == result.conversation_id:
            return replace(result, customer_id=customer.id)
        return replace(result, outcome="appended", customer_id=customer.id, conversation_id=conversation.id,
                       queue=conversation.queue or "")
