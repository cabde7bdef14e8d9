"""Fetching a provider's file (Twilio MMS media, Slack files) with the provider's credentials, bounded.

Credentials go only to the provider's own hosts (``allowed_hosts``): a webhook
that names another URL gets nothing fetched and nothing sent. The body is read
up to ``max_bytes`` + 1, so an endless or oversized file costs at most that much.
"""

from __future__ import annotations

import base64
from collections.abc import Collection
from urllib.parse import urlsplit

import aiohttp


class FetchFailed(Exception):
    """The file could not be fetched (the reason is shown to agents next to the file's name)."""


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or ''}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def fetch(url: str, *, allowed_hosts: Collection[str], max_bytes: int, timeout: float,
                headers: dict[str, str] | None = None) -> bytes:
    """The file's bytes.

    Raises:
        FetchFailed: not one of the provider's hosts, an error status, larger than ``max_bytes``, too slow.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or host_of(url) not in allowed_hosts:
        raise FetchFailed(f"not fetched: {parts.hostname or 'the URL'} is not the provider's file host")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            # aiohttp drops the Authorization header when a redirect leaves the origin (Twilio
            # redirects media to its CDN), so the credentials stay with the provider.
            async with session.get(url, headers=headers, max_redirects=3) as response:
                if response.status != 200:
                    raise FetchFailed(f"the provider answered {response.status} for the file")
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    raise FetchFailed(f"the file is {declared} bytes, more than the {max_bytes} accepted")
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise FetchFailed(f"the file is more than the {max_bytes} bytes accepted")
                return bytes(data)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise FetchFailed(f"the file could not be fetched: {type(error).__name__}") from None
