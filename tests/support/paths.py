"""Where things are: the checkout, the specs and build the tests use, and the MSeg reference data.

Two kinds of tests (see tests/README.md):

- product tests (the default) run on taxonomies the tests own: small purpose-built ones and
  :data:`MSEG_SPECS`, a frozen copy of the bundled MSeg specs, compiled once per test run into
  :data:`GENERATED` (tests/support/session.py), which is also what ``unitax.load()`` returns in
  the tests and in the subprocesses they start. ``SPECS`` is ``MSEG_SPECS``.
- tests of the user's taxonomy (marker ``live_taxonomy``, tests/test_user_taxonomy.py) read
  :data:`LIVE_SPECS` and :data:`LIVE_GENERATED` and assert only what holds for any valid taxonomy.

A product test that reads taxonomy/ or generated/ fails (the guard in tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

from . import session

ROOT = Path(__file__).resolve().parents[2]
#: the user's specs and build (only tests marked ``live_taxonomy`` may read them)
LIVE_SPECS = ROOT / "taxonomy"
LIVE_GENERATED = ROOT / "generated"
#: the user's specs and builds of the other bundled taxonomies (taxonomies/<name>, builds/<name>)
LIVE_OTHER_SPECS = ROOT / "taxonomies"
LIVE_OTHER_BUILDS = ROOT / "builds"
#: the frozen copies of the bundled UT and RVC specs, compiled once per run into the tests' package
#: (``unitax.load("ut")``; :func:`support.session.build_of`)
UT_SPECS = session.frozen_specs("ut")
RVC_SPECS = session.frozen_specs("rvc")
#: the published UT and RVC taxonomies (outside the repo, like REFERENCE)
UT_REFERENCE = ROOT.parent / "shared" / "reference" / "ut"
RVC_REFERENCE = ROOT.parent / "shared" / "reference" / "rvc"
#: the frozen copy of the bundled MSeg specs (refresh: ``python tests/support/freeze_mseg.py``)
MSEG_SPECS = ROOT / "tests" / "fixtures" / "mseg-specs"
#: the specs product tests compile and read: the frozen MSeg copy
SPECS = MSEG_SPECS
#: the frozen MSeg copy compiled once for this test run (the build ``unitax.load()`` returns in tests)
GENERATED = session.build_dir()
#: read-only, outside the repo (developer machines and CI); tests that need it take the
#: ``reference`` fixture, which skips where it is absent
REFERENCE = ROOT.parent / "shared" / "reference" / "mseg"
