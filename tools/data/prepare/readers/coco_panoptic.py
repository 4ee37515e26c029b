"""COCO panoptic 2017 -> coco-panoptic-201 class map + segment-id map.

Expects the official download ``panoptic_annotations_trainval2017.zip``
(https://cocodataset.org, "2017 Panoptic Train/Val annotations"), unpacked as MSeg lays it out::

    COCOPanoptic/annotations/panoptic_{train,val}2017.json
    COCOPanoptic/annotations/panoptic_{train,val}2017/<12-digit image id>.png

Each PNG is RGB; a pixel's segment id is ``R + 256*G + 256**2*B`` (computed in uint32). The JSON's
``annotations[*]`` entry for the PNG (matched by ``file_name``) lists ``segments_info`` with each
segment's ``id`` and ``category_id``. MSeg's coco-panoptic-201 ids *are* COCO's category ids (its
names file has line k = category k, ``unlabeled`` on ids COCO never uses), so the class map is the
category id per pixel; segment id 0 (void) and ids absent from ``segments_info`` become the ignore
value 255. The segment-id map is what ``relabel/coco-panoptic-133-relabeled/*.tsv`` refers to.

The JSON is data: :func:`load_annotations` takes a ``file_name`` only as a plain file name
(:func:`unitax.fileops.datapath.relpath`, and no folder) and refuses one given twice, naming both
entries; :func:`decode` takes ``id`` and ``category_id`` only as JSON integers (not ``4.7``,
not ``true``, which Python counts as 1) within their ranges.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .....fileops import jsonio
from .....fileops.datapath import DataPathError, relpath
from ...labelio import read_colors
from ..errors import NativeFormatError

IGNORE = 255


def segment_ids(rgb: np.ndarray, path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """(H, W) uint32 segment ids ``R + 256 G + 256^2 B`` of an (H, W, 3) uint8 panoptic PNG."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise NativeFormatError(path, f"expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    c = rgb.astype(np.uint32)
    ids: np.ndarray = c[..., 0] + (c[..., 1] << 8) + (c[..., 2] << 16)
    return ids


def decode(rgb: np.ndarray, segments_info: Iterable[Mapping[str, Any]], names: Sequence[str] | None = None,
           path: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(class map uint8 in coco-panoptic-201, segment-id map uint32) of one panoptic PNG.

    ``names``: coco-panoptic-201's class names (``tax.names("coco-panoptic-201")``); when given,
    a category id outside it or named ``unlabeled`` (void in the taxonomy) is an error.
    """
    seg = segment_ids(rgb, path)
    ids: list[int] = []
    cats: list[int] = []
    for k, info in enumerate(segments_info):
        try:
            sid, cid = info["id"], info["category_id"]
        except (KeyError, TypeError, IndexError):
            raise NativeFormatError(path, f"segments_info[{k}] lacks an integer id/category_id") from None
        for key, v in (("id", sid), ("category_id", cid)):
            if not _is_int(v):
                raise NativeFormatError(path, f"segments_info[{k}]: {key} {v!r} is not an integer")
        if sid <= 0 or sid >= 256 ** 3:
            raise NativeFormatError(path, f"segments_info[{k}]: segment id {sid} is not in 1..16777215")
        if not 0 < cid < IGNORE:
            raise NativeFormatError(path, f"segments_info[{k}]: category_id {cid} is not in 1..254")
        if names is not None and (cid >= len(names) or names[cid] == "unlabeled"):
            raise NativeFormatError(path, f"segments_info[{k}]: category_id {cid} is not a coco-panoptic-201 class")
        if sid in ids:
            raise NativeFormatError(path, f"segments_info[{k}]: segment id {sid} listed twice")
        ids.append(sid)
        cats.append(cid)
    cls = np.full(seg.shape, IGNORE, dtype=np.uint8)
    if ids:
        order = np.argsort(np.asarray(ids, dtype=np.uint32))
        sorted_ids = np.asarray(ids, dtype=np.uint32)[order]
        sorted_cats = np.asarray(cats, dtype=np.uint8)[order]
        pos = np.searchsorted(sorted_ids, seg)
        pos_c = np.minimum(pos, len(sorted_ids) - 1)
        hit = sorted_ids[pos_c] == seg
        cls[hit] = sorted_cats[pos_c[hit]]
    return cls, seg


def _is_int(v: Any) -> bool:
    """A JSON integer: an int that is not a bool (``True`` is an int in Python)."""
    return isinstance(v, int) and not isinstance(v, bool)


def load_annotations(json_path: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    """``file_name`` -> ``segments_info`` of every annotation in a ``panoptic_{split}2017.json``.

    A ``file_name`` must be a plain file name (no folder, no ``..``, no control character) and
    appear once; ``segments_info`` must be a list (its entries are checked by :func:`decode`).
    """
    try:
        with open(json_path, encoding="utf-8") as f:
            data = jsonio.load(f)  # bounded in size and depth
    except FileNotFoundError:
        raise NativeFormatError(json_path, "no such file") from None
    except (OSError, ValueError) as exc:
        raise NativeFormatError(json_path, f"not a COCO panoptic JSON ({type(exc).__name__}: {exc})") from None
    anns = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(anns, list):
        raise NativeFormatError(json_path, "not a COCO panoptic JSON (no annotations list)")
    out: dict[str, list[dict[str, Any]]] = {}
    first: dict[str, int] = {}
    for k, a in enumerate(anns):
        if not isinstance(a, dict) or "file_name" not in a or not isinstance(a.get("segments_info"), list):
            raise NativeFormatError(json_path, f"annotations[{k}] lacks file_name or a segments_info list")
        name = a["file_name"]
        try:
            relpath(name, f"annotations[{k}].file_name")
        except DataPathError as e:
            raise NativeFormatError(json_path, str(e)) from None
        if "/" in name:
            raise NativeFormatError(json_path, f"annotations[{k}].file_name {ascii(name)} names a folder; "
                                               "a panoptic PNG is named by its file name alone")
        if name in first:
            raise NativeFormatError(json_path, f"annotations[{first[name]}] and annotations[{k}] both have "
                                               f"file_name {ascii(name)}; refusing to guess which is meant")
        first[name] = k
        out[name] = a["segments_info"]
    return out


def read(png_path: str | os.PathLike[str], annotations: Mapping[str, Sequence[Mapping[str, Any]]],
         names: Sequence[str] | None = None, data: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decode` of the PNG at ``png_path`` (or of its bytes ``data``, already read) with its entry of
    ``annotations`` (:func:`load_annotations`)."""
    key = os.path.basename(os.fspath(png_path))
    if key not in annotations:
        raise NativeFormatError(png_path, f"{key} has no entry in the panoptic JSON")
    return decode(read_colors(png_path, data), annotations[key], names, png_path)
