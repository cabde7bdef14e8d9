"""Run every benchmark and write the figures into docs/PERFORMANCE.md.

    python -m benchmarks.all            # small and fast (a few minutes)
    python -m benchmarks.all --full     # the issue's sizes (tens of minutes)
    python -m benchmarks.all --tiny --no-write   # what the smoke test runs
    python -m benchmarks.all --only ingest_sms memory

Every load goes to 127.0.0.1; every loop is bounded. The figures go between
the ``figures`` markers of docs/PERFORMANCE.md; the text around them is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks import (archive, end_to_end, fanout, harness, ingest_email, ingest_roundtrips, ingest_sms, ingest_store,
                        ingest_webchat, memory, routing, timers)
from benchmarks.harness import Result

START, END = "<!-- figures:start -->", "<!-- figures:end -->"
DOC = harness.ROOT / "docs" / "PERFORMANCE.md"

# name → (tiny, small, full) runner
SIZES: dict[str, tuple[Callable[[], Any], Callable[[], Any], Callable[[], Any]]] = {
    "ingest_sms": (lambda: asyncio.run(ingest_sms.run(60, 8)),
                   lambda: asyncio.run(ingest_sms.run(2000, 32, web_processes=2, compare_loop=True, levers=True)),
                   lambda: asyncio.run(ingest_sms.run(10000, 32, web_processes=2, compare_loop=True, levers=True))),
    "ingest_webchat": (lambda: asyncio.run(ingest_webchat.run(5, 5)),
                       lambda: asyncio.run(ingest_webchat.run(50, 40, web_processes=2, compare_loop=True, levers=True)),
                       lambda: asyncio.run(ingest_webchat.run(50, 200, web_processes=2, compare_loop=True,
                                                              levers=True))),
    "ingest_store": (lambda: asyncio.run(ingest_store.run(100, 8)),
                     lambda: asyncio.run(ingest_store.run(3000, 32)),
                     lambda: asyncio.run(ingest_store.run(10000, 32))),
    "ingest_roundtrips": (lambda: asyncio.run(ingest_roundtrips.run()),
                          lambda: asyncio.run(ingest_roundtrips.run()),
                          lambda: asyncio.run(ingest_roundtrips.run())),
    "ingest_email": (lambda: asyncio.run(ingest_email.run(20, 2)),
                     lambda: asyncio.run(ingest_email.run(500, 8)),
                     lambda: asyncio.run(ingest_email.run(2000, 8))),
    "memory": (lambda: asyncio.run(memory.run(3)),
               lambda: asyncio.run(memory.run(100)),
               lambda: asyncio.run(memory.run(1000))),
    "archive": (lambda: asyncio.run(archive.run(20, 5)),
                lambda: asyncio.run(archive.run(5000, 200)),
                lambda: asyncio.run(archive.run(100_000, 1000))),
    "routing": (lambda: routing.run(50, 300),
                lambda: routing.run(500, 5000),
                lambda: routing.run(500, 20000)),
    "timers": (lambda: timers.run(50, 10, 1, lead=2),
               lambda: timers.run(5000, 500, 10, lead=10),
               lambda: timers.run(100_000, 10_000, 120)),
    "fanout": (lambda: asyncio.run(fanout.run(10, 20)),
               lambda: asyncio.run(fanout.run(1000, 20)),
               lambda: asyncio.run(fanout.run(1000, 50))),
    "end_to_end": (lambda: asyncio.run(end_to_end.run(5, 1)),
                   lambda: asyncio.run(end_to_end.run(10, 5)),
                   lambda: asyncio.run(end_to_end.run(200, 30))),
}


def render(results: list[Result], size: str, machine: dict[str, str], seconds: float) -> str:
    lines = [START, "",
             f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m benchmarks.all"
             f"{' --full' if size == 'full' else ''}` ({size} sizes, {seconds:.0f} s). "
             "**The machine is shared with other engineers' test suites**: absolute figures move from run "
             "to run; each baseline and its gateway figure ran back to back in the same run, so read the ratios.",
             "", "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    lines += ["", "| benchmark | measured | figure | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for result in results:
        for i, (label, value) in enumerate(result.rows):
            first = i == 0
            ratio = f"{result.ratio:.0%}" if first and result.ratio is not None else ""
            met = ("yes" if result.met else "**no**") if first and result.met is not None else ""
            lines.append(f"| {result.name if first else ''} | {label.strip()} | {value} | {ratio} | "
                         f"{result.goal if first else ''} | {met} |")
    notes = [f"- {r.name}: {note}" for r in results for note in r.notes]
    if notes:
        lines += ["", *notes]
    lines += ["", END]
    return "\n".join(lines)


def write(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    DOC.write_text(before + block + after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the issue's sizes")
    size.add_argument("--tiny", action="store_true", help="seconds each: proves they run")
    parser.add_argument("--only", nargs="*", choices=sorted(SIZES), help="run only these")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/PERFORMANCE.md alone")
    args = parser.parse_args()
    chosen = "full" if args.full else "tiny" if args.tiny else "small"
    index = {"tiny": 0, "small": 1, "full": 2}[chosen]
    machine = harness.machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    started = time.monotonic()
    results: list[Result] = []
    for name, runners in SIZES.items():
        if args.only and name not in args.only:
            continue
        results.append(runners[index]())
    if not args.no_write:
        write(render(results, chosen, machine, time.monotonic() - started))
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
