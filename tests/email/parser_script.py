"""Run by path (``python tests/email/parser_script.py``), shaped like the ``gateway`` console script
(``from gateway.cli import main``): the same check as ``parser_host`` for a main module that is a file.

Not a test module; ``test_parser_pool.py`` runs it.
"""

import asyncio

from tests.email.parser_host import main

if __name__ == "__main__":
    asyncio.run(main())
