"""Stages 1-2 with a content-addressed cache: read, parse and schema-validate every spec file (the
relabel files under relabel/ too, checked apart once the model is built), and remember the result of
each file by the hash of everything that decides it. (The segment lists the relabel records name are
read and parsed apart, uncached: compiler/load_relabel.py.)

Parsing (YAML -> plain data + line map) and structural validation of one spec file depend only on
its bytes, its path, the schemas and the compiler's code. The key of a file's entry is a sha256 of
exactly those: the file's shown path and relative path, its bytes, the schema files in use (the
package's or the spec root's own ``schemas/``), every ``compiler/`` source and schema file, the
Python, PyYAML and jsonschema builds. A hit returns the same data, line map and problems that a
fresh parse and validation would; anything else (a changed spec, schema or compiler, a missing,
corrupt or foreign cache file) is a miss and recomputes.

The cache is used only when a folder is given (``unitax compile --cache-dir``; the Makefile
passes ``.make/cache``); it holds one file for the specs, ``specs.marshal``, and one for the relabel
files, ``relabel.marshal``, each written atomically and holding only the entries of its last run, so
it never grows. ``marshal`` (not pickle) is used: loading it
runs no code, and the values are plain data (dict, list, str, int, float, bool, None); the
payload's sha256 is checked first, so a truncated or damaged file is a miss, never a crash. A
``specs.marshal`` that unitax did not write (no header of its own) is never replaced.

Within one process a second, in-memory memo remembers the files that parsed and validated without a
problem, keyed by the sha256 of their relative path, bytes and the schema files in use (the compiler's
code cannot change under a running process): the same spec file checked again (another copy of the
same specs, `add-class` checking before and after, a test suite) is read back from its marshal bytes
(fresh objects each time, never shared) instead of parsed again. A file with a problem is never
memoised, so every message names the file as it was shown this time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from unitax.fileops.atomic import write_atomic

from . import load, perf, schema
from .errors import Problem
from .relabel import RELABEL_DIR

if TYPE_CHECKING:
    from . import load_relabel

CACHE_FILE = "specs.marshal"
RELABEL_CACHE_FILE = "relabel.marshal"  # the relabel files': checked apart (after the model), cached apart
_MAGIC = "unitax-spec-cache-1"
_HEADER = b"unitax spec cache 1\n"  # then the sha256 of the marshal payload, then the payload
_COMPILER = Path(__file__).resolve().parent
#: the in-process memo: key -> marshal bytes of (data, line map) of a file with no problems
_MEMO: dict[bytes, bytes] = {}
_MEMO_MAX_BYTES = 64 << 20
_memo_bytes = 0


def _schemas_in_use(root: Path) -> list[Path]:
    """Exactly the schema files the validators read (schema.validators_for; a spec root's own relabel
    schema, which schema.relabel_validator uses without the others): never another name in schemas/
    (a FIFO there would block the read)."""
    sdir = Path(str(schema.schema_dir(Path(root))))
    used = [sdir / f"{n}.schema.json" for n in schema.SCHEMA_NAMES]
    own_relabel = Path(root) / "schemas" / schema.RELABEL_SCHEMA
    if own_relabel.is_file():
        used.append(own_relabel)
    return used


def _schema_key(root: Path) -> bytes:
    """What besides a file's relative path and bytes decides how it parses and validates in this process:
    the schema files in use (the package's or the spec root's own)."""
    h = hashlib.sha256(_MAGIC.encode())
    for p in _schemas_in_use(root):
        h.update(p.as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.digest()


def _remember(key: bytes, entry: tuple[Any, ...]) -> None:
    global _memo_bytes
    ok, data, lines, parse_rows, schema_rows = entry
    if not ok or parse_rows or schema_rows or key in _MEMO:
        return
    blob = marshal.dumps((data, lines))
    if _memo_bytes + len(blob) > _MEMO_MAX_BYTES:
        _MEMO.clear()
        _memo_bytes = 0
    _MEMO[key] = blob
    _memo_bytes += len(blob)


def _code_key(root: Path) -> bytes:
    """What, besides a file's own bytes, decides how it parses and validates."""
    h = hashlib.sha256(f"{_MAGIC}\0{sys.version}\0{yaml.__version__}\0{yaml.__with_libyaml__}\0".encode())
    spec = importlib.util.find_spec("jsonschema")
    if spec is not None and spec.origin:  # the installed jsonschema build (reinstalls rewrite these)
        base = Path(spec.origin).parent
        for name in ("__init__.py", "validators.py", "_keywords.py", "_types.py"):
            try:
                st = os.stat(base / name)
                h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}\0".encode())
            except OSError:
                h.update(f"{name}:-\0".encode())
    own = sorted(_COMPILER.glob("*.py")) + sorted((_COMPILER / "schemas").glob("*.json"))
    for p in own + _schemas_in_use(root):
        h.update(p.as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.digest()


def _problem_rows(problems: list[Problem]) -> list[tuple[Any, ...]]:
    return [(p.file, p.line, p.path, p.rule, p.message, p.severity) for p in problems]


def _read(path: Path) -> dict[Any, Any]:
    """The entries of the cache file; {} for an absent, truncated, corrupt or foreign one (the
    payload's sha256 is checked before marshal reads a byte of it)."""
    try:
        blob = path.read_bytes()
        head, digest, payload = blob[:len(_HEADER)], blob[len(_HEADER):len(_HEADER) + 32], blob[len(_HEADER) + 32:]
        if head != _HEADER or hashlib.sha256(payload).digest() != digest:
            return {}
        data = marshal.loads(payload)
    except Exception:  # noqa: BLE001 - unreadable or written by another Python: a plain miss
        return {}
    if not (isinstance(data, tuple) and len(data) == 2 and data[0] == _MAGIC and isinstance(data[1], dict)):
        return {}
    return data[1]


def _ours(path: Path) -> bool:
    """May the cache file be (re)placed: absent, empty, or a file unitax wrote (its header)?"""
    try:
        with open(path, "rb") as f:
            return f.read(len(_HEADER)) in (_HEADER, b"")
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _write(path: Path, entries: dict[Any, Any]) -> None:
    """Write the cache atomically; a cache that cannot be written is only a slower next run.
    A ``specs.marshal`` that unitax did not write is left as it is (and nothing is cached)."""
    if not _ours(path) or (os.path.lexists(path) and not path.is_file()) or path.is_symlink():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = marshal.dumps((_MAGIC, entries))
        write_atomic(path, _HEADER + hashlib.sha256(payload).digest() + payload)
    except (OSError, ValueError):
        pass


def _check_one(raw: bytes, shown: str, rel: str, validators: dict[str, Any]) -> tuple[Any, ...]:
    """Parse and validate one file: the cache entry (valid, data, lines, parse problems, schema problems)."""
    doc, parse_probs = load.parse_yaml(raw, shown, rel)
    schema_probs = schema.validate_structure(doc, Path("."), validators[schema.kind_of(doc)]) if doc is not None else []
    return (doc is not None, doc.data if doc is not None else None,
            list(doc.lines.items()) if doc is not None else [],
            _problem_rows(parse_probs), _problem_rows(schema_probs))


def _check_all(items: list[tuple[bytes, str, str]], validators: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [_check_one(raw, shown, rel, validators) for raw, shown, rel in items]


# Below this many files to parse, a second process costs more than it saves.
PARALLEL_MIN_FILES = 12


def load_and_validate(root: Path, cache_dir: Path | None = None
                      ) -> tuple[list[tuple[load.Document, list[Problem]]], list[Problem]]:
    """Every spec file under ``root`` parsed and validated: ([(document, its schema problems)],
    problems of files that could not be found, read or parsed). The same as ``load.load_specs``
    followed by ``schema.validate_structure`` on each document, with or without a cache."""
    root = Path(root)
    files, problems = load.spec_files(root)
    checked, more = _check_files(root, files, Path(cache_dir) / CACHE_FILE if cache_dir is not None else None)
    out = []
    for _, _, doc, parse_probs, schema_probs in checked:
        problems += parse_probs
        if doc is not None:
            out.append((doc, schema_probs))
    return out, problems + more


def load_and_validate_relabel(root: Path, cache_dir: Path | None = None) -> load_relabel.Sources:
    """What is under ``root/relabel`` (``load_relabel.find``), its relabel files read, parsed and
    validated as ``load_and_validate`` does every other spec file, with or without a cache (a
    file of their own, RELABEL_CACHE_FILE: they are checked once the model is built, apart from
    the other specs). The segment files their records name are read by
    ``load_relabel.read_segments``."""
    from . import load_relabel  # numpy: imported once the model exists (build.py)

    root = Path(root)
    sources = load_relabel.Sources(load_relabel.find(root))
    sources.problems += sources.found.problems
    checked, more = _check_files(root, sources.found.to_read,
                                 Path(cache_dir) / RELABEL_CACHE_FILE if cache_dir is not None else None)
    for rel, raw, doc, parse_probs, schema_probs in checked:
        sources.files[rel] = raw
        sources.problems += parse_probs + schema_probs
        if doc is not None and not schema_probs:
            sources.docs.append(doc)
    sources.problems += more
    return sources


def _check_files(root: Path, files: list[tuple[str, Path]], cache_path: Path | None
                 ) -> tuple[list[tuple[str, bytes, load.Document | None, list[Problem], list[Problem]]], list[Problem]]:
    """Read, parse and validate ``files`` ((rel, path), in order) with the cache at ``cache_path``:
    ([(rel, bytes, document or None, parse problems, schema problems)] of the files read, in
    order; problems of the files that could not be read).

    Files not in the cache are parsed and validated in two halves, one of them in a forked child
    (perf.Background) when there are enough of them; the results are the same either way."""
    problems: list[Problem] = []
    old = _read(cache_path) if cache_path is not None else {}
    code = _code_key(root) if cache_path is not None else b""
    read: list[tuple[bytes, str, str, bytes]] = []  # (key, shown, rel, raw) in file order
    for rel, p in files:
        shown = p.as_posix()
        raw, probs = load.read_spec(p, shown)
        problems += probs
        if raw is not None:
            key = hashlib.sha256(code + shown.encode() + b"\0" + rel.encode() + b"\0" + raw).digest() if code else b""
            read.append((key, shown, rel, raw))
    entries: dict[int, tuple[Any, ...]] = {}
    base = _schema_key(root)
    memo_keys = [hashlib.sha256(base + rel.encode() + b"\0" + raw).digest() for _, _, rel, raw in read]
    for i, (key, _, _, _) in enumerate(read):
        hit = old.get(key) if key else None
        if isinstance(hit, tuple) and len(hit) == 5:
            entries[i] = hit
        elif (blob := _MEMO.get(memo_keys[i])) is not None:
            data, lines = marshal.loads(blob)
            entries[i] = (True, data, lines, [], [])
    todo = [i for i in range(len(read)) if i not in entries]
    if todo:
        validators = _validators(root, [read[i][2] for i in todo])  # built before the fork: the child shares them
        by_size = sorted(todo, key=lambda i: -len(read[i][3]))
        mine, theirs = (by_size[0::2], by_size[1::2]) if len(todo) >= PARALLEL_MIN_FILES else (by_size, [])
        # no child for an empty half (the edit loop: one file to check)
        side = perf.Background(_check_all, [(read[i][3], read[i][1], read[i][2]) for i in theirs],
                               validators) if theirs else None
        try:
            done = _check_all([(read[i][3], read[i][1], read[i][2]) for i in mine], validators)
            for i, entry in zip(mine, done, strict=True):
                entries[i] = entry
            if side is not None:
                for i, entry in zip(theirs, side.result(), strict=True):
                    entries[i] = entry
        finally:
            if side is not None:
                side.close()
        for i in todo:
            _remember(memo_keys[i], entries[i])
    out: list[tuple[str, bytes, load.Document | None, list[Problem], list[Problem]]] = []
    new: dict[bytes, tuple[Any, ...]] = {}
    for i, (key, shown, rel, raw) in enumerate(read):
        try:
            ok, data, lines, parse_rows, schema_rows = entries[i]
            parse_probs = [Problem(*r) for r in parse_rows]
            schema_probs = [Problem(*r) for r in schema_rows]
            doc = load.Document(shown, rel, data, dict(lines), raw) if ok else None
        except (TypeError, ValueError):  # a cache entry of the wrong shape: check the file afresh
            entries[i] = _check_one(raw, shown, rel, _validators(root, [rel]))
            ok, data, lines, parse_rows, schema_rows = entries[i]
            parse_probs = [Problem(*r) for r in parse_rows]
            schema_probs = [Problem(*r) for r in schema_rows]
            doc = load.Document(shown, rel, data, dict(lines), raw) if ok else None
        out.append((rel, raw, doc, parse_probs, schema_probs))
        if key:
            new[key] = entries[i]
    if cache_path is not None and new.keys() != old.keys():
        _write(cache_path, new)
    return out, problems


def _validators(root: Path, rels: list[str]) -> dict[str, Any]:
    """The validators by schema kind (``schema.kind_of``) for the files at ``rels``: the relabel
    files' only when there is one (a spec root's own relabel schema is read only then)."""
    if any(rel.startswith(f"{RELABEL_DIR}/") for rel in rels):
        return {**schema.validators_for(root), "relabel": schema.relabel_validator(root)}
    return schema.validators_for(root)
