"""Property tests of the runtime hot paths (``unitax.kernels``) against plain numpy.

References: ``lut[label.astype(np.int64)]``; ``np.unique`` of the invalid values;
softmax in float64 followed by a dense binary (n_test x U) matrix; ``np.argmax``.
No timing assertions here (see ``bench/bench_kernels.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.examples import examples

from unitax import kernels as R
from unitax.kernels import scores as S
from unitax.kernels.scores import _get_plan

SETTINGS = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


def _layouts(a: np.ndarray):
    """Views of (copies of) ``a`` with various memory layouts, all equal to ``a`` in value."""
    yield "c", a
    if a.ndim >= 2:
        yield "f", np.asfortranarray(a)
        t = np.ascontiguousarray(np.swapaxes(a, 0, -1))
        yield "transposed", np.swapaxes(t, 0, -1)
    if a.ndim >= 1:
        big = np.empty(a.shape[:-1] + (2 * a.shape[-1] + 1,), a.dtype)
        big[..., 1::2] = a
        yield "strided", big[..., 1::2]
        rev = np.ascontiguousarray(a[..., ::-1])
        yield "reversed", rev[..., ::-1]
        flat = np.empty(a.size + 1, a.dtype)
        flat[1:] = a.reshape(-1)
        yield "offset", flat[1:].reshape(a.shape)  # odd start address


def _layout(a: np.ndarray, name: str) -> np.ndarray:
    for n, v in _layouts(a):
        if n == name:
            return v
    return a


LAYOUTS = ["c", "f", "transposed", "strided", "reversed", "offset"]

shapes = st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple)


# ----------------------------------------------------------------------------
# apply_lut
# ----------------------------------------------------------------------------

LABEL_CASES = [  # (label dtype, lut length, lowest label value)
    (np.uint8, 256, 0),
    (np.uint8, 300, 0),
    (np.uint8, 200, 0),  # short lut: generic bounds-checked path
    (np.uint16, 65536, 0),
    (np.uint16, 1000, 0),
    (np.int32, 300, -300),  # negative values index from the end, like lut[label]
    (np.int64, 70, -70),
    (np.int8, 128, -128),
    (np.uint32, 500, 0),
]


@SETTINGS
@given(
    case=st.sampled_from(LABEL_CASES),
    lut_dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.float32]),
    shape=shapes,
    layout=st.sampled_from(LAYOUTS),
    use_out=st.sampled_from(["none", "c", "strided"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_apply_lut_matches_fancy_indexing(case, lut_dtype, shape, layout, use_out, seed):
    ldt, n, lo = case
    rng = np.random.default_rng(seed)
    lut = rng.integers(0, 250, n).astype(lut_dtype)
    label = rng.integers(lo, n, shape).astype(ldt)
    label = _layout(label, layout)
    expected = lut[label.astype(np.int64)]
    out = None
    if use_out == "c":
        out = np.full(shape, 7, lut_dtype)
    elif use_out == "strided":
        out = np.full(shape[:-1] + (2 * shape[-1],), 7, lut_dtype)[..., ::2] if shape else np.full(shape, 7, lut_dtype)
    got = R.apply_lut(label, lut, out=out)
    if out is not None:
        assert got is out
    assert got.dtype == lut.dtype and got.shape == label.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("odd", [0, 1])
def test_apply_lut_large_uint8_pairs(layout, odd):
    # several index chunks, odd total length, every layout; uint8 and uint16 output
    rng = np.random.default_rng(1)
    label = rng.integers(0, 256, (301, 1001 + odd), dtype=np.uint8)
    label = _layout(label, layout)
    for lut in (rng.integers(0, 256, 256, dtype=np.uint8), rng.integers(0, 60000, 256).astype(np.uint16)):
        np.testing.assert_array_equal(R.apply_lut(label, lut), lut[label])


def test_apply_lut_large_uint16():
    rng = np.random.default_rng(2)
    label = rng.integers(0, 65536, (513, 700)).astype(np.uint16)
    lut = rng.integers(0, 65536, 65536).astype(np.uint16)
    np.testing.assert_array_equal(R.apply_lut(label, lut), lut[label])
    np.testing.assert_array_equal(R.apply_lut(label.T, lut), lut[label.T])


def test_apply_lut_in_place_and_identity():
    rng = np.random.default_rng(3)
    label = rng.integers(0, 256, (37, 55), dtype=np.uint8)
    lut = rng.integers(0, 256, 256, dtype=np.uint8)
    expected = lut[label]
    got = R.apply_lut(label, lut, out=label)
    assert got is label
    np.testing.assert_array_equal(label, expected)
    ident = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(R.apply_lut(label, ident), label)
    np.testing.assert_array_equal(R.apply_lut(label, ident.astype(np.uint16)), label)
    # in place on a transposed view
    t = label.T
    expected = lut[t]
    R.apply_lut(t, lut, out=t)
    np.testing.assert_array_equal(t, expected)


def test_apply_lut_sees_lut_mutation():
    # the pair-LUT cache is keyed by content, so mutating the lut in place is safe
    label = np.arange(256, dtype=np.uint8).reshape(16, 16)
    lut = np.zeros(256, np.uint8)
    np.testing.assert_array_equal(R.apply_lut(label, lut), 0)
    lut[5] = 9
    np.testing.assert_array_equal(R.apply_lut(label, lut), lut[label])


def test_apply_lut_errors():
    lut = np.zeros(10, np.uint8)
    with pytest.raises(IndexError):
        R.apply_lut(np.array([3, 10], np.int32), lut)
    with pytest.raises(IndexError):
        R.apply_lut(np.array([3, 11], np.uint8), lut)  # short lut: bounds-checked
    with pytest.raises(ValueError):
        R.apply_lut(np.zeros((2, 3), np.uint8), np.zeros(256, np.uint8), out=np.zeros((3, 2), np.uint8))
    with pytest.raises(TypeError):
        R.apply_lut(np.zeros(3, np.uint8), np.zeros(256, np.uint8), out=np.zeros(3, np.uint16))
    with pytest.raises(TypeError):
        R.apply_lut(np.zeros(3, np.float32), lut)
    with pytest.raises(ValueError):
        R.apply_lut(np.zeros(3, np.uint8), np.zeros((16, 16), np.uint8))


def test_apply_lut_empty_and_scalar():
    lut = np.arange(256, dtype=np.uint8)[::-1].copy()
    assert R.apply_lut(np.zeros((0, 5), np.uint8), lut).shape == (0, 5)
    got = R.apply_lut(np.array(3, np.uint8), lut)
    assert got.shape == () and got == 252


# ----------------------------------------------------------------------------
# invalid_values
# ----------------------------------------------------------------------------


def _invalid_ref(label, n, ignore):
    v = np.unique(label.astype(np.int64))
    ok = (v >= 0) & (v < n)
    if ignore is not None:
        ok |= v == ignore
    return v[~ok]


@SETTINGS
@given(
    dtype=st.sampled_from([np.uint8, np.uint16, np.int8, np.int32, np.int64, np.uint32]),
    shape=shapes,
    n=st.integers(-1, 300),
    ignore=st.sampled_from([None, 255, -1, 0, 5, 65535, 1000]),
    layout=st.sampled_from(LAYOUTS),
    mode=st.sampled_from(["valid", "mixed", "wide"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_invalid_values_matches_unique(dtype, shape, n, ignore, layout, mode, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    if mode == "wide":
        label = rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
    else:
        hi = min(max(n, 1), info.max + 1)
        label = rng.integers(0, hi, shape).astype(dtype)
        if ignore is not None and info.min <= ignore <= info.max and label.size:
            label.reshape(-1)[rng.random(label.size) < 0.3] = ignore
        if mode == "mixed" and label.size:
            k = int(rng.integers(0, label.size))
            label.reshape(-1)[k] = rng.integers(info.min, info.max, endpoint=True, dtype=dtype)
    label = _layout(label, layout)
    got = R.invalid_values(label, n, ignore)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, _invalid_ref(label, n, ignore))


def test_invalid_values_common_cases():
    rng = np.random.default_rng(4)
    gt = rng.integers(0, 19, (300, 401)).astype(np.uint8)
    gt[rng.random(gt.shape) < 0.2] = 255
    assert R.invalid_values(gt, 19, 255).size == 0
    gt[100, 7] = 19
    gt[5, 5] = 254
    np.testing.assert_array_equal(R.invalid_values(gt, 19, 255), [19, 254])
    np.testing.assert_array_equal(R.invalid_values(gt, 19, None), [19, 254, 255])
    lab = np.array([[0, -1], [3, 7]], np.int32)
    np.testing.assert_array_equal(R.invalid_values(lab, 5, -1), [7])
    np.testing.assert_array_equal(R.invalid_values(lab, 2**40, None), [-1])
    assert R.invalid_values(np.zeros((0,), np.uint8), 3, 255).size == 0
    assert R.invalid_values(np.array([True, False]), 2, None).size == 0


# ----------------------------------------------------------------------------
# scores_to_test / labels_from_scores
# ----------------------------------------------------------------------------


def _softmax64(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _ref_scores(x, groups, axis, from_logits):
    p = _softmax64(x, axis) if from_logits else x.astype(np.float64)
    U = x.shape[axis]
    M = np.zeros((len(groups), U))
    for t, g in enumerate(groups):
        M[t, np.asarray(g, dtype=np.intp)] = 1
    r = np.tensordot(M, np.moveaxis(p, axis, 0), axes=(1, 0))
    return np.moveaxis(r, 0, axis)


@st.composite
def grouping(draw, U):
    """Random groups over a random subset of range(U), some empty, members shuffled."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    T = draw(st.integers(1, 8))
    used = rng.permutation(U)[: draw(st.integers(0, U))]
    owner = rng.integers(0, T, used.size)
    return tuple(np.array(used[owner == t], dtype=draw(st.sampled_from([np.int64, np.int32]))) for t in range(T))


