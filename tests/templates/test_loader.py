"""The template file: every error with file:line:column at the placeholder itself; rendering; hot reload."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conversations.errors import InvalidRequest, NotFound
from conversations.models import Channel
from templates import LiveTemplates, TemplatesError, load_templates_text
from tests.support import ROOT

GOOD = """\
templates:
  delayed:
    variables: [order]
    sms: "Hi {customer.first_name|there}: order {order} is late."
    email: |
      Hello {customer.name},
      order {order} is late. {{not a placeholder}}
      {agent.name}
    default: Order {order} is late.
  plain: Thanks, {agent.name}!
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(TemplatesError) as caught:
        load_templates_text(text, "t.yaml")
    return [str(e) for e in caught.value.errors]


def test_unknown_placeholders_are_errors_at_their_own_line_and_column():
    text = """\
templates:
  delayed:
    variables: [order]
    sms: "Hi {customer.frist_name}, order {order}"
    email: |
      Hello {customer.name},
      your order {ordr} is late.
    default: 'see {conversation.idd}'
    slack: plain {agent.nam} text
"""
    assert errors_of(text) == [
        "t.yaml:4:14: unknown placeholder {customer.frist_name} in template 'delayed': the built-in ones are "
        "{customer.first_name}, {customer.name}, {conversation.id}, {agent.name}",
        "t.yaml:7:18: unknown placeholder {ordr} in template 'delayed': declare it in the template's "
        "`variables:` if the caller passes it",
        "t.yaml:8:19: unknown placeholder {conversation.idd} in template 'delayed': the built-in ones are "
        "{customer.first_name}, {customer.name}, {conversation.id}, {agent.name}",
        "t.yaml:9:18: unknown placeholder {agent.nam} in template 'delayed': the built-in ones are "
        "{customer.first_name}, {customer.name}, {conversation.id}, {agent.name}",
    ]


def test_broken_braces_unknown_keys_and_bad_names_are_all_reported():
    text = """\
templates:
  a:
    default: "one { lone brace"
    sms: "{not a name}"
  b:
    variables: [Order, ok, ok]
    defualt: x
  c: {}
top: 1
"""
    found = errors_of(text)
    assert "t.yaml:3:19: a lone '{': write '{{' for a literal brace" in found
    assert any(e.startswith("t.yaml:4:11: {not a name} is not a placeholder") for e in found)
    assert any(e.startswith("t.yaml:6:17: variable 'Order'") for e in found)
    assert "t.yaml:6:28: variable 'ok' is declared twice" in found
    assert any(e.startswith("t.yaml:7:5: unknown key 'defualt'") for e in found)
    assert any(e.startswith("t.yaml:8:6: template 'c' has no text") for e in found)
    assert any(e.startswith("t.yaml:9:1: unknown key 'top'") for e in found)


def test_yaml_syntax_errors_carry_the_position():
    [error] = errors_of("templates:\n  a: [unclosed\n")
    assert error.startswith("t.yaml:3:1: YAML syntax")


def test_each_channel_gets_its_own_text_and_others_the_default():
    templates = load_templates_text(GOOD, "t.yaml")
    values = {"customer.first_name": "Ada", "customer.name": "Ada Lovelace", "agent.name": "Grace"}
    sms = templates.render("delayed", Channel.SMS, values, {"order": "A-1"})
    assert (sms.text, sms.variant) == ("Hi Ada: order A-1 is late.", "sms")
    email = templates.render("delayed", Channel.EMAIL, values, {"order": "A-1"})
    assert email.text == "Hello Ada Lovelace,\norder A-1 is late. {not a placeholder}\nGrace\n"
    assert templates.render("delayed", Channel.WEBCHAT, values, {"order": "A-1"}).text == "Order A-1 is late."
    assert templates.render("plain", Channel.SMS, values).text == "Thanks, Grace!"


def test_fallbacks_fill_missing_values_and_values_are_never_read_as_placeholders():
    templates = load_templates_text(GOOD, "t.yaml")
    text = templates.render("delayed", Channel.SMS, {"customer.first_name": ""}, {"order": "{agent.name}"}).text
    assert text == "Hi there: order {agent.name} is late."


