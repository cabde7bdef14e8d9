"""The limits table of docs/SECURITY.md, row by row: each default is the one the page promises.

The behaviour behind each row has its own test (named in the comments); this
file checks that the numbers an operator reads are the numbers the code uses,
and covers the one row no other test meets: a gzip body counts decompressed.
"""

from __future__ import annotations

import gzip
import logging
from datetime import timedelta

from channels.email import body, inbound, parsing, smtp, webhooks
from channels.slack import agents, payloads
from channels.sms import web as sms_web
from gateway import bodies, health
from gateway.appkeys import SERVICES
from gateway.settings import Settings
from tests.conftest import admin_headers
from tests.snapshots import changes, snapshot

KIB, MIB = 1024, 1024 * 1024


def test_every_default_in_the_limits_table_is_the_one_the_code_uses():
    settings = Settings(_env_file=None)
    email, webchat = settings.email, settings.webchat
    assert settings.max_body_bytes == 1 * MIB  # tests/gateway/test_api.py (413)
    assert email.max_message_bytes == 25 * MIB  # tests/email/test_webhooks.py
    assert (email.parse_workers, email.parse_seconds) == (2, 30)  # tests/email/test_hostile_mail.py
    assert (body.MAX_HTML_CHARS, body.MAX_TEXT_CHARS, inbound.MAX_ATTACHMENTS) == (512 * KIB, 100_000, 100)
    assert parsing.MAX_CONTAINERS == 256
    assert smtp.MAX_RECIPIENTS == 100
    assert (webhooks.SMALL_FIELD_BYTES, webhooks.FORM_OVERHEAD, webhooks.MAX_FIELDS) == (16 * KIB, 64 * KIB, 64)
    assert sms_web.MAX_FORM_BYTES == 64 * KIB  # tests/sms/test_inbound.py
    assert (webchat.max_frame_bytes, webchat.max_message_chars) == (16 * KIB, 4000)
    assert (webchat.frames_per_second, webchat.frame_burst) == (5, 10)
    assert webchat.hello_timeout_seconds == 10
    assert webchat.send_queue_frames == 64
    assert webchat.new_conversations_per_address_per_hour == 20
    assert webchat.sockets_per_address == 100  # tests/webchat/test_limits.py
    assert settings.trusted_proxies == ()
    assert webchat.token_ttl == timedelta(days=30)
    assert webchat.anonymous_retention == timedelta(days=90)
    assert settings.slack.agent_ids == []
    assert agents.GROUP_TTL == 5 * 60
    assert email.trust_authentication_results is None
    assert (webhooks.MAILGUN_MAX_AGE, webhooks.MAILGUN_TOKEN_TTL) == (15 * 60, 30 * 60)
    assert payloads.MAX_AGE == 5 * 60
    assert bodies.MAX_DEPTH == 16
    assert (health.READY_TIMEOUT, health.METRICS_TIMEOUT) == (2.0, 1.0)


async def test_a_gzip_body_counts_decompressed(gateway, caplog):
    """A few kB of gzip that inflate past GATEWAY_MAX_BODY_BYTES are refused like the inflated body."""
    bomb = gzip.compress(b'{"text": "' + b"a" * (4 * MIB) + b'"}')
    assert len(bomb) < 10 * KIB
    redis = gateway.app[SERVICES].redis
    before = await snapshot(redis)
    with caplog.at_level(logging.ERROR):
        response = await gateway.post("/api/customers/cus_x/identities", data=bomb, headers={
            **admin_headers(), "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status == 413
    assert changes(before, await snapshot(redis)) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    small = gzip.compress(b'{"channel": "sms", "address": "+15551230001"}')
    response = await gateway.post("/api/customers/cus_x/identities", data=small, headers={
        **admin_headers(), "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status == 404  # read and understood: there is no such customer
