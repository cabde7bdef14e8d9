"""GATEWAY_SLACK__*: the Slack app's credentials and customer channels.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

AGENT_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_AGENT_NAME = 80

from channels.settingtypes import WebUrl


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_base_url: WebUrl | None = None  # e.g. http://127.0.0.1:9000/api/ in tests
    # Slack channels whose members are customers (Slack Connect); DMs to the app always are.
    customer_channels: list[str] = Field(default_factory=list)
    # Who may act as an agent: Slack user ids (U…, W…) and user-group ids (S…). Comma-separated or a
    # JSON list. Unset: any workspace member who never wrote as a customer (channels/slack/agents.py).
    agent_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where a plain reply in a conversation's thread goes: "customer" (sent, as before) or "internal"
    # (kept as a note). `!note ` / `!reply ` pick the other one (channels/slack/threadreplies.py).
    thread_replies: Literal["customer", "internal"] = "customer"
    # Slack user → agent name, the author of what they do from Slack: keys are user ids (U…, W…) or
    # e-mail addresses (matched against users.info's profile e-mail). JSON object or
    # "U0123=Grace Hopper,ada@example.com=Ada Lovelace" (a name with a comma needs the JSON form).
    # Unmapped users keep their Slack display name.
    agent_names: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    @field_validator("agent_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("agent_ids")
    @classmethod
    def _check_ids(cls, ids: list[str]) -> list[str]:
        wrong = [i for i in ids if not AGENT_ID.match(i)]
        if wrong:
            raise ValueError(f"not Slack user (U…, W…) or user-group (S…) ids: {', '.join(wrong)}")
        return ids

    @field_validator("agent_names", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                return json.loads(text)
            pairs = [part.partition("=") for part in text.split(",") if part.strip()]
            wrong = [key.strip() for key, sep, _ in pairs if not sep]
            if wrong:
                raise ValueError(f"write each agent as SLACK_ID_OR_EMAIL=Name; no '=' in: {', '.join(wrong)}")
            return {key.strip(): name.strip() for key, _, name in pairs}
        return value

    @field_validator("agent_names")
    @classmethod
    def _check_names(cls, names: dict[str, str]) -> dict[str, str]:
        checked: dict[str, str] = {}
        for key, name in names.items():
            if not (USER_ID.match(key) or EMAIL.match(key)):
                raise ValueError(f"{key!r} is neither a Slack user id (U…, W…) nor an e-mail address")
            flat = " ".join(name.split())
            if not flat or len(flat) > MAX_AGENT_NAME:
                raise ValueError(f"the agent name for {key} must be 1 to {MAX_AGENT_NAME} characters")
            # E-mail addresses compare case-insensitively, as users.info may spell them either way.
            checked[key if USER_ID.match(key) else key.lower()] = flat
        return checked

    def missing(self) -> list[str]:
        """The required settings still empty (names within the group); the channel is off until none are."""
        return [name for name in ("BOT_TOKEN", "SIGNING_SECRET")
                if not (secret := getattr(self, name.lower())) or not secret.get_secret_value().strip()]

    @property
    def configured(self) -> bool:
        return not self.missing()
