"""Label pictures: colourise a label map with a label space's palette, blend it over an image.

Numpy and the standard library only (``tax.colorize`` / ``tax.overlay`` call these). A label
space without colours of its own (most test and source datasets) gets the PASCAL VOC colour
map, shifted by one so that no class is black: the same rule that coloured the universal
classes. Ignored pixels are drawn black (``ignore_color``) in a colourised label and left as
they are in an overlay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import LabelError

IGNORE_COLOR = (0, 0, 0)


def voc_colormap(n: int, *, start: int = 1) -> np.ndarray:
    """(n, 3) uint8 PASCAL VOC colour map entries ``start`` .. ``start + n - 1`` (unique below 2**24)."""
    ids = np.arange(start, start + n, dtype=np.int64)
    cmap = np.zeros((n, 3), dtype=np.int64)
    c = ids.copy()
    for j in range(8):
        for ch in range(3):
            cmap[:, ch] |= ((c >> ch) & 1) << (7 - j)
        c >>= 3
    return cmap.astype(np.uint8)


def palette(tax: Any, space: str) -> np.ndarray:
    """(n, 3) uint8 colours of ``space``'s classes: its own, else the VOC colour map (see module doc)."""
    return np.ascontiguousarray(tax.colors(space))  # (Taxonomy.colors applies that rule)


def _labels(label: Any, n: int, ignore: int, space: str) -> np.ndarray:
    arr = np.asarray(label)
    if not np.issubdtype(arr.dtype, np.integer):
        raise LabelError(f"{space} labels must be an integer array, got dtype {arr.dtype}")
    if arr.size:
        bad = np.unique(arr[((arr < 0) | (arr >= n)) & (arr != ignore)])
        if bad.size:
            shown = ", ".join(str(v) for v in bad[:20]) + (" ..." if bad.size > 20 else "")
            raise LabelError(f"label values outside {space}'s ids 0..{n - 1} (and ignore {ignore}): {shown}")
    return arr


def _rgb(color: Any, what: str) -> np.ndarray:
    c = np.asarray(color)
    if c.shape != (3,) or not np.all((c >= 0) & (c <= 255)):
        raise ValueError(f"{what} must be an (r, g, b) triple of 0..255, got {color!r}")
    return c.astype(np.uint8)


def colorize(label: Any, colors: np.ndarray, ignore: int, space: str, *,
             ignore_color: Any = IGNORE_COLOR) -> np.ndarray:
    """``label`` (any shape, integer ids of ``space``) -> uint8 RGB of shape ``label.shape + (3,)``.

    ``colors`` is the (n, 3) palette; ``ignore`` pixels get ``ignore_color``; any other id outside
    0..n-1 raises LabelError.
    """
    n = len(colors)
    arr = _labels(label, n, ignore, space)
    table = np.empty((n + 1, 3), dtype=np.uint8)
    table[:n] = colors
    table[n] = _rgb(ignore_color, "ignore_color")
    idx = np.where(arr == ignore, n, arr).astype(np.intp, copy=False)
    return table[idx]


def _image(image: Any, shape: tuple[int, ...]) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    elif img.ndim == 3 and img.shape[-1] in (3, 4):
        img = img[..., :3]
    else:
        raise ValueError(f"image must be H x W grey, H x W x 3 RGB or H x W x 4 RGBA, got shape {img.shape}")
    if img.shape[:2] != tuple(shape):
        raise ValueError(f"image is {img.shape[0]} x {img.shape[1]} but the label is {shape[0]} x {shape[1]}")
    if img.dtype == np.uint8:
        return img
    if np.issubdtype(img.dtype, np.floating):
        if img.size and not (np.nanmin(img) >= 0 and np.nanmax(img) <= 1):
            raise ValueError("a float image must hold values in 0..1 (else convert it to uint8)")
        rgb: np.ndarray = np.clip(np.nan_to_num(img) * 255 + 0.5, 0, 255).astype(np.uint8)
        return rgb
    if np.issubdtype(img.dtype, np.integer):
        if img.size and (img.min() < 0 or img.max() > 255):
            raise ValueError(f"an integer image must hold values in 0..255, got {img.min()}..{img.max()}")
        return img.astype(np.uint8)
    raise ValueError(f"image dtype {img.dtype} is not a picture (uint8, or float in 0..1)")


def overlay(image: Any, label: Any, colors: np.ndarray, ignore: int, space: str, *, alpha: float = 0.5) -> np.ndarray:
    """Blend the colourised 2-d ``label`` over ``image``: ``(1 - alpha) * image + alpha * colour``.

    ``image`` is H x W (grey), H x W x 3 or H x W x 4 (alpha dropped), uint8 or float in 0..1.
    Ignored pixels keep the image's colour. Returns H x W x 3 uint8.
    """
    if not (isinstance(alpha, (int, float, np.floating)) and 0 <= float(alpha) <= 1):
        raise ValueError(f"alpha must be a number in 0..1, got {alpha!r}")
    arr = _labels(label, len(colors), ignore, space)
    if arr.ndim != 2:
        raise LabelError(f"overlay needs an H x W label, got shape {arr.shape}")
    img = _image(image, arr.shape)
    col = colorize(arr, colors, ignore, space).astype(np.float32)
    out = img.astype(np.float32)
    keep = (arr == ignore)[..., None]
    blended = (1.0 - float(alpha)) * out + float(alpha) * col
    return np.where(keep, out, np.floor(blended + 0.5)).astype(np.uint8)
