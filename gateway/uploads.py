"""``POST /api/conversations/{id}/messages`` as multipart: an agent's reply with files.

The multipart reading and checks are ``channels/uploads.py`` (shared with the web chat upload).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.uploads import read_upload, store_all
from conversations.errors import InvalidRequest
from conversations.models import Channel, Message
from gateway.actors import actor
from workers.context import Services


class ReplyForm(BaseModel):
    """The form fields of a reply with files; the text may be empty when files come with it."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field("", max_length=32_000)
    author: str = Field("admin", min_length=1, max_length=200)
    kind: Literal["reply"] = "reply"
    channel: Channel | None = None


async def post_reply_with_files(request: web.Request, services: Services, conversation_id: str) -> Message:
    """An agent's reply with files: read and check everything, then store the files, then the reply.

    Raises:
        InvalidRequest, AttachmentRejected: nothing stored. NotFound: an unknown conversation (nothing stored).
    """
    attachments = services.attachments
    if attachments is None:
        raise InvalidRequest("this process has no attachment store")
    upload = await read_upload(request, attachments, "agent")
    form = ReplyForm.model_validate(upload.fields)
    if not upload.files and not form.text.strip():
        raise InvalidRequest("text: a reply needs text or a file")
    author = actor(request, form)  # an agent token never acts as another name (403 before anything is stored)
    await services.store.conversation(conversation_id)  # NotFound before any file is stored
    files = await store_all(attachments, "agent", upload)
    return await services.service.reply(conversation_id, form.text, author, channel=form.channel,
                                        attachments=files)
