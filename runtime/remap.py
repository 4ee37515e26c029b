"""Runtime hot paths: label look-up tables and score reductions (``unitax.remap``).

This module is the innermost stage of the unitax *runtime*: the compiler emits
look-up tables (dataset label id -> universal id, universal id -> test class) and
class groups (test class -> the universal ids that feed it); the kernels here
apply them to label maps and to per-pixel class scores.  Everything is pure numpy
(plus the standard library), works on arrays of any shape and memory layout, and
is written for throughput on large images:

* :func:`apply_lut`          ``lut[label]`` without an int64 index array;
* :func:`invalid_values`     the label values a LUT would not accept (validation);
* :func:`scores_to_test`     universal class scores -> test class scores (sums of
                             probabilities, optionally after a softmax);
* :func:`labels_from_scores` argmax over test classes of the above, without
                             materialising the summed scores.

Design rules (measured on a 2-vCPU x86-64 VM, numpy 2.4, AVX2; see
``bench/bench_kernels.py`` for the numbers):

* No full-size temporaries.  Index conversions (uint8/uint16 -> intp, which
  ``np.take`` needs) are done on cache-sized chunks in per-thread scratch
  buffers, softmax intermediates on cache-sized chunks of pixels.  The only
  full-size allocation is the result (unless ``out=`` is given).
* Per-chunk Python work is O(number of channels) at most, and chunks are large
  enough that interpreter overhead stays a few percent.
* ``scores_to_test`` / ``labels_from_scores`` split large inputs over up to
  :func:`get_num_threads` threads (ufuncs and reductions release the GIL).
  ``UNITAX_NUM_THREADS=1`` or :func:`set_num_threads` turns this off, e.g. in
  data-loader worker processes.  ``apply_lut`` stays single-threaded:
  two threads over chunks of ``np.take`` measured 1.3-3x *slower* here.

Approaches:

* ``apply_lut`` on uint8 labels views pairs of labels as one uint16 and gathers
  from a 65536-entry "pair LUT" (``pair[a | b << 8] = lut[a] | lut[b] << 8`` on
  little-endian hosts), halving the number of gathers, which dominate the cost;
  the pair LUT is cached by the LUT's bytes (so in-place LUT edits are seen).
  Indices are converted to intp per 64 Ki chunk into a reused buffer, and
  ``np.take(..., mode='clip')`` writes straight into the output
  (``mode='raise'`` would buffer the output).  ~3x faster than ``lut[label]``;
  plain ``np.take`` is ~1.3x.  uint16 labels use chunked ``take`` (~1.7x), other
  dtypes a bounds-checked chunked ``take``.  Tried and dropped: threads (above),
  ``bytes.translate`` (slower than ``take`` here), 256/128 Ki chunks (no gain).
* ``invalid_values``: one ``max`` reduction; when the max is the ignore value,
  one wrapped subtract + ``min`` per chunk decides whether anything lies in
  ``[n_classes, ignore)``.  Only when something is invalid are values collected.
* ``scores_to_test`` from probabilities reads only the channels that feed a
  group, with one ufunc call per channel and chunk (copy / add into the output
  rows; no gathers).  From logits, each chunk's channels are gathered (fancy
  indexing: ``np.take(axis=0)`` would first copy all U channels of a
  non-contiguous chunk) in "level-major" order -- first members of all groups,
  then second members, ... -- so that summing groups is one vectorised add per
  level instead of one call per channel.  The ``x - max`` pass is skipped when
  every per-pixel max lies in a window where exp can neither overflow nor
  underflow anything that matters.  ``np.exp`` (~2 ns/element here) dominates:
  the whole kernel runs at 0.9-1.0x the cost of exp alone over the input.
* ``labels_from_scores`` compares groups in log space: a singleton group's
  score is its logit (no ``exp`` at all), a pair's is ``max + log(1 + exp(-|a -
  b|))`` (one exp), a larger group's its log-sum-exp; when many small groups
  make that dearer than exponentiating every used channel once, it does the
  latter (level sums as above).  The running argmax is compare / maximum /
  ``lab = max(lab, mask * t)`` per group (exact because t increases; a masked
  ``copyto`` is ~40x slower per element).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    from numpy.exceptions import AxisError
except ImportError:  # numpy < 1.25
    AxisError = np.AxisError

__all__ = [
    "apply_lut",
    "invalid_values",
    "scores_to_test",
    "labels_from_scores",
    "get_num_threads",
    "set_num_threads",
]

# ----------------------------------------------------------------------------
# tuning constants (bytes / element counts), chosen by measurement
# ----------------------------------------------------------------------------

#: label elements per chunk of index conversion (64 Ki intp = 512 KiB, L2-sized)
_LUT_CHUNK = 1 << 16
#: bytes of scores per chunk (the working set of one chunk)
_SCORE_CHUNK_BYTES = 1 << 21
#: below this many score elements read per call a single thread does the work
_SCORE_PARALLEL_MIN = 1 << 25
#: float32 logits whose per-pixel maximum lies in this window can skip the
#: ``x - max`` pass of the softmax (exp cannot overflow, and the denominator
#: stays far above the float32 underflow threshold)
_SAFE_LOGIT_WINDOW = {np.dtype(np.float32): (-20.0, 60.0), np.dtype(np.float64): (-200.0, 600.0)}

# ----------------------------------------------------------------------------
# threads
# ----------------------------------------------------------------------------

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_num_threads: int | None = None


def _default_threads() -> int:
    env = os.environ.get("UNITAX_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def get_num_threads() -> int:
    """Number of threads the kernels may use (``UNITAX_NUM_THREADS``, default: CPUs, at most 4)."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
    return _num_threads


