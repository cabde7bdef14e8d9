"""The inbox's read endpoints under /api/inbox: live conversations by SLA urgency, one conversation whole.

The inbox acts through the ordinary admin API (reply, note, transfer, escalate,
assign, resolve); these endpoints only read, and shape what they read for the
page: the next deadline of every conversation, the running SLA clocks, the
channels a reply can go out on. Same bearer token as the rest of /api.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from conversations import codec
from conversations.clock import utcnow
from conversations.errors import InvalidRequest
from conversations.models import LIVE_STATUSES, Channel, Conversation, Priority, Status
from conversations.backlog import Filter, Order
from gateway.api import conversation_view
from gateway.appkeys import SERVICES
from gateway.inbox_live import TICKET_SECONDS, issue_ticket

routes = web.RouteTableDef()
# Where the admin API's token check leaves the name of an agent whose own token
# authenticated the request (GATEWAY_AGENT_TOKENS); absent for the admin token.
AGENT_REQUEST_KEY = "gateway.agent"
MAX_LISTED = 200
BATCH = 200
# The live backlog is read from its index, most urgent first; a page shows at most this many of it.
MAX_SCAN = 5000
# The clocks the workers arm (workers/sla.py), in the order the page shows them.
CLOCKS = ("first_response", "next_response", "resolution")


@dataclass(frozen=True, slots=True)
class Clock:
    """One running SLA clock of a conversation, read from the deadlines the sweeper armed."""

    clock: str
    warning_at: datetime | None
    due_at: datetime

    def json(self, now: datetime) -> dict[str, object]:
        return {"clock": self.clock, "warning_at": codec.iso(self.warning_at), "due_at": codec.iso(self.due_at),
                "seconds_left": round((self.due_at - now).total_seconds(), 1)}


def clocks_of(conversation: Conversation) -> list[Clock]:
    """The running clocks, soonest breach first (``sla_<clock>_due`` fields; empty means not running)."""
    found = []
    for clock in CLOCKS:
        due = codec.from_ms(conversation.extra.get(f"sla_{clock}_due") or None)
        if due is None:
            continue
        warning = codec.from_ms(conversation.extra.get(f"sla_{clock}_warning_due") or None)
        found.append(Clock(clock, warning, due))
    return sorted(found, key=lambda c: c.due_at)


def urgency_key(conversation: Conversation) -> tuple[int, float, int, float]:
    """Soonest deadline first (overdue ones lead); without a clock: by priority, then longest waiting."""
    clocks = clocks_of(conversation)
    waiting_since = conversation.last_inbound_at or conversation.created_at
    if clocks:
        return (0, clocks[0].due_at.timestamp(), -conversation.priority.rank, waiting_since.timestamp())
    return (1, 0.0, -conversation.priority.rank, waiting_since.timestamp())


@dataclass(frozen=True, slots=True)
class Filters:
    queue: str | None
    tier: int | None
    channel: str | None
    tag: str | None
    statuses: frozenset[Status]

    @classmethod
    def parse(cls, query: dict[str, str]) -> Filters:
        channel = query.get("channel") or None
        if channel and channel not in {c.value for c in Channel}:
            raise InvalidRequest(f"channel must be one of {', '.join(c.value for c in Channel)}")
        tier_text = query.get("tier") or None
        try:
            tier = int(tier_text) if tier_text else None
        except ValueError:
            raise InvalidRequest("tier must be an integer") from None
        status = query.get("status") or None
        if status and status not in {s.value for s in Status}:
            raise InvalidRequest(f"status must be one of {', '.join(s.value for s in Status)}")
        statuses = frozenset({Status(status)}) if status else frozenset(LIVE_STATUSES)
        return cls(query.get("queue") or None, tier, channel, query.get("tag") or None, statuses)

    def matches(self, conversation: Conversation, *, ignore_queue: bool = False) -> bool:
        if conversation.status not in self.statuses or conversation.extra.get("merged_into_conversation"):
            return False
        if not ignore_queue and self.queue is not None and (conversation.queue or "unrouted") != self.queue:
            return False
        if self.tier is not None and conversation.tier != self.tier:
            return False
        channel = conversation.last_inbound_channel
        if self.channel and (channel is None or channel.value != self.channel):
            return False
        return not self.tag or self.tag in conversation.tags


@routes.get("/api/inbox")
async def inbox(request: web.Request) -> web.Response:
    """Live conversations matching the filters, most urgent first, with per-queue counts and facets.

    Reads the live backlog from its index (most urgent first), at most MAX_SCAN conversations.
    The queue counts ignore the queue filter (the page shows them as tabs).
    """
    filters = Filters.parse(dict(request.query))
    services = request.app[SERVICES]
    store = services.store
    now = utcnow()
    queues: Counter[str] = Counter({name: 0 for name in services.rules.current.queues})
    tags: Counter[str] = Counter()
    channels: set[str] = set()
    tiers: set[int] = set()
    listed: list[Conversation] = []
    # The index is read for the statuses asked for (live ones unless `status` names another);
    # its urgency order holds live conversations only, the others are read by activity (sorted below).
    live = Filter(statuses=frozenset(status.value for status in filters.statuses))
    order = Order.URGENCY if filters.statuses <= LIVE_STATUSES else Order.ACTIVITY
    cursor = None
    scanned = 0
    while scanned < MAX_SCAN:
        page = await store.index.page(live, order, limit=BATCH, cursor=cursor)
        batch = [conversation_id for conversation_id, _ in page.items]
        scanned += len(batch)
        for conversation in await store.conversations(batch):
            if not filters.matches(conversation, ignore_queue=True):
                continue
            queues[conversation.queue or "unrouted"] += 1
            if filters.queue is not None and (conversation.queue or "unrouted") != filters.queue:
                continue
            listed.append(conversation)
            tags.update(conversation.tags)
            tiers.add(conversation.tier)
            if conversation.last_inbound_channel:
                channels.add(conversation.last_inbound_channel.value)
        cursor = page.next_cursor
        if cursor is None:
            break
    listed.sort(key=urgency_key)
    shown = listed[:MAX_LISTED]
    customers = {c.id: c for c in [await store.customer(cid) for cid in {c.customer_id for c in shown}]}
    rows = []
    for conversation in shown:
        customer = customers[conversation.customer_id]
        clocks = clocks_of(conversation)
        rows.append({**codec.conversation_json(conversation),
                     "customer_name": customer.name or None,
                     "next_deadline": clocks[0].json(now) if clocks else None})
    return web.json_response({
        "now": codec.iso(now),
        "total": len(listed),
        "conversations": rows,
        "queues": [{"name": name, "count": count} for name, count in sorted(queues.items())],
        "facets": {"tags": sorted(tags), "channels": sorted(channels), "tiers": sorted(tiers)},
    })


@routes.get("/api/inbox/conversations/{id}")
async def conversation(request: web.Request) -> web.Response:
    """The admin API's conversation view, plus the SLA clocks, the reply channels and the queues."""
    services = request.app[SERVICES]
    view = await conversation_view(services, request.match_info["id"])
    current = await services.store.conversation(request.match_info["id"])
    now = utcnow()
    customer = await services.store.customer(current.customer_id)
    opted_out = {o.identity for o in await services.service.consent.opt_outs(customer.identities)}
    # A reply can go out on any channel the customer has an address on that did not opt out.
    reachable = sorted({i.channel.value for i in customer.identities if i not in opted_out})
    return web.json_response({
        **view,
        "now": codec.iso(now),
        "clocks": [clock.json(now) for clock in clocks_of(current)],
        "reply_channels": reachable,
        "default_channel": current.last_inbound_channel.value if current.last_inbound_channel else None,
        "queues": sorted(services.rules.current.queues),
        "priorities": [p.value for p in Priority],
    })


def signed_in_agent(request: web.Request) -> str | None:
    agent = request.get(AGENT_REQUEST_KEY)
    return agent if isinstance(agent, str) else None


@routes.post("/api/inbox/ticket")
async def ticket(request: web.Request) -> web.Response:
    """A single-use ticket for the live socket, and who the token belongs to.

    ``agent`` is the agent an agent token names (the page then acts under that
    name); null for the admin token, whose page asks for the name to record.
    """
    agent = signed_in_agent(request)
    issued = await issue_ticket(request.app[SERVICES].redis, agent)
    return web.json_response({"ticket": issued, "expires_in": TICKET_SECONDS, "agent": agent}, status=201)
