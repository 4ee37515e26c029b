"""Stage 3 for relabel records: the rules of stage ``relabel`` (compiler/registry.py).

They run on what the load stage made of ``relabel/`` (compiler/load_relabel.py: the relabel
files that passed their schema, the segment files the records name, read and parsed) once the
main model is built, since they need the universal classes and the datasets: relabel-file-name,
relabel-unknown-dataset, alias-conflict (per file); unknown-alias, relabel-unknown-class,
class-not-in-dataset, segment-file, empty-segment-list (per record); segment-syntax,
segment-twice (per segment line); stray-segment-file (per file no record names).

segment-twice needs each dataset's segments in order of (split, image key, segment id): that
order is computed here once, and handed on with the rows (``relabel.Checked``) to the tables
stage (``tables.relabel_tables``), which lays the arrays out in it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import numpy as np

from . import load, registry, rules
from .errors import Problem
from .load import Document
from .load_relabel import SegmentFile, Sources
from .model import UNIVERSAL, LabelSpace, Model
from .relabel import RELABEL_DIR, Checked, Record

#: the rules of this stage (ids, descriptions: compiler/registry.py)
RULES: dict[str, str] = registry.of_stage("relabel")

#: segment-twice names at most this many segments of one split, then counts the rest
TWICE_SHOWN = 20


class _Ctx(rules.Reporter):
    def __init__(self) -> None:
        super().__init__(RULES)


def check(sources: Sources, model: Model) -> tuple[list[Checked], list[Problem]]:
    """The rules over every relabel file and segment file ``sources`` holds.

    Returns each dataset's checked records (sorted by dataset) and every problem, the load
    stage's included; when any problem is an error the checked list is empty and the caller
    must stop.
    """
    ctx = _Ctx()
    ctx.problems += sources.problems
    root = sources.found.root
    entries = sources.found.entries
    named: dict[str, tuple[Document, int]] = {}
    out: list[Checked] = []
    seen_datasets: dict[str, Document] = {}
    checked: set[str] = set()  # folders relabel/<stem>/ whose file's records were all looked at
    for doc in sources.docs:
        space = _check_doc(ctx, doc, model)
        if space is None:
            continue
        if space.name in seen_datasets:
            ctx.add(doc, ("dataset",), "relabel-file-name",
                    f"records of {space.name!r} are also in {seen_datasets[space.name].file}")
            continue
        seen_datasets[space.name] = doc
        checked.add(PurePosixPath(doc.rel).stem)
        one = _check_dataset(ctx, doc, sources, space, model.universal, named)
        if one is not None:
            out.append(one)
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
        ctx.at((root / rel).as_posix(), 0, "stray-segment-file", why)
    problems = sorted(set(ctx.problems))
    if any(p.severity == "error" for p in problems):
        return [], problems
    return sorted(out, key=lambda c: c.dataset), problems


def _check_doc(ctx: _Ctx, doc: Document, model: Model) -> LabelSpace | None:
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
    # Several files may share an alias: they apply records of one source to several label spaces
    # (MSeg relabels cityscapes-19 and cityscapes-34 with the same Cityscapes records).
    for i, alias in enumerate(d.get("aliases", [])):
        if alias == name or alias == UNIVERSAL:
            ctx.add(doc, ("aliases", i), "alias-conflict", f"alias {alias!r} is the name of a label space itself")
        elif alias in spaces and alias not in feeders:
            ctx.add(doc, ("aliases", i), "alias-conflict",
                    f"alias {alias!r} is the declared dataset {alias!r}, which is not remapped into {name}; "
                    "it would name two datasets")
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


def _check_dataset(ctx: _Ctx, doc: Document, sources: Sources, space: LabelSpace, universal: LabelSpace,
                   named: dict[str, tuple[Document, int]]) -> Checked | None:
    """Check one dataset's records and their segment files; its rows in order (None on any error)."""
    name = space.name
    folder = PurePosixPath(doc.rel).stem  # relabel/<file stem>/, the dataset's name when the file is named right
    ok = True
    records: list[Record] = []
    files: list[SegmentFile] = []
    for i, rec in enumerate(doc.data["records"]):
        ok = _check_record(ctx, doc, i, rec, space, universal) and ok
        where = ("records", i, "segments")
        parts = rec["segments"].split("/")
        rel = f"{RELABEL_DIR}/{folder}/{rec['segments']}"
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
        kind = sources.found.entries.get(rel)
        if kind != "file":
            what = {None: "does not exist", "link": "is a link (segment files must be regular files)",
                    "other": "is not a regular file"}[kind]
            ctx.add(doc, where, "segment-file", f"segment file {(sources.found.root / rel).as_posix()} {what}")
            ok = False
            continue
        seg = sources.segments[rel]  # read by the load stage: every regular file a record names
        if seg.problems:  # bounded, never a traceback (unreadable, FIFO, huge)
            ctx.problems += seg.problems
            ok = False
            continue
        if seg.rows is not None and seg.rows[0] == seg.rows[1]:
            ctx.add(doc, where, "empty-segment-list", f"{rec['segments']} lists no segment")
            ok = False
            continue
        if not seg.terminated:  # the files of a folder are parsed as one block of lines
            _syntax(ctx, seg)
            ok = False
            continue
        count = seg.rows[1] - seg.rows[0] if seg.rows is not None else 0
        records.append(Record(name, rec.get("alias", name), rec["split"], rec["from"], rec["to"], rel, count))
        files.append(seg)
    if not ok:
        return None
    return _check_segments(ctx, doc, sources, records, files)


