"""Relabel records: segment-level relabelings as specs, validated and compiled into tables.

A relabel record moves a list of segments (split, image key, segment id) of one dataset to
another class. The records live in ``taxonomy/relabel/<dataset>.yaml`` (one file per declared
dataset, the records as small YAML mappings) and each record's segment list in a plain text
file beside it, ``taxonomy/relabel/<dataset>/<...>.tsv``: one ``<image key>\\t<segment id>``
per line. The lists are facts (226,413 segments in the MSeg reference), so they are parsed
with a few vectorised passes instead of through YAML and JSON Schema: the YAML files go through
the usual load -> schema -> named rules path, the lists through ``parse_segments``.

Runs after the main model is built (it needs the universal classes and the datasets), and
compiles to ``relabel.json`` plus five arrays per dataset under ``tables/relabel/``:

- ``<ds>.images.npy``: image keys (ASCII bytes), sorted within each split; the splits' ranges
  of rows are in relabel.json;
- ``<ds>.starts.npy``: uint32, row i's segments are ``segments[starts[i]:starts[i + 1]]``;
- ``<ds>.segments.npy``: uint32 segment ids, sorted within each image;
- ``<ds>.classes.npy``: uint8 universal id each segment moves to (255: unlabeled);
- ``<ds>.records.npy``: uint16 index of the record (in relabel.json) that moves it.

The importer of the MSeg reference's ``relabeled_data/`` (``unitax import-relabel``) is a tool:
``unitax.tools.relabel_import``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from . import load, registry, rules, schema
from .errors import Problem
from .load import Document
from .model import UNIVERSAL, LabelSpace, Model

RELABEL_DIR = "relabel"
INDEX_FILE = "relabel.json"
TABLE_DIR = "tables/relabel"
MAX_SEGMENT_ID = 2**32 - 1  # COCO panoptic ids (R + 256 G + 256^2 B) reach 2^24

#: the rules of this stage (ids, descriptions: compiler/registry.py), and the loader's file
#: rules it reports for files under relabel/
RULES: dict[str, str] = {**registry.of_stage("relabel"), **{k: v for k, v in registry.of_stage("load").items()
                                                              if k in ("duplicate-file", "stray-file")}}

# Bytes a segment file may hold besides the tab and newline that separate fields: image keys
# are relative paths of letters, digits, '_', '.', '-' (no spaces); segment ids are digits.
_KEY_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/"
_ALLOWED = _KEY_BYTES + b"\t\n"


@dataclass(frozen=True)
class Record:
    """One relabel record: the segments of ``segments`` (a file) move from ``src`` to ``dst``."""

    dataset: str
    alias: str
    split: str
    src: str  # universal class name ("from")
    dst: str  # universal class name or "unlabeled" ("to")
    segments: str  # spec-relative path of the segment file
    count: int


@dataclass(frozen=True)
class DatasetRelabel:
    """Every record of one dataset, compiled (see the module docstring for the arrays)."""

    dataset: str
    aliases: tuple[str, ...]
    records: tuple[Record, ...]
    splits: dict[str, tuple[int, int]]  # split -> rows [start, stop) of images
    images: np.ndarray
    starts: np.ndarray
    segments: np.ndarray
    classes: np.ndarray
    record_index: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {"images": self.images, "starts": self.starts, "segments": self.segments,
                "classes": self.classes, "records": self.record_index}


# ----- load and validate ------------------------------------------------------------------------


def spec_files(root: Path) -> list[tuple[str, Path]]:
    """Every file under ``root/relabel`` as (spec-relative path, path), sorted; for hashing."""
    d = Path(root) / RELABEL_DIR
    if not d.is_dir():
        return []
    # Only what the relabel stage reads (relabel files and segment files), never a stray file.
    return sorted((rel, Path(root) / rel) for rel, kind in _entries(d, Path(root)).items()
                  if kind == "file" and (rel.endswith(".tsv") if rel.count("/") >= 2 else load.is_spec_name(rel)))


class _Ctx(rules.Reporter):
    def __init__(self) -> None:
        super().__init__(RULES)


def _parse_block(raw: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Parse LF-terminated ``<key>\\t<id>`` lines (one file, or several concatenated).

    Returns ``(keys, ids)``: keys as an (n, w) uint8 matrix, each row a key's bytes padded
    with zeros to w (a multiple of 8), and ids as uint32; or None if any line is malformed.
    Only numpy passes over the bytes: no Python object per line.
    """
    if not raw:
        return np.zeros((0, 8), np.uint8), np.zeros(0, np.uint32)
    if (raw.translate(None, _ALLOWED) or not raw.endswith(b"\n") or raw.startswith(b"/")
            or b"//" in raw or b"/\t" in raw or b"\n/" in raw):
        return None
    b = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(b == 10)
    tab = np.flatnonzero(b == 9)
    if len(nl) != len(tab):
        return None
    start = np.empty_like(nl)
    start[0] = 0
    start[1:] = nl[:-1] + 1
    klen = tab - start  # >= 1 puts the tab after a non-empty key of its own line
    ilen = nl - tab - 1  # >= 1 puts it before a non-empty id
    if klen.min() < 1 or ilen.min() < 1 or ilen.max() > 10:
        return None
    windows = np.lib.stride_tricks.sliding_window_view
    # ids: the 10 bytes before each newline, right-aligned digits; bytes left of the id read as 0
    digits = windows(np.concatenate((np.full(10, 48, np.uint8), b)), 10)[nl]
    digits[np.arange(10)[None, :] < (10 - ilen)[:, None]] = 48
    digits -= 48
    if digits.max() > 9:  # a byte below '0' wrapped around
        return None
    ids = digits.astype(np.uint64) @ (np.uint64(10) ** np.arange(9, -1, -1, dtype=np.uint64))
    if int(ids.max()) > MAX_SEGMENT_ID:
        return None
    # keys: the bytes from each line's start, zeroed from the tab on, padded to 8-byte words
    longest = int(klen.max())
    width = -(-longest // 8) * 8
    if longest == int(klen.min()):  # keys of one length (COCO ids, ADE names): no mask needed
        keys = np.zeros((len(nl), width), np.uint8)
        keys[:, :longest] = windows(b, longest)[start]
    else:
        keys = windows(np.concatenate((b, np.zeros(width, np.uint8))), width)[start]
        keys[np.arange(width)[None, :] >= klen[:, None]] = 0
    return keys, ids.astype(np.uint32)


def parse_segments(raw: bytes) -> tuple[list[str], np.ndarray] | tuple[None, list[tuple[int, str]]]:
    """Parse one segment file: ``(keys, ids)``, or ``(None, [(line, message), ...])`` when malformed."""
    parsed = _parse_block(raw)
    if parsed is None:
        return None, _bad_lines(raw)
    keys, ids = parsed
    return [k.decode("ascii") for k in keys.view(f"S{keys.shape[1]}").ravel()], ids


def _bad_lines(raw: bytes, limit: int = 5) -> list[tuple[int, str]]:
    """The first ``limit`` malformed lines of a segment file, as (line, message)."""
    import re

    key_re = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
    out: list[tuple[int, str]] = []
    lines = raw.split(b"\n")
    for n, line in enumerate(lines, 1):
        if n == len(lines):
            if line:
                out.append((n, "the last line has no newline (lines end with LF)"))
            break
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            out.append((n, f"{line[:60]!r} holds non-ASCII bytes"))
        else:
            key, sep, sid = text.partition("\t")
            if not sep or "\t" in sid:
                out.append((n, f"{text[:60]!r} is not '<image key>\\t<segment id>' (one tab)"))
            elif not key_re.fullmatch(key):
                out.append((n, f"image key {key[:60]!r} is not a relative path of letters, digits, '_', '.', '-'"))
            elif not (sid.isdigit() and sid.isascii() and len(sid) <= 10) or int(sid) > MAX_SEGMENT_ID:
                out.append((n, f"segment id {sid[:20]!r} is not an integer in 0..{MAX_SEGMENT_ID}"))
        if len(out) >= limit:
            break
    return out or [(1, "malformed segment file")]


def _check_doc(ctx: _Ctx, doc: Document, model: Model, claimed: dict[str, Document]) -> LabelSpace | None:
    """relabel-file-name, unknown-dataset, alias-conflict for one file; its label space if usable."""
    d = doc.data
    name = d["dataset"]
    stem = PurePosixPath(doc.rel).stem
    spaces = model.spaces
    if name not in spaces or name == UNIVERSAL:
        ctx.add(doc, ("dataset",), "relabel-unknown-dataset",
                f"{name!r} is not a declared dataset{rules.suggest(name, sorted(s for s in spaces if s != UNIVERSAL))}")
        return None
    if name != stem:
        ctx.add(doc, ("dataset",), "relabel-file-name",
                f"records of {name!r} are in {stem}.yaml; name the file {name}.yaml")
    feeders = {m.source for m in model.mappings if m.target == name}
    for i, alias in enumerate(d.get("aliases", [])):
        if alias in claimed and claimed[alias] is not doc:
            ctx.add(doc, ("aliases", i), "alias-conflict",
                    f"alias {alias!r} is also claimed by {claimed[alias].file}; an alias names one dataset")
        elif alias == name or alias == UNIVERSAL:
            ctx.add(doc, ("aliases", i), "alias-conflict", f"alias {alias!r} is the name of a label space itself")
        elif alias in spaces and alias not in feeders:
            ctx.add(doc, ("aliases", i), "alias-conflict",
                    f"alias {alias!r} is the declared dataset {alias!r}, which is not remapped into {name}; "
                    "it would name two datasets")
        claimed.setdefault(alias, doc)
    return spaces[name]


def _check_record(ctx: _Ctx, doc: Document, i: int, rec: dict[str, Any], space: LabelSpace,
                  universal: LabelSpace) -> bool:
    """unknown-alias, relabel-unknown-class, class-not-in-dataset for one record."""
    ok = True
    name = doc.data["dataset"]
    aliases = doc.data.get("aliases", [])
    alias = rec.get("alias", name)
    if alias != name and alias not in aliases:
        known = ", ".join([name] + aliases)
        ctx.add(doc, ("records", i, "alias"), "unknown-alias",
                f"record names dataset {alias!r}, which is neither {name} nor one of its aliases ({known})"
                + rules.suggest(alias, [name] + aliases))
        ok = False
    for side in ("from", "to"):
        cls = rec[side]
        if side == "to" and cls == universal.ignore_name:
            continue
        if cls not in universal.index:
            ctx.add(doc, ("records", i, side), "relabel-unknown-class",
                    f"{side} {cls!r} is not a universal class{rules.suggest(cls, list(universal.names))}")
            ok = False
        elif cls not in space.index:
            ctx.add(doc, ("records", i, side), "class-not-in-dataset",
                    f"{side} {cls!r} is a universal class but not a class of {name}")
            ok = False
    return ok


def _entries(folder: Path, root: Path) -> dict[str, str]:
    """Spec-relative path -> 'file', 'link' or 'other' for everything under ``folder``, without
    following links (so a file reached through a linked folder is not there at all)."""
    out: dict[str, str] = {}
    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            it = list(os.scandir(d))
        except OSError:
            continue
        for e in it:
            rel = Path(e.path).relative_to(root).as_posix()
            if e.is_symlink():
                out[rel] = "link"
            elif e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
            elif e.is_file(follow_symlinks=False):
                out[rel] = "file"
            else:
                out[rel] = "other"
    return out


def check(root: Path, model: Model) -> tuple[list[DatasetRelabel], list[Problem]]:
    """Load, validate and compile every relabel file under ``root/relabel``.

    Returns the compiled records of each dataset (sorted by dataset) and every problem; when
    any problem is an error the compiled list is empty and the caller must stop.
    """
    root = Path(root)
    rdir = root / RELABEL_DIR
    if not rdir.is_dir():
        return [], []
    ctx = _Ctx()
    entries = _entries(rdir, root)
    docs: list[Document] = []
    tops = [rel.split("/", 1)[1] for rel in entries if rel.count("/") == 1 and load.is_spec_name(rel)]
    keep, refused = load.duplicate_files(tops, f"{RELABEL_DIR}/", "relabel records")
    stray = sorted(rel for rel in entries if not (rel.endswith(".tsv") if rel.count("/") >= 2
                                                  else load.is_spec_name(rel)))
    if stray:  # read by nobody: one warning for the folder, as for datasets/ and mappings/
        listed = ", ".join(stray[:10]) + (f" and {len(stray) - 10} more" if len(stray) > 10 else "")
        ctx.problems.append(Problem(rdir.as_posix(), 0, "$", "stray-file",
                                    f"{len(stray)} file(s) that are neither relabel files (<dataset>.yaml) nor segment "
                                    f"files (<dataset>/*.tsv) are not read: {listed}", "warning"))
    for name, msg in refused:  # two files for one dataset's records: neither is silently ignored
        ctx.problems.append(Problem((rdir / name).as_posix(), 0, "$", "duplicate-file", msg))
    for rel, kind in sorted(entries.items()):
        if rel.count("/") != 1 or rel.split("/", 1)[1] not in keep:
            continue
        p = root / rel
        if kind != "file":
            rule = "symlink-outside" if kind == "link" else "not-a-file"
            ctx.problems.append(Problem(p.as_posix(), 0, "$", rule,
                                        "is a link; relabel files must be regular files" if kind == "link"
                                        else "is not a regular file"))
            continue
        raw, probs = load.read_spec(p, p.as_posix())
        ctx.problems += probs
        if raw is None:
            continue
        doc, probs = load.parse_yaml(raw, p.as_posix(), rel)
        ctx.problems += probs
        if doc is None:
            continue
        probs = schema.validate_structure(doc, root)  # relabel.schema.json, like every spec's
        ctx.problems += probs
        if not probs:
            docs.append(doc)
    claimed: dict[str, Document] = {}
    named: dict[str, tuple[Document, int]] = {}
    out: list[DatasetRelabel] = []
    seen_datasets: dict[str, Document] = {}
    checked: set[str] = set()  # folders relabel/<stem>/ whose file's records were all looked at
    for doc in docs:
        space = _check_doc(ctx, doc, model, claimed)
        if space is None:
            continue
        if space.name in seen_datasets:
            ctx.add(doc, ("dataset",), "relabel-file-name",
                    f"records of {space.name!r} are also in {seen_datasets[space.name].file}")
            continue
        seen_datasets[space.name] = doc
        checked.add(PurePosixPath(doc.rel).stem)
        compiled = _compile_dataset(ctx, doc, root, space, model.universal, named, entries)
        if compiled is not None:
            out.append(compiled)
    stems = {PurePosixPath(rel).stem for rel in entries if rel.count("/") == 1 and load.is_spec_name(rel)}
    for rel in sorted(entries):
        if not rel.endswith(".tsv") or rel in named:
            continue
        folder = rel.split("/")[1] if rel.count("/") >= 2 else ""
        if folder in checked:
            why = "no record names this segment file; delete it or add a record"
        elif folder not in stems:
            why = f"no relabel file {RELABEL_DIR}/{folder or '<dataset>'}.yaml owns this segment file"
        else:
            continue  # its relabel file did not load or validate: reported already
        ctx.problems.append(Problem((root / rel).as_posix(), 0, "$", "stray-segment-file", why))
    if any(p.severity == "error" for p in ctx.problems):
        return [], sorted(set(ctx.problems))
    return sorted(out, key=lambda r: r.dataset), sorted(set(ctx.problems))


def _compile_dataset(ctx: _Ctx, doc: Document, root: Path, space: LabelSpace, universal: LabelSpace,
                     named: dict[str, tuple[Document, int]], entries: dict[str, str]) -> DatasetRelabel | None:
    """Check one dataset's records and segment files; build its arrays (None on any error)."""
    name = space.name
    folder = PurePosixPath(doc.rel).stem  # relabel/<file stem>/, the dataset's name when the file is named right
    ok = True
    records: list[Record] = []
    raws: list[bytes] = []
    files: list[str] = []
    for i, rec in enumerate(doc.data["records"]):
        ok = _check_record(ctx, doc, i, rec, space, universal) and ok
        where = ("records", i, "segments")
        parts = rec["segments"].split("/")
        rel = f"{RELABEL_DIR}/{folder}/{rec['segments']}"
        shown = (root / rel).as_posix()
        if any(x in (".", "..") for x in parts):
            ctx.add(doc, where, "segment-file", f"{rec['segments']} leads outside {RELABEL_DIR}/{folder}/")
            ok = False
            continue
        if rel in named:
            first_doc, first_i = named[rel]
            ctx.add(doc, where, "segment-file",
                    f"{rec['segments']} is also the segment file of record {first_i} of {first_doc.file}")
            ok = False
            continue
        named[rel] = (doc, i)
        kind = entries.get(rel)
        if kind != "file":
            what = {None: "does not exist", "link": "is a link (segment files must be regular files)",
                    "other": "is not a regular file"}[kind]
            ctx.add(doc, where, "segment-file", f"segment file {shown} {what}")
            ok = False
            continue
        raw, probs = load.read_spec(root / rel, shown)  # bounded, never a traceback (unreadable, FIFO, huge)
        if raw is None:
            ctx.problems += probs
            ok = False
            continue
        n = raw.count(b"\n")
        if not raw:
            ctx.add(doc, where, "empty-segment-list", f"{rec['segments']} lists no segment")
            ok = False
            continue
        if not raw.endswith(b"\n"):  # the files of a split are parsed as one block of lines
            ctx.problems += [Problem(shown, line, "$", "segment-syntax", msg) for line, msg in _bad_lines(raw)]
            ok = False
            continue
        raws.append(raw)
        files.append(shown)
        records.append(Record(name, rec.get("alias", name), rec["split"], rec["from"], rec["to"], rel, n))
    if not ok:
        return None
    built = _build(ctx, space, universal, records, raws, files)
    return None if built is None else replace(built, aliases=tuple(doc.data.get("aliases", [])))


def _build(ctx: _Ctx, space: LabelSpace, universal: LabelSpace, records: list[Record], raws: list[bytes],
           files: list[str]) -> DatasetRelabel | None:
    """The arrays of one dataset: segment-syntax and segment-twice over all of its segment files."""
    dst_ids = np.array([universal.index.get(r.dst, universal.ignore) for r in records], dtype=np.uint8)
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    failed = False
    for split in sorted({r.split for r in records}):
        idx = [k for k, r in enumerate(records) if r.split == split]
        parsed = _parse_block(b"".join(raws[k] for k in idx))
        if parsed is None:  # find the files at fault, line by line
            for k in idx:
                if _parse_block(raws[k]) is None:
                    ctx.problems += [Problem(files[k], line, "$", "segment-syntax", msg)
                                     for line, msg in _bad_lines(raws[k])]
            failed = True
            continue
        keys, ids = parsed
        counts = np.array([records[k].count for k in idx])
        rec = np.repeat(np.array(idx, np.int64), counts)
        line = np.arange(len(ids)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        cols = keys.view(">u8")  # big-endian words: their order is the bytes' order
        varying = [j for j in range(cols.shape[1]) if not (cols[:, j] == cols[0, j]).all()]
        if len(varying) <= 1:  # e.g. COCO's 12-digit ids: rank the one word, then one sort
            word = cols[:, varying[0]] if varying else np.zeros(len(ids), np.uint64)
            rank = np.unique(word, return_inverse=True)[1].reshape(-1).astype(np.uint64)
            order = np.argsort((rank << np.uint64(32)) | ids, kind="stable")
        else:
            order = np.lexsort((ids,) + tuple(cols[:, j] for j in reversed(varying)))
        ks, si = cols[order], ids[order]
        new_image = np.ones(len(si), bool)
        new_image[1:] = np.any(ks[1:] != ks[:-1], axis=1)
        twice = np.flatnonzero(~new_image[1:] & (si[1:] == si[:-1]))
        for j in twice[:20]:
            a, b = order[j], order[j + 1]
            key = keys[a].tobytes().rstrip(b"\0").decode("ascii")
            first, second = (a, b) if (rec[a], line[a]) < (rec[b], line[b]) else (b, a)
            r0 = records[rec[first]]
            ctx.problems.append(Problem(
                files[rec[second]], int(line[second]), "$", "segment-twice",
                f"segment {int(ids[a])} of {split} image {key!r} is also moved by "
                f"{files[rec[first]]}:{int(line[first])} ({r0.src} -> {r0.dst}); a segment moves once"))
            failed = True
        if len(twice) > 20:
            ctx.problems.append(Problem(files[idx[0]], 0, "$", "segment-twice",
                                        f"... and {len(twice) - 20} more segments of {split} moved twice"))
        parts.append((split, keys[order][new_image], np.flatnonzero(new_image), si, rec[order]))
    if failed:
        return None
    width = max(int(np.count_nonzero(k.any(axis=0))) for _, k, _, _, _ in parts)
    images, starts, splits = [], [], {}
    row = seg = 0
    for split, block, first, si, _ in parts:
        padded = np.zeros((len(block), width), np.uint8)
        padded[:, : min(width, block.shape[1])] = block[:, :width]
        images.append(padded.view(f"S{width}").ravel())
        starts.append(first + seg)
        splits[split] = (row, row + len(block))
        row += len(block)
        seg += len(si)
    return DatasetRelabel(
        dataset=space.name,
        aliases=(),
        records=tuple(records),
        splits=splits,
        images=np.concatenate(images),
        starts=np.concatenate(starts + [np.array([seg])]).astype(np.uint32),
        segments=np.concatenate([p[3] for p in parts]).astype(np.uint32),
        classes=np.concatenate([dst_ids[p[4]] for p in parts]).astype(np.uint8),
        record_index=np.concatenate([p[4] for p in parts]).astype(np.uint16),
    )


# ----- emit ------------------------------------------------------------------------------------
