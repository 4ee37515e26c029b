"""``unitax prepare``: run one :class:`.plans.Family` row: plan, run (remap-dir's runner), verify.

- :func:`plan`: MSeg's lists of every space of the family -> one :class:`PrepTask` per sample
  (native sources, the outputs of every space, the relabel records of its image, the image to
  link/copy), what is missing from the download, and what an earlier run of this job finished.
- :func:`run`: :func:`unitax.tools.remap_dir.run` on the plan (all cores, or a Dask cluster;
  atomic writes; OUT_ROOT's stamp, lock, ledger and failures TSV), then the split lists.
- :func:`verify`: re-read a prepared OUT_ROOT and check it against MSeg's lists (or, after
  ``--lists derive``, the lists :func:`derive_lists` builds again) and the taxonomy.

NATIVE_ROOT is only read. OUT_ROOT must be absent, empty or an earlier prepare job's (remap-dir's
bookkeeping files: a stamp naming ``unitax prepare``; a folder of another job is refused).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .. import jsonio
from .. import remap_dir as rd
from ..atomic import write_atomic
from ..datapath import DataPathError, Root
from .errors import NativeFormatError
from .plans import FAMILIES, Family
from .polygon_relabel import DEFAULT_RULE, RULES, PaintStats

TOOL = "unitax prepare"
LIST_DIR = "list"


class PrepareError(Exception):
    """prepare cannot start: unknown dataset, unrecognised release, a bad OUT_ROOT."""


Lists = dict[tuple[str, str], list[str]]   # (space, split) -> the lines of MSeg's list


# ----- what a worker needs ------------------------------------------------------------------------


@dataclass(frozen=True)
class PrepTask:
    rel: str                                  # the root space's list label path (or the image path)
    label_src: str | None
    seg_src: str | None = None
    coco_info: tuple[dict[str, Any], ...] | None = None                # segments_info of a COCO panoptic PNG
    outputs: tuple[tuple[str, str], ...] = ()                          # (space, dst path)
    # (space, segment ids, classes, record index of each): the relabel records of the sample's image
    records: tuple[tuple[str, np.ndarray, np.ndarray, np.ndarray], ...] = ()
    images: tuple[tuple[str, str], ...] = ()                           # (src, dst)
    copies: tuple[tuple[str, str], ...] = ()  # (native label file, dst): spaces that keep it as is


@dataclass(frozen=True)
class PrepJob:
    family: str
    reader: str
    segments: str
    root_classes: int
    root_ignore: int
    names: tuple[str, ...]
    colors: np.ndarray | None
    luts: dict[str, np.ndarray]               # space -> table from the root space
    images: str                               # link | copy | none
    compress_level: int = 6
    copy_root: str = ""                       # the root space, where its native PNGs are copied as they are
    polygon_rule: str = DEFAULT_RULE          # polygon datasets: how records move segments (polygon_relabel)

    def process_task(self, t: PrepTask) -> rd.Outcome:
        from ..labelio import LabelFileError
        try:
            return self._process(t)
        except (NativeFormatError, LabelFileError) as e:
            return rd.Outcome(t.rel, False, str(e))
        except ImportError as e:
            return rd.Outcome(t.rel, False, str(e))

    # the root space's class map (and a segment map the reader gives for free); ``data``: the label file's
    # bytes, already read (and hashed) by _process, decoded without opening the file again
    def _read(self, t: PrepTask, data: bytes | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        from ..labelio import decode, read_colors, read_label
        from .readers import coco_panoptic, pascal_context, png_labels, polygons

        p = t.label_src
        assert p is not None
        if self.reader == "grey":
            a = read_label(p) if data is None else decode(p, data)
            bad = rd._invalid(a, self.root_classes, self.root_ignore)
            if bad:
                raise NativeFormatError(p, f"{bad} of {_root_space(self.family)} "
                                           f"(ids 0..{self.root_classes - 1}, ignore {self.root_ignore})")
            return a.astype(np.uint16 if self.root_ignore > 255 else np.uint8, copy=False), None
        if self.reader == "rgb":
            assert self.colors is not None  # plan() gives the rgb and palette readers the root space's colours
            return png_labels.read_rgb(p, self.colors, data), None
        if self.reader == "palette":
            assert self.colors is not None
            return png_labels.read_palette(p, self.colors, self.root_ignore, data), None
        if self.reader == "polygons":
            return polygons.read(p, self.names, _root_space(self.family), data=data)
        if self.reader == "mat":
            return pascal_context.read(p, data), None
        if self.reader == "coco":
            if t.coco_info is None:
                raise NativeFormatError(p, "has no entry in the panoptic JSON")
            return coco_panoptic.decode(read_colors(p, data), t.coco_info, self.names, p)
        raise AssertionError(self.reader)

    # ``data``: the segment file's bytes, already read (and hashed) by _process
    def _segments(self, t: PrepTask, cls: np.ndarray, free: np.ndarray | None,
                  data: bytes | None = None) -> np.ndarray:
        from ..labelio import read_colors
        from .readers import ade20k_full, png_labels, polygons

        kind = self.segments
        if kind in ("coco",) or (kind == "polygons" and free is not None):
            assert free is not None
            return free
        if kind.startswith("classes:"):
            from unitax.remap import apply_lut
            return apply_lut(cls, self.luts[kind.split(":", 1)[1]])
        if t.seg_src is None:
            raise NativeFormatError(t.label_src, "no segment file for it, and relabel records move its segments")
        if kind == "ade-full":
            return ade20k_full.decode(read_colors(t.seg_src, data), cls.shape, t.seg_src)[1]
        if kind == "polygons":
            return polygons.read(t.seg_src, self.names, _root_space(self.family), data=data)[1]
        if kind == "instances":
            return png_labels.read_instances(t.seg_src, data=data)[1]
        raise AssertionError(kind)

    def labels(self, t: PrepTask, raw: dict[str, bytes] | None = None
               ) -> tuple[list[tuple[str, str, np.ndarray]], dict[str, PaintStats]]:
        """Every output label map of the sample ((space, dst, array) in output order) and, per relabeled
        space, what its records did. Raises NativeFormatError when the sample cannot be prepared."""
        from unitax.relabel import relabel_segments
        from unitax.remap import apply_lut

        raw = raw if raw is not None else {}
        assert t.label_src is not None
        cls, free = self._read(t, raw.get(t.label_src))
        seg = None
        ann = None
        recs = {space: (ids, classes, order) for space, ids, classes, order in t.records}
        outs: list[tuple[str, str, np.ndarray]] = []
        stats: dict[str, PaintStats] = {}
        for space, dst in t.outputs:
            out = apply_lut(cls, self.luts[space])
            if space in recs and len(recs[space][0]):
                seg_file = t.seg_src or t.label_src
                if seg is None:
                    seg = self._segments(t, cls, free, raw.get(t.seg_src) if t.seg_src else None)
                    if seg.shape != cls.shape:
                        raise NativeFormatError(t.seg_src, f"segment map is {seg.shape[1]}x{seg.shape[0]}, "
                                                           f"the label {cls.shape[1]}x{cls.shape[0]}")
                ids, classes, order = recs[space]
                classes = classes.astype(out.dtype)
                if self.segments == "polygons":
                    from . import polygon_relabel as pr
                    if ann is None:
                        data = raw.get(seg_file)
                        if data is None:
                            with open(seg_file, "rb") as f:
                                data = f.read()
                        ann = pr.load_annotation(data, seg_file)
                    if self.polygon_rule == "mseg":
                        stats[space] = pr.paint_mseg(out, ann, ids, classes, order, seg, seg_file)
                    else:
                        stats[space] = pr.paint_visible(out, ann, ids, classes, seg, seg_file)
                else:
                    missing = relabel_segments(out, seg, ids, classes)
                    if missing.size:
                        shown = ", ".join(str(int(s)) for s in missing[:10])
                        raise NativeFormatError(seg_file, f"lacks segment(s) {shown} that {space}'s relabel "
                                                          "records move")
                    stats[space] = PaintStats(segments=len(ids))
            outs.append((space, dst, out))
        return outs, stats

    def _process(self, t: PrepTask) -> rd.Outcome:
        from ..labelio import encode_png

        srcs = [p for p in (t.label_src, t.seg_src) if p is not None] + [s for s, _ in t.images]
        raw: dict[str, bytes] = {}   # label and segment files: read once, hashed and decoded from these bytes
        ident: dict[str, Any] = {"srcs": {p: _ident(p, raw if p in (t.label_src, t.seg_src) else None,
                                                    content=p not in dict(t.images)) for p in srcs}}
        outs: dict[str, Any] = {}
        # every output of the sample is made before the first is written: a sample that fails leaves none
        writes: list[tuple[str, bytes | Any]] = []
        stats: dict[str, PaintStats] = {}
        if t.label_src is not None:
            labels, stats = self.labels(t, raw)
            encoded: list[tuple[np.ndarray, bytes]] = []   # equal label maps of several spaces: one encode
            recs = {space for space, *_ in t.records}
            for space, dst, out in labels:
                data = None
                if space == self.copy_root and t.label_src in raw and space not in recs:
                    data = raw[t.label_src]        # the native grey PNG already holds these ids: copy it
                for a, b in encoded:
                    if data is None and a.dtype == out.dtype and a.shape == out.shape and np.array_equal(a, out):
                        data = b
                if data is None:
                    buf = io.BytesIO()
                    encode_png(out).save(buf, format="PNG", compress_level=self.compress_level)
                    data = buf.getvalue()
                    encoded.append((out, data))
                writes.append((dst, data))
        for src, dst in t.copies:
            writes.append((dst, raw[src] if src in raw else partial(shutil.copyfile, src)))
        for dst, data in writes:
            write_atomic(dst, data, mkdir=True)
            st = os.stat(dst)
            outs[dst] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        for src, dst in t.images:
            if self.images == "link":
                write_atomic(dst, partial(os.symlink, os.path.abspath(src)), mkdir=True)
            else:
                write_atomic(dst, partial(shutil.copyfile, src), mkdir=True)
            st = os.lstat(dst)
            outs[dst] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        ident["outs"] = outs
        if stats:
            ident["relabel"] = {space: st.as_dict() for space, st in sorted(stats.items())}
        return rd.Outcome(t.rel, True, ident=ident)


def _root_space(family: str) -> str:
    return FAMILIES[family].root


def _ident(path: str, keep: dict[str, bytes] | None = None, content: bool = True) -> dict[str, Any]:
    """size, mtime_ns and (for label sources; images are linked or copied whole) sha256 of a source."""
    from ..labelio import digest
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the worker on open(); never opened
            raise NativeFormatError(path, "is not a regular file (a FIFO, folder or device); not read")
        if not content:
            return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NativeFormatError(path, "no such file (missing from the download)") from None
    except OSError as e:
        raise NativeFormatError(path, f"cannot read: {e.strerror or e}") from None
    if keep is not None:
        keep[path] = data
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest(data)}


def _lstat_same(path: str, ident: Any) -> bool:
    if not isinstance(ident, dict):
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_size == ident.get("size") and st.st_mtime_ns == ident.get("mtime_ns")


def _done(t: PrepTask, entry: dict[str, Any] | None) -> bool:
    """This job wrote every output of the sample from these very sources, untouched since."""
    if entry is None:
        return False
    srcs, outs = entry.get("srcs") or {}, entry.get("outs") or {}
    want_src = [p for p in (t.label_src, t.seg_src) if p is not None] + [s for s, _ in t.images]
    want_out = [d for _, d in t.outputs] + [d for _, d in t.images] + [d for _, d in t.copies]
    return (sorted(srcs) == sorted(want_src) and sorted(outs) == sorted(want_out)
            and all(rd._same_file(p, srcs[p], content="sha256" in (srcs[p] or {})) for p in want_src)
            and all(_lstat_same(p, outs[p]) for p in want_out))


# ----- planning ------------------------------------------------------------------------------------


@dataclass
class Plan:
    job: PrepJob
    family: Family
    native: Path
    base: Path
    dst: Path
    lists: Lists
    tasks: list[PrepTask]
    files: int
    skipped: int
    failed: list[rd.Outcome]
    missing: Counter[str] = field(default_factory=Counter)   # split -> label sources absent
    expected: Counter[str] = field(default_factory=Counter)  # split -> samples with labels
    samples: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (space, split) -> rel per line
    records: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stamp: dict[str, Any] = field(default_factory=dict)
    job_id: str = ""
    partial: bool = False
    present: set[str] = field(default_factory=set)   # rel of every sample whose sources are there
    relabels: dict[str, Any] = field(default_factory=dict)          # relabeled space -> its unitax.Relabel
    matched: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)   # space -> (sample rel, records hit)
    # after run(): per relabeled space, what the records did in the samples written by this run
    # (PaintStats as a dict, plus "samples"); and per space, the label files written
    painted: dict[str, dict[str, int]] = field(default_factory=dict)
    written: Counter[str] = field(default_factory=Counter)


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise PrepareError(f"unknown dataset {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def find_base(fam: Family, native: Path) -> Path:
    """The folder of ``native`` where MSeg's list paths resolve; refuses releases it does not know."""
    if not native.is_dir():
        raise PrepareError(f"{native} is not a folder")
    for cand in fam.bases:
        base = native / cand
        for path, what in fam.other_versions.items():
            if (native / path).exists() or (base / path).exists():
                raise PrepareError(f"{native}: found {path}, {what}; refusing to guess (`unitax prepare --list` "
                                   f"says what {fam.name} expects)")
    for cand in fam.bases:
        base = native / cand
        if base.is_dir() and (not fam.marker or next(base.glob(fam.marker), None) is not None):
            return base
    where = " or ".join(f"{native / b}" if b != "." else str(native) for b in fam.bases)
    raise PrepareError(f"{native}: no {fam.name} download recognised: expected {where}"
                       + (f" holding {fam.marker}" if fam.marker else "")
                       + f" ({fam.download})")


