"""Runtime: the warning that the bundled build of a development checkout is stale.

Where a bundled build has its specs beside it (a checkout, not an installed wheel: ``generated/``
and ``taxonomy/``, ``builds/<name>/`` and ``taxonomies/<name>/``, as :mod:`unitax.bundled` lists
them), a load of the build compares the specs there with those the build was compiled from: by times
first, by content only where times say something changed (:func:`warn_if_stale`). A warning,
never an error: the build itself is verified file by file by :mod:`unitax.loader` either way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .bundled import of_build
from .fileops.read import read_regular
from .fileops.walk import files
from .format import specs_digest


class StaleBuildWarning(UserWarning):
    """The bundled build of a development checkout does not match the specs beside it."""


#: seconds a spec may be newer than the manifest before its content is checked (a fresh clone
#: writes generated/ just before taxonomy/)
STALE_SLACK_S = 2.0
#: the file kinds under taxonomy/ whose times are watched (specs, schemas, segment lists)
_SPEC_SUFFIXES = (".yaml", ".yml", ".json", ".tsv")
_warned: set[str] = set()


def _schema_dir(specs: Path) -> Path | None:
    """Where the schemas hashed as ``schemas/<name>`` live: the spec folder's own, else the
    compiler's (found without importing it); None where neither is there."""
    own = specs / "schemas"
    if (own / "mapping.schema.json").is_file():
        return own
    from importlib.util import find_spec

    try:
        spec = find_spec("unitax.compiler")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "schemas"


def _read_input(p: Path) -> bytes | None:
    """The bytes of the regular file ``p``, None where it is missing or not one (never blocks)."""
    try:
        return read_regular(p)
    except OSError:  # missing, unreadable, or not a regular file (NotRegularFile)
        return None


def _specs_differ(specs: Path, manifest: dict[str, Any], built: float) -> str | None:
    """Why the specs beside a build are not those it was compiled from (by content), or None when
    they are; None also where the manifest does not say what it was compiled from."""
    listed = manifest.get("specs_files")
    digest = manifest.get("specs_sha256")
    if not (isinstance(listed, list) and all(isinstance(r, str) for r in listed) and isinstance(digest, str)):
        return "changed"  # a build that lists no inputs: times are all there is to go by
    schemas = _schema_dir(specs)
    blobs = []
    for rel in listed:
        p = schemas / rel.split("/", 1)[1] if rel.startswith("schemas/") and schemas is not None else specs / rel
        raw = _read_input(p)
        if raw is None:
            return f"{p} is gone"
        blobs.append((rel, raw))
    if specs_digest(blobs) != digest:
        return "changed"
    known = set(listed)
    for p in files(specs, _SPEC_SUFFIXES):
        rel = os.path.relpath(p, specs).replace(os.sep, "/")
        if rel not in known and os.stat(p).st_mtime > built + STALE_SLACK_S:
            return f"{p} is new"
    return None


def _newest(folder: str) -> tuple[float, str]:
    """(modification time, path) of the newest spec file under ``folder`` (0.0 and "" where none;
    the first in the leaf's sorted walk on a tie): names from :func:`unitax.fileops.walk.files`
    (no ``stat`` but of the spec files; links to folders not followed, a folder that cannot be
    listed passed over)."""
    newest, name = 0.0, ""
    for p in files(folder, _SPEC_SUFFIXES):
        t = os.stat(p).st_mtime
        if t > newest:
            newest, name = t, p
    return newest, name


def warn_if_stale(build: Path, manifest: dict[str, Any] | None = None) -> None:
    """Warn (:class:`StaleBuildWarning`, once per build folder) when ``build`` is the build of a bundled
    taxonomy in a development checkout (``generated/`` with ``taxonomy/`` beside it, ``builds/ut/``
    with ``taxonomies/ut/``: :mod:`unitax.bundled`) and the specs there are not those it was
    compiled from.

    Times first: where no spec file (nor schema) was modified after the manifest was written,
    nothing is read. Otherwise content decides: the files the manifest lists (``specs_files``)
    are hashed again and compared with its ``specs_sha256``, and a spec file it does not list
    counts as a change; so a ``touch``, a ``git checkout`` or an edit undone does not warn (and
    `unitax compile` of unchanged specs refreshes the manifest's time, so that later loads read
    nothing again). Never in an installed wheel, which ships no specs;
    ``UNITAX_NO_STALE_WARNING=1`` silences it.
    """
    import warnings

    key = str(build)
    if key in _warned or os.environ.get("UNITAX_NO_STALE_WARNING"):
        return
    found = of_build(build)
    if found is None:
        return
    specs = found[1].joinpath(*found[0].specs.split("/"))
    try:
        if not (specs / "universal.yaml").is_file():
            return
        built = (build / "manifest.json").stat().st_mtime
        newest, name = _newest(str(specs))
        schemas = _schema_dir(specs)
        for f in os.listdir(schemas) if schemas is not None else []:
            if f.endswith(".json"):
                p = os.path.join(str(schemas), f)
                t = os.stat(p).st_mtime
                if t > newest:
                    newest, name = t, p
    except OSError:
        return
    if newest <= built + STALE_SLACK_S:
        return
    if manifest is None:
        try:
            manifest = json.loads(_read_input(build / "manifest.json") or b"{}")
        except (ValueError, RecursionError):
            manifest = {}
    try:
        why = _specs_differ(specs, manifest if isinstance(manifest, dict) else {}, built)
    except OSError:
        why = "changed"
    if why is None:
        return
    _warned.add(key)
    what = f"{name} was modified after {build} was compiled" if why == "changed" else \
        f"{why} since {build} was compiled"
    warnings.warn(f"unitax: {what} and the specs differ from those it was compiled from: the bundled tables may "
                  "not match the specs; run `make compile` (`unitax check` says which files differ)",
                  StaleBuildWarning, stacklevel=3)