@st.composite
def score_case(draw):
    ndim = draw(st.integers(1, 4))
    shape = list(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    axis = draw(st.integers(-ndim, ndim - 1))
    U = draw(st.integers(1, 12))
    shape[axis] = U
    groups = draw(grouping(U))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    layout = draw(st.sampled_from(LAYOUTS))
    seed = draw(st.integers(0, 2**32 - 1))
    return tuple(shape), axis, groups, dtype, layout, seed


@SETTINGS
@given(case=score_case(), from_logits=st.booleans(), scale=st.sampled_from([1.0, 8.0, 300.0]),
       use_out=st.sampled_from(["none", "c", "strided", "f64"]))
def test_scores_to_test_matches_dense_reference(case, from_logits, scale, use_out):
    shape, axis, groups, dtype, layout, seed = case
    rng = np.random.default_rng(seed)
    if from_logits:
        x = (rng.standard_normal(shape) * scale).astype(dtype)
    else:
        x = rng.random(shape).astype(dtype)
    x = _layout(x, layout)
    oshape = list(shape)
    oshape[axis] = len(groups)
    oshape = tuple(oshape)
    out = None
    if use_out == "c":
        out = np.full(oshape, np.nan, dtype)
    elif use_out == "strided":
        out = np.full(oshape[:-1] + (2 * oshape[-1],), np.nan, dtype)[..., ::2]
    elif use_out == "f64":
        out = np.full(oshape, np.nan, np.float64)
    got = R.scores_to_test(x, groups, axis=axis, from_logits=from_logits, out=out)
    if out is not None:
        assert got is out
    else:
        assert got.dtype == dtype
    assert got.shape == oshape
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, _ref_scores(x, groups, axis, from_logits), rtol=tol * 5, atol=tol)


