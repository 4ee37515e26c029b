"""Cityscapes / IDD ``*_gtFine_polygons.json`` -> class map (cityscapes-34 / idd-40) + segment map.

Expects ``gtFine_trainvaltest.zip`` of Cityscapes (https://www.cityscapes-dataset.com) or
``idd-segmentation.tar.gz`` of IDD (IDD Part I, https://idd.insaan.iiit.ac.in), laid out as MSeg::

    Cityscapes/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_polygons.json
    IDD/IDD_Segmentation/gtFine/{train,val}/<seq number>/<frame>_gtFine_polygons.json

A file holds ``imgHeight``, ``imgWidth`` and ``objects``: each a ``label`` name, a ``polygon``
(list of [x, y]) and optionally ``deleted`` (and ``id``). The class map is rasterised as the
datasets' own ``createLabels`` scripts (and MSeg's ``dump_idd_semantic_labels``) do: start from
the ``unlabeled`` class, draw each polygon in file order with Pillow's ``ImageDraw.polygon``
(later polygons paint over earlier ones), skip deleted polygons and those with fewer than 3
points, try a ``...group`` label without its suffix when the full name is not a class, and leave
out labels the dataset never draws (Cityscapes' ``license plate``, id -1 there). The segment map
holds, per pixel, the segment id of the polygon drawn last there: the object's ``id`` field if
present, else its index in ``objects`` (MSeg's rule for the relabel records), -1 where none.

Values are checked where they are read (:func:`decode`), never coerced: ``imgHeight``,
``imgWidth`` and ``id`` must be JSON integers (not ``4.7``, not ``true``, which Python counts as
1), an ``id`` must fit the int32 segment map (0..2^31-1: a larger one would wrap onto another
segment), and every coordinate must be finite and lie at most one image size outside the image
(x in [-w, 2w], y in [-h, 2h]): a point further out is no annotation of this image, and Pillow
rasterises such polygons to almost nothing.
"""
from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from .....fileops import jsonio
from ..errors import NativeFormatError

#: per dataset: the background class and the labels that are never drawn
DATASETS: dict[str, dict[str, Any]] = {
    "cityscapes-34": {"background": "unlabeled", "never_drawn": frozenset({"license plate"})},
    "idd-40": {"background": "unlabeled", "never_drawn": frozenset()},
}
NO_SEGMENT = -1
MAX_SEGMENT = (1 << 31) - 1   # the segment map is int32


