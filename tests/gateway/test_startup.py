"""Every way a start can fail, as an operator meets it: a real process, one line naming the fix, exit code 2.

Each case runs ``python -m gateway.cli …`` in a directory of its own (no
.env, no routing.yaml unless the case writes one) and asserts: exit code 2,
no traceback, at most 3 lines of output, and the variable (or
file:line:column) named in it. The cases run side by side (each is a
process that only starts and stops).
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.gateway.proc import gateway_env, run_to_exit
from tests.support import free_port

PROCESSES = ["serve", "worker", "sweeper"]
BROKEN_RULES = "queues:\n  service: {}\ndefault:\n  queue: nowhere\n"


@dataclass
class Case:
    name: str
    args: list[str]
    env: dict[str, str]
    expected: list[str]
    files: dict[str, str] = field(default_factory=dict)


def problems(code: int, output: str, expected: list[str]) -> list[str]:
    lines = [line for line in output.splitlines() if line.strip()]
    found = []
    if code != 2:
        found.append(f"exit code {code}, not 2")
    if "Traceback" in output:
        found.append("a traceback")
    if len(lines) > 3:
        found.append(f"{len(lines)} lines")
    found += [f"no {text!r}" for text in expected if text not in output]
    return found


def run_cases(tmp_path: Path, cases: list[Case]) -> None:
    def one(case: Case) -> str | None:
        directory = tmp_path / case.name.replace(" ", "_").replace("/", "_")
        directory.mkdir()
        for name, text in case.files.items():
            (directory / name).write_text(text)
        env = gateway_env(**{k: v.replace("{dir}", str(directory)) for k, v in case.env.items()})
        code, output = run_to_exit(*case.args, env=env, cwd=directory, timeout=120)
        found = problems(code, output, [e.replace("{dir}", str(directory)) for e in case.expected])
        return f"{case.name}: {', '.join(found)}\n{output}" if found else None

    with ThreadPoolExecutor(max_workers=6) as pool:
        failures = [f for f in pool.map(one, cases) if f]
    assert not failures, "\n".join(failures)


def dead_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # a port where nothing listens


BAD_VALUES = [
    ("GATEWAY_LOG_LEVEL", "verbose", "'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
    ("GATEWAY_REDIS_URL", "127.0.0.1:6379", "has no scheme: write redis://127.0.0.1:6379/0"),
    ("GATEWAY_REDIS_URL", "redis://localhost:sixthreesevennine/0", "Port could not be cast"),
    ("GATEWAY_PORT", "eighty", "valid integer"),
    ("GATEWAY_EMAIL__DOMAINS", '["acme.test"', "not a list"),
    ("GATEWAY_EMAIL__STARTTLS", "maybe", "valid boolean"),
    ("GATEWAY_WORKER__SWEEP_INTERVAL_SECONDS", "-1", "greater than 0"),
    ("GATEWAY_REOPEN_WINDOW", "soon", "duration"),
    ("GATEWAY_LOG_FORMAT", "xml", "'text' or 'json'"),
]


def test_bad_values_are_one_line_naming_the_variable_for_every_process(tmp_path):
    cases = [
        Case(f"{variable} {command}", [command],
             {"GATEWAY_REDIS_URL": dead_redis_url(), "GATEWAY_SECRET_KEY": "k", variable: value}, [variable, says])
        for n, (variable, value, says) in enumerate(BAD_VALUES)
        for command in ([PROCESSES[n % 3]] if n else PROCESSES)  # every value once, rotating; the first on all
    ]
    cases.append(Case("several at once", ["serve"],
                      {"GATEWAY_REDIS_URL": "localhost", "GATEWAY_PORT": "-5", "GATEWAY_LOG_LEVEL": "loud"},
                      ["GATEWAY_REDIS_URL", "GATEWAY_PORT", "GATEWAY_LOG_LEVEL"]))
    run_cases(tmp_path, cases)


def test_what_the_processes_need_is_one_line_each(tmp_path, redis_url):
    dead = dead_redis_url()
    address = dead.removeprefix("redis://").removesuffix("/0")
    cases = []
    for command in PROCESSES:
        cases += [
            Case(f"unreachable redis {command}", [command], {"GATEWAY_REDIS_URL": dead, "GATEWAY_SECRET_KEY": "k"},
                 ["GATEWAY_REDIS_URL", f"no Redis answers at {address}"]),
            Case(f"no secret key {command}", [command], {"GATEWAY_REDIS_URL": dead},
                 ["GATEWAY_SECRET_KEY: required", "gateway keygen"]),
            Case(f"no redis url {command}", [command], {"GATEWAY_SECRET_KEY": "k"}, ["GATEWAY_REDIS_URL: required"]),
            Case(f"missing rule file {command}", [command],
                 {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_SECRET_KEY": "k",
                  "GATEWAY_RULES_PATH": "{dir}/routing-prod.yaml"},
                 ["{dir}/routing-prod.yaml:1:1: cannot read the rule file"]),
        ]
    for command in [*PROCESSES, "demo"]:
        cases.append(Case(f"broken rule file {command}", [command],
                          {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_SECRET_KEY": "k", "GATEWAY_PORT": str(free_port())},
                          ["routing.yaml:4:10:", "nowhere"], files={"routing.yaml": BROKEN_RULES}))
    cases.append(Case("unknown queue", ["worker", "outbond"], {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_SECRET_KEY": "k"},
                      ["unknown job queue 'outbond'", "outbound, service, support"]))
    run_cases(tmp_path, cases)


def test_the_demo_announces_nothing_when_its_start_fails(tmp_path, redis_url):
    (tmp_path / "routing.yaml").write_text(BROKEN_RULES)
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_PORT=str(free_port()))
    code, output = run_to_exit("demo", env=env, cwd=tmp_path)
    assert code == 2 and "Gateway demo: agent inbox" not in output


def test_a_port_in_use_is_one_line(tmp_path, redis_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port))
        code, output = run_to_exit("serve", env=env, cwd=tmp_path)
    assert not problems(code, output, ["GATEWAY_HOST/GATEWAY_PORT", f"127.0.0.1:{port}"]), output


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unknown_variable_is_a_warning_with_the_closest_name(tmp_path, command):
    env = gateway_env(GATEWAY_REDIS_URLL="redis://127.0.0.1:6379/0", GATEWAY_SECRET_KEY="k",
                      GATEWAY_REDIS_URL=dead_redis_url())
    (tmp_path / ".env").write_text("GATEWAY_SLACK__SIGNING_SECRTE=abc\n")
    code, output = run_to_exit(command, env=env, cwd=tmp_path)
    assert "GATEWAY_REDIS_URLL is not a setting the gateway reads (ignored); did you mean GATEWAY_REDIS_URL?" in output
    assert "GATEWAY_SLACK__SIGNING_SECRTE is not a setting the gateway reads (ignored); " \
           "did you mean GATEWAY_SLACK__SIGNING_SECRET?" in output
    assert code == 2 and "Traceback" not in output  # then it stops on the (real) unreachable Redis
