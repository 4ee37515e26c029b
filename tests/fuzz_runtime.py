"""Fuzz the runtime entry points for a bounded time against a plain numpy reference.

    .venv/bin/python tests/fuzz_runtime.py [--seconds 60] [--seed N]     (or `make fuzz`)

Hypothesis draws label arrays (every integer dtype, both byte orders, bool, float, complex,
str and object; 0-3 dimensions including empty ones; transposed, negatively strided and
non-contiguous views; valid ids, the ignore value and out-of-range values) and score arrays
(float16/32/64 in both byte orders, the class axis anywhere, NaN / +inf / -inf injected into
read or unread channels), as numpy arrays or CPU torch tensors (float32, float16, bfloat16),
optionally through the device (torch-op) path. Each goes through ``to_universal``, ``remap``,
``to_test``, ``to_test_labels``, ``from_universal`` or ``Evaluator.update``.

Nothing but unitax errors may escape, and an accepted input must give the reference answer
(``lut[label]`` for labels, a dense float64 matmul for scores, its argmax where the top two
test classes are clearly apart); an input the policy refuses (bool / non-integer labels, an
id outside the dataset, NaN or infinity in a channel read) must raise ``LabelError``.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import fuzzing  # noqa: E402
from support.bundled import N_UNIVERSAL  # noqa: E402

import unitax  # noqa: E402
import unitax.arrays as T  # noqa: E402
from unitax import LabelError, UnitaxError  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

TAX = unitax.load()
TRAIN = ["ade20k-150", "cityscapes-19", "mapillary-public65", "coco-panoptic-133"]
TESTS = list(TAX.test_datasets)
INT_DTYPES = ["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8"]
ODD_DTYPES = ["b1", "f4", "f8", "c8", "O", "U3"]


@contextmanager
def device_path(on: bool):
    old = T._force_device_path
    T._force_device_path = on
    try:
        yield
    finally:
        T._force_device_path = old


def _layout(draw, a: np.ndarray) -> np.ndarray:
    """A view of a bigger array whose elements equal ``a``: transposed, reversed, strided."""
    kind = draw(st.sampled_from(["plain", "fortran", "reversed", "strided"]))
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "reversed" and a.ndim:
        return np.ascontiguousarray(a[(slice(None, None, -1),) * a.ndim])[(slice(None, None, -1),) * a.ndim]
    if kind == "strided" and a.ndim:
        big = np.zeros(tuple(2 * n for n in a.shape), a.dtype)
        v = big[(slice(None, None, 2),) * a.ndim]
        v[...] = a
        return v
    return a


@st.composite
def label_case(draw):
    entry = draw(st.sampled_from(["to_universal", "remap", "to_test_labels", "from_universal", "evaluator"]))
    if entry == "to_universal":
        ds = draw(st.sampled_from(TRAIN))
        space, lut = ds, TAX.lut(ds)
    elif entry == "remap":
        ds = draw(st.sampled_from([r for r in TAX.remaps]))
        space, lut = ds[0], TAX.remap_lut(*ds)
    elif entry == "to_test_labels":
        ds = draw(st.sampled_from(TESTS))
        space, lut = "universal", TAX.test_lut(ds)
    elif entry == "from_universal":
        ds = draw(st.sampled_from(TRAIN + TESTS))
        space, lut = "universal", TAX._label_lut(ds)
    else:
        ds = draw(st.sampled_from(TESTS + TRAIN[:2]))
        space, lut = ds, None
    n, ignore = len(TAX.names(space)), TAX.ignore_index(space)
    dt = draw(st.sampled_from(INT_DTYPES + ODD_DTYPES if draw(st.integers(0, 9)) == 0 else INT_DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=3)))
    size = int(np.prod(shape))
    lo, hi = (0, 1) if dt == "b1" else (-3 if dt[0] in "if" else 0, n + 3)
    info = np.iinfo(np.dtype(dt)) if dt in INT_DTYPES else None
    vals = []
    for _ in range(size):
        r = draw(st.integers(0, 19))
        v = ignore if r == 0 else draw(st.integers(lo, hi)) if r == 1 else draw(st.integers(0, n - 1))
        if info is not None:
            v = int(np.clip(v, info.min, info.max))
        vals.append(v)
    a = np.array(vals, dtype=object).reshape(shape)
    a = a if dt == "O" else a.astype(dt if dt != "U3" else "U3")
    if dt in INT_DTYPES and draw(st.booleans()):
        a = a.astype(a.dtype.newbyteorder(">" if np.little_endian else "<"))
    a = _layout(draw, a)
    as_tensor = torch is not None and dt in ("u1", "i2", "i4", "i8", "b1") and draw(st.integers(0, 3)) == 0
    device = as_tensor and draw(st.booleans())
    ignore_oor = draw(st.booleans()) and entry != "evaluator"
    return entry, ds, space, lut, n, ignore, a, as_tensor, device, ignore_oor


def check_labels(case) -> None:
    entry, ds, space, lut, n, ignore, a, as_tensor, device, ignore_oor = case
    x = torch.from_numpy(np.array(a, dtype=a.dtype.newbyteorder("="))) if as_tensor else a
    kw = {"out_of_range": "ignore"} if ignore_oor else {}
    integer = a.dtype.kind in "iu"
    vals = a.astype(np.int64) if integer else None
    bad = None if vals is None else ((vals < 0) | (vals >= n)) & (vals != ignore)
    try:
        with device_path(device):
            if entry == "to_universal":
                r = TAX.to_universal(x, ds, **kw)
            elif entry == "remap":
                r = TAX.remap(x, ds[0], ds[1], **kw)
            elif entry == "to_test_labels":
                r = TAX.to_test_labels(x, ds, **kw)
            elif entry == "from_universal":
                r = TAX.from_universal(x, ds, **kw)
            else:
                g = np.zeros(a.shape, np.uint8 if n < 255 else np.uint16)
                ev = TAX.evaluator(ds)
                ev.update(x, g)
                r = ev.result()
    except UnitaxError as e:
        if not isinstance(e, LabelError):
            raise AssertionError(f"{type(e).__name__} for a label array: {e}") from e
        if integer and not bad.any():
            raise AssertionError(f"valid labels refused: {e}") from e
        return
    assert integer, f"{a.dtype} labels were accepted by {entry}"
    if entry == "evaluator":
        assert not bad.any(), "the evaluator counted out-of-range predictions"
        return
    assert ignore_oor or not bad.any(), f"out-of-range values accepted: {np.unique(vals[bad])}"
    idx = np.where(bad, ignore, vals)
    want = np.asarray(lut)[idx]
    got = r.numpy() if as_tensor else r
    assert tuple(got.shape) == a.shape, (got.shape, a.shape)
    assert (np.asarray(got).astype(np.int64) == want.astype(np.int64)).all(), "differs from lut[label]"


@st.composite
def score_case(draw):
    entry = draw(st.sampled_from(["to_test", "to_test_labels", "from_universal", "evaluator", "union_accuracy"]))
    ds = draw(st.sampled_from(TRAIN if entry == "union_accuracy" else
                              TESTS + (TRAIN[:2] if entry == "from_universal" else [])))
    dt = draw(st.sampled_from(["f2", "f4", "f8"]))
    rest = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=2)))
    axis = draw(st.integers(0, len(rest)))
    shape = rest[:axis] + (N_UNIVERSAL,) + rest[axis:]
    seed = draw(st.integers(0, 2**32 - 1))
    logits = draw(st.booleans())
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 if logits else rng.random(shape)).astype(dt)
    bad = []
    if x.size and draw(st.integers(0, 2)) == 0:
        for _ in range(draw(st.integers(1, 3))):
            pos = tuple(draw(st.integers(0, s - 1)) for s in shape)
            v = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            x[pos] = v
            bad.append((pos, v))
    if draw(st.booleans()):
        x = x.astype(x.dtype.newbyteorder(">" if np.little_endian else "<"))
    x = _layout(draw, x)
    tensor = None
    if torch is not None and entry != "union_accuracy" and draw(st.integers(0, 2)) == 0:
        tensor = draw(st.sampled_from(["float32", "float16", "bfloat16"]))
    device = tensor is not None and draw(st.booleans())
    check_finite = draw(st.integers(0, 4)) != 0
    return entry, ds, axis, x, logits, bad, tensor, device, check_finite


def _groups(entry: str, ds: str):
    return TAX.groups(ds) if ds in TESTS else TAX._score_groups(ds)


def check_scores(case) -> None:
    entry, ds, axis, x, logits, bad, tensor, device, check_finite = case
    xn = np.array(x, dtype=np.float64)
    if tensor is not None:
        t = torch.from_numpy(np.array(x, dtype=np.float32)).to(getattr(torch, tensor))
        xn = t.double().numpy()
        inp = t
    else:
        inp = x
    groups = _groups(entry, ds)
    read = np.zeros(N_UNIVERSAL, bool)
    for g in groups:
        read[g] = True
    if entry == "union_accuracy":  # an argmax over every channel: read as logits (-inf allowed)
        read[:] = True
        logits = True
    if entry == "to_test" and logits:
        read[:] = True
    xm = np.moveaxis(xn, axis, 0)
    badv = (np.isnan(xm) | np.isposinf(xm)) if logits else ~np.isfinite(xm)
    must_refuse = check_finite and bool(badv[read].any())
    try:
        with device_path(device), np.errstate(all="ignore"):
            if entry == "to_test":
                r = TAX.to_test(inp, ds, axis, from_logits=logits, check_finite=check_finite)
            elif entry == "to_test_labels":
                r = TAX.to_test_labels(inp, ds, axis=axis, from_logits=logits, check_finite=check_finite)
            elif entry == "from_universal":
                r = TAX.from_universal(inp, ds, axis=axis, from_logits=logits, check_finite=check_finite)
            elif entry == "union_accuracy":
                r = TAX.union_accuracy(inp, np.zeros(xm.shape[1:], np.uint8), ds, axis=axis,
                                       check_finite=check_finite)
            else:
                ev = TAX.evaluator(ds)
                g = np.zeros(xm.shape[1:], np.uint8)
                ev.update(inp, g, axis=axis, from_logits=logits, check_finite=check_finite)
                r = None
    except UnitaxError as e:
        assert isinstance(e, LabelError), f"{type(e).__name__}: {e}"
        assert must_refuse, f"finite scores refused: {e}"
        assert "non-finite" in str(e) and "check_finite=False" in str(e), str(e)
        return
    assert not must_refuse, f"non-finite scores in channels read were accepted by {entry}"
    if r is None or not check_finite and badv.any():
        return
    if entry == "union_accuracy":  # every pixel is class 0: right where the argmax lies in its set
        sets = TAX.class_sets(ds)
        hits = sets[0][xm.argmax(axis=0)] if xm.size else np.zeros(0, bool)
        n = xm[0].size if sets[0].any() else 0
        assert (int(r.total[0]), int(r.correct[0])) == (n, int(hits.sum()) if n else 0), "union accuracy differs"
        return
    got = r.double().numpy() if tensor is not None else np.asarray(r, dtype=np.float64)
    # reference: group sums in float64 over the channels read (a softmax first for logits: over
    # every channel for to_test, over the channels read for an argmax, where the rest cancels)
    p = xm
    if logits and xm.size:
        with np.errstate(all="ignore"):
            sel = slice(None) if entry == "to_test" else read
            e = np.zeros_like(xm)
            e[sel] = np.exp(xm[sel] - xm[sel].max(axis=0, keepdims=True))
            p = e / e[sel].sum(axis=0, keepdims=True)
    with np.errstate(all="ignore"):
        ref = np.stack([p[gr].sum(axis=0) for gr in groups]) if groups else np.zeros((0,) + xm.shape[1:])
    tol = {"f2": 2e-2, "f4": 1e-4, "f8": 1e-9}[x.dtype.str[1:]] if tensor is None else \
        {"float32": 1e-4, "float16": 2e-2, "bfloat16": 6e-2}[tensor]
    if entry == "to_test":
        want = np.moveaxis(ref, 0, axis)
        assert got.shape == want.shape, (got.shape, want.shape)
        assert np.allclose(got, want, atol=tol * 4, rtol=tol * 4, equal_nan=True), "differs from the dense matmul"
        return
    assert got.shape == ref.shape[1:], (got.shape, ref.shape)
    if ref.size == 0:
        return
    srt = np.sort(ref, axis=0)
    clear = (srt[-1] - srt[-2] > 8 * tol) if ref.shape[0] > 1 else np.ones(ref.shape[1:], bool)
    want = ref.argmax(axis=0)
    assert (got[clear] == want[clear]).all(), "argmax differs from the reference"


def property_tests(examples: int, derandomize: bool = False) -> list:
    """The two hypothesis tests (labels, scores), each running ``examples`` inputs."""
    conf = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None,
                    max_examples=examples, derandomize=derandomize, print_blob=True)

    @conf
    @given(case=label_case())
    def fuzz_labels(case) -> None:
        check_labels(case)

    @conf
    @given(case=score_case())
    def fuzz_scores(case) -> None:
        check_scores(case)

    return [fuzz_labels, fuzz_scores]


def run(examples: int, seed: int | None = None) -> None:
    from hypothesis import seed as hseed

    for f in property_tests(examples):
        (hseed(seed)(f) if seed is not None else f)()


def main() -> int:
    warnings.simplefilter("ignore", RuntimeWarning)  # NaN/inf inputs in the reference computation
    return fuzzing.main("fuzz_runtime", __doc__ or "", run, 200)

if __name__ == "__main__":
    sys.exit(main())
