"""Attachment bytes: where they are kept, what they really are, who may read them.

The store is a Protocol (a local directory by default, S3-compatible object
storage in ``attachment_s3.py``); ``Attachments`` is what channels and the
admin API use: it checks a file against its channel's limits, sniffs its type
from the bytes (the name and the declared type are never believed), stores
it and answers signed URLs (``attachment_urls.py``) that agents open without
any provider credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import filetype

from conversations import attachment_urls
from conversations.models import Attachment

# Ids are what a URL names: letters, digits, "_" and "-" only, so an id can never walk out of the store.
ID_PATTERN = re.compile(r"^att_[A-Za-z0-9_-]{16,64}$")
MAX_NAME_CHARS = 200


class AttachmentRejected(ValueError):
    """A file its channel does not accept (too large, a type not allowed): nothing was stored.

    ``status`` is the HTTP answer where a person uploaded it (413 too large, 415 wrong type, 400 empty).
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What the store keeps beside the bytes, so serving needs no other lookup."""

    content_type: str
    name: str


class AttachmentStore(Protocol):
    """Where attachment bytes live. ``put`` of an id that exists replaces it (ingest retries are idempotent)."""

    async def put(self, attachment_id: str, data: bytes, meta: StoredFile) -> None: ...

    async def get(self, attachment_id: str) -> tuple[bytes, StoredFile] | None: ...

    async def delete(self, attachment_id: str) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """One channel's rule for files: at most ``max_bytes``, of a sniffed type in ``types``.

    A type ending in ``/*`` allows its whole family (``image/*``).
    """

    max_bytes: int
    types: tuple[str, ...]

    def allows(self, content_type: str) -> bool:
        family = content_type.split("/", 1)[0] + "/*"
        return content_type in self.types or family in self.types


def sniff(data: bytes) -> str:
    """The content type the bytes themselves say; ``text/plain`` for readable UTF-8 text.

    ``application/octet-stream`` when nothing is recognised: such a file is only kept
    where a channel allows that type explicitly.
    """
    found = filetype.guess_mime(data)
    if found:
        return str(found)
    head = data[:8192]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError as error:
            if error.start >= len(head) - 3:  # a multi-byte character cut by the 8 KiB window
                return "text/plain"
    return "application/octet-stream"


def safe_name(name: str | None, content_type: str) -> str:
    """A file name fit for a header and a chat line: no path, no control characters, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|').strip(" .")
    if not base:
        base = "file." + (content_type.split("/", 1)[-1].split("+", 1)[0] or "bin")
    return base[:MAX_NAME_CHARS]


def new_id() -> str:
    return "att_" + secrets.token_urlsafe(18)


def derived_id(secret_key: bytes, source: str) -> str:
    """The same id for the same file of the same provider message: a redelivered message stores nothing twice."""
    digest = hmac.new(secret_key, b"attachment-id\x00" + source.encode(), hashlib.sha256).digest()
    return "att_" + digest[:18].hex()


class LocalAttachmentStore:
    """A local directory: ``<root>/<2 chars>/<id>`` plus ``<id>.json``; written whole, then renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, attachment_id: str) -> Path:
        if not ID_PATTERN.match(attachment_id):
            raise ValueError("not an attachment id")
        return self.root / attachment_id[4:6] / attachment_id

    async def put(self, attachment_id: str, data: bytes, meta: StoredFile) -> None:
        await asyncio.to_thread(self._put, self._path(attachment_id), data, meta)

    @staticmethod
    def _put(path: Path, data: bytes, meta: StoredFile) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Meta first: a reader that finds the bytes always finds their type.
        for target, content in ((path.with_suffix(".json"),
                                 json.dumps({"content_type": meta.content_type, "name": meta.name}).encode()),
                                (path, data)):
            temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            temporary.write_bytes(content)
            os.replace(temporary, target)

    async def get(self, attachment_id: str) -> tuple[bytes, StoredFile] | None:
        return await asyncio.to_thread(self._get, self._path(attachment_id))

    @staticmethod
    def _get(path: Path) -> tuple[bytes, StoredFile] | None:
        try:
            meta = json.loads(path.with_suffix(".json").read_bytes())
            return path.read_bytes(), StoredFile(content_type=meta["content_type"], name=meta["name"])
        except FileNotFoundError:
            return None

    async def delete(self, attachment_id: str) -> None:
        path = self._path(attachment_id)
        for target in (path, path.with_suffix(".json")):
            await asyncio.to_thread(target.unlink, True)

    async def close(self) -> None:
        return None


class Attachments:
    """The one way in and out: limits, sniffing and storing on the way in, signed URLs on the way out.

    Args:
        store: where the bytes go.
        secret_key: signs the URLs (and derives ids of provider files).
        public_url: the base of the URLs (agents' browsers and providers such as Twilio fetch them).
        limits: per channel name (``email``, ``sms``, ``slack``, ``webchat``, ``agent``).
        url_seconds: how long a signed URL opens the file.
        posted_url_seconds: the same for links posted into a conversation (Slack thread lines, files sent
            to a customer as a link), which stay in a history someone scrolls back to; 0 = ``url_seconds``.
    """

    def __init__(self, store: AttachmentStore, secret_key: bytes, public_url: str,
                 limits: Mapping[str, Limits], url_seconds: int, posted_url_seconds: int = 0) -> None:
        self.store = store
        self.secret_key = secret_key
        self.public_url = public_url.rstrip("/")
        self.limits = dict(limits)
        self.url_seconds = url_seconds
        self.posted_url_seconds = posted_url_seconds or url_seconds

    def check(self, source: str, data: bytes) -> str:
        """The sniffed type of ``data`` if ``source``'s limits accept it.

        Raises:
            AttachmentRejected: empty, too large, or a type the channel does not take (the reason says which).
        """
        limits = self.limits[source]
        if not data:
            raise AttachmentRejected("the file is empty")
        if len(data) > limits.max_bytes:
            raise AttachmentRejected(f"the file is {len(data)} bytes; {source} takes at most {limits.max_bytes}", 413)
        content_type = sniff(data)
        if not limits.allows(content_type):
            raise AttachmentRejected(f"{content_type} files are not accepted on {source} "
                                     f"(accepted: {', '.join(limits.types)})", 415)
        return content_type

    async def save(self, source: str, data: bytes, name: str | None, *, attachment_id: str | None = None) -> Attachment:
        """Check and store one file; the ``Attachment`` to keep on the message.

        Raises:
            AttachmentRejected: see ``check``; nothing is stored.
        """
        content_type = self.check(source, data)
        file_name = safe_name(name, content_type)
        attachment_id = attachment_id or new_id()
        await self.store.put(attachment_id, data, StoredFile(content_type=content_type, name=file_name))
        return Attachment(name=file_name, content_type=content_type, size=len(data), id=attachment_id)

    async def keep(self, source: str, data: bytes, name: str | None, *, attachment_id: str | None = None,
                   declared_type: str = "") -> Attachment:
        """``save``, or when the limits refuse the file, its metadata with the reason (a customer's message
        is never refused for its attachment; the agent sees what was not kept and why)."""
        try:
            return await self.save(source, data, name, attachment_id=attachment_id)
        except AttachmentRejected as error:
            return Attachment(name=safe_name(name, declared_type or "application/octet-stream"),
                              content_type=declared_type or sniff(data), size=len(data), refused=str(error))

    def url(self, attachment_id: str, now_seconds: int) -> str:
        """A URL that opens the file for ``url_seconds`` from ``now_seconds``."""
        expires = now_seconds + self.url_seconds
        return attachment_urls.signed_url(self.public_url, self.secret_key, attachment_id, expires)

    def posted_url(self, attachment_id: str, now_seconds: int) -> str:
        """A URL posted into a conversation (Slack thread, web chat, MMS): opens the file for ``posted_url_seconds``."""
        expires = now_seconds + self.posted_url_seconds
        return attachment_urls.signed_url(self.public_url, self.secret_key, attachment_id, expires)

    async def open(self, attachment_id: str, expires: str, signature: str,
                   now_seconds: int) -> tuple[bytes, StoredFile] | None:
        """The file, if the signature is ours and unexpired and the file exists; else None."""
        if not ID_PATTERN.match(attachment_id):
            return None
        if not attachment_urls.verify(self.secret_key, attachment_id, expires, signature, now_seconds):
            return None
        return await self.store.get(attachment_id)

    async def close(self) -> None:
        await self.store.close()
