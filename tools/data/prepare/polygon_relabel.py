"""The two rules for applying relabel records to polygon datasets (Cityscapes, IDD).

A relabel record of a polygon dataset names a segment by its polygon: the object's ``id`` field
in ``*_gtFine_polygons.json`` if it has one, else its index in ``objects``. Polygons overlap (a
rider's polygon runs under the motorcycle drawn after it), so "the segment's pixels" has two
readings:

- ``mseg`` (the default; MSeg's own, as mseg-api's ``mseg_write_relabeled_segments.py`` and
  ``JsonMaskDataset.get_segment_mask`` do it): the mask of a record is the *whole* polygon of the
  segment, rasterised on its own with Pillow (filled, outline included; a polygon whose points all
  share one row is drawn as a line), whatever its label or ``deleted`` flag; the records of an
  image are applied in record order, each setting every pixel of its mask to its new class, so
  the new class also covers the parts of the polygon hidden by polygons drawn later (the
  occluders' pixels are repainted). :func:`paint_mseg` counts the pixels outside each segment's
  visible area whose class that changes.
- ``visible``: only the pixels where the segment is visible in the rasterised annotation (the
  segment map of :mod:`.readers.polygons`: the polygon drawn last there) move. A segment that is
  completely hidden moves nothing; :func:`paint_visible` counts it.

Neither rule fails a sample for a hidden segment. A record naming a segment id that no object
of the file has is an error under both (MSeg's script exits there).
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import NativeFormatError

RULES = ("mseg", "visible")
DEFAULT_RULE = "mseg"


@dataclass
class PaintStats:
    """What one sample's records did in one label space."""

    segments: int = 0          # segments the records name in this sample
    hidden: int = 0            # visible rule: segments with no visible pixel (nothing moved)
    repainted: int = 0         # MSeg's rule: pixels outside the segment's visible area that changed class
    empty: int = 0             # MSeg's rule: polygons that cover no pixel of the image

    def add(self, other: PaintStats) -> None:
        self.segments += other.segments
        self.hidden += other.hidden
        self.repainted += other.repainted
        self.empty += other.empty

    def as_dict(self) -> dict[str, int]:
        return {"segments": self.segments, "hidden": self.hidden, "repainted": self.repainted, "empty": self.empty}


@dataclass
class PaintTotals(PaintStats):
    """What one space's records did over the samples a run wrote (the sum of their :class:`PaintStats`)."""

    samples: int = 0           # samples written whose records this space applied

    def count(self, sample: PaintStats) -> None:
        self.samples += 1
        self.add(sample)


def load_annotation(data: bytes, path: str | os.PathLike[str] | None) -> Mapping[str, Any]:
    """The parsed polygon JSON (its bytes already read)."""
    try:
        ann = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NativeFormatError(path, f"not JSON ({exc})") from None
    if not isinstance(ann, Mapping) or not isinstance(ann.get("objects"), list):
        raise NativeFormatError(path, "not a polygon annotation (needs imgHeight, imgWidth, objects)")
    return ann


def segment_polygons(ann: Mapping[str, Any], path: str | os.PathLike[str] | None = None) -> dict[int, Any]:
    """Segment id -> the polygon (as in the JSON) of the first object with that id (MSeg's lookup)."""
    out: dict[int, Any] = {}
    for k, obj in enumerate(ann["objects"]):
        if not isinstance(obj, Mapping) or "polygon" not in obj:
            raise NativeFormatError(path, f"objects[{k}] lacks label or polygon")
        sid = obj["id"] if "id" in obj else k
        if isinstance(sid, int) and not isinstance(sid, bool):
            out.setdefault(sid, obj["polygon"])
    return out


