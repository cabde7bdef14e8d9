"""GATEWAY_SLACK__*: the Slack app's credentials and customer channels.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

AGENT_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")

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

    def missing(self) -> list[str]:
        """The required settings still empty (names within the group); the channel is off until none are."""
        return [name for name in ("BOT_TOKEN", "SIGNING_SECRET")
                if not (secret := getattr(self, name.lower())) or not secret.get_secret_value().strip()]

    @property
    def configured(self) -> bool:
        return not self.missing()
