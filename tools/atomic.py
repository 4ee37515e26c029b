"""The tools' one way to write a file atomically: a temporary file beside the target, renamed over it.

A reader (or a killed run) sees the old file or the new one whole, never a part. The temporary
file lies in the target's folder (so the rename stays on one file system) and is named
``.<name>.unitax-tmp-<pid>-<random>``: hidden, never ending in the target's extension (so no
``*.png`` glob takes it for an output), and recognisable by :data:`TMP_MARK`, which ``remap-dir``
and ``prepare`` use to sweep the leftovers of a killed run when they resume. On any failure,
an interrupt included, the temporary file is removed and the error raised again.

No copy this helper replaced called ``fsync``, and it does not either: ``remap-dir`` and
``prepare`` write hundreds of thousands of files and check each one's identity when they resume.
The compiler (compiler/build.py, compiler/cache.py) keeps its own writes: it may not import the tools.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable

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
