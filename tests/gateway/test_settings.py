"""Settings come from GATEWAY_* variables; a bad one fails with one line naming it."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings


def test_nested_settings_come_from_double_underscore_variables(monkeypatch):
    monkeypatch.setenv("GATEWAY_PORT", "9000")
    monkeypatch.setenv("GATEWAY_TWILIO__ACCOUNT_SID", "AC" + "0123456789abcdef" * 2)
    monkeypatch.setenv("GATEWAY_EMAIL__DOMAINS", '["support.example.com"]')
    settings = load_settings(_env_file=None)
    assert settings.port == 9000 and settings.twilio.account_sid == "AC" + "0123456789abcdef" * 2
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


def leaf_settings():
    """(variable, annotation) of every setting, groups included."""
    from pydantic import BaseModel

    from gateway.settings import Settings

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from walk(annotation, f"{prefix}{name.upper()}__")
            else:
                yield f"{prefix}{name.upper()}", field

    return list(walk(Settings, "GATEWAY_"))


BAD_BY_NAME = {"GATEWAY_TWILIO__DEFAULT_REGION": "ZZ", "GATEWAY_TWILIO__ACCOUNT_SID": "SK123",
               "GATEWAY_TWILIO__MESSAGING_SERVICE_SID": "AC" + "0" * 32, "GATEWAY_TWILIO__HELP_TEXT": "x" * 1601,
               "GATEWAY_HOST": " "}


def bad_value(variable: str, field) -> str | None:
    """A value the field's type refuses, or None for free text (any string is a valid one)."""
    if variable in BAD_BY_NAME:
        return BAD_BY_NAME[variable]
    text = str(field.annotation)
    if "list" in text:
        return '["unclosed"'
    for kind, value in (("bool", "maybe"), ("timedelta", "soon"), ("int", "many"), ("float", "lots"),
                        ("Literal", "bogus"), ("Path", "\0")):
        if kind in text:
            return value
    if "_redis_url" in text:
        return "no-scheme"
    if "_web_url" in text:
        return "support.example.com"
    if "_sender" in text:
        return "5005550006"
    if "_mailbox" in text:
        return "support"
    if field.metadata:  # a validated string
        return "ZZ"
    return None


def test_every_setting_with_a_type_refuses_a_bad_value_in_one_line_naming_it(monkeypatch):
    checked = []
    for variable, field in leaf_settings():
        value = bad_value(variable, field)
        if value is None or value == "\0":
            continue
        monkeypatch.setenv(variable, value)
        with pytest.raises(SettingsError) as error:
            load_settings(_env_file=None)
        monkeypatch.delenv(variable)
        message = str(error.value)
        assert variable in message and "\n" not in message, message
        checked.append(variable)
    assert {"GATEWAY_EMAIL__DOMAINS", "GATEWAY_REDIS_URL", "GATEWAY_PUBLIC_URL", "GATEWAY_TWILIO__FROM_NUMBER",
            "GATEWAY_TWILIO__DEFAULT_REGION", "GATEWAY_EMAIL__FROM_ADDRESS", "GATEWAY_LOG_LEVEL",
            "GATEWAY_TWILIO__ACCOUNT_SID"} <= set(checked)
    assert len(checked) >= 34


def test_lists_are_comma_separated_or_json_for_every_list_setting(monkeypatch):
    # Slack agent ids are checked for their shape (tests/slack); the splitting is the same.
    lists = [variable for variable, field in leaf_settings()
             if "list" in str(field.annotation) and variable != "GATEWAY_SLACK__AGENT_IDS"]
    assert {"GATEWAY_EMAIL__DOMAINS", "GATEWAY_SLACK__CUSTOMER_CHANNELS"} <= set(lists)
    for value, expected in [("acme.test", ["acme.test"]), ("acme.test, example.com", ["acme.test", "example.com"]),
                            ('["acme.test", "example.com"]', ["acme.test", "example.com"]), ("", [])]:
        for variable in lists:
            monkeypatch.setenv(variable, value)
        settings = load_settings(_env_file=None)
        for variable in lists:
            group, name = variable.removeprefix("GATEWAY_").lower().split("__") if "__" in variable else (
                None, variable.removeprefix("GATEWAY_").lower())
            assert getattr(getattr(settings, group) if group else settings, name) == expected, variable


def test_an_empty_value_means_not_set_except_for_free_text(monkeypatch):
    for name in ("GATEWAY_SLACK__SIGNING_SECRET", "GATEWAY_EMAIL__SMTP_LISTEN_PORT", "GATEWAY_PORT",
                 "GATEWAY_PUBLIC_URL", "GATEWAY_RULES_PATH", "GATEWAY_EMAIL__DOMAINS", "GATEWAY_TWILIO__HELP_TEXT"):
        monkeypatch.setenv(name, "")
    settings = load_settings(_env_file=None)
    assert settings.slack.signing_secret is None and settings.email.smtp_listen_port is None and settings.port == 8080
    assert settings.public_url is None and str(settings.rules_path) == "routing.yaml" and settings.email.domains == []
    assert settings.twilio.help_text == ""  # free text: empty is a value (answer HELP with nothing)


def test_one_bind_rule_for_the_web_process_and_the_smtp_listener(monkeypatch):
    assert load_settings(_env_file=None).email.smtp_listen_host == "127.0.0.1"
    monkeypatch.setenv("GATEWAY_HOST", "0.0.0.0")
    assert load_settings(_env_file=None).email.smtp_listen_host == "0.0.0.0"
    monkeypatch.setenv("GATEWAY_EMAIL__SMTP_LISTEN_HOST", "10.0.0.5")
    assert load_settings(_env_file=None).email.smtp_listen_host == "10.0.0.5"


def test_unknown_names_get_the_closest_known_one():
    from gateway.envvalues import unknown_names
    from gateway.settings import known_names

    warnings = unknown_names(["GATEWAY_REDIS_URLL", "GATEWAY_TWILIO__AUTHTOKEN", "GATEWAY_REDIS_URL", "PATH",
                              "GATEWAY_ZZZZZZZZZZZZZZ"], known_names())
    assert warnings == [
        "GATEWAY_REDIS_URLL is not a setting the gateway reads (ignored); did you mean GATEWAY_REDIS_URL?",
        "GATEWAY_TWILIO__AUTHTOKEN is not a setting the gateway reads (ignored); "
        "did you mean GATEWAY_TWILIO__AUTH_TOKEN?",
        "GATEWAY_ZZZZZZZZZZZZZZ is not a setting the gateway reads (ignored); see .env.example for the names",
    ]
