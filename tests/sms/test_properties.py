"""Property-based: any form Twilio could send, or an attacker could, never breaks the SMS webhooks.

Inbound messages and status callbacks, most of them correctly signed (the
RequestValidator scheme), so the parsing behind the signature is what gets
exercised; some unsigned, mis-signed, or with bytes that are not UTF-8.
Every example asserts: never a 5xx, never an unhandled exception in the log,
nothing stored for a refused request, and an accepted message stored once.
Example counts come from tests/hypothesis_profiles.py (1,000 in CI).
"""

from __future__ import annotations

import logging
from urllib.parse import quote_plus

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from gateway.appkeys import SERVICES
from tests.snapshots import changes, snapshot
from tests.sms.conftest import ACCOUNT_SID, OUR_NUMBER, PUBLIC_URL, sign
from tests.support import wait_until

INBOUND, STATUS = "/sms/twilio", "/sms/twilio/status"

us_numbers = st.integers(2_000_000_000, 9_999_999_999).map(lambda n: f"+1{n}")
phones = st.one_of(
    us_numbers,
    st.integers(10**5, 10**15).map(lambda n: f"+{n}"),
    st.sampled_from(["", "+", "0", "whatsapp:+14155550100", "+1 (415) 555-0100", "00491511234567", "+999999999999999",
                     "client:ada", "sip:ada@example.com", "+1415555010\u0661"]),
    st.text(max_size=40),
)
sids = st.one_of(st.binary(min_size=16, max_size=16).map(lambda b: "SM" + b.hex()), st.text(max_size=40))
texts = st.one_of(st.text(max_size=300),
                  st.sampled_from(["", " ", "\x00", "STOP", "<!channel>", "\u202e", "e\u0301" * 50, "\U0001f600" * 800,
                                   "x" * 1600, "\ufeff", "a\r\nb"]))
counts = st.one_of(st.integers(-3, 12).map(str), st.text(max_size=6))
# Field names Twilio sends, and any others (Twilio adds fields without notice; all are signed).
extra_fields = st.dictionaries(
    st.one_of(st.sampled_from(["MediaUrl0", "MediaContentType0", "MediaUrl1", "MediaContentType1", "MediaUrl9",
                               "MessagingServiceSid", "FromCountry", "ToCity", "SmsStatus", "ErrorCode",
                               "ErrorMessage", "ApiVersion", "OptOutType", "ReferralNumMedia"]),
              st.text(min_size=1, max_size=30)),
    st.one_of(texts, st.text(alphabet="abcXYZ0189/", max_size=60).map(lambda p: "https://api.twilio.com/" + p)),
    max_size=6,
)
# How the request is signed: mostly right, so the parser behind the signature is what is tested.
signing = st.sampled_from(["signed"] * 8 + ["unsigned", "wrong token", "tampered", "not utf-8"])


@st.composite
def inbound_forms(draw: st.DrawFn) -> dict[str, str]:
    # A sender that parses half the time, so the path after parsing (ingest, routing) is exercised too.
    sender = draw(st.one_of(us_numbers, us_numbers, phones))
    form = {"MessageSid": draw(sids), "SmsSid": draw(sids), "AccountSid": ACCOUNT_SID, "From": sender,
            "To": draw(st.one_of(st.just(OUR_NUMBER), st.just(OUR_NUMBER), phones)), "Body": draw(texts), "NumMedia": draw(counts),
            "NumSegments": draw(counts)}
    dropped = draw(st.one_of(st.just(set()), st.sets(st.sampled_from(sorted(form)))))
    form = {k: v for k, v in form.items() if k not in dropped}
    form.update(draw(extra_fields))
    return form


@st.composite
def status_forms(draw: st.DrawFn, known_sid: str) -> dict[str, str]:
    statuses = ["accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "undelivered", "failed",
                "canceled", "receiving", "received", "partially_delivered"]
    status = draw(st.one_of(st.sampled_from(statuses), st.sampled_from(statuses).map(str.upper), st.text(max_size=20)))
    form = {"MessageSid": draw(st.one_of(st.just(known_sid), sids)), "MessageStatus": status,
            "SmsStatus": status, "AccountSid": ACCOUNT_SID, "From": OUR_NUMBER, "To": draw(phones),
            "ErrorCode": draw(st.one_of(st.just(""), st.integers(0, 99999).map(str), st.text(max_size=10))),
            "ErrorMessage": draw(texts)}
    dropped = draw(st.sets(st.sampled_from(["MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "ErrorCode",
                                            "ErrorMessage"])))
    return {k: v for k, v in form.items() if k not in dropped}