def _syntax(ctx: _Ctx, seg: SegmentFile) -> None:
    for line, msg in seg.bad:
        ctx.at(seg.shown, line, "segment-syntax", msg)


def _check_segments(ctx: _Ctx, doc: Document, sources: Sources, records: list[Record],
                    files: list[SegmentFile]) -> Checked | None:
    """segment-syntax and segment-twice over all segment files of one dataset (whose records and
    files passed every other rule); its rows in the order of the tables when there is no error."""
    splits = sorted({r.split for r in records})
    failed = set()
    for r, seg in zip(records, files, strict=True):
        if seg.rows is None:  # malformed: the whole split is left out of segment-twice
            _syntax(ctx, seg)
            failed.add(r.split)
    spans = sorted((seg.rows[0], seg.rows[1], k) for k, (r, seg) in enumerate(zip(records, files, strict=True))
                   if r.split not in failed and seg.rows is not None)
    twice = False
    if spans:
        block = sources.blocks["/".join(records[0].segments.split("/", 2)[:2])]
        start = np.array([s[0] for s in spans], np.int64)
        stop = np.array([s[1] for s in spans], np.int64)
        counts = stop - start
        if start[0] == 0 and stop[-1] == len(block.ids) and (start[1:] == stop[:-1]).all():
            keys, ids = block.keys, block.ids  # the records' files are the whole folder: no copy
        else:
            sel = np.concatenate([np.arange(a, b) for a, b, _ in spans])
            keys, ids = block.keys[:, sel], block.ids[sel]
        record = np.repeat(np.array([s[2] for s in spans], np.int64), counts)
        line = np.arange(len(ids)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        split_of = np.array([splits.index(r.split) for r in records], np.int64)[record]
        order, new_image, same = sort_segments(keys, ids, split_of, record, line, len(splits))
        twice = _report_twice(ctx, records, files, splits, keys, ids, split_of, record, line, order, same)
    if failed or twice:
        return None
    return Checked(dataset=records[0].dataset, aliases=tuple(doc.data.get("aliases", [])), records=tuple(records),
                   splits=tuple(splits), keys=keys, ids=ids, split=split_of, record=record, order=order,
                   new_image=new_image)


def _report_twice(ctx: _Ctx, records: list[Record], files: list[SegmentFile], splits: list[str],
                  keys: np.ndarray, ids: np.ndarray, split_of: np.ndarray, record: np.ndarray, line: np.ndarray,
                  order: np.ndarray, same: np.ndarray) -> bool:
    """segment-twice for each segment of a split moved by two records (or listed twice): the
    first TWICE_SHOWN of each split by name, then a count. True if there was any."""
    twice = np.flatnonzero(same)
    if not len(twice):
        return False
    where = split_of[order[twice]]
    for s, split in enumerate(splits):
        these = twice[where == s]
        for j in these[:TWICE_SHOWN]:
            a, b = order[j], order[j + 1]
            key = keys[:, a].tobytes().rstrip(b"\0").decode("ascii")
            first, second = (a, b) if (record[a], line[a]) < (record[b], line[b]) else (b, a)
            r0 = records[record[first]]
            ctx.at(files[record[second]].shown, int(line[second]), "segment-twice",
                   f"segment {int(ids[a])} of {split} image {key!r} is also moved by "
                   f"{files[record[first]].shown}:{int(line[first])} ({r0.src} -> {r0.dst}); a segment moves once")
        if len(these) > TWICE_SHOWN:
            k = next(k for k, r in enumerate(records) if r.split == split)
            ctx.at(files[k].shown, 0, "segment-twice",
                   f"... and {len(these) - TWICE_SHOWN} more segments of {split} moved twice")
    return True


def sort_segments(keys: np.ndarray, ids: np.ndarray, split: np.ndarray, record: np.ndarray, line: np.ndarray,
                  n_splits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order of segment rows by (split, image key, segment id), ties by (record, line); ``keys``
    by byte position, (width, rows), as the load stage parses them.

    Returns ``(order, new_image, same)``: the sorted row indices; over the sorted rows, True where
    a row starts a (split, image); over adjacent pairs of sorted rows, True where both are the
    same segment (split, image key and segment id).

    Image keys sort as zero-padded bytes. Only the byte positions where keys differ count, each
    as the dense rank of its byte among those present there, packed (mixed radix, the split
    first) into as few 64-bit words as hold them. When one word holds the split, the key, the
    segment id and the row (COCO's 12-digit image ids: 6 varying digits), sorting that word is
    the order; otherwise ``np.lexsort`` sorts the words. Rows that are the same segment (an
    error) are put in record and line order.
    """
    n = len(ids)
    lows, highs = keys.min(axis=1), keys.max(axis=1)
    words: list[np.ndarray] = []
    word = split.astype(np.uint64)
    size = max(n_splits, 1)
    present = np.zeros(256, bool)
    for j in np.flatnonzero(lows != highs):
        col, low = keys[j], int(lows[j])
        radix = int(highs[j]) - low + 1
        rank = None
        if radix > 16:  # not a few neighbouring bytes (digits): the dense rank of the bytes present
            present[:] = False
            present[col] = True
            radix = int(np.count_nonzero(present))
            rank = np.cumsum(present, dtype=np.uint64) - np.uint64(1)
        if size * radix > 2**64:
            words.append(word)
            word, size = np.zeros(n, np.uint64), 1
        word *= np.uint64(radix)
        if rank is None:  # the byte less the lowest (modulo 2**64 on the way: the sum fits)
            word += col
            word -= np.uint64(low)
        else:
            word += np.take(rank, col)
        size *= radix
    words.append(word)
    top = int(ids.max()) + 1
    new_image = np.empty(n, bool)
    new_image[0] = True
    shift = n.bit_length()
    if len(words) == 1 and (size * top) << shift <= 2**64:  # image, id and row in one word
        value = words[0] * np.uint64(top)
        value += ids
        value <<= np.uint64(shift)
        value |= np.arange(n, dtype=np.uint64)
        value.sort()
        order = (value & np.uint64((1 << shift) - 1)).astype(np.intp)
        value >>= np.uint64(shift)
        same = value[1:] == value[:-1]
        if same.any():  # one segment in two rows: ties in record and line order, not in row order
            order = np.lexsort((line, record, ids, words[0]))  # the same values in the same order
        image = words[0][order]
        new_image[1:] = image[1:] != image[:-1]
    else:
        order = np.lexsort((line, record, ids, *reversed(words)))
        new_image[1:] = False
        for w in words:
            w = w[order]
            new_image[1:] |= w[1:] != w[:-1]
        si = ids[order]
        same = ~new_image[1:] & (si[1:] == si[:-1])
    return order, new_image, same
