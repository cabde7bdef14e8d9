"""``gateway worker`` / ``gateway sweeper`` for the crash tests: the real CLI, plus the fake provider's sender.

Run as ``python -m tests.workers.worker_main worker --no-sweeper`` with
``FAKE_PROVIDER_URL`` and ``TEST_RULES_PATH`` in the environment.
"""

from __future__ import annotations

import os
import sys

from channels import registry
from gateway.cli import main
from gateway.settings import load_settings
from router import LiveRules
from tests.workers.fake_sender import FakeProviderSender
from workers import context

if __name__ == "__main__":
    registry.SENDER_FACTORIES.append(lambda settings, redis: FakeProviderSender(os.environ["FAKE_PROVIDER_URL"]))
    context.configure(load_settings(), rules=LiveRules(os.environ["TEST_RULES_PATH"]))
    main(sys.argv[1:])