def test_what_cannot_be_filled_is_refused_never_sent_with_braces():
    templates = load_templates_text(GOOD, "t.yaml")
    with pytest.raises(InvalidRequest, match=r"needs \{order\}.*pass it in variables"):
        templates.render("delayed", Channel.SMS, {})
    with pytest.raises(InvalidRequest, match=r"needs \{customer.name\}"):
        templates.render("delayed", Channel.EMAIL, {"agent.name": "Grace"}, {"order": "1"})
    with pytest.raises(InvalidRequest, match="has no variable 'oder'"):
        templates.render("delayed", Channel.SMS, {}, {"oder": "1"})
    with pytest.raises(NotFound, match="no template 'nope'"):
        templates.render("nope", Channel.SMS, {})


def test_a_broken_edit_keeps_the_last_good_set_and_says_where(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text(GOOD)
    live = LiveTemplates(path, required=True)
    assert sorted(live.current.templates) == ["delayed", "plain"]
    path.write_text(GOOD.replace("{agent.name}!", "{agent.nme}!"))
    assert live.reload_if_changed() is False
    status = live.status()
    assert [t["name"] for t in status["templates"]] == ["delayed", "plain"]
    assert status["errors"] == [{"line": 10, "column": 18, "message": status["errors"][0]["message"]}]
    assert "unknown placeholder {agent.nme}" in status["error"]
    path.write_text(GOOD.replace("Thanks", "Thank you"))
    assert live.reload_if_changed() is True
    assert live.status()["error"] is None
    assert live.current.render("plain", None, {"agent.name": "G"}).text == "Thank you, G!"


def test_no_file_is_an_empty_set_until_one_appears(tmp_path):
    live = LiveTemplates(tmp_path / "templates.yaml")
    assert live.current.templates == {}
    (tmp_path / "templates.yaml").write_text(GOOD)
    assert live.reload_if_changed() is True
    assert "plain" in live.current.templates


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "templates", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_check_passes_the_shipped_example_and_fails_a_broken_file_with_positions(tmp_path):
    ok = cli("check", "examples/templates.yaml")
    assert ok.returncode == 0, ok.stderr
    assert "OK, 4 template(s)" in ok.stdout
    broken = tmp_path / "templates.yaml"
    broken.write_text("templates:\n  x:\n    default: 'Hi {customer.nam}'\n")
    result = cli("check", str(broken))
    assert result.returncode == 1
    assert f"{broken}:3:18: unknown placeholder {{customer.nam}}" in result.stderr


def test_show_renders_a_template_for_a_channel():
    result = cli("show", "order-delayed", "--file", "examples/templates.yaml", "--channel", "sms",
                 "--var", "order=A-1", "--var", "eta=Friday")
    assert result.returncode == 0, result.stderr
    assert "Hi Ada, order A-1 is delayed; new delivery date Friday." in result.stdout
    missing = cli("show", "order-delayed", "--file", "examples/templates.yaml")
    assert missing.returncode == 1 and "needs {order}" in missing.stderr


def test_check_finds_the_file_beside_the_rule_file_unless_one_is_named(tmp_path):
    (tmp_path / "routing.yaml").write_text("default: {queue: service}\n")
    (tmp_path / "templates.yaml").write_text("templates:\n  hi: 'Hi {customer.first_name|there}'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    beside = subprocess.run([sys.executable, "-m", "gateway.cli", "templates", "check"], cwd=ROOT, text=True,
                            capture_output=True, timeout=60,
                            env={**env, "GATEWAY_RULES_PATH": str(tmp_path / "routing.yaml")})
    assert beside.returncode == 0 and "1 template(s): hi" in beside.stdout
    named = subprocess.run([sys.executable, "-m", "gateway.cli", "templates", "check"], cwd=ROOT, text=True,
                           capture_output=True, timeout=60,
                           env={**env, "GATEWAY_TEMPLATES_PATH": str(tmp_path / "missing.yaml")})
    assert named.returncode == 1 and "missing.yaml: cannot read the template file" in named.stderr
