"""A Slack request before anything reads it: the signature, and the types of the fields we and Bolt use.

Pure. Bolt's own checks assume Slack's shapes (``"id" in payload["user"]``,
``len(payload["authorizations"])``): a correctly signed request with a
number where Slack sends a string, or a list where it sends an object, used
to end in a 500. Here every such field is checked first; a request that does
not fit is refused with 400 and never reaches a listener. Unknown fields are
left alone (Slack adds fields all the time).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError, model_validator
from slack_bolt.request.async_request import AsyncBoltRequest

from conversations.messages import InvalidPayload, InvalidSignature

MAX_AGE = 5 * 60  # Slack's own window for X-Slack-Request-Timestamp
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")

Str = StrictStr | None


def verify(secret: bytes, timestamp: str, signature: str, body: bytes, *, now: float) -> None:
    """Slack's ``v0`` signature: hex HMAC-SHA256 of ``v0:{timestamp}:{body}``, at most five minutes old.

    Raises:
        InvalidSignature: a missing, malformed, stale or wrong signature (answered 401).
    """
    if not TIMESTAMP.match(timestamp or ""):
        raise InvalidSignature("X-Slack-Request-Timestamp must be Unix seconds")
    if abs(now - int(timestamp)) > MAX_AGE:
        raise InvalidSignature("the request is more than five minutes old")
    if not SIGNATURE.match(signature or ""):
        raise InvalidSignature("X-Slack-Signature is missing or malformed")
    expected = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"v0={expected}".encode(), signature.encode()):
        raise InvalidSignature("the Slack signature does not match")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class Ref(_Loose):
    """``user``, ``team``, ``channel``, ``enterprise`` objects of interactivity payloads."""

    id: Str = None
    team_id: Str = None
    enterprise_id: Str = None
    name: Str = None


class File(_Loose):
    name: Str = None
    title: Str = None
    mimetype: Str = None
    permalink: Str = None
    url_private: Str = None
    size: StrictInt | None = None


class Profile(_Loose):
    display_name: Str = None
    real_name: Str = None


class MessageFields(_Loose):
    type: Str = None
    subtype: Str = None
    user: Str = None
    bot_id: Str = None
    ts: Str = None
    thread_ts: Str = None
    text: Str = None
    channel: Str = None
    channel_type: Str = None
    team: Str = None
    user_team: Str = None
    client_msg_id: Str = None
    deleted_ts: Str = None
    event_ts: Str = None
    files: list[File] | None = None
    user_profile: Profile | None = None
    bot_profile: dict[str, Any] | None = None


class Event(MessageFields):
    message: MessageFields | None = None
    previous_message: MessageFields | None = None
    item: dict[str, Any] | None = None
    assistant_thread: dict[str, Any] | None = None


class Authorization(_Loose):
    team_id: Str = None
    enterprise_id: Str = None
    user_id: Str = None
    is_enterprise_install: StrictBool | None = None
    is_bot: StrictBool | None = None


class Action(_Loose):
    action_id: Str = None
    block_id: Str = None
    value: Str = None
    action_ts: Str = None
    type: Str = None


class ViewState(_Loose):
    values: dict[str, dict[str, dict[str, Any]]] | None = None


class View(_Loose):
    id: Str = None
    type: Str = None
    callback_id: Str = None
    private_metadata: Str = None
    team_id: Str = None
    app_installed_team_id: Str = None
    state: ViewState | None = None


# Objects Bolt reads with ``body.get(name, {})``: absent is fine, null is not.
NEVER_NULL = ("event", "message", "view", "actions", "authorizations", "container")


class Payload(_Loose):
    """Every body Slack posts: Events API envelopes, interactivity payloads and slash commands."""

    type: Str = None
    token: Str = None
    challenge: Str = None
    event_id: Str = None
    team_id: Str = None
    enterprise_id: Str = None
    api_app_id: Str = None
    context_team_id: Str = None
    context_enterprise_id: Str = None
    is_ext_shared_channel: StrictBool | None = None
    is_enterprise_install: StrictBool | None = None
    authorizations: list[Authorization] | None = None
    event: Event | None = None
    # Interactivity.
    user: Ref | None = None
    team: Ref | None = None
    channel: Ref | None = None
    enterprise: Ref | None = None
    container: dict[str, Any] | None = None
    message: MessageFields | None = None
    view: View | None = None
    actions: list[Action] | None = None
    trigger_id: Str = None
    callback_id: Str = None
    action_id: Str = None  # block_suggestion (options) payloads; Bolt concatenates it into a log line
    response_url: Str = None
    action_ts: Str = None
    # Slash commands (form fields: always strings, unless a field was sent twice).
    command: Str = None
    text: Str = None
    user_id: Str = None
    channel_id: Str = None

    @model_validator(mode="after")
    def _what_bolt_takes_for_granted(self) -> Payload:
        """Fields Bolt indexes without looking (``body["view"]["type"]``, ``body.get("event", {}).get``)."""
        for name in NEVER_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} is null")
        if self.type == "event_callback" and (self.event is None or self.event.type is None):
            raise ValueError("an event_callback needs an event with a type")
        if self.type in ("view_submission", "view_closed") and (self.view is None or self.view.type is None):
            raise ValueError(f"a {self.type} needs a view with a type")
        if self.type == "block_actions" and not self.actions:
            raise ValueError("block_actions needs actions")
        return self


def check(body: object) -> None:
    """Refuse a body whose fields are not the types Slack sends.

    Raises:
        InvalidPayload: the first few fields that are wrong (answered 400).
    """
    if not isinstance(body, dict):
        raise InvalidPayload("a Slack request body is a JSON object or a form")
    try:
        Payload.model_validate(body)
    except ValidationError as error:
        wrong = [".".join(str(p) for p in e["loc"]) or e["msg"] for e in error.errors()[:3]]
        raise InvalidPayload(f"malformed Slack payload: {', '.join(wrong)}") from None


def bolt_request(raw: bytes, *, query: str = "", headers: Mapping[str, str]) -> AsyncBoltRequest:
    """The verified body as Bolt will read it, once it is known to be a shape Slack sends.

    Raises:
        InvalidPayload: not UTF-8, not JSON or a form, or a field of the wrong type (answered 400).
    """
    try:
        body = raw.decode("utf-8")
        # Bolt parses the body (and reads ids out of it) in its constructor.
        request = AsyncBoltRequest(body=body, query=query, headers=dict(headers))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as error:
        raise InvalidPayload(f"malformed Slack request body ({type(error).__name__})") from None
    check(request.body)
    return request


def text(value: object) -> str:
    """A field's string value; anything else (absent, null) is ""."""
    return value if isinstance(value, str) else ""


def field(body: dict[str, Any], *path: str) -> str:
    """A string at ``path`` in nested objects (``field(body, "user", "id")``), or ""."""
    node: object = body
    for key in path:
        if not isinstance(node, dict):
            return ""
        node = node.get(key)
    return text(node)
