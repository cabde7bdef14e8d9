"""Who may act as an agent from Slack: the ``/gateway`` commands, the buttons, the note modal, thread replies.

Two rules, checked before anything is enqueued:

- A Slack user who has written to us as a customer (a DM to the app, or a
  customer channel) is never an agent, whatever else is configured: that user
  is on the other side of the conversations.
- ``GATEWAY_SLACK__AGENT_IDS`` (user ids ``U…``/``W…`` and user-group ids
  ``S…``), when set, is the whole list of agents; a user group counts its
  members (``usergroups.users.list``, cached for ``GROUP_TTL``). Unset, every
  other member of the workspace may act, as before.

A refusal is a reason for the person (shown only to them); nothing changes.
"""

from __future__ import annotations

import json
import logging

from redis.asyncio import Redis

from channels.slack.api import SlackApi, SlackError
from channels.slack.keys import customer_user_key, usergroup_key
from conversations.models import Channel, Identity
from conversations.store import ConversationStore

log = logging.getLogger("gateway.slack")

GROUP_TTL = 5 * 60  # a user added to or removed from an agents' group counts within five minutes
CUSTOMER = "You have written to us as a customer, so you cannot act on conversations."
NOT_AN_AGENT = "Only agents can do this (GATEWAY_SLACK__AGENT_IDS)."


class Agents:
    def __init__(self, redis: Redis, store: ConversationStore, api: SlackApi, agent_ids: list[str]) -> None:
        self.redis = redis
        self.store = store
        self.api = api
        self.users = frozenset(i for i in agent_ids if not i.startswith("S"))
        self.groups = tuple(i for i in agent_ids if i.startswith("S"))

    async def mark_customer(self, user: str) -> None:
        """This user writes as a customer: from now on never an agent."""
        await self.redis.set(customer_user_key(user), "1")

    async def is_customer(self, user: str, team: str) -> bool:
        if await self.redis.exists(customer_user_key(user)):
            return True
        # A customer who wrote before the marker existed still has a customer identity.
        return bool(team) and await self.store.customer_for(Identity(Channel.SLACK, f"{team}:{user}")) is not None

    async def refusal(self, user: str, team: str = "") -> str | None:
        """Why ``user`` may not act as an agent, or ``None`` when they may (a user group that cannot be
        read admits nobody: the refusal says why)."""
        if not user:
            return NOT_AN_AGENT
        if await self.is_customer(user, team):
            return CUSTOMER
        if not (self.users or self.groups) or user in self.users:
            return None
        for group in self.groups:
            try:
                members = await self.members(group)
            except SlackError as error:  # fail closed: an unreadable group admits nobody
                log.warning("could not read the members of user group %s: %s", group, error)
                return f"Could not check who is an agent ({error.error}); try again, or ask an admin."
            if user in members:
                return None
        return NOT_AN_AGENT

    async def members(self, group: str) -> frozenset[str]:
        cached = await self.redis.get(usergroup_key(group))
        if cached is not None:
            return frozenset(json.loads(cached))
        members = await self.api.usergroup_members(group)
        await self.redis.set(usergroup_key(group), json.dumps(sorted(members)), ex=GROUP_TTL)
        return members
