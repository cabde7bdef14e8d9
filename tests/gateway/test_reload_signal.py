"""``kill -HUP`` reads the rule file and the template file again at once, as an operator expects after an edit."""

from __future__ import annotations

import json
import signal
import urllib.request

from tests.gateway.proc import GatewayProcess, gateway_env, wait_for_status
from tests.router.helpers import MINIMAL
from tests.support import free_port, wait_until_sync

TEMPLATES = """\
templates:
  greeting:
    default: "Hello {customer.first_name|there}."
"""

TEMPLATES_EDITED = TEMPLATES + """\
  goodbye:
    default: "Thanks for writing, {customer.first_name|there}."
"""


def _version(base: str, what: str) -> str:
    request = urllib.request.Request(f"{base}/api/{what}", headers={"Authorization": "Bearer admin"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.load(response)["version"])


def test_sighup_reloads_the_rules_and_the_templates_without_waiting_for_the_poll(tmp_path, redis_url):
    rules, templates = tmp_path / "routing.yaml", tmp_path / "templates.yaml"
    rules.write_text(MINIMAL)
    templates.write_text(TEMPLATES)
    port = free_port()
    # An hour between polls: within this test only the signal can make an edit take effect.
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port),
                      GATEWAY_ADMIN_TOKEN="admin", GATEWAY_RULES_PATH=str(rules),
                      GATEWAY_TEMPLATES_PATH=str(templates), GATEWAY_RULES_RELOAD_SECONDS="3600")
    process = GatewayProcess("serve", env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_status(f"{base}/readyz")
        before = _version(base, "rules"), _version(base, "templates")

        rules.write_text(MINIMAL + "\n# edited: a comment changes the file's version\n")
        templates.write_text(TEMPLATES_EDITED)
        assert (_version(base, "rules"), _version(base, "templates")) == before  # no poll in the next hour

        process.send(signal.SIGHUP)
        wait_until_sync(lambda: _version(base, "rules") != before[0] and _version(base, "templates") != before[1],
                        timeout=20, what="both files reloaded after SIGHUP")
        assert process.process.poll() is None  # the signal reloads; it does not stop the process
    finally:
        assert process.stop() == 0, process.output
