"""Property-based: any body to any POST/PATCH endpoint of the admin API is answered, never half-written.

Bodies are drawn three ways: shaped like the endpoint's model with each field
right or wrong, any JSON at all (nested, lone surrogates, NaN), or raw bytes
(not JSON, not UTF-8, nested thousands deep). Each example asserts: never a
5xx, never an unhandled exception in the log, nothing stored for a refused
request, and the conversation still readable afterwards. Example counts come
from tests/hypothesis_profiles.py (1,000 in CI).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from tests.conftest import ADMIN_TOKEN, admin_headers
from tests.snapshots import changes, snapshot

# Text with everything JSON can carry: lone surrogates (\ud800 escapes), NUL, controls, astral planes.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
words = st.one_of(st.text(max_size=40), any_text, st.sampled_from(["", " ", "admin", "support", "service", "nowhere",
                                                                   "x" * 250, "x" * 2100, "\u0000", "\ud800"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
junk = st.one_of(json_values, words)
addresses = st.sampled_from(["ada@example.com", "+14155550199", "T0123:U0456", "user:ada", "visitor:v1",
                             "not an address", "+1", "@", "T:U", "ADA@Example.COM "])


def shaped(fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """A body with the model's required fields and some others, each valid twice as often as junk;
    sometimes a field is left out or a key it does not have is added."""
    def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(valid, valid, junk)

    body = st.fixed_dictionaries({name: field(fields[name]) for name in required},
                                 optional={name: field(valid) for name, valid in fields.items() if name not in required})
    loose = st.fixed_dictionaries({}, optional={name: field(valid) for name, valid in fields.items()})
    extra = st.dictionaries(any_text, junk, min_size=1, max_size=2)
    return st.one_of(body, body, body, body, loose, st.tuples(body, extra).map(lambda pair: {**pair[1], **pair[0]}))


names = st.text(min_size=1, max_size=60)
ENDPOINTS: dict[str, tuple[str, str, st.SearchStrategy[dict[str, Any]]]] = {
    "message": ("POST", "/api/conversations/{conversation}/messages", shaped({
        "text": st.text(min_size=1, max_size=300), "author": names, "kind": st.sampled_from(["reply", "note"]),
        "channel": st.sampled_from(["sms", "email", "webchat", "slack"])}, required=("text",))),
    "transfer": ("POST", "/api/conversations/{conversation}/transfer", shaped({
        "queue": st.sampled_from(["service", "support", "nowhere"]), "author": names,
        "reason": st.one_of(st.none(), names)}, required=("queue",))),
    "escalate": ("POST", "/api/conversations/{conversation}/escalate", shaped({
        "reason": st.one_of(st.none(), names), "author": names})),
    "assign": ("POST", "/api/conversations/{conversation}/assign", shaped({
        "agent": st.one_of(st.none(), names), "author": names})),
    "resolve": ("POST", "/api/conversations/{conversation}/resolve", shaped({"author": names})),
    "reopen": ("POST", "/api/conversations/{conversation}/reopen", shaped({"author": names})),
    "reroute": ("POST", "/api/conversations/{conversation}/reroute", shaped({"author": names})),
    "customer": ("PATCH", "/api/customers/{customer}", shaped({
        "name": st.one_of(st.none(), names),
        "attributes": st.one_of(st.none(), st.dictionaries(st.text(min_size=1, max_size=20), names, max_size=5)),
        "author": names})),
    "identity": ("POST", "/api/customers/{customer}/identities", shaped({
        "channel": st.sampled_from([c.value for c in Channel]), "address": addresses, "author": names},
        required=("channel", "address"))),
    "retry": ("POST", "/api/failures/{failure}/retry", shaped({})),
    "rules_reload": ("POST", "/api/rules/reload", shaped({"author": names})),
}

raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([1, 17, 900, 3000, 100_000]).map(lambda n: ("[" * n + "]" * n).encode()),
    st.sampled_from([1, 17, 900, 3000, 100_000]).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
    st.sampled_from([b"", b"null", b"[]", b'"text"', b"1e999", b"NaN", b'{"text": "\\ud800"}', b"{", b"\xff\xfe",
                     b'{"text": "hi"} trailing', b'{"text": "a", "text": "b"}']),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, str, bytes | None, dict[str, str]]:
    name = draw(st.sampled_from(sorted(ENDPOINTS)))
    method, template, bodies = ENDPOINTS[name]
    # The real ids most of the time, so the handlers run past "not found".
    ids = {"conversation": draw(st.one_of(st.just("{conversation}"), st.just("{conversation}"), any_text)),
           "customer": draw(st.one_of(st.just("{customer}"), st.just("{customer}"), any_text)),
           "failure": draw(st.one_of(st.sampled_from(["delivery:x", "job:x"]), any_text))}
    kind = draw(st.sampled_from(["shaped"] * 6 + ["json", "raw", "none"]))
    if kind == "shaped":
        body: bytes | None = json.dumps(draw(bodies)).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "raw":
        body = draw(raw_bodies)
    else:
        body = None
    headers = {**admin_headers(), "Content-Type": "application/json"}
    auth = draw(st.sampled_from(["token"] * 19 + ["wrong token"]))
    if auth == "wrong token":
        headers["Authorization"] = "Bearer not-" + ADMIN_TOKEN
    path = template.format(**{k: quote(v.encode("utf-8", "surrogatepass"), safe="") if v[:1] != "{" else v
                              for k, v in ids.items()})
    return name, method, path, body, headers


@pytest.fixture
async def seeded(gateway) -> dict[str, str]:
    """One customer with one conversation, which the examples act on."""
    result = await gateway.app[SERVICES].service.ingest(
        InboundMessage(Channel.SMS, Identity(Channel.SMS, "+15551230001"), "SM-seed", "hello", datetime.now(UTC)))
    return {"conversation": result.conversation_id, "customer": result.customer_id}


@pytest.mark.timeout(600)  # 1,000 examples in CI
@given(request=requests())
async def test_any_admin_request_is_answered_and_never_half_written(gateway, seeded, caplog, request):
    name, method, path, body, headers = request
    path = path.replace("{conversation}", seeded["conversation"]).replace("{customer}", seeded["customer"])
    redis = gateway.app[SERVICES].redis
    caplog.set_level(logging.WARNING)
    caplog.clear()
    before = await snapshot(redis)
    response = await gateway.request(method, path, data=body, headers=headers)
    text = await response.text()
    event(f"{name}: {response.status} {text[:60] if response.status == 400 else ''}")
    assert response.status < 500, text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in errors)
    if response.status >= 400:
        assert "error" in json.loads(text), text  # every refusal says why
        assert changes(before, await snapshot(redis)) == [], f"{response.status} {text}"
    view = await gateway.get(f"/api/conversations/{seeded['conversation']}", headers=admin_headers())
    assert view.status == 200, await view.text()


queries = st.dictionaries(st.sampled_from(["queue", "status", "channel", "limit", "offset", "x"]),
                          st.one_of(any_text, st.integers(-10**6, 10**30).map(str),
                                    st.sampled_from(["open", "pending", "resolved", "sms", "service", "1e3", "-0"])),
                          max_size=4)
audit_queries = st.dictionaries(
    st.sampled_from(["agent", "conversation", "customer", "from", "to", "cursor", "limit", "x"]),
    st.one_of(any_text, st.integers(-10**6, 10**30).map(str),
              st.sampled_from(["2026-12-03T10:00:00Z", "2026-12-03T10:00:00+01:00", "2026-12-03", "1-0", "(1-0",
                               "99999999999999999999-0", "admin", "{conversation}", "{customer}"])),
    max_size=4)
reads = st.one_of(
    st.tuples(st.just("/api/conversations"), queries),
    st.tuples(st.one_of(st.just("{conversation}"), any_text).map(lambda i: f"/api/conversations/{i}"), queries),
    st.tuples(st.tuples(st.one_of(st.just("{conversation}"), any_text), any_text)
              .map(lambda ids: f"/api/conversations/{ids[0]}/messages/{ids[1]}/original"), queries),
    st.tuples(st.one_of(st.just("{customer}"), any_text).map(lambda i: f"/api/customers/{i}"), queries),
    st.tuples(st.sampled_from(["/api/failures", "/api/rules", "/api/nothing", "/api/", "/api/agents",
                               "/api/whoami"]), queries),
    st.tuples(st.just("/api/audit"), audit_queries),
)


def quoted(path: str) -> str:
    return "/".join(quote(part.encode("utf-8", "surrogatepass"), safe="{}") for part in path.split("/"))


@pytest.mark.timeout(600)
@given(read=reads)
async def test_any_admin_read_is_answered_and_writes_nothing(gateway, seeded, caplog, read):
    path, query = read
    path = quoted(path).replace("{conversation}", seeded["conversation"]).replace("{customer}", seeded["customer"])
    query_string = "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
                            for k, v in query.items())
    redis = gateway.app[SERVICES].redis
    caplog.set_level(logging.WARNING)
    caplog.clear()
    before = await snapshot(redis)
    response = await gateway.get(f"{path}?{query_string}", headers=admin_headers())
    text = await response.text()
    event(f"{path.split('/')[2] if path.count('/') > 1 else path}: {response.status}")
    assert response.status < 500, text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in errors)
    assert changes(before, await snapshot(redis)) == []  # a read never writes