def _coco_train_lists(lists: Lists, base: Path, spaces: list[str]) -> list[str]:
    """COCO-Panoptic's train lists, which the MSeg reference lacks: derived from panoptic_train2017.json
    in its annotation order, with the val lists' folder names."""
    jp = base / "annotations" / "panoptic_train2017.json"
    if not jp.is_file():
        return []
    from .readers.coco_panoptic import load_annotations
    try:
        names = sorted(load_annotations(jp))
    except NativeFormatError as e:
        raise PrepareError(str(e)) from None
    done = []
    for space in spaces:
        if (space, "train") in lists or (space, "val") not in lists:
            continue
        first = lists[(space, "val")][0].split(" ")
        img_dir = str(PurePosixPath(first[0]).parent).replace("val2017", "train2017")
        lab_dir = str(PurePosixPath(first[1]).parent).replace("val2017", "train2017")
        lists[(space, "train")] = [f"{img_dir}/{n[:-4]}.jpg {lab_dir}/{n}" for n in names]
        done.append(space)
    return done


def derive_lists(fam: Family, base: Path) -> tuple[dict[tuple[str, str], list[str]], list[str]]:
    """``--lists derive``: (space, split) -> lines built from the native files under ``base``, and notes.

    Per split of ``fam.derive``: every native label file its glob finds whose image exists, sorted by
    path, written as MSeg's lists write that family's paths. Labels without an image (and images
    without a label, where the row gives an image glob) are counted in the notes, never dropped silently.
    """
    if not fam.derive:
        raise PrepareError(f"{fam.name}: its plan has no rule to derive split lists; use --lists mseg")
    from .lists import list_path

    lists: dict[tuple[str, str], list[str]] = {}
    notes: list[str] = []
    counts = []
    unwritable: list[str] = []   # file names a list line cannot hold: "NAME: why"
    for split, (label_glob, image_glob) in sorted(fam.derive.items()):
        lines, lonely, odd, images = [], [], [], set()
        for f in sorted(p.relative_to(base).as_posix() for p in base.glob(label_glob) if p.is_file()):
            try:
                list_path(f, "file")
            except DataPathError as e:
                unwritable.append(str(e))
                continue
            label, n1 = re.subn(fam.derive_label[0], fam.derive_label[1], f, count=1)
            image, n2 = re.subn(fam.derive_image[0], fam.derive_image[1], label, count=1)
            if not (n1 and n2) or image == label:      # a name the rule does not know: no image path for it
                odd.append(f)
                continue
            images.add(image)
            if not (base / image).is_file():
                lonely.append(f)
                continue
            try:
                list_path(image, "image path")
                list_path(label, "label path")
            except DataPathError as e:
                unwritable.append(str(e))
                continue
            lines.append((image, label))
        for space in [*fam.all_spaces, *fam.copies]:
            pat, rep = fam.derive_paths.get(space, (r"^", ""))
            lists[(space, split)] = [f"{i} {re.sub(pat, rep, lab, count=1)}" for i, lab in lines]
        counts.append(f"{split} {len(lines)}")
        if odd:
            notes.append(f"{split}: {len(odd)} file(s) named unlike {fam.name}'s labels, left out "
                         f"(first: {_shown(odd[0])})")
        if lonely:
            notes.append(f"{split}: {len(lonely)} label file(s) without an image, left out (first: {lonely[0]})")
        if image_glob:
            unlabelled = sorted(q for q in (p.relative_to(base).as_posix() for p in base.glob(image_glob))
                                if q not in images)
            if unlabelled:
                notes.append(f"{split}: {len(unlabelled)} image(s) without a label file, left out "
                             f"(first: {_shown(unlabelled[0])})")
    if unwritable:
        raise PrepareError(f"--lists derive: {len(unwritable)} file name(s) under {base} cannot be written in a split "
                           f"list (one line '<image> <label>' per sample); rename them (first: {unwritable[0]})")
    notes.insert(0, f"split lists derived from the files in {base}: {', '.join(counts)} samples")
    return lists, notes


