"""Shared fixtures: the repo layout, the reference data (skipped where absent), the bundled build."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "taxonomy"
GENERATED = ROOT / "generated"
REFERENCE = ROOT.parent / "shared" / "reference" / "mseg"


@pytest.fixture(scope="session")
def reference() -> Path:
    """The MSeg reference data beside the checkout (../shared/reference/mseg)."""
    if not (REFERENCE / "class_remapping_files" / "MSeg_master.tsv").is_file():
        pytest.skip(f"MSeg reference data not found at {REFERENCE} (it lives outside the repo; "
                    "present on developer machines and in CI, absent in a user's clone)")
    return REFERENCE


@pytest.fixture(scope="session")
def tax():
    import unitax

    return unitax.load()
