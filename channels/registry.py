"""Which senders exist: one per configured channel."""

from __future__ import annotations

from redis.asyncio import Redis

from channels.base import Sender
from channels.webchat.sender import WebchatSender
from conversations.models import Channel
from gateway.settings import Settings


def build_senders(settings: Settings, redis: Redis) -> dict[Channel, Sender]:
    senders: dict[Channel, Sender] = {Channel.WEBCHAT: WebchatSender(redis)}
    return senders
