"""GATEWAY_TWILIO__*: the Twilio account, numbers and API endpoint.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

import re

import phonenumbers
from pydantic import BaseModel, Field, SecretStr, field_validator

from channels.settingtypes import PhoneNumber, WebUrl

# One SMS segment (160 GSM-7 characters), naming nobody: operators put their business's name in.
DEFAULT_HELP_TEXT = ("Customer support: reply with your question and our team will answer here. "
                     "Msg&data rates may apply. Reply STOP to opt out, START to opt back in.")


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: PhoneNumber | None = None
    messaging_service_sid: str | None = None
    # Where the official client sends API calls; tests and regional endpoints change it.
    api_base_url: WebUrl | None = None
    default_region: str = "US"  # for numbers written without a country code
    # The answer to HELP / INFO. Empty: the gateway answers nothing, for accounts whose
    # Advanced Opt-Out (or Twilio's default handling) already answers HELP itself.
    help_text: str = Field(default=DEFAULT_HELP_TEXT, max_length=1600)  # Twilio's limit for one message body

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str | None) -> str | None:
        return _sid(value, "AC", "Account SID")

    @field_validator("messaging_service_sid")
    @classmethod
    def _service_sid(cls, value: str | None) -> str | None:
        return _sid(value, "MG", "Messaging Service SID")

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a two-letter region code such as US, GB or DE")
        return region

    def missing(self) -> list[str]:
        """The required settings still empty (names within the group); the channel is off until none are."""
        missing = [name for name in ("ACCOUNT_SID", "AUTH_TOKEN") if not _filled(getattr(self, name.lower()))]
        if not (_filled(self.from_number) or _filled(self.messaging_service_sid)):
            missing.append("FROM_NUMBER or __MESSAGING_SERVICE_SID")
        return missing

    @property
    def configured(self) -> bool:
        return not self.missing()


def _sid(value: str | None, prefix: str, what: str) -> str | None:
    """Twilio's ids: two letters and 32 hex digits (the console shows them; the auth token is separate)."""
    if value is not None and value.strip() and not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value.strip()):
        raise ValueError(f"not a Twilio {what}: those are {prefix} followed by 32 hex digits")
    return value.strip() if value else value


def _filled(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value and value.strip())
