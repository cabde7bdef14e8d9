"""GATEWAY_ATTACHMENTS__*: where attachment bytes are kept, how long their URLs open, and each channel's limits.

A local directory unless ``S3_BUCKET`` is set; then S3-compatible object storage
(``S3_ENDPOINT_URL`` for MinIO, Ceph, R2...; credentials from these settings or
boto3's usual environment and instance roles). Limits per channel:
``GATEWAY_ATTACHMENTS__EMAIL__MAX_BYTES=10000000``,
``GATEWAY_ATTACHMENTS__WEBCHAT__TYPES=image/*,application/pdf``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from conversations.attachments import Limits

MB = 1024 * 1024
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/(\*|[A-Za-z0-9][\w.+-]*)$")
DOCUMENTS = ("image/*", "application/pdf", "text/plain", "audio/*", "video/*", "application/zip",
             "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet")


class ChannelLimits(BaseModel):
    max_bytes: int = Field(default=10 * MB, ge=1, le=1024 * MB)
    # Sniffed content types accepted; "image/*" accepts a family. Comma-separated in the environment.
    types: Annotated[tuple[str, ...], NoDecode] = DOCUMENTS

    @field_validator("types", mode="before")
    @classmethod
    def _type_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("types")
    @classmethod
    def _media_types(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [t for t in types if not MEDIA_TYPE.match(t)]
        if wrong:
            raise ValueError(f"not a media type such as image/png or image/*: {', '.join(wrong)}")
        return tuple(t.lower() for t in types)

    def limits(self) -> Limits:
        return Limits(max_bytes=self.max_bytes, types=self.types)


class AttachmentSettings(BaseModel):
    dir: Path = Path("attachments")
    s3_bucket: str | None = None
    s3_prefix: str = "attachments/"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # A signed URL opens its file this long; a Slack post or an API view shows a fresh one each time.
    url_seconds: int = Field(default=3600, ge=10, le=7 * 24 * 3600)
    # Links posted into a conversation (Slack thread lines, files sent to customers as links) stay in a
    # history someone scrolls back to: they open this long (default 7 days).
    posted_url_seconds: int = Field(default=7 * 24 * 3600, ge=10, le=30 * 24 * 3600)
    email: ChannelLimits = Field(default_factory=lambda: ChannelLimits(max_bytes=25 * MB))
    # Twilio MMS media: 5 MB per message is Twilio's own limit.
    sms: ChannelLimits = Field(default_factory=lambda: ChannelLimits(max_bytes=5 * MB))
    slack: ChannelLimits = Field(default_factory=lambda: ChannelLimits(max_bytes=25 * MB))
    # Visitors: images and PDFs only, small.
    webchat: ChannelLimits = Field(default_factory=lambda: ChannelLimits(
        max_bytes=5 * MB, types=("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")))
    # Files agents send (admin API, Slack thread).
    agent: ChannelLimits = Field(default_factory=lambda: ChannelLimits(max_bytes=25 * MB))

    def all_limits(self) -> dict[str, Limits]:
        return {name: getattr(self, name).limits() for name in ("email", "sms", "slack", "webchat", "agent")}
