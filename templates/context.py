"""The values the gateway fills in itself (``{customer.first_name}`` …); pure."""

from __future__ import annotations

from conversations.models import Customer


def builtin_values(customer: Customer | None, conversation_id: str | None, agent: str) -> dict[str, str]:
    """Values for the built-in placeholders; a missing one is left out (its fallback, or a refusal)."""
    values = {"agent.name": " ".join(agent.split())}
    if customer is not None:
        name = " ".join(customer.name.split())
        values["customer.name"] = name
        values["customer.first_name"] = name.split(" ", 1)[0] if name else ""
    if conversation_id:
        values["conversation.id"] = conversation_id
    return values
