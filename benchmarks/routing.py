"""Routing benchmark: a generated 500-rule file, loaded once, then decisions timed.

    python benchmarks/routing.py [--rules 500] [--decisions 20000]

Prints the load (validate + compile) time and, for a mix of messages (some
matching early rules, some late, some none), decisions per second and
microseconds per decision; then the same file with a satisfaction survey in
three languages (language detection becomes possible, and must not run per
decision) and the shipped example. Rates are wall-clock; the CPU-time rate
next to them is what the code costs when the shared machine is busy with
other work. A benchmark, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversations.messages import InboundMessage  # noqa: E402
from conversations.models import Channel, Customer, CustomerId, Identity  # noqa: E402
from router.loader import load_rules, load_rules_text  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "routing.yaml"

CHANNELS = [c.value for c in Channel]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fu", "gi", "ha", "je"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def generate(count: int, seed: int = 7) -> tuple[str, list[list[str]]]:
    """A rule file with ``count`` rules; returns the YAML and each rule's words."""
    rng = random.Random(seed)
    lines = [
        "queues:",
        "  service: {slack_channel: '#service', sla_policy: std}",
        "  support: {slack_channel: '#support', sla_policy: std}",
        "sla_policies:",
        "  std: {first_response: 1h, resolution: 2d, calendar: office}",
        "calendars:",
        "  office: {timezone: Europe/Berlin, hours: {weekdays: '09:00-17:00'}}",
        "rules:",
    ]
    vocab: list[list[str]] = []
    for i in range(count):
        words = [word(rng) for _ in range(rng.randint(3, 8))]
        vocab.append(words)
        quoted = ", ".join(f'"{w}"' for w in words + [f"{words[0]} {words[1]}"])
        queue = "service" if i % 2 else "support"
        lines.append(f"  - name: rule-{i}")
        lines.append("    when:")
        kind = i % 10
        if kind == 0:  # a regex rule: RE2 on every candidate message
            lines.append(f"      text: {{regex: '{words[0]}[0-9]+|order #?[0-9]{{6}}-{i}'}}")
        elif kind == 1:
            lines.append(f"      text: {{words: [{quoted}]}}")
            lines.append(f"      channel: [{rng.choice(CHANNELS)}, {rng.choice(CHANNELS)}]")
        elif kind == 2:
            lines.append(f"      content: {{words: [{quoted}]}}")
            lines.append(f"      customer: {{plan: [{rng.choice(['pro', 'basic', 'enterprise'])}]}}")
        elif kind == 3:
            lines.append("      any:")
            lines.append(f"        - text: [{quoted}]")
            lines.append(f"        - subject: [{words[0]}]")
        elif kind == 4:
            lines.append(f"      text: [{quoted}]")
            lines.append("      not: {time: {outside: office}}")
        else:
            lines.append(f"      text: [{quoted}]")
        lines.append(f"    then: {{queue: {queue}, tier: {1 + i % 3}, tags: [t{i}]"
                     + (", continue: true}" if i % 25 == 0 else "}"))
    lines.append("default: {queue: service}")
    return "\n".join(lines) + "\n", vocab


