"""Label PNGs that need a dataset's colours or a bit layout to read: palette, RGB colour, 16-bit instance.

- **Palette PNGs** (mode ``P``): Mapillary Vistas v1.1 ``{training,validation}/labels/*.png``
  (``mapillary-vistas-dataset_public_v1.1.zip``: palette = the 66 colours of its
  ``config.json``, index = mapillary-public66 id), PASCAL VOC 2012 ``SegmentationClass/*.png``.
  The pixel values are the ids; :func:`decode_palette` checks that the palette entry of every
  index in use is the dataset's colour for that id (the ignore index may have any colour).
- **RGB colour labels**: CamVid ``LabeledApproved_full/*_L.png`` (``LabeledApproved_full.zip`` of
  the Cambridge-driving Labeled Video Database, 32 classes = camvid-32 colours).
  :func:`decode_rgb` maps every colour to its class id; a colour that is no class is an error
  that gives how many pixels have unknown colours and the first one (row, col, colour).
- **16-bit instance PNGs**: Mapillary v1.1 ``{training,validation}/instances/*.png``, mode ``I;16``,
  value = class id * 256 + instance number. :func:`decode_instances` returns the class map (value
  // 256, mapillary-public66) and keeps the whole value as segment id, as MSeg's Mapillary relabel
  records do.
"""
from __future__ import annotations

import os

import numpy as np

from ... import labelio
from ..errors import NativeFormatError


def _colors(colors: np.ndarray) -> np.ndarray:
    c = np.asarray(colors)
    if c.ndim != 2 or c.shape[1] != 3 or len(c) == 0 or len(c) > 256:
        raise ValueError(f"colors must be (n, 3) with 1 <= n <= 256, got {c.shape}")
    return c.astype(np.uint8)


def decode_palette(indices: np.ndarray, palette: np.ndarray | None, colors: np.ndarray,
                   ignore: int = 255, path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """(H, W) uint8 ids of a palette image's indices, after checking its palette against ``colors``.

    ``palette``: (k, 3) uint8 entries of the PNG's palette (None = no palette, an error).
    """
    colors = _colors(colors)
    idx = np.asarray(indices)
    if idx.ndim != 2 or idx.dtype != np.uint8:
        raise NativeFormatError(path, f"expected (H, W) uint8 palette indices, got {idx.shape} {idx.dtype}")
    if palette is None:
        raise NativeFormatError(path, "palette image without a palette")
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    used = np.flatnonzero(np.bincount(idx.ravel(), minlength=256))
    for i in used.tolist():
        if i == ignore:
            continue
        if i >= len(colors):
            n = int((idx == i).sum())
            r, c = np.argwhere(idx == i)[0]
            raise NativeFormatError(path, f"{n} pixels have index {i}, not a class (0..{len(colors) - 1}) "
                                          f"nor ignore {ignore}; first at (row {r}, col {c})")
        if i >= len(pal) or not np.array_equal(pal[i], colors[i]):
            got = "missing" if i >= len(pal) else tuple(pal[i].tolist())
            raise NativeFormatError(path, f"palette entry {i} is {got}, the dataset's colour for id {i} is "
                                          f"{tuple(colors[i].tolist())}: not this dataset's palette")
    return idx.copy()


def read_palette(path: str | os.PathLike[str], colors: np.ndarray, ignore: int = 255,
                 data: bytes | None = None) -> np.ndarray:
    """:func:`decode_palette` of the palette PNG at ``path`` (or of its bytes ``data``, already read)."""
    idx, pal = labelio.read_palette(path, data)
    return decode_palette(idx, pal, colors, ignore, path)


def decode_rgb(rgb: np.ndarray, colors: np.ndarray, path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """(H, W) uint8 class ids of an (H, W, 3) uint8 colour label image; unknown colours are an error."""
    colors = _colors(colors)
    keys = (colors[:, 0].astype(np.uint32) << 16) | (colors[:, 1].astype(np.uint32) << 8) | colors[:, 2]
    if len(np.unique(keys)) != len(keys):
        raise ValueError("colors has a colour twice: colour labels would be ambiguous")
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise NativeFormatError(path, f"expected (H, W, 3) uint8 RGB, got {a.shape} {a.dtype}")
    px = (a[..., 0].astype(np.uint32) << 16) | (a[..., 1].astype(np.uint32) << 8) | a[..., 2]
    order = np.argsort(keys)
    sk = keys[order]
    pos = np.minimum(np.searchsorted(sk, px), len(sk) - 1)
    hit = sk[pos] == px
    if not hit.all():
        bad = ~hit
        r, c = np.argwhere(bad)[0]
        raise NativeFormatError(path, f"{int(bad.sum())} pixels have a colour that is no class; first at "
                                      f"(row {r}, col {c}): {tuple(a[r, c].tolist())}")
    ids: np.ndarray = order[pos].astype(np.uint8)
    return ids


def read_rgb(path: str | os.PathLike[str], colors: np.ndarray, data: bytes | None = None) -> np.ndarray:
    """:func:`decode_rgb` of the RGB colour label PNG at ``path`` (or of its bytes ``data``, already read)."""
    return decode_rgb(labelio.read_colors(path, data), colors, path)


def decode_instances(values: np.ndarray, num_classes: int | None = None,
                     path: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(class map uint8 = value // 256, segment map uint16 = value) of a 16-bit instance PNG.

    ``num_classes``: when given, a class id (value // 256) at or above it is an error.
    """
    v = np.asarray(values)
    if v.ndim != 2 or v.dtype.kind not in "iu":
        raise NativeFormatError(path, f"expected (H, W) integer values, got {v.shape} {v.dtype}")
    if v.size and (v.min() < 0 or v.max() > 0xFFFF):
        raise NativeFormatError(path, "values outside 0..65535: not a 16-bit instance image")
    v = v.astype(np.uint16)
    cls = (v >> 8).astype(np.uint8)
    if num_classes is not None and v.size and int(cls.max()) >= num_classes:
        bad = cls >= num_classes
        r, c = np.argwhere(bad)[0]
        raise NativeFormatError(path, f"{int(bad.sum())} pixels have class id >= {num_classes}; first at "
                                      f"(row {r}, col {c}): value {int(v[r, c])}")
    return cls, v


def read_instances(path: str | os.PathLike[str], num_classes: int | None = None,
                   data: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decode_instances` of the 16-bit PNG at ``path`` (or of its bytes ``data``, already read)."""
    values, hdr = labelio.decode_image(path, labelio.read_bytes(path) if data is None else data)
    if values.dtype != np.uint16:
        raise NativeFormatError(path, f"expected a 16-bit grey image, got mode {hdr.mode}")
    return decode_instances(values, num_classes, path)
