"""Settings come from GATEWAY_* variables; a bad one fails with one line naming it."""

from __future__ import annotations

import os

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


@pytest.mark.parametrize("command", ["serve", "worker", "sweeper"])
def test_production_processes_refuse_to_start_without_a_secret_key(monkeypatch, capsys, tmp_path, command):
    from gateway.cli import main

    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.chdir(tmp_path)  # no .env file to pick a key from
    with pytest.raises(SystemExit) as exit_:
        main([command])
    assert exit_.value.code == 2
    assert "GATEWAY_SECRET_KEY: required" in capsys.readouterr().err