def messages(vocab: list[list[str]], count: int, seed: int = 11) -> list[InboundMessage]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    filler = ("hello there I have a question about my account and the thing "
              "that happened yesterday when I tried again please help").split()
    out = []
    for i in range(count):
        words = rng.sample(filler, rng.randint(6, 20))
        if i % 3:  # two in three messages mention some rule's word
            words.insert(rng.randrange(len(words) + 1), rng.choice(rng.choice(vocab)))
        channel = Channel(rng.choice(CHANNELS))
        out.append(InboundMessage(channel=channel, identity=Identity(channel, f"c{i}"), provider_id=str(i),
                                  text=" ".join(words), received_at=now, subject="Re: question"))
    return out


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def cpu_timed(fn, *args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall-clock and CPU seconds of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu


# The generated file with a survey question in three languages: what a multilingual file adds.
SURVEY = "{question: {en: 'How did we do?', de: 'Wie waren wir?', es: 'Que tal lo hicimos?'}}"


def multilingual(text: str) -> str:
    return text.replace("  support: {slack_channel: '#support', sla_policy: std}",
                        "  support: {slack_channel: '#support', sla_policy: std, csat: " + SURVEY + "}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--decisions", type=int, default=20_000)
    args = parser.parse_args()
    run(args.rules, args.decisions)


def run(rule_count: int = 500, decisions: int = 20_000):  # type: ignore[no-untyped-def]
    """Prints the figures; returns a ``benchmarks.harness.Result`` (500 rules against the shipped example)."""
    from benchmarks.harness import Result

    result = Result("routing", goal=">= 100,000 decisions/s with 500 rules")

    class Args:
        rules, decisions = rule_count, 1
    args = Args()
    args.decisions = decisions
    text, vocab = generate(args.rules)
    start = time.perf_counter()
    rules = load_rules_text(text, "<benchmark>")
    load_ms = (time.perf_counter() - start) * 1000
    sample = messages(vocab, args.decisions)
    customer = Customer(CustomerId("c"), "C", {"plan": "pro"}, (), datetime.now(timezone.utc))
    now = datetime(2026, 3, 25, 10, 0, tzinfo=timezone.utc)

    def run(batch: list[InboundMessage]) -> None:
        decide = rules.decide
        for message in batch:
            decide(None, message, customer, now)

    run(sample[:500])  # warm caches (holiday tables, RE2 DFAs)
    elapsed, cpu = cpu_timed(run, sample)
    no_match = [m for m in sample if rules.decide(None, m, customer, now).rule == "default"]
    elapsed_none = timed(run, no_match) if no_match else 0.0
    explained = sample[:300]
    elapsed_explain = timed(lambda: [rules.explain(None, m, customer, now) for m in explained])

    print(f"rule file: {args.rules} rules, {len(text) / 1024:.0f} KiB of YAML; "
          f"load + validate + compile: {load_ms:.0f} ms")
    print(f"decide:  {len(sample) / elapsed:,.0f} decisions/s, {elapsed / len(sample) * 1e6:.1f} µs per decision "
          f"({len(sample)} mixed messages); CPU time: {len(sample) / cpu:,.0f} decisions/s")
    if no_match:
        print(f"         {elapsed_none / len(no_match) * 1e6:.1f} µs per decision when no rule matches "
              f"({len(no_match)} messages fall to the default)")
    print(f"explain: {elapsed_explain / len(explained) * 1e6:.0f} µs per decision (tests every rule, builds the trace)")
    rate = len(sample) / elapsed
    result.rows.append((f"{args.rules} generated rules", f"{rate:,.0f} decisions/s ({elapsed / len(sample) * 1e6:.1f} µs); "
                        f"CPU time {len(sample) / cpu:,.0f}/s"))
    result.data = {"rate": rate, "cpu_rate": len(sample) / cpu}
    result.met = rate >= 100_000

    # Same rules, a survey in three languages: the language is found when read, not per decision.
    languages = load_rules_text(multilingual(text), "<benchmark, 3 languages>")
    assert len(languages.languages) == 3

    def run_multi(batch: list[InboundMessage]) -> None:
        decide = languages.decide
        for message in batch:
            decide(None, message, customer, now)

    run_multi(sample[:500])
    multi, multi_cpu = cpu_timed(run_multi, sample)
    print(f"3-language survey: {len(sample) / multi:,.0f} decisions/s, {multi / len(sample) * 1e6:.1f} µs per decision; "
          f"CPU time: {len(sample) / multi_cpu:,.0f} decisions/s")
    result.rows.append((f"{args.rules} generated rules, survey in 3 languages",
                        f"{len(sample) / multi:,.0f} decisions/s ({multi / len(sample) * 1e6:.1f} µs); "
                        f"CPU time {len(sample) / multi_cpu:,.0f}/s"))

    if EXAMPLE.exists():  # the shipped example: a realistic, small file
        example = load_rules(EXAMPLE)
        texts = ["I was charged twice this month", "the app crashes when I open settings",
                 "Hello, I have a quick question", "Quiero devolver el producto"]
        batch = [m for m in sample[: len(sample) // 4]]
        batch = [InboundMessage(channel=m.channel, identity=m.identity, provider_id=m.provider_id,
                                text=texts[i % len(texts)], received_at=m.received_at) for i, m in enumerate(batch)]
        start = time.perf_counter()
        for message in batch:
            example.decide(None, message, customer, now)
        took = time.perf_counter() - start
        print(f"examples/routing.yaml ({len(example.rules)} rules): {len(batch) / took:,.0f} decisions/s, "
              f"{took / len(batch) * 1e6:.1f} µs per decision")
        result.rows.insert(0, (f"baseline: examples/routing.yaml ({len(example.rules)} rules)",
                               f"{len(batch) / took:,.0f} decisions/s ({took / len(batch) * 1e6:.1f} µs)"))
        result.ratio = rate / (len(batch) / took)
    result.show()
    return result


if __name__ == "__main__":
    main()
