"""Refresh the frozen specs the product tests run on: ``python tests/support/freeze_mseg.py``
(MSeg's taxonomy/ into tests/fixtures/mseg-specs; taxonomies/ut and taxonomies/rvc into
tests/fixtures/ut-specs and rvc-specs).

tests/fixtures/mseg-specs/ is a copy of taxonomy/ as the project ships it (the MSeg taxonomy).
The product tests (compiler, rules, corpus, emitters, runtime, importers, MSeg fidelity) compile
and read this copy, never taxonomy/, so a user's edit of taxonomy/ cannot break them. When the
project itself changes the bundled taxonomy, run this script and commit the copy with the
change; git stores identical files once, so the copy costs nothing in the repository.
``UNITAX_EXPECT_MSEG=1 pytest tests/test_user_taxonomy.py`` (as .ci/run does) fails while the
two differ.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIVE = ROOT / "taxonomy"
FROZEN = ROOT / "tests" / "fixtures" / "mseg-specs"


def freeze(src: Path = LIVE, dest: Path = FROZEN) -> int:
    """Replace ``dest`` by a copy of the spec files of ``src``; returns the number of files copied."""
    if not (src / "universal.yaml").is_file():
        raise SystemExit(f"{src}: no universal.yaml, not a taxonomy folder")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return sum(1 for p in dest.rglob("*") if p.is_file())


if __name__ == "__main__":
    # the other bundled taxonomies (unitax.bundled, as this checkout's editable install maps it): their spec
    # roots into tests/fixtures/<name>-specs, which tests/support/session.py compiles into the tests' package
    from unitax.bundled import BUNDLED

    n = freeze()
    print(f"froze {LIVE.relative_to(ROOT)} into {FROZEN.relative_to(ROOT)} ({n} files)", file=sys.stderr)
    for b in BUNDLED[1:]:
        src, dest = ROOT.joinpath(*b.specs.split("/")), ROOT / "tests" / "fixtures" / f"{b.name}-specs"
        n = freeze(src, dest)
        print(f"froze {src.relative_to(ROOT)} into {dest.relative_to(ROOT)} ({n} files)", file=sys.stderr)
