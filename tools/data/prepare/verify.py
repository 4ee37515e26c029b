"""``unitax prepare --verify``: re-read a prepared OUT_ROOT and check it against the lists and the taxonomy.

The lists are MSeg's (or, after ``--lists derive``, the lists :func:`.derive.derive_lists` builds
again); every list line is data, confined to OUT_ROOT; every label is read back (bounded) and
checked for its size, its ids and the classes its relabel records move segments to. With the
job's NATIVE_ROOT the segment maps are decoded again and every moved pixel is checked.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ....fileops import jsonio
from ....fileops.datapath import DataPathError, Root
from ..batch import FAILED, STAMP, STAMP_LIMIT, BatchError, read_failures
from .derive import Lists, derive_lists
from .engine import LIST_DIR, TOOL, family, find_base, plan, record_split, sample_key
from .errors import NativeFormatError, PrepareError
from .plans import Family
from .polygon_relabel import DEFAULT_RULE


@dataclass
class SpaceCheck:
    """The check of one (space, split) list of a prepared OUT_ROOT."""

    space: str
    split: str
    lines: int
    mseg: int                                 # lines of the reference list (MSeg's, or the derived one)
    labels: int = 0
    problems: list[str] = field(default_factory=list)
    source: str = "MSeg"                      # which lists ``mseg`` counts: MSeg | derived


def verify(tax: Any, dataset: str, out: str | os.PathLike[str], *, lists: Lists | None = None,
           max_problems: int = 20, native: str | os.PathLike[str] | None = None) -> tuple[list[SpaceCheck], list[str]]:
    """Check a prepared OUT_ROOT; returns per-(space, split) checks and general problems.

    Without ``native`` a relabeled label is checked to hold every class its records move segments
    to (not for polygon datasets, where a record's segment may be hidden or painted over); with it
    (the NATIVE_ROOT of the job), the segment maps are decoded again and every pixel of every moved
    segment must hold its new class (polygon datasets: the relabeled labels are made again with the
    job's rule and compared whole).
    """
    from ....fileops.datapath import split_lines
    from ....kernels import invalid_values
    from ..labelio import LabelFileError, photo_size, read_label, read_segments
    from .lists import check_line

    fam = family(dataset)
    out = Path(out)
    general: list[str] = []
    try:
        stamp = jsonio.load(out / STAMP, max_bytes=STAMP_LIMIT)
    except (OSError, ValueError):
        return [], [f"{out}: no unitax prepare job here ({STAMP} missing or unreadable)"]
    if not isinstance(stamp, dict):
        return [], [f"{out}: no unitax prepare job here ({STAMP} missing or unreadable)"]
    if stamp.get("tool") != TOOL or stamp.get("dataset") != fam.name:
        return [], [f"{out}: holds {stamp.get('tool')} output of {stamp.get('dataset', '?')}, not {TOOL} {fam.name}"]
    partial = bool(stamp.get("partial"))
    source = "MSeg"
    if stamp.get("lists") == "derive" and lists is None:   # compare with the lists derived again
        source = "derived"
        where = Path(native) if native is not None else Path(stamp.get("native", ""))
        try:
            lists, _ = derive_lists(fam, find_base(fam, where))
        except PrepareError as e:
            return [], [f"{out}: was prepared with --lists derive; cannot derive the lists again: {e}"]
    if lists is None:
        from .lists import load_lists
        lists = load_lists()
    try:
        failed = read_failures(out)
    except OSError:
        failed = []
    if failed:
        general.append(f"{len(failed)} sample(s) failed in the prepare run (see {out / FAILED})")
    relabels = {s: tax.relabel(s) for s in fam.spaces if s in tax.relabel_datasets}
    root = Root(out, "inside")   # the list lines are read back from OUT_ROOT: data, confined to it
    checks: list[SpaceCheck] = []
    for space in [*fam.all_spaces, *fam.copies]:
        copied = space in fam.copies   # the native file as is (COCO's panoptic PNG): RGB segment ids
        n, ign = len(tax.names(space)), tax.ignore_index(space)
        ldir = out / space / LIST_DIR
        for lf in sorted(ldir.glob("*.txt")) if ldir.is_dir() else []:
            split = lf.name[:-4]
            try:
                lines = split_lines(lf.read_bytes().decode("utf-8"))   # not read_text: it splits on a lone \r too
            except (OSError, UnicodeDecodeError) as e:
                general.append(f"{lf}: unreadable list ({e})")
                continue
            c = SpaceCheck(space, split, len(lines), len(lists.get((space, split), [])), source=source)
            checks.append(c)

            def bad(msg: str, c: SpaceCheck = c) -> None:
                if len(c.problems) < max_problems:
                    c.problems.append(msg)
                elif len(c.problems) == max_problems:
                    c.problems.append("... (more problems not shown)")

            if (space, split) in lists and c.lines != c.mseg and not partial:
                bad(f"{c.lines} lines, the {source} list has {c.mseg}")
            for i, line in enumerate(lines, 1):
                try:
                    check_line(line)
                    parts = line.split(" ")
                    image = root.join(parts[0], "image path")
                    lp = root.join(parts[1], "label path") if len(parts) > 1 else None
                except DataPathError as e:
                    bad(f"{lf}:{i}: {e}")
                    continue
                if stamp.get("images") != "none" and not image.exists():
                    bad(f"{lf}:{i}: image {parts[0]} does not exist")
                if lp is None:
                    continue
                try:
                    a = read_segments(lp) if copied else read_label(lp)
                except LabelFileError as e:
                    bad(f"{lf}:{i}: {e}")
                    continue
                c.labels += 1
                if image.exists():
                    try:
                        h, w = photo_size(image)   # labelio: bounded (a decompression bomb is refused)
                        if (h, w) != a.shape:
                            bad(f"{lf}:{i}: label {parts[1]} is {a.shape[1]}x{a.shape[0]}, its image {w}x{h}")
                    except LabelFileError as e:
                        bad(f"{lf}:{i}: image {parts[0]} unreadable: {e.reason}")
                v = invalid_values(a, n, ign) if not copied else np.zeros(0)
                if v.size:
                    bad(f"{lf}:{i}: {parts[1]} holds values {v[:5].tolist()} that are no ids of {space} "
                        f"(0..{n - 1}, ignore {ign})")
                rsplit = record_split(fam, parts[1]) or record_split(fam, parts[0])
                # polygon datasets: a segment may be hidden (visible rule) or painted over by a later record
                # (MSeg's rule), so its class need not be there; with NATIVE_ROOT the labels are made again
                if space in relabels and rsplit in relabels[space].splits and fam.segments != "polygons":
                    hit = relabels[space].segments(sample_key(fam, parts[1]), rsplit)
                    if hit is not None:
                        present = np.bincount(a.ravel(), minlength=max(int(a.max()) + 1, 1) if a.size else 1)
                        gone = [int(k) for k in np.unique(hit.classes) if k >= len(present) or not present[k]]
                        if gone:
                            bad(f"{lf}:{i}: {parts[1]}: relabel records move segments to class(es) {gone}, "
                                "which the label does not hold")
    if not checks:
        general.append(f"{out}: no split lists (<space>/{LIST_DIR}/<split>.txt) found")
    if native is not None:
        general.extend(_verify_segments(tax, fam, out, Path(native), stamp, lists, max_problems))
    return checks, general


def _verify_segments(tax: Any, fam: Family, out: Path, native: Path, stamp: dict[str, Any], lists: Lists,
                     max_problems: int) -> list[str]:
    """Every pixel of every segment the relabel records move holds its new class (segment maps re-decoded)."""
    from ..labelio import LabelFileError, read_label

    problems: list[str] = []
    try:
        p = plan(tax, fam.name, native, out, images=stamp.get("images", "link"), partial=True, overwrite=True,
                 lists=dict(lists), relabel_polygons=stamp.get("relabel_polygons", DEFAULT_RULE))
    except (PrepareError, BatchError) as e:
        return [f"cannot re-read the segment maps from {native}: {e}"]
    checked = 0
    for t in p.tasks:
        if not t.records:
            continue
        if fam.segments == "polygons":   # records may overlap (MSeg's rule): the whole label, made again
            try:
                want, _ = p.job.labels(t)
            except (NativeFormatError, LabelFileError) as e:
                problems.append(str(e))
                continue
            for space, dst_path, a in want:
                if space not in {r[0] for r in t.records}:
                    continue
                checked += 1
                try:
                    lab = read_label(dst_path)
                except LabelFileError as e:
                    problems.append(f"{dst_path}: {e}")
                    continue
                if lab.shape != a.shape or not np.array_equal(lab, a):
                    n = int((lab != a).sum()) if lab.shape == a.shape else a.size
                    problems.append(f"{dst_path}: {n} pixel(s) differ from the relabel records applied again "
                                    f"({stamp.get('relabel_polygons', DEFAULT_RULE)} rule)")
            if len(problems) >= max_problems:
                return problems + ["... (more problems not shown)"]
            continue
        try:
            cls, free = p.job.read_native(t)
            seg = p.job.segment_map(t, cls, free)
        except (NativeFormatError, LabelFileError) as e:
            problems.append(str(e))
            continue
        dst = dict(t.outputs)
        for space, ids, classes, _ in t.records:
            try:
                lab = read_label(dst[space])
            except (LabelFileError, KeyError) as e:
                problems.append(f"{dst.get(space, space)}: {e}")
                continue
            for sid, c in zip(ids.tolist(), classes.tolist(), strict=True):
                m = seg == sid
                checked += 1
                if not m.any():
                    problems.append(f"{dst[space]}: segment {sid} is not in its segment map")
                elif not np.all(lab[m] == c):
                    problems.append(f"{dst[space]}: segment {sid} should hold class {c} of {space}, "
                                    f"{int((lab[m] != c).sum())} of its {int(m.sum())} pixels do not")
            if len(problems) >= max_problems:
                return problems + ["... (more problems not shown)"]
    if not checked and not problems:
        return []
    return problems
