"""Score reductions: :func:`scores_to_test` and :func:`labels_from_scores` (:mod:`unitax.kernels`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..finite import sums_finite
from .blocks import Array, _blocks, _run_split, _scratch, get_num_threads

#: the universal ids of one test class
Group = tuple[int, ...]
#: an index into the pixel axes of a chunk (see :func:`.blocks._blocks`)
_Block = tuple[int | slice, ...]

try:
    from numpy.exceptions import AxisError
except ImportError:  # numpy < 1.25
    AxisError = np.AxisError  # type: ignore[misc,attr-defined]

#: bytes of scores per chunk (the working set of one chunk)
_SCORE_CHUNK_BYTES = 1 << 21
#: below this many score elements read per call a single thread does the work
_SCORE_PARALLEL_MIN = 1 << 25
#: float32 logits whose per-pixel maximum lies in this window can skip the
#: ``x - max`` pass of the softmax (exp cannot overflow, and the denominator
#: stays far above the float32 underflow threshold)
_SAFE_LOGIT_WINDOW = {np.dtype(np.float32): (-20.0, 60.0), np.dtype(np.float64): (-200.0, 600.0)}
# ----------------------------------------------------------------------------
# group plans
# ----------------------------------------------------------------------------


class _Plan:
    """Pre-digested class groups (cached per distinct ``(U, groups)``)."""

    __slots__ = (
        "U", "T", "groups", "sizes", "n0", "n_used", "perm_all", "levels", "out_rows",
        "max_size", "argmax_linear", "perm_used", "empty",
    )

    def __init__(self, U: int, groups: tuple[Group, ...]) -> None:
        self.U = U
        self.T = len(groups)
        self.groups = groups
        self.sizes = [len(g) for g in groups]
        self.max_size = max(self.sizes, default=0)
        # groups sorted by size (largest first; stable), only the non-empty ones
        order = sorted((t for t in range(self.T) if self.sizes[t]), key=lambda t: -self.sizes[t])
        self.n0 = len(order)
        rank = {t: r for r, t in enumerate(order)}
        perm: list[int] = []
        levels: list[tuple[int, int]] = []
        for j in range(self.max_size):
            members = [groups[t][j] for t in order if self.sizes[t] > j]
            if j:
                levels.append((len(perm), len(members)))
            perm.extend(members)
        self.n_used = len(perm)
        seen = np.zeros(U, bool)
        seen[perm] = True
        unused = np.flatnonzero(~seen)
        self.perm_all = np.concatenate([np.array(perm, dtype=np.intp), unused.astype(np.intp)])
        self.perm_used = self.perm_all[: self.n_used]
        self.levels = levels
        # output row t <- accumulator row rank[t] (index U, clipped, for empty groups)
        self.out_rows = np.array([rank.get(t, U) for t in range(self.T)], dtype=np.intp)
        self.empty = np.array([t for t in range(self.T) if not self.sizes[t]], dtype=np.intp)
        # labels_from_scores(from_logits): per-group log-sum-exp (exp of members of
        # multi-member groups + one log each) or exp of every used channel plus level
        # sums?  Rough cost in units of one cheap ufunc pass (exp ~9, log ~12).
        lse = sum(27 if k == 2 else 12 * k + 11 for k in self.sizes if k >= 2)
        lin = 12 * self.n_used + (self.n_used - self.n0)
        self.argmax_linear = lin < lse


_plan_cache: OrderedDict[tuple[int, tuple[bytes, ...]], _Plan] = OrderedDict()
_plan_lock = threading.Lock()


def _get_plan(groups: Any, U: int) -> _Plan:
    if isinstance(groups, np.ndarray) and groups.dtype != object:
        groups = tuple(groups)
    try:
        groups = tuple(groups)
    except TypeError:
        raise TypeError("groups must be a sequence of 1-D integer arrays") from None
    arrs = []
    for g in groups:
        a = np.asarray(g)
        if a.size == 0:
            a = a.reshape(0).astype(np.intp)
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise TypeError("each group must be a 1-D integer array")
        arrs.append(a)
    key = (U, tuple(a.astype(np.int64).tobytes() for a in arrs))
    with _plan_lock:
        plan = _plan_cache.get(key)
        if plan is not None:
            _plan_cache.move_to_end(key)
            return plan
    members = [tuple(int(v) for v in a) for a in arrs]
    flat = [v for m in members for v in m]
    if any(v < 0 or v >= U for v in flat):
        raise ValueError(f"group members must lie in [0, {U}) (the length of the class axis)")
    if len(set(flat)) != len(flat):
        raise ValueError("a universal class appears more than once in groups")
    plan = _Plan(U, tuple(members))
    with _plan_lock:
        _plan_cache[key] = plan
        while len(_plan_cache) > 64:
            _plan_cache.popitem(last=False)
    return plan


def _check_scores(scores: npt.ArrayLike, axis: int) -> tuple[Array, int]:
    x = np.asarray(scores)
    if x.dtype.kind != "f":
        raise TypeError(f"scores must be floating point, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError("scores must have at least one dimension (the class axis)")
    ax = int(axis)
    if not -x.ndim <= ax < x.ndim:
        raise AxisError(axis, x.ndim)
    return x, ax % x.ndim


def _pixel_chunk(x_m: Array, rows: int) -> int:
    """Pixels per chunk for a (U, ...) view whose chunks hold ``rows`` rows in scratch.

    Planar layouts (class axis outermost in memory) stream each channel row
    through the cache, so a chunk is sized by its ``rows`` scratch rows.  In
    class-interleaved layouts (e.g. channel-last) touching one channel of a chunk
    drags all U channels into the cache, so the chunk is sized by U instead.
    """
    item = max(x_m.dtype.itemsize, 4)
    rows = max(rows, 1)
    if x_m.ndim > 1 and abs(x_m.strides[0]) < min(abs(s) for s in x_m.strides[1:]):
        rows = max(rows, x_m.shape[0])
    return max(256, _SCORE_CHUNK_BYTES // (rows * item))


# ----------------------------------------------------------------------------
# scores_to_test
# ----------------------------------------------------------------------------


def scores_to_test(
    scores: npt.ArrayLike, groups: Any, axis: int = 0, from_logits: bool = False, out: Array | None = None
) -> Array:
    """Sum universal-class scores into test-class scores.

    ``out[t] = sum(p[u] for u in groups[t])`` along ``axis``, where ``p`` is
    ``scores`` (probabilities) or ``softmax(scores, axis)`` if ``from_logits``
    (max-subtracted, numerically stable).  An empty group yields 0.

    Parameters
    ----------
    scores : float array; ``scores.shape[axis]`` = U universal classes.
    groups : sequence of 1-D int arrays; ``groups[t]`` lists the universal ids of
        test class ``t`` (each id in at most one group).
    axis : the class axis (negative allowed).
    from_logits : apply a softmax over the class axis first.
    out : optional float array of the result shape (``axis`` has length
        ``len(groups)``).

    Only the channels that feed some group are read from probabilities; a softmax
    needs every channel.  Work is chunked over the non-class axes.
    """
    x, ax = _check_scores(scores, axis)
    U = x.shape[ax]
    plan = _get_plan(groups, U)
    T = plan.T
    oshape = x.shape[:ax] + (T,) + x.shape[ax + 1 :]
    if out is None:
        out = np.empty(oshape, dtype=x.dtype)
    else:
        if not isinstance(out, np.ndarray) or out.shape != oshape:
            raise ValueError(f"out must be an array of shape {oshape}")
        if out.dtype.kind != "f":
            raise TypeError("out must be floating point")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
    if out.size == 0:
        return out
    x_m = np.moveaxis(x, ax, 0)
    o_m = np.moveaxis(out, ax, 0)
    if np.may_share_memory(x, out):
        x_m = x_m.copy()
    rest = x_m.shape[1:]
    n_read = (U if from_logits else plan.n_used) * int(np.prod(rest))
    threads = get_num_threads() if n_read >= _SCORE_PARALLEL_MIN else 1

    if not from_logits:
        if plan.n0 == 0:
            out[...] = 0
            return out
        m = _pixel_chunk(x_m, 8)
        blocks = _blocks(rest, m)

        def work_probs(part: Sequence[_Block]) -> None:
            for blk in part:
                xc = x_m[(slice(None),) + blk]
                oc = o_m[(slice(None),) + blk]
                _probs_block(xc, oc, plan)

        _run_split(work_probs, blocks, threads)
        return out

    m = _pixel_chunk(x_m, U + 1)
    blocks = _blocks(rest, m)
    ctype = np.result_type(x.dtype, np.float32)

    def work(part: Sequence[_Block]) -> None:
        for blk in part:
            xc = x_m[(slice(None),) + blk]
            oc = o_m[(slice(None),) + blk]
            _softmax_block(xc, oc, plan, ctype)

    _run_split(work, blocks, threads)
    return out


def _probs_block(xc: Array, oc: Array, plan: _Plan) -> None:
    """Group sums of probabilities: one ufunc call per used channel (views, no gathers)."""
    for t, g in enumerate(plan.groups):
        o = oc[t, ...]
        if not g:
            o[...] = 0
        elif len(g) == 1:
            np.copyto(o, xc[g[0], ...])
        else:
            np.add(xc[g[0], ...], xc[g[1], ...], out=o)
            for u in g[2:]:
                np.add(o, xc[u, ...], out=o)


def _exp_rows(xc: Array, perm: Array, ctype: np.dtype[Any]) -> Array:
    """Channels ``perm`` of a chunk, gathered (a fresh chunk-sized array) and exponentiated.

    Row ``i`` holds ``exp(x[perm[i]] - c)`` with ``c`` the per-pixel max over
    ``perm``; ``c`` is dropped (taken as 0) when every per-pixel max lies in
    ``_SAFE_LOGIT_WINDOW``, which saves a pass: the callers only use ratios, and
    then exp can neither overflow nor underflow anything that matters.

    The gather uses fancy indexing: ``np.take(..., axis=0)`` first copies the
    whole chunk (all U channels) when it is not C-contiguous, which chunks of a
    planar (U, H, W) array never are.
    """
    e = xc[perm]
    if e.dtype != ctype:
        e = e.astype(ctype)
    b = e.shape[1:]
    mx = _scratch("exp_max", ctype, int(np.prod(b))).reshape(b)
    np.maximum.reduce(e, axis=0, out=mx)
    lo, hi = _SAFE_LOGIT_WINDOW.get(np.dtype(ctype), (0.0, 0.0))
    if not (float(mx.min()) >= lo and float(mx.max()) <= hi):  # NaN lands here too
        np.subtract(e, mx, out=e)
    np.exp(e, out=e)
    return e


def _level_sums(e: Array, plan: _Plan) -> None:
    """Sum groups in place: afterwards ``e[r]`` is the sum of the group ranked ``r``."""
    for off, cnt in plan.levels:
        np.add(e[:cnt], e[off : off + cnt], out=e[:cnt])


def _softmax_block(xc: Array, oc: Array, plan: _Plan, ctype: np.dtype[Any]) -> None:
    """Softmax over all U channels of one chunk, then group sums (level-major adds)."""
    U = plan.U
    b = xc.shape[1:]
    m = int(np.prod(b))
    # rows: [level-major used channels..., unused channels...]
    e = _exp_rows(xc, plan.perm_all, ctype)
    _level_sums(e, plan)
    n0, nu = plan.n0, plan.n_used
    # denominator = sum of the group sums + the unused channels
    den = _scratch("sm_den", ctype, m).reshape(b)
    if n0:
        np.add.reduce(e[:n0], axis=0, out=den)
        if nu < U:
            tmp = _scratch("sm_tmp", ctype, m).reshape(b)
            np.add.reduce(e[nu:], axis=0, out=tmp)
            np.add(den, tmp, out=den)
    else:
        np.add.reduce(e, axis=0, out=den)
    np.divide(1.0, den, out=den)
    res = _scratch("sm_res", ctype, plan.T * m).reshape((plan.T,) + b)
    np.take(e, plan.out_rows, axis=0, out=res, mode="clip")
    if plan.empty.size:
        res[plan.empty] = 0
    np.multiply(res, den, out=oc, casting="same_kind")


# ----------------------------------------------------------------------------
# labels_from_scores
# ----------------------------------------------------------------------------


def labels_from_scores(
    scores: npt.ArrayLike,
    groups: Any,
    axis: int = 0,
    from_logits: bool = False,
    out: Array | None = None,
    nonfinite: list[bool] | None = None,
) -> Array:
    """Argmax over test classes of :func:`scores_to_test` (class axis removed).

    Returns uint8 labels when ``len(groups) < 255``, else uint16.  Ties go to the
    lowest test class (like ``np.argmax``).  From logits the softmax denominator
    cancels, so only the channels that feed a group are read: singleton groups
    compare raw logits and larger groups their log-sum-exp, or (when there are
    many small multi-member groups, where that is cheaper) every used channel is
    exponentiated once and groups are compared by their sums.  Labels can differ
    from the reference only where two test classes' scores agree to rounding.
    Inputs containing NaN give unspecified labels.

    ``nonfinite``: optional list; ``True`` is appended when a group score (hence some score
    read) was NaN or infinite somewhere -- the running maximum propagates NaN and +inf, and
    for probabilities a running minimum catches -inf -- at the cost of one pass over the
    per-pixel best score per chunk (plus one ufunc per group for probabilities). The caller
    then scans the input to say where.

    ``out``: optional integer array of the result shape (any integer dtype that
    can hold ``len(groups) - 1``).
    """
    x, ax = _check_scores(scores, axis)
    U = x.shape[ax]
    plan = _get_plan(groups, U)
    T = plan.T
    if T == 0:
        raise ValueError("groups is empty")
    ldt = np.dtype(np.uint8 if T < 255 else np.uint16)
    oshape = x.shape[:ax] + x.shape[ax + 1 :]
    if out is None:
        out = np.empty(oshape, dtype=ldt)
    else:
        if not isinstance(out, np.ndarray) or out.shape != oshape:
            raise ValueError(f"out must be an array of shape {oshape}")
        if out.dtype.kind not in "iu" or (np.iinfo(out.dtype).max < T - 1):
            raise TypeError(f"out must be an integer array able to hold {T - 1}")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
    if out.size == 0:
        return out
    x_m = np.moveaxis(x, ax, 0)
    rest = x_m.shape[1:]
    ctype = np.result_type(x.dtype, np.float32)

    # Which groups take part, in t order.  From logits an empty group has score
    # exp(-inf) = 0 while every non-empty group scores > 0: it never wins.
    if plan.n0 == 0:
        out[...] = 0
        return out
    if from_logits:
        cands = [(t, g) for t, g in enumerate(plan.groups) if g]
    else:
        cands = list(enumerate(plan.groups))
    threads = get_num_threads() if plan.n_used * int(np.prod(rest)) >= _SCORE_PARALLEL_MIN else 1

    if from_logits and plan.argmax_linear:
        # exp of every used channel (level-major), group sums by level adds
        blocks = _blocks(rest, _pixel_chunk(x_m, plan.n_used + 8))
        rows = plan.out_rows

        def work(part: Sequence[_Block]) -> None:
            for blk in part:
                xc = x_m[(slice(None),) + blk]
                b = xc.shape[1:]
                e = _exp_rows(xc, plan.perm_used, ctype)
                _level_sums(e, plan)
                # the score callbacks are called only within this iteration (B023 does not apply)
                _argmax_block(b, out[blk + (Ellipsis,)], cands, lambda t, g: e[rows[t]],  # noqa: B023
                              ctype, ldt, nonfinite, False)

    else:
        blocks = _blocks(rest, _pixel_chunk(x_m, 8))

        def work(part: Sequence[_Block]) -> None:
            for blk in part:
                xc = x_m[(slice(None),) + blk]
                b = xc.shape[1:]
                m = int(np.prod(b))
                _argmax_block(
                    b, out[blk + (Ellipsis,)], cands,
                    lambda t, g: _group_score(xc, g, from_logits, ctype, b, m), ctype, ldt,  # noqa: B023
                    nonfinite, not from_logits,
                )

    _run_split(work, blocks, threads)
    return out


def _group_score(
    xc: Array, g: Group, from_logits: bool, ctype: np.dtype[Any], b: tuple[int, ...], m: int
) -> Array:
    """Score row of one group: a view for singletons, else a scratch row.

    From logits the score is the group's log-sum-exp (only ordering matters, and
    it is shift-free: the per-pixel softmax denominator cancels).
    """
    if len(g) == 1:
        return xc[g[0], ...]
    s = _scratch("am_s", ctype, m).reshape(b)
    if not from_logits:
        np.add(xc[g[0], ...], xc[g[1], ...], out=s)
        for u in g[2:]:
            np.add(s, xc[u, ...], out=s)
        return s
    gm = _scratch("am_gm", ctype, m).reshape(b)
    if len(g) == 2:
        # lse(a, b) = max(a, b) + log(1 + exp(-|a - b|)): one exp instead of two
        a_, b_ = xc[g[0], ...], xc[g[1], ...]
        np.maximum(a_, b_, out=gm)
        np.subtract(a_, b_, out=s)
        np.abs(s, out=s)
        np.negative(s, out=s)
        np.exp(s, out=s)
        np.add(s, 1, out=s)
    else:
        np.maximum(xc[g[0], ...], xc[g[1], ...], out=gm)
        for u in g[2:]:
            np.maximum(gm, xc[u, ...], out=gm)
        tmp = _scratch("am_tmp", ctype, m).reshape(b)
        np.subtract(xc[g[0], ...], gm, out=s)
        np.exp(s, out=s)
        for u in g[1:]:
            np.subtract(xc[u, ...], gm, out=tmp)
            np.exp(tmp, out=tmp)
            np.add(s, tmp, out=s)
    np.log(s, out=s)
    np.add(s, gm, out=s)
    return s


def _argmax_block(
    b: tuple[int, ...],
    ob: Array,
    cands: Sequence[tuple[int, Group]],
    score: Callable[[int, Group], Array],
    ctype: np.dtype[Any],
    ldt: np.dtype[Any],
    nonfinite: list[bool] | None = None,
    track_min: bool = False,
) -> None:
    """Running argmax over the candidate groups of one chunk (pixel shape ``b``) into ``ob``.

    ``score(t, g)`` returns the score row of group ``t`` (not called for empty
    groups, which score 0).  Candidates come in increasing t, so a group that
    beats the running best always has a larger index than the current label: the
    masked update ``lab = where(mask, t, lab)`` is ``lab = max(lab, mask * t)``,
    two cheap integer ufuncs (a masked ``copyto`` is ~40x slower per element).
    Strict ``>`` keeps the lowest t on ties.
    """
    m = int(np.prod(b))
    best = _scratch("am_best", ctype, m).reshape(b)
    mask = _scratch("am_mask", np.bool_, m).reshape(b)
    upd = _scratch("am_upd", ldt, m).reshape(b)
    lab = ob if ob.dtype == ldt else _scratch("am_lab", ldt, m).reshape(b)
    t0, g0 = cands[0]
    if g0:
        np.copyto(best, score(t0, g0), casting="same_kind")
    else:
        best[...] = 0
    lab[...] = t0
    lo = None
    if nonfinite is not None and track_min:
        lo = _scratch("am_lo", ctype, m).reshape(b)
        lo[...] = best
    for t, g in cands[1:]:
        if g:
            s = score(t, g)
            np.greater(s, best, out=mask)
            np.maximum(best, s, out=best, casting="same_kind")
            if lo is not None:
                np.minimum(lo, s, out=lo, casting="same_kind")
        else:  # probabilities: an empty group scores 0
            np.less(best, 0, out=mask)
            np.maximum(best, 0, out=best)
        np.multiply(mask, ldt.type(t), out=upd)
        np.maximum(lab, upd, out=lab)
    if lab is not ob:
        np.copyto(ob, lab, casting="unsafe")
    if nonfinite is not None:
        with np.errstate(all="ignore"):
            sums = [np.add.reduce(m, axis=None) for m in (best, lo) if m is not None]
        if not sums_finite(*sums):
            nonfinite.append(True)
