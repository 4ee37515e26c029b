"""Stage 1 for relabel records: find what is under ``relabel/``, read the segment files, parse them.

``find`` lists ``relabel/`` without following links and sorts what it finds into relabel files
(``<dataset>.yaml``: read, parsed and schema-validated with every other spec, by
compiler/cache.py), segment files (``<dataset>/**/*.tsv``) and stray files (one warning), with
the loader's problems for two files of one dataset's records and for a relabel file that is a
link or not a regular file. ``read_segments`` reads the segment files the records name, bounded
and non-blocking (``load.read_spec``: a FIFO, a huge or unreadable file is a Problem, never a
hang or a traceback), and parses each folder's files in one vectorised pass (``parse_block``):
no Python object per line. Each file's problems are kept for the rules
(compiler/rules_relabel.py), which report them for the records whose file may be read at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from . import load
from .errors import Problem
from .load import Document
from .relabel import MAX_SEGMENT_ID, RELABEL_DIR

# Bytes a segment file may hold besides the tab and newline that separate fields: image keys
# are relative paths of letters, digits, '_', '.', '-' (no spaces); segment ids are digits.
_KEY_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/"
_KEY_OK = np.zeros(256, bool)
_KEY_OK[list(_KEY_BYTES) + [0]] = True  # 0: the padding after a shorter key
# the first byte value from each one on that may not be in a key: a column whose bytes lie in
# [low, high] holds only key bytes if _NOT_OK_FROM[low] > high ('-./0..9', 'A..Z', 'a..z' are runs)
_NOT_OK_FROM = [next(u for u in range(v, 257) if u == 256 or not _KEY_OK[u]) for v in range(256)]


@dataclass
class Found:
    """What is under ``root/relabel``: every entry (spec-relative path -> 'file', 'link' or
    'other'), the relabel files to read, the files the specs hash covers, and the problems."""

    root: Path
    entries: dict[str, str] = field(default_factory=dict)
    to_read: list[tuple[str, Path]] = field(default_factory=list)  # relabel files: (rel, path)
    hashed: list[str] = field(default_factory=list)  # relabel and segment files that are regular files
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class SegmentFile:
    """One segment file as read: its rows in its folder's block, or why it has none."""

    shown: str  # the path shown in messages
    rows: tuple[int, int] | None  # [start, stop) in the folder's block; None when not read or malformed
    problems: tuple[Problem, ...] = ()  # why it could not be read
    bad: tuple[tuple[int, str], ...] = ()  # its malformed lines (line, message), when it did not parse
    terminated: bool = True  # ends with a newline (or is empty)


@dataclass(frozen=True)
class SegmentBlock:
    """Segment lines (rows) parsed: of one file, or of every file of one folder ``relabel/<stem>/``
    that parsed, in file order. The image keys are held by byte position (one contiguous pass
    each, for the checks here and the sort of the rules)."""

    keys: np.ndarray  # (width, rows) uint8: byte j of each row's image key, zero-padded to the longest
    ids: np.ndarray  # (rows,) uint32 segment ids


@dataclass
class Sources:
    """``relabel/`` after the load and schema stages."""

    found: Found
    docs: list[Document] = field(default_factory=list)  # relabel files that parsed and passed their schema
    problems: list[Problem] = field(default_factory=list)  # finding, reading, parsing, validating them
    segments: dict[str, SegmentFile] = field(default_factory=dict)  # spec-relative path -> its file
    blocks: dict[str, SegmentBlock] = field(default_factory=dict)  # folder (relabel/<stem>) -> its rows
    files: dict[str, bytes] = field(default_factory=dict)  # rel -> bytes of every file read (the specs hash)


def is_segment_path(rel: str) -> bool:
    """Whether a spec-relative path under relabel/ is where a segment file may be (not a stray file)."""
    return rel.endswith(".tsv") if rel.count("/") >= 2 else load.is_spec_name(rel)


