"""``unitax examples``, phase 1: the label spaces of prepared trees, and where each class lies per sample.

A prepared tree (``unitax prepare``'s OUT_ROOT, or any folder laid out so) holds, per label space,
``<space>/list/<split>.txt``: ``<image> <label>`` per line, both relative to the tree. A space the
taxonomy maps to universal is *shown*: its classes get examples. Where a space and its
``-relabeled`` space are both there, the relabeled one is shown (MSeg trains on it) and the other
is its *base*: the pixels whose universal class differs between the two are the segments relabel
records moved. A union dataset whose label images are those of a space in the tree (the same
class list, e.g. ``ade20k-150-unions`` of ``ade20k-150``) gets examples of its classes from there.

:class:`ScanJob` (a batch :class:`~..batch.Step`) reads a chunk of samples and writes, atomically,
one part file: per sample, per class present ``[id, pixels, x0, y0, x1, y1, cut]`` (box end
exclusive, ``cut``: the box touches the image border; with a base space, then the base class most
of its pixels had) and per relabel move ``[before id, after
id, pixels, x0, y0, x1, y1, cut]``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ....fileops.atomic import write_atomic
from ....fileops.datapath import DataPathError, Root, split_lines
from ...errors import ToolError
from ..batch import Outcome, same_file

LIST_DIR = "list"
RELABELED = "-relabeled"
#: samples per scan task
CHUNK = 64
#: statistics are taken on every s-th pixel, s chosen so that at most this many are looked at
STAT_PIXELS = 4_000_000


class ExamplesError(ToolError):
    """``unitax examples`` or ``unitax docs --examples`` cannot run as asked."""


@dataclass(frozen=True)
class Sample:
    """One line of a shown space's list: its tree, split, image and label (and the base space's label)."""

    tree: int
    split: str
    image: str            # relative to the tree
    label: str            # relative to the tree
    base_label: str | None


@dataclass(frozen=True)
class Shown:
    """A space whose classes get examples, its base (the space before relabeling) and its union datasets."""

    space: str
    base: str | None
    unions: tuple[str, ...]


def _stats_space(shown: Shown) -> str:
    return shown.base or shown.space


def find_shown(tax: Any, trees: list[Path], only: tuple[str, ...] = ()) -> tuple[list[Shown], dict[str, list[Sample]],
                                                                               list[str]]:
    """The shown spaces of ``trees`` (sorted by name), their samples, and notes on what was passed over.

    ``only``: show these spaces alone (each must be in a tree). ExamplesError for a tree or list
    that cannot be read, or a path in a list that leaves its tree."""
    to_u = {d for d in tax.datasets if _maps_to_universal(tax, d)}
    unions = [d for d in tax.datasets if d in to_u and tax.is_union(d)]
    present: dict[str, dict[int, dict[str, list[str]]]] = {}   # space -> tree -> split -> lines
    notes: list[str] = []
    for i, tree in enumerate(trees):
        if not tree.is_dir():
            raise ExamplesError(f"{tree} is not a folder (give prepared trees: unitax prepare's OUT_ROOT)")
        found = 0
        for entry in sorted(os.listdir(tree)):
            lst = tree / entry / LIST_DIR
            if not lst.is_dir():
                continue
            if entry not in tax.datasets:
                notes.append(f"{tree / entry}: not a label space of this taxonomy; passed over")
                continue
            found += 1
            for f in sorted(lst.iterdir()):
                if f.suffix != ".txt" or not f.is_file():
                    continue
                try:
                    text = f.read_text("utf-8")
                except (OSError, UnicodeDecodeError) as e:
                    raise ExamplesError(f"{f}: cannot read: {getattr(e, 'strerror', None) or e}") from None
                present.setdefault(entry, {}).setdefault(i, {})[f.stem] = split_lines(text)
        if not found:
            raise ExamplesError(f"{tree}: no label space found (expected <space>/{LIST_DIR}/<split>.txt, "
                                "as unitax prepare writes)")
    shown: list[Shown] = []
    for space in sorted(present):
        if space not in to_u or tax.is_union(space):
            continue
        if space + RELABELED in present and space + RELABELED in to_u:
            continue   # shown through its relabeled space
        base = space[: -len(RELABELED)] if space.endswith(RELABELED) else None
        if base is not None and base not in present:
            base = None
        src = base or space
        names = tuple(tax.names(src))
        us = tuple(u for u in unions if tuple(tax.names(u)) == names)
        shown.append(Shown(space, base, us))
    if only:
        missing = sorted(set(only) - {s.space for s in shown})
        if missing:
            raise ExamplesError(f"--space {', '.join(missing)}: not a shown space of these trees; the trees show "
                                f"{', '.join(s.space for s in shown) or 'none'}")
        shown = [s for s in shown if s.space in only]
    if not shown:
        raise ExamplesError("the trees hold no label space that maps to universal")
    samples: dict[str, list[Sample]] = {}
    for sh in shown:
        out: list[Sample] = []
        for ti, splits in sorted(present[sh.space].items()):
            root = Root(trees[ti], "follow")
            for split, lines in sorted(splits.items()):
                base_lines = present.get(sh.base or "", {}).get(ti, {}).get(split) if sh.base else None
                if base_lines is not None and len(base_lines) != len(lines):
                    raise ExamplesError(f"{trees[ti]}: {sh.base}/{split} has {len(base_lines)} lines, "
                                        f"{sh.space}/{split} {len(lines)}; not one prepared tree")
                for n, line in enumerate(lines):
                    parts = line.split(" ")
                    if len(parts) < 2:
                        continue   # a test image without labels
                    where = f"{trees[ti] / sh.space / LIST_DIR / (split + '.txt')}, line {n + 1}"
                    try:
                        for p in parts[:2]:
                            root.join(p, "list path")
                    except DataPathError as e:
                        raise ExamplesError(f"{where}: {e}") from None
                    bl = None
                    if base_lines is not None:
                        bparts = base_lines[n].split(" ")
                        if len(bparts) < 2 or bparts[0] != parts[0]:
                            raise ExamplesError(f"{trees[ti]}: line {n + 1} of {sh.base}/{split} is not the sample "
                                                f"of {sh.space}/{split}'s line {n + 1}")
                        bl = bparts[1]
                        try:
                            root.join(bl, "list path")
                        except DataPathError as e:
                            raise ExamplesError(f"{trees[ti] / str(sh.base) / LIST_DIR / (split + '.txt')}, "
                                                f"line {n + 1}: {e}") from None
                    out.append(Sample(ti, split, parts[0], parts[1], bl))
        samples[sh.space] = out
    return shown, samples, notes


def _maps_to_universal(tax: Any, d: str) -> bool:
    from ....errors import UnknownDatasetError

    try:
        tax.lut(d)
    except UnknownDatasetError:   # a test dataset, or a source reaching universal only through a remap
        return False
    return True


# ----- the step ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanTask:
    """A chunk of one shown space's samples, and the part file it writes."""

    rel: str
    space: str
    samples: tuple[tuple[str, str | None], ...]      # (label path, base label path), absolute
    part: str                                         # absolute path of the part file


