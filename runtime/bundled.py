"""The one list of the taxonomies unitax ships: name -> spec root -> build -> the package that holds it.

``unitax.load(name)`` finds a bundled build by its name here; `unitax compile --bundled` and
`unitax check --bundled` (what `make compile` and `make check` run) compile and check each one
from its spec root into its build; the stale-build warning of a development checkout finds the
specs of a build here. Adding a taxonomy to the package is one entry below, plus its package data
in pyproject.toml.

Standard library only (the runtime's rule); the compiler never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from .errors import IntegrityError, UnitaxError


@dataclass(frozen=True)
class Bundled:
    """One bundled taxonomy: its name, where its specs and its build live in a checkout (relative to
    the repository root, ``/``-separated), and the package that holds the build once installed."""

    name: str
    specs: str
    build: str
    package: str
    title: str


#: every bundled taxonomy, the default first (``unitax.load()`` with no argument loads it)
BUNDLED: tuple[Bundled, ...] = (
    Bundled("mseg", "taxonomy", "generated", "unitax.generated",
            "MSeg (Lambert et al., CVPR 2020): 194 universal classes"),
    Bundled("rvc", "taxonomies/rvc", "builds/rvc", "unitax.builds.rvc",
            "Robust Vision Challenge 2022 joint segmentation taxonomy: 255 universal classes"),
    Bundled("ut", "taxonomies/ut", "builds/ut", "unitax.builds.ut",
            "universal taxonomy of Bevandić et al. (WACV 2022): 259 universal classes, union mappings"),
)
DEFAULT = BUNDLED[0].name


def taxonomies() -> tuple[str, ...]:
    """The names of the bundled taxonomies, for ``unitax.load(name)``: ``('mseg', 'rvc', 'ut')``."""
    return tuple(b.name for b in BUNDLED)


def entry(name: str) -> Bundled:
    """The bundled taxonomy ``name``; UnitaxError naming the known ones otherwise."""
    for b in BUNDLED:
        if b.name == name:
            return b
    raise UnitaxError(f"{name!r} is not a bundled taxonomy (bundled: {', '.join(taxonomies())}) nor a folder; "
                      "pass a build folder's path (e.g. Path(name) or './name') to load one")


def build_path(name: str) -> Path:
    """The folder of the bundled build ``name``: ``generated/`` or ``builds/<name>/`` of the checkout,
    or its package folder when installed."""
    b = entry(name)
    try:
        spec = find_spec(b.package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise IntegrityError(f"the bundled compiled taxonomy {name!r} ({b.package}) is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def of_build(build: Path) -> tuple[Bundled, Path] | None:
    """(entry, repository root) where ``build`` is the build folder of a bundled taxonomy in a checkout
    (its path ends with the entry's ``build``), else None."""
    parts = build.parts
    for b in BUNDLED:
        tail = tuple(b.build.split("/"))
        if len(parts) >= len(tail) and parts[-len(tail):] == tail:
            return b, Path(*parts[: -len(tail)]) if len(parts) > len(tail) else Path(".")
    return None
