"""Runtime: universal scores (probabilities or logits) into the classes of a dataset.

The third layer of :class:`unitax.Taxonomy` (on :class:`unitax.label_paths.LabelPaths`):
``to_test`` (summed scores), ``to_test_labels`` and ``from_universal`` (argmax over a dataset's
classes, or a label look-up for integer input), ``torch_module``, ``union_accuracy`` and the
streaming ``evaluator``. Scores pass one shape check (:func:`unitax.arrays.class_axis`) and one
non-finite check (:mod:`unitax.finite`, its device twin in :mod:`unitax.torch_support`); numpy
arrays, CPU and device tensors alike go through :func:`unitax.arrays.run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import arrays
from . import finite as _finite
from .errors import LabelError
from .label_paths import LabelPaths
from .spaces import UNIVERSAL

if TYPE_CHECKING:
    from .evaluate import Evaluator


class ScorePaths(LabelPaths):
    """Universal scores into dataset classes (a layer of :class:`unitax.Taxonomy`)."""

    def _finite_checker(self, reader: str, check_finite: bool) -> Any:
        """For the torch device path: ``f(count, pos, channel)`` raising the same LabelError, or None."""
        return _finite.raiser(self.universal_names, reader) if check_finite else None

    def _class_axis(self, x: Any, axis: Any) -> int:
        return arrays.class_axis(x, axis, len(self.universal_names))

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

        def host(arr: np.ndarray) -> np.ndarray:
            from . import kernels

            ax = self._class_axis(arr, axis)
            with np.errstate(invalid="ignore", over="ignore"):
                res: np.ndarray = kernels.scores_to_test(arr, groups, axis=ax, from_logits=from_logits, out=out)
            if check_finite:
                # A bad value read makes the (smaller) result non-finite: a NaN or +inf logit turns its
                # pixel's softmax into NaN, a bad probability its group's sum. Only then is the input scanned.
                channels = np.arange(arr.shape[ax]) if from_logits else self._read_channels(test_dataset, groups)
                _finite.check_finite(arr, ax, test_dataset, logits=from_logits, names=self.universal_names,
                                     channels=channels, summed=res)
            return res

        def device(t: Any) -> Any:
            from . import torch_support as ts

            return ts.scores_to_test(t, self.matrix(test_dataset), self._class_axis(t, axis), from_logits,
                                     self._device_cache, f"matrix/{test_dataset}",
                                     self._finite_checker(test_dataset, check_finite))

        return arrays.run(probs, out, host, device, keep_dtype=True)

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
        labels, x = arrays.is_label_input(x)
        if labels:
            return self._apply(x, lut, UNIVERSAL, out, out_of_range, key)

        def host(arr: np.ndarray) -> np.ndarray:
            from . import kernels

            ax = self._class_axis(arr, axis)
            flag: list[bool] | None = [] if check_finite else None
            with np.errstate(invalid="ignore", over="ignore"):
                res: np.ndarray = kernels.labels_from_scores(arr, groups, axis=ax, from_logits=from_logits, out=out,
                                                             nonfinite=flag)
            if flag:  # a group score was non-finite: find the bad input values (or an overflowed sum: none)
                _finite.check_finite(arr, ax, dataset, logits=from_logits, names=self.universal_names,
                                     channels=self._read_channels(dataset, groups), scan=True)
            return res

        def device(t: Any) -> Any:
            if not (t.dtype.is_floating_point and key.startswith("from_universal/")):
                return NotImplemented  # complex (refused on the host) or a back-map (read on the host)
            from . import torch_support as ts

            return ts.labels_from_scores(t, self.matrix(dataset), self._class_axis(t, axis), from_logits,
                                         self._device_cache, f"matrix/{dataset}",
                                         self._finite_checker(dataset, check_finite))

        return arrays.run(x, out, host, device)

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
        from .evaluate import Evaluator, check_convention

        check_convention(convention)
        names = self.names(dataset)
        if dataset != UNIVERSAL:
            self._label_lut(dataset)  # fail now, not at the first batch

        def convert(pred: Any, *, axis: int = 0, from_logits: bool = False, pred_space: str | None = None,
                    check_finite: bool = True) -> Any:
            arr, _ = arrays.to_numpy(pred)
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

    def union_accuracy(self, pred: Any, label: Any, dataset: str, *, axis: int | None = None,
                       out_of_range: str = "raise", ignore_index: int | None = None, check_finite: bool = True) -> Any:
        """Score universal predictions (ids, or scores with ``axis``) on a ``dataset`` label map whose
        classes are sets: a pixel is correct when the prediction lies in its class's set. Returns a
        :class:`unitax.unions.UnionScore` (add them up over a validation set).

        ``ignore_index`` (e.g. -100) is skipped as well as the dataset's own ignore id. Scores
        holding NaN or +inf raise LabelError unless ``check_finite=False`` (-inf logits are allowed)."""
        from . import unions

        p, _ = arrays.to_numpy(pred)
        arr, _ = arrays.to_numpy(label)
        return unions.union_accuracy(p, arrays.label_array(arr, dataset), self.class_sets(dataset),
                                     self.ignore_index(dataset), dataset, self.names(dataset), axis=axis,
                                     out_of_range=out_of_range, ignore_index=ignore_index, check_finite=check_finite,
                                     universal_names=self.universal_names)
