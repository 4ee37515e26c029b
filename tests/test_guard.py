"""The guard that keeps product tests off the user's taxonomy (tests/conftest.py) does its job."""

from __future__ import annotations

import os
import subprocess
import sys

import conftest
import pytest
from support.paths import GENERATED, LIVE_GENERATED, LIVE_SPECS, MSEG_SPECS, ROOT, SPECS

import unitax


def test_a_product_test_cannot_read_the_users_taxonomy(request):
    with pytest.raises(conftest.LiveTaxonomyRead, match="taxonomy/universal.yaml"):
        (LIVE_SPECS / "universal.yaml").read_bytes()
    with pytest.raises(conftest.LiveTaxonomyRead):
        os.listdir(LIVE_GENERATED)
    with pytest.raises(conftest.LiveTaxonomyRead):
        unitax.load(LIVE_GENERATED)
    with pytest.raises(conftest.LiveTaxonomyRead, match="a process in the checkout"):
        subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT)
    with pytest.raises(conftest.LiveTaxonomyRead, match="without the tests' package"):
        subprocess.run([sys.executable, "-c", "pass"], env={"PATH": os.environ.get("PATH", "")})
    assert len(conftest._violations.pop(request.node.nodeid)) == 5  # made on purpose: not held against this test


def test_a_swallowed_read_still_fails_the_test(request):
    try:
        (LIVE_SPECS / "universal.yaml").read_bytes()
    except Exception:
        pass
    assert conftest._violations.pop(request.node.nodeid) == [f"open {LIVE_SPECS / 'universal.yaml'}"]


def test_a_product_test_runs_on_the_frozen_copy_in_a_folder_of_its_own():
    assert SPECS == MSEG_SPECS and (SPECS / "universal.yaml").is_file()
    assert unitax.load().path == GENERATED and not GENERATED.is_relative_to(ROOT)
    assert os.getcwd() != str(ROOT) and os.listdir(".") == []
    r = subprocess.run([sys.executable, "-c", "import unitax; print(unitax.load().path)"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.strip() == str(GENERATED), r.stderr


@pytest.mark.live_taxonomy
def test_a_live_test_may_read_the_users_taxonomy():
    assert (LIVE_SPECS / "universal.yaml").read_bytes()
    assert unitax.load(LIVE_GENERATED).universal_names