def set_num_threads(n: int | None) -> None:
    """Set the number of threads the kernels may use (``None``: back to the default)."""
    global _num_threads
    if n is not None and int(n) < 1:
        raise ValueError("number of threads must be >= 1")
    _num_threads = None if n is None else int(n)


def _reset_pool_after_fork() -> None:  # pragma: no cover - exercised only in forked children
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size = None, 0
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="unitax")
            _pool_size = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _run_split(fn, items: list, n_threads: int) -> None:
    """Call ``fn(part)`` on ``n_threads`` contiguous parts of ``items`` (this thread runs one)."""
    n_threads = max(1, min(n_threads, len(items)))
    if n_threads == 1:
        fn(items)
        return
    bounds = [len(items) * i // n_threads for i in range(n_threads + 1)]
    parts = [items[bounds[i] : bounds[i + 1]] for i in range(n_threads)]
    pool = _executor(n_threads - 1)
    futures = [pool.submit(fn, p) for p in parts[1:]]
    try:
        fn(parts[0])
    finally:
        for f in futures:
            f.result()


# ----------------------------------------------------------------------------
# per-thread scratch buffers
# ----------------------------------------------------------------------------

_tls = threading.local()


def _scratch(name: str, dtype, n: int) -> np.ndarray:
    """A reused 1-D buffer of at least ``n`` elements, private to this thread."""
    dtype = np.dtype(dtype)
    bufs = getattr(_tls, "bufs", None)
    if bufs is None:
        bufs = _tls.bufs = {}
    key = (name, dtype)
    buf = bufs.get(key)
    if buf is None or buf.size < n:
        buf = np.empty(max(n, 1), dtype)
        bufs[key] = buf
    return buf[:n]


# ----------------------------------------------------------------------------
# shape helpers
# ----------------------------------------------------------------------------


def _blocks(shape: tuple, max_elems: int) -> list:
    """Index tuples that tile an array of ``shape`` in blocks of <= ``max_elems`` elements.

    Trailing axes are kept whole as long as they fit; the next axis is sliced and
    the leading ones are indexed one by one (so blocks are as contiguous as the
    array allows).
    """
    nd = len(shape)
    inner, k = 1, nd
    while k > 0 and inner * shape[k - 1] <= max_elems:
        inner *= shape[k - 1]
        k -= 1
    if k == 0:
        return [()]
    step = max(1, max_elems // inner)
    n = shape[k - 1]
    tails = [slice(s, min(s + step, n)) for s in range(0, n, step)]
    return [idx + (sl,) for idx in np.ndindex(*shape[: k - 1]) for sl in tails]


def _flat_pair(a: np.ndarray, b: np.ndarray):
    """1-D views of ``a`` and ``b`` that enumerate elements in the same order, or None."""
    if a.flags.c_contiguous and b.flags.c_contiguous:
        return a.reshape(-1), b.reshape(-1)
    if a.flags.f_contiguous and b.flags.f_contiguous:
        return a.T.reshape(-1), b.T.reshape(-1)
    return None


# ----------------------------------------------------------------------------
# apply_lut
# ----------------------------------------------------------------------------

_pair_cache: OrderedDict = OrderedDict()
_pair_cache_lock = threading.Lock()
_PAIR_CACHE_SIZE = 32
_PAIR_DTYPE = {1: np.uint16, 2: np.uint32, 4: np.uint64}


def _pair_lut(lut256: np.ndarray):
    """(kind, table) for a 256-entry LUT: ``('identity', None)`` or ``('pair', pair_table)``.

    ``pair_table[a | b << 8]`` holds ``lut[a]`` in its low half and ``lut[b]`` in
    its high half *in memory order*, so that a uint8 label array viewed as uint16
    maps to the output viewed as a twice-as-wide unsigned integer.
    """
    key = (lut256.dtype.str, lut256.tobytes())
    with _pair_cache_lock:
        hit = _pair_cache.get(key)
        if hit is not None:
            _pair_cache.move_to_end(key)
            return hit
    if lut256.dtype.kind in "iu" and np.array_equal(lut256, np.arange(256)):
        entry = ("identity", None)
    else:
        item = lut256.dtype.itemsize
        pair = np.empty((256, 256, 2), lut256.dtype)  # [high byte b, low byte a, slot]
        pair[:, :, 0] = lut256[None, :]  # first element in memory: label a (low byte on LE)
        pair[:, :, 1] = lut256[:, None]
        if np.little_endian:
            table = pair.reshape(-1).view(_PAIR_DTYPE[item])
        else:  # pragma: no cover - big-endian hosts: uint16 value = a << 8 | b
            table = np.ascontiguousarray(pair.transpose(1, 0, 2)).reshape(-1).view(_PAIR_DTYPE[item])
        table.flags.writeable = False
        entry = ("pair", table)
    with _pair_cache_lock:
        _pair_cache[key] = entry
        while len(_pair_cache) > _PAIR_CACHE_SIZE:
            _pair_cache.popitem(last=False)
    return entry


def _take_chunks(table, src, dst, mode):
    """``dst[:] = table[src]`` for 1-D ``src``/``dst``, converting indices chunk-wise."""
    n = src.shape[0]
    idx_buf = _scratch("lut_idx", np.intp, min(n, _LUT_CHUNK))
    for s in range(0, n, _LUT_CHUNK):
        e = min(s + _LUT_CHUNK, n)
        idx = idx_buf[: e - s]
        np.copyto(idx, src[s:e], casting="unsafe")
        np.take(table, idx, out=dst[s:e], mode=mode)


def _lut_flat(src, dst, lut, kind, table):
    """Apply the LUT to same-order 1-D arrays ``src`` -> ``dst``."""
    n = src.shape[0]
    if kind == "identity":
        np.copyto(dst, src, casting="unsafe")
        return
    if kind == "pair":
        # Gather pairs of labels at once.  A view as the twice-wide type needs an
        # even length and a contiguous 1-D array: peel a possible odd last element.
        if n % 2:
            dst[n - 1] = lut[src[n - 1]]
            n -= 1
            if n == 0:
                return
            src, dst = src[:n], dst[:n]
        _take_chunks(table, src.view(np.uint16), dst.view(table.dtype), "clip")
    else:
        _take_chunks(lut, src, dst, kind)  # 'clip' (every index valid) or 'raise' (generic)


def apply_lut(label, lut, out=None) -> np.ndarray:
    """Return ``lut[label]`` (shape of ``label``, dtype of ``lut``) without int64 temporaries.

    Parameters
    ----------
    label : integer ndarray of any shape and memory layout.
    lut : 1-D array.  For uint8 labels it should have 256 entries and for uint16
        labels 65536 (then every label value is a valid index); for other label
        dtypes (or shorter LUTs) values are bounds-checked (``IndexError``) and
        negative values index from the end, exactly like ``lut[label]``.
    out : optional array of ``label``'s shape and ``lut``'s dtype to write into
        (may be ``label`` itself when the dtypes agree).

    Returns
    -------
    ``out`` (or a new array laid out like ``label``).
    """
    label = np.asarray(label)
    lut = np.asarray(lut)
    if lut.ndim != 1:
        raise ValueError(f"lut must be 1-D, got shape {lut.shape}")
    if label.dtype.kind not in "iub":
        raise TypeError(f"label must have an integer dtype, got {label.dtype}")
    if not label.dtype.isnative:  # the kernels view raw bytes: '>u2' would be read byte-swapped
        label = label.astype(label.dtype.newbyteorder("="))
    if not lut.dtype.isnative:
        lut = lut.astype(lut.dtype.newbyteorder("="))
    if out is None:
        out = np.empty_like(label, dtype=lut.dtype, subok=False)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError("out must be a numpy array")
        if out.shape != label.shape:
            raise ValueError(f"out has shape {out.shape}, expected {label.shape}")
        if out.dtype != lut.dtype:
            raise TypeError(f"out has dtype {out.dtype}, expected the lut dtype {lut.dtype}")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
    if label.size == 0:
        return out
    if lut.size == 0:
        raise IndexError("index into an empty lut")

    # Choose the kernel.
    ld = label.dtype
    if ld == np.uint8 and lut.size >= 256 and lut.dtype.itemsize in _PAIR_DTYPE:
        lut = lut[:256]
        kind, table = _pair_lut(lut)
    elif ld == np.uint8 and lut.size >= 256:
        kind, table = "clip", None
    elif ld == np.uint16 and lut.size >= 65536:
        kind, table = "clip", None
    else:
        kind, table = "raise", None
    if kind == "identity" and out is label:
        return out

    pair = _flat_pair(label, out)
    if pair is not None and not (out is not label and np.may_share_memory(label, out)):
        _lut_flat(pair[0], pair[1], lut, kind, table)
        return out

    # Arbitrary layouts (or partially overlapping out): copy blocks of label into a
    # contiguous buffer, map them into a contiguous buffer, copy the result out.
    if np.may_share_memory(label, out) and out is not label:
        label = label.copy()
    for blk in _blocks(label.shape, _LUT_CHUNK * 4):
        lb = label[blk + (Ellipsis,)]
        m = lb.size
        src = _scratch("lut_src", ld, m).reshape(lb.shape)
        np.copyto(src, lb)
        dst = _scratch("lut_dst", lut.dtype, m).reshape(lb.shape)
        _lut_flat(src.reshape(-1), dst.reshape(-1), lut, kind, table)
        np.copyto(out[blk + (Ellipsis,)], dst)
    return out


# ----------------------------------------------------------------------------
# invalid_values
# ----------------------------------------------------------------------------


def invalid_values(label, n_classes: int, ignore) -> np.ndarray:
    """Sorted unique values ``v`` of ``label`` with ``not (0 <= v < n_classes or v == ignore)``.

    Returns an empty int64 array when every value is valid (the common case costs
    one ``max`` reduction, plus a wrapped subtract + ``min`` when the ignore value
    occurs, all on cache-sized chunks).  ``ignore=None`` means no ignore value.
    """
    label = np.asarray(label)
    if label.dtype.kind not in "iub":
        raise TypeError(f"label must have an integer dtype, got {label.dtype}")
    n_classes = int(n_classes)
    if not label.dtype.isnative:  # the unsigned view below reads raw bytes
        label = label.astype(label.dtype.newbyteorder("="))
    if label.size == 0:
        return np.empty(0, np.int64)
    if label.dtype.kind == "b":
        label = label.view(np.uint8)
    bits = label.dtype.itemsize * 8
    udt = np.dtype(f"u{label.dtype.itemsize}")
    # Work on the unsigned view: negative values become huge (>= n_classes), i.e. invalid.
    u = label.view(udt)
    top = (1 << bits) - 1
    signed = label.dtype.kind == "i"
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else top
    n_u = min(max(n_classes, 0), hi + 1)  # valid: u < n_u (negatives are >= 2**(bits-1))
    ign_u = None
    if ignore is not None:
        ig = int(ignore)
        if lo <= ig <= hi and not (0 <= ig < n_u):
            ign_u = ig & top

    mx = int(u.max())
    if mx < n_u:
        return np.empty(0, np.int64)
    if ign_u is not None and mx == ign_u and ign_u >= n_u:
        # Valid values are [0, n) and ``ignore``, the largest present.  Anything in
        # [n, ignore) is invalid: (u - n) mod 2**bits < ignore - n  <=>  n <= u < ignore.
        width = ign_u - n_u
        if width == 0:
            return np.empty(0, np.int64)
        found = False
        blocks = _blocks(u.shape, _LUT_CHUNK * 4)
        for blk in blocks:
            ub = u[blk + (Ellipsis,)]
            tmp = _scratch("inv_tmp", udt, ub.size).reshape(ub.shape)
            np.subtract(ub, udt.type(n_u), out=tmp, casting="unsafe")
            if int(tmp.min()) < width:
                found = True
                break
        if not found:
            return np.empty(0, np.int64)

    # Slow path (there are invalid values): collect them chunk by chunk.
    found_vals = []
    for blk in _blocks(label.shape, _LUT_CHUNK * 4):
        lb = label[blk + (Ellipsis,)]
        ub = u[blk + (Ellipsis,)]
        bad = ub >= udt.type(n_u) if n_u <= top else np.zeros(ub.shape, bool)
        if ign_u is not None:
            bad &= ub != udt.type(ign_u)
        if bad.any():
            found_vals.append(np.unique(lb[bad]))
    if not found_vals:
        return np.empty(0, np.int64)
    return np.unique(np.concatenate(found_vals).astype(np.int64))


# ----------------------------------------------------------------------------
# group plans
# ----------------------------------------------------------------------------


class _Plan:
    """Pre-digested class groups (cached per distinct ``(U, groups)``)."""

    __slots__ = (
        "U", "T", "groups", "sizes", "n0", "n_used", "perm_all", "levels", "out_rows",
        "max_size", "argmax_linear", "perm_used", "empty",
    )

    def __init__(self, U: int, groups: tuple):
        self.U = U
        self.T = len(groups)
        self.groups = groups
        self.sizes = [len(g) for g in groups]
        self.max_size = max(self.sizes, default=0)
        # groups sorted by size (largest first; stable), only the non-empty ones
        order = sorted((t for t in range(self.T) if self.sizes[t]), key=lambda t: -self.sizes[t])
        self.n0 = len(order)
        rank = {t: r for r, t in enumerate(order)}
        perm, levels = [], []
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


_plan_cache: OrderedDict = OrderedDict()
_plan_lock = threading.Lock()


def _get_plan(groups, U: int) -> _Plan:
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


def _check_scores(scores, axis):
    x = np.asarray(scores)
    if x.dtype.kind != "f":
        raise TypeError(f"scores must be floating point, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError("scores must have at least one dimension (the class axis)")
    ax = int(axis)
    if not -x.ndim <= ax < x.ndim:
        raise AxisError(axis, x.ndim)
    return x, ax % x.ndim


def _pixel_chunk(x_m, rows: int) -> int:
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


def scores_to_test(scores, groups, axis=0, from_logits=False, out=None) -> np.ndarray:
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

        def work(part):
            for blk in part:
                xc = x_m[(slice(None),) + blk]
                oc = o_m[(slice(None),) + blk]
                _probs_block(xc, oc, plan)

        _run_split(work, blocks, threads)
        return out

    m = _pixel_chunk(x_m, U + 1)
    blocks = _blocks(rest, m)
    ctype = np.result_type(x.dtype, np.float32)

    def work(part):
        for blk in part:
            xc = x_m[(slice(None),) + blk]
            oc = o_m[(slice(None),) + blk]
            _softmax_block(xc, oc, plan, ctype)

    _run_split(work, blocks, threads)
    return out


def _probs_block(xc, oc, plan: _Plan) -> None:
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


def _exp_rows(xc, perm, ctype):
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


def _level_sums(e, plan: _Plan) -> None:
    """Sum groups in place: afterwards ``e[r]`` is the sum of the group ranked ``r``."""
    for off, cnt in plan.levels:
        np.add(e[:cnt], e[off : off + cnt], out=e[:cnt])


def _softmax_block(xc, oc, plan: _Plan, ctype) -> None:
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


def labels_from_scores(scores, groups, axis=0, from_logits=False, out=None, nonfinite=None) -> np.ndarray:
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

        def work(part):
            for blk in part:
                xc = x_m[(slice(None),) + blk]
                b = xc.shape[1:]
                e = _exp_rows(xc, plan.perm_used, ctype)
                _level_sums(e, plan)
                _argmax_block(b, out[blk + (Ellipsis,)], cands, lambda t, g: e[rows[t]], ctype, ldt, nonfinite, False)

    else:
        blocks = _blocks(rest, _pixel_chunk(x_m, 8))

        def work(part):
            for blk in part:
                xc = x_m[(slice(None),) + blk]
                b = xc.shape[1:]
                m = int(np.prod(b))
                _argmax_block(
                    b, out[blk + (Ellipsis,)], cands,
                    lambda t, g: _group_score(xc, g, from_logits, ctype, b, m), ctype, ldt,
                    nonfinite, not from_logits,
                )

    _run_split(work, blocks, threads)
    return out


def _group_score(xc, g, from_logits, ctype, b, m):
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


def _argmax_block(b, ob, cands, score, ctype, ldt, nonfinite=None, track_min=False) -> None:
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
            ok = np.isfinite(np.add.reduce(best, axis=None)) and (lo is None or np.isfinite(np.add.reduce(lo, axis=None)))
        if not ok:
            nonfinite.append(True)
