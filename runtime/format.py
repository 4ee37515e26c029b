"""The build format: the contract between the compiler that writes a build and the runtime that reads it.

One leaf module, standard library only (numpy for its type hints), that imports nothing else of unitax: the
version number of the format, how a label space's dtype follows from its ignore value, and the
shape of one entry of the table index (``taxonomy.json`` ``tables``, ``relabel.json``). The
compiler imports this module (``unitax.format``) as the single exception to its rule of never
importing the runtime (tests/test_layout.py), so writer and reader cannot drift apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:  # numpy only for the types: the compiler imports this module before it needs numpy
    import numpy as np

#: the version of the build format; the runtime reads exactly this version
FORMAT_VERSION = 1

#: the ignore value of each label dtype (the schemas allow exactly these)
IGNORE_OF_DTYPE = {"uint8": 255, "uint16": 65535}


def label_dtype(ignore: int) -> str:
    """The dtype of the labels of a space with this ignore value: ``uint8`` when it fits a byte, else ``uint16``."""
    return "uint8" if 0 <= int(ignore) <= 255 else "uint16"


_MAX_LABEL = {"uint8": 255, "uint16": 65535}


def max_label(dtype: str) -> int:
    """The largest value a label of this dtype (``uint8``/``uint16``) can hold."""
    return _MAX_LABEL[dtype]


def lut_size(ignore: int) -> int:
    """Entries of a lookup table indexed by labels of the space with this ignore value (256 or 65536)."""
    return max_label(label_dtype(ignore)) + 1


def table_entry(file: str, arr: np.ndarray) -> dict[str, Any]:
    """One entry of a table index: the array's file (relative to the build), dtype and shape."""
    return {"file": file, "dtype": str(arr.dtype), "shape": list(arr.shape)}


def is_table_entry(entry: Any) -> TypeGuard[dict[str, Any]]:
    """Whether ``entry`` has the fields of :func:`table_entry` with the right types."""
    return (isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("dtype"), str)
            and isinstance(entry.get("shape"), list) and all(type(n) is int for n in entry["shape"]))


def specs_digest(blobs: Iterable[tuple[str, bytes]]) -> str:
    """The manifest's ``specs_sha256``: sha256 over (path relative to the spec folder, bytes) of every
    spec input, in sorted order. The manifest lists those paths (``specs_files``; the schemas as
    ``schemas/<name>``), so that the runtime can tell from content whether the specs beside a build
    are still the ones it was compiled from."""
    h = hashlib.sha256()
    for rel, raw in sorted(blobs):
        h.update(rel.encode() + b"\0" + raw + b"\0")
    return h.hexdigest()
