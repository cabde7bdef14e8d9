"""The fault suite needs Redis's own programs: skipped locally without them, a failure under CI=true."""

from __future__ import annotations

import shutil

import pytest

from tests.faults.servers import BINARIES
from tests.support import IN_CI


@pytest.fixture(autouse=True)
def redis_programs() -> None:
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (apt-get install -y redis-server redis-sentinel)"
        if IN_CI:
            pytest.fail(f"CI needs {message}")
        pytest.skip(message)
