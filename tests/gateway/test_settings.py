"""Settings come from GATEWAY_* variables; a bad one fails with one line naming it."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings


def test_nested_settings_come_from_double_underscore_variables(monkeypatch):
    monkeypatch.setenv("GATEWAY_PORT", "9000")
    monkeypatch.setenv("GATEWAY_TWILIO__ACCOUNT_SID", "AC123")
    monkeypatch.setenv("GATEWAY_EMAIL__DOMAINS", '["support.example.com"]')
    settings = load_settings(_env_file=None)
    assert settings.port == 9000 and settings.twilio.account_sid == "AC123"
    assert settings.email.domains == ["support.example.com"]
    assert settings.redis_url is None  # the embedded default


@pytest.mark.parametrize(
    ("name", "value"),
    [("GATEWAY_PORT", "eighty"), ("GATEWAY_WEBCHAT__FRAMES_PER_SECOND", "-1"), ("GATEWAY_REOPEN_WINDOW", "soon")],
)
def test_a_bad_value_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    message = str(error.value)
    assert name in message and "\n" not in message
