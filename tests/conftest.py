"""Fixtures and hooks only (helpers live in tests/support/): the reference data (skipped where
absent), the bundled build, and the ``mseg_specs`` marker (skips where the taxonomy is no longer
the bundled MSeg one; see tests/support/mseg.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.mseg import require_mseg
from support.paths import REFERENCE


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("mseg_specs") is not None:
        require_mseg()


@pytest.fixture(scope="session")
def reference() -> Path:
    """The MSeg reference data beside the checkout (../shared/reference/mseg).

    Tests that read it compare with MSeg's own files, so they pin the bundled MSeg taxonomy too:
    they skip where taxonomy/ is no longer MSeg's (see tests/support/mseg.py).
    """
    require_mseg()
    if not (REFERENCE / "class_remapping_files" / "MSeg_master.tsv").is_file():
        pytest.skip(f"MSeg reference data not found at {REFERENCE} (it lives outside the repo; "
                    "present on developer machines and in CI, absent in a user's clone)")
    return REFERENCE


@pytest.fixture(scope="session")
def tax() -> Any:
    import unitax

    return unitax.load()
