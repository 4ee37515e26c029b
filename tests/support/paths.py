"""Where things are: the checkout, its specs and build, and the MSeg reference data beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "taxonomy"
GENERATED = ROOT / "generated"
#: read-only, outside the repo (developer machines and CI); tests that need it take the
#: ``reference`` fixture, which skips where it is absent
REFERENCE = ROOT.parent / "shared" / "reference" / "mseg"
