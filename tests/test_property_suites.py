"""The property-based suites run at least 1,000 examples each in CI, over every parser and endpoint issue 10 lists.

CI runs ``.ci/run``, which exports ``CI=true``; ``tests/conftest.py`` then loads
the ``ci`` Hypothesis profile. A fresh interpreter with exactly that
environment imports the suites and reads the example count each one will run,
so a suite that pins a smaller count (or a profile that stops following
``CI``) fails here, not silently in CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.hypothesis_profiles import CI_EXAMPLES
from tests.support import ROOT

# What issue 10 asks a suite for → the suite that covers it (module, test).
REQUIRED = {
    "Twilio form": ("tests.sms.test_properties", "test_any_inbound_form_is_answered_and_stored_at_most_once"),
    "Twilio status callback": ("tests.sms.test_properties",
                               "test_any_status_callback_is_answered_and_never_half_written"),
    "Slack events": ("tests.slack.test_properties",
                     "test_any_signed_event_is_answered_below_500_and_a_refusal_stores_nothing"),
    "Slack actions": ("tests.slack.test_properties",
                      "test_any_signed_interaction_is_answered_below_500_and_a_refusal_stores_nothing"),
    "Slack commands": ("tests.slack.test_properties",
                       "test_any_signed_command_is_answered_below_500_and_a_refusal_stores_nothing"),
    "Mailgun": ("tests.email.test_properties",
                "test_any_mailgun_post_is_answered_below_500_and_a_refusal_stores_nothing"),
    "SendGrid": ("tests.email.test_properties",
                 "test_any_sendgrid_post_is_answered_below_500_and_a_refusal_stores_nothing"),
    "SMTP DATA": ("tests.email.test_properties", "test_any_mail_by_smtp_is_stored_or_refused_never_451"),
    "WebSocket frames (parser)": ("tests.webchat.test_frames_property",
                                  "test_the_parser_returns_a_frame_or_a_frame_error"),
    "admin API bodies": ("tests.gateway.test_api_properties",
                         "test_any_admin_request_is_answered_and_never_half_written"),
}

PROBE = """
import importlib, json, sys
import tests.conftest  # loads the profile, as pytest does
from hypothesis import settings
counts = {}
for module in sorted(set(sys.argv[1:])):
    for name, test in vars(importlib.import_module(module)).items():
        if name.startswith("test_") and getattr(test, "is_hypothesis_test", False):
            counts[module + "::" + name] = test._hypothesis_internal_use_settings.max_examples
print(json.dumps({"default": settings.default.max_examples, "counts": counts}))
"""


def counts_under(env_changes: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    env.update(env_changes)
    modules = sorted({module for module, _ in REQUIRED.values()})
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ci_runs_every_suite_with_at_least_1000_examples():
    found = counts_under({"CI": "true"})
    assert found["default"] >= CI_EXAMPLES == 1000
    for what, (module, test) in REQUIRED.items():
        assert found["counts"].get(f"{module}::{test}", 0) >= 1000, f"{what}: {found['counts']}"
    # Every other suite in those modules too (the pure paths, the admin reads).
    assert all(count >= 1000 for count in found["counts"].values()), found["counts"]
    # The socket suite drives its examples inside one test; it checks its own count against the profile.
    socket_suite = (ROOT / "tests/webchat/test_frames_property.py").read_text()
    assert "assert examples >= settings().max_examples" in socket_suite


def test_a_laptop_runs_the_quick_profile():
    assert counts_under({})["default"] == 100


def test_the_ci_script_sets_ci_before_running_the_tests():
    script = (ROOT / ".ci/run").read_text()
    assert re.search(r"^export CI=true$", script, re.MULTILINE)
    assert script.index("export CI=true") < script.index("python -m pytest")
