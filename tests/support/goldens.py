"""Golden files: what the emitters make of the tiny fixture taxonomy in ``tests/goldens/specs/``, kept in
``tests/goldens/out/`` (the fixture is the tests' own, so the goldens hold for any user taxonomy).

Run the tests with ``UNITAX_UPDATE_GOLDENS=1`` to rewrite them after an intended change, then
review the diff of ``tests/goldens/out`` like any other change.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from .paths import ROOT

OUT = ROOT / "tests" / "goldens" / "out"
SPECS = ROOT / "tests" / "goldens" / "specs"


def updating() -> bool:
    return os.environ.get("UNITAX_UPDATE_GOLDENS") == "1"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(OUT).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def check_goldens(files: dict[str, bytes], sub: str) -> None:
    """Assert that ``files`` (paths starting with ``sub/``) equal the goldens under ``out/sub``."""
    assert files and all(rel.startswith(f"{sub}/") for rel in files)
    if updating():
        for old in _tree(OUT / sub):
            (OUT / old).unlink()
        for rel, data in files.items():
            p = OUT / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    stored = _tree(OUT / sub)
    missing, extra = sorted(set(files) - set(stored)), sorted(set(stored) - set(files))
    assert not missing and not extra, (f"goldens differ in name (missing {missing}, extra {extra}); "
                                       "rerun with UNITAX_UPDATE_GOLDENS=1 if intended")
    for rel in sorted(files):
        if stored[rel] == files[rel]:
            continue
        if not rel.endswith((".html", ".md", ".svg", ".csv", ".tsv")):
            pytest.fail(f"{rel} differs from its golden; rerun with UNITAX_UPDATE_GOLDENS=1 if intended")
        diff = "\n".join(difflib.unified_diff(stored[rel].decode().splitlines(), files[rel].decode().splitlines(),
                                              f"golden/{rel}", f"rendered/{rel}", lineterm="", n=2))
        pytest.fail(f"{rel} differs from its golden (UNITAX_UPDATE_GOLDENS=1 rewrites it):\n{diff[:4000]}")
