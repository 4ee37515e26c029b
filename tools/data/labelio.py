"""One reader (and writer) of label images, shared by `unitax evaluate`, `unitax remap-dir` and the
native readers of `unitax prepare`.

A label image must be lossless and hold ids exactly: checked from the file's own header (its
format, mode and bit depth), never by a cast. Accepted:

- PNG (or TIFF/BMP when the file is named so): 8-bit grey (``L``), palette indices (``P``),
  16-bit grey (``I;16``); RGB only where the caller decodes a dataset's colours
  (``rgb=True``), and RGBA there only when every pixel is opaque, its alpha dropped
  (``alpha=True``, :func:`read_colors`); 32-bit integer ids only for segment maps (``segments=True``).
- Refused, naming the path: JPEG/WebP/GIF/anything lossy or not what the name says (a JPEG
  named ``.png``), 1-bit, LA, RGBA, CMYK, float, 32-bit ids in a label file, several frames,
  empty, truncated or non-image files, FIFOs and other special files.

Callers that hash a file read it once (:func:`read_bytes`) and decode those bytes (:func:`decode`,
:func:`decode_image`, or ``data=`` of :func:`read_colors`, :func:`read_palette`, :func:`header`);
:func:`header` checks a file and gives its size without decoding its pixels.

Every image is opened here, photos included (:func:`photo_size`, :func:`read_photo`), and its
header checked against :data:`MAX_PIXELS` before any pixel is decoded: a decompression bomb (a
few bytes claiming gigapixels) is refused by name, never a warning, a traceback or a hang.

Errors are :class:`LabelFileError`: ``str(e)`` is one line, ``path: reason``; ``e.reason`` is
the reason alone.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from ...fileops.read import NotRegularFile, describe, read_regular
from ..errors import ToolError

# the formats a name promises, and what its header must then say
_EXT_FORMAT = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
LOSSLESS = frozenset(_EXT_FORMAT.values())
GREY_MODES = ("L", "P", "I;16", "I;16L", "I;16B")
#: the most pixels an image may claim (2^27, 134 M: 11,585 x 11,585; the largest MSeg label,
#: a Mapillary one, has 22 M); above it the file is refused before a pixel is decoded
MAX_PIXELS = 1 << 27


class LabelFileError(ToolError):
    """A file that is not a usable label image (or segment map)."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a regular, non-empty file; special files are never read (unitax.fileops.read)."""
    try:
        data = read_regular(path)
    except NotRegularFile as e:
        raise LabelFileError(path, f"is {e.kind}, not an image file; not read") from None
    except OSError as e:
        raise LabelFileError(path, _oserror(e)) from None
    if not data:
        raise LabelFileError(path, "empty file (0 bytes), not an image")
    return data


