"""The whole backlog in the admin API: ``GET /api/conversations`` (indexed, cursor pages) and ``GET /api/customers?q=``.

``setup(app)`` adds the routes (before the API's catch-all). docs/BACKLOG.md describes both.
"""

from __future__ import annotations

from aiohttp import web

from conversations import codec
from conversations.addresses import normalize_phone
from conversations.backlog import Cursor, Filter, Order
from conversations.errors import InvalidRequest, NotFound
from conversations.models import TIERS, Channel, Status
from conversations.search import query_terms
from gateway.appkeys import SERVICES, SETTINGS

routes = web.RouteTableDef()
MAX_PAGE = 200
MAX_CUSTOMERS = 50


def _values(query: web.Request, name: str) -> frozenset[str]:
    """A filter's values: repeated or comma-separated (``status=open,pending``)."""
    return frozenset(v.strip() for raw in query.query.getall(name, []) for v in raw.split(",") if v.strip())


def listing_filter(request: web.Request) -> Filter:
    statuses, channels = _values(request, "status"), _values(request, "channel")
    known_status, known_channel = {s.value for s in Status}, {c.value for c in Channel}
    if not statuses <= known_status:
        raise InvalidRequest(f"status must be one of {', '.join(s.value for s in Status)}")
    if not channels <= known_channel:
        raise InvalidRequest(f"channel must be one of {', '.join(c.value for c in Channel)}")
    tiers: set[int] = set()
    for tier in _values(request, "tier"):
        if not (tier.isascii() and tier.isdigit()) or int(tier) not in TIERS:  # "²".isdigit() is true too
            raise InvalidRequest(f"tier must be one of {', '.join(map(str, TIERS))}")
        tiers.add(int(tier))
    return Filter(queues=_values(request, "queue"), statuses=statuses, tiers=frozenset(tiers), channels=channels)


@routes.get("/api/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    query = request.query
    if "offset" in query:
        raise InvalidRequest("offset is gone: the next page is cursor=<next_cursor> of the page before")
    wanted = listing_filter(request)
    try:
        order = Order(query.get("sort", Order.ACTIVITY.value))
    except ValueError:
        raise InvalidRequest("sort must be activity (most recent first) or urgency (earliest SLA deadline first)") from None
    try:
        limit = int(query.get("limit", 50))
    except ValueError:
        raise InvalidRequest("limit must be an integer") from None
    if limit < 1:
        raise InvalidRequest(f"limit must be 1 or more (at most {MAX_PAGE} are returned)")
    cursor = Cursor.decode(query["cursor"], order) if query.get("cursor") else None
    store = request.app[SERVICES].store
    page = await store.index.page(wanted, order, limit=min(limit, MAX_PAGE), cursor=cursor)
    conversations = await store.conversations(conversation_id for conversation_id, _ in page.items)
    return web.json_response({"conversations": [codec.conversation_json(c) for c in conversations],
                              "next_cursor": page.next_cursor.encode() if page.next_cursor else None})


@routes.get("/api/customers")
async def search_customers(request: web.Request) -> web.Response:
    """Customers whose name, email, phone number or Slack user starts with ``q`` (exact matches first)."""
    q = request.query.get("q", "")
    try:
        limit = int(request.query.get("limit", 20))
    except ValueError:
        raise InvalidRequest("limit must be an integer") from None
    if not 1 <= limit <= MAX_CUSTOMERS:
        raise InvalidRequest(f"limit must be between 1 and {MAX_CUSTOMERS}")
    store = request.app[SERVICES].store
    terms = query_terms(q, _phone(q, request.app[SETTINGS].twilio.default_region))
    found: dict[str, dict[str, object]] = {}
    for customer_id in await store.search.find(terms, limit=limit):
        try:
            customer = await store.current_customer(customer_id)  # a merged customer leads to the survivor
        except NotFound:
            continue
        if customer.id not in found:
            found[customer.id] = codec.customer_json(customer)
        if len(found) >= limit:
            break
    return web.json_response({"customers": list(found.values())})


def _phone(q: str, region: str) -> str | None:
    """The E.164 form of a query that looks like a phone number, else None."""
    if sum(ch.isdigit() for ch in q) < 6 or any(ch.isalpha() for ch in q):
        return None
    try:
        return normalize_phone(q, region)
    except InvalidRequest:
        return None


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
