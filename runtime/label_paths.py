"""Runtime: label maps from one label space to another — look-up tables and chains of them.

The second layer of :class:`unitax.Taxonomy` (on :class:`unitax.spaces.Spaces`): ``to_universal``,
``remap``, the routes between label spaces (``route``, ``chain_lut``), the per-pixel target sets
of union mappings, and the pictures of label maps. Ids are checked against their space before a
table is applied; numpy arrays, CPU and device tensors alike go through :func:`unitax.arrays.run`.
The kernels are imported on the first remap, not by ``unitax.load()``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from functools import cached_property
from itertools import pairwise
from typing import Any

import numpy as np

from . import arrays
from .errors import LabelError, UnknownDatasetError
from .format import label_dtype, lut_size
from .spaces import UNIVERSAL, Spaces


def check_out_of_range(out_of_range: str) -> None:
    if out_of_range not in ("raise", "ignore"):
        raise ValueError(f"out_of_range must be 'raise' or 'ignore', got {out_of_range!r}")


class LabelPaths(Spaces):
    """Label maps between label spaces (a layer of :class:`unitax.Taxonomy`)."""

    def _apply(self, label: Any, lut: np.ndarray, space: str, out: Any, out_of_range: str, key: str) -> Any:
        """``lut[label]`` after checking ``label`` holds ids of ``space``; ``key`` names the table (device caches)."""
        check_out_of_range(out_of_range)
        return arrays.run(label, out, lambda arr: self._lookup(arr, lut, space, out, out_of_range, key),
                          lambda t: self._lookup_on_device(t, lut, space, out_of_range, key))

    def _lookup_on_device(self, label: Any, lut: np.ndarray, space: str, out_of_range: str, key: str) -> Any:
        from . import torch_support as ts

        s = self._space(space)
        checked = ts.check_labels(label, len(s["names"]), int(s["ignore"]), space, out_of_range)
        return ts.apply_lut(checked, lut, self._device_cache, key)

    def _lookup(self, arr: np.ndarray, lut: np.ndarray, space: str, out: Any, out_of_range: str,
                key: str) -> np.ndarray:
        from . import kernels

        arr = arrays.label_array(arr, space)
        s = self._space(space)
        n, ignore = len(s["names"]), int(s["ignore"])
        bad = kernels.invalid_values(arr, n, ignore)
        if bad.size:
            if out_of_range != "ignore":
                shown = ", ".join(str(v) for v in bad[:20]) + (" ..." if bad.size > 20 else "")
                raise LabelError(
                    f"label values outside {space}'s ids 0..{n - 1} (and ignore {ignore}): {shown}; "
                    "pass out_of_range='ignore' to send them to ignore")
            arr = np.where((arr < 0) | ((arr >= n) & (arr != ignore)), ignore, arr).astype(
                label_dtype(ignore) if n <= 256 else np.uint16)  # uint16 ids with ignore 255: naive layout
        if arr.dtype == np.uint16 and lut.shape[0] == 256:
            wide = self._padded.get(key)
            if wide is None:
                wide = np.full(65536, lut[255], dtype=lut.dtype)
                wide[:256] = lut
                self._padded[key] = wide
            lut = wide
        result: np.ndarray = kernels.apply_lut(arr, lut, out=out)
        return result

    def to_universal(self, label: Any, dataset: str, *, out: np.ndarray | None = None,
                     out_of_range: str = "raise") -> Any:
        """Map a ``dataset`` label map (any shape, any integer dtype) to universal ids.

        Args:
            label: integer array of ``dataset`` ids (ignore value allowed).
            dataset: a dataset with a mapping to universal (see ``train_datasets``).
            out: optional output array (label's shape, the table's dtype).
            out_of_range: ``"raise"`` (default) or ``"ignore"`` to send unknown ids to 255.
        Returns:
            universal ids (uint8), 255 where ignored.
        """
        return self._apply(label, self.lut(dataset), dataset, out, out_of_range, f"to_universal/{dataset}")

    def remap(self, label: Any, src: str, dst: str, *, out: np.ndarray | None = None,
              out_of_range: str = "raise") -> Any:
        """Map a ``src`` label map to ``dst`` ids with a compiled dataset -> dataset table."""
        return self._apply(label, self.remap_lut(src, dst), src, out, out_of_range, self._remaps[(src, dst)])

    @cached_property
    def _edges(self) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Every compiled table as an edge between label spaces: name -> [(name it leads to, table)], sorted."""
        edges: dict[str, list[tuple[str, np.ndarray]]] = {}
        for k, e in sorted(self._c.taxonomy["tables"].items()):
            kind, _, name = k.partition("/")
            if kind == "remap":
                edges.setdefault(e["source"], []).append((e["target"], self._tables[k]))
            elif kind == "to_universal":
                edges.setdefault(name, []).append((UNIVERSAL, self._tables[k]))
            elif kind == "from_universal":
                edges.setdefault(UNIVERSAL, []).append((name, self._tables[k]))
        for v in edges.values():
            v.sort(key=lambda e: e[0])
        return edges

    def route(self, source: str, target: str) -> tuple[str, ...]:
        """The shortest chain of compiled tables from ``source`` to ``target``: label space names, both ends.

        Ties go to the alphabetically first label space; ``(source,)`` when they are the same.
        Used by :class:`unitax.RemapLabels` and ``unitax remap-dir`` alike.
        """
        self._space(source), self._space(target)
        if source == target:
            return (source,)
        prev: dict[str, str] = {source: ""}
        queue = deque([source])
        while queue:
            a = queue.popleft()
            for b, _ in self._edges.get(a, []):
                if b not in prev:
                    prev[b] = a
                    if b == target:
                        path = [b]
                        while path[-1] != source:
                            path.append(prev[path[-1]])
                        return tuple(path[::-1])
                    queue.append(b)
        reach = sorted(set(prev) - {source})
        raise UnknownDatasetError(f"no chain of compiled tables leads from {source} to {target}"
                                  + (f"; from {source} one reaches: {', '.join(reach)}" if reach else ""))

    def chain_lut(self, path: Sequence[str]) -> np.ndarray:
        """One lookup table for a chain of label spaces (a :meth:`route`); the identity for one space."""
        first = path[0]
        ignore = self.ignore_index(first)
        lut = np.full(lut_size(ignore), ignore, dtype=label_dtype(ignore))
        lut[: len(self.names(first))] = np.arange(len(self.names(first)))
        for a, b in pairwise(path):
            step = dict(self._edges.get(a, [])).get(b)
            if step is None:
                raise UnknownDatasetError(f"no compiled table leads from {a} to {b}")
            lut = step[lut]  # every table covers its source dtype's whole range, ignore included
        return np.ascontiguousarray(lut)

    def partial_targets(self, label: Any, dataset: str, *, compact: bool = False, out_of_range: str = "raise",
                        ignore_index: int | None = None) -> Any:
        """Per-pixel target sets of a ``dataset`` label map: a (…, n_universal) bool mask (all False
        where ignored), or with ``compact=True`` a :class:`unitax.unions.PartialTargets`
        ``(index, sets)`` that does not allocate the mask (``sets[index]`` for ``index >= 0``).
        ``ignore_index`` (e.g. -100, torch's ``cross_entropy`` default) is skipped as well as the
        dataset's own ignore id."""
        from . import unions

        arr, _ = arrays.to_numpy(label)
        return unions.partial_targets(arrays.label_array(arr, dataset), self.class_sets(dataset),
                                      self.ignore_index(dataset), dataset, compact=compact, out_of_range=out_of_range,
                                      ignore_index=ignore_index)

    def colorize(self, label: Any, space: str, *, ignore_color: Any = (0, 0, 0)) -> np.ndarray:
        """``space`` ids (any shape) -> uint8 RGB picture (shape + (3,)) in ``space``'s colours.

        Spaces without colours get the VOC colour map; ignore pixels get ``ignore_color`` (black);
        other ids outside the space raise LabelError. See :mod:`unitax.pictures`.
        """
        from . import pictures

        arr, _ = arrays.to_numpy(label)
        return pictures.colorize(arr, pictures.palette(self, space), self.ignore_index(space), space,
                                 ignore_color=ignore_color)

    def overlay(self, image: Any, label: Any, space: str, alpha: float = 0.5) -> np.ndarray:
        """Blend the colourised H x W ``label`` over ``image`` (uint8 RGB/grey, or float 0..1); uint8 RGB out.

        Ignored pixels keep the image's colour. See :mod:`unitax.pictures`.
        """
        from . import pictures

        arr, _ = arrays.to_numpy(label)
        img, _ = arrays.to_numpy(image)
        return pictures.overlay(img, arr, pictures.palette(self, space), self.ignore_index(space), space, alpha=alpha)
