"""Label look-up tables: :func:`apply_lut` and :func:`invalid_values` (:mod:`unitax.kernels`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Literal

import numpy as np
import numpy.typing as npt

from .blocks import Array, _blocks, _flat_pair, _scratch

#: ``('identity', None)`` or ``('pair', pair_table)``
_PairEntry = tuple[str, Array | None]

#: label elements per chunk of index conversion (64 Ki intp = 512 KiB, L2-sized)
_LUT_CHUNK = 1 << 16

# ----------------------------------------------------------------------------
# apply_lut
# ----------------------------------------------------------------------------

_pair_cache: OrderedDict[tuple[str, bytes], _PairEntry] = OrderedDict()
_pair_cache_lock = threading.Lock()
_PAIR_CACHE_SIZE = 32
_PAIR_DTYPE = {1: np.uint16, 2: np.uint32, 4: np.uint64}


def _pair_lut(lut256: Array) -> _PairEntry:
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
        entry: _PairEntry = ("identity", None)
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


def _take_chunks(table: Array, src: Array, dst: Array, mode: Literal["clip", "raise"]) -> None:
    """``dst[:] = table[src]`` for 1-D ``src``/``dst``, converting indices chunk-wise."""
    n = src.shape[0]
    idx_buf = _scratch("lut_idx", np.intp, min(n, _LUT_CHUNK))
    for s in range(0, n, _LUT_CHUNK):
        e = min(s + _LUT_CHUNK, n)
        idx = idx_buf[: e - s]
        np.copyto(idx, src[s:e], casting="unsafe")
        np.take(table, idx, out=dst[s:e], mode=mode)


def _lut_flat(src: Array, dst: Array, lut: Array, kind: str, table: Array | None) -> None:
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
        assert table is not None
        _take_chunks(table, src.view(np.uint16), dst.view(table.dtype), "clip")
    else:
        # 'clip' (every index valid) or 'raise' (generic)
        _take_chunks(lut, src, dst, "clip" if kind == "clip" else "raise")


def apply_lut(label: npt.ArrayLike, lut: npt.ArrayLike, out: Array | None = None) -> Array:
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


def invalid_values(label: npt.ArrayLike, n_classes: int, ignore: int | None) -> Array:
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

