"""Fixtures of the worker tests."""

from __future__ import annotations

import pytest

from tests.workers.fake_provider import FakeProvider


@pytest.fixture
async def provider(aiohttp_server):
    """A local HTTP fake of a provider that records every delivery it got."""
    fake = FakeProvider()
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("/"))
    return fake