def _check_labels(got, ref, axis, atol):
    """``got`` picks a maximal reference score (up to rounding) and the lowest such t
    whenever the top two classes are clearly apart."""
    ref_m = np.moveaxis(ref, axis, 0)
    picked = np.take_along_axis(ref_m, got[None].astype(np.intp), 0)[0]
    best = ref_m.max(axis=0)
    assert np.all(picked >= best - atol)
    exact = ref_m.argmax(axis=0)
    srt = np.sort(ref_m, axis=0)
    clear = (srt[-1] - srt[-2] > atol) if ref_m.shape[0] > 1 else np.ones(best.shape, bool)
    np.testing.assert_array_equal(got[clear], exact[clear])


@SETTINGS
@given(case=score_case(), from_logits=st.booleans(), scale=st.sampled_from([1.0, 8.0, 300.0]),
       linear=st.booleans(), use_out=st.sampled_from(["none", "int64", "strided"]))
def test_labels_from_scores_is_argmax(case, from_logits, scale, linear, use_out):
    shape, axis, groups, dtype, layout, seed = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * scale).astype(dtype) if from_logits else rng.random(shape).astype(dtype)
    x = _layout(x, layout)
    oshape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    out = None
    if use_out == "int64":
        out = np.full(oshape, -1, np.int64)
    elif use_out == "strided":
        out = np.full(oshape[:-1] + (2 * oshape[-1],), 99, np.uint8)[..., ::2] if oshape else None
    plan = _get_plan(groups, shape[axis])
    old = plan.argmax_linear
    plan.argmax_linear = linear  # exercise both from-logits strategies
    try:
        got = R.labels_from_scores(x, groups, axis=axis, from_logits=from_logits, out=out)
    finally:
        plan.argmax_linear = old
    assert got.shape == oshape
    if out is None:
        assert got.dtype == np.uint8
    else:
        assert got is out
    ref = _ref_scores(x, groups, axis, from_logits)
    _check_labels(got, ref, axis, 1e-5 if dtype == np.float32 else 1e-12)


