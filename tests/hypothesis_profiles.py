"""Hypothesis profiles for every property-based suite: thorough in CI, quick on a laptop.

``tests/conftest.py`` loads one at start-up: ``ci`` when ``CI=true`` (as
``.ci/run`` sets it), otherwise ``dev``; ``HYPOTHESIS_PROFILE=<name>`` picks
one explicitly (``HYPOTHESIS_PROFILE=ci python -m pytest tests/...`` runs the
CI counts locally). A suite written with ``@given`` and no ``@settings`` of its
own gets the loaded profile: its example count, no deadline, and function-scoped
fixtures allowed (an endpoint suite shares one app across its examples).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.support import IN_CI

CI_EXAMPLES = 1000
DEV_EXAMPLES = 100

# Endpoint suites share one app (a function-scoped fixture) across examples and snapshot Redis
# around each request; examples are I/O bound, so a wall-clock deadline only produces flakes.
_SHARED = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                        HealthCheck.data_too_large]}

settings.register_profile("ci", max_examples=CI_EXAMPLES, print_blob=True, **_SHARED)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=DEV_EXAMPLES, **_SHARED)  # type: ignore[arg-type]


def load() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev")
    settings.load_profile(name)
    return name
