"""Fixtures and hooks only (helpers live in tests/support/): the tests' package and build, the guard
that keeps product tests off the user's taxonomy, and the reference data (skipped where absent).

Two kinds of tests, by construction (tests/README.md):

- **product tests** (every test not marked ``live_taxonomy``) run on taxonomies the tests own.
  ``unitax`` is imported from a temporary package tree whose bundled build is the frozen copy of
  the MSeg specs (tests/fixtures/mseg-specs) compiled once per test process (support/session.py), in
  this process and in every subprocess that inherits PYTHONPATH. A product test that opens,
  lists or copies anything under taxonomy/ or generated/, or starts a process on them, fails with
  :class:`LiveTaxonomyRead`: an audit hook watches this process's file reads.
- **tests of the user's taxonomy** (``@pytest.mark.live_taxonomy``) may read taxonomy/ and
  generated/ and assert only what holds for any valid taxonomy (tests/test_user_taxonomy.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support import session

session.activate(build=False)  # before anything imports unitax: the tests' package (its build: pytest_configure)

import pytest  # noqa: E402
from support.paths import (  # noqa: E402
    LIVE_GENERATED,
    LIVE_OTHER_BUILDS,
    LIVE_OTHER_SPECS,
    LIVE_SPECS,
    REFERENCE,
    ROOT,
)


class LiveTaxonomyRead(Exception):
    """A product test touched the user's taxonomy/ or generated/ (mark it ``live_taxonomy`` if it is a
    test of the user's taxonomy, or give it the frozen copy: support.paths.SPECS / GENERATED)."""


_LIVE = tuple(str(p) for p in (LIVE_SPECS, LIVE_GENERATED, LIVE_OTHER_SPECS, LIVE_OTHER_BUILDS))
_ROOT = str(ROOT)
_TREE = session.tree()
#: the node id of the product test running now (None: a live test, or no test running)
_guarded: list[str | None] = [None]
_violations: dict[str, list[str]] = {}


def _live(path: Any, cwd: str | None = None) -> bool:
    if isinstance(path, int):
        return False
    try:
        p = os.fsdecode(os.fspath(path))
    except TypeError:
        return False
    if not p:
        return False
    if not os.path.isabs(p):
        p = os.path.join(cwd or os.getcwd(), p)
    p = os.path.normpath(p)
    return any(p == live or p.startswith(live + os.sep) for live in _LIVE)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    test = _guarded[0]
    if test is None:
        return
    what = None
    if event in ("open", "os.listdir", "os.scandir", "glob.glob", "shutil.copytree", "shutil.copyfile", "os.chdir"):
        if args and _live(args[0]):
            what = f"{event} {args[0]}"
    elif event == "subprocess.Popen":
        exe, argv, cwd, env = args
        argv = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv or ())
        cwd_s = os.path.normpath(os.path.abspath(os.fsdecode(cwd))) if cwd is not None else os.getcwd()
        live_args = [a for a in argv if isinstance(a, (str, os.PathLike)) and _live(a, cwd_s)]
        if live_args:
            what = f"a process on {live_args[0]}"
        elif cwd_s == _ROOT:  # where `taxonomy` and `generated` are the CLI's defaults
            what = f"a process in the checkout ({' '.join(map(str, argv[:4]))} ...)"
        elif (env is not None and os.fsdecode(exe if exe is not None else argv[0]) == sys.executable
              and str(_TREE) not in str(env.get("PYTHONPATH", ""))):  # would import the checkout's generated/
            what = f"a Python process without the tests' package on PYTHONPATH ({' '.join(map(str, argv[:4]))} ...)"
    if what is not None:
        _violations.setdefault(test, []).append(what)
        raise LiveTaxonomyRead(f"{test}: a product test read the user's taxonomy ({what}); use the frozen copy "
                               "(support.paths.SPECS / GENERATED) or mark it live_taxonomy")


sys.addaudithook(_audit)


def _xdist_controller(config: pytest.Config) -> bool:
    """True in the process that hands the tests to pytest-xdist's workers (``-n N``, N > 0): it runs none."""
    return getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """The frozen MSeg build of this process (support/session.py) and the hypothesis profile
    (support/examples.py): ``fast`` where the slow tests are deselected (``make test-fast``: -m "not
    slow"), ``full`` otherwise (``make test``); UNITAX_HYPOTHESIS_PROFILE overrides. Both before the
    test modules are imported (collection), so their counts and parameters see them. The xdist
    controller needs neither: each worker makes its own."""
    if _xdist_controller(config):
        return
    if hasattr(config, "workerinput"):
        # a worker per core already: the compiler's forked renders (compiler/perf.py) would only add the
        # fork of a large process; the tests of that fork clear or set UNITAX_JOBS themselves (test_cache)
        os.environ.setdefault("UNITAX_JOBS", "1")
    session.ensure_built()
    from hypothesis import settings
    from support import examples  # noqa: F401 - registers the profiles

    fast = "not slow" in (config.getoption("markexpr", "") or "")
    settings.load_profile(os.environ.get("UNITAX_HYPOTHESIS_PROFILE") or ("fast" if fast else "full"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    live = item.get_closest_marker("live_taxonomy") is not None
    _guarded[0] = None if live else item.nodeid
    try:
        yield
    finally:
        _guarded[0] = None


@contextlib.contextmanager
def _in_new_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp(name))
    try:
        yield
    finally:
        os.chdir(old)


@pytest.fixture(scope="session", autouse=True)
def _the_session_runs_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Fixtures of a wider scope (a module's browser, a module's builds) start outside the checkout too."""
    with _in_new_folder(tmp_path_factory, "session-cwd"):
        yield


@pytest.fixture(autouse=True)
def _product_tests_run_elsewhere(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A product test runs in an empty folder of its own, so that the CLI's defaults (``--specs taxonomy``,
    ``--out generated``) and other relative paths never land on the user's checkout."""
    if request.node.get_closest_marker("live_taxonomy") is not None:
        yield
        return
    with _in_new_folder(tmp_path_factory, "cwd"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    seen = _violations.pop(item.nodeid, None)
    if seen and not report.failed:  # raised in the code under test, and swallowed there
        report.outcome = "failed"
        report.longrepr = f"product test read the user's taxonomy: {'; '.join(seen)}"


@pytest.fixture(scope="session")
def reference() -> Path:
    """The MSeg reference data beside the checkout (../shared/reference/mseg).

    Tests that read it compare with MSeg's own files; they run on the frozen MSeg copy, which is
    the taxonomy those files describe.
    """
    if not (REFERENCE / "class_remapping_files" / "MSeg_master.tsv").is_file():
        pytest.skip(f"MSeg reference data not found at {REFERENCE} (it lives outside the repo; "
                    "present on developer machines and in CI, absent in a user's clone)")
    return REFERENCE


@pytest.fixture(scope="session")
def mseg_model() -> Any:
    """The validated model of the frozen MSeg specs, built once per run (a frozen dataclass: share it)."""
    from support.paths import SPECS

    from unitax.compiler import build

    m, problems = build.check_specs(SPECS)
    assert m is not None, [str(p) for p in problems]
    return m


@pytest.fixture(scope="session")
def tax() -> Any:
    """The frozen MSeg build (the tests' bundled build)."""
    import unitax

    return unitax.load()