def _entries(folder: str, rel: str) -> dict[str, str]:
    """Spec-relative path -> 'file', 'link' or 'other' for everything under ``folder`` (whose
    spec-relative path is ``rel``), without following links (so a file reached through a linked
    folder is not there at all)."""
    out: dict[str, str] = {}
    stack = [(folder, rel)]
    while stack:
        d, base = stack.pop()
        try:
            it = list(os.scandir(d))
        except OSError:
            continue
        for e in it:
            r = f"{base}/{e.name}"
            if e.is_symlink():
                out[r] = "link"
            elif e.is_dir(follow_symlinks=False):
                stack.append((e.path, r))
            elif e.is_file(follow_symlinks=False):
                out[r] = "file"
            else:
                out[r] = "other"
    return out


def find(root: Path) -> Found:
    """Every entry under ``root/relabel``, the relabel files to read and the loader's problems:
    stray files (one warning for the folder), two files for one dataset's records, a relabel file
    that is a link or not a regular file."""
    root = Path(root)
    found = Found(root)
    rdir = root / RELABEL_DIR
    if not rdir.is_dir():
        return found
    entries = found.entries = _entries(str(rdir), RELABEL_DIR)
    found.hashed = sorted(rel for rel, kind in entries.items() if kind == "file" and is_segment_path(rel))
    tops = [rel.split("/", 1)[1] for rel in entries if rel.count("/") == 1 and load.is_spec_name(rel)]
    keep, refused = load.duplicate_files(tops, f"{RELABEL_DIR}/", "relabel records")
    stray = sorted(rel for rel in entries if not is_segment_path(rel))
    if stray:  # read by nobody: one warning for the folder, as for datasets/ and mappings/
        listed = ", ".join(stray[:10]) + (f" and {len(stray) - 10} more" if len(stray) > 10 else "")
        found.problems.append(Problem(rdir.as_posix(), 0, "$", "stray-file",
                                      f"{len(stray)} file(s) that are neither relabel files (<dataset>.yaml) nor "
                                      f"segment files (<dataset>/*.tsv) are not read: {listed}", "warning"))
    for name, msg in refused:  # two files for one dataset's records: neither is silently ignored
        found.problems.append(Problem((rdir / name).as_posix(), 0, "$", "duplicate-file", msg))
    for name in keep:
        rel = f"{RELABEL_DIR}/{name}"
        p = root / rel
        kind = entries[rel]
        if kind == "file":
            found.to_read.append((rel, p))
        elif kind == "link":
            found.problems.append(Problem(p.as_posix(), 0, "$", "symlink-outside",
                                          "is a link; relabel files must be regular files"))
        else:
            found.problems.append(Problem(p.as_posix(), 0, "$", "not-a-file", "is not a regular file"))
    return found


# ----- segment files ------------------------------------------------------------------------------


def parse_block(raw: bytes) -> SegmentBlock | None:
    """Parse LF-terminated ``<key>\\t<id>`` lines (one file, or several concatenated); None if any
    line is malformed. Only numpy passes over the bytes: no Python object per line."""
    parsed = _parse(raw)
    return None if parsed is None else parsed[0]