def _shown(name: str) -> str:
    """A file name as a message may print it: as is, or escaped when it holds a control character or
    bytes that are not UTF-8."""
    from ..datapath import bad_char
    return ascii(name) if bad_char(name) else name


def _key(fam: Family, label: str) -> str:
    parts = PurePosixPath(label).with_suffix("").parts[-fam.key_parts:]
    key = "/".join(parts)
    if fam.key_strip:
        key = re.sub(fam.key_strip, "", key)
    if fam.key_format and key.isdigit():
        key = fam.key_format.format(int(key))
    return key


def _record_split(fam: Family, label: str) -> str | None:
    for part in PurePosixPath(label).parts[:-1]:
        w = fam.record_splits.get(part) or rd.SPLIT_WORDS.get(part.lower())
        if w:
            return fam.record_splits.get(w, w)
    return None


def _check_lists(lists: Lists, source: str) -> None:
    """Every line of every list is '<image path>[ <label path>]' of plain relative paths; PrepareError
    naming the list and line of the first that is not (a path from data never leaves its root)."""
    from .lists import check_line
    for (space, split), lines in sorted(lists.items()):
        for i, line in enumerate(lines, 1):
            try:
                check_line(line)
            except DataPathError as e:
                raise PrepareError(f"{source} {space}/{split} list, line {i}: {e}; refusing to run") from None