def encode(form: dict[str, str]) -> bytes:
    """A form body; ``surrogatepass`` turns a lone surrogate into bytes that are not UTF-8."""
    return "&".join(f"{quote_plus(k.encode('utf-8', 'surrogatepass'))}="
                    f"{quote_plus(v.encode('utf-8', 'surrogatepass'))}" for k, v in form.items()).encode()


async def post(client, path: str, form: dict[str, str], how: str):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if how == "not utf-8":
        form = {**form, "Body": form.get("Body", "") + "\udc80"}
    if how != "unsigned":
        signed = {**form, "Body": "what was signed"} if how == "tampered" else form
        token = "not-the-token" if how == "wrong token" else None
        signature = sign(path, {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                                for k, v in signed.items()}, **({"token": token} if token else {}))
        headers["X-Twilio-Signature"] = signature
    return await client.post(path, data=encode(form), headers=headers)


async def stored_messages(redis) -> int:
    total = 0
    async for key in redis.scan_iter(match="gw:*:msgs:*"):
        total += await redis.xlen(key)
    return total


def assert_no_unhandled_errors(caplog) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in errors)


@pytest.mark.timeout(600)  # 1,000 examples in CI
@given(form=inbound_forms(), how=signing)
async def test_any_inbound_form_is_answered_and_stored_at_most_once(sms_gateway, caplog, form, how):
    redis = sms_gateway.app[SERVICES].redis
    await redis.flushall()  # each example starts from nothing: the snapshots stay small
    caplog.set_level(logging.WARNING)
    caplog.clear()
    before = await snapshot(redis)
    response = await post(sms_gateway, INBOUND, form, how)
    body = await response.text()
    event(f"{how}: {response.status} {body[:50] if response.status == 400 else ''}")
    assert response.status < 500, body
    assert_no_unhandled_errors(caplog)
    if response.status >= 400:
        assert changes(before, await snapshot(redis)) == [], f"{response.status} {body}"
        return
    assert response.status == 200 and how in ("signed", "not utf-8")  # signed over what the server decoded
    # The same delivery again (Twilio retries): answered the same, nothing stored twice.
    count = await stored_messages(redis)
    again = await post(sms_gateway, INBOUND, form, how)
    assert again.status == 200 and await stored_messages(redis) == count


@pytest.fixture
async def sent_sms(sms_gateway, fake_twilio) -> str:
    """One real outbound SMS, so callbacks for its sid reach the delivery state; its sid."""
    first = {"MessageSid": "SM" + "e" * 32, "From": "+14155550100", "To": OUR_NUMBER, "Body": "hello",
             "AccountSid": ACCOUNT_SID}
    assert (await post(sms_gateway, INBOUND, first, "signed")).status == 200
    services = sms_gateway.app[SERVICES]
    [conversation_id] = await services.store.recent_conversation_ids(limit=1)
    await services.service.reply(conversation_id, "on it", "Grace")
    await sms_gateway.backend.drain_async()
    await wait_until(lambda: fake_twilio.requests, what="the reply to reach the Twilio fake")
    assert await services.store.find_by_provider_id("sms", KNOWN_SID)
    return KNOWN_SID


KNOWN_SID = "SM" + "1".zfill(32)  # the fake's first message sid


@pytest.mark.timeout(600)
@given(form=status_forms(KNOWN_SID), how=signing)
async def test_any_status_callback_is_answered_and_never_half_written(sms_gateway, sent_sms, caplog, form, how):
    redis = sms_gateway.app[SERVICES].redis
    caplog.set_level(logging.WARNING)
    caplog.clear()
    before = await snapshot(redis)
    response = await post(sms_gateway, STATUS, form, how)
    body = await response.text()
    event(f"{how}: {response.status} {body[:50] if response.status == 400 else ''}")
    assert response.status < 500, body
    assert_no_unhandled_errors(caplog)
    if response.status >= 400 or form.get("MessageSid", form.get("SmsSid")) != sent_sms:
        assert changes(before, await snapshot(redis)) == [], f"{response.status} {body}"


def test_the_signature_scheme_of_the_suite_is_twilios() -> None:
    # The suite's signatures are RequestValidator's over the public URL: a correct one is accepted by
    # the gateway's own check (channels.sms.signature), so "signed" examples really are signed.
    from channels.sms import signature

    form = {"Body": "hi", "From": "+14155550100"}
    signature.verify("test-twilio-auth-token", PUBLIC_URL + INBOUND, form, sign(INBOUND, form))
