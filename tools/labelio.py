"""One reader (and writer) of label images, shared by `unitax evaluate` and `unitax remap-dir`.

A label image must be lossless and hold ids exactly: checked from the file's own header (its
format, mode and bit depth), never by a cast. Accepted:

- PNG (or TIFF/BMP when the file is named so): 8-bit grey (``L``), palette indices (``P``),
  16-bit grey (``I;16``); RGB only where the caller decodes a dataset's colours
  (``rgb=True``); 32-bit integer ids only for segment maps (``segments=True``).
- Refused, naming the path: JPEG/WebP/GIF/anything lossy or not what the name says (a JPEG
  named ``.png``), 1-bit, LA, RGBA, CMYK, float, 32-bit ids in a label file, several frames,
  empty, truncated or non-image files, FIFOs and other special files.

Errors are :class:`LabelFileError`: ``str(e)`` is one line, ``path: reason``; ``e.reason`` is
the reason alone.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from typing import Any

import numpy as np

from .errors import ToolError

# the formats a name promises, and what its header must then say
_EXT_FORMAT = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
LOSSLESS = frozenset(_EXT_FORMAT.values())
GREY_MODES = ("L", "P", "I;16", "I;16L", "I;16B")


class LabelFileError(ToolError):
    """A file that is not a usable label image (or segment map)."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a regular, non-empty file; special files are never opened."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise LabelFileError(path, _oserror(e)) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode) else \
            "a socket" if stat.S_ISSOCK(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or \
            stat.S_ISBLK(st.st_mode) else "not a regular file"
        raise LabelFileError(path, f"is {kind}, not an image file; not read")
    if st.st_size == 0:
        raise LabelFileError(path, "empty file (0 bytes), not an image")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise LabelFileError(path, _oserror(e)) from None


def _oserror(e: OSError) -> str:
    return f"cannot read: {e.strerror or e}"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(path: str | os.PathLike[str], data: bytes, *, rgb: bool = False, segments: bool = False) -> np.ndarray:
    """Decode label image bytes after checking format, mode and bit depth (see the module doc)."""
    from PIL import Image, UnidentifiedImageError

    what = "segment map" if segments else "label image"
    ext = os.path.splitext(str(path))[1].lower()
    try:
        with Image.open(io.BytesIO(data)) as im:
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
            ok = GREY_MODES + (("RGB",) if rgb or segments else ()) + (("I",) if segments else ())
            if fmt == "PNG" and mode == "I" and im.info.get("bits", 16) <= 16:
                ok = ok + ("I",)  # 16-bit grey PNG that an older Pillow opens as I
            if mode not in ok:
                ids = "segment ids" if segments else "label ids"
                raise LabelFileError(path, f"{_describe(mode, fmt)} holds no {ids}"
                                     f" (expected 8/16-bit single-channel ids{', or RGB colours' if rgb else ''})")
            im.load()
            arr = np.asarray(im)
    except LabelFileError:
        raise
    except UnidentifiedImageError:
        raise LabelFileError(path, "not an image (no known image header)") from None
    except Image.DecompressionBombError as e:
        raise LabelFileError(path, f"refused: {e}") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "truncated" in msg or isinstance(e, EOFError):
            raise LabelFileError(path, f"truncated image ({msg})") from None
        raise LabelFileError(path, f"unreadable image: {msg}") from None
    if mode == "I" and not segments:
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 65535):
            raise LabelFileError(path, "holds values outside 16 bits")
        arr = arr.astype(np.uint16)
    elif arr.dtype.kind == "i":
        arr = arr.astype(np.uint32 if segments else np.uint16)
    elif arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
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


def encode_png(arr: np.ndarray, palette: np.ndarray | None = None) -> Any:
    """The Pillow image to save as PNG: uint8 -> L, uint16 -> 16-bit grey, or palette colours."""
    from PIL import Image

    if palette is not None:
        return Image.fromarray(np.ascontiguousarray(palette[arr]))
    if arr.dtype == np.uint8:
        return Image.fromarray(arr)
    return Image.fromarray(arr.astype("<u2", copy=False))
