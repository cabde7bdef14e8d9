"""``gateway worker`` for the crash tests: the real CLI, plus the fake provider's sender.

Run as ``python -m tests.workers.worker_main worker`` with ``FAKE_PROVIDER_URL``
(and the usual ``GATEWAY_*`` settings) in the environment.
"""

from __future__ import annotations

import os
import sys

from gateway import channels
from gateway.cli import main
from tests.workers.fake_sender import FakeProviderSender

if __name__ == "__main__":
    channels.SENDER_FACTORIES.append(lambda settings, redis, secret: FakeProviderSender(os.environ["FAKE_PROVIDER_URL"]))
    main(sys.argv[1:])
