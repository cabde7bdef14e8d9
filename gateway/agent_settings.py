"""GATEWAY_AGENT_TOKENS and GATEWAY_AUDIT__*: who may act on the admin API, and how much audit is kept.

Only the tokens' SHA-256 digests are kept in memory (docs/AGENTS.md, docs/SECURITY.md).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from conversations.agents import parse_static_tokens
from conversations.audit import DEFAULT_MAX_ENTRIES


class AuditSettings(BaseModel):
    # The audit stream is trimmed (approximately) to this many entries, oldest first.
    max_entries: int = Field(default=DEFAULT_MAX_ENTRIES, ge=1000)


def parse_agent_tokens(value: object) -> object:
    """``name:token,name:token`` → {token digest: name}; a dict is taken as already parsed."""
    if isinstance(value, str):
        return parse_static_tokens(value)  # ValueError → one line naming GATEWAY_AGENT_TOKENS
    return value