def _join(root: Root, text: str, rel: str) -> Path:
    """``root / text``, confined to ``root`` (:mod:`unitax.tools.datapath`); PrepareError naming the sample."""
    try:
        return root.join(text, "output path" if root.links == "inside" else "native path")
    except DataPathError as e:
        raise PrepareError(f"sample {ascii(rel)}: {e}; refusing to run") from None


def plan(tax: Any, dataset: str, native: str | os.PathLike[str], out: str | os.PathLike[str], *, images: str = "link",
         partial: bool = False, overwrite: bool = False, lists: Lists | None = None,
         compress_level: int = 6, derive: bool = False, relabel_polygons: str = DEFAULT_RULE) -> Plan:
    fam = family(dataset)
    native, dst = Path(native), Path(out)
    if images not in ("link", "copy", "none"):
        raise PrepareError(f"--images must be link, copy or none, not {images!r}")
    if relabel_polygons not in RULES:
        raise PrepareError(f"--relabel-polygons must be {' or '.join(RULES)}, not {relabel_polygons!r}")
    base = find_base(fam, native)
    try:
        rd.check_dst(dst)
    except rd.RemapDirError as e:
        raise PrepareError(str(e)) from None
    if rd._overlaps(native, dst):
        raise PrepareError(f"{dst} and {native} overlap; NATIVE_ROOT is only read: write elsewhere")
    notes: list[str] = []
    if derive:
        lists, notes = derive_lists(fam, base)
    elif lists is None:
        from .lists import load_lists
        lists = load_lists()
    lists = {k: v for k, v in lists.items() if k[0] in fam.all_spaces or k[0] in fam.copies}
    if fam.name == "coco-panoptic":
        derived = _coco_train_lists(lists, base, [*fam.all_spaces, *fam.copies])
        if derived:
            notes.append(f"train lists of {', '.join(derived)} derived from annotations/panoptic_train2017.json "
                         "(sorted by file name; the MSeg reference lacks them)")
    _check_lists(lists, "derived" if derive else "MSeg's")
    # tables from the root space
    luts: dict[str, np.ndarray] = {}
    for space in fam.all_spaces:
        chain = [space]
        while chain[-1] != fam.root:
            chain.append(fam.spaces[chain[-1]])
        luts[space] = tax.chain_lut(chain[::-1])
    colors = None
    if fam.reader in ("rgb", "palette"):
        colors = np.asarray(tax.own_colors(fam.root), dtype=np.uint8)
    job = PrepJob(fam.name, fam.reader, fam.segments, len(tax.names(fam.root)), tax.ignore_index(fam.root),
                  tuple(tax.names(fam.root)), colors, luts, images, compress_level,
                  copy_root=fam.root if fam.reader == "grey" else "", polygon_rule=relabel_polygons)
    relabels = {s: tax.relabel(s) for s in fam.spaces if s in tax.relabel_datasets}
    h = hashlib.sha256()
    for s in sorted(luts):
        h.update(s.encode() + luts[s].tobytes())
    for s in sorted(relabels):
        h.update(relabels[s].sha256.encode())
    stamp = {"tool": TOOL, "dataset": fam.name, "native": str(native.resolve()), "spaces": fam.all_spaces,
             "images": images, "partial": partial, "compress_level": compress_level, "tables_sha256": h.hexdigest()}
    if derive:   # only then: the stamps (and job ids) of MSeg-list runs stay what they were
        stamp["lists"] = "derive"
    if fam.segments == "polygons":   # the rule shapes the relabeled outputs: another rule is another job
        stamp["relabel_polygons"] = relabel_polygons
    job_id = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()
    ledger = {} if overwrite else rd.read_ledger(dst, job_id)

    coco_ann: dict[str, dict[str, list[dict[str, Any]]]] = {}
    seg_index: dict[str, list[Path]] = {}
    if fam.segments == "ade-full":
        from .ade20k import _full_seg_index
        seg_index = _full_seg_index(native)

    # samples: one per root label path (or per image for label-less test lines)
    by_rel: dict[str, dict[str, Any]] = {}
    samples: dict[tuple[str, str], list[str]] = {}
    splits = sorted({sp for (s, sp) in lists if s == fam.root})
    for split in splits:
        root_lines = lists[(fam.root, split)]
        per_space = {s: lists.get((s, split)) for s in [*fam.all_spaces, *fam.copies]}
        for s, ls in per_space.items():
            if ls is not None and len(ls) != len(root_lines):
                raise PrepareError(f"MSeg's {s}/{split} list has {len(ls)} lines, {fam.root}'s {len(root_lines)}")
        for i, line in enumerate(root_lines):
            parts = line.split(" ")
            image, label = parts[0], (parts[1] if len(parts) > 1 else None)
            rel = label or image
            ent = by_rel.setdefault(rel, {"image": image, "label": label, "outs": {}, "split": split})
            for s, ls in per_space.items():
                if ls is None:
                    continue
                sp = ls[i].split(" ")
                if len(sp) > 1:
                    ent["outs"][s] = sp[1]
                samples.setdefault((s, split), []).append(rel)
    tasks: list[PrepTask] = []
    failed: list[rd.Outcome] = []
    missing: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    nat, outr = Root(base, "follow"), Root(dst, "inside")   # NATIVE_ROOT is only read; OUT_ROOT is written
    matched: dict[str, list[tuple[str, Any]]] = {s: [] for s in relabels}   # (sample rel, hit)
    skipped = 0
    present: set[str] = set()
    absent: set[str] = set()
    for rel, ent in by_rel.items():
        label, image, split = ent["label"], ent["image"], ent["split"]
        label_src = seg_src = None
        info = None
        if label is not None:
            pat, rep = fam.label_src
            label_src = str(_join(nat, re.sub(pat, rep, label), rel))
            if not os.path.isfile(label_src):
                absent.add(rel)
                if not partial:
                    failed.append(rd.Outcome(rel, False, f"missing from the download: {label_src}"))
                continue
            if fam.reader == "coco":
                jname = PurePosixPath(label_src).parent.name + ".json"
                if jname not in coco_ann:
                    from .readers.coco_panoptic import load_annotations
                    jp = base / "annotations" / jname
                    try:
                        coco_ann[jname] = load_annotations(jp)
                    except NativeFormatError as e:
                        raise PrepareError(str(e)) from None
                segs = coco_ann[jname].get(PurePosixPath(label_src).name)
                info = tuple(segs) if segs is not None else None
        img_src = _join(nat, image, rel)
        imgs: tuple[tuple[str, str], ...] = ()
        if images != "none":
            if not img_src.is_file():
                if label is None:
                    absent.add(rel)
                    if not partial:
                        failed.append(rd.Outcome(rel, False, f"missing from the download: image {img_src}"))
                    continue
                if not partial:
                    failed.append(rd.Outcome(rel, False, f"missing from the download: image {img_src}"))
                    continue
            else:
                imgs = ((str(img_src), str(_join(outr, image, rel))),)
        recs = []
        if label is not None and relabels:
            key, rsplit = _key(fam, label), _record_split(fam, label)
            for s, rl in relabels.items():
                hit = rl.segments(key, rsplit) if rsplit else None
                if hit is not None:
                    recs.append((s, np.asarray(hit.segment_ids), np.asarray(hit.classes), np.asarray(hit.records)))
                    matched[s].append((rel, hit))
            if recs and fam.seg_src[0]:
                seg_src = str(_join(nat, re.sub(fam.seg_src[0], fam.seg_src[1], label), rel))
            elif recs and fam.segments == "ade-full":
                from .ade20k import ambiguous_seg
                found = seg_index.get(PurePosixPath(label).stem, [])
                if len(found) > 1:
                    failed.append(rd.Outcome(rel, False, ambiguous_seg(PurePosixPath(label).stem, found)))
                    continue
                seg_src = str(found[0]) if found else None
            if recs and fam.segments in ("ade-full", "instances") or (recs and fam.segments == "polygons"
                                                                      and fam.reader != "polygons"):
                if seg_src is None or not os.path.isfile(seg_src):
                    failed.append(rd.Outcome(rel, False, f"missing from the download: the segment file "
                                                         f"{seg_src or PurePosixPath(label).stem + '_seg.png'} that "
                                                         "relabel records need"))
                    continue
        outs = tuple((s, str(_join(outr, p, rel))) for s, p in sorted(ent["outs"].items()) if s not in fam.copies)
        copies = () if label_src is None else tuple((label_src, str(_join(outr, p, rel)))
                                                    for s, p in sorted(ent["outs"].items())
                                                    if s in fam.copies)
        t = PrepTask(rel, label_src, seg_src, info, outs, tuple(recs), imgs, copies)
        present.add(rel)
        if not (t.outputs or t.copies or t.images):   # an image-only line with --images none: nothing to write
            continue
        if _done(t, ledger.get(rel)):
            skipped += 1
            continue
        tasks.append(t)
    for (space, split), rels in samples.items():   # per split of MSeg's lists (a sample may be in several)
        if space == fam.root:
            for rel in rels:
                what = split if by_rel[rel]["label"] is not None else f"{split} (images)"
                expected[what] += 1
                missing[what] += rel in absent
    bad = {o.rel for o in failed}
    records = {s: rd._record_report(rl, None, [h for r, h in matched[s] if r not in bad], True)
               for s, rl in relabels.items()}
    return Plan(job, fam, native, base, dst, lists, tasks, len(by_rel), skipped, failed, missing, expected,
                samples, records, notes, stamp, job_id, partial, present, relabels=relabels, matched=matched)