@dataclass(frozen=True)
class ScanJob:
    """Where the classes lie in each sample (and what relabel records moved); see the module doc."""

    luts: dict[str, np.ndarray]           # space -> table to universal
    ignore: dict[str, int]
    bases: dict[str, str]                 # shown space -> its base

    def __call__(self, t: ScanTask) -> Outcome:
        from ..labelio import LabelFileError, read_label

        rows: list[dict[str, Any]] = []
        errors: list[list[str]] = []
        sources = []
        for label, base in t.samples:
            try:
                lab = read_label(label)
                sources.append(_ident(label))
                row: dict[str, Any] = {"h": int(lab.shape[0]), "w": int(lab.shape[1]),
                                       "classes": regions(lab, self.ignore[t.space])}
                if base is not None:
                    blab = read_label(base)
                    sources.append(_ident(base))
                    if blab.shape != lab.shape:
                        raise LabelFileError(base, f"is {blab.shape[1]} x {blab.shape[0]}, its relabeled "
                                                   f"label {lab.shape[1]} x {lab.shape[0]}")
                    b = self.bases[t.space]
                    origins(row["classes"], lab, blab)
                    row["base"] = regions(blab, self.ignore[b])
                    row["moves"] = moves(blab, lab, self.luts[b], self.luts[t.space])
                rows.append(row)
            except LabelFileError as e:
                rows.append({})
                errors.append([label, str(e)])
        data = json.dumps({"rows": rows, "errors": errors}, sort_keys=True, separators=(",", ":")) + "\n"
        write_file(t.part, data)
        return Outcome(t.rel, True, ident={"part": _ident(t.part, True), "sources": sources})


