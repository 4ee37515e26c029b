"""Runtime stage 2: the `Taxonomy` object users hold — names, tables and the remap calls.

Numpy and the standard library only; torch is imported only when the caller passes a torch
tensor (then the result is a tensor on the same device).
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import stat
from collections import deque
from collections.abc import Sequence
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from . import finite as _finite
from . import kernels as _k
from .errors import IntegrityError, LabelError, UnitaxError, UnknownDatasetError
from .evaluate import Evaluator, check_convention
from .format import label_dtype, lut_size, specs_digest
from .loader import Compiled, read_compiled

UNIVERSAL = "universal"


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".", 1)[0] == "torch"


#: route CPU tensors through the device (torch-op) path too; tests set it to cover that path without a GPU
_force_device_path = False


def _to_numpy(x: Any) -> tuple[np.ndarray, Any]:
    """(array, torch tensor it came from or None). Torch is never imported here.

    bfloat16 tensors (numpy has no such dtype) are widened to float32; arrays in non-native
    byte order are converted to native order (the kernels view raw bytes).
    """
    like = None
    if _is_torch(x):
        like = x
        t = x.detach()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        x = t.cpu().resolve_conj().resolve_neg().numpy()
    elif not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as e:
            raise LabelError(f"not an array: {e}") from None
    if x.dtype.byteorder not in "=|" and not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x, like


def _on_device(x: Any) -> bool:
    """A torch tensor that lives off the CPU (remapped there with torch ops, never copied to host)."""
    return _is_torch(x) and (x.device.type != "cpu" or _force_device_path)


def _no_out_with_tensor(out: Any, like: Any) -> None:
    if out is not None and not isinstance(out, np.ndarray):
        raise LabelError(f"out= must be a numpy array, got {type(out).__module__}.{type(out).__name__}")
    if like is not None and out is not None:
        raise LabelError("out= takes a numpy array for numpy input; for a torch tensor the result is a new "
                         "tensor on its device: drop out=")


def _back(result: np.ndarray, like: Any, keep_dtype: bool = False) -> Any:
    if like is None:
        return result
    import torch  # only reached when the caller handed us a tensor

    if not result.flags.c_contiguous:  # (np.ascontiguousarray would turn a 0-d result into 1-d)
        result = result.copy(order="C")
    t = torch.from_numpy(result).to(like.device)
    return t.to(like.dtype) if keep_dtype and t.dtype != like.dtype else t


def _label_array(arr: np.ndarray, space: str) -> np.ndarray:
    """Refuse label arrays that are not integer ids (bool, float, complex, str, object)."""
    if arr.dtype.kind == "b":
        raise LabelError(f"{space} labels must be an integer array, got dtype bool (a mask, not class ids; "
                         "cast to an integer dtype if that is meant)")
    if arr.dtype.kind not in "iu":
        raise LabelError(f"{space} labels must be an integer array, got dtype {arr.dtype}")
    return arr


class Taxonomy:
    """A compiled taxonomy: class names of every label space and the tables between them.

    Get one with :func:`unitax.load`. Dataset names are those of ``taxonomy/datasets``;
    ``"universal"`` names the universal label space.
    """

    def __init__(self, compiled: Compiled):
        self._c = compiled
        t = compiled.taxonomy
        self._spaces: dict[str, dict[str, Any]] = dict(t["datasets"])
        self._spaces[UNIVERSAL] = t["universal"]
        self._tables = compiled.tables
        self._remaps = {(e["source"], e["target"]): k for k, e in t["tables"].items() if k.startswith("remap/")}
        self._padded: dict[str, np.ndarray] = {}
        self._device_cache: dict[tuple[Any, ...], Any] = {}  # (table key, part, device, dtype) -> tensor
        self._groups: dict[str, tuple[np.ndarray, ...]] = {}

    def __repr__(self) -> str:
        return (f"<unitax.Taxonomy {len(self.universal_names)} universal classes, {len(self.datasets)} datasets "
                f"from {self._c.path}>")

    # ----- names ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The compiled folder this taxonomy was loaded from."""
        return self._c.path

    @property
    def specs_sha256(self) -> str:
        """sha256 of the specs this build was compiled from."""
        sha: str = self._c.manifest["specs_sha256"]
        return sha

    @cached_property
    def universal_names(self) -> tuple[str, ...]:
        """Universal class names in id order."""
        return tuple(self._spaces[UNIVERSAL]["names"])

    @cached_property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset name, sorted."""
        return tuple(sorted(k for k in self._spaces if k != UNIVERSAL))

    def _by_role(self, role: str) -> tuple[str, ...]:
        return tuple(d for d in self.datasets if self._spaces[d]["role"] == role)

    @property
    def train_datasets(self) -> tuple[str, ...]:
        """Datasets mapped into the universal taxonomy for training."""
        return self._by_role("train")

    @property
    def test_datasets(self) -> tuple[str, ...]:
        """Datasets the universal taxonomy is mapped into, for zero-shot evaluation."""
        return self._by_role("test")

    @property
    def source_datasets(self) -> tuple[str, ...]:
        """Raw dataset variants that are only remapped into other datasets."""
        return self._by_role("source")

    @property
    def remaps(self) -> tuple[tuple[str, str], ...]:
        """Every compiled dataset -> dataset table, as (source, target) pairs."""
        return tuple(sorted(self._remaps))

    def _space(self, dataset: str) -> dict[str, Any]:
        try:
            return self._spaces[dataset]
        except (KeyError, TypeError):
            import difflib

            close = difflib.get_close_matches(dataset, [UNIVERSAL, *self.datasets], n=1) \
                if isinstance(dataset, str) else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownDatasetError(
                f"unknown dataset {dataset!r}; known: universal, {', '.join(self.datasets)}{hint}") from None

    def names(self, dataset: str) -> tuple[str, ...]:
        """Class names of ``dataset`` (or ``"universal"``) in id order."""
        return tuple(self._space(dataset)["names"])

    def colors(self, dataset: str) -> np.ndarray:
        """(n, 3) uint8 RGB colours unitax draws ``dataset``'s classes with (``colorize``, ``overlay``,
        ``unitax show``, the docs' legends): the dataset's own, else the PASCAL VOC colour map
        shifted by one (:func:`unitax.pictures.voc_colormap`). Whether they are the dataset's own
        (the colours its RGB label images use): :meth:`own_colors`."""
        own = self.own_colors(dataset)
        if own is not None:
            return own
        from .pictures import voc_colormap

        return voc_colormap(len(self.names(dataset)))

    def own_colors(self, dataset: str) -> np.ndarray | None:
        """(n, 3) uint8 RGB colours ``dataset``'s specs give its classes (black for a class without
        one), or None where it defines none: the colours of its RGB label images, if it has any."""
        cols = self._space(dataset).get("colors")
        return None if cols is None else np.array([c if c else (0, 0, 0) for c in cols], dtype=np.uint8)

    def role(self, dataset: str) -> str:
        """``train``, ``test``, ``source`` (or ``universal``)."""
        role: str = self._space(dataset)["role"]
        return role

    def ignore_index(self, dataset: str) -> int:
        """The label value of unlabeled pixels in ``dataset`` (255, or 65535 for uint16 label spaces)."""
        return int(self._space(dataset)["ignore"])

    def colorize(self, label: Any, space: str, *, ignore_color: Any = (0, 0, 0)) -> np.ndarray:
        """``space`` ids (any shape) -> uint8 RGB picture (shape + (3,)) in ``space``'s colours.

        Spaces without colours get the VOC colour map; ignore pixels get ``ignore_color`` (black);
        other ids outside the space raise LabelError. See :mod:`unitax.pictures`.
        """
        from . import pictures

        arr, _ = _to_numpy(label)
        return pictures.colorize(arr, pictures.palette(self, space), self.ignore_index(space), space,
                                 ignore_color=ignore_color)

    def overlay(self, image: Any, label: Any, space: str, alpha: float = 0.5) -> np.ndarray:
        """Blend the colourised H x W ``label`` over ``image`` (uint8 RGB/grey, or float 0..1); uint8 RGB out.

        Ignored pixels keep the image's colour. See :mod:`unitax.pictures`.
        """
        from . import pictures

        arr, _ = _to_numpy(label)
        img, _ = _to_numpy(image)
        return pictures.overlay(img, arr, pictures.palette(self, space), self.ignore_index(space), space, alpha=alpha)

    # ----- tables --------------------------------------------------------------------------

    def _table(self, key: str, what: str, dataset: str) -> np.ndarray:
        self._space(dataset)
        try:
            return self._tables[key]
        except KeyError:
            raise UnknownDatasetError(f"{dataset!r} has no {what}") from None

    def lut(self, dataset: str) -> np.ndarray:
        """Read-only lookup table ``dataset`` id -> universal id, over the label dtype's range."""
        return self._table(f"to_universal/{dataset}", "mapping to universal", dataset)

    def matrix(self, test_dataset: str) -> np.ndarray:
        """Read-only binary (n_test, n_universal) uint8 matrix: 1 where a universal class counts as a test class."""
        return self._table(f"matrix/{test_dataset}", "mapping from universal", test_dataset)

    def test_lut(self, test_dataset: str) -> np.ndarray:
        """Read-only lookup table universal id -> ``test_dataset`` id (unmapped -> 255)."""
        return self._table(f"from_universal/{test_dataset}", "mapping from universal", test_dataset)

    def remap_lut(self, src: str, dst: str) -> np.ndarray:
        """Read-only lookup table ``src`` id -> ``dst`` id for a compiled dataset -> dataset remap."""
        self._space(src), self._space(dst)
        try:
            return self._tables[self._remaps[(src, dst)]]
        except KeyError:
            have = ", ".join(f"{a}->{b}" for a, b in self.remaps)
            raise UnknownDatasetError(f"no compiled remap {src} -> {dst}; compiled: {have}") from None

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
    # ----- unions (dataset classes as sets of universal classes) -----------------------------

    def class_sets(self, dataset: str) -> np.ndarray:
        """Read-only (n_dataset_classes, n_universal) bool matrix: which universal classes each class of
        ``dataset`` covers (one per mapped class for one-to-one mappings, a set for union mappings)."""
        return self._table(f"class_sets/{dataset}", "mapping to universal", dataset)

    def is_union(self, dataset: str) -> bool:
        """Whether ``dataset`` maps to universal through a union mapping (some class covers several classes)."""
        self.class_sets(dataset)
        form: str | None = self._c.taxonomy["tables"][f"class_sets/{dataset}"].get("form")
        return form == "union"

    def partial_targets(self, label: Any, dataset: str, *, compact: bool = False, out_of_range: str = "raise",
                        ignore_index: int | None = None) -> Any:
        """Per-pixel target sets of a ``dataset`` label map: a (…, n_universal) bool mask (all False
        where ignored), or with ``compact=True`` a :class:`unitax.unions.PartialTargets`
        ``(index, sets)`` that does not allocate the mask (``sets[index]`` for ``index >= 0``).
        ``ignore_index`` (e.g. -100, torch's ``cross_entropy`` default) is skipped as well as the
        dataset's own ignore id."""
        from . import unions

        arr, _ = _to_numpy(label)
        return unions.partial_targets(_label_array(arr, dataset), self.class_sets(dataset), self.ignore_index(dataset),
                                      dataset, compact=compact, out_of_range=out_of_range, ignore_index=ignore_index)

    def union_accuracy(self, pred: Any, label: Any, dataset: str, *, axis: int | None = None,
                       out_of_range: str = "raise", ignore_index: int | None = None, check_finite: bool = True) -> Any:
        """Score universal predictions (ids, or scores with ``axis``) on a ``dataset`` label map whose
        classes are sets: a pixel is correct when the prediction lies in its class's set. Returns a
        :class:`unitax.unions.UnionScore` (add them up over a validation set).

        ``ignore_index`` (e.g. -100) is skipped as well as the dataset's own ignore id. Scores
        holding NaN or +inf raise LabelError unless ``check_finite=False`` (-inf logits are allowed)."""
        from . import unions

        p, _ = _to_numpy(pred)
        arr, _ = _to_numpy(label)
        return unions.union_accuracy(p, _label_array(arr, dataset), self.class_sets(dataset),
                                     self.ignore_index(dataset), dataset, self.names(dataset), axis=axis,
                                     out_of_range=out_of_range, ignore_index=ignore_index, check_finite=check_finite,
                                     universal_names=self.universal_names)

    def groups(self, test_dataset: str) -> tuple[np.ndarray, ...]:
        """For each test class, the universal ids that sum into it."""
        g = self._groups.get(test_dataset)
        if g is None:
            m = self.matrix(test_dataset)
            g = tuple(np.flatnonzero(row).astype(np.intp) for row in m)
            self._groups[test_dataset] = g
        return g

    @cached_property
    def _relabel_index(self) -> dict[str, Any]:
        from .relabel import read_index

        return read_index(self._c)

    @property
    def relabel_datasets(self) -> tuple[str, ...]:
        """Datasets with compiled relabel records (segment-level relabelings), sorted."""
        return tuple(sorted(self._relabel_index["datasets"]))

    def relabel(self, dataset: str) -> Any:
        """The relabel records of ``dataset`` as a :class:`unitax.relabel.Relabel` (read and verified on first use)."""
        from .relabel import load_relabel

        cache = self.__dict__.setdefault("_relabels", {})
        if dataset not in cache:
            cache[dataset] = load_relabel(self._c, self._relabel_index, dataset, self.names(dataset),
                                          self.universal_names, self.ignore_index(dataset))
        return cache[dataset]

    # ----- remapping -----------------------------------------------------------------------

    def _apply(self, label: Any, lut: np.ndarray, space: str, out: Any, out_of_range: str, key: str) -> Any:
        """``lut[label]`` after checking ``label`` holds ids of ``space``; ``key`` names the table (device caches)."""
        if out_of_range not in ("raise", "ignore"):
            raise ValueError(f"out_of_range must be 'raise' or 'ignore', got {out_of_range!r}")
        if _on_device(label):
            from . import torch_support as ts

            _no_out_with_tensor(out, label)
            s = self._space(space)
            checked = ts.check_labels(label, len(s["names"]), int(s["ignore"]), space, out_of_range)
            return ts.apply_lut(checked, lut, self._device_cache, key)
        arr, like = _to_numpy(label)
        _no_out_with_tensor(out, like)
        arr = _label_array(arr, space)
        s = self._space(space)
        n, ignore = len(s["names"]), int(s["ignore"])
        bad = _k.invalid_values(arr, n, ignore)
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
        return _back(_k.apply_lut(arr, lut, out=out), like)

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

    def _check_scores(self, arr: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
        if not np.issubdtype(arr.dtype, np.floating):
            raise LabelError(f"scores must be a float array, got dtype {arr.dtype}")
        try:
            axis = operator.index(axis)
        except TypeError:
            raise LabelError(f"axis must be an integer, got {axis!r}") from None
        if arr.ndim == 0:
            raise LabelError("scores must have a class axis")
        ax = axis if axis >= 0 else arr.ndim + axis
        if not 0 <= ax < arr.ndim:
            raise LabelError(f"axis {axis} out of range for {arr.ndim}-d scores")
        n = len(self.universal_names)
        if arr.shape[ax] != n:
            raise LabelError(f"scores have {arr.shape[ax]} channels on axis {axis}; the universal taxonomy has {n}")
        return arr, ax

    def _check_tensor(self, x: Any, axis: int) -> int:
        """Shape checks of :meth:`_check_scores` for a device tensor, without copying it."""
        if not x.dtype.is_floating_point:
            raise LabelError(f"scores must be a float tensor, got dtype {x.dtype}")
        if x.ndim == 0:
            raise LabelError("scores must have a class axis")
        try:
            axis = operator.index(axis)
        except TypeError:
            raise LabelError(f"axis must be an integer, got {axis!r}") from None
        ax = axis if axis >= 0 else x.ndim + axis
        if not 0 <= ax < x.ndim:
            raise LabelError(f"axis {axis} out of range for {x.ndim}-d scores")
        if x.shape[ax] != len(self.universal_names):
            raise LabelError(f"scores have {x.shape[ax]} channels on axis {axis}; "
                             f"the universal taxonomy has {len(self.universal_names)}")
        return ax

    def torch_module(self, test_dataset: str, *, from_logits: bool = True, dim: int = 1,
                     check_finite: bool = True) -> Any:
        """A ``torch.nn.Module`` mapping universal logits (or probabilities) on ``dim`` to test-class scores.

        The binary matrix is a non-trainable buffer; put the module at the end of a universal
        model to evaluate it in ``test_dataset``'s classes. Imports torch. NaN or infinite scores
        it reads raise LabelError unless ``check_finite=False`` (one fused pass on the device).
        """
        from .torch_support import ToTest

        return ToTest(self.matrix(test_dataset), test_dataset, from_logits=from_logits, dim=dim,
                      check_finite=check_finite, names=self.universal_names)

    def to_test(self, probs: Any, test_dataset: str, axis: int = 0, *, from_logits: bool = False,
                out: np.ndarray | None = None, check_finite: bool = True) -> Any:
        """Sum universal scores into ``test_dataset``'s classes along ``axis``.

        Args:
            probs: float array with the universal classes on ``axis`` (probabilities, or logits
                with ``from_logits=True``: softmax is applied first); float16, float32, float64,
                and torch tensors (bfloat16 too; the result keeps the tensor's dtype and device).
            test_dataset: one of ``test_datasets``.
            axis: the class axis (negative allowed).
            out: optional output array (numpy input only).
            check_finite: raise LabelError where a score that feeds the result is NaN or
                infinite (-inf logits are allowed); costs one sum over the result, or over the
                input with ``from_logits``. False skips it.
        Returns:
            float array, same shape but ``axis`` has the test dataset's class count.
        """
        groups = self.groups(test_dataset)
        if _on_device(probs):
            from . import torch_support as ts

            _no_out_with_tensor(out, probs)
            ax = self._check_tensor(probs, axis)
            return ts.scores_to_test(probs, self.matrix(test_dataset), ax, from_logits, self._device_cache,
                                     f"matrix/{test_dataset}", self._finite_checker(test_dataset, check_finite))
        arr, like = _to_numpy(probs)
        _no_out_with_tensor(out, like)
        arr, ax = self._check_scores(arr, axis)
        with np.errstate(invalid="ignore", over="ignore"):
            res = _k.scores_to_test(arr, groups, axis=ax, from_logits=from_logits, out=out)
        if check_finite:
            # A bad value read makes the (smaller) result non-finite: a NaN or +inf logit turns its
            # pixel's softmax into NaN, a bad probability its group's sum. Only then is the input scanned.
            channels = np.arange(arr.shape[ax]) if from_logits else self._read_channels(test_dataset, groups)
            _finite.check_finite(arr, ax, test_dataset, logits=from_logits, names=self.universal_names,
                                 channels=channels, summed=res)
        return _back(res, like, keep_dtype=True)

    def _read_channels(self, dataset: str, groups: Any) -> np.ndarray:
        """The universal channels the groups of ``dataset`` read (cached)."""
        cache = self.__dict__.setdefault("_read", {})
        ch: np.ndarray | None = cache.get(dataset)
        if ch is None:
            parts = [np.asarray(g, np.intp) for g in groups] + [np.zeros(0, np.intp)]
            ch = cache[dataset] = np.unique(np.concatenate(parts))
        return ch

    def _finite_checker(self, reader: str, check_finite: bool) -> Any:
        """For the torch device path: ``f(count, pos, channel)`` raising the same LabelError, or None."""
        if not check_finite:
            return None

        def fail(count: int, pos: tuple[int, ...], value: float, channel: int) -> None:
            raise LabelError(_finite.message(count, pos, value, channel, self.universal_names, reader))

        return fail

    def to_test_labels(self, x: Any, test_dataset: str, *, axis: int = 0, from_logits: bool = False,
                       out: np.ndarray | None = None, out_of_range: str = "raise", check_finite: bool = True) -> Any:
        """Test-dataset labels from universal labels (integer input) or universal scores (float input).

        Integer input: universal ids -> test ids (unmapped universal classes and 255 give 255).
        Float input: argmax over test classes of the summed scores along ``axis``; with
        ``from_logits=True`` only the channels feeding some test class are read. NaN or
        infinite scores in those channels raise LabelError unless ``check_finite=False`` (the
        check costs one sum over the channels read). Bool input is refused.
        """
        return self._labels_or_scores(x, test_dataset, f"from_universal/{test_dataset}", self.test_lut(test_dataset),
                                      self.groups(test_dataset), axis, from_logits, out, out_of_range, check_finite)

    def _labels_or_scores(self, x: Any, dataset: str, key: str, lut: np.ndarray, groups: Any, axis: int,
                          from_logits: bool, out: Any, out_of_range: str, check_finite: bool) -> Any:
        if _on_device(x) and x.dtype.is_floating_point and key.startswith("from_universal/"):
            from . import torch_support as ts

            _no_out_with_tensor(out, x)
            ax = self._check_tensor(x, axis)
            return ts.labels_from_scores(x, self.matrix(dataset), ax, from_logits, self._device_cache,
                                         f"matrix/{dataset}", self._finite_checker(dataset, check_finite))
        if _on_device(x) and not (x.dtype.is_floating_point or x.dtype.is_complex):
            return self._apply(x, lut, UNIVERSAL, out, out_of_range, key)
        arr, like = _to_numpy(x)
        if arr.dtype.kind in "iub":
            return self._apply(arr if like is None else x, lut, UNIVERSAL, out, out_of_range, key)
        _no_out_with_tensor(out, like)
        arr, ax = self._check_scores(arr, axis)
        flag: list[bool] | None = [] if check_finite else None
        with np.errstate(invalid="ignore", over="ignore"):
            res = _k.labels_from_scores(arr, groups, axis=ax, from_logits=from_logits, out=out, nonfinite=flag)
        if flag:  # a group score was non-finite: find the bad input values (or an overflowed sum: none)
            _finite.check_finite(arr, ax, dataset, logits=from_logits, names=self.universal_names,
                                 channels=self._read_channels(dataset, groups), scan=True)
        return _back(res, like)

    # ----- back-maps, evaluation, fingerprint ----------------------------------------------

    def back_map(self, dataset: str) -> np.ndarray:
        """Read-only lookup table universal id -> ``dataset`` id, for a dataset with a mapping to universal.

        Where several ``dataset`` classes merge into one universal class the lowest id stands
        for them (see :meth:`back_map_info`); universal classes ``dataset`` lacks give its ignore id.
        """
        return self._table(f"back_map/{dataset}", "mapping to universal, hence no back-map", dataset)

    def back_map_info(self, dataset: str) -> dict[str, Any]:
        """``{"lossless": bool, "merged": {universal name: [dataset names]}, "dropped": [dataset names]}``.

        Lossless means every ``dataset`` class survives dataset -> universal -> dataset: none is
        merged with another and none is ignored on the way in (``dropped``).
        """
        self.back_map(dataset)
        e = self._c.taxonomy["tables"][f"back_map/{dataset}"]
        return {"lossless": bool(e["lossless"]), "merged": {k: list(v) for k, v in e["merged"].items()},
                "dropped": list(e["dropped"])}

    def _label_lut(self, dataset: str) -> np.ndarray:
        """universal id -> ``dataset`` id: the test mapping of a test dataset, else the back-map."""
        self._space(dataset)
        key = f"from_universal/{dataset}"
        return self._tables[key] if key in self._tables else self.back_map(dataset)

    def _score_groups(self, dataset: str) -> tuple[np.ndarray, ...]:
        if f"matrix/{dataset}" in self._tables:
            return self.groups(dataset)
        g = self._groups.get(dataset)
        if g is None:
            back = self.back_map(dataset)[: len(self.universal_names)]
            g = tuple(np.flatnonzero(back == c).astype(np.intp) for c in range(len(self.names(dataset))))
            self._groups[dataset] = g
        return g

    def from_universal(self, x: Any, dataset: str, *, axis: int = 0, from_logits: bool = False,
                       out: np.ndarray | None = None, out_of_range: str = "raise", check_finite: bool = True) -> Any:
        """Labels of any dataset mapped to or from universal, from universal labels or scores.

        Test datasets use their mapping from universal; datasets with a mapping to universal
        (e.g. ``ade20k-150``, ``coco-panoptic-133``) use their back-map, so a universal model
        can emit their labels. Integer input: universal ids -> ``dataset`` ids (255 where
        ``dataset`` has no class). Float input: argmax over ``dataset`` classes of the summed
        universal scores along ``axis`` (``from_logits=True`` for logits); NaN or infinite scores
        in the channels read raise LabelError unless ``check_finite=False``. Bool input is refused.
        """
        lut = self._label_lut(dataset)
        key = f"from_universal/{dataset}" if f"from_universal/{dataset}" in self._tables else f"back_map/{dataset}"
        return self._labels_or_scores(x, dataset, key, lut, self._score_groups(dataset), axis, from_logits, out,
                                      out_of_range, check_finite)

    def evaluator(self, dataset: str, convention: str = "standard") -> Evaluator:
        """A streaming evaluator (confusion matrix, IoU, accuracies) in ``dataset``'s own classes.

        ``convention``: ``"standard"`` (IoU NaN only where TP + FP + FN = 0) or ``"mseg"``
        (mseg-semantic's I / (U + 1e-10), averaged over all classes); see :mod:`unitax.evaluate`.

        ``ev.update(pred, gt, axis=0, from_logits=False, pred_space=None)``: float predictions
        are universal scores (class axis ``axis``), integer ones ``dataset`` labels; pass
        ``pred_space="universal"`` for universal labels or ``"dataset"`` for scores over
        ``dataset``'s classes. ``gt`` holds ``dataset`` labels (its ignore value skipped).
        """
        check_convention(convention)
        names = self.names(dataset)
        if dataset != UNIVERSAL:
            self._label_lut(dataset)  # fail now, not at the first batch

        def convert(pred: Any, *, axis: int = 0, from_logits: bool = False, pred_space: str | None = None,
                    check_finite: bool = True) -> Any:
            arr, _ = _to_numpy(pred)
            floating = np.issubdtype(arr.dtype, np.floating)
            space = pred_space or ("universal" if floating else "dataset")
            if space not in ("universal", "dataset"):
                raise ValueError(f"pred_space must be 'universal' or 'dataset', got {pred_space!r}")
            if space == "universal" and dataset != UNIVERSAL:
                try:
                    return self.from_universal(arr, dataset, axis=axis, from_logits=from_logits,
                                               check_finite=check_finite)
                except LabelError as e:
                    if floating:
                        raise
                    raise LabelError(f"{e}; these integer predictions are read as universal labels (pred_space="
                                     f"'universal'); if they hold {dataset} ids (0..{len(names) - 1}), pass "
                                     "pred_space='dataset' (unitax evaluate --pred-space dataset)") from None
            if not floating:
                return arr
            if arr.ndim == 0 or not -arr.ndim <= axis < arr.ndim or arr.shape[axis] != len(names):
                raise LabelError(f"scores need {len(names)} channels ({dataset}) on axis {axis}, got shape {arr.shape}")
            if check_finite:
                _finite.check_finite(arr, axis % arr.ndim, dataset, logits=from_logits, names=names, space=dataset)
            return np.argmax(arr, axis=axis).astype(np.uint8 if len(names) < 255 else np.uint16)

        return Evaluator(names, self.ignore_index(dataset), convert, dataset=dataset, convention=convention)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 (hex) of the universal ids and names: store it with a checkpoint, verify with
        :meth:`check_fingerprint` (:func:`unitax.names_fingerprint` computes it from names)."""
        mine = names_fingerprint(self.universal_names)
        compiled = self._c.taxonomy.get("fingerprint", mine)
        if compiled != mine:
            raise IntegrityError(f"{self.path}: the compiled fingerprint does not match the universal class names")
        return mine

    def check_fingerprint(self, fingerprint: str, names: Any = None) -> None:
        """Raise :class:`FingerprintError` unless ``fingerprint`` is this taxonomy's.

        Args:
            fingerprint: the value a training script stored (``tax.fingerprint``).
            names: optionally the checkpoint's universal class names, to say what moved.
        """
        if fingerprint == self.fingerprint:
            return
        msg = (f"checkpoint fingerprint {str(fingerprint)[:12]}... differs from this taxonomy's "
               f"{self.fingerprint[:12]}...")
        if names is not None:
            old, new = list(names), list(self.universal_names)
            moved = sum(1 for i, n in enumerate(old) if n in new and new.index(n) != i)
            gone = sorted(set(old) - set(new))
            added = sorted(set(new) - set(old))
            msg += (f": {moved} class(es) moved, "
                    f"{len(gone)} gone ({', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''}), "
                    f"{len(added)} new ({', '.join(added[:5])}{' ...' if len(added) > 5 else ''})")
        msg += "; `unitax diff` shows the changes, unitax.reorder_rows() moves a final layer's rows to the new order"
        raise FingerprintError(msg)


class FingerprintError(UnitaxError):
    """A checkpoint's taxonomy fingerprint differs from the loaded taxonomy's (class ids changed meaning)."""


def names_fingerprint(names: Any) -> str:
    """sha256 (hex) of one line ``<id> TAB <name>`` per class of ``names`` in id order (``tax.fingerprint``)."""
    text = "".join(f"{i}\t{n}\n" for i, n in enumerate(names))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reorder_rows(weights: Any, old_names: Any, new_names: Any, *, axis: int = 0,
                 renamed: dict[str, str] | None = None, missing: str = "raise") -> Any:
    """Reorder a checkpoint's per-class rows (final layer weights or biases) to a new class order.

    Args:
        weights: array (or torch tensor) with one entry per old class along ``axis``.
        old_names: the class names the checkpoint was trained with, in its order.
        new_names: the class names of the new taxonomy, in its order.
        renamed: old name -> new name for classes that were renamed (``unitax diff`` lists them).
        missing: what a new class without an old row gets: ``"raise"`` (default), ``"zeros"``,
            or ``"mean"`` (the mean of the old rows).
    Returns:
        array (tensor on the same device) with ``len(new_names)`` entries along ``axis``.
    """
    arr, like = _to_numpy(weights)
    old, new = list(old_names), list(new_names)
    ax = axis if axis >= 0 else arr.ndim + axis
    if not 0 <= ax < arr.ndim or arr.shape[ax] != len(old):
        raise LabelError(f"weights have shape {arr.shape}; expected {len(old)} old classes on axis {axis}")
    if missing not in ("raise", "zeros", "mean"):
        raise ValueError(f"missing must be 'raise', 'zeros' or 'mean', got {missing!r}")
    renamed = dict(renamed or {})
    where = {renamed.get(n, n): i for i, n in enumerate(old)}
    if len(where) != len(old):
        raise LabelError("old class names (after renaming) are not unique")
    lacking = [n for n in new if n not in where]
    if lacking and missing == "raise":
        raise LabelError(f"{len(lacking)} new class(es) have no old row: {', '.join(lacking[:10])}"
                         f"{' ...' if len(lacking) > 10 else ''}; pass missing='zeros' or 'mean', or renamed=")
    moved = np.moveaxis(arr, ax, 0)
    result = np.zeros((len(new),) + moved.shape[1:], dtype=arr.dtype)
    fill = moved.mean(axis=0) if missing == "mean" else None
    for j, n in enumerate(new):
        if n in where:
            result[j] = moved[where[n]]
        elif fill is not None:
            result[j] = fill
    return _back(np.moveaxis(result, 0, ax), like)


class StaleBuildWarning(UserWarning):
    """The bundled build of a development checkout does not match the specs beside it."""


#: seconds a spec may be newer than the manifest before its content is checked (a fresh clone
#: writes generated/ just before taxonomy/)
STALE_SLACK_S = 2.0
#: the file kinds under taxonomy/ whose times are watched (specs, schemas, segment lists)
_SPEC_SUFFIXES = (".yaml", ".yml", ".json", ".tsv")
_warned: set[str] = set()


def _schema_dir(specs: Path) -> Path | None:
    """Where the schemas hashed as ``schemas/<name>`` live: the spec folder's own, else the
    compiler's (found without importing it); None where neither is there."""
    own = specs / "schemas"
    if (own / "mapping.schema.json").is_file():
        return own
    from importlib.util import find_spec

    try:
        spec = find_spec("unitax.compiler")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "schemas"


def _read_input(p: Path) -> bytes | None:
    """The bytes of the regular file ``p``, None where it is missing or not one (never blocks)."""
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _specs_differ(specs: Path, manifest: dict[str, Any], built: float) -> str | None:
    """Why the specs beside a build are not those it was compiled from (by content), or None when
    they are; None also where the manifest does not say what it was compiled from."""
    listed = manifest.get("specs_files")
    digest = manifest.get("specs_sha256")
    if not (isinstance(listed, list) and all(isinstance(r, str) for r in listed) and isinstance(digest, str)):
        return "changed"  # a build that lists no inputs: times are all there is to go by
    schemas = _schema_dir(specs)
    blobs = []
    for rel in listed:
        p = schemas / rel.split("/", 1)[1] if rel.startswith("schemas/") and schemas is not None else specs / rel
        raw = _read_input(p)
        if raw is None:
            return f"{p} is gone"
        blobs.append((rel, raw))
    if specs_digest(blobs) != digest:
        return "changed"
    known = set(listed)
    for folder, _, files in os.walk(specs):
        for f in files:
            p = os.path.join(folder, f)
            rel = os.path.relpath(p, specs).replace(os.sep, "/")
            if f.endswith(_SPEC_SUFFIXES) and rel not in known and os.stat(p).st_mtime > built + STALE_SLACK_S:
                return f"{p} is new"
    return None


def warn_if_stale(build: Path, manifest: dict[str, Any] | None = None) -> None:
    """Warn (:class:`StaleBuildWarning`, once per build folder) when ``build`` is the ``generated/``
    of a development checkout (a ``taxonomy/`` folder beside it) and the specs there are not
    those it was compiled from.

    Times first: where no spec file (nor schema) was modified after the manifest was written,
    nothing is read. Otherwise content decides: the files the manifest lists (``specs_files``)
    are hashed again and compared with its ``specs_sha256``, and a spec file it does not list
    counts as a change; so a ``touch``, a ``git checkout`` or an edit undone does not warn (and
    `unitax compile` of unchanged specs refreshes the manifest's time, so that later loads read
    nothing again). Never in an installed wheel, which ships no specs;
    ``UNITAX_NO_STALE_WARNING=1`` silences it.
    """
    import warnings

    key = str(build)
    if key in _warned or os.environ.get("UNITAX_NO_STALE_WARNING") or build.name != "generated":
        return
    specs = build.parent / "taxonomy"
    try:
        if not (specs / "universal.yaml").is_file():
            return
        built = (build / "manifest.json").stat().st_mtime
        newest, name = 0.0, ""
        schemas = _schema_dir(specs)
        watched = [(str(schemas), [f for f in os.listdir(schemas) if f.endswith(".json")])] if schemas else []
        for folder, files in [(f, fs) for f, _, fs in os.walk(specs)] + watched:
            for f in files:
                if f.endswith(_SPEC_SUFFIXES):
                    t = os.stat(os.path.join(folder, f)).st_mtime
                    if t > newest:
                        newest, name = t, os.path.join(folder, f)
    except OSError:
        return
    if newest <= built + STALE_SLACK_S:
        return
    if manifest is None:
        try:
            manifest = json.loads(_read_input(build / "manifest.json") or b"{}")
        except (ValueError, RecursionError):
            manifest = {}
    try:
        why = _specs_differ(specs, manifest if isinstance(manifest, dict) else {}, built)
    except OSError:
        why = "changed"
    if why is None:
        return
    _warned.add(key)
    what = f"{name} was modified after {build} was compiled" if why == "changed" else \
        f"{why} since {build} was compiled"
    warnings.warn(f"unitax: {what} and the specs differ from those it was compiled from: the bundled tables may "
                  "not match the specs; run `make compile` (`unitax check` says which files differ)",
                  StaleBuildWarning, stacklevel=3)


def load(path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """Load a compiled taxonomy (default: the bundled MSeg build), verifying every file.

    The bundled build of a development checkout warns (:class:`StaleBuildWarning`, once) when the
    specs beside it are not those it was compiled from (see :func:`warn_if_stale`)."""
    compiled = read_compiled(path)
    if path is None:
        warn_if_stale(compiled.path, compiled.manifest)
    return Taxonomy(compiled)
