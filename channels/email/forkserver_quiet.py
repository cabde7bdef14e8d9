"""Imported once, in the mail parser's fork server only (``pool._preload``), before any worker is forked.

multiprocessing has every worker re-run the parent's main module (``runpy.run_module(name,
run_name="__mp_main__")``). The fork server imported that module beforehand, so the re-run costs
nothing, and runpy warns each time that the module it runs is already imported: expected here, so
silenced in the fork server and the workers it forks (the web process is not affected).
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", category=RuntimeWarning, module="runpy",
                        message=r".* found in sys\.modules after import of package")
