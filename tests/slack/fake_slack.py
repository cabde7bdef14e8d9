"""A local fake of the Slack Web API: enough methods for the console, every call recorded.

The official ``slack_sdk`` client talks to it over HTTP
(``GATEWAY_SLACK__API_BASE_URL``). ``rate_limit(fraction, retry_after)``
makes it answer 429 with ``Retry-After`` to that share of rate-limited calls,
chosen by a seeded random generator so runs are repeatable.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TEAM = "T0GATEWAY"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
RATE_LIMITED = frozenset({"chat.postMessage", "chat.update", "chat.getPermalink", "users.info",
                          "chat.postEphemeral", "conversations.open"})


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    thread_ts: str | None = None
    blocks: list[dict] | None = None
    updates: int = 0


@dataclass
class FakeSlack:
    users: dict[str, str] = field(default_factory=lambda: {"UAGENT": "Grace", "UAGENT2": "Linus"})
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # user-group id -> member ids
    emails: dict[str, str] = field(default_factory=dict)  # user id -> profile e-mail (users:read.email)
    reactions: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, ts, name) added
    calls: list[Call] = field(default_factory=list)
    messages: list[Posted] = field(default_factory=list)
    fail_channels: dict[str, str] = field(default_factory=dict)  # channel id -> Slack error to answer
    fail_methods: dict[str, str] = field(default_factory=dict)  # Web API method -> Slack error to answer
    limited_fraction: float = 0.0
    retry_after: int = 0
    random: random.Random = field(default_factory=lambda: random.Random(1234))
    bot_token: str = "xoxb-test-token"  # the one token it accepts
    files: dict[str, bytes] = field(default_factory=dict)  # file id -> bytes, served at url_private
    downloads: list[str] = field(default_factory=list)  # Authorization headers of file downloads
    _clock: int = 0

    # -- knobs and views for tests ---------------------------------------------------------

    def rate_limit(self, fraction: float, retry_after: int = 0) -> None:
        self.limited_fraction, self.retry_after = fraction, retry_after

    @staticmethod
    def channel_id(name: str) -> str:
        if not name.startswith("#"):
            return name
        return "C" + hashlib.sha1(name.encode()).hexdigest()[:8].upper()

    def parents(self, channel: str) -> list[Posted]:
        cid = self.channel_id(channel)
        return [m for m in self.messages if m.channel == cid and not m.thread_ts]

    def thread(self, channel: str, ts: str) -> list[Posted]:
        cid = self.channel_id(channel)
        return [m for m in self.messages if m.channel == cid and m.thread_ts == ts]

    def find(self, channel: str, ts: str) -> Posted:
        cid = self.channel_id(channel)
        return next(m for m in self.messages if m.channel == cid and m.ts == ts)

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    def limited_calls(self) -> list[Call]:
        return [c for c in self.calls if c.status == 429]

    # -- the API ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self.handle)
        app.router.add_get("/files-pri/{file}/{name}", self.download)
        return app

    def add_file(self, name: str, mimetype: str, data: bytes) -> dict:
        """A file someone shared in Slack; the ``files`` entry of the message event that carries it."""
        file_id = f"F{len(self.files) + 1:08d}"
        self.files[file_id] = data
        base = self.base_url.removesuffix("/api/")
        return {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "size": len(data),
                "url_private": f"{base}/files-pri/{TEAM}-{file_id}/{name}",
                "url_private_download": f"{base}/files-pri/{TEAM}-{file_id}/{name}",
                "permalink": f"https://acme.slack.test/files/{file_id}"}

    async def download(self, request: web.Request) -> web.Response:
        """Like files.slack.com: only with a token of the workspace (a browser without one gets a login page)."""
        self.downloads.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(text="<html>sign in to Slack</html>", content_type="text/html")
        data = self.files.get(request.match_info["file"].removeprefix(f"{TEAM}-"))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(await request.post())
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            self.calls.append(Call(method, args, 200))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in RATE_LIMITED and self.limited_fraction and self.random.random() < self.limited_fraction:
            self.calls.append(Call(method, args, 429))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        self.calls.append(Call(method, args, 200))
        if method in self.fail_methods:
            return web.json_response({"ok": False, "error": self.fail_methods[method]})
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(args))

    def _ts(self) -> str:
        self._clock += 1
        return f"1700000000.{self._clock:06d}"

    def api_auth_test(self, args: dict) -> dict:
        return {"ok": True, "url": "https://fake.slack.test/", "team": "Acme", "user": "gateway",
                "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID}

    def api_chat_postMessage(self, args: dict) -> dict:
        channel = self.channel_id(str(args["channel"]))
        if channel in self.fail_channels:
            return {"ok": False, "error": self.fail_channels[channel]}
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        posted = Posted(channel, self._ts(), str(args.get("text", "")), args.get("thread_ts") or None, blocks)
        self.messages.append(posted)
        return {"ok": True, "channel": channel, "ts": posted.ts,
                "message": {"text": posted.text, "ts": posted.ts, "bot_id": BOT_ID}}

    def api_chat_update(self, args: dict) -> dict:
        channel = self.channel_id(str(args["channel"]))
        for message in self.messages:
            if message.channel == channel and message.ts == args["ts"]:
                message.text = str(args.get("text", ""))
                blocks = args.get("blocks")
                message.blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
                message.updates += 1
                return {"ok": True, "channel": channel, "ts": message.ts}
        return {"ok": False, "error": "message_not_found"}

    def api_chat_getPermalink(self, args: dict) -> dict:
        ts = str(args["message_ts"]).replace(".", "")
        return {"ok": True, "channel": args["channel"],
                "permalink": f"https://fake.slack.test/archives/{args['channel']}/p{ts}"}

    def api_chat_postEphemeral(self, args: dict) -> dict:
        return {"ok": True, "message_ts": self._ts()}

    def api_usergroups_users_list(self, args: dict) -> dict:
        group = str(args.get("usergroup", ""))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def ephemerals(self, user: str | None = None) -> list[Call]:
        """What was shown to one person only (chat.postEphemeral), optionally to ``user``."""
        return [c for c in self.ok_calls("chat.postEphemeral") if user is None or c.args.get("user") == user]

    def api_users_info(self, args: dict) -> dict:
        user = str(args["user"])
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        name = self.users[user]
        profile = {"display_name": name, "real_name": f"{name} Hopper"}
        if user in self.emails:
            profile["email"] = self.emails[user]
        return {"ok": True, "user": {"id": user, "name": name.lower(), "real_name": f"{name} Hopper",
                                     "profile": profile}}

    def api_reactions_add(self, args: dict) -> dict:
        reaction = (str(args["channel"]), str(args["timestamp"]), str(args["name"]))
        if reaction in self.reactions:
            return {"ok": False, "error": "already_reacted"}
        self.reactions.append(reaction)
        return {"ok": True}

    def reactions_on(self, channel: str, ts: str) -> list[str]:
        """The reactions added to one message, in order."""
        cid = self.channel_id(channel)
        return [name for c, t, name in self.reactions if c == cid and t == ts]

    def api_conversations_info(self, args: dict) -> dict:
        channel = str(args["channel"])
        return {"ok": True, "channel": {"id": channel, "name": channel.lower(), "is_im": channel.startswith("D")}}

    def api_conversations_open(self, args: dict) -> dict:
        return {"ok": True, "channel": {"id": "D" + str(args["users"]).split(",")[0]}}

    def api_views_open(self, args: dict) -> dict:
        view = args.get("view")
        return {"ok": True, "view": json.loads(view) if isinstance(view, str) else view}
