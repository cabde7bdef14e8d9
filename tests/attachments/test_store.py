"""The attachment store: sniffed types, per-channel limits, local and S3 storage, signed URLs over HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from channels.deps import CHANNEL_DEPS
from conversations import attachment_urls
from conversations.attachment_s3 import S3AttachmentStore
from conversations.attachments import (AttachmentRejected, Attachments, LocalAttachmentStore, Limits, StoredFile,
                                       derived_id, new_id, safe_name, sniff)
from conversations.clock import now_ms
from tests.attachments import files
from tests.conftest import Backend, make_settings, start_client

KEY = b"k" * 32


def make(tmp_path, **limits: Limits) -> Attachments:
    default = Limits(max_bytes=1000, types=("image/*", "application/pdf"))
    return Attachments(LocalAttachmentStore(tmp_path), KEY, "http://gw.test", {"webchat": default, **limits}, 60)


def test_the_type_comes_from_the_bytes_never_the_name():
    assert sniff(files.png()) == "image/png"
    assert sniff(files.pdf()) == "application/pdf"
    assert sniff(files.exe()) == "application/x-msdownload"
    assert sniff("Grüße, Anna\n".encode()) == "text/plain"
    assert sniff(b"\x00\x01\x02garbage") == "application/octet-stream"


async def test_limits_refuse_with_a_reason_and_store_nothing(tmp_path):
    attachments = make(tmp_path)
    with pytest.raises(AttachmentRejected, match="x-msdownload files are not accepted on webchat") as wrong:
        await attachments.save("webchat", files.exe(), "cat.png")
    assert wrong.value.status == 415
    with pytest.raises(AttachmentRejected, match="takes at most 1000") as large:
        await attachments.save("webchat", files.png(200, 200) + b"\x00" * 1000, "big.png")
    assert large.value.status == 413
    with pytest.raises(AttachmentRejected, match="empty"):
        await attachments.save("webchat", b"", "x.pdf")
    assert list(tmp_path.rglob("*")) == []


async def test_local_store_round_trip_and_delete(tmp_path):
    attachments = make(tmp_path)
    saved = await attachments.save("webchat", files.pdf(), "../../etc/Invoice 7.pdf")
    assert saved.content_type == "application/pdf" and saved.name == "Invoice 7.pdf" and saved.size == len(files.pdf())
    assert await attachments.store.get(saved.id) == (files.pdf(), StoredFile("application/pdf", "Invoice 7.pdf"))
    await attachments.store.delete(saved.id)
    assert await attachments.store.get(saved.id) is None


def test_ids_never_walk_out_of_the_store(tmp_path):
    store = LocalAttachmentStore(tmp_path)
    for bad in ("../x", "att_../../../../etc/passwd", "att_short", ""):
        with pytest.raises(ValueError):
            store._path(bad)
    assert derived_id(KEY, "email:<m@x>:0") == derived_id(KEY, "email:<m@x>:0") != derived_id(KEY, "email:<m@x>:1")
    assert new_id() != new_id()


def test_names_are_made_safe():
    assert safe_name('a\r\nb"<x>.pdf', "application/pdf") == "abx.pdf"
    assert safe_name("", "image/png") == "file.png"
    assert len(safe_name("n" * 500, "text/plain")) == 200


def test_signature_covers_id_and_expiry():
    sig = attachment_urls.signature(KEY, "att_" + "a" * 24, 2000)
    assert attachment_urls.verify(KEY, "att_" + "a" * 24, "2000", sig, 1999)
    assert not attachment_urls.verify(KEY, "att_" + "a" * 24, "2000", sig, 2000)  # expired
    assert not attachment_urls.verify(KEY, "att_" + "b" * 24, "2000", sig, 1000)  # another file
    assert not attachment_urls.verify(KEY, "att_" + "a" * 24, "2001", sig, 1000)  # a later expiry
    assert not attachment_urls.verify(b"other", "att_" + "a" * 24, "2000", sig, 1000)
    assert not attachment_urls.verify(KEY, "att_" + "a" * 24, "-5", sig, 1000)


async def _served(client, attachments: Attachments, data: bytes, name: str):
    saved = await attachments.save("agent", data, name)
    url = attachments.url(saved.id, now_ms() // 1000)
    parts = urlsplit(url)
    return saved, parts.path, parse_qs(parts.query)


async def test_signed_url_opens_the_file_and_nothing_else(aiohttp_client, fake_backend):
    client = await start_client(aiohttp_client, fake_backend)
    attachments = client.app[CHANNEL_DEPS].attachments
    saved, path, query = await _served(client, attachments, files.png(), "screenshot.png")
    assert path == f"/attachments/{saved.id}"
    reply = await client.get(path, params={"exp": query["exp"][0], "sig": query["sig"][0]})
    assert reply.status == 200 and await reply.read() == files.png()
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert reply.headers["Content-Disposition"].startswith("inline;")
    assert "screenshot.png" in reply.headers["Content-Disposition"]

    forged = await client.get(path, params={"exp": query["exp"][0], "sig": "A" * 43})
    assert forged.status == 403 and "invalid or has expired" in (await forged.json())["error"]
    assert (await client.get(path)).status == 403
    later = str(int(query["exp"][0]) + 3600)
    assert (await client.get(path, params={"exp": later, "sig": query["sig"][0]})).status == 403
    past = now_ms() // 1000 - 1
    expired = await client.get(path, params={"exp": str(past),
                                             "sig": attachment_urls.signature(attachments.secret_key, saved.id, past)})
    assert expired.status == 403
    # A correctly signed URL of a file that does not exist looks like any refusal.
    other = new_id()
    exp = now_ms() // 1000 + 60
    missing = await client.get(f"/attachments/{other}",
                               params={"exp": str(exp), "sig": attachment_urls.signature(attachments.secret_key, other, exp)})
    assert missing.status == 403
    for listing in ("/attachments", "/attachments/", "/attachments/%2e%2e%2fetc"):
        assert (await client.get(listing)).status in (403, 404)
    # Expiries that are digits to str.isdigit() but not to int(), other numerals, bytes that are not UTF-8:
    # each the same 403 (a "²" was a 500).
    for query in ("exp=%C2%B2&sig=x", "exp=%D9%A1%D9%A2&sig=x", f"exp={exp}&sig=%ED%A0%80", f"exp={exp}&sig=%FF",
                  f"exp={exp}%00&sig=x", "exp=-1&sig=x", f"exp={exp}&exp=1&sig=x"):
        assert (await client.get(f"{path}?{query}")).status == 403, query


async def test_s3_store_round_trip(s3_bucket):
    store = S3AttachmentStore(s3_bucket["s3_bucket"], endpoint_url=s3_bucket["s3_endpoint_url"], region="us-east-1",
                              access_key_id="test", secret_access_key="test")
    attachment_id = new_id()
    await store.put(attachment_id, files.pdf(), StoredFile("application/pdf", "Rechnung März.pdf"))
    assert await store.get(attachment_id) == (files.pdf(), StoredFile("application/pdf", "Rechnung März.pdf"))
    await store.delete(attachment_id)
    assert await store.get(attachment_id) is None
    await store.close()


async def test_gateway_on_s3_serves_signed_urls_and_keeps_the_bucket_private(aiohttp_client, s3_bucket, tmp_path):
    import fakeredis

    settings = make_settings(attachments={**s3_bucket, "dir": str(tmp_path / "unused")})
    backend = Backend(settings, fakeredis.FakeServer())
    client = await start_client(aiohttp_client, backend)
    attachments = client.app[CHANNEL_DEPS].attachments
    assert isinstance(attachments.store, S3AttachmentStore)
    saved, path, query = await _served(client, attachments, files.pdf(), "contract.pdf")
    reply = await client.get(path, params={"exp": query["exp"][0], "sig": query["sig"][0]})
    assert reply.status == 200 and await reply.read() == files.pdf()
    assert reply.headers["Content-Type"] == "application/pdf"
    assert not (tmp_path / "unused").exists()
    s3 = boto3.client("s3", endpoint_url=s3_bucket["s3_endpoint_url"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket["s3_bucket"])["Contents"]]
    assert keys == [f"attachments/{saved.id}"]
    assert s3.get_bucket_acl(Bucket=s3_bucket["s3_bucket"])["Grants"][0]["Grantee"].get("URI") is None
    s3.close()
