"""Runtime: the one non-finite check of every call that takes scores (numpy only).

The policy, in one place: scores (probabilities, or anything summed) must be finite; logits
(``logits=True``: they go through a softmax or an argmax) may be ``-inf`` (a masked class) but
never NaN or ``+inf``. Only the channels a result is computed from count. A bad value raises
:class:`LabelError` with the count of bad values, the index of the first (in C order), its value
and its class, and says how to opt out (``check_finite=False``).

Used by ``to_test``, ``to_test_labels``, ``from_universal``, the evaluator's ``update`` and
``union_accuracy``. Tensors on a device are checked there by ``torch_support.check_finite`` (the
same policy with torch ops, no copy to the host), which reports through :func:`message`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import LabelError


def bad_values(v: np.ndarray, logits: bool) -> np.ndarray:
    """Bool mask of the values the policy refuses: NaN and +inf for logits, any non-finite value else."""
    bad: np.ndarray = (np.isnan(v) | np.isposinf(v)) if logits else ~np.isfinite(v)
    return bad


def message(count: int, pos: tuple[int, ...], value: float, channel: int, names: Sequence[str] | None,
            reader: str, space: str = "universal") -> str:
    """The one message of a refused score array (numpy and device paths alike)."""
    name = f"{names[channel]!r}, " if names is not None and 0 <= channel < len(names) else ""
    return (f"scores hold {count} non-finite value(s) (NaN or infinity) in the channels {reader} reads; the first "
            f"is {value} at index {pos} ({space} class {name}id {channel}); pass check_finite=False to skip "
            "this check")


def check_finite(arr: np.ndarray, ax: int, reader: str, *, logits: bool, names: Sequence[str] | None,
                 channels: np.ndarray | None = None, space: str = "universal", summed: np.ndarray | None = None,
                 scan: bool = False) -> None:
    """Raise LabelError where the ``channels`` (None: all) of ``arr`` along axis ``ax`` hold a value
    the policy refuses (module docstring).

    Cheap on the good path: one sum, over ``summed`` (e.g. the summed test scores, which any bad
    value read turns non-finite) when given, else over the read channels (one slab each when the
    class axis is outermost in memory, else the whole array); only a non-finite sum pays for the
    scan. ``scan=True`` scans at once (the caller already knows something is non-finite).

    Args:
        arr: the scores, class axis ``ax``.
        reader: what reads them (a dataset name), for the message.
        logits: whether ``-inf`` is allowed (logits) or refused (scores that are summed).
        names: the class names along ``ax`` (for the message), or None.
        space: the label space those names belong to (for the message).
    """
    if arr.size == 0:
        return
    xm = np.moveaxis(arr, ax, 0)
    read = np.arange(xm.shape[0]) if channels is None else channels
    acc = np.float32 if arr.dtype == np.float16 else None  # float16 sums overflow at 65504
    if not scan:
        with np.errstate(all="ignore"):
            if summed is not None:
                total = summed.sum(dtype=acc)
            elif channels is None:
                total = arr.sum(dtype=acc)
            elif xm[0].flags.c_contiguous or xm[0].flags.f_contiguous:
                total = sum((xm[c].sum(dtype=acc) for c in read), np.float32(0))
            else:
                total = arr.sum(dtype=acc)
        if np.isfinite(total):
            return
    mask = np.zeros(xm.shape, bool)
    for c in read:
        mask[c] = bad_values(xm[c], logits)
    count = int(mask.sum())
    if not count:  # a finite input whose sum overflowed (or -inf logits)
        return
    first = tuple(int(i) for i in np.argwhere(np.moveaxis(mask, 0, ax))[0])
    c = first[ax]
    raise LabelError(message(count, first, float(arr[first]), c, names, reader, space))