def test_labels_ties_go_to_lowest_class():
    x = np.zeros((6, 4, 5), np.float32)
    x[[1, 3]] = 0.5  # groups 0 ({1}) and 2 ({3}) tie exactly
    groups = (np.array([1]), np.array([2]), np.array([3]), np.array([], np.int64))
    for fl in (False, True):
        np.testing.assert_array_equal(R.labels_from_scores(x, groups, from_logits=fl), 0)
    # probabilities all zero: every group (including the empty one) scores 0 -> class 0
    z = np.zeros((6, 3), np.float32)
    np.testing.assert_array_equal(R.labels_from_scores(z, (np.array([], int), np.array([0]))), 0)
    # an empty group can win from probabilities when the others are negative
    np.testing.assert_array_equal(R.labels_from_scores(z - 1, (np.array([0]), np.array([], int))), 1)


def test_labels_uint16_for_many_classes():
    rng = np.random.default_rng(5)
    U = 300
    x = rng.standard_normal((U, 3, 4)).astype(np.float32)
    groups = tuple(np.array([u]) for u in rng.permutation(U))
    got = R.labels_from_scores(x, groups, from_logits=True)
    assert got.dtype == np.uint16
    ref = _ref_scores(x, groups, 0, True)
    np.testing.assert_array_equal(got, ref.argmax(0))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("layout", ["planar", "batched", "channel_last", "sliced"])
