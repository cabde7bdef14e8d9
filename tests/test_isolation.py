"""Tests do not depend on the shell that runs them: no GATEWAY_* variable, no ./routing.yaml.

``tests/conftest.py`` clears every GATEWAY_* variable before each test, and
``make_settings`` always names its rule file (the built-in rules, written to a
file of the session's own). The example-rules test under a driven clock is in
tests/sms/test_example_rules.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import fakeredis

from gateway.appkeys import SERVICES
from gateway.runtime import load_live_rules
from gateway.settings import load_settings
from router.default import DEFAULT_RULES_YAML
from tests.conftest import Backend, admin_headers, make_settings, start_client
from tests.support import ROOT
from tests.workers.support import sms

EXAMPLE_RULES = ROOT / "examples" / "routing.yaml"
# What a developer's shell might hold: the example rules, another admin token, a Redis of their own.
SHELL = {"GATEWAY_RULES_PATH": str(EXAMPLE_RULES), "GATEWAY_ADMIN_TOKEN": "token-of-the-shell",
         "GATEWAY_REDIS_URL": "redis://127.0.0.1:1/0", "GATEWAY_SECRET_KEY": "key-of-the-shell"}


async def test_make_settings_ignores_a_rules_path_in_the_environment(monkeypatch, aiohttp_client,
                                                                      builtin_rules_file):
    monkeypatch.setenv("GATEWAY_RULES_PATH", str(EXAMPLE_RULES))
    assert load_settings(_env_file=None).rules_path == EXAMPLE_RULES  # the variable is in force ...

    settings = make_settings()  # ... and the tests' settings do not read it
    assert settings.rules_path == builtin_rules_file
    assert builtin_rules_file.read_text() == DEFAULT_RULES_YAML
    assert len(load_live_rules(settings).current.rules) == 0  # none of the example's rules

    # A gateway built from them routes by the built-in rules: a crash report stays in service
    # (the example file would send it to support as a bug).
    backend = Backend(settings, fakeredis.FakeServer())
    client = await start_client(aiohttp_client, backend)
    status = await (await client.get("/api/rules", headers=admin_headers())).json()
    assert status["path"] == str(builtin_rules_file) and status["rules"] == 0
    result = await client.app[SERVICES].service.ingest(sms("the app crashes on start", "p1", datetime.now(UTC)))
    conversation = await client.app[SERVICES].store.conversation(result.conversation_id)
    assert conversation.queue == "service" and "bug" not in conversation.tags


def test_no_gateway_variable_of_the_shell_reaches_a_test(builtin_rules_file):
    """Trivially true when the shell has none; ``test_the_suite_ignores_the_shells_variables`` runs it with some."""
    assert [name for name in os.environ if name.startswith("GATEWAY_")] == []
    settings = make_settings()
    assert settings.rules_path == builtin_rules_file and settings.redis_url is None
    assert settings.admin_token is not None and settings.admin_token.get_secret_value() != SHELL["GATEWAY_ADMIN_TOKEN"]
    # Nor a process the test starts.
    child = subprocess.run([sys.executable, "-c", "import os; print(sorted(n for n in os.environ if "
                            "n.startswith('GATEWAY_')))"], capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "[]"


def test_the_suite_ignores_the_shells_variables(tmp_path):
    """pytest started from a shell with GATEWAY_* variables set and a ./routing.yaml in its directory."""
    (tmp_path / "routing.yaml").write_text(EXAMPLE_RULES.read_text())
    selected = [f"{ROOT}/tests/test_isolation.py::{name}" for name in (
        "test_no_gateway_variable_of_the_shell_reaches_a_test",
        "test_make_settings_ignores_a_rules_path_in_the_environment")]
    selected.append(f"{ROOT}/tests/gateway/test_api.py::test_agent_actions_change_the_conversation")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={ROOT}", "-c",
         str(ROOT / "pyproject.toml"), *selected],
        cwd=tmp_path, env={**os.environ, **SHELL, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
