"""A customer's data, whole: the export (``GET /api/customers/{id}/export``) and the erasure (``DELETE``).

Both cover live and archived conversations (``conversations/archive.py``). The
erasure removes, besides what ``conversations/erase.py`` removes (the customer's
slot, identities, locators, backlog index entries, search terms, opt-outs):
the stored files of their messages, the archive lines, the provider-id and
e-mail Message-ID lookups, the "sent" markers, the Slack thread state, their
timers and the web chat retention entry. What stays is anonymous: each
conversation's report row (queue, tier, channel, times, counts, rating; no name,
address or text), so the reports keep their figures, and one audit entry saying
who erased the customer and how much.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from channels.email import keys as email_keys
from channels.slack import keys as slack_keys
from channels.sms import keys as sms_keys
from channels.webchat import keys as webchat_keys
from conversations import codec, keys, redisio
from conversations.archive import Archive, Record, read_live
from conversations.attachments import AttachmentStore
from conversations.audit import AUDIT_KEY, MAX_PAGE, AuditEntry, AuditLog, AuditQuery
from conversations.clock import now_ms
from conversations.consent import ConsentStore
from conversations.erase import erase_customer
from conversations.models import Customer
from conversations.store import ConversationStore
from workers import keys as worker_keys
from workers import report_store
from workers.retention import drop_slack_state

EXPORT_FORMAT = 1
CSAT_FIELDS = ("csat_sent_at", "csat_until", "csat_rating", "csat_comment", "csat_rated_at", "csat_message")
ROW_ID = 2  # where a report row (workers/report_facts.py) keeps its conversation id

# KEYS: the hour's rows, versions, stale hours. ARGV: conversation id, anonymous id, hour, row read, new row.
# The row moves to an anonymous id in one step if it is still the one read; the hour is re-aggregated.
_ANONYMIZE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[4] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[5])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('SADD', KEYS[3], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class CustomerData:
    customer: Customer
    records: list[tuple[Record, bool]]  # (conversation, archived)


async def gather(store: ConversationStore, files: AttachmentStore | None, customer_id: str) -> CustomerData:
    """The customer and every conversation of theirs, live or archived.

    Raises:
        NotFound: no such customer.
    """
    customer = await store.customer(customer_id)
    archive = Archive(store.redis, files) if files is not None else None
    records: list[tuple[Record, bool]] = []
    for conversation_id in await store.customer_conversation_ids(customer_id):
        live = await read_live(store.redis, customer_id, conversation_id)
        if live is not None:
            records.append((live, False))
            continue
        archived = await archive.read(conversation_id) if archive is not None else None
        if archived is not None:
            records.append((archived, True))
    return CustomerData(customer, records)


def csat_of(record: Record) -> dict[str, str] | None:
    found = {name: record.fields[name] for name in CSAT_FIELDS if record.fields.get(name)}
    return {"conversation_id": record.conversation_id, **found} if found else None


async def audit_entries(log: AuditLog, customer_id: str, limit: int = 1000) -> list[dict[str, object]]:
    """The audit entries naming the customer, newest first (at most ``limit``)."""
    entries: list[dict[str, object]] = []
    cursor: str | None = None
    while len(entries) < limit:
        page = await log.query(AuditQuery(customer=customer_id, cursor=cursor, limit=MAX_PAGE))
        entries += page.entries
        cursor = page.next_cursor
        if cursor is None:
            break
    return entries[:limit]


async def export(store: ConversationStore, consent: ConsentStore, files: AttachmentStore | None, audit: AuditLog,
                 customer_id: str, link: Callable[[str], str] | None) -> dict[str, object]:
    """Everything held about the customer as one JSON document; stored files as signed links.

    A merged customer's id exports the customer it was merged into (the same person).
    """
    customer_id = (await store.current_customer(customer_id)).id
    data = await gather(store, files, customer_id)
    conversations: list[dict[str, object]] = []
    csat: list[dict[str, str]] = []
    for record, archived in data.records:
        conversations.append({"conversation": codec.conversation_json(record.conversation()), "archived": archived,
                              "messages": [codec.message_json(m, link) for m in record.messages()]})
        rated = csat_of(record)
        if rated:
            csat.append(rated)
    opt_outs = await consent.opt_outs(data.customer.identities)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": codec.iso(codec.from_ms(now_ms())),
        "customer": codec.customer_json(data.customer),
        "opt_outs": [opt_out.public() for opt_out in opt_outs],
        "conversations": conversations,
        "csat": csat,
        "audit": await audit_entries(audit, customer_id),
    }


def attachment_ids(record: Record) -> set[str]:
    return {a.id for m in record.messages() for a in m.attachments if a.id}


async def _delete_if_names(redis: Redis, name: str, conversation_id: str) -> int:
    """Delete a "conversation message" lookup key only if it points into this conversation."""
    value = redisio.optional_text(await redis.get(name))
    if value and value.partition(" ")[0] == conversation_id:
        return int(await redis.delete(name))
    return 0


async def _message_keys(redis: Redis, record: Record) -> int:
    removed = 0
    for message in record.messages():
        for name in (email_keys.sent_marker(message.id), sms_keys.sent_marker(message.id)):
            removed += await redis.delete(name)
        if message.provider_id and message.channel is not None:
            removed += await _delete_if_names(redis, keys.provider_message(message.channel.value, message.provider_id),
                                              record.conversation_id)
            removed += await _delete_if_names(redis, email_keys.message_key(message.provider_id),
                                              record.conversation_id)
    return removed


async def _timers(redis: Redis, conversation_ids: list[str]) -> None:
    for conversation_id in conversation_ids:
        members = [redisio.text(m) async for m, _ in redis.zscan_iter(worker_keys.TIMERS, match=f"{conversation_id}|*")]
        if members:
            await redis.zrem(worker_keys.TIMERS, *members)
        await redis.zrem(worker_keys.TIMERS_DIRTY, conversation_id)


async def anonymize_report_rows(redis: Redis, records: list[Record]) -> int:
    """Each conversation's report row, kept under a random id: the figures stay, the link to the person goes."""
    moved = 0
    for record in records:
        hour = report_store.hour_of(int(record.fields.get("created_at") or 0))
        row = redisio.optional_text(await redis.hget(report_store.bucket_key(hour), record.conversation_id))
        if not row:
            continue
        anonymous = f"erased_{secrets.token_hex(8)}"
        fields = json.loads(row)
        fields[ROW_ID] = anonymous
        moved += int(await redis.eval(_ANONYMIZE, 3, report_store.bucket_key(hour), report_store.VERSIONS,
                                      report_store.STALE, record.conversation_id, anonymous, str(hour), row,
                                      json.dumps(fields, separators=(",", ":"))))
    return moved


