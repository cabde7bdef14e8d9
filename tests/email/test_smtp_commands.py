"""SMTP commands written byte for byte, as a broken or hostile client sends them: refused, never an error."""

from __future__ import annotations

import asyncio
import logging

from tests.email.conftest import conversations


async def smtp_dialogue(port: int, lines: list[bytes]) -> list[bytes]:
    """Commands written byte for byte (smtplib would refuse these bytes); the final reply line of each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = [await reader.readline()]
    try:
        for line in lines:
            writer.write(line + b"\r\n")
            await writer.drain()
            reply = await asyncio.wait_for(reader.readline(), 30)
            while reply[3:4] == b"-":
                reply = await asyncio.wait_for(reader.readline(), 30)
            replies.append(reply)
    finally:
        writer.close()
    return replies[1:]


async def test_envelope_addresses_that_are_not_utf8_are_refused_for_good_not_451(mail_gateway, caplog):
    """MAIL FROM:<\\xff@…> was taken, then the whole mail got 451 ("try again") forever: it could not be stored."""
    with caplog.at_level(logging.ERROR):
        replies = await smtp_dialogue(mail_gateway.smtp_port, [
            b"EHLO client.example", b"MAIL FROM:<\xff\xfe@customer.example> SMTPUTF8",
            b"MAIL FROM:<ada@customer.example> SMTPUTF8", b"RCPT TO:<support+\xff\xfe@example.com>",
            b"RCPT TO:<support@example.com>", b"QUIT"])
    assert [r[:3] for r in replies] == [b"250", b"553", b"250", b"553", b"250", b"221"], replies
    assert await conversations(mail_gateway) == []
    # A sender that is UTF-8 (SMTPUTF8) is taken, and the mail stored.
    with caplog.at_level(logging.ERROR):
        replies = await smtp_dialogue(mail_gateway.smtp_port, [
            b"EHLO client.example", "MAIL FROM:<adà@customer.example> SMTPUTF8".encode(),
            b"RCPT TO:<support@example.com>", b"DATA",
            b"From: ada@customer.example\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nhello\r\n.", b"QUIT"])
    assert [r[:3] for r in replies] == [b"250", b"250", b"250", b"354", b"250", b"221"], replies
    assert len(await conversations(mail_gateway)) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_size_parameter_that_is_not_a_number_is_a_501_not_an_error(mail_gateway, caplog):
    """ "SIZE=²" passes str.isdigit(): aiosmtpd's int() raised, logged an error and sent the exception back."""
    with caplog.at_level(logging.ERROR):
        replies = await smtp_dialogue(mail_gateway.smtp_port, [
            b"EHLO client.example", "MAIL FROM:<ada@customer.example> SIZE=\u00b2".encode(),
            b"MAIL FROM:<ada@customer.example> SIZE=1x", b"MAIL FROM:<size=1@customer.example> SIZE=120",
            b"QUIT"])
    assert [r[:3] for r in replies] == [b"250", b"501", b"501", b"250", b"221"], replies
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
