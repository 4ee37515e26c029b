"""Runtime stage 1: read a compiled taxonomy (manifest, taxonomy.json, .npy tables) and verify it.

Only numpy and the standard library. Every file listed in the manifest is read once, its size
and sha256 checked against the manifest, and arrays are parsed without pickle.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import stat
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IntegrityError
from .fileops.read import READ_FLAGS, NotRegularFile, TooLarge, read_fd
from .format import FORMAT_VERSION, is_table_entry

#: the most bytes a manifest may hold (the MSeg build's is ~70 KiB)
MANIFEST_LIMIT = 16 << 20


def default_path() -> Path:
    """Folder of the default bundled build (MSeg): ``generated/`` of the repo, or ``unitax/generated``
    when installed (:mod:`unitax.bundled` lists the bundled builds)."""
    from .bundled import DEFAULT, build_path

    return build_path(DEFAULT)


class BuildDir:
    """An open handle on a build folder: every file is read relative to it, never following a link.

    The folder is resolved once (one descriptor); files are opened relative to it (``dir_fd``),
    each path component with ``O_NOFOLLOW``. A reader therefore sees one build whole even while
    `unitax compile` swaps a new one in under the same name: the handle keeps pointing at the
    folder it opened. :meth:`replaced` says whether the name now leads to another folder (or the
    opened one was deleted), so that a reader can start again on the new build. The descriptor
    is closed by :meth:`close` or when the object is collected.
    """

    def __init__(self, path: Path):
        self.path = path
        if not _DIR_FD:  # pragma: no cover - Windows: no descriptors of folders; paths, confined by realpath
            if not os.path.isdir(path):
                raise (NotADirectoryError if os.path.exists(path) else FileNotFoundError)(str(path))
            self.fd = -1
            st = os.stat(path)
            self._ident = (st.st_dev, st.st_ino)
            self._finalizer = weakref.finalize(self, _close, self.fd)
            return
        self.fd = os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)  # OSError: the caller's
        try:
            st = os.fstat(self.fd)
        except OSError:  # pragma: no cover - fstat of a descriptor just opened
            os.close(self.fd)
            raise
        self._ident = (st.st_dev, st.st_ino)
        self._finalizer = weakref.finalize(self, _close, self.fd)

    def close(self) -> None:
        self._finalizer()

    def replaced(self) -> bool:
        """Whether ``path`` no longer names the folder this handle opened (a swap, a removal)."""
        try:
            st = os.stat(self.path)
            gone = self.fd >= 0 and os.fstat(self.fd).st_nlink == 0
        except (OSError, ValueError):
            return True
        return gone or (st.st_dev, st.st_ino) != self._ident

    def _link(self, parent: int, name: str, rel: str) -> IntegrityError:
        """The error for a link met at ``name`` (in the folder ``parent``) on the way to ``rel``."""
        try:
            target = os.readlink(name, dir_fd=parent)
        except OSError:
            target = "?"
        root = os.path.realpath(self.path)
        real = os.path.realpath(os.path.join(root, rel))
        if os.path.commonpath([root, real]) != root:
            return IntegrityError(f"{self.path / rel}: a link to {real}, outside the build {self.path}")
        return IntegrityError(f"{self.path / rel}: a symbolic link (to {target}), which a unitax build never "
                              "holds (the build was tampered with)")

    def open(self, rel: str) -> int:
        """A descriptor of ``rel`` (``/``-separated, inside the build), opened non-blocking and
        without following links; FileNotFoundError where a part is missing, IntegrityError for a
        link or what cannot be opened."""
        if self.fd < 0:  # pragma: no cover - Windows
            return self._open_by_path(rel)
        parts = rel.split("/")
        parent = self.fd
        opened: list[int] = []
        try:
            for i, name in enumerate(parts):
                last = i == len(parts) - 1
                flags = _FILE_FLAGS if last else _SUBDIR_FLAGS
                try:
                    fd = os.open(name, flags, dir_fd=parent)
                except OSError as e:
                    if e.errno == errno.ELOOP or (e.errno == errno.ENOTDIR and _is_link(name, parent)):
                        raise self._link(parent, name, "/".join(parts[: i + 1])) from None
                    if isinstance(e, FileNotFoundError) or e.errno == errno.ENOTDIR:
                        raise FileNotFoundError(errno.ENOENT, "missing", str(self.path / rel)) from None
                    raise IntegrityError(f"{self.path / rel}: cannot be read: {e}") from None
                if last:
                    return fd
                opened.append(fd)
                parent = fd
        finally:
            for fd in opened:
                os.close(fd)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns on its last part

    def _open_by_path(self, rel: str) -> int:  # pragma: no cover - Windows
        """:meth:`open` where folders have no descriptors: by path, refused where its real path
        leaves the build (no protection against a swap in the middle of a load)."""
        p = self.path / rel
        root, real = os.path.realpath(self.path), os.path.realpath(p)
        if os.path.commonpath([root, real]) != root:
            raise IntegrityError(f"{p}: a link to {real}, outside the build {self.path}")
        try:
            return os.open(p, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise
        except OSError as e:
            raise IntegrityError(f"{p}: cannot be read: {e}") from None

    def read(self, rel: str, limit: int, too_big: str = "more than the {limit} expected") -> bytes:
        """The bytes of the regular file ``rel`` (at most ``limit``), else IntegrityError."""
        return _read_fd(self.open(rel), self.path / rel, limit, too_big)


_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: folders can be opened and files opened relative to them (POSIX; not Windows)
_DIR_FD = os.open in os.supports_dir_fd and os.readlink in os.supports_dir_fd and bool(_O_DIRECTORY)
_SUBDIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_FILE_FLAGS = READ_FLAGS | _O_NOFOLLOW


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _is_link(name: str, parent: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode)
    except OSError:
        return False


@dataclass(frozen=True)
class Compiled:
    """The raw content of a compiled taxonomy folder, verified.

    ``folder``: the open handle it was read through, kept for the files read later (relabel
    tables), so that those come from the same build even after a recompile swapped another in.
    """

    path: Path
    manifest: dict[str, Any]
    taxonomy: dict[str, Any]
    tables: dict[str, np.ndarray]  # key (e.g. "to_universal/ade20k-150") -> read-only array
    folder: BuildDir | None = None

    def read_verified(self, rel: str) -> bytes:
        """The bytes of the listed file ``rel`` of this build, checked against the manifest (read
        through the handle the build was loaded through, so from the same build)."""
        folder = self.folder if self.folder is not None else BuildDir(self.path)
        try:
            return _read_verified(folder, rel, self.manifest["files"][rel])
        except IntegrityError as e:
            if self.folder is not None and folder.replaced():
                raise IntegrityError(f"{e}; {self.path} was replaced by a recompile since this taxonomy was "
                                     "loaded: load it again") from None
            raise


def _read_fd(fd: int, p: Path, limit: int, too_big: str) -> bytes:
    """Read the open ``fd`` (of ``p``, for messages) and close it. Never blocks or reads without
    end: FIFOs, devices (``/dev/zero``), sockets and folders are refused from ``fstat`` on the
    open descriptor (no race with a swap after a check) before a byte is read, and at most
    ``limit + 1`` bytes are read."""
    try:
        return read_fd(fd, p, limit)
    except NotRegularFile as e:
        raise IntegrityError(f"{p}: cannot be read: {e.kind}, not a regular file (the build was tampered with)") \
            from None
    except TooLarge as e:
        raise IntegrityError(f"{p}: {e.size} bytes, " + too_big.format(limit=limit) + " (truncated or replaced)") \
            from None
    except OSError as e:
        raise IntegrityError(f"{p}: cannot be read: {e}") from None


def _read_verified(folder: BuildDir, rel: str, entry: dict[str, Any]) -> bytes:
    root = folder.path
    p = root / rel
    if not (isinstance(entry, dict) and type(entry.get("bytes")) is int and isinstance(entry.get("sha256"), str)):
        raise IntegrityError(f"{root / 'manifest.json'}: malformed entry for {rel}: {entry!r:.200}")
    if (not isinstance(rel, str) or "\0" in rel or rel.startswith("/")
            or any(part in ("", ".", "..") for part in rel.split("/"))):
        raise IntegrityError(f"{root / 'manifest.json'}: {rel!r} points outside {root}")
    if entry["bytes"] < 0:
        raise IntegrityError(f"{root / 'manifest.json'}: negative size for {rel}")
    try:
        data = folder.read(rel, entry["bytes"], "the manifest says {limit}")
    except FileNotFoundError:
        raise IntegrityError(f"{p}: listed in the manifest but missing; recompile (`unitax compile`)") from None
    if len(data) != entry["bytes"]:
        raise IntegrityError(f"{p}: {len(data)} bytes, the manifest says {entry['bytes']} (truncated or replaced)")
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise IntegrityError(f"{p}: sha256 differs from the manifest (modified after compiling)")
    return data


#: the dtypes of the tables `unitax compile` writes (.npy format 1.0, C order)
_PLAIN_DTYPES = {"bool": "|b1", "uint8": "|u1", "uint16": np.dtype("uint16").str, "int32": np.dtype("int32").str,
                 "int64": np.dtype("int64").str}


def _plain_npy(data: bytes, dtype: str, shape: list[int]) -> np.ndarray | None:
    """The array of a .npy file whose header is, byte for byte, what the compiler writes for
    ``dtype`` and ``shape`` (a C-order array, format 1.0, no trailing bytes): a read-only view of
    ``data``, without evaluating the header as Python literals. None for anything else, which
    then takes numpy's own reader and its errors (the same array where both read it)."""
    descr = _PLAIN_DTYPES.get(dtype)
    if descr is None or data[:8] != b"\x93NUMPY\x01\x00" or len(data) < 10:
        return None
    end = 10 + int.from_bytes(data[8:10], "little")
    want = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}".encode("latin1")
    header = data[10:end]
    if not (header.endswith(b"\n") and header[:-1].rstrip(b" ") == want):
        return None
    dt = np.dtype(dtype)
    count = 1
    for n in shape:
        if n < 0:
            return None
        count *= n
    if len(data) - end != count * dt.itemsize:
        return None
    return np.frombuffer(data, dt, count, end).reshape(shape)


