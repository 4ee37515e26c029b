"""Are the user's specs still the bundled MSeg taxonomy? (one test asks: tests/test_user_taxonomy.py)

Product tests no longer ask: they always run on the frozen copy of the MSeg specs
(tests/fixtures/mseg-specs, compiled once per run; support/session.py), whatever taxonomy/ holds.
What remains is the fidelity of the *live* specs: taxonomy/ equals the frozen copy, file for
file. A user who edited taxonomy/ sees that one test skip with :data:`SKIP_REASON`; the project's
CI (``.ci/run`` sets ``UNITAX_EXPECT_MSEG=1``) fails on a difference instead, so a change to the
bundled taxonomy must refresh the copy (``python tests/support/freeze_mseg.py``) in the same commit.
"""

from __future__ import annotations

import os
from pathlib import Path

SKIP_REASON = "specs are no longer the bundled MSeg taxonomy"
EXPECT_ENV = "UNITAX_EXPECT_MSEG"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def differences(live: Path, frozen: Path) -> list[str]:
    """The files that differ between two spec folders (``+`` only in live, ``-`` only in frozen, ``~`` changed)."""
    a, b = _files(live), _files(frozen)
    return ([f"+ {k}" for k in sorted(a.keys() - b.keys())] + [f"- {k}" for k in sorted(b.keys() - a.keys())]
            + [f"~ {k}" for k in sorted(a.keys() & b.keys()) if a[k] != b[k]])


def expect_mseg() -> bool:
    """True in the project's CI, where the live specs must be the bundled MSeg taxonomy."""
    return os.environ.get(EXPECT_ENV) == "1"


def require_mseg() -> None:
    """Kept for tests written against the old ``mseg_specs`` marker: nothing to do any more, since
    every product test runs on the frozen MSeg copy (support.paths.SPECS / GENERATED)."""
