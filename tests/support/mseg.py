"""Is the taxonomy still the bundled MSeg one? (Tests that pin MSeg facts skip when it is not.)

A user who edits taxonomy/ validly (a new dataset, a new or split universal class) must still
see `make test` pass: tests of facts of the bundled MSeg taxonomy (class counts, particular
classes and mappings, equality with the MSeg reference files) carry ``@pytest.mark.mseg_specs``
(or ``pytestmark``) and skip with :data:`SKIP_REASON` there; everything that holds for any valid
taxonomy keeps running.

"MSeg" is decided by :func:`fingerprint` of the compiled label spaces (``generated/``, which
``unitax check`` keeps in step with ``taxonomy/``): the universal classes, every dataset's role
and classes, and every look-up table and test matrix, by value. Wording (definitions, notes,
colours) does not count, so editing a description never turns the MSeg tests off.

In the project's own CI (``.ci/run`` sets ``UNITAX_EXPECT_MSEG=1``) a mismatch fails instead of
skipping, so a change to the bundled taxonomy cannot silently switch those tests off: when the
change is intended, record the new value (``python tests/support/mseg.py`` prints it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Any

#: :func:`fingerprint` of the bundled MSeg taxonomy as compiled into generated/
MSEG_FINGERPRINT = "417b6330fc688238e94f2ccc9f4deed2bb031d99bbad15dd8b39be0480d38198"
SKIP_REASON = "specs are no longer the bundled MSeg taxonomy (MSeg-pinned test; see tests/support/mseg.py)"
EXPECT_ENV = "UNITAX_EXPECT_MSEG"


def fingerprint(tax: Any) -> str:
    """sha256 over the label spaces and tables of a loaded taxonomy (see the module docstring)."""
    from unitax import UnitaxError

    h = hashlib.sha256()

    def put(*parts: Any) -> None:
        h.update(json.dumps(parts).encode("utf-8") + b"\n")

    put("universal", list(tax.universal_names))
    for ds in sorted(tax.datasets):
        put("dataset", ds, tax.role(ds), list(tax.names(ds)))
        for what, table in (("lut", tax.lut), ("matrix", tax.matrix)):
            try:
                put(what, ds, table(ds).tolist())
            except UnitaxError:  # no mapping in that direction
                pass
    for src, dst in tax.remaps:
        put("remap", src, dst, tax.remap_lut(src, dst).tolist())
    put("relabel", list(tax.relabel_datasets))
    return h.hexdigest()


@functools.cache
def current_fingerprint() -> str:
    import unitax

    return fingerprint(unitax.load())


def is_mseg() -> bool:
    return current_fingerprint() == MSEG_FINGERPRINT


def require_mseg() -> None:
    """Skip the calling test unless the taxonomy is the bundled MSeg one (fail in project CI)."""
    import pytest

    if is_mseg():
        return
    if os.environ.get(EXPECT_ENV) == "1":
        pytest.fail(f"{EXPECT_ENV}=1 but the compiled taxonomy's fingerprint {current_fingerprint()} is not the "
                    f"recorded MSeg one: if the change to taxonomy/ is intended, set MSEG_FINGERPRINT in "
                    "tests/support/mseg.py to it", pytrace=False)
    pytest.skip(SKIP_REASON)


if __name__ == "__main__":
    print(current_fingerprint())
