"""Slack files into the attachment store: fetched with the bot token (``files:read``), once, on arrival.

A Slack file URL (``url_private_download``) opens only with a Slack token;
stored, it opens for agents through the gateway's signed URL and can go on to
a customer on any channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from channels.fetch import FetchFailed, fetch, host_of
from channels.slack.settings import SlackSettings
from conversations.attachments import Attachments, derived_id
from conversations.models import Attachment

log = logging.getLogger("gateway.slack")

SLACK_FILES = "https://files.slack.com"
# Slack wants an event answered within 3 s; a message's files are fetched together within this.
FETCH_SECONDS = 2.0
MAX_FILES = 10  # Slack allows 10 files per message


def file_hosts(settings: SlackSettings) -> frozenset[str]:
    return frozenset({host_of(SLACK_FILES), *([host_of(settings.api_base_url)] if settings.api_base_url else [])})


def described(files: Sequence[Mapping[str, Any]]) -> tuple[Attachment, ...]:
    """A message's ``files`` as attachments; ``url`` is where the bytes are fetched from."""
    return tuple(
        Attachment(name=str(f.get("name") or f.get("title") or "file"), content_type=str(f.get("mimetype") or ""),
                   size=f.get("size") if isinstance(f.get("size"), int) else None,
                   url=str(f.get("url_private_download") or f.get("url_private") or f.get("permalink") or "") or None)
        for f in list(files)[:MAX_FILES] if isinstance(f, Mapping)
    )


async def store_files(attachments: Attachments, settings: SlackSettings, source: str, secret_key: bytes,
                      dedupe_key: str, files: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    """Each file fetched with the bot token and stored under ``source``'s limits (``slack`` for customers,
    ``agent`` for agents' thread replies); one that cannot be fetched or is refused stays listed with the reason.
    Ids derive from ``dedupe_key``: a redelivered event stores nothing twice."""
    if not files or settings.bot_token is None:
        return files
    headers = {"Authorization": f"Bearer {settings.bot_token.get_secret_value()}"}

    async def one(index: int, item: Attachment) -> Attachment:
        try:
            data = await fetch(item.url or "", allowed_hosts=file_hosts(settings),
                               max_bytes=attachments.limits[source].max_bytes, timeout=FETCH_SECONDS, headers=headers)
        except FetchFailed as error:
            log.warning("Slack file %d of %s not stored: %s", index, dedupe_key, error)
            return Attachment(name=item.name, content_type=item.content_type, size=item.size, refused=str(error))
        return await attachments.keep(source, data, item.name, declared_type=item.content_type,
                                      attachment_id=derived_id(secret_key, f"{dedupe_key}:{index}"))

    # All at once: the files of one message share the one time budget.
    return tuple(await asyncio.gather(*(one(index, item) for index, item in enumerate(files))))
