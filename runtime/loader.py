"""Runtime stage 1: read a compiled taxonomy (manifest, taxonomy.json, .npy tables) and verify it.

Only numpy and the standard library. Every file listed in the manifest is read once, its size
and sha256 checked against the manifest, and arrays are parsed without pickle.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IntegrityError
from .format import FORMAT_VERSION, is_table_entry

#: the most bytes a manifest may hold (the MSeg build's is ~70 KiB)
MANIFEST_LIMIT = 16 << 20


def default_path() -> Path:
    """Folder of the bundled build: ``generated/`` of the repo, or ``unitax/generated`` when installed."""
    spec = find_spec("unitax.generated")
    if spec is None or not spec.submodule_search_locations:
        raise IntegrityError("the bundled compiled taxonomy (unitax.generated) is not installed")
    return Path(list(spec.submodule_search_locations)[0])


@dataclass(frozen=True)
class Compiled:
    """The raw content of a compiled taxonomy folder, verified."""

    path: Path
    manifest: dict[str, Any]
    taxonomy: dict[str, Any]
    tables: dict[str, np.ndarray]  # key (e.g. "to_universal/ade20k-150") -> read-only array


def _read_regular(root: Path, p: Path, limit: int, too_big: str = "more than the {limit} expected") -> bytes:
    """The bytes of ``p``, a regular file inside ``root`` of at most ``limit`` bytes, else IntegrityError.

    Never blocks or reads without end: the file is opened non-blocking (a FIFO opens at once)
    and checked with ``fstat`` on the open descriptor (no race with a swap after a check), so
    FIFOs, devices (``/dev/zero``), sockets and folders are refused before a byte is read; links
    may point inside the build only; at most ``limit + 1`` bytes are read.
    """
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(p)
    except (OSError, ValueError) as e:
        raise IntegrityError(f"{p}: cannot be resolved: {e}") from None
    if os.path.commonpath([real_root, real]) != real_root:
        raise IntegrityError(f"{p}: a link to {real}, outside the build {root}")
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise IntegrityError(f"{p}: cannot be read: {e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise IntegrityError(f"{p}: cannot be read: {kind}, not a regular file (the build was tampered with)")
        if st.st_size > limit:
            raise IntegrityError(f"{p}: {st.st_size} bytes, " + too_big.format(limit=limit)
                                 + " (truncated or replaced)")
        chunks, left = [], limit + 1
        while left > 0:
            try:
                b = os.read(fd, min(left, 1 << 20))
            except BlockingIOError:  # pragma: no cover - regular files never block
                break
            except OSError as e:
                raise IntegrityError(f"{p}: cannot be read: {e}") from None
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_verified(root: Path, rel: str, entry: dict[str, Any]) -> bytes:
    p = root / rel
    if not (isinstance(entry, dict) and type(entry.get("bytes")) is int and isinstance(entry.get("sha256"), str)):
        raise IntegrityError(f"{root / 'manifest.json'}: malformed entry for {rel}: {entry!r:.200}")
    if not isinstance(rel, str) or "\0" in rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise IntegrityError(f"{root / 'manifest.json'}: {rel!r} points outside {root}")
    if entry["bytes"] < 0:
        raise IntegrityError(f"{root / 'manifest.json'}: negative size for {rel}")
    try:
        data = _read_regular(root, p, entry["bytes"], "the manifest says {limit}")
    except FileNotFoundError:
        raise IntegrityError(f"{p}: listed in the manifest but missing; recompile (`unitax compile`)") from None
    if len(data) != entry["bytes"]:
        raise IntegrityError(f"{p}: {len(data)} bytes, the manifest says {entry['bytes']} (truncated or replaced)")
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise IntegrityError(f"{p}: sha256 differs from the manifest (modified after compiling)")
    return data


def _parse_npy(data: bytes, where: Path, dtype: str, shape: list[int]) -> np.ndarray:
    try:
        arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise IntegrityError(f"{where}: not a valid .npy array: {e}") from None
    if str(arr.dtype) != dtype or list(arr.shape) != shape:
        raise IntegrityError(f"{where}: holds {arr.dtype}{list(arr.shape)}, expected {dtype}{shape}")
    arr.flags.writeable = False
    return arr


def _check_structure(t: Any, where: Path) -> None:
    """Refuse a taxonomy.json without the fields the runtime reads (a forged or foreign file)."""
    def space(s: Any) -> bool:
        return (isinstance(s, dict) and isinstance(s.get("names"), list) and all(isinstance(n, str) for n in s["names"])
                and type(s.get("ignore")) is int and isinstance(s.get("role"), str))

    ok = (isinstance(t, dict) and space(t.get("universal")) and isinstance(t.get("datasets"), dict)
          and all(space(s) for s in t["datasets"].values()) and isinstance(t.get("tables"), dict)
          and all(is_table_entry(e) and (not k.startswith("remap/") or (isinstance(e.get("source"), str)
                                                              and isinstance(e.get("target"), str)))
                  for k, e in t["tables"].items()))
    if not ok:
        raise IntegrityError(f"{where}: not a unitax taxonomy (fields missing or of the wrong type); recompile")


def read_compiled(path: str | os.PathLike[str] | None = None) -> Compiled:
    """Read and verify a compiled taxonomy folder (default: the bundled build)."""
    root = Path(path) if path is not None else default_path()
    mpath = root / "manifest.json"
    try:
        manifest = json.loads(_read_regular(root, mpath, MANIFEST_LIMIT, "more than a manifest may hold ({limit})"))
    except FileNotFoundError:
        raise IntegrityError(f"{mpath}: missing; is {root} a folder written by `unitax compile`?") from None
    except (ValueError, OSError, RecursionError) as e:
        raise IntegrityError(f"{mpath}: unreadable or not JSON: {e}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise IntegrityError(f"{mpath}: not a unitax manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise IntegrityError(
            f"{mpath}: format version {version!r}, this runtime reads {FORMAT_VERSION}"
            + ("; upgrade unitax" if newer else "; recompile with this unitax")
        )
    files = manifest["files"]
    if "taxonomy.json" not in files:
        raise IntegrityError(f"{mpath}: lists no taxonomy.json")
    try:
        taxonomy = json.loads(_read_verified(root, "taxonomy.json", files["taxonomy.json"]))
    except (ValueError, RecursionError) as e:
        raise IntegrityError(f"{root / 'taxonomy.json'}: not JSON: {e}") from None
    _check_structure(taxonomy, root / "taxonomy.json")
    tables = {}
    for key, entry in taxonomy["tables"].items():
        rel = entry["file"]
        if rel not in files:
            raise IntegrityError(f"{mpath}: does not list {rel}")
        data = _read_verified(root, rel, files[rel])
        tables[key] = _parse_npy(data, root / rel, entry["dtype"], entry["shape"])
    return Compiled(root, manifest, taxonomy, tables)
