"""A walk of a tree: every entry below a root, in a fixed order, with its ``stat`` or why it has none.

:func:`walk` is ``os.walk`` made explicit about what it meets: each folder's subfolders (sorted),
then its files (sorted), then the subfolders' contents, depth first. With ``follow_links`` a
symbolic link to a folder is entered, each real folder once (a link back to one walked already,
a loop or a second link, is yielded with ``walked_as`` and not entered) and entries carry
``stat``; without, links are entries like files (with ``lstat``) and never entered. A folder
that cannot be listed is yielded with ``unlisted`` and its error; an entry that cannot be
``stat``-ed, with its error. The callers decide what each of these means.

:func:`files` is the names-only walk for a hot path (the runtime's stale-build check on every
load): the paths of the files alone, in the same order, with no ``stat`` and no :class:`Entry`;
links to folders are not entered, a folder that cannot be listed is passed over. Standard library
only.
"""
from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

_NAME = attrgetter("name")


class Entry(NamedTuple):
    """One entry below the root (a named tuple: cheaper to define and to make than a frozen
    dataclass, and this module is imported on every ``unitax.load()`` of a checkout)."""

    rel: str                        # POSIX path below the root ("." for the root itself)
    path: str
    folder: bool                    # listed as a folder by its parent (a link to one too, when followed)
    st: os.stat_result | None       # stat (links followed) or lstat; None when ``error`` (or not asked for)
    error: OSError | None = None
    walked_as: str | None = None    # a followed folder walked already under this path: not entered
    unlisted: bool = False          # a folder whose listing failed (``error``): its entries are unknown


def walk(root: str | os.PathLike[str], *, follow_links: bool = False, prune: Collection[str] = (),
         stats: bool = True) -> Iterator[Entry]:
    """The entries below ``root`` (see the module docstring); folders named in ``prune`` are neither
    yielded nor entered. ``stats=False``: files carry no ``st`` (and no error), which saves a system
    call per file where only names matter. ``root`` itself must be a folder (OSError otherwise)."""
    base = Path(root)
    st = os.stat(base) if follow_links else os.lstat(base)
    seen: dict[tuple[int, int], str] = {(st.st_dev, st.st_ino): "."}
    failed: list[OSError] = []

    top = os.fspath(base)  # os.walk joins every path below from this string: a prefix to cut
    prefix = top if top.endswith(os.sep) else top + os.sep

    def rel_of(p: str) -> str:
        if p.startswith(prefix):
            r = p[len(prefix):]
            return r if os.sep == "/" else r.replace(os.sep, "/")
        return Path(p).relative_to(base).as_posix()  # the root itself, or an error's own spelling

    def stat_of(p: str) -> tuple[os.stat_result | None, OSError | None]:
        try:
            return (os.stat(p) if follow_links else os.lstat(p)), None
        except OSError as e:
            return None, e

    for d, dirs, files in os.walk(base, followlinks=follow_links, onerror=failed.append):
        while failed:
            e = failed.pop(0)
            where = os.fspath(e.filename) if e.filename else os.fspath(base)
            yield Entry(rel_of(where), where, True, None, e, unlisted=True)
        keep = []
        for name in sorted(dirs):
            if name in prune:
                continue
            p = os.path.join(d, name)
            dst, err = stat_of(p)
            if dst is None:
                yield Entry(rel_of(p), p, True, None, err)
                continue
            k = (dst.st_dev, dst.st_ino)
            if follow_links and k in seen:
                yield Entry(rel_of(p), p, True, dst, walked_as=seen[k])
                continue
            seen[k] = rel_of(p)
            yield Entry(rel_of(p), p, True, dst)
            keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            p = os.path.join(d, name)
            fst, err = stat_of(p) if stats else (None, None)
            yield Entry(rel_of(p), p, False, fst, err)
    while failed:  # the root itself could not be listed
        e = failed.pop(0)
        where = os.fspath(e.filename) if e.filename else os.fspath(base)
        yield Entry(rel_of(where), where, True, None, e, unlisted=True)


def files(root: str | os.PathLike[str], suffixes: Iterable[str] = ()) -> Iterator[str]:
    """The paths of the files below ``root`` whose names end in one of ``suffixes`` (all where none),
    in :func:`walk`'s order (each folder's files sorted, then its subfolders sorted, depth first);
    names only: nothing is ``stat``-ed (a link counts as what it leads to, as ``os.walk`` says, and
    a link to a folder is not entered). A folder that cannot be listed is passed over."""
    ends = tuple(suffixes)
    try:
        with os.scandir(os.fspath(root)) as it:
            listed = sorted(it, key=_NAME)
    except OSError:
        return
    subs = []
    for e in listed:
        try:
            folder = e.is_dir()
            if folder and e.is_symlink():
                continue  # a link to a folder: not a file, not entered
        except OSError:  # as os.walk: an entry whose kind cannot be told is taken for a file
            folder = False
        if folder:
            subs.append(e.path)
        elif not ends or e.name.endswith(ends):
            yield e.path
    for p in subs:
        yield from files(p, ends)