def _is_int(v: Any) -> bool:
    """A JSON integer: an int that is not a bool (``True`` is an int in Python)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _points(poly: Any, path: str | os.PathLike[str] | None, k: int,
            size: tuple[int, int]) -> list[tuple[float, float]]:
    w, h = size
    if not isinstance(poly, list) or not all(isinstance(p, list) and len(p) == 2 for p in poly):
        raise NativeFormatError(path, f"objects[{k}].polygon is not a list of [x, y] points")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for p in poly for v in p):
        raise NativeFormatError(path, f"objects[{k}].polygon has a coordinate that is not a number")
    try:
        pts = [(float(p[0]), float(p[1])) for p in poly]
    except OverflowError:   # an integer too large for a float
        raise NativeFormatError(path, f"objects[{k}].polygon has a non-finite coordinate") from None
    if not all(np.isfinite(v) for pt in pts for v in pt):
        raise NativeFormatError(path, f"objects[{k}].polygon has a non-finite coordinate")
    for j, (x, y) in enumerate(pts):
        if not (-w <= x <= 2 * w and -h <= y <= 2 * h):
            raise NativeFormatError(path, f"objects[{k}].polygon[{j}] = ({x:g}, {y:g}) lies more than the image's "
                                          f"size outside the {w}x{h} image (x in [{-w}, {2 * w}], "
                                          f"y in [{-h}, {2 * h}]); not a point of this image")
    return pts


def decode(ann: Mapping[str, Any], names: Sequence[str], background: str = "unlabeled",
           never_drawn: Collection[str] = (), on_unknown: str = "error",
           path: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(class map uint8, segment map int32) of a parsed polygon JSON.

    ``names``: the dataset's class names in id order (``tax.names("idd-40")``). ``on_unknown``:
    ``"error"`` (default) raises on a label that is no class; ``"skip"`` leaves it out as MSeg's
    script does (it prints a warning).
    """
    from PIL import Image, ImageDraw

    if on_unknown not in ("error", "skip"):
        raise ValueError(f"on_unknown must be 'error' or 'skip', not {on_unknown!r}")
    name_to_id = {n: i for i, n in enumerate(names)}
    if background not in name_to_id:
        raise ValueError(f"background class {background!r} is not in names")
    try:
        h, w = ann["imgHeight"], ann["imgWidth"]
        objects = ann["objects"]
    except (KeyError, TypeError, IndexError):
        raise NativeFormatError(path, "not a polygon annotation (needs imgHeight, imgWidth, objects)") from None
    if not (_is_int(h) and _is_int(w)):
        raise NativeFormatError(path, f"imgHeight {h!r} and imgWidth {w!r} must be integers")
    if h <= 0 or w <= 0 or h * w > 1 << 28:
        raise NativeFormatError(path, f"implausible image size {w}x{h}")
    if not isinstance(objects, list):
        raise NativeFormatError(path, "objects is not a list")
    cls_img = Image.new("L", (w, h), name_to_id[background])
    seg_img = Image.new("I", (w, h), NO_SEGMENT)
    cls_draw, seg_draw = ImageDraw.Draw(cls_img), ImageDraw.Draw(seg_img)
    seen: set[int] = set()
    for k, obj in enumerate(objects):
        if not isinstance(obj, Mapping) or "label" not in obj or "polygon" not in obj:
            raise NativeFormatError(path, f"objects[{k}] lacks label or polygon")
        sid = obj.get("id", k)
        if not _is_int(sid) or sid < 0 or sid in seen:
            raise NativeFormatError(path, f"objects[{k}]: segment id {sid!r} is not a new non-negative integer")
        if sid > MAX_SEGMENT:
            raise NativeFormatError(path, f"objects[{k}]: segment id {sid} does not fit the int32 segment map "
                                          f"(0..{MAX_SEGMENT}); it would wrap onto another segment")
        seen.add(sid)
        pts = _points(obj["polygon"], path, k, (w, h))
        if obj.get("deleted") or len(pts) < 3:
            continue
        label = str(obj["label"])
        if label not in name_to_id and label.endswith("group"):
            label = label[: -len("group")]
        if label in never_drawn:
            continue
        if label not in name_to_id:
            if on_unknown == "skip":
                continue
            raise NativeFormatError(path, f"objects[{k}]: label {obj['label']!r} is not a class of the dataset")
        cls_draw.polygon(pts, fill=name_to_id[label])
        seg_draw.polygon(pts, fill=sid)
    return np.asarray(cls_img, dtype=np.uint8), np.asarray(seg_img, dtype=np.int32)


def read(json_path: str | os.PathLike[str], names: Sequence[str], dataset: str | None = None, *,
         data: bytes | None = None, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decode` of the file at ``json_path`` (or of its bytes ``data``, already read); ``dataset``
    (a key of :data:`DATASETS`) sets its defaults."""
    opts = dict(DATASETS[dataset]) if dataset is not None else {}
    opts.update(kwargs)
    try:
        if data is None:
            with open(json_path, encoding="utf-8") as f:
                ann = jsonio.load(f)  # bounded in size and depth
        else:
            ann = jsonio.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise NativeFormatError(json_path, "no such file") from None
    except (OSError, ValueError) as exc:
        raise NativeFormatError(json_path, f"not JSON ({exc})") from None
    return decode(ann, names, path=json_path, **opts)
