"""MSeg's split lists, shipped in the product: import from the reference, read back.

MSeg names every sample of every split of every label space in
``dataset_lists/<space>/list/<split>.txt.gz`` (one line per sample, ``<image path> <label path>``
relative to the dataset's root in MSeg's on-disk layout; test lists of some spaces have the image
path alone). :func:`import_lists` copies all of them into ``tools/data/prepare/data/lists/`` (package data of
``unitax.tools.data.prepare``):

- ``mseg-lists.txt.xz``: one xz stream (stdlib ``lzma``, fixed preset, no timestamps, so the same
  reference always gives the same bytes) of a text file with one block per list, in sorted
  (space, split) order: a header line ``@@ <space> <split> <n>`` then the list's n lines in
  MSeg's order. The label spaces share most paths (``-relabeled`` twins, cityscapes-19/-34, ...),
  which one xz stream compresses across lists: 0.98 MB for 338,678 lines, where the reference's
  88 gzip files take 2.9 MB.
- ``index.tsv``: ``space, split, lines, sha256`` of each list (of its lines joined with ``\\n``),
  a reviewable text diff whenever a list changes.

Lines are kept byte for byte except the line ending: a missing final newline (8 reference
files) is not kept. The reference lacks COCO-Panoptic's train lists (:data:`KNOWN_MISSING`).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
from collections.abc import Iterator
from pathlib import Path

from ....fileops.atomic import write_set_atomic
from ....fileops.datapath import DataPathError, relpath, split_lines
from ...errors import ToolError

LISTS_DIR = "lists"
BLOB = "mseg-lists.txt.xz"
INDEX = "index.tsv"
#: splits the MSeg reference snapshot lacks (its COCO-Panoptic lists are val only)
KNOWN_MISSING = (("coco-panoptic-133", "train"), ("coco-panoptic-133-relabeled", "train"),
                 ("coco-panoptic-201", "train"), ("coco-panoptic-inst-201", "train"))
_PRESET = 9   # PRESET_EXTREME saves 5% for 10x the time


class ListsError(ToolError, ValueError):
    """The reference's lists or the shipped lists file are not what the importer expects (a command
    that meets one exits 2 with its one line)."""


def default_specs() -> Path:
    """The folder whose ``lists/`` holds the shipped lists: ``tools/data/prepare/data`` (package data of
    ``unitax.tools.data.prepare``, so ``prepare`` finds them after ``pip install .``)."""
    return Path(__file__).resolve().parent / "data"


def read_reference(reference: str | os.PathLike[str]) -> dict[tuple[str, str], list[str]]:
    """(space, split) -> lines of every ``dataset_lists/<space>/list/<split>.txt.gz`` (the reference's
    gzipped form) or ``<split>.txt`` (as in an mseg-api checkout) under ``reference``.

    ``reference`` is the folder holding ``dataset_lists/``. Whether a file is gzipped is read from its
    first bytes, not its name; one split given twice (``.txt`` and ``.txt.gz``) is refused.
    """
    root = Path(reference) / "dataset_lists"
    files = sorted([*root.glob("*/list/*.txt.gz"), *root.glob("*/list/*.txt")])
    if not files:
        raise ListsError(f"{root}: no <space>/list/<split>.txt(.gz) files")
    out: dict[tuple[str, str], list[str]] = {}
    seen: dict[tuple[str, str], Path] = {}
    for f in files:
        stem = f.name[: -len(".txt.gz")] if f.name.endswith(".txt.gz") else f.name[: -len(".txt")]
        space, split = f.parent.parent.name, stem
        if (space, split) in seen:
            raise ListsError(f"{f}: the {space} {split} list is also {seen[(space, split)]}: keep one")
        seen[(space, split)] = f
        try:
            raw = f.read_bytes()
            text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ListsError(f"{f}: not a UTF-8 list, plain or gzipped ({exc})") from None
        lines = split_lines(text)
        for i, line in enumerate(lines, 1):
            if not line or line != line.strip() or len(line.split(" ")) > 2 or "\t" in line or "@@" in line:
                raise ListsError(f"{f}:{i}: not '<image path>[ <label path>]': {ascii(line)}")
            try:
                check_line(line)
            except DataPathError as e:
                raise ListsError(f"{f}:{i}: {e}") from None
        out[(space, split)] = lines
    return out


def list_path(text: str, what: str = "path") -> str:
    """``text`` if it can be a path of a list line: a plain relative path
    (:func:`unitax.fileops.datapath.relpath`) without a space (the space separates a line's two paths);
    :class:`~unitax.fileops.datapath.DataPathError` otherwise."""
    path = relpath(text, what)
    if " " in path:
        raise DataPathError(f"{what} {ascii(path)} holds a space, which a list line cannot hold "
                            "(one space separates the image path from the label path)")
    return path


def check_line(line: str) -> tuple[str, str | None]:
    """(image path, label path or None) of one list line, each a :func:`list_path`;
    :class:`~unitax.fileops.datapath.DataPathError` otherwise."""
    parts = line.split(" ")
    if len(parts) > 2:
        raise DataPathError(f"{ascii(line)} is not '<image path>[ <label path>]' (a path in a list cannot hold "
                            "a space)")
    image = list_path(parts[0], "image path")
    return image, (list_path(parts[1], "label path") if len(parts) > 1 else None)


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def render(lists: dict[tuple[str, str], list[str]]) -> dict[str, bytes]:
    """The files of the lists folder (name -> bytes) for ``lists``; deterministic."""
    text = io.StringIO()
    index = ["# MSeg split lists, written by `unitax import-lists`: space, split, lines, "
             "sha256 of the lines joined by \\n",
             "space\tsplit\tlines\tsha256"]
    for (space, split) in sorted(lists):
        lines = lists[(space, split)]
        text.write(f"@@ {space} {split} {len(lines)}\n")
        for line in lines:
            text.write(line + "\n")
        index.append(f"{space}\t{split}\t{len(lines)}\t{_digest(lines)}")
    blob = lzma.compress(text.getvalue().encode("utf-8"), format=lzma.FORMAT_XZ, preset=_PRESET)
    return {BLOB: blob, INDEX: ("\n".join(index) + "\n").encode("utf-8")}


def import_lists(reference: str | os.PathLike[str], specs: str | os.PathLike[str] | None = None) -> dict[str, int]:
    """Write ``<specs>/lists/`` from the reference's split lists; returns {file name: size in bytes}.

    Both files are written as one set (unitax.fileops.atomic.write_set_atomic), so a failed or killed
    import leaves the old pair whole. This is the body of ``unitax import-lists REFERENCE [--specs DIR]``.
    """
    files = render(read_reference(reference))
    folder = Path(specs if specs is not None else default_specs()) / LISTS_DIR
    write_set_atomic(folder, files)  # the lists and their index: both new or both old
    return {name: len(data) for name, data in files.items()}


def _blocks(path: Path, raw: bytes) -> Iterator[tuple[str, str, list[str]]]:
    try:
        text = lzma.decompress(raw).decode("utf-8")
    except (lzma.LZMAError, UnicodeDecodeError) as exc:
        raise ListsError(f"{path}: corrupt lists file ({exc})") from None
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i]:
        head = lines[i].split(" ")
        if len(head) != 4 or head[0] != "@@" or not head[3].isdigit():
            raise ListsError(f"{path}: line {i + 1}: expected '@@ <space> <split> <n>', got {lines[i]!r}")
        n = int(head[3])
        block = lines[i + 1: i + 1 + n]
        if len(block) != n or any(line.startswith("@@ ") for line in block):
            raise ListsError(f"{path}: list {head[1]}/{head[2]} is truncated")
        yield head[1], head[2], block
        i += 1 + n


#: the last lists file read, parsed: (sha256 of its bytes, its lists); see :func:`load_lists`
_last: tuple[bytes, dict[tuple[str, str], tuple[str, ...]]] | None = None


def load_lists(specs: str | os.PathLike[str] | None = None) -> dict[tuple[str, str], list[str]]:
    """(space, split) -> lines of every shipped list (``<specs>/lists/mseg-lists.txt.xz``).

    Each call reads the file; the last one parsed is kept by the sha256 of its bytes, so calling
    again on the same content (``prepare`` then ``prepare --verify`` in one process, the tests) skips
    the ~0.2 s of decompressing and splitting 338,678 lines. Each call returns new lists.
    """
    global _last
    path = Path(specs if specs is not None else default_specs()) / LISTS_DIR / BLOB
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ListsError(f"{path}: no shipped split lists (run `unitax import-lists REFERENCE`)") from None
    digest = hashlib.sha256(raw).digest()
    if _last is None or _last[0] != digest:
        _last = (digest, {(space, split): tuple(block) for space, split, block in _blocks(path, raw)})
    return {key: list(lines) for key, lines in _last[1].items()}


def split_pairs(space: str, split: str, specs: str | os.PathLike[str] | None = None) -> list[tuple[str, str | None]]:
    """The samples of one shipped list as (image path, label path or None), in MSeg's order."""
    lists = load_lists(specs)
    if (space, split) not in lists:
        known = ", ".join(s for (sp, s) in sorted(lists) if sp == space) or "none"
        hint = " (missing from the MSeg reference)" if (space, split) in KNOWN_MISSING else ""
        raise ListsError(f"no list {space}/{split}{hint}; splits of {space}: {known}")
    out: list[tuple[str, str | None]] = []
    for line in lists[(space, split)]:
        parts = line.split(" ")
        out.append((parts[0], parts[1] if len(parts) > 1 else None))
    return out
