"""``gateway index rebuild``: the backlog indexes and the customer search terms, from the stored data.

For data written before the indexes existed, or to check them: every conversation is indexed
again (versioned, so safe while the gateway runs) and entries no conversation backs are dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from conversations.index import BacklogIndex
from conversations.search import CustomerSearch
from gateway.redis_clients import RedisClients, close_data, prepare
from gateway.settings import SettingsError, load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    index = subparsers.add_parser("index", help="the backlog indexes and customer search")
    commands = index.add_subparsers(dest="index_command", metavar="{rebuild}")
    commands.required = True
    rebuild = commands.add_parser("rebuild", help="index every stored conversation and customer again")
    rebuild.set_defaults(func=cmd_rebuild)


def cmd_rebuild(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway index rebuild`")
    started = time.monotonic()
    figures = asyncio.run(_rebuild(RedisClients(settings)))
    figures["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(figures), flush=True)
    return 0


async def _rebuild(clients: RedisClients) -> dict[str, float]:
    redis = clients.data()
    try:
        await prepare(redis)
        figures: dict[str, float] = dict(await BacklogIndex(redis).rebuild())
        figures["customers"] = await CustomerSearch(redis).rebuild()
        return figures
    finally:
        await close_data(redis)