async def redact_audit(redis: Redis, log: AuditLog, customer: Customer) -> int:
    """Delete the audit entries about the customer that carry their name or an address of theirs.

    Stream entries cannot be edited; entries naming only ids (who replied, assigned, resolved) stay.
    """
    personal = {i.address.casefold() for i in customer.identities} | ({customer.name.casefold()} if customer.name else set())
    doomed: list[str] = []
    for entry in await audit_entries(log, customer.id, limit=100_000):
        detail = json.dumps(entry.get("detail", {})).casefold()
        if any(value and value in detail for value in personal):
            doomed.append(str(entry["id"]))
    if doomed:
        await redis.xdel(AUDIT_KEY, *doomed)
    return len(doomed)


async def merge_chain(store: ConversationStore, customer_id: str) -> list[str]:
    """The customer and those it was merged into, up to the survivor (a merged record keeps a name).

    Raises:
        NotFound: no such customer.
    """
    chain = [customer_id]
    customer = await store.customer(customer_id)
    while customer.merged_into and customer.merged_into not in chain and len(chain) < 10:
        chain.append(customer.merged_into)
        customer = await store.customer(customer.merged_into)
    return chain


async def erase(store: ConversationStore, files: AttachmentStore | None, audit: AuditLog, customer_id: str,
                author: str) -> dict[str, int]:
    """Erase the customer (and, when it was merged, the customer it lives on in) and everything of theirs.

    Returns the counts, summed; each erased customer id gets its ``customer_erased`` audit entry.

    Raises:
        NotFound: no such customer (nothing changes).
    """
    totals: dict[str, int] = {}
    for one in await merge_chain(store, customer_id):
        for name, value in (await _erase_one(store, files, audit, one, author)).items():
            totals[name] = totals.get(name, 0) + value
    return totals


async def _erase_one(store: ConversationStore, files: AttachmentStore | None, audit: AuditLog, customer_id: str,
                     author: str) -> dict[str, int]:
    """Files and channel keys go first and the customer's own keys last, so a failure part-way
    leaves a customer that can be erased again (every step is idempotent)."""
    redis = store.redis
    data = await gather(store, files, customer_id)
    conversation_ids = [record.conversation_id for record, _ in data.records]
    all_ids = list(dict.fromkeys([*conversation_ids, *await store.customer_conversation_ids(customer_id)]))
    file_ids = set().union(*(attachment_ids(record) for record, _ in data.records)) if data.records else set()
    if files is not None:
        for file_id in sorted(file_ids):
            await files.delete(file_id)
    lookups = 0
    for record, _ in data.records:
        lookups += await _message_keys(redis, record)
    lookups += await drop_slack_state(redis, all_ids)
    for identity in data.customer.identities:
        if identity.channel.value == "slack":
            lookups += await redis.delete(slack_keys.customer_user_key(identity.address.rpartition(":")[2]))
    await _timers(redis, all_ids)
    reports = await anonymize_report_rows(redis, [record for record, _ in data.records])
    redacted = await redact_audit(redis, audit, data.customer)
    archived = await Archive(redis, files).forget(set(all_ids)) if files is not None else 0
    removed = await erase_customer(redis, customer_id)
    await redis.zrem(webchat_keys.ANONYMOUS_ACTIVITY, customer_id)
    counts = {"conversations": len(all_ids), "archived_conversations": archived, "files": len(file_ids),
              "keys": removed + lookups, "report_rows_kept": reports, "audit_entries_redacted": redacted}
    await audit.record(AuditEntry(agent=author, action="customer_erased", customer=customer_id,
                                  detail={name: str(value) for name, value in counts.items()}))
    return counts

