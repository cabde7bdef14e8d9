"""Run as ``python -m tests.email.parser_host``: a process shaped like the web process (its main module
imports the web stack), starting a mail parser worker and printing what the worker's start cost.

Not a test module; ``test_parser_pool.py`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import resource

import gateway.app  # noqa: F401  (the web process's main module has the whole gateway imported)
from channels.email.pool import MailParser

MAIL = (b"From: Ada <ada@customer.example>\r\nTo: support@example.com\r\nSubject: hi\r\n"
        b"Message-ID: <host-1@customer.example>\r\n\r\nhello from a worker\r\n")


async def main() -> None:
    parser = MailParser(1, 30.0)
    parser.warm_up()
    try:
        parsed = await parser.parse(MAIL)
        usage = await asyncio.wrap_future(parser._pool().submit(resource.getrusage, resource.RUSAGE_SELF))
        print(json.dumps({"text": parsed.text, "worker_cpu": usage.ru_utime + usage.ru_stime}))
    finally:
        await parser.close()


if __name__ == "__main__":
    asyncio.run(main())
