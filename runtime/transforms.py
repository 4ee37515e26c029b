"""Runtime: picklable label transforms for PyTorch ``Dataset``s and DataLoader workers (numpy only).

A transform holds the path of a compiled taxonomy and dataset names, never the loaded tables:
pickling it for a worker process sends a few strings, and each worker loads (and verifies) the
taxonomy once, on first use.
"""

from __future__ import annotations

import os
from itertools import pairwise
from typing import Any

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
        out_of_range = self.out_of_range  # only the first step can meet values outside its space
        for a, b in pairwise(self.route):
            if b == "universal":
                label = tax.to_universal(label, a, out_of_range=out_of_range)
            elif a == "universal":
                label = tax.to_test_labels(label, b)
            else:
                label = tax.remap(label, a, b, out_of_range=out_of_range)
            out_of_range = "raise"
        return label