def _check_regular(path: str | os.PathLike[str]) -> None:
    """LabelFileError unless ``path`` is a regular, non-empty file (checked with ``stat``, never opened)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise LabelFileError(path, _oserror(e)) from None
    if not stat.S_ISREG(st.st_mode):
        raise LabelFileError(path, f"is {describe(st.st_mode)}, not an image file; not read")
    if st.st_size == 0:
        raise LabelFileError(path, "empty file (0 bytes), not an image")


def _oserror(e: OSError) -> str:
    return f"cannot read: {e.strerror or e}"


def bad_ids(arr: np.ndarray, n: int, ignore: int) -> str:
    """Why ``arr`` is no map of ids ``0..n-1`` (or ``ignore``): "values 3, 300 are not ids"; "" when it is."""
    from ...kernels import invalid_values

    bad = invalid_values(arr, n, ignore)
    if not bad.size:
        return ""
    shown = ", ".join(str(int(v)) for v in bad[:10]) + (" ..." if bad.size > 10 else "")
    return f"values {shown} are not ids"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Header(NamedTuple):
    """What a checked header says: format, Pillow mode, ``shape`` (h, w) and, for mode ``P``, the
    palette as (k, 3) uint8 colours (None otherwise)."""

    format: str
    mode: str
    shape: tuple[int, int]
    palette: np.ndarray | None


def header(path: str | os.PathLike[str], data: bytes | None = None, *, rgb: bool = False,
           segments: bool = False) -> Header:
    """The checked header of a label image (format, mode, bit depth as :func:`decode`); pixels are not decoded."""
    return _open(path, read_bytes(path) if data is None else data, rgb, segments, False, load=False)[1]


def decode(path: str | os.PathLike[str], data: bytes, *, rgb: bool = False, segments: bool = False) -> np.ndarray:
    """Decode label image bytes after checking format, mode and bit depth (see the module doc)."""
    arr, _ = decode_image(path, data, rgb=rgb, segments=segments)
    return arr


def decode_image(path: str | os.PathLike[str], data: bytes, *, rgb: bool = False, segments: bool = False,
                 alpha: bool = False) -> tuple[np.ndarray, Header]:
    """:func:`decode` and the :class:`Header` it checked. ``alpha`` (with ``rgb``): an RGBA image is
    accepted when every pixel is opaque (alpha 255), and its alpha dropped."""
    arr, hdr = _open(path, data, rgb, segments, alpha and rgb, load=True)
    assert arr is not None
    return arr, hdr


def _open(path: str | os.PathLike[str], data: bytes, rgb: bool, segments: bool, alpha: bool,
          load: bool) -> tuple[np.ndarray | None, Header]:
    what = "segment map" if segments else "label image"
    ext = os.path.splitext(str(path))[1].lower()
    arr = None
    with _pillow_errors(path, truncated=True), _open_bounded(path, data) as im:
        fmt, mode = im.format or "?", im.mode
        if fmt not in LOSSLESS:
            raise LabelFileError(path, f"is a {fmt} file, not a lossless {what} (PNG)"
                                 + (f" despite its {ext} name" if ext in _EXT_FORMAT else ""))
        if ext in _EXT_FORMAT and _EXT_FORMAT[ext] != fmt:
            raise LabelFileError(path, f"is a {fmt} file named {ext}; "
                                       f"rename it or convert it to {_EXT_FORMAT[ext]}")
        frames = int(getattr(im, "n_frames", 1))
        if frames > 1:
            raise LabelFileError(path, f"has {frames} frames; a {what} has one")
        ok = GREY_MODES + (("RGB",) if rgb or segments else ()) + (("I",) if segments else ()) \
            + (("RGBA",) if alpha else ())
        if fmt == "PNG" and mode == "I" and im.info.get("bits", 16) <= 16:
            ok = ok + ("I",)  # 16-bit grey PNG that an older Pillow opens as I
        if mode not in ok:
            ids = "segment ids" if segments else "label ids"
            raise LabelFileError(path, f"{_describe(mode, fmt)} holds no {ids}"
                                 f" (expected 8/16-bit single-channel ids{', or RGB colours' if rgb else ''})")
        pal = None
        if mode == "P":
            raw = im.getpalette()
            pal = None if raw is None else np.asarray(raw, dtype=np.uint8)[: len(raw) // 3 * 3].reshape(-1, 3)
        hdr = Header(fmt, mode, (int(im.size[1]), int(im.size[0])), pal)
        if load:
            im.load()
            arr = np.asarray(im)
    if arr is None:
        return None, hdr
    if mode == "RGBA":
        if not np.all(arr[..., 3] == 255):
            raise LabelFileError(path, f"{_describe(mode, fmt)} has {int((arr[..., 3] != 255).sum())} "
                                       "pixels that are not opaque; colour labels need alpha 255 or no alpha")
        arr = np.ascontiguousarray(arr[..., :3])
    elif mode == "I" and not segments:
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 65535):
            raise LabelFileError(path, "holds values outside 16 bits")
        arr = arr.astype(np.uint16)
    elif arr.dtype.kind == "i":
        arr = arr.astype(np.uint32 if segments else np.uint16)
    elif arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr, hdr


@contextmanager
def _pillow_errors(path: str | os.PathLike[str], *, truncated: bool) -> Iterator[None]:
    """Pillow's errors while opening or decoding ``path``, each as one :class:`LabelFileError` (ours pass
    through); ``truncated``: a cut-off file is named so (label images), else it is only unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        yield
    except LabelFileError:
        raise
    except UnidentifiedImageError:
        raise LabelFileError(path, "not an image (no known image header)") from None
    except Image.DecompressionBombError as e:
        raise LabelFileError(path, f"refused: {e}") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if truncated and ("truncated" in msg or isinstance(e, EOFError)):
            raise LabelFileError(path, f"truncated image ({msg})") from None
        raise LabelFileError(path, f"unreadable image: {msg}") from None


