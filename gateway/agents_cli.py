"""``gateway agents add / list / remove``: per-agent API tokens, stored as digests in Redis."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from conversations.agents import AgentRegistry
from conversations.errors import DomainError
from gateway.redis_clients import RedisClients, close_data
from gateway.settings import SettingsError, load_settings


def _with_registry(action: Callable[[AgentRegistry, argparse.Namespace], Awaitable[int]]) -> Callable[..., int]:
    def command(args: argparse.Namespace) -> int:
        settings = load_settings()
        if not settings.redis_configured:
            raise SettingsError("GATEWAY_REDIS_URL: required by `gateway agents` (agents are kept in Redis; "
                                "the embedded demo store keeps nothing)")

        async def run() -> int:
            redis = RedisClients(settings).data()  # one Redis, Sentinel or Cluster, as the gateway
            try:
                return await action(AgentRegistry(redis, settings.agent_tokens), args)
            except DomainError as error:
                print(f"gateway agents: {error}", file=sys.stderr)
                return 1
            finally:
                await close_data(redis)

        return asyncio.run(run())

    return command


async def add(registry: AgentRegistry, args: argparse.Namespace) -> int:
    token = await registry.add(args.name)
    # The token alone on stdout (for a script to capture); the advice on stderr.
    print(f"agent {args.name} added; its API token follows. It is shown once and stored only as a digest:",
          file=sys.stderr)
    print(token, flush=True)
    return 0


async def list_agents(registry: AgentRegistry, args: argparse.Namespace) -> int:
    agents = await registry.agents()
    if not agents:
        print("no agents (add one with `gateway agents add NAME`)", file=sys.stderr)
        return 0
    width = max(len(agent.name) for agent in agents)
    for agent in agents:
        added = agent.created_at.isoformat() if agent.created_at else "-"
        print(f"{agent.name:<{width}}  {agent.source:<5}  {added}")
    return 0


async def remove(registry: AgentRegistry, args: argparse.Namespace) -> int:
    await registry.remove(args.name)
    print(f"agent {args.name} removed; its token no longer works", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("agents", help="per-agent API tokens (needs GATEWAY_REDIS_URL)")
    commands = parser.add_subparsers(dest="agents_command", required=True)
    add_parser = commands.add_parser("add", help="add an agent and print its token (once)")
    add_parser.add_argument("name")
    add_parser.set_defaults(func=_with_registry(add))
    commands.add_parser("list", help="agents: name, where the token is kept, when added").set_defaults(
        func=_with_registry(list_agents))
    remove_parser = commands.add_parser("remove", help="remove an agent; its token stops working")
    remove_parser.add_argument("name")
    remove_parser.set_defaults(func=_with_registry(remove))