def _parse(raw: bytes) -> tuple[SegmentBlock, np.ndarray] | None:
    """``parse_block``, and the offset of each line's newline in ``raw``."""
    if not raw:
        return SegmentBlock(np.zeros((1, 0), np.uint8), np.zeros(0, np.uint32)), np.zeros(0, np.intp)
    if not raw.endswith(b"\n") or not raw.isascii():
        return None
    b = np.frombuffer(raw, dtype=np.uint8)
    # tabs and newlines (and any other control byte) are below 32: they must alternate, one tab a line
    sep = np.flatnonzero(b < 32)
    tab, nl = sep[0::2], sep[1::2]
    if len(tab) != len(nl):
        return None
    at_tab, at_nl = b[tab], b[nl]
    if at_tab.min() != 9 or at_tab.max() != 9 or at_nl.min() != 10 or at_nl.max() != 10:
        return None
    start = np.empty_like(nl)
    start[0] = 0
    start[1:] = nl[:-1] + 1
    klen = tab - start  # >= 1: a non-empty key before the tab
    ilen = nl - tab - 1  # >= 1: a non-empty id after it
    if klen.min() < 1 or ilen.min() < 1 or ilen.max() > 10:
        return None
    if b"/" in raw:  # keys are relative paths: no '/' first, last or twice in a row
        slash = np.flatnonzero(b == 47)
        if (b[start] == 47).any() or (b[tab - 1] == 47).any() or (slash[1:] - slash[:-1] == 1).any():
            return None
    ids = _ids(b, nl, ilen)  # checks that every byte between a tab and a newline is a digit
    if ids is None:
        return None
    keys = _keys(b, start, klen)  # and that every byte before a tab may be in a key
    if keys is None:
        return None
    return SegmentBlock(keys, ids), nl


def _keys(b: np.ndarray, start: np.ndarray, klen: np.ndarray) -> np.ndarray | None:
    """The image keys by byte position, (longest, rows), zero-padded; None if a key holds a byte
    that may not be in one (a position whose bytes all lie in one run of key bytes, such as
    digits, needs no look-up)."""
    shortest, longest = int(klen.min()), int(klen.max())
    keys = np.empty((longest, len(start)), np.uint8)
    at = start.copy()
    for j in range(longest):
        np.take(b, at, out=keys[j], mode="clip")  # past the end only in padding
        if j >= shortest:
            keys[j] *= klen > j
        at += 1
    lows, highs = keys.min(axis=1), keys.max(axis=1)
    for j in range(longest):
        if _NOT_OK_FROM[int(lows[j])] <= int(highs[j]) and not _KEY_OK[keys[j]].all():
            return None
    return keys


_ZEROS = np.uint64(0x3030303030303030)  # eight ASCII '0'


def _ids(b: np.ndarray, nl: np.ndarray, ilen: np.ndarray) -> np.ndarray | None:
    """The segment ids, ``ilen`` (1..10) ASCII digits before each newline, as uint32; None if a
    byte is not a digit or an id exceeds MAX_SEGMENT_ID.

    The last eight digits of each id are read as one little-endian 64-bit word (the bytes before
    a shorter id replaced by '0') and turned into a number with three multiply-and-shift steps
    (SWAR): a handful of passes over the ids, not one per digit."""
    pad = np.concatenate((np.full(8, 48, np.uint8), b))  # reading before the first line gives '0's
    # the eight bytes before each newline as one word: a view of unaligned words, one per byte offset
    word = np.ndarray((len(pad) - 7,), dtype="<u8", buffer=pad, strides=(1,))[nl]
    low = np.minimum(ilen, 8).astype(np.uint64)
    low *= np.uint64(8)
    low = np.uint64(2**64 - 1) >> low  # the bits below the id's digits (LE: the bytes before it)
    word &= ~low
    word |= _ZEROS & low
    high = np.uint64(0xF0F0F0F0F0F0F0F0)
    if ((word & high) != _ZEROS).any() or (((word + np.uint64(0x0606060606060606)) & high) != _ZEROS).any():
        return None  # a byte outside '0'..'9' (the first test leaves '0'..'?': adding 6 carries out of none)
    word -= _ZEROS
    word = (word * np.uint64(10)) + (word >> np.uint64(8))  # pairs of digits
    word = (((word & np.uint64(0x000000FF000000FF)) * np.uint64(100 + (1000000 << 32)))
            + (((word >> np.uint64(16)) & np.uint64(0x000000FF000000FF)) * np.uint64(1 + (10000 << 32))))
    ids: np.ndarray = word >> np.uint64(32)
    if int(ilen.max()) > 8:  # ids of nine or ten digits: the two digits before the last eight
        hi = np.zeros(len(nl), np.uint64)
        for k, scale in ((9, 1), (10, 10)):
            d = np.where(ilen >= k, pad[nl + 8 - k].astype(np.int64) - 48, 0)
            if d.min() < 0 or d.max() > 9:
                return None
            hi += d.astype(np.uint64) * np.uint64(scale)
        ids = ids + hi * np.uint64(10**8)
        if int(ids.max()) > MAX_SEGMENT_ID:
            return None
    return ids.astype(np.uint32)


