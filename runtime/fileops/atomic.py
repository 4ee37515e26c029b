"""Atomic replacement: of one file (a temporary file beside it, renamed over it), of a set of files, of a folder.

A reader (or a killed run) sees the old file or the new one whole, never a part. The temporary
file lies in the target's folder (so the rename stays on one file system) and is named
``.<name>.unitax-tmp-<pid>-<random>``: hidden, never ending in the target's extension (so no
``*.png`` glob takes it for an output), and recognisable by :data:`TMP_MARK`, which ``remap-dir``
and ``prepare`` use to sweep the leftovers of a killed run when they resume. On any failure,
an interrupt included, the temporary file is removed and the error raised again.

:func:`write_set_atomic` does the same for a set of files that belong together (the specs an
importer writes): all are written into a staging folder beside them first, so a failed write (a
full disk, ``EFBIG``) leaves every old file as it was; only then is each renamed into place, the
old ones kept as hard links until the whole set is in, and put back if a rename fails. A staging
folder a killed call left behind is removed by the next call into that folder once its process is gone.

A whole folder is replaced by :func:`swap_folder` (the compiler's build, import-relabel's
``relabel/`` folder): the new tree is written beside it, then the two are exchanged in one step
(Linux ``renameat2(RENAME_EXCHANGE)``) or, where that is missing, by two renames, the old folder
put back if the second fails.

No copy this helper replaced called ``fsync``, and it does not either: ``remap-dir`` and
``prepare`` write hundreds of thousands of files and check each one's identity when they resume.
Standard library only (the leaf :mod:`unitax.fileops`): the compiler, the runtime and the tools use it.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePosixPath

#: in the name of every temporary file the tools write; a file whose name holds it is never an output
TMP_MARK = ".unitax-tmp-"


def tmp_name(path: str | os.PathLike[str]) -> str:
    """The temporary name for ``path``: in its folder, hidden, holding :data:`TMP_MARK`, unique."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def write_atomic(path: str | os.PathLike[str], content: bytes | str | Callable[[str], object], *,
                 mode: int | None = None, mkdir: bool = False) -> None:
    """Write ``path`` whole or not at all; it is replaced if it exists (callers check that they may).

    ``content``: the bytes, a str (written as UTF-8, line endings as given), or a function that
    creates the file at the temporary path it is given (``PIL.Image.save``, ``shutil.copyfile``,
    ``os.symlink``). A file written from bytes or str gets the mode new files get (0o666 less the
    umask); ``mode`` sets another one before the rename (not for a function that makes a link:
    chmod follows it). ``mkdir`` creates the missing parent folders first.
    """
    path = os.fspath(path)
    if mkdir:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = tmp_name(path)
    try:
        if callable(content):
            content(tmp)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_STAGE = re.compile(re.escape(TMP_MARK) + r"set-(\d+)-[0-9a-f]{8}")


def sweep_stages(root: str | os.PathLike[str]) -> list[str]:
    """Remove the staging folders that :func:`write_set_atomic` calls killed before they finished
    left in ``root`` (named exactly so, their process gone); returns their names."""
    gone = []
    with os.scandir(root) as it:
        for e in it:
            m = _STAGE.fullmatch(e.name)
            if m is None or not e.is_dir(follow_symlinks=False):
                continue
            try:
                os.kill(int(m.group(1)), 0)
                continue  # its writer still runs
            except PermissionError:
                continue  # another user's live process
            except (OSError, OverflowError):  # no such process, or no pid at all
                pass
            shutil.rmtree(e.path, ignore_errors=True)
            gone.append(e.name)
    return gone


