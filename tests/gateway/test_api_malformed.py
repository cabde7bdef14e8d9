"""Malformed admin API bodies: a 400 that names the problem, and nothing stored (issue 10, item 11)."""

from __future__ import annotations

import logging

import pytest

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.gateway.test_api import open_conversation
from tests.snapshots import changes, snapshot
from tests.support import raw_request

HEADERS = {**admin_headers(), "Content-Type": "application/json"}


async def refused(gateway, method: str, path: str, body: str, caplog) -> str:
    redis = gateway.app[SERVICES].redis
    before = await snapshot(redis)
    with caplog.at_level(logging.ERROR, logger="gateway"):
        response = await gateway.request(method, path, data=body.encode(), headers=HEADERS)
    reason = (await response.json())["error"]
    assert response.status == 400, reason
    assert changes(before, await snapshot(redis)) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    return reason


@pytest.mark.parametrize("depth", [17, 3_000, 100_000])
async def test_deeply_nested_json_is_refused(gateway, caplog, depth):
    conversation_id, _ = await open_conversation(gateway)
    body = '{"text": "hi", "extra": ' + "[" * depth + "]" * depth + "}"
    reason = await refused(gateway, "POST", f"/api/conversations/{conversation_id}/messages", body, caplog)
    assert reason == "the body nests deeper than 16 levels"


# Fields pydantic lets through unchecked reached Redis and failed half-way (500) on a lone surrogate.
@pytest.mark.parametrize("action, body, reason", [
    ("escalate", '{"reason": "\\ud800"}', "reason is not valid Unicode text (a lone surrogate)"),
    ("resolve", '{"author": "\\udfff"}', "author is not valid Unicode text (a lone surrogate)"),
    ("transfer", '{"queue": "support", "author": "Grace\\ud83d"}', "author is not valid Unicode text"),
    ("messages", '{"text": "a\\u0000b"}', "text contains a NUL character"),
])
async def test_invalid_text_in_any_field_is_refused(gateway, caplog, action, body, reason):
    conversation_id, _ = await open_conversation(gateway)
    assert (await refused(gateway, "POST", f"/api/conversations/{conversation_id}/{action}", body,
                          caplog)).startswith(reason)


async def test_customer_attributes_are_text_of_bounded_size(gateway, caplog):
    _, customer_id = await open_conversation(gateway)
    path = f"/api/customers/{customer_id}"
    assert "a key of attributes" in await refused(gateway, "PATCH", path, '{"attributes": {"\\ud800": "x"}}', caplog)
    big = '{"attributes": {"plan": "' + "x" * 2001 + '"}}'
    assert "attributes.plan: String should have at most 2000 characters" in await refused(gateway, "PATCH", path,
                                                                                            big, caplog)
    many = "{" + '"attributes": {' + ", ".join(f'"k{i}": "v"' for i in range(101)) + "}}"
    assert "attributes" in await refused(gateway, "PATCH", path, many, caplog)


async def test_negative_paging_is_refused(gateway):
    for query in ("limit=0", "limit=-5"):
        response = await gateway.get(f"/api/conversations?{query}", headers=admin_headers())
        assert response.status == 400, query
        assert "limit must be 1 or more" in (await response.json())["error"]
    response = await gateway.get("/api/conversations?offset=10", headers=admin_headers())
    assert response.status == 400
    assert "cursor=<next_cursor>" in (await response.json())["error"]


async def test_header_bytes_that_are_not_utf8_are_a_clear_answer_never_a_500(gateway, caplog):
    """Anyone can send them: a bearer token of bytes like \\xff was a 500 (it could not be hashed)."""
    redis = gateway.app[SERVICES].redis
    before = await snapshot(redis)
    with caplog.at_level(logging.ERROR):
        for token in (b"\xff\xfe", b"\xc3\xa9" * 20, b"test-admin-token\xff"):
            status, body = await raw_request(
                gateway, b"GET /api/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\r\n")
            assert status == 401 and b"wrong bearer token" in body
    assert changes(before, await snapshot(redis)) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_charset_parameter_on_json_is_not_consulted(gateway, caplog):
    """JSON is UTF-8: "application/json; charset=bogus" was a 500 (LookupError); bytes that are not UTF-8 a 400."""
    conversation_id, _ = await open_conversation(gateway)
    head = (f"POST /api/conversations/{conversation_id}/messages HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer test-admin-token\r\nContent-Type: application/json; charset=bogus\r\n").encode()
    redis = gateway.app[SERVICES].redis
    with caplog.at_level(logging.ERROR):
        before = await snapshot(redis)
        status, body = await raw_request(gateway, head, b'{"text": "caf\xe9"}')
        assert (status, body) == (400, b'{"error": "the body must be JSON"}')
        assert changes(before, await snapshot(redis)) == []
        status, body = await raw_request(gateway, head, '{"text": "café"}'.encode())
        assert status == 201, body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