def _open_bounded(path: str | os.PathLike[str], data: bytes | Any) -> Any:
    """Pillow's image of ``data`` (bytes, or a binary file open for reading), its header read and its
    size checked against :data:`MAX_PIXELS`."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():   # Pillow warns between its own limit and twice it; the check is ours
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    w, h = im.size
    if w * h > MAX_PIXELS:
        im.close()
        raise LabelFileError(path, f"claims {w} x {h} = {w * h:,} pixels, more than the {MAX_PIXELS:,} an image "
                                   "may have (a decompression bomb?); not decoded")
    return im


def _photo(path: str | os.PathLike[str], load: bool) -> tuple[tuple[int, int], np.ndarray | None]:
    _check_regular(path)   # special files are never opened
    try:
        f = open(path, "rb")   # a file, not its bytes: for a size, Pillow reads the header alone
    except OSError as e:
        raise LabelFileError(path, _oserror(e)) from None
    with f, _pillow_errors(path, truncated=False), _open_bounded(path, f) as im:
        size = (int(im.size[1]), int(im.size[0]))
        return size, (np.asarray(im.convert("RGB")) if load else None)


def photo_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(h, w) of a photo (any format Pillow reads) from its header, bounded by :data:`MAX_PIXELS`."""
    return _photo(path, False)[0]


def read_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """(h, w, 3) uint8 RGB pixels of a photo (any format Pillow reads), bounded by :data:`MAX_PIXELS`."""
    arr = _photo(path, True)[1]
    assert arr is not None
    return arr


def _describe(mode: str, fmt: str) -> str:
    names = {"1": "1-bit (black/white)", "LA": "grey + alpha (LA)", "RGBA": "RGBA", "RGB": "RGB",
             "CMYK": "CMYK", "YCbCr": "YCbCr", "F": "32-bit float", "I": "32-bit integer", "PA": "palette + alpha",
             "La": "grey + alpha", "RGBa": "RGBA", "I;32": "32-bit integer"}
    return f"{fmt} image of mode {mode} ({names.get(mode, mode)})"


def read_label(path: str | os.PathLike[str], *, rgb: bool = False) -> np.ndarray:
    """A label image as an array: (h, w) uint8/uint16 ids, or (h, w, 3) uint8 colours where ``rgb``."""
    return decode(path, read_bytes(path), rgb=rgb)


def read_segments(path: str | os.PathLike[str]) -> np.ndarray:
    """A segment map as ids: grey/16/32-bit ids, or RGB as COCO panoptic's R + 256 G + 256^2 B."""
    arr = decode(path, read_bytes(path), segments=True)
    if arr.ndim == 3:
        a = arr.astype(np.uint32)
        return a[..., 0] | (a[..., 1] << 8) | (a[..., 2] << 16)
    return arr


def read_colors(path: str | os.PathLike[str], data: bytes | None = None) -> np.ndarray:
    """(h, w, 3) uint8 colours of an RGB label: a dataset's colour labels, a COCO panoptic or full ADE20K
    PNG. An opaque RGBA image has its alpha dropped; grey, palette and 16-bit images are refused."""
    arr, hdr = decode_image(path, read_bytes(path) if data is None else data, rgb=True, alpha=True)
    if arr.ndim != 3:
        raise LabelFileError(path, f"{_describe(hdr.mode, hdr.format)} holds no colours (expected 8-bit RGB)")
    return arr


def read_palette(path: str | os.PathLike[str], data: bytes | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(indices (h, w) uint8, palette (k, 3) uint8 or None) of a palette (mode ``P``) label image."""
    arr, hdr = decode_image(path, read_bytes(path) if data is None else data)
    if hdr.mode != "P":
        raise LabelFileError(path, f"{_describe(hdr.mode, hdr.format)} is not a palette (mode P) image")
    return arr, hdr.palette


def encode_png(arr: np.ndarray, palette: np.ndarray | None = None) -> Any:
    """The Pillow image to save as PNG: uint8 -> L, uint16 -> 16-bit grey, or palette colours."""
    from PIL import Image

    if palette is not None:
        return Image.fromarray(np.ascontiguousarray(palette[arr]))
    if arr.dtype == np.uint8:
        return Image.fromarray(arr)
    return Image.fromarray(arr.astype("<u2", copy=False))
