"""Paths and lines that come from data: the one check of "a relative path a file gave us".

A path read from a file's content (a COCO JSON ``file_name``, a split-list line, a ledger entry)
or from a file name on disk is untrusted. :func:`relpath` accepts it only as a plain relative
POSIX path: not empty, not absolute, no ``..`` component, and no character that could split a
line or hide in one (NUL and every other control character, U+0085, the line and paragraph
separators U+2028/U+2029, a lone surrogate: a file name that was not UTF-8). :func:`join` then
joins it to its root and re-checks, after resolving symbolic links, that what it names lies
inside the root; :func:`split_lines` splits a lines file (split lists, names files) on ``\\n``
alone, never on the other line boundaries ``str.splitlines`` knows.

Standard library only, and nothing of unitax: a leaf every reader and writer may import.
"""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path

#: code points that end or split a line somewhere (``str.splitlines`` splits on all of them) or
#: are invisible controls; refused in a path or name taken from data
_SPLITTERS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class DataPathError(ValueError):
    """A path or name taken from data is not a plain relative path (one line, what and why)."""


def bad_char(text: str) -> str | None:
    """Why ``text`` cannot be a name or path from data (a control, line-separator or surrogate code
    point, shown escaped), or None when it holds none."""
    if text.isprintable():   # every code point refused here is unprintable: the common case in one call
        return None
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in _SPLITTERS or cat in ("Cc", "Zl", "Zp"):
            return f"holds the control or line-separating character {ascii(ch)[1:-1]}"
        if cat == "Cs":
            return f"holds the byte {ascii(ch)[1:-1]} that is not UTF-8 (an undecodable file name)"
    return None


def relpath(text: object, what: str = "path", *, chars: bool = True) -> str:
    """``text`` if it is a plain relative POSIX path, else :class:`DataPathError` saying why.

    Refused: a non-string, the empty string, an absolute path (``/x``, ``//x``), a ``..``
    component, and any character :func:`bad_char` refuses. ``what`` names the path in the message
    (e.g. ``"file_name"``). ``chars=False`` leaves the characters alone: for names walked on disk
    that a tool mirrors as they are (remap-dir keeps a file named with a newline), never for paths
    written into a lines file.
    """
    if not isinstance(text, str):
        raise DataPathError(f"{what} {text!r} is not a string")
    if not text:
        raise DataPathError(f"{what} is empty")
    why = bad_char(text) if chars else None
    if why:
        raise DataPathError(f"{what} {ascii(text)} {why}")
    if text.startswith("/"):
        raise DataPathError(f"{what} {ascii(text)} is an absolute path; a path from data must be relative")
    if ".." in text.split("/"):
        raise DataPathError(f"{what} {ascii(text)} has a '..' component; a path from data must stay below its root")
    return text


class Root:
    """A folder that paths from data are joined to, with :meth:`join`'s checks; remembers the
    folders it resolved, so that joining many paths costs one ``realpath`` per folder.

    ``links``: ``"inside"`` (default) resolves symbolic links in the folders above the last
    component and refuses a path whose folder then lies outside the root (resolved too); the last
    component itself is not followed, since a writer replaces it (a link there is replaced, not
    written through). ``"follow"`` checks the path lexically only: symbolic links below the root
    are the owner's (a dataset folder linked from another disk) and are followed, as remap-dir
    follows symlinked folders of SRC; use it for trees that are only read.
    """

    def __init__(self, root: str | os.PathLike[str], links: str = "inside"):
        if links not in ("inside", "follow"):
            raise ValueError(f"links must be 'inside' or 'follow', not {links!r}")
        self.path, self.links = Path(root), links
        self._base = str(self.path)   # pathlib's own spelling of the root, which join_str extends
        self._top = os.path.realpath(self.path) if links == "inside" else ""
        self._ok: set[str] = set()

    def join(self, text: object, what: str = "path", *, chars: bool = True) -> Path:
        """``root / text`` after :func:`relpath` (``chars``: see there), re-checked to lie inside the root."""
        return Path(self.join_str(text, what, chars=chars))

    def join_str(self, text: object, what: str = "path", *, chars: bool = True) -> str:
        """:meth:`join` as the string ``str(root / text)`` is, built without pathlib: for the loops that
        join every line of a split list (prepare's plan joins some 900,000 in the test suite)."""
        rel = relpath(text, what, chars=chars)
        tail = "/".join(x for x in rel.split("/") if x and x != ".")   # pathlib drops empty and "." parts
        if not tail:
            path = self._base
        elif self._base == ".":
            path = tail
        else:
            path = f"{self._base}{tail}" if self._base.endswith("/") else f"{self._base}/{tail}"
        if self.links == "inside":
            folder = rel.rpartition("/")[0]
            if folder not in self._ok:
                real = os.path.realpath(os.path.dirname(path) or ".")
                if real != self._top and not real.startswith(self._top.rstrip(os.sep) + os.sep):
                    raise DataPathError(f"{what} {ascii(rel)} leads outside {self.path} "
                                        f"(its folder resolves to {real})")
                self._ok.add(folder)
        return path


def join(root: str | os.PathLike[str], text: object, what: str = "path", *, links: str = "inside") -> Path:
    """``root / text`` after :func:`relpath`, re-checked to lie inside ``root`` (``links``: see :class:`Root`)."""
    return Root(root, links).join(text, what)


def split_lines(text: str) -> list[str]:
    """The lines of a lines file: split on ``\\n`` only (a ``\\r`` before it dropped, a final newline
    ending the last line), never on U+2028, U+0085 and the other boundaries of ``str.splitlines``."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
