"""Facts of the build the product tests use (the frozen MSeg copy, compiled once per run).

Importing this sets up the tests' package first (support/session.py), also outside pytest (the
fuzz scripts), so ``unitax.load()`` is the frozen MSeg build here.
"""

from __future__ import annotations

from . import session

session.activate()

import unitax  # noqa: E402

#: the number of universal classes of the tests' build
N_UNIVERSAL = len(unitax.load().universal_names)
