"""Runtime: dataset classes as unions of universal classes (numpy only).

A training dataset's ``class_sets`` matrix (n_dataset_classes x n_universal, bool) says which
universal classes each dataset class covers. For a one-to-one mapping every mapped row holds one
True (the lookup table's target); for a union mapping (``kind: union`` in the specs) a row may
hold several: a pixel of that class is one of them, unknown which. Its lookup table holds the
class for a set of one and ignore for larger sets. Rows of ignored and void classes are empty.

Training: ``unitax.torch.union_nll`` (-log of the summed probability of the set). Scoring:
:func:`union_accuracy` (a pixel is right when the predicted class lies in its set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .errors import LabelError
from .finite import check_finite as check_finite_scores


class PartialTargets(NamedTuple):
    """The compact form of per-pixel target sets: ``sets[index]`` is the mask, never materialised.

    ``index``: the label's shape, int32, the row of ``sets`` for each pixel (-1: ignored, no
    target); ``sets``: the read-only (n_dataset_classes, n_universal) bool matrix.
    """

    # the public field name deliberately shadows tuple.index (the label's row index is what users read)
    index: np.ndarray  # type: ignore[assignment]
    sets: np.ndarray

    def dense(self) -> np.ndarray:
        """The (…, n_universal) bool mask (all False where ignored)."""
        out = np.zeros(self.index.shape + (self.sets.shape[1],), dtype=np.bool_)
        ok = self.index >= 0
        out[ok] = self.sets[self.index[ok]]
        return out


def set_index(label: np.ndarray, sets: np.ndarray, ignore: int, space: str, out_of_range: str = "raise",
              ignore_index: int | None = None) -> np.ndarray:
    """int32 row of ``sets`` per pixel; -1 for ignore (``space``'s ignore id, and ``ignore_index``
    where given, e.g. -100 as torch's ``cross_entropy``), for classes with an empty set and (with
    ``out_of_range='ignore'``) for values that are not ids of ``space``."""
    if out_of_range not in ("raise", "ignore"):
        raise ValueError(f"out_of_range must be 'raise' or 'ignore', got {out_of_range!r}")
    if label.dtype.kind not in "iu":
        raise LabelError(f"{space} labels must be an integer array, got dtype {label.dtype}")
    n = sets.shape[0]
    lab = label.astype(np.int64, copy=False)
    skip = lab == ignore
    if ignore_index is not None and ignore_index != ignore:
        skip |= lab == ignore_index
    bad = ((lab < 0) | (lab >= n)) & ~skip
    if bad.any():
        if out_of_range != "ignore":
            vals = np.unique(lab[bad])
            shown = ", ".join(str(v) for v in vals[:20]) + (" ..." if vals.size > 20 else "")
            also = f", {ignore_index}" if ignore_index is not None and ignore_index != ignore else ""
            raise LabelError(f"label values outside {space}'s ids 0..{n - 1} (and ignore {ignore}{also}): {shown}; "
                             "pass out_of_range='ignore' to send them to ignore")
    row_of = np.where(sets.any(axis=1), np.arange(n), -1).astype(np.int32)
    out = np.full(lab.shape, -1, dtype=np.int32)
    ok = ~bad & ~skip
    out[ok] = row_of[lab[ok]]
    return out


def partial_targets(label: np.ndarray, sets: np.ndarray, ignore: int, space: str, *, compact: bool = False,
                    out_of_range: str = "raise", ignore_index: int | None = None) -> Any:
    idx = set_index(label, sets, ignore, space, out_of_range, ignore_index)
    pt = PartialTargets(idx, sets)
    return pt if compact else pt.dense()


@dataclass(frozen=True)
class UnionScore:
    """Pixel counts of a union-labelled evaluation, per dataset class (add two to merge batches).

    ``correct[k]``: pixels of dataset class ``k`` whose predicted universal class lies in k's set;
    ``total[k]``: its non-ignored pixels.
    """

    names: tuple[str, ...]
    correct: np.ndarray
    total: np.ndarray

    def __add__(self, other: UnionScore) -> UnionScore:
        if self.names != other.names:
            raise LabelError("cannot add union scores of different datasets")
        return UnionScore(self.names, self.correct + other.correct, self.total + other.total)

    @property
    def accuracy(self) -> float:
        """Pixel accuracy over all non-ignored pixels (nan when there are none)."""
        t = int(self.total.sum())
        return float(self.correct.sum()) / t if t else float("nan")

    @property
    def class_accuracy(self) -> np.ndarray:
        """Per dataset class accuracy (nan for classes without pixels)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.correct / np.where(self.total > 0, self.total, np.nan)

    @property
    def mean_class_accuracy(self) -> float:
        acc = self.class_accuracy
        return float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")


def union_accuracy(pred: np.ndarray, label: np.ndarray, sets: np.ndarray, ignore: int, space: str,
                   names: tuple[str, ...], *, axis: int | None = None, out_of_range: str = "raise",
                   ignore_index: int | None = None, check_finite: bool = True,
                   universal_names: Sequence[str] | None = None) -> UnionScore:
    """Score universal predictions against union labels.

    ``pred``: universal ids of label's shape, or (with ``axis``) scores/logits whose argmax along
    ``axis`` is the prediction. A pixel counts when its label has a non-empty set (``ignore`` and
    ``ignore_index`` pixels do not); it is correct when the predicted class lies in the set.
    Scores holding NaN or +inf (which an argmax would silently pick) raise LabelError unless
    ``check_finite=False``; -inf (a masked class) is allowed (:mod:`unitax.finite`).
    """
    if axis is not None:
        if pred.ndim == 0 or not -pred.ndim <= axis < pred.ndim:
            raise LabelError(f"axis {axis} out of range for {pred.ndim}-d scores")
        if pred.shape[axis] != sets.shape[1]:
            raise LabelError(f"expected {sets.shape[1]} universal channels on axis {axis}, got {pred.shape[axis]}")
        if check_finite and pred.dtype.kind in "fc":
            check_finite_scores(pred, axis % pred.ndim, space, logits=True, names=universal_names)
        pred = np.argmax(pred, axis=axis)
    if pred.shape != label.shape:
        raise LabelError(f"predictions of shape {pred.shape} do not match labels of shape {label.shape}")
    if pred.dtype.kind not in "iu":
        raise LabelError(f"universal predictions must be integer ids (or pass axis= for scores), got {pred.dtype}")
    idx = set_index(label, sets, ignore, space, out_of_range, ignore_index)
    ok = idx >= 0
    rows, p = idx[ok], pred[ok].astype(np.int64)
    inside = (p >= 0) & (p < sets.shape[1])
    hit = np.zeros(rows.shape, dtype=np.bool_)
    hit[inside] = sets[rows[inside], p[inside]]
    k = sets.shape[0]
    total = np.bincount(rows, minlength=k).astype(np.int64)
    correct = np.bincount(rows[hit], minlength=k).astype(np.int64)
    return UnionScore(tuple(names), correct, total)