def _parse_npy(data: bytes, where: Path, dtype: str, shape: list[int]) -> np.ndarray:
    plain = _plain_npy(data, dtype, shape)
    if plain is not None:
        return plain  # read-only already (a view of bytes)
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


#: how many times a reader starts again when a compile swapped the build in while it was reading
SWAP_RETRIES = 3


def read_compiled(path: str | os.PathLike[str] | None = None) -> Compiled:
    """Read and verify a compiled taxonomy folder (default: the bundled build).

    Every file comes from one build: the folder is opened once and read through that handle
    (:class:`BuildDir`). Where a read fails because `unitax compile` swapped a new build in (and
    removed the old one) meanwhile, the read starts again on the new build (at most
    ``SWAP_RETRIES`` times); a build damaged in place is reported as such.
    """
    root = Path(path) if path is not None else default_path()
    for attempt in range(SWAP_RETRIES + 1):
        try:
            folder = BuildDir(root)
        except FileNotFoundError:
            raise IntegrityError(f"{root / 'manifest.json'}: missing; is {root} a folder written by "
                                 "`unitax compile`?") from None
        except NotADirectoryError:
            raise IntegrityError(f"{root}: not a folder; a compiled taxonomy is a folder written by "
                                 "`unitax compile`") from None
        except (OSError, ValueError) as e:
            raise IntegrityError(f"{root}: cannot be read: {e}") from None
        try:
            return _read_build(folder)
        except IntegrityError:
            swapped = folder.replaced()
            folder.close()
            if not swapped or attempt == SWAP_RETRIES:
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises


def _read_build(folder: BuildDir) -> Compiled:
    root = folder.path
    mpath = root / "manifest.json"
    try:
        manifest = json.loads(folder.read("manifest.json", MANIFEST_LIMIT, "more than a manifest may hold ({limit})"))
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
        taxonomy = json.loads(_read_verified(folder, "taxonomy.json", files["taxonomy.json"]))
    except (ValueError, RecursionError) as e:
        raise IntegrityError(f"{root / 'taxonomy.json'}: not JSON: {e}") from None
    _check_structure(taxonomy, root / "taxonomy.json")
    tables = {}
    for key, entry in taxonomy["tables"].items():
        rel = entry["file"]
        if rel not in files:
            raise IntegrityError(f"{mpath}: does not list {rel}")
        data = _read_verified(folder, rel, files[rel])
        tables[key] = _parse_npy(data, root / rel, entry["dtype"], entry["shape"])
    return Compiled(root, manifest, taxonomy, tables, folder)