# ----- running -------------------------------------------------------------------------------------


def run(p: Plan, *, workers: int | None = None, scheduler: str | None = None, progress: Any = None,
        overwrite: bool = False) -> rd.Summary:
    """Write every task (remap-dir's runner: pool or Dask, ledger, failures TSV), then the lists."""
    # remap-dir's runner takes prepare's Plan by duck typing (the fields run() reads, a job with its own
    # process_task); rd.run is annotated with remap-dir's own Plan, hence the one ignore
    painted: dict[str, dict[str, int]] = {}
    labels_of = {t.rel: t.outputs for t in p.tasks}

    def collect(outcomes: list[rd.Outcome]) -> None:
        for o in outcomes:
            if not o.ok:
                continue
            for space, _ in labels_of.get(o.rel, ()):
                p.written[space] += 1
            for space, st in ((o.ident or {}).get("relabel") or {}).items():
                agg = painted.setdefault(space, {"samples": 0})
                agg["samples"] += 1
                for k, v in st.items():
                    agg[k] = agg.get(k, 0) + int(v)

    summary = rd.run(p, workers=workers, scheduler=scheduler, progress=progress, overwrite=overwrite,  # type: ignore[arg-type]
                     on_batch=collect)
    p.painted = painted
    bad = {o.rel for o in summary.failed}
    p.records = {s: rd._record_report(rl, None, [h for r, h in p.matched.get(s, []) if r not in bad], True)
                 for s, rl in p.relabels.items()}
    ok = p.present - bad
    for (space, split), rels in sorted(p.samples.items()):
        lines = [line for line, rel in zip(p.lists[(space, split)], rels, strict=True) if rel in ok]
        path = p.dst / space / LIST_DIR / f"{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(line + "\n" for line in lines)
        write_atomic(path, data)
    return summary


