"""The tools' one way to read JSON they did not just make: bounded in size and in depth.

JSON read back from disk is untrusted, whether a job's own bookkeeping (remap-dir's and
prepare's stamp and ledger lines, which a crash or a person may have damaged) or a dataset's
native files (COCO panoptic JSON, polygon JSON). Python's ``json`` recurses once per level of
nesting, so ``[`` repeated 100,000 times raises ``RecursionError`` (a ``RuntimeError``, which no
reader expects) instead of ``ValueError``; and a file of any size is read whole. Here:

- more than ``max_bytes`` (characters, for a text stream) is :class:`JSONLimitError`, found before
  the rest is read;
- nesting deeper than ``max_depth`` (arrays and objects) is :class:`JSONLimitError`, whether the
  parser runs out of stack or the parsed value is checked (an iterative walk, so every value a
  caller gets can be compared, printed and serialised again without recursing too deep).

:class:`JSONLimitError` is a ``ValueError``, so every reader that already treats bad JSON as
damaged (``except ValueError``) treats these the same. A path is read by :func:`.read.read_regular`
(a FIFO or device is an ``OSError``, never read). Standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import IO, Any

from .read import TooLarge, read_regular

#: deeper than any JSON unitax reads (COCO panoptic: 4 levels; polygons: 5; stamps and ledgers: 3)
MAX_DEPTH = 64
#: the largest native JSON read (COCO's panoptic_train2017.json is well under it)
MAX_BYTES = 2 << 30


class JSONLimitError(ValueError):
    """JSON too large or nested too deep to read."""


def loads(data: str | bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` bounded in size and depth (module docstring); bad JSON raises ValueError."""
    if len(data) > max_bytes:
        raise JSONLimitError(f"larger than {max_bytes} bytes")
    try:
        value = json.loads(data)
    except RecursionError:
        raise JSONLimitError(f"nested deeper than {max_depth} levels") from None
    check_depth(value, max_depth)
    return value


def load(f: IO[str] | IO[bytes] | str | os.PathLike[str], *, max_bytes: int = MAX_BYTES,
         max_depth: int = MAX_DEPTH) -> Any:
    """Read JSON from an open file or a path, at most ``max_bytes`` of it (module docstring)."""
    if isinstance(f, (str, os.PathLike)):
        try:
            data: str | bytes = read_regular(f, max_bytes)   # a FIFO or device is refused, never read
        except TooLarge:
            raise JSONLimitError(f"larger than {max_bytes} bytes") from None
        return loads(data, max_bytes=max_bytes, max_depth=max_depth)
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise JSONLimitError(f"larger than {max_bytes} bytes")
    return loads(data, max_bytes=max_bytes, max_depth=max_depth)


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONLimitError if ``value`` nests lists and dicts deeper than ``max_depth``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            children: Iterable[Any] = v.values()
        elif isinstance(v, list):
            children = v
        else:
            continue
        if depth > max_depth:
            raise JSONLimitError(f"nested deeper than {max_depth} levels")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
