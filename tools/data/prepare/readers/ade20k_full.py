"""Full ADE20K ``*_seg.png`` -> ADE object-class map + instance map, resized to the challenge size.

Expects the full dataset ``ADE20K_2016_07_26.zip`` (https://groups.csail.mit.edu/vision/datasets/ADE20K/,
the 2016-07-26 release MSeg uses), unpacked beside the Scene Parsing challenge data
``ADEChallengeData2016.zip`` (http://sceneparsing.csail.mit.edu)::

    ADE20K_2016_07_26/images/{training,validation}/<letter>/<scene>/ADE_{train,val}_<8 digits>_seg.png
    ADEChallengeData2016/annotations/{training,validation}/ADE_{train,val}_<8 digits>.png   # ade20k-151

A ``_seg.png`` is 8-bit RGB: R and G encode the object class, ``R // 10 * 256 + G`` (ADE's
``loadAde20K``: an index into the full dataset's object list, 0 = unlabeled), B the instance.
MSeg keeps B's raw values as segment ids (its ADE20K relabel records name them) and, because the
full release is stored at a different resolution than the challenge data, resizes B to the
challenge annotation's size with OpenCV's ``INTER_NEAREST``, which computes the source index in
floating point: output pixel (i, j) takes source row ``min(floor(i * (1.0 / (h / H))), H - 1)``
(and the same for columns), with ``h / H`` and its reciprocal as IEEE doubles, for a source of
H x W and an output of h x w. That is ``floor(i * H / h)`` except where rounding tips a value that
is exactly an integer (a tie) below it: e.g. 98 outputs from 2 (i = 49 takes row 0, not 1).
Pillow's ``Image.NEAREST`` samples pixel centres instead (floor((i + 0.5) * H / h)) and gives
other pixels; :func:`resize_nearest` reproduces OpenCV's arithmetic exactly, without OpenCV
(tests/test_prepare_ade20k.py checks it against a table made with OpenCV, tests/goldens/nearest/).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...labelio import header, read_colors
from ..errors import NativeFormatError


def nearest_indices(src: int, dst: int) -> np.ndarray:
    """Source index of each of ``dst`` outputs under OpenCV's ``INTER_NEAREST`` (MSeg's resize):
    ``min(floor(i * (1.0 / (dst / src))), src - 1)`` in double precision, as OpenCV computes it."""
    if src <= 0 or dst <= 0:
        raise ValueError(f"sizes must be positive, got {src} -> {dst}")
    inv = 1.0 / (float(dst) / float(src))   # OpenCV: ifx = 1./inv_scale_x, inv_scale_x = (double)dsize/ssize
    idx = np.floor(np.arange(dst, dtype=np.float64) * inv).astype(np.int64)
    out: np.ndarray = np.minimum(idx, src - 1)
    return out


def resize_nearest(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``a`` (H, W[, C]) resized to ``size`` = (h, w) with MSeg's nearest-neighbour rule."""
    h, w = size
    out: np.ndarray = a[nearest_indices(a.shape[0], h)[:, None], nearest_indices(a.shape[1], w)[None, :]]
    return out


def decode(seg_rgb: np.ndarray, size: tuple[int, int] | None = None,
           path: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(class map uint16 = R // 10 * 256 + G, instance map uint8 = B) of a decoded ``_seg.png``.

    With ``size`` = (h, w) (the challenge annotation's shape) both maps are resized with
    :func:`resize_nearest`, as MSeg resizes the instance map.
    """
    seg_rgb = np.asarray(seg_rgb)
    if seg_rgb.ndim != 3 or seg_rgb.shape[2] != 3 or seg_rgb.dtype != np.uint8:
        raise NativeFormatError(path, f"expected (H, W, 3) uint8 RGB, got {seg_rgb.shape} {seg_rgb.dtype}")
    if size is not None:
        if len(size) != 2 or min(size) <= 0:
            raise NativeFormatError(path, f"bad target size {size!r}")
        seg_rgb = resize_nearest(seg_rgb, (int(size[0]), int(size[1])))
    r = seg_rgb[..., 0].astype(np.uint16)
    cls = (r // 10) * 256 + seg_rgb[..., 1].astype(np.uint16)
    return cls, np.ascontiguousarray(seg_rgb[..., 2])


def read(seg_path: str | os.PathLike[str], challenge_label: str | os.PathLike[str] | None = None,
         data: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decode` of ``seg_path`` (or of its bytes ``data``, already read), resized to the size of
    ``challenge_label`` (the challenge annotation PNG; only its header is read) if given."""
    size = None if challenge_label is None else header(challenge_label).shape
    return decode(read_colors(seg_path, data), size, seg_path)


def seg_index(root: Path) -> dict[str, list[Path]]:
    """Image key -> every full-ADE ``<key>_seg.png`` below ``root`` (sorted); two for one key is an
    ambiguity the callers refuse (:func:`ambiguous_seg`), as remap-dir refuses two segment maps of one key."""
    out: dict[str, list[Path]] = {}
    for p in sorted((root / "ADE20K_2016_07_26" / "images").rglob("ADE_*_seg.png")):
        out.setdefault(p.name[: -len("_seg.png")], []).append(p)
    return out


def ambiguous_seg(key: str, paths: list[Path]) -> str:
    """The reason a sample with several full-ADE ``_seg.png`` files is refused."""
    return (f"two full-ADE segment files have image key {key}: {paths[0]} and {paths[1]}"
            + (f" (and {len(paths) - 2} more)" if len(paths) > 2 else "") + "; refusing to guess which is meant")