def parse_segments(raw: bytes) -> tuple[list[str], np.ndarray] | tuple[None, list[tuple[int, str]]]:
    """Parse one segment file: ``(keys, ids)``, or ``(None, [(line, message), ...])`` when malformed."""
    block = parse_block(raw)
    if block is None:
        return None, bad_lines(raw)
    rows = np.ascontiguousarray(block.keys.T)
    return [k.decode("ascii") for k in rows.view(f"S{rows.shape[1]}").ravel()], block.ids


def bad_lines(raw: bytes, limit: int = 5) -> list[tuple[int, str]]:
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


def named_segment_files(sources: Sources) -> list[str]:
    """The spec-relative paths of the segment files the records of the relabel files name that
    are regular files, sorted (a record's file is ``relabel/<file stem>/<segments>``)."""
    entries = sources.found.entries
    named = {f"{RELABEL_DIR}/{stem}/{rec['segments']}" for doc in sources.docs
             for stem in [PurePosixPath(doc.rel).stem] for rec in doc.data["records"]
             if isinstance(rec.get("segments"), str)}
    return sorted(rel for rel in named if entries.get(rel) == "file")


def read_segments(sources: Sources) -> None:
    """Read the segment files the records name (regular files only) into ``sources``: each
    folder's files are parsed as one block; a block that does not parse is parsed file by file to
    find the malformed ones (their lines), the rest keep their rows."""
    shown_dir = (sources.found.root / RELABEL_DIR).as_posix()
    folders: dict[str, list[str]] = {}
    for rel in named_segment_files(sources):
        folders.setdefault("/".join(rel.split("/", 2)[:2]), []).append(rel)
    for folder, rels in folders.items():
        good: list[tuple[str, str, bytes]] = []
        for rel in rels:
            shown = shown_dir + rel[len(RELABEL_DIR):]
            raw, probs = load.read_spec(shown, shown)
            if raw is None:
                sources.segments[rel] = SegmentFile(shown, None, problems=tuple(probs))
                continue
            if is_segment_path(rel):
                sources.files[rel] = raw
            if raw and not raw.endswith(b"\n"):  # would run into the next file's first line
                sources.segments[rel] = SegmentFile(shown, None, bad=tuple(bad_lines(raw)), terminated=False)
                continue
            good.append((rel, shown, raw))
        parsed = _parse(b"".join(raw for _, _, raw in good))
        if parsed is not None:
            block, nl = parsed
            ends = np.searchsorted(nl, np.cumsum([len(raw) for _, _, raw in good]))  # rows up to each file's end
            parts = [(rel, shown, int(n)) for (rel, shown, _), n in zip(good, np.diff(ends, prepend=0), strict=True)]
        else:  # find the files at fault, line by line
            parts, blocks = [], []
            for rel, shown, raw in good:
                one = parse_block(raw)
                if one is None:
                    sources.segments[rel] = SegmentFile(shown, None, bad=tuple(bad_lines(raw)))
                else:
                    parts.append((rel, shown, len(one.ids)))
                    blocks.append(one)
            width = max([k.keys.shape[0] for k in blocks], default=1)
            block = SegmentBlock(
                np.concatenate([np.pad(k.keys, ((0, width - k.keys.shape[0]), (0, 0))) for k in blocks], axis=1)
                if blocks else np.zeros((width, 0), np.uint8),
                np.concatenate([k.ids for k in blocks]) if blocks else np.zeros(0, np.uint32))
        row = 0
        for rel, shown, n in parts:
            sources.segments[rel] = SegmentFile(shown, (row, row + n))
            row += n
        sources.blocks[folder] = block