def test_large_inputs_multi_chunk(threads, layout, monkeypatch):
    # big enough for many chunks (and for the thread split, with the threshold lowered)
    monkeypatch.setattr(S, "_SCORE_PARALLEL_MIN", 1)
    old = R.get_num_threads()
    R.set_num_threads(threads)
    try:
        rng = np.random.default_rng(6)
        U = 40
        base = (rng.standard_normal((2, U, 97, 211)) * 4).astype(np.float32)
        if layout == "planar":
            x, axis = base[0], 0
        elif layout == "batched":
            x, axis = base, 1
        elif layout == "channel_last":
            x, axis = np.ascontiguousarray(np.moveaxis(base[0], 0, -1)), -1
        else:
            x, axis = base[:, :, 3:90, ::2], -3
        perm = rng.permutation(U)
        groups = (perm[:1], perm[1:4], np.array([], np.int64), perm[4:5], perm[5:12], perm[12:14], perm[14:15])
        for fl in (False, True):
            p = np.abs(x) / 10 if not fl else x
            ref = _ref_scores(p, groups, axis, fl)
            np.testing.assert_allclose(R.scores_to_test(p, groups, axis=axis, from_logits=fl), ref,
                                       rtol=1e-5, atol=2e-6)
            _check_labels(R.labels_from_scores(p, groups, axis=axis, from_logits=fl), ref, axis, 1e-5)
        lab = rng.integers(0, 256, (3, 700, 900), dtype=np.uint8)
        lut = rng.integers(0, 256, 256, dtype=np.uint8)
        np.testing.assert_array_equal(R.apply_lut(lab[:, ::2], lut), lut[lab[:, ::2]])
    finally:
        R.set_num_threads(old)


def test_softmax_stable_for_huge_logits():
    x = np.array([[1000.0, -1000.0], [1001.0, -999.0], [0.0, -1e30]], np.float32)
    groups = (np.array([0, 2]), np.array([1]))
    got = R.scores_to_test(x, groups, from_logits=True)
    ref = _ref_scores(x, groups, 0, True)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(R.labels_from_scores(x, groups, from_logits=True), ref.argmax(0))


def test_float16_scores():
    rng = np.random.default_rng(7)
    x = rng.random((5, 8, 9)).astype(np.float16)
    groups = (np.array([0, 1]), np.array([4]))
    for fl in (False, True):
        got = R.scores_to_test(x, groups, from_logits=fl)
        np.testing.assert_allclose(got, _ref_scores(x, groups, 0, fl), rtol=5e-3, atol=5e-3)


def test_scores_errors():
    x = np.zeros((4, 2, 2), np.float32)
    with pytest.raises(ValueError):
        R.scores_to_test(x, (np.array([0, 4]),))  # out of range
    with pytest.raises(ValueError):
        R.scores_to_test(x, (np.array([0]), np.array([0, 1])))  # duplicate
    with pytest.raises(TypeError):
        R.scores_to_test(x.astype(np.int32), (np.array([0]),))
    with pytest.raises(ValueError):
        R.scores_to_test(x, (np.array([0]),), out=np.zeros((2, 2, 2), np.float32))
    with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError):
        R.scores_to_test(x, (np.array([0]),), axis=3)
    with pytest.raises(ValueError):
        R.labels_from_scores(x, ())
    with pytest.raises(TypeError):
        R.labels_from_scores(x, (np.array([0]),) * 1, out=np.zeros((2, 2), np.float32))


def test_invalid_values_just_below_ignore():
    gt = np.zeros((50, 70), np.uint8)
    gt[::3] = 255
    gt[7, 8] = 254  # the only invalid value sits right below the ignore value
    np.testing.assert_array_equal(R.invalid_values(gt, 19, 255), [254])
    gt[7, 8] = 19  # ... or right at n_classes
    np.testing.assert_array_equal(R.invalid_values(gt, 19, 255), [19])
    lab = np.full(10, -1, np.int64)
    lab[3] = -2
    np.testing.assert_array_equal(R.invalid_values(lab, 5, -1), [-2])


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("size", [2, 3])
def test_group_log_sum_exp_is_exact(linear, size):
    # a group of `size` equal logits scores log(size); a singleton just above or
    # below that must win / lose accordingly
    deltas = np.array([-1e-6, -1e-9, 1e-9, 1e-6, 1e-3, -1e-3])
    U = size + 1
    x = np.zeros((U, deltas.size), np.float64)
    x[size] = np.log(size) + deltas
    groups = (np.arange(size), np.array([size]))
    plan = _get_plan(groups, U)
    old = plan.argmax_linear
    plan.argmax_linear = linear
    try:
        got = R.labels_from_scores(x + 3.0, groups, from_logits=True)
    finally:
        plan.argmax_linear = old
    np.testing.assert_array_equal(got, (deltas > 0).astype(np.uint8))
