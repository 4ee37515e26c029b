"""The hostile-input corpus: unusual but realistic inputs that unitax must refuse cleanly.

A case builds its inputs under a fresh temporary folder, runs one `unitax` command (in process,
through click) or one runtime call, and states what must happen. The runner
(tests/test_hostile.py) asserts, for every case:

- CLI cases: the exit status; that no traceback and no uncaught exception escaped; that every
  string of ``expect`` (after ``{tmp}`` is replaced by the case folder) appears in the output.
- runtime cases: that the call raises ``raises`` (a unitax error class, never a bare numpy,
  torch or OS error) whose message holds every string of ``expect``; or, with ``raises=None``,
  that ``check(result)`` holds (the input is accepted and answered correctly).
- both: every file and link under the case folder, outside the paths listed in ``outputs``,
  is byte-identical afterwards (contents, link targets, file kinds).

Cases live in ``tests/hostile/cases_<area>.py`` as a module-level ``CASES`` list, one module per
area so that work on different areas never edits the same file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    """One hostile input and what unitax must do with it.

    Attributes:
        name: unique id, ``<area>/<what>`` (shows in the pytest id).
        klass: the class of failure it belongs to (``data-loss``, ``duplicate-spec``,
            ``remap-dir-done``, ``symlink-tree``, ``non-finite``, ``file-content``, ``byte-order``,
            ``yaml11``, ``suspicious-name``, ``colour-clash``, ``alias-key``, ``torch``,
            ``relabel-match``, ``traceback``, ``special-file``, ``message``, ...).
        setup: builds the inputs under the case folder (given as its only argument).
        argv: for a CLI case, the `unitax` arguments, given the case folder.
        call: for a runtime case, the call to make, given the case folder.
        exit_code: the CLI exit status expected.
        expect: strings that must appear in the output / error message; ``{tmp}`` is replaced by
            the case folder's path.
        raises: for a runtime case, the exception class expected (``None``: must not raise).
        check: for a runtime case with ``raises=None``, a predicate on the result.
        outputs: paths (relative to the case folder) the command is allowed to create or change.
        cwd: run the CLI case with this folder (relative to the case folder) as working directory.
        skip_if: a callable returning a reason to skip (e.g. torch missing, running as root).
        slow: marks the case ``slow`` (``make test`` runs it, ``make test-fast`` does not): for
            cases that start several processes, each compiling again and again.
    """

    name: str
    klass: str
    setup: Callable[[Path], None]
    argv: Callable[[Path], list[str]] | None = None
    call: Callable[[Path], Any] | None = None
    exit_code: int = 1
    expect: tuple[str, ...] = ()
    raises: type[BaseException] | None = None
    check: Callable[[Any], bool] | None = None
    outputs: tuple[str, ...] = ()
    cwd: str | None = None
    skip_if: Callable[[], str | None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    slow: bool = False


def snapshot(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, tuple[str, str]]:
    """Every entry under ``root`` (not following links) -> (kind, content digest or link target).

    Entries at or below a path of ``exclude`` are left out. Special files (FIFOs, sockets) are
    recorded by kind only and never opened; regular files are hashed.
    """
    out: dict[str, tuple[str, str]] = {}
    skip = tuple(Path(e).as_posix().rstrip("/") for e in exclude)

    def excluded(rel: str) -> bool:
        return any(rel == s or rel.startswith(s + "/") for s in skip)

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if excluded(rel):
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(stat.S_IMODE(st.st_mode)))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                if st.st_mode & stat.S_IRUSR or os.geteuid() == 0:
                    try:
                        with open(p, "rb") as f:
                            for chunk in iter(lambda: f.read(1 << 20), b""):
                                h.update(chunk)
                    except PermissionError:
                        h.update(b"<unreadable>")
                out[rel] = ("file", f"{st.st_size}:{h.hexdigest()}:{oct(stat.S_IMODE(st.st_mode))}")
            else:
                out[rel] = ("special", oct(stat.S_IFMT(st.st_mode)))
    return out
