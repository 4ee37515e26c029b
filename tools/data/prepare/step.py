"""The step of ``unitax prepare`` (tools/data/batch.py's ``Step``): every output of one sample of a family.

A :class:`PrepJob` (the family's reader and segment source, the tables from the root space to
every space, the image policy) called on a :class:`PrepTask` reads the sample's native label (and
segment) file once, makes the label map of every space (moving the segments its relabel records
name; polygon datasets by the job's rule, :mod:`.polygon_relabel`), and only then writes them all
atomically, with the image (linked or copied); it returns the identities the ledger records. It
needs numpy and Pillow (scipy for ``.mat``): it runs in the workers of a pool or a Dask cluster.
"""
from __future__ import annotations

import io
import os
import shutil
import stat
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ....fileops.atomic import write_atomic
from ....fileops.read import NotRegularFile, read_regular
from ..batch import Outcome, same_file
from .errors import NativeFormatError
from .plans import FAMILIES
from .polygon_relabel import DEFAULT_RULE, PaintStats


@dataclass(frozen=True)
class PrepTask:
    """One sample: its native sources, the outputs of every space, its relabel records, its image."""

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
    """What every worker needs besides its samples: the family's reader, the tables from the root space."""

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

    def __call__(self, t: PrepTask) -> Outcome:
        """The step (tools/data/batch.py): every output of one sample, or why it cannot be prepared."""
        from ..labelio import LabelFileError
        try:
            return self._process(t)
        except (NativeFormatError, LabelFileError) as e:
            return Outcome(t.rel, False, str(e))
        except ImportError as e:
            return Outcome(t.rel, False, str(e))

    def read_native(self, t: PrepTask, data: bytes | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The root space's class map (and a segment map the reader gives for free); ``data``: the label
        file's bytes, already read (and hashed) by _process, decoded without opening the file again."""
        from ..labelio import bad_ids, decode, read_colors, read_label
        from .readers import coco_panoptic, pascal_context, png_labels, polygons

        p = t.label_src
        assert p is not None
        if self.reader == "grey":
            a = read_label(p) if data is None else decode(p, data)
            bad = bad_ids(a, self.root_classes, self.root_ignore)
            if bad:
                raise NativeFormatError(p, f"{bad} of {FAMILIES[self.family].root} "
                                           f"(ids 0..{self.root_classes - 1}, ignore {self.root_ignore})")
            return a.astype(np.uint16 if self.root_ignore > 255 else np.uint8, copy=False), None
        if self.reader == "rgb":
            assert self.colors is not None  # plan() gives the rgb and palette readers the root space's colours
            return png_labels.read_rgb(p, self.colors, data), None
        if self.reader == "palette":
            assert self.colors is not None
            return png_labels.read_palette(p, self.colors, self.root_ignore, data), None
        if self.reader == "polygons":
            return polygons.read(p, self.names, FAMILIES[self.family].root, data=data)
        if self.reader == "mat":
            return pascal_context.read(p, data), None
        if self.reader == "coco":
            if t.coco_info is None:
                raise NativeFormatError(p, "has no entry in the panoptic JSON")
            return coco_panoptic.decode(read_colors(p, data), t.coco_info, self.names, p)
        raise AssertionError(self.reader)

    def segment_map(self, t: PrepTask, cls: np.ndarray, free: np.ndarray | None,
                    data: bytes | None = None) -> np.ndarray:
        """The segment map of the sample (``data``: the segment file's bytes, already read and hashed)."""
        from ..labelio import read_colors
        from .readers import ade20k_full, png_labels, polygons

        kind = self.segments
        if kind in ("coco",) or (kind == "polygons" and free is not None):
            assert free is not None
            return free
        if kind.startswith("classes:"):
            from ....kernels import apply_lut
            return apply_lut(cls, self.luts[kind.split(":", 1)[1]])
        if t.seg_src is None:
            raise NativeFormatError(t.label_src, "no segment file for it, and relabel records move its segments")
        if kind == "ade-full":
            return ade20k_full.decode(read_colors(t.seg_src, data), cls.shape, t.seg_src)[1]
        if kind == "polygons":
            return polygons.read(t.seg_src, self.names, FAMILIES[self.family].root, data=data)[1]
        if kind == "instances":
            return png_labels.read_instances(t.seg_src, data=data)[1]
        raise AssertionError(kind)

    def labels(self, t: PrepTask, raw: dict[str, bytes] | None = None
               ) -> tuple[list[tuple[str, str, np.ndarray]], dict[str, PaintStats]]:
        """Every output label map of the sample ((space, dst, array) in output order) and, per relabeled
        space, what its records did. Raises NativeFormatError when the sample cannot be prepared."""
        from ....kernels import apply_lut
        from ....relabel import relabel_segments

        raw = raw if raw is not None else {}
        assert t.label_src is not None
        cls, free = self.read_native(t, raw.get(t.label_src))
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
                    seg = self.segment_map(t, cls, free, raw.get(t.seg_src) if t.seg_src else None)
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

    def _process(self, t: PrepTask) -> Outcome:
        from ..labelio import encode_png

        srcs = [p for p in (t.label_src, t.seg_src) if p is not None] + [s for s, _ in t.images]
        raw: dict[str, bytes] = {}   # label and segment files: read once, hashed and decoded from these bytes
        ident: dict[str, Any] = {"srcs": {p: source_ident(p, raw if p in (t.label_src, t.seg_src) else None,
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
        return Outcome(t.rel, True, ident=ident)


def source_ident(path: str, keep: dict[str, bytes] | None = None, content: bool = True) -> dict[str, Any]:
    """size, mtime_ns and (for label sources; images are linked or copied whole) sha256 of a source."""
    from ..labelio import digest
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the worker on open(); never opened
            raise NotRegularFile(path, st.st_mode)
        if not content:
            return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        data = read_regular(path)   # checked again on the open file: one swapped in meanwhile is refused too
    except NotRegularFile:
        raise NativeFormatError(path, "is not a regular file (a FIFO, folder or device); not read") from None
    except FileNotFoundError:
        raise NativeFormatError(path, "no such file (missing from the download)") from None
    except OSError as e:
        raise NativeFormatError(path, f"cannot read: {e.strerror or e}") from None
    if keep is not None:
        keep[path] = data
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest(data)}


def done(t: PrepTask, entry: dict[str, Any] | None) -> bool:
    """This job wrote every output of the sample from these very sources, untouched since."""
    if entry is None:
        return False
    srcs, outs = entry.get("srcs") or {}, entry.get("outs") or {}
    want_src = [p for p in (t.label_src, t.seg_src) if p is not None] + [s for s, _ in t.images]
    want_out = [d for _, d in t.outputs] + [d for _, d in t.images] + [d for _, d in t.copies]
    return (sorted(srcs) == sorted(want_src) and sorted(outs) == sorted(want_out)
            and all(same_file(p, srcs[p], content="sha256" in (srcs[p] or {})) for p in want_src)
            and all(same_file(p, outs[p], content=False, follow=False) for p in want_out))
