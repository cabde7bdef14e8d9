"""GATEWAY_TWILIO__*: the Twilio account, numbers and API endpoint.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

# One SMS segment (160 GSM-7 characters), naming nobody: operators put their business's name in.
DEFAULT_HELP_TEXT = ("Customer support: reply with your question and our team will answer here. "
                     "Msg&data rates may apply. Reply STOP to opt out, START to opt back in.")


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    # Where the official client sends API calls; tests and regional endpoints change it.
    api_base_url: str | None = None
    default_region: str = "US"  # for numbers written without a country code
    # The answer to HELP / INFO. Empty: the gateway answers nothing, for accounts whose
    # Advanced Opt-Out (or Twilio's default handling) already answers HELP itself.
    help_text: str = Field(default=DEFAULT_HELP_TEXT, max_length=1600)  # Twilio's limit for one message body

    def missing(self) -> list[str]:
        """The required settings still empty (names within the group); the channel is off until none are."""
        missing = [name for name in ("ACCOUNT_SID", "AUTH_TOKEN") if not _filled(getattr(self, name.lower()))]
        if not (_filled(self.from_number) or _filled(self.messaging_service_sid)):
            missing.append("FROM_NUMBER or __MESSAGING_SERVICE_SID")
        return missing

    @property
    def configured(self) -> bool:
        return not self.missing()


def _filled(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value and value.strip())
