"""The package the tests import: the checkout's code with the frozen MSeg build as its bundled build.

:func:`activate` (called by tests/conftest.py before anything imports ``unitax``, and by the
fuzz scripts) makes a temporary folder holding ``unitax/``, the installed package layout as
symlinks to the checkout (runtime/ entries, compiler/, tools/), except ``unitax/generated``: a
real folder into which the frozen MSeg specs (tests/fixtures/mseg-specs) are compiled, once per
test process (under pytest-xdist: once per worker, each in a folder of its own; the controller,
which runs no test, compiles none: tests/conftest.py), and ``unitax/builds/<name>``, the same for
the other bundled taxonomies (tests/fixtures/ut-specs, rvc-specs), so that ``unitax.load("ut")``
returns the frozen UT build. The folder goes first on ``sys.path`` and on ``PYTHONPATH`` (so
subprocesses that run ``python -m unitax.tools.cli``, the ``unitax`` script or ``import unitax`` get
it too), so ``unitax.load()`` returns the frozen build and no product test depends on the user's
generated/.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_FROZEN = _ROOT / "tests" / "fixtures" / "mseg-specs"
#: the frozen specs of the other bundled taxonomies (unitax.bundled lists them) are
#: tests/fixtures/<name>-specs, compiled into their package folder of the tests' package
#: (``unitax/builds/<name>``), so ``unitax.load("ut")`` returns the frozen build (refresh them all:
#: ``python tests/support/freeze_mseg.py``)


def frozen_specs(name: str) -> Path:
    """The frozen spec copy of the bundled taxonomy ``name`` (``mseg``, ``rvc``, ``ut``)."""
    return _FROZEN if name == "mseg" else _ROOT / "tests" / "fixtures" / f"{name}-specs"
#: set by the first activate(): the temporary folder put on sys.path
_TREE: Path | None = None
#: whether this process compiled the frozen specs into the tree (ensure_built)
_BUILT = False
#: PYTHONPATH as it was before activate() (tests that start a process on purpose without the tree)
ORIGINAL_PYTHONPATH = os.environ.get("PYTHONPATH")


def tree() -> Path:
    """The folder on sys.path that holds the tests' ``unitax`` package (putting it there if needed; the
    build in it is :func:`activate`'s or :func:`ensure_built`'s to make)."""
    activate(build=False)
    assert _TREE is not None
    return _TREE


def build_dir() -> Path:
    """Where the frozen MSeg specs are compiled for this test process (``unitax.generated`` of the tests'
    package)."""
    return tree() / "unitax" / "generated"


def build_of(name: str) -> Path:
    """The frozen specs of the bundled taxonomy ``name`` compiled for this test run."""
    from unitax.bundled import entry

    return tree().joinpath(*entry(name).package.split("."))


def package_tree(repo: Path, dest: Path, generated: Path | None = None) -> Path:
    """``dest/unitax``: the installed package layout of ``repo`` as symlinks; returns ``dest`` (for sys.path).

    ``generated``: the build to bundle (a symlink to it); None leaves ``unitax/generated`` absent.
    """
    pkg = dest / "unitax"
    pkg.mkdir(parents=True)
    for p in sorted((repo / "runtime").iterdir()):
        if p.name != "__pycache__":
            (pkg / p.name).symlink_to(p)
    (pkg / "builds").mkdir()   # unitax.builds: a real folder, its builds compiled by activate()
    (pkg / "builds" / "__init__.py").symlink_to(repo / "builds" / "__init__.py")
    (pkg / "compiler").symlink_to(repo / "compiler")
    (pkg / "tools").symlink_to(repo / "tools")
    if generated is not None:
        (pkg / "generated").symlink_to(generated)
    return dest


def activate(*, build: bool = True) -> None:
    """Make the tests' package tree, put it first on the paths, and (``build``) compile the frozen MSeg
    specs into it; ``build=False`` leaves the compile to :func:`ensure_built`."""
    global _TREE
    if _TREE is None:
        # pytest's own config imports unitax.taxonomy before any conftest (the StaleBuildWarning filter in
        # pyproject.toml): forget those modules, so that every later import comes from the tree (pytest
        # resolves its warning filters again for each test, so they meet the tree's classes)
        for name in [m for m in sys.modules if m == "unitax" or m.startswith("unitax.")]:
            del sys.modules[name]
        tmp = Path(tempfile.mkdtemp(prefix="unitax-tests-"))
        atexit.register(shutil.rmtree, tmp, True)
        package_tree(_ROOT, tmp)
        sys.path.insert(0, str(tmp))
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(tmp) + (os.pathsep + old if old else "")
        _TREE = tmp
    if build:
        ensure_built()


def ensure_built() -> None:
    """Compile the frozen specs of every bundled taxonomy into the tree (MSeg's into ``unitax/generated``)
    unless this process did already."""
    global _BUILT
    activate(build=False)
    if _BUILT:
        return
    from unitax.bundled import BUNDLED
    from unitax.compiler import build

    tree_ = tree()
    for b in BUNDLED:   # the frozen MSeg specs into unitax/generated, the others into unitax/builds/<name>
        build.compile_taxonomy(frozen_specs(b.name), tree_.joinpath(*b.package.split(".")))
    _BUILT = True
