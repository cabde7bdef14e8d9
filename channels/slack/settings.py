"""GATEWAY_SLACK__*: the Slack app's credentials and customer channels.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from channels.settingtypes import WebUrl


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_base_url: WebUrl | None = None  # e.g. http://127.0.0.1:9000/api/ in tests
    # Slack channels whose members are customers (Slack Connect); DMs to the app always are.
    customer_channels: list[str] = Field(default_factory=list)

    def missing(self) -> list[str]:
        """The required settings still empty (names within the group); the channel is off until none are."""
        return [name for name in ("BOT_TOKEN", "SIGNING_SECRET")
                if not (secret := getattr(self, name.lower())) or not secret.get_secret_value().strip()]

    @property
    def configured(self) -> bool:
        return not self.missing()
