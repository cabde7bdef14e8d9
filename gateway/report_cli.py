"""``gateway report``: the report summary as a terminal table, from the same figures as the API.

Reads Redis directly (``GATEWAY_REDIS_URL``); ``--rebuild`` first recomputes every
conversation's row from its stored facts (after an upgrade, or to check nothing drifted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from conversations import codec
from conversations.clock import utcnow
from conversations.errors import InvalidRequest
from conversations.store import ConversationStore
from gateway import report_params
from gateway.redis_clients import RedisClients, close_data
from gateway.runtime import load_live_rules
from gateway.settings import SettingsError, load_settings
from router import RulesError
from workers import report_store
from workers.report_summary import GROUPS

# (label, dotted path, unit) in the order the table shows them.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("conversations new", "volume.new", ""),
    ("conversations reopened", "volume.reopened", ""),
    ("messages in", "volume.messages_in", ""),
    ("messages out", "volume.messages_out", ""),
    ("first response median", "first_response_seconds.median", "s"),
    ("first response p90", "first_response_seconds.p90", "s"),
    ("first responses", "first_response_seconds.count", ""),
    ("first response median (business)", "first_response_seconds.business_median", "s"),
    ("first response p90 (business)", "first_response_seconds.business_p90", "s"),
    ("resolution median", "resolution_seconds.median", "s"),
    ("resolution p90", "resolution_seconds.p90", "s"),
    ("resolved", "resolution_seconds.count", ""),
    ("resolution median (business)", "resolution_seconds.business_median", "s"),
    ("resolution p90 (business)", "resolution_seconds.business_p90", "s"),
    ("first contact resolution", "fcr_rate", "%"),
    ("SLA warnings", "sla.warnings", ""),
    ("SLA breaches", "sla.breaches", ""),
    ("SLA compliance", "sla.compliance", "%"),
    ("  first response compliance", "sla.clocks.first_response.compliance", "%"),
    ("  next response compliance", "sla.clocks.next_response.compliance", "%"),
    ("  resolution compliance", "sla.clocks.resolution.compliance", "%"),
    ("escalations", "escalations", ""),
    ("transfers", "transfers", ""),
    ("CSAT average", "csat.average", ""),
    ("CSAT responses", "csat.responses", ""),
    ("CSAT surveys sent", "csat.sent", ""),
    ("CSAT response rate", "csat.response_rate", "%"),
)


def cell(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value * 100:.1f}%"
    if unit == "s":
        return duration(float(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def duration(seconds: float) -> str:
    """``5400`` → ``1h 30m``; under a minute in seconds."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else "",
             f"{secs}s" if secs and not days else ""]
    return " ".join(p for p in parts if p)


def table(summary: dict[str, Any]) -> str:
    """The figures as aligned columns: ``all``, then one per group when grouped."""
    columns = [("all", summary)] + sorted((summary.get("groups") or {}).items())
    header = ["figure"] + [name for name, _ in columns]
    lines = [header] + [[label] + [cell(_pick(s, path), unit) for _, s in columns] for label, path, unit in ROWS]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(text.ljust(widths[0]) if i == 0 else text.rjust(widths[i]) for i, text in enumerate(line)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _pick(summary: dict[str, Any], path: str) -> Any:
    value: Any = summary
    for part in path.split("."):
        value = value[part]
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("report", help="print the report summary (volume, FRT, resolution, FCR, SLA, CSAT)")
    parser.add_argument("--from", dest="start", help="ISO 8601 instant (default: 7 days before --to)")
    parser.add_argument("--to", dest="end", help="ISO 8601 instant (default: now)")
    parser.add_argument("--queue")
    parser.add_argument("--channel")
    parser.add_argument("--tier")
    parser.add_argument("--group-by", choices=GROUPS, help="a column per queue, tier or channel")
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of the table")
    parser.add_argument("--rebuild", action="store_true",
                        help="first recompute every conversation's row from its stored facts")
    parser.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway report`")
    query = {name: value for name, value in (("from", args.start), ("to", args.end), ("queue", args.queue),
                                            ("channel", args.channel), ("tier", args.tier),
                                            ("group_by", args.group_by)) if value}
    try:
        parsed = report_params.parse(query, utcnow())
    except InvalidRequest as error:
        print(f"gateway report: {error}", file=sys.stderr)
        return 2
    clients = RedisClients(settings)

    async def run() -> dict[str, Any]:
        redis = clients.data()
        try:
            rules = load_live_rules(settings).current
            store = ConversationStore(redis, reopen_window=settings.reopen_window)
            if args.rebuild:
                everything = await store.all_conversation_ids()
                count = await report_store.rebuild(store, rules, everything)
                print(f"recomputed {count} of {len(everything)} conversations", file=sys.stderr)
            await report_store.catch_up(store, rules)  # what events marked and no sweeper recorded yet
            return await report_store.summary(redis, parsed.filters, parsed.group_by)
        finally:
            await close_data(redis)

    try:
        summary = asyncio.run(run())
    except RulesError as error:
        print(f"gateway report: {error}", file=sys.stderr)
        return 2
    filters = parsed.filters
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    scope = ", ".join(f"{k} {v}" for k, v in (("queue", filters.queue), ("channel", filters.channel),
                                             ("tier", filters.tier)) if v is not None)
    print(f"Conversations opened {codec.iso(codec.from_ms(filters.start_ms))} to "
          f"{codec.iso(codec.from_ms(filters.end_ms))}{f' ({scope})' if scope else ''}")
    print(table(summary))
    return 0
