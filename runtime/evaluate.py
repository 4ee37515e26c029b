"""Runtime: score predictions in one dataset's own classes with a streaming confusion matrix.

Numpy and the standard library only. Get an evaluator with ``tax.evaluator(dataset)`` (it turns
universal scores or labels into the dataset's classes first) or build one directly from class
names with :class:`Evaluator`, then feed it batch by batch::

    ev = tax.evaluator("camvid-11")
    for probs, gt in batches:           # probs: (194, H, W) universal probabilities
        ev.update(probs, gt, axis=0)
    print(ev.result().table())

Always:

* ground-truth pixels equal to the dataset's ignore value are left out entirely;
* a prediction equal to the ignore value (a universal class the dataset has no class for)
  counts as a miss of the ground-truth class and as a hit of no class;
* counts are int64, so billions of pixels accumulate exactly.

How a class that is missing from the ground truth, the prediction or both is scored depends on
the *convention* (``Evaluator(..., convention=...)``, ``tax.evaluator(ds, convention=...)``,
``unitax evaluate --convention``); every result names the one that produced it:

``"standard"`` (the default; the Cityscapes scripts' and mmsegmentation's rule)
    IoU = TP / (TP + FP + FN), NaN only where TP + FP + FN = 0 (the class is in neither the
    ground truth nor the prediction); mIoU is the mean over the other classes, so a class that
    is predicted but absent from the ground truth counts with IoU 0. Class accuracy (recall) =
    TP / (TP + FN), NaN where the class is absent from the ground truth (its false positives
    have no recall to lower), and mean class accuracy is the mean over ground-truth classes.
    fwIoU weighs each IoU by its class's ground-truth share, so absent classes weigh 0 and the
    question does not arise. Pixel accuracy = TP / valid pixels.
``"mseg"`` (mseg-semantic's ``SegmentationAverageMeter``)
    IoU = I / (U + 1e-10) and accuracy = I / (T + 1e-10) for every class, and mIoU and mean
    accuracy average over *all* classes of the dataset, so a class absent from both the ground
    truth and the prediction counts as 0; pixel accuracy = I / (T + 1e-10) summed. MSeg reports
    no fwIoU; the one given is the ground-truth-weighted mean of these IoUs (NaN without pixels).

Speed: for uint8 labels each chunk of pixels becomes one uint16 ``gt << 8 | pred`` and one
``np.bincount`` over 65536 bins; the same counts also reveal out-of-range values, so
validation costs nothing extra. Other dtypes use ``gt * (n + 1) + pred`` over valid pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LabelError

#: pixels per chunk (bounds the temporaries: ~8 bytes per pixel while counting)
_CHUNK = 1 << 21


def _ravel(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1) if x.flags.c_contiguous else np.ravel(x, order="K")


def _shown(values: np.ndarray) -> str:
    return ", ".join(str(int(v)) for v in values[:20]) + (" ..." if values.size > 20 else "")


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluation; arrays are per class, in class-id order.

    Attributes:
        names: class names.
        confusion: (n, n) int64, rows ground truth, columns prediction.
        unpredicted: (n,) int64, pixels of each ground-truth class predicted as ignore.
        present: (n,) bool, whether the class occurs in the ground truth.
        iou: (n,) float64 intersection over union (NaN per the convention, module docstring).
        accuracy: (n,) float64 recall (hits / ground-truth pixels), NaN per the convention.
        miou: mean IoU (over the non-NaN classes; NaN if none).
        fwiou: frequency-weighted IoU (each class weighted by its ground-truth share).
        pixel_accuracy: hits / valid ground-truth pixels.
        mean_accuracy: mean of ``accuracy`` over the non-NaN classes.
        pixels: valid (non-ignored) ground-truth pixels counted.
        convention: ``"standard"`` or ``"mseg"``: the rule that produced these numbers.
    """

    names: tuple[str, ...]
    confusion: np.ndarray
    unpredicted: np.ndarray
    present: np.ndarray
    iou: np.ndarray
    accuracy: np.ndarray
    miou: float
    fwiou: float
    pixel_accuracy: float
    mean_accuracy: float
    pixels: int
    convention: str = "standard"

    @property
    def gt_pixels(self) -> np.ndarray:
        """(n,) int64 ground-truth pixels per class."""
        total: np.ndarray = self.confusion.sum(axis=1) + self.unpredicted
        return total

    @property
    def pred_pixels(self) -> np.ndarray:
        """(n,) int64 pixels predicted as each class (over valid ground truth)."""
        predicted: np.ndarray = self.confusion.sum(axis=0)
        return predicted

    @property
    def absent(self) -> tuple[str, ...]:
        """Names of the classes that never occur in the ground truth."""
        return tuple(n for n, p in zip(self.names, self.present, strict=True) if not p)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (NaN written as None, absent classes flagged)."""

        def num(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        gt, pred = self.gt_pixels, self.pred_pixels
        return {
            "convention": self.convention,
            "miou": num(self.miou),
            "fwiou": num(self.fwiou),
            "pixel_accuracy": num(self.pixel_accuracy),
            "mean_accuracy": num(self.mean_accuracy),
            "pixels": int(self.pixels),
            "present_classes": int(self.present.sum()),
            "classes": [
                {"id": i, "name": n, "present": bool(self.present[i]), "iou": num(self.iou[i]),
                 "accuracy": num(self.accuracy[i]), "gt_pixels": int(gt[i]), "pred_pixels": int(pred[i])}
                for i, n in enumerate(self.names)
            ],
        }

    def table(self) -> str:
        """A plain-text report: one line per class, then the summary metrics."""

        def pct(x: float) -> str:
            return "n/a" if math.isnan(x) else f"{100 * x:6.2f}"

        width = max([len(n) for n in self.names] + [5])
        gt = self.gt_pixels
        lines = [f"{'id':>4}  {'class':<{width}}  {'IoU':>6}  {'acc':>6}  {'gt pixels':>12}"]
        for i, n in enumerate(self.names):
            lines.append(f"{i:>4}  {n:<{width}}  {pct(self.iou[i]):>6}  {pct(self.accuracy[i]):>6}  {int(gt[i]):>12}")
        n_abs = len(self.absent)
        lines.append(f"mIoU {pct(self.miou).strip()}  fwIoU {pct(self.fwiou).strip()}  "
                     f"pixel acc {pct(self.pixel_accuracy).strip()}  mean acc {pct(self.mean_accuracy).strip()}  "
                     f"({int(self.present.sum())} present, {n_abs} absent class(es), {self.pixels} pixels)")
        lines.append(f"convention: {self.convention} ({CONVENTIONS[self.convention]})")
        return "\n".join(lines) + "\n"


#: the scoring conventions (module docstring), each with the line the reports print
CONVENTIONS = {
    "standard": "IoU NaN only where TP+FP+FN = 0, accuracy NaN where absent from ground truth; means skip NaN",
    "mseg": "mseg-semantic: I/(U+1e-10), A/(T+1e-10); means over all classes, absent ones count 0",
}


def check_convention(convention: str) -> str:
    """``convention`` if it is one of :data:`CONVENTIONS`, else ValueError naming the valid ones."""
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise ValueError(f"unknown evaluation convention {convention!r}; use one of: {', '.join(CONVENTIONS)}")
    return convention


def metrics(confusion: np.ndarray, unpredicted: np.ndarray, names: Sequence[str],
            convention: str = "standard") -> EvalResult:
    """Every metric from a confusion matrix (rows ground truth) and the per-class unpredicted
    counts, by ``convention`` (``"standard"`` or ``"mseg"``, module docstring)."""
    check_convention(convention)
    conf = np.asarray(confusion, dtype=np.int64)
    unp = np.asarray(unpredicted, dtype=np.int64)
    tp = np.diagonal(conf).astype(np.int64)
    gt = conf.sum(axis=1) + unp
    pred = conf.sum(axis=0)
    union = gt + pred - tp
    present = gt > 0
    total = int(gt.sum())
    nan = float("nan")
    if convention == "mseg":
        iou = tp / (union + 1e-10)
        acc = tp / (gt + 1e-10)
        miou, macc = float(np.mean(iou)), float(np.mean(acc))
        pacc = float(tp.sum() / (total + 1e-10))
        fwiou = float(np.sum(gt * iou) / total) if total else nan
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
            acc = np.where(present, tp / np.where(present, gt, 1), np.nan)
        scored = union > 0
        miou = float(np.mean(iou[scored])) if scored.any() else nan
        if present.any():
            macc = float(np.mean(acc[present]))
            fwiou = float(np.sum(gt[present] / total * iou[present]))
            pacc = float(tp.sum() / total)
        else:
            macc = fwiou = pacc = nan
    for a in (conf, unp, present, iou, acc):
        a.flags.writeable = False
    return EvalResult(tuple(names), conf, unp, present, iou, acc, miou, fwiou, pacc, macc, total, convention)


class Evaluator:
    """Streaming confusion-matrix accumulator for one label space.

    Args:
        names: the label space's class names in id order.
        ignore_index: ground-truth (and prediction) value that means "no class" (255, or
            65535 for uint16 label spaces).
        convert: optional ``convert(pred, **kwargs) -> labels`` applied to every prediction
            first (``tax.evaluator`` passes one that turns universal scores or labels into
            this label space's ids).
        convention: how classes missing from the ground truth or the prediction are scored:
            ``"standard"`` (default) or ``"mseg"`` (module docstring); ValueError otherwise.
    """

    def __init__(self, names: Sequence[str], ignore_index: int = 255,
                 convert: Callable[..., np.ndarray] | None = None, *, dataset: str | None = None,
                 convention: str = "standard"):
        self.convention = check_convention(convention)
        self.names = tuple(names)
        self.n = len(self.names)
        if self.n == 0:
            raise ValueError("an evaluator needs at least one class")
        self.ignore_index = int(ignore_index)
        if 0 <= self.ignore_index < self.n:
            raise ValueError(f"ignore index {ignore_index} is a class id (0..{self.n - 1})")
        self.dataset = dataset
        self._convert = convert
        self._conf = np.zeros((self.n, self.n + 1), dtype=np.int64)  # last column: predicted ignore

    def __repr__(self) -> str:
        what = self.dataset or f"{self.n} classes"
        return f"<unitax.Evaluator {what}: {int(self._conf.sum())} pixels>"

    def reset(self) -> None:
        """Forget every count."""
        self._conf[:] = 0

    @property
    def confusion(self) -> np.ndarray:
        """A copy of the (n, n) int64 confusion matrix so far (rows ground truth)."""
        return self._conf[:, : self.n].copy()

    def merge(self, other: Evaluator) -> Evaluator:
        """Add another evaluator's counts (e.g. from another worker) to this one; returns self."""
        if other.names != self.names or other.ignore_index != self.ignore_index:
            raise ValueError("can only merge evaluators of the same label space")
        self._conf += other._conf
        return self

    def add_counts(self, confusion: np.ndarray, unpredicted: np.ndarray | None = None) -> None:
        """Add a precomputed (n, n) confusion matrix (and per-class unpredicted counts)."""
        conf = np.asarray(confusion)
        if conf.shape != (self.n, self.n) or conf.dtype.kind not in "iu" or (conf.size and conf.min() < 0):
            raise ValueError(f"confusion must be a non-negative integer ({self.n}, {self.n}) array")
        unp = np.zeros(self.n, np.int64) if unpredicted is None else np.asarray(unpredicted)
        if unp.shape != (self.n,) or unp.dtype.kind not in "iu" or (unp.size and unp.min() < 0):
            raise ValueError(f"unpredicted must be a non-negative integer ({self.n},) array")
        self._conf[:, : self.n] += conf.astype(np.int64)
        self._conf[:, self.n] += unp.astype(np.int64)

    def update(self, pred: Any, gt: Any, **kwargs: Any) -> None:
        """Count one batch.

        Args:
            pred: predictions; passed through ``convert`` (with ``kwargs``) when the evaluator
                has one, else integer labels of this label space (ignore value allowed).
            gt: integer ground truth of this label space, same shape as the (converted)
                predictions; pixels equal to the ignore value are skipped.
            kwargs: passed to ``convert`` (``axis``, ``from_logits``, ``pred_space``).
        Raises:
            LabelError: shapes differ, a dtype is not integer, or a value is neither a class
                id nor the ignore value (nothing of the batch is counted then).
        """
        if self._convert is not None:
            pred = self._convert(pred, **kwargs)
        elif kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)} (this evaluator takes labels only)")
        p = _as_numpy(pred)
        g = _as_numpy(gt)
        for what, a in (("predictions", p), ("ground truth", g)):
            if a.dtype.kind == "b":
                raise LabelError(f"{what} must be integer labels, got dtype bool (a mask, not class ids; cast to an "
                                 "integer dtype if that is meant)")
            if a.dtype.kind not in "iu":
                raise LabelError(f"{what} must be integer labels, got dtype {a.dtype}")
        if p.shape != g.shape:
            raise LabelError(f"predictions have shape {p.shape}, ground truth {g.shape}")
        if g.size == 0:
            return
        try:
            if p.dtype == np.uint8 and g.dtype == np.uint8 and self.ignore_index == 255:
                counts = self._count_u8(_ravel(p), _ravel(g))
            else:
                counts = self._count_any(_ravel(p), _ravel(g))
        except LabelError as e:
            if str(e).startswith("predicted") and self._convert is not None and self.dataset \
                    and kwargs.get("pred_space") in (None, "dataset") and _as_numpy(pred).dtype.kind in "iu":
                raise LabelError(f"{e}; these integer predictions are read as {self.dataset} labels (pred_space="
                                 f"'dataset', the default for integers); if they hold universal ids, pass "
                                 "pred_space='universal' (unitax evaluate --pred-space universal)") from None
            raise
        self._conf += counts

    def _count_u8(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """(n, n+1) counts of uint8 labels: one uint16 key per pixel, one bincount per chunk."""
        hist = np.zeros(65536, dtype=np.int64)
        key = np.empty(min(p.size, _CHUNK), dtype=np.uint16)
        for s in range(0, p.size, _CHUNK):
            e = min(s + _CHUNK, p.size)
            k = key[: e - s]
            np.left_shift(g[s:e], 8, out=k, dtype=np.uint16)
            np.bitwise_or(k, p[s:e], out=k)
            hist += np.bincount(k, minlength=65536)
        h = hist.reshape(256, 256)  # [gt, pred]
        n = self.n
        bad_gt = np.flatnonzero(h[n:255].any(axis=1)) + n
        if bad_gt.size:
            raise LabelError(f"ground-truth values outside the class ids 0..{n - 1} (and ignore 255): {_shown(bad_gt)}")
        valid = h[:n]
        bad_pred = np.flatnonzero(valid[:, n:255].any(axis=0)) + n
        if bad_pred.size:
            raise LabelError(f"predicted values outside the class ids 0..{n - 1} (and ignore 255): {_shown(bad_pred)}")
        return np.concatenate([valid[:, :n], valid[:, 255:256]], axis=1)

    def _count_any(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """(n, n+1) counts for any integer dtypes: ``gt * (n + 1) + pred`` over valid pixels.

        Like the uint8 path, predictions are only read where the ground truth is valid.
        """
        n, ign = self.n, self.ignore_index
        hist = np.zeros(n * (n + 1), dtype=np.int64)
        for s in range(0, p.size, _CHUNK):
            e = min(s + _CHUNK, p.size)
            gc = g[s:e]
            keep = gc != ign
            gi = gc[keep].astype(np.int64)
            pi = p[s:e][keep].astype(np.int64)
            for what, a, bad in (("ground-truth", gi, (gi < 0) | (gi >= n)),
                                 ("predicted", pi, ((pi < 0) | (pi >= n)) & (pi != ign))):
                if bad.any():
                    raise LabelError(f"{what} values outside the class ids 0..{n - 1} (and ignore {ign}): "
                                     f"{_shown(np.unique(a[bad]))}")
            pi[pi == ign] = n
            hist += np.bincount(gi * (n + 1) + pi, minlength=n * (n + 1))
        return hist.reshape(n, n + 1)

    def result(self, convention: str | None = None) -> EvalResult:
        """The metrics of everything counted so far, by ``convention`` (default: the evaluator's)."""
        return metrics(self._conf[:, : self.n].copy(), self._conf[:, self.n].copy(), self.names,
                       self.convention if convention is None else convention)


def _as_numpy(x: Any) -> np.ndarray:
    """A native-byte-order numpy array of ``x`` (a torch tensor, array or nested sequence)."""
    if type(x).__module__.split(".", 1)[0] == "torch":  # torch is never imported here
        t = x.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        arr: np.ndarray = t.resolve_conj().resolve_neg().numpy()
        return arr
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise LabelError(f"not an array: {e}") from None
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))
