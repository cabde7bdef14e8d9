"""GATEWAY_TWILIO__*: the Twilio account, numbers and API endpoint.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    # Where the official client sends API calls; tests and regional endpoints change it.
    api_base_url: str | None = None
    default_region: str = "US"  # for numbers written without a country code
