"""Runtime: picklable label transforms for PyTorch ``Dataset``s and DataLoader workers (numpy only).

A transform holds the path of a compiled taxonomy and dataset names, never the loaded tables:
pickling it for a worker process sends a few strings, and each worker loads (and verifies) the
taxonomy once, on first use.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

_loaded: dict[str | None, Any] = {}


def _taxonomy(path: str | None) -> Any:
    tax = _loaded.get(path)
    if tax is None:
        from .taxonomy import load

        tax = _loaded[path] = load(path)
    return tax


class RemapLabels:
    """Callable that remaps a label map (numpy array or torch tensor) from ``source`` to ``target``.

    ``target`` is ``"universal"`` (default) or any label space a chain of compiled tables
    reaches from ``source``: the shortest, :meth:`unitax.Taxonomy.route` (a test dataset through
    universal, a dataset through its compiled remap).

        ds = MyDataset(..., target_transform=unitax.RemapLabels("ade20k-150"))
    """

    def __init__(self, source: str, target: str = "universal", path: str | os.PathLike[str] | None = None,
                 out_of_range: str = "raise"):
        self.source, self.target, self.out_of_range = source, target, out_of_range
        self.path = None if path is None else os.fspath(path)
        tax = _taxonomy(self.path)  # fail now, in the main process, on unknown names or no route
        self.route = tax.route(source, target)  # the runtime's one route, as `unitax remap-dir` takes it

    def __repr__(self) -> str:
        return f"RemapLabels({self.source!r}, {self.target!r})"

    def __call__(self, label: Any) -> Any:
        tax = _taxonomy(self.path)
        key = "chain/" + "->".join(self.route)  # names the table for the device caches
        return tax._apply(label, _chain(self.path, self.route), self.source, None, self.out_of_range, key)


@functools.lru_cache(maxsize=64)
def _chain(path: str | None, route: tuple[str, ...]) -> np.ndarray:
    """The route folded into one table (one pass per label), once per process; never pickled."""
    lut: np.ndarray = _taxonomy(path).chain_lut(route)
    return lut
