"""Runtime: picklable label transforms for PyTorch ``Dataset``s and DataLoader workers (numpy only).

A transform holds the path of a compiled taxonomy and dataset names, never the loaded tables:
pickling it for a worker process sends a few strings, and each worker loads (and verifies) the
taxonomy once, on first use.
"""

from __future__ import annotations

import os
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

    ``target`` is ``"universal"`` (default), a test dataset (labels are first mapped to
    universal) or a dataset with a compiled remap from ``source``.

        ds = MyDataset(..., target_transform=unitax.RemapLabels("ade20k-150"))
    """

    def __init__(self, source: str, target: str = "universal", path: str | os.PathLike[str] | None = None,
                 out_of_range: str = "raise"):
        self.source, self.target, self.out_of_range = source, target, out_of_range
        self.path = None if path is None else os.fspath(path)
        tax = _taxonomy(self.path)  # fail now, in the main process, on unknown names
        if target == "universal" or target in tax.test_datasets:
            tax.lut(source)
            if target != "universal":
                tax.test_lut(target)
        else:
            tax.remap_lut(source, target)

    def __repr__(self) -> str:
        return f"RemapLabels({self.source!r}, {self.target!r})"

    def __call__(self, label: Any) -> Any:
        tax = _taxonomy(self.path)
        if self.target == "universal":
            return tax.to_universal(label, self.source, out_of_range=self.out_of_range)
        if self.target in tax.test_datasets:
            u = tax.to_universal(label, self.source, out_of_range=self.out_of_range)
            return tax.to_test_labels(u, self.target)
        return tax.remap(label, self.source, self.target, out_of_range=self.out_of_range)