def _rel(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        raise ValueError(f"{rel!r} is not a relative path below the folder")
    return p


def write_set_atomic(root: str | os.PathLike[str], files: Mapping[str, bytes | str], *,
                     delete: Iterable[str] = (), replace: bool = True) -> None:
    """Write ``files`` (relative path -> bytes, or str written as UTF-8) under ``root`` and remove
    ``delete``, all or nothing as far as a failure of this process goes.

    Every file is written first into a staging folder ``root/.unitax-tmp-set-<pid>-<random>/``;
    a failure there (a full disk, a file too large) removes it and raises, the old set untouched.
    Then each file is renamed into place and each of ``delete`` removed, every replaced or removed
    file kept as a hard link in the staging folder until all are done; if a step fails, what was
    done is undone (old files back, new ones removed) before the error is raised. With
    ``replace=False`` an existing target is an error (``FileExistsError``), found before anything
    moves and checked again at each rename (a link, which never replaces).
    """
    root = os.fspath(root)
    rels = {r: _rel(r) for r in files}
    gone = [r for r in delete if r not in files]
    for r in gone:
        _rel(r)
    os.makedirs(root, exist_ok=True)
    sweep_stages(root)
    stage = os.path.join(root, f"{TMP_MARK}set-{os.getpid()}-{secrets.token_hex(4)}")
    os.mkdir(stage)
    made: list[str] = []        # folders this call created below root (removed again on failure)
    done: list[str] = []        # targets renamed into place or removed
    try:
        for r, data in files.items():
            p = os.path.join(stage, "new", *rels[r].parts)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "xb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
        if not replace:
            for r in files:
                target = os.path.join(root, *rels[r].parts)
                if os.path.lexists(target):
                    raise FileExistsError(17, "exists already; not replaced", target)
        for r in [*files, *gone]:  # keep the old files until the whole set is in
            target = os.path.join(root, *_rel(r).parts)
            if os.path.lexists(target):
                keep = os.path.join(stage, "old", *_rel(r).parts)
                os.makedirs(os.path.dirname(keep), exist_ok=True)
                os.link(target, keep, follow_symlinks=False)
        for r in files:
            target = os.path.join(root, *rels[r].parts)
            folder = os.path.dirname(target)
            missing = []
            while not os.path.isdir(folder):
                missing.append(folder)
                folder = os.path.dirname(folder)
            for d in reversed(missing):
                os.mkdir(d)
                made.append(d)
            new = os.path.join(stage, "new", *rels[r].parts)
            if replace:
                os.replace(new, target)
            else:
                os.link(new, target)  # fails if the target appeared meanwhile
            done.append(r)
        for r in gone:
            target = os.path.join(root, *_rel(r).parts)
            if os.path.lexists(target):
                os.unlink(target)
            done.append(r)
    except BaseException:
        for r in reversed(done):
            target = os.path.join(root, *_rel(r).parts)
            keep = os.path.join(stage, "old", *_rel(r).parts)
            try:
                if os.path.lexists(keep):
                    os.replace(keep, target)
                else:
                    os.unlink(target)
            except OSError:
                pass
        for d in reversed(made):
            try:
                os.rmdir(d)
            except OSError:
                pass
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


_RENAME_EXCHANGE = 2


def exchange(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Atomically swap two folders (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    import ctypes  # here: a write into a new folder never swaps (ctypes.util alone costs ~10 ms)
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD = -100
    rc = fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)


def swap_folder(new: str | os.PathLike[str], final: str | os.PathLike[str],
                aside: str | os.PathLike[str]) -> str | None:
    """Put the folder ``new`` (beside ``final``, on one file system) in place of ``final``.

    Returns where the previous tree now is, for the caller to remove (``new`` after an exchange,
    ``aside`` after the two-rename fallback), or None when ``final`` did not exist. In the fallback,
    ``final`` is renamed to ``aside`` and ``new`` to ``final``; if that fails, the old tree is put back."""
    new, final, aside = os.fspath(new), os.fspath(final), os.fspath(aside)
    if not os.path.lexists(final):
        os.rename(new, final)
        return None
    if exchange(new, final):
        return new
    os.rename(final, aside)
    try:
        os.rename(new, final)
    except BaseException:
        if not os.path.lexists(final):
            os.rename(aside, final)
        raise
    return aside
