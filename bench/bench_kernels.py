#!/usr/bin/env python3
"""Benchmark the runtime hot paths (``unitax.kernels``) against plain-numpy baselines.

Usage::

    python bench/bench_kernels.py [--json PATH] [--repeats N] [--threads N] [--quick]

For every case the kernel and its baselines run on the same arrays, interleaved
round by round (so slow phases of a noisy machine hit all of them alike); the
script prints the median time of each, the ratio kernel/baseline or
baseline/kernel next to the target, and optionally writes everything as JSON.

The groups are synthetic but shaped like the real layouts: "camvid-11" sums 12
random universal channels (of 194) into 11 test classes (one pair, ten
singletons); "pascal-context-60" partitions all 194 channels into 60 groups.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import unitax.kernels as kernels

BLAS_SETTLE_S = 0.3


def bench(fns: dict, repeats: int, warmup: int = 1, settle=(), inner: int = 1) -> dict:
    """Median seconds per call of each function.

    Rounds are interleaved (every round runs every function), so slow phases of
    a shared machine hit all candidates alike.  Within a round a function runs
    ``inner`` times back to back after one untimed call (timeit-style, warm
    caches) and the round's value is the mean of those calls.  Functions named in
    ``settle`` use BLAS: OpenBLAS worker threads keep spinning for a while after
    a call and would steal the CPU from whatever runs next, so the loop sleeps
    (untimed) after them.
    """
    for k, f in fns.items():
        for _ in range(warmup):
            f()
        if k in settle:
            time.sleep(BLAS_SETTLE_S)
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            if inner > 1:
                f()
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            times[k].append((time.perf_counter() - t0) / inner)
            if k in settle:
                time.sleep(BLAS_SETTLE_S)
    return {k: statistics.median(v) for k, v in times.items()}


def with_threads(n, f):
    """Run ``f`` with the kernels limited to ``n`` threads."""

    def g():
        old = kernels.get_num_threads()
        kernels.set_num_threads(n)
        try:
            return f()
        finally:
            kernels.set_num_threads(old)

    return g


def exp_floor(x, rows_per_chunk_bytes=1 << 21):
    """Lower bound of any softmax over ``x`` (U, ...) with np.exp: exp of every element,
    chunk by chunk into a cache-sized buffer, nothing else."""
    xf = x.reshape(x.shape[0], -1)
    m = max(1, rows_per_chunk_bytes // (x.shape[0] * x.itemsize))
    buf = np.empty((x.shape[0], m), x.dtype)
    for s in range(0, xf.shape[1], m):
        c = xf[:, s : s + m]
        np.exp(c, out=buf[:, : c.shape[1]])


RESULTS = []


def report(case: str, med: dict, kernel: str, targets: list) -> None:
    """targets: (baseline, kind, value): kind 'le' -> kernel/baseline <= value,
    'ge' -> baseline/kernel >= value, 'info' -> just print kernel/baseline."""
    print(f"\n== {case}")
    for k, v in med.items():
        print(f"   {k:<34s} {v * 1e3:9.3f} ms")
    rows = []
    for base, kind, value in targets:
        if kind == "ge":
            r = med[base] / med[kernel]
            ok = r >= value
            txt = f"{base}/{kernel} = {r:6.2f}x faster   (target >= {value}x)"
        elif kind == "le":
            r = med[kernel] / med[base]
            ok = r <= value
            txt = f"{kernel}/{base} = {r:6.2f}x          (target <= {value}x)"
        else:
            r = med[kernel] / med[base]
            ok = None
            txt = f"{kernel}/{base} = {r:6.2f}x          (info)"
        flag = "" if ok is None else ("  OK" if ok else "  MISSED")
        print(f"   {txt}{flag}")
        rows.append({"baseline": base, "kind": kind, "target": value, "ratio": r, "met": ok})
    RESULTS.append({"case": case, "median_ms": {k: v * 1e3 for k, v in med.items()}, "kernel": kernel, "ratios": rows})


# ----------------------------------------------------------------------------
# reference implementations (the naive numpy way)
# ----------------------------------------------------------------------------


def dense_matrix(groups, U, dtype):
    M = np.zeros((len(groups), U), dtype)
    for t, g in enumerate(groups):
        M[t, g] = 1
    return M


def naive_softmax_matmul(x, M):
    m = x.max(axis=0)
    e = np.exp(x - m)
    p = e / e.sum(axis=0)
    return (M @ p.reshape(x.shape[0], -1)).reshape((M.shape[0],) + x.shape[1:])


def one_pass_views(x, channels):
    """Sum of the given channels without gathering them (reads each once)."""
    acc = x[channels[0]].copy()
    for c in channels[1:]:
        np.add(acc, x[c], out=acc)
    return acc


def make_groups(rng, U):
    ch = rng.choice(U, 12, replace=False)
    camvid = tuple(np.array([c]) for c in ch[:10]) + (np.sort(ch[10:12]),)
    perm = rng.permutation(U)
    cuts = np.sort(rng.choice(np.arange(1, U), 59, replace=False))
    pascal = tuple(np.sort(p) for p in np.split(perm, cuts))
    return camvid, pascal


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write results to this JSON file")
    ap.add_argument("--repeats", type=int, default=0, help="rounds per case (default: per-case)")
    ap.add_argument("--threads", type=int, default=None, help="threads for the kernels (default: the kernels')")
    ap.add_argument("--quick", action="store_true", help="smaller score tensors (194, 128, 256)")
    args = ap.parse_args(argv)
    if args.threads:
        kernels.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rep = lambda n: args.repeats or n  # noqa: E731

    print(f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"kernel threads = {kernels.get_num_threads()}")

    # --- apply_lut --------------------------------------------------------------
    H, W = 1080, 1920
    lab8 = rng.integers(0, 256, (H, W), dtype=np.uint8)
    lut8 = rng.integers(0, 256, 256, dtype=np.uint8)
    dst8 = np.empty_like(lab8)
    assert np.array_equal(kernels.apply_lut(lab8, lut8), lut8[lab8])
    med = bench({
        "apply_lut": lambda: kernels.apply_lut(lab8, lut8),
        "apply_lut(out=)": lambda: kernels.apply_lut(lab8, lut8, out=dst8),
        "np.copyto": lambda: np.copyto(dst8, lab8),
        "lut[label]": lambda: lut8[lab8],
        "np.take(lut, label)": lambda: np.take(lut8, lab8),
    }, rep(30), warmup=3, inner=5)
    report("apply_lut uint8 1080x1920, random labels", med, "apply_lut", [
        ("lut[label]", "ge", 3), ("np.copyto", "le", 10), ("np.take(lut, label)", "ge", 1),
    ])

    blk8 = np.repeat(np.repeat(rng.integers(0, 40, (27, 48)).astype(np.uint8), 40, 0), 40, 1)
    med = bench({
        "apply_lut": lambda: kernels.apply_lut(blk8, lut8),
        "np.copyto": lambda: np.copyto(dst8, blk8),
        "lut[label]": lambda: lut8[blk8],
    }, rep(30), warmup=3, inner=5)
    report("apply_lut uint8 1080x1920, blocky labels (40 classes)", med, "apply_lut", [
        ("lut[label]", "ge", 3), ("np.copyto", "le", 10),
    ])

    lab16 = rng.integers(0, 65536, (H, W)).astype(np.uint16)
    lut16 = rng.integers(0, 65536, 65536).astype(np.uint16)
    dst16 = np.empty_like(lab16)
    assert np.array_equal(kernels.apply_lut(lab16, lut16), lut16[lab16])
    med = bench({
        "apply_lut": lambda: kernels.apply_lut(lab16, lut16),
        "np.copyto": lambda: np.copyto(dst16, lab16),
        "lut[label]": lambda: lut16[lab16],
        "np.take(lut, label)": lambda: np.take(lut16, lab16),
    }, rep(30), warmup=3, inner=5)
    report("apply_lut uint16 1080x1920, 65536-entry lut", med, "apply_lut", [
        ("lut[label]", "info", None), ("np.copyto", "info", None), ("np.take(lut, label)", "info", None),
    ])

    # --- invalid_values (info only) --------------------------------------------
    gt = np.where(rng.random((H, W)) < 0.1, 255, rng.integers(0, 19, (H, W))).astype(np.uint8)
    assert kernels.invalid_values(gt, 19, 255).size == 0
    med = bench({
        "invalid_values": lambda: kernels.invalid_values(gt, 19, 255),
        "np.copyto": lambda: np.copyto(dst8, gt),
        "np.unique": lambda: np.unique(gt),
    }, rep(20), warmup=2, inner=5)
    report("invalid_values uint8 1080x1920, all valid (19 classes + 255)", med, "invalid_values", [
        ("np.copyto", "info", None), ("np.unique", "ge", 1),
    ])

    # --- scores ------------------------------------------------------------------
    U, SH, SW = (194, 128, 256) if args.quick else (194, 512, 1024)
    print(f"\n(generating float32 scores {U}x{SH}x{SW}, {U * SH * SW * 4 / 2**20:.0f} MiB)")
    x = rng.standard_normal((U, SH, SW), dtype=np.float32)
    x *= 3
    camvid, pascal = make_groups(rng, U)
    layouts = {"camvid-11 (12 ch)": camvid, "pascal-context-60 (194 ch)": pascal}
    xf = x.reshape(U, -1)

    for name, groups in layouts.items():
        ch = np.sort(np.concatenate(groups))
        M = dense_matrix(groups, U, np.float32)
        r = kernels.scores_to_test(x, groups)
        np.testing.assert_allclose(r, (M @ xf).reshape(r.shape), rtol=1e-5, atol=1e-5)
        fns = {
            "scores_to_test": lambda: kernels.scores_to_test(x, groups),
            "add.reduce(x[ch], 0)": lambda: np.add.reduce(x[ch], axis=0),
            "one pass over ch (no gather)": (lambda: np.add.reduce(x, axis=0)) if ch.size == U
            else (lambda: one_pass_views(x, ch)),
            "dense matmul M @ x": lambda: M @ xf,
            "scores_to_test 1 thread": with_threads(1, lambda: kernels.scores_to_test(x, groups)),
        }
        med = bench(fns, rep(7), settle={"dense matmul M @ x"}, inner=3 if groups is camvid else 1)
        targets = [("one pass over ch (no gather)", "le", 1.5), ("add.reduce(x[ch], 0)", "le", 1.5)]
        targets.append(("dense matmul M @ x", "ge", 20) if groups is camvid else ("dense matmul M @ x", "ge", 1))
        targets.append(("scores_to_test 1 thread", "info", None))
        report(f"scores_to_test probabilities -> {name}", med, "scores_to_test", targets)

    for name, groups in layouts.items():
        M = dense_matrix(groups, U, np.float32)
        sub = (slice(None), slice(0, 16), slice(None))
        r = kernels.scores_to_test(x[sub], groups, from_logits=True)
        np.testing.assert_allclose(r, naive_softmax_matmul(x[sub], M), rtol=1e-4, atol=1e-6)
        med = bench({
            "scores_to_test(from_logits)": lambda: kernels.scores_to_test(x, groups, from_logits=True),
            "x.sum(axis=0)": lambda: x.sum(axis=0),
            "naive softmax + matmul": lambda: naive_softmax_matmul(x, M),
            "exp floor (np.exp of every element)": lambda: exp_floor(x),
            "scores_to_test(from_logits) 1 thread": with_threads(
                1, lambda: kernels.scores_to_test(x, groups, from_logits=True)),
        }, rep(5), settle={"naive softmax + matmul"})
        report(f"scores_to_test logits -> {name}", med, "scores_to_test(from_logits)", [
            ("x.sum(axis=0)", "le", 4), ("naive softmax + matmul", "ge", 6),
            ("exp floor (np.exp of every element)", "info", None),
            ("scores_to_test(from_logits) 1 thread", "info", None),
        ])

    for name, groups in layouts.items():
        M = dense_matrix(groups, U, np.float32)
        sub = (slice(None), slice(0, 16), slice(None))
        ref = naive_softmax_matmul(x[sub], M)
        got = kernels.labels_from_scores(x[sub], groups, from_logits=True)
        picked = np.take_along_axis(ref, got[None].astype(np.intp), 0)[0]
        assert np.all(picked >= ref.max(0) - 1e-5)
        fns = {
            "labels_from_scores(from_logits)": lambda: kernels.labels_from_scores(x, groups, from_logits=True),
            "labels_from_scores(probs)": lambda: kernels.labels_from_scores(x, groups),
            "naive softmax+matmul+argmax": lambda: naive_softmax_matmul(x, M).argmax(0).astype(np.uint8),
            "labels_from_scores(from_logits) 1 thread": with_threads(
                1, lambda: kernels.labels_from_scores(x, groups, from_logits=True)),
        }
        med = bench(fns, rep(5), settle={"naive softmax+matmul+argmax"})
        report(f"labels_from_scores logits -> {name}", med, "labels_from_scores(from_logits)", [
            ("naive softmax+matmul+argmax", "ge", 50 if groups is camvid else 1),
            ("labels_from_scores(from_logits) 1 thread", "info", None),
        ])

    print()
    missed = [(r["case"], x["baseline"]) for r in RESULTS for x in r["ratios"] if x["met"] is False]
    print("targets missed:" if missed else "all targets met")
    for c, b in missed:
        print(f"   {c}  vs  {b}")
    if args.json:
        meta = {
            "numpy": np.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "threads": kernels.get_num_threads(),
            "score_shape": [U, SH, SW],
        }
        Path(args.json).write_text(json.dumps({"meta": meta, "cases": RESULTS}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