def failure_kinds(failed: list[rd.Outcome]) -> list[tuple[str, int, rd.Outcome]]:
    """Failures grouped by the kind of their reason (the reason without its file, paths, numbers, quoted
    names and colours), most frequent first: (kind, count, first failure of that kind)."""
    groups: dict[str, list[rd.Outcome]] = {}
    for o in failed:
        reason = o.reason
        head, sep, rest = reason.partition(": ")
        if sep and ("/" in head or os.sep in head or "." in head):   # 'PATH: REASON'
            reason = rest
        kind = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
        kind = re.sub(r"[^\s'\"]*/[^\s'\"]*", "PATH", kind)
        kind = re.sub(r"\([^()]*\d[^()]*\)", "(…)", kind)
        kind = re.sub(r"\d+", "N", kind)
        groups.setdefault(kind, []).append(o)
    return sorted(((k, len(v), v[0]) for k, v in groups.items()), key=lambda g: (-g[1], g[0]))


# ----- verify --------------------------------------------------------------------------------------


@dataclass
class SpaceCheck:
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
    from unitax.remap import invalid_values

    from ..datapath import split_lines
    from ..labelio import LabelFileError, photo_size, read_label, read_segments
    from .lists import check_line

    fam = family(dataset)
    out = Path(out)
    general: list[str] = []
    try:
        stamp = jsonio.load(out / rd.STAMP, max_bytes=rd.STAMP_LIMIT)
    except (OSError, ValueError):
        return [], [f"{out}: no unitax prepare job here ({rd.STAMP} missing or unreadable)"]
    if not isinstance(stamp, dict):
        return [], [f"{out}: no unitax prepare job here ({rd.STAMP} missing or unreadable)"]
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
        failed = rd.read_failures(out)
    except OSError:
        failed = []
    if failed:
        general.append(f"{len(failed)} sample(s) failed in the prepare run (see {out / rd.FAILED})")
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
                rsplit = _record_split(fam, parts[1]) or _record_split(fam, parts[0])
                # polygon datasets: a segment may be hidden (visible rule) or painted over by a later record
                # (MSeg's rule), so its class need not be there; with NATIVE_ROOT the labels are made again
                if space in relabels and rsplit in relabels[space].splits and fam.segments != "polygons":
                    hit = relabels[space].segments(_key(fam, parts[1]), rsplit)
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
    except (PrepareError, rd.RemapDirError) as e:
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
            cls, free = p.job._read(t)
            seg = p.job._segments(t, cls, free)
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
