"""PASCAL-Context ``trainval/<image>.mat`` -> pascal-context-460 label map (uint16).

Expects ``trainval.tar.gz`` of PASCAL-Context (https://cs.stanford.edu/~roozbeh/pascal-context/,
the 459-class full release), unpacked as MSeg lays it out::

    PASCAL_Context/trainval/<yyyy_nnnnnn>.mat     # one MATLAB file per VOC2010 image, variable LabelMap
    PASCAL_Context/JPEGImages/<yyyy_nnnnnn>.jpg   # from VOC2010

``LabelMap`` holds, per pixel, the class index 0..459 of the full label list (0 = unlabeled);
pascal-context-460's ids are those values, so the map is kept as is, as uint16 (ids reach 459;
the dataset's ignore value is 65535). Reading a ``.mat`` needs scipy (``pip install 'unitax[prepare]'``).
"""
from __future__ import annotations

import io
import os

import numpy as np

from ..errors import NativeFormatError

NUM_CLASSES = 460


def decode(label_map: np.ndarray, path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """``LabelMap`` as a (H, W) uint16 array, checked to be integral ids in 0..459."""
    a = np.asarray(label_map)
    if a.ndim != 2 or a.size == 0:
        raise NativeFormatError(path, f"LabelMap must be a non-empty 2-D array, got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise NativeFormatError(path, "LabelMap holds non-integral values")
    elif a.dtype.kind not in "iu":
        raise NativeFormatError(path, f"LabelMap has dtype {a.dtype}, not integers")
    lo, hi = a.min(), a.max()
    if lo < 0 or hi >= NUM_CLASSES:
        bad = np.argwhere((a < 0) | (a >= NUM_CLASSES))[0]
        raise NativeFormatError(path, f"LabelMap value {a[tuple(bad)]} at (row {bad[0]}, col {bad[1]}) "
                                      f"is outside 0..{NUM_CLASSES - 1}")
    return a.astype(np.uint16)


def read(mat_path: str | os.PathLike[str], data: bytes | None = None) -> np.ndarray:
    """:func:`decode` of ``LabelMap`` in the MATLAB file at ``mat_path`` (or of its bytes ``data``, already
    read; needs scipy)."""
    try:
        import scipy.io
    except ImportError:
        raise ImportError("reading PASCAL-Context .mat files needs scipy: pip install 'unitax[prepare]'") from None
    try:
        mat = scipy.io.loadmat(mat_path if data is None else io.BytesIO(data))
    except FileNotFoundError:
        raise NativeFormatError(mat_path, "no such file") from None
    except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError, ... on corrupt files
        raise NativeFormatError(mat_path, f"not a readable MATLAB file ({type(exc).__name__}: {exc})") from None
    if "LabelMap" not in mat:
        raise NativeFormatError(mat_path, "has no LabelMap variable")
    return decode(mat["LabelMap"], mat_path)