def mseg_mask(polygon: Sequence[Any], h: int, w: int, path: str | os.PathLike[str] | None = None,
              index: int | None = None) -> np.ndarray:
    """The bool mask of one polygon as MSeg rasterises a relabel record's segment (see the module doc)."""
    from PIL import Image, ImageDraw

    try:
        pts = [(p[0], p[1]) for p in polygon]
        for x, y in pts:
            if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, int | float) \
                    or not isinstance(y, int | float) or not np.isfinite(x) or not np.isfinite(y):
                raise TypeError
    except (TypeError, IndexError, KeyError):
        where = f"segment {index}: " if index is not None else ""
        raise NativeFormatError(path, f"{where}polygon is not a list of [x, y] numbers") from None
    img = Image.new("L", (w, h), 0)
    if not pts:
        return np.zeros((h, w), bool)
    draw = ImageDraw.Draw(img)
    if len({y for _, y in pts}) == 1:
        draw.line(pts, fill=1)
    else:
        draw.polygon(pts, outline=1, fill=1)
    mask: np.ndarray = np.asarray(img, dtype=np.uint8) == 1
    return mask


def _size(ann: Mapping[str, Any], shape: tuple[int, ...], path: str | os.PathLike[str] | None) -> tuple[int, int]:
    try:
        h, w = int(ann["imgHeight"]), int(ann["imgWidth"])
    except (KeyError, TypeError, ValueError):
        raise NativeFormatError(path, "not a polygon annotation (needs imgHeight, imgWidth, objects)") from None
    if (h, w) != tuple(shape):
        raise NativeFormatError(path, f"is {w}x{h}, the label {shape[1]}x{shape[0]}")
    return h, w


def unknown_segments(ann: Mapping[str, Any], ids: np.ndarray, path: str | os.PathLike[str] | None) -> list[int]:
    """The ids of ``ids`` that no object of the annotation has."""
    have = segment_polygons(ann, path)
    return [int(s) for s in ids if int(s) not in have]


def paint_mseg(label: np.ndarray, ann: Mapping[str, Any], ids: np.ndarray, classes: np.ndarray,
               records: np.ndarray, visible: np.ndarray | None,
               path: str | os.PathLike[str] | None = None) -> PaintStats:
    """MSeg's rule, in place on ``label``: each segment's whole polygon gets its class, records in record order.

    ``visible``: the segment map of the rasterised annotation (for the count of pixels outside each
    segment's visible area whose class the record changes: occluders' pixels repainted), or None.
    Raises NativeFormatError for an id no object has.
    """
    h, w = _size(ann, label.shape, path)
    polys = segment_polygons(ann, path)
    missing = [int(s) for s in ids if int(s) not in polys]
    if missing:
        raise NativeFormatError(path, f"has no polygon with segment id(s) {', '.join(map(str, missing[:10]))} "
                                      "that relabel records move")
    stats = PaintStats(segments=len(ids))
    for i in np.argsort(records, kind="stable"):
        sid = int(ids[i])
        mask = mseg_mask(polys[sid], h, w, path, sid)
        if not mask.any():
            stats.empty += 1
            continue
        if visible is not None:   # pixels outside the segment's visible area that change class
            stats.repainted += int(np.count_nonzero(mask & (visible != sid) & (label != classes[i])))
        label[mask] = classes[i]
    return stats


def paint_visible(label: np.ndarray, ann: Mapping[str, Any], ids: np.ndarray, classes: np.ndarray,
                  visible: np.ndarray, path: str | os.PathLike[str] | None = None) -> PaintStats:
    """The visible rule, in place on ``label``: only the pixels where each segment is visible move.

    Raises NativeFormatError for an id no object has; a hidden segment is counted, not an error.
    """
    from unitax.relabel import relabel_segments

    _size(ann, label.shape, path)
    missing = unknown_segments(ann, ids, path)
    if missing:
        raise NativeFormatError(path, f"has no polygon with segment id(s) {', '.join(map(str, missing[:10]))} "
                                      "that relabel records move")
    order = np.argsort(ids, kind="stable")
    hidden = relabel_segments(label, visible, ids[order], classes[order])
    return PaintStats(segments=len(ids), hidden=len(hidden))
