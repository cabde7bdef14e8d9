"""Every Redis key the conversation store uses, in one place.

Keys of one customer share the hash tag ``{c:<customer_id>}`` so the
multi-key atomic steps (the ingest script, WATCH/MULTI verbs) stay in one
slot on Redis Cluster. Lookups that must work before the customer is known
(identities, conversation locators, provider ids) are single keys of their own.
"""

from __future__ import annotations

PREFIX = "gw"


def customer_tag(customer_id: str) -> str:
    return f"{PREFIX}:{{c:{customer_id}}}"


# SCAN patterns for every customer hash and every conversation hash (rebuilds, not the hot path).
EVERY_CUSTOMER = f"{PREFIX}:{{c:*}}:customer"
EVERY_CONVERSATION = f"{PREFIX}:{{c:*}}:conv:*"


class CustomerKeys:
    """The keys that live in one customer's slot."""

    __slots__ = ("customer_id", "tag")

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.tag = customer_tag(customer_id)

    @property
    def customer(self) -> str:  # hash: id, name, attributes (JSON), live, merged_into, ...
        return f"{self.tag}:customer"

    @property
    def identities(self) -> str:  # set of identity keys ("sms:+4915...")
        return f"{self.tag}:identities"

    @property
    def conversations(self) -> str:  # list of conversation ids, oldest first
        return f"{self.tag}:conversations"

    @property
    def seen(self) -> str:  # hash: dedupe key -> "<conversation_id> <message_id>"
        return f"{self.tag}:seen"

    @property
    def seen_at(self) -> str:  # zset: dedupe key -> accepted at (ms), to expire old markers
        return f"{self.tag}:seen_at"

    def conversation(self, conversation_id: str) -> str:  # hash of conversation fields
        return f"{self.tag}:conv:{conversation_id}"

    def messages(self, conversation_id: str) -> str:  # stream: the timeline in accepted order
        return f"{self.tag}:msgs:{conversation_id}"

    def delivery(self, conversation_id: str) -> str:  # hash: message id -> JSON delivery state
        return f"{self.tag}:delivery:{conversation_id}"


def identity(identity_key: str) -> str:
    """string: the customer id an identity belongs to."""
    return f"{PREFIX}:identity:{identity_key}"


def opt_out(identity_key: str) -> str:
    """string (JSON: at, via, resume): the address asked for no more messages; see ``consent.py``."""
    return f"{PREFIX}:optout:{identity_key}"


def conversation_locator(conversation_id: str) -> str:
    """string: the customer id whose slot holds the conversation."""
    return f"{PREFIX}:conv:{conversation_id}"


def provider_message(channel: str, provider_id: str) -> str:
    """string: "<conversation_id> <message_id>" of an outbound message, for status callbacks."""
    return f"{PREFIX}:provider:{channel}:{provider_id}"


# string: written before a WAIT that has no write of its own to wait for (``store.confirm_replicated``).
REPLICATION_PROBE = f"{PREFIX}:replication:probe"

# zset: the activity-only index of earlier versions; `gateway index rebuild` deletes it.
LEGACY_CONVERSATIONS_INDEX = f"{PREFIX}:index:conversations"

# The backlog indexes (``index.py``): one hash tag, so one script moves a conversation
# between buckets atomically on a Redis Cluster too.
INDEX_TAG = f"{PREFIX}:{{ix}}"
INDEX_STATE = f"{INDEX_TAG}:state"  # hash: conversation -> "<version>|<bucket id>"
INDEX_BUCKETS = f"{INDEX_TAG}:buckets"  # hash: bucket id -> bucket JSON
INDEX_INTENTS = f"{INDEX_TAG}:intents"  # zset: "conv:<id>|<token>" or "cust:<id>|<token>" -> ms


def index_set(order: str, bucket_id: str) -> str:
    """zset of one bucket in one order (``activity``: -updated_at; ``urgency``: earliest SLA deadline)."""
    return f"{INDEX_TAG}:{order}:{bucket_id}"


# zset (all scores 0): "<term>\x00<customer id>", for customer search by prefix (``search.py``).
SEARCH_TERMS = f"{PREFIX}:search:terms"


# pub/sub channel carrying every new or changed message of a conversation.
def conversation_events(conversation_id: str) -> str:
    return f"{PREFIX}:events:conv:{conversation_id}"


# Agents (``agents.py``): one hash tag, so adding an agent writes both hashes in one script.
AGENT_NAMES = f"{PREFIX}:{{agents}}:names"  # hash: agent -> "<token sha256>|<added ms>"
AGENT_TOKENS = f"{PREFIX}:{{agents}}:tokens"  # hash: token sha256 -> agent

# The audit log (``audit.py``): a bounded stream, and the last rule-file outcome recorded.
AUDIT = f"{PREFIX}:audit"
AUDIT_RULES_STATE = f"{PREFIX}:audit:rules_state"

# The archive's pointers (``archive.py``): hash ``<prefix><n>``, archived conversation id ->
# "<archive object id> <customer id>", n = crc32(id) mod the bucket count.
ARCHIVE_POINTER_PREFIX = f"{PREFIX}:archive:ptr:"


def archive_pointer(bucket: int) -> str:
    return f"{ARCHIVE_POINTER_PREFIX}{bucket}"