def write_file(path: str, data: bytes | str) -> None:
    """``path`` written atomically, its folders made first."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, data)


def _ident(path: str, content: bool = False) -> dict[str, Any]:
    st = os.stat(path)
    out: dict[str, Any] = {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if content:
        import hashlib
        out["sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


def scan_done(t: ScanTask, entry: dict[str, Any] | None) -> bool:
    """The ledger says this job wrote ``t``'s part from these very label files (size and time), and it is unchanged."""
    if not entry or not same_file(t.part, entry.get("part")):
        return False
    srcs = entry.get("sources")
    want = [p for lb, b in t.samples for p in (lb, b) if p is not None]
    if not isinstance(srcs, list) or len(srcs) != len(want):
        return False   # a sample failed last time: try again
    return all(isinstance(s, dict) and s.get("path") == p and same_file(p, s, content=False)
               for p, s in zip(want, srcs, strict=True))


def _stride(lab: np.ndarray) -> int:
    n = lab.shape[0] * lab.shape[1]
    s = 1
    while n // (s * s) > STAT_PIXELS:
        s += 1
    return s


def regions(lab: np.ndarray, ignore: int) -> list[list[int]]:
    """Per class present (id order): ``[id, pixels, x0, y0, x1, y1, cut]`` (pixels counted on the stride's grid
    and scaled back; the box in full-size pixels, end exclusive)."""
    s = _stride(lab)
    a = lab[::s, ::s]
    h, w = lab.shape
    counts = np.bincount(a.ravel().astype(np.int64), minlength=ignore + 1)
    out = []
    for cid in np.flatnonzero(counts):
        if cid == ignore:
            continue
        m = a == cid
        out.append([int(cid), int(counts[cid]) * s * s, *_box(m, s, h, w)])
    return out


def origins(rows: list[list[int]], lab: np.ndarray, base: np.ndarray) -> None:
    """Append to each class row of ``lab`` the base space's class most of its pixels had (ties: the lower id):
    the dataset class it comes from (``minibike`` under the relabeled ``motorcycle``)."""
    s = _stride(lab)
    a, b = lab[::s, ::s], base[::s, ::s].astype(np.int64)
    for r in rows:
        r.append(int(np.bincount(b[a == r[0]]).argmax()))


def moves(before: np.ndarray, after: np.ndarray, lut_b: np.ndarray, lut_a: np.ndarray) -> list[list[int]]:
    """Pixels whose universal class differs between a space and its relabeled space, per (before id, after id):
    ``[before, after, pixels, x0, y0, x1, y1, cut]``."""
    s = _stride(after)
    b, a = before[::s, ::s], after[::s, ::s]
    changed = lut_b[b] != lut_a[a]
    if not changed.any():
        return []
    h, w = after.shape
    key = b.astype(np.int64) * 65536 + a.astype(np.int64)
    out = []
    for k in np.unique(key[changed]):
        m = changed & (key == k)
        out.append([int(k // 65536), int(k % 65536), int(m.sum()) * s * s, *_box(m, s, h, w)])
    return out


def _box(m: np.ndarray, s: int, h: int, w: int) -> list[int]:
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    y0, y1 = int(rows[0]) * s, min(h, (int(rows[-1]) + 1) * s)
    x0, x1 = int(cols[0]) * s, min(w, (int(cols[-1]) + 1) * s)
    cut = int(x0 == 0 or y0 == 0 or x1 >= w - (s - 1) or y1 >= h - (s - 1))
    return [x0, y0, x1, y1, cut]
