"""The redaction rules, record by record (the real processes are in test_log_redaction.py)."""

from __future__ import annotations

import base64
import io
import logging

from gateway import redaction
from tests.conftest import make_settings

SETTINGS = make_settings(
    admin_token="admin-secret-value", redis_url="redis://:redis-pass-word@127.0.0.1:6379/0",
    twilio={"account_sid": "AC" + "1" * 32, "auth_token": "twilio-token-value"},
    email={"sendgrid_secret": "sg/secret value", "username": "mailer", "password": "smtp-pass-word"},
)


def logged(secrets: list[str], emit) -> str:
    stream = io.StringIO()
    logger = logging.Logger("redaction-test", logging.INFO)  # not registered: nothing else sees it
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    redaction.install(secrets, root=logger)
    emit(logger)
    return stream.getvalue()


def test_every_secret_of_the_settings_and_its_encodings_are_known():
    values = redaction.secret_values(SETTINGS)
    for expected in ("admin-secret-value", "test-secret-key", "test-identity-secret", "twilio-token-value",
                     "sg/secret value", "sg%2Fsecret%20value", "sg%2Fsecret+value", "redis-pass-word",
                     "smtp-pass-word"):
        assert expected in values
    assert base64.b64encode(b"AC" + b"1" * 32 + b":twilio-token-value").decode() in values  # HTTP basic auth
    assert values == sorted(values, key=len, reverse=True)


def test_secrets_in_arguments_tracebacks_and_stack_are_redacted():
    secrets = redaction.secret_values(SETTINGS)

    def emit(logger: logging.Logger) -> None:
        logger.warning("token %s and %r", "admin-secret-value", {"pw": "smtp-pass-word"})
        try:
            raise ValueError("connect redis://:redis-pass-word@h failed with twilio-token-value")
        except ValueError:
            logger.exception("failed for %s", "sg%2Fsecret%20value")
        logger.debug("never shown")
        logger.error("a broken %d template", "admin-secret-value")

    text = logged(secrets, emit)
    for secret in ("admin-secret-value", "smtp-pass-word", "redis-pass-word", "twilio-token-value", "sg%2F"):
        assert secret not in text
    assert "token [redacted] and {'pw': '[redacted]'}" in text
    assert "ValueError: connect redis://:[redacted]@h failed with [redacted]" in text
    assert "never shown" not in text


def test_credential_shapes_are_redacted_even_when_not_ours():
    text = redaction.redact("visitor v1.AbCdEfGhIjKlMnOp.QrStUvWxYz0123456789abcdefghijk, xoxb-12-34-abc, "
                            "xapp-1-A-2, Authorization: Bearer abc.DEF-123, basic routing stays, "
                            "'response_url': 'https://hooks.slack.com/commands/T1/2/abcDEF'")
    assert text == ("visitor v1.AbCdEfGhIjKlMnOp.[redacted], xoxb-[redacted], xapp-[redacted], "
                    "Authorization: Bearer [redacted], basic routing stays, "
                    "'response_url': 'https://hooks.slack.com/commands/[redacted]'")


def test_access_log_targets_lose_secret_path_segments_and_query_values():
    assert redaction.redact_target("/email/sendgrid/sg-123?x=1", {"secret": "sg-123"}) == \
        "/email/sendgrid/[redacted]?x=1"
    assert redaction.redact_target("/?token=abc&TOKEN=d&page=2", {}) == "/?token=[redacted]&TOKEN=[redacted]&page=2"
    assert redaction.redact_target("/api/conversations/cnv_1", {"id": "cnv_1"}) == "/api/conversations/cnv_1"
    assert redaction.redact_url("http://u:p4ss@h/x?access_token=1&q=a") == \
        "http://u:[redacted]@h/x?access_token=[redacted]&q=a"
