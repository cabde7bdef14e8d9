"""SMS fixtures: a Twilio Messages API fake and a gateway configured to use it."""

from __future__ import annotations

from pathlib import Path

import fakeredis
import pytest
from twilio.request_validator import RequestValidator

from tests.conftest import Backend, make_settings, start_client
from tests.sms.fake_twilio import FakeTwilio
from workers import context

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-twilio-auth-token"
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "https://gateway.example.com"


def sign(path: str, params: dict[str, str], *, token: str = AUTH_TOKEN, base: str = PUBLIC_URL) -> str:
    return RequestValidator(token).compute_signature(base + path, params)


def inbound_form(sid: str = "SM" + "1" * 32, sender: str = "+14155550100", body: str = "Hello", **extra: str) -> dict:
    form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": OUR_NUMBER,
            "Body": body, "NumMedia": "0", "NumSegments": "1", "FromCity": "SAN FRANCISCO", "ApiVersion": "2010-04-01"}
    form.update(extra)
    return form


async def post_signed(client, path: str, form: dict[str, str], **sign_options):
    return await client.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form, **sign_options)})


@pytest.fixture
async def fake_twilio(aiohttp_server):
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("/"))
    return fake


def sms_settings(fake: FakeTwilio, *, rules_path: Path | None = None, **twilio):
    """Settings for the fake Twilio; the session's built-in rules unless ``rules_path`` names others."""
    values = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": OUR_NUMBER,
              "api_base_url": fake.url, **twilio}
    rules = {"rules_path": rules_path} if rules_path is not None else {}
    return make_settings(public_url=PUBLIC_URL, twilio=values, **rules)


@pytest.fixture
def sms_backend(fake_twilio):
    backend = Backend(sms_settings(fake_twilio), fakeredis.FakeServer())
    backend.configure_jobs()
    yield backend
    context.install(None)


@pytest.fixture
async def sms_gateway(aiohttp_client, sms_backend):
    client = await start_client(aiohttp_client, sms_backend)
    client.backend = sms_backend
    return client
