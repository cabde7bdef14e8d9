"""The few Slack Web API calls the gateway makes, with errors sorted by what to do next.

Rate limits are not slept on here: a 429 raises ``RateLimited`` with Slack's
``Retry-After``, and the caller (a job) reschedules itself, so a worker is
never blocked waiting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from channels.slack.blocks import Block
from channels.slack.keys import user_profile_key
from channels.slack.settings import SlackSettings
from conversations import redisio

log = logging.getLogger("gateway.slack")

USER_NAME_TTL = 24 * 3600  # display names change rarely; a day-old name is fine as an author
# Errors that will not go away by retrying: configuration or permission problems.
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
    "token_revoked", "missing_scope", "user_not_found", "cannot_dm_bot", "msg_too_long", "no_text",
    "invalid_blocks", "message_not_found", "cant_update_message", "restricted_action", "team_access_not_granted",
})


class SlackError(Exception):
    """A Web API call failed; ``permanent`` says whether retrying can help."""

    def __init__(self, method: str, error: str, *, permanent: bool) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.permanent = permanent


class RateLimited(SlackError):
    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(method, "ratelimited", permanent=False)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class UserProfile:
    name: str
    email: str  # lower-cased; "" when Slack did not say (no users:read.email scope, or a bot)


@dataclass(frozen=True, slots=True)
class Posted:
    channel: str  # Slack's channel id, even when the call named the channel "#support"
    ts: str


def make_client(settings: SlackSettings) -> AsyncWebClient:
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    # Connection errors are retried once in-process; rate limits never are (see module doc).
    return AsyncWebClient(token=token, base_url=settings.api_base_url or AsyncWebClient.BASE_URL,
                          retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)], timeout=10)


def configured(settings: SlackSettings) -> bool:
    """Both the bot token and the signing secret are set and non-empty."""
    return settings.configured


class SlackApi:
    def __init__(self, client: AsyncWebClient, redis: Redis | None = None) -> None:
        self.client = client
        self.redis = redis

    async def _call(self, method: str, call: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
        """Await one call of the typed client methods (each uses the encoding Slack documents for it)."""
        try:
            return await call
        except SlackApiError as error:
            raise _sorted(method, error) from error

    async def post(self, channel: str, text: str, *, thread_ts: str | None = None,
                   blocks: list[Block] | None = None) -> Posted:
        # The client leaves out arguments that are None. link_names off: a plain "@channel" in a text stays
        # text (mentions only as explicit <!…> markup, which blocks.escape keeps out of customer text).
        response = await self._call("chat.postMessage", self.client.chat_postMessage(
            channel=channel, text=text, unfurl_links=False, unfurl_media=False, thread_ts=thread_ts or None,
            blocks=blocks, link_names=False))
        return Posted(response["channel"], response["ts"])

    async def update(self, channel: str, ts: str, text: str, blocks: list[Block]) -> None:
        await self._call("chat.update", self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks))

    async def ephemeral(self, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> None:
        # thread_ts: shown in the thread the agent is reading; the client leaves out None.
        await self._call("chat.postEphemeral", self.client.chat_postEphemeral(
            channel=channel, user=user, text=text, thread_ts=thread_ts or None))

    async def usergroup_members(self, group: str) -> frozenset[str]:
        """The user ids of a user group (``S…``); needs the ``usergroups:read`` scope."""
        response = await self._call("usergroups.users.list", self.client.usergroups_users_list(usergroup=group))
        users = response.get("users")
        return frozenset(u for u in users if isinstance(u, str)) if isinstance(users, list) else frozenset()

    async def permalink(self, channel: str, ts: str) -> str | None:
        try:
            response = await self._call("chat.getPermalink",
                                        self.client.chat_getPermalink(channel=channel, message_ts=ts))
        except SlackError as error:
            if isinstance(error, RateLimited):
                raise
            return None  # a link is a convenience; the move itself must not fail for it
        link = response.get("permalink")
        return link if isinstance(link, str) else None

    async def open_dm(self, user: str) -> str:
        response = await self._call("conversations.open", self.client.conversations_open(users=user))
        channel_id: str = response["channel"]["id"]
        return channel_id

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call("views.open", self.client.views_open(trigger_id=trigger_id, view=view))

    async def react(self, channel: str, ts: str, name: str) -> None:
        """Put reaction ``name`` on a message (``reactions:write``); already there counts as done."""
        try:
            await self._call("reactions.add", self.client.reactions_add(channel=channel, timestamp=ts, name=name))
        except SlackError as error:
            if error.error != "already_reacted":
                raise

    async def user_profile(self, user: str) -> UserProfile:
        """The user's display name (falling back to the real name, then the id) and profile e-mail (needs
        ``users:read.email``; "" without it), cached in Redis for ``USER_NAME_TTL``."""
        key = user_profile_key(user)
        if self.redis is not None:
            cached = redisio.optional_text(await self.redis.get(key))
            if cached:
                fields = json.loads(cached)
                return UserProfile(str(fields.get("name") or user), str(fields.get("email") or ""))
        response = await self._call("users.info", self.client.users_info(user=user))
        profile = response["user"].get("profile", {})
        name: str = (profile.get("display_name") or profile.get("real_name") or response["user"].get("real_name")
                     or response["user"].get("name") or user)
        email = profile.get("email")
        found = UserProfile(name, email.strip().lower() if isinstance(email, str) else "")
        if self.redis is not None:
            await self.redis.set(key, json.dumps({"name": found.name, "email": found.email}), ex=USER_NAME_TTL)
        return found


def _sorted(method: str, error: SlackApiError) -> SlackError:
    response = error.response
    if response.status_code == 429:
        retry_after = float(response.headers.get("Retry-After", response.headers.get("retry-after", 1)) or 1)
        return RateLimited(method, retry_after)
    code = response.get("error", "") if isinstance(response.data, dict) else ""
    permanent = code in PERMANENT_ERRORS or (400 <= response.status_code < 500 and response.status_code != 408)
    if response.status_code == 200 and code not in PERMANENT_ERRORS:
        permanent = False  # e.g. "internal_error", "fatal_error", "request_timeout": worth another try
    return SlackError(method, code or f"HTTP {response.status_code}", permanent=permanent)
