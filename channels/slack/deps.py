"""What the Slack console's jobs (thread sync, agent actions) need from the worker that runs them.

Protocols, so the worker passes its own services object and this package
never imports ``workers``, ``router`` or ``templates``: anything with these attributes will do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from redis.asyncio import Redis

from channels.slack.settings import SlackSettings
from conversations.models import Channel, Customer
from conversations.attachments import Attachments
from conversations.service import ConversationService
from conversations.store import ConversationStore


class QueueChannels(Protocol):
    """The rule file's Slack channel for a queue and tier (``router.RuleSet`` has it)."""

    def slack_channel(self, queue: str, tier: int) -> str | None: ...


class RulesInForce(Protocol):
    @property
    def current(self) -> QueueChannels: ...


class RenderedText(Protocol):
    @property
    def text(self) -> str: ...


class TemplatesInForce(Protocol):
    """The response templates in force (``templates.LiveTemplates`` is one)."""

    def render(self, name: str, channel: Channel | None, *, customer: Customer | None, conversation_id: str | None,
               agent: str, variables: Mapping[str, str] | None = None) -> RenderedText: ...


class ConsoleDeps(Protocol):
    @property
    def store(self) -> ConversationStore: ...
    @property
    def service(self) -> ConversationService: ...
    @property
    def redis(self) -> Redis: ...
    @property
    def slack(self) -> SlackSettings: ...
    @property
    def rules(self) -> RulesInForce: ...
    @property
    def templates(self) -> TemplatesInForce: ...
    @property
    def attachments(self) -> Attachments | None: ...
