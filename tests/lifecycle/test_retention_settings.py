"""``GATEWAY_RETENTION__RESOLVED_DAYS``: unset keeps everything; a bad value is refused in one line naming it."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings


def test_unset_keeps_resolved_conversations_forever():
    assert load_settings(_env_file=None).retention.resolved_days is None


def test_the_days_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_RETENTION__RESOLVED_DAYS", "90")
    assert load_settings(_env_file=None).retention.resolved_days == 90


@pytest.mark.parametrize("value", ["0", "-3", "a month"])
def test_a_bad_number_of_days_is_refused(monkeypatch, value):
    monkeypatch.setenv("GATEWAY_RETENTION__RESOLVED_DAYS", value)
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    assert "GATEWAY_RETENTION__RESOLVED_DAYS" in str(error.value) and "\n" not in str(error.value)
