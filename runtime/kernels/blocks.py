"""Threads, per-thread scratch buffers and block tiling shared by the kernels (:mod:`unitax.kernels`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
#: a numpy array of any shape and dtype
Array = npt.NDArray[Any]

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


def _run_split(fn: Callable[[Sequence[T]], None], items: Sequence[T], n_threads: int) -> None:
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


def _scratch(name: str, dtype: npt.DTypeLike, n: int) -> Array:
    """A reused 1-D buffer of at least ``n`` elements, private to this thread."""
    dtype = np.dtype(dtype)
    bufs: dict[tuple[str, np.dtype[Any]], Array] | None = getattr(_tls, "bufs", None)
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


def _blocks(shape: tuple[int, ...], max_elems: int) -> list[tuple[int | slice, ...]]:
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


def _flat_pair(a: Array, b: Array) -> tuple[Array, Array] | None:
    """1-D views of ``a`` and ``b`` that enumerate elements in the same order, or None."""
    if a.flags.c_contiguous and b.flags.c_contiguous:
        return a.reshape(-1), b.reshape(-1)
    if a.flags.f_contiguous and b.flags.f_contiguous:
        return a.T.reshape(-1), b.T.reshape(-1)
    return None

