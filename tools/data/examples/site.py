"""``unitax docs``: the docs site of the specs, with the pictures of an examples folder, into a folder of its own.

Not part of a compile: ``generated/docs/`` stays what the specs alone give (byte-reproducible, and
``make check`` compares it), and the examples stay out of ``generated/``. OUT gets ``html/``,
``md/`` and ``legend/`` as a compile writes them under ``docs/`` (so the same relative links
work), the pictures under ``html/examples/`` (copied byte for byte, never decoded here), and a
stamp, :data:`STAMP`; OUT must be absent, empty or an earlier ``unitax docs`` output, and is
replaced as one set of files (unitax.fileops.atomic), files of the earlier output it no longer
holds removed.
"""
from __future__ import annotations

import os
from pathlib import Path

from ....compiler.emit import docs as emit_docs
from ....compiler.model import Model
from ....fileops.atomic import write_set_atomic
from ....fileops.read import read_regular
from ....fileops.walk import walk
from .index import read
from .scan import ExamplesError

STAMP = ".unitax-docs"
STAMP_TEXT = "written by `unitax docs`: replaced as a whole by the next run into this folder\n"
PICTURES = "examples/"


def check_out(out: Path, sources: list[Path]) -> list[str]:
    """The files of an earlier ``unitax docs`` output in ``out`` (to replace); ExamplesError for a folder not ours."""
    if os.path.lexists(out) and not out.is_dir():
        raise ExamplesError(f"{out} exists and is not a folder; give a new or empty folder")
    for s in sources:
        r, o = s.resolve(), out.resolve()
        if r == o or r.is_relative_to(o) or o.is_relative_to(r):
            raise ExamplesError(f"{out} and {s} overlap; write the docs elsewhere")
    if not out.exists():
        return []
    names = os.listdir(out)
    if not names:
        return []
    if STAMP not in names:
        raise ExamplesError(f"{out} is not empty and holds no earlier `unitax docs` output ({STAMP}); "
                            "refusing to write into it: give a new or empty folder")
    return [e.rel for e in walk(out, stats=False) if not e.folder]


def write_site(model: Model, out: Path, examples: Path | None) -> int:
    """Render the docs of ``model`` (with the pictures of ``examples``) into ``out``; the number of files written."""
    old = check_out(out, [examples] if examples is not None else [])
    pictures = None
    names: set[str] = set()
    if examples is not None:
        pictures, names = read(examples, model)
        pictures.folder = PICTURES
    files: dict[str, bytes] = {**emit_docs.pages(model, pictures), **emit_docs.legends(model)}
    site = {rel.removeprefix("docs/"): data for rel, data in files.items()}
    for name in sorted(names):
        site[f"html/{PICTURES}{name}"] = read_regular(examples / name)   # type: ignore[operator]
    site[STAMP] = STAMP_TEXT.encode()
    out.mkdir(parents=True, exist_ok=True)
    gone = [r for r in old if r not in site]
    write_set_atomic(out, site, delete=gone)
    for folder in sorted({os.path.dirname(r) for r in gone if os.path.dirname(r)}, key=len, reverse=True):
        while folder:   # the folders of the earlier output that are now empty
            try:
                os.rmdir(out / folder)
            except OSError:
                break
            folder = os.path.dirname(folder)
    return len(site)
