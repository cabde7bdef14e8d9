"""A gateway on a real redis-server with e-mail (real SMTP both ways), SMS (the Twilio fake) and a CSAT survey."""

from __future__ import annotations

import pytest

from channels.email.smtp import PORT_KEY
from tests.conftest import Backend, start_client
from tests.csat_support import RULES
from tests.email.conftest import email_settings, sink  # noqa: F401
from tests.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, fake_twilio  # noqa: F401
from tests.support import write_rules
from workers import context


async def life_client(aiohttp_client, sink, fake_twilio, redis_url, **overrides):  # noqa: F811
    twilio = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": OUR_NUMBER,
              "api_base_url": fake_twilio.url}
    settings = email_settings(sink.port, redis_url=redis_url, public_url=PUBLIC_URL, twilio=twilio,
                              rules_path=write_rules(RULES), retention={"resolved_days": 30}, **overrides)
    backend = Backend(settings)
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    client.smtp_port = client.app[PORT_KEY]
    return client


@pytest.fixture
async def life_gateway(aiohttp_client, sink, fake_twilio, redis_url):  # noqa: F811
    yield await life_client(aiohttp_client, sink, fake_twilio, redis_url)
    context.install(None)
