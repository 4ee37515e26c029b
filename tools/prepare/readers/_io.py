"""File opening shared by the readers (to be replaced by the project's label-image layer)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NativeFormatError

if TYPE_CHECKING:
    from PIL import Image


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """The Pillow image at ``path``, loaded; NativeFormatError if it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    img = None
    try:
        img = Image.open(path)
        img.load()   # reads the pixels and closes the file Pillow opened
    except FileNotFoundError:
        raise NativeFormatError(path, "no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if img is not None:
            img.close()
        raise NativeFormatError(path, f"not a readable image ({exc})") from None
    return img


def rgb_array(path: str | os.PathLike[str]) -> np.ndarray:
    """(H, W, 3) uint8 of an 8-bit RGB (or RGBA, alpha dropped) image; other modes are refused."""
    img = open_image(path)
    if img.mode not in ("RGB", "RGBA"):
        raise NativeFormatError(path, f"expected an 8-bit RGB image, got mode {img.mode}")
    return np.asarray(img.convert("RGB") if img.mode == "RGBA" else img)
