#!/usr/bin/env python3
"""Benchmark `unitax remap-dir` against a plain read-map-write loop with Pillow.

Usage::

    python bench/bench_remap_dir.py [--files N] [--size HxW] [--repeats R] [--json PATH] [--quick]

Generates N label PNGs of cityscapes-34 ids (blocky regions, like real label maps, so PNG
compression behaves as on real data) in a temporary folder, then times, round by round
(interleaved, so a slow phase of a shared machine hits every candidate alike):

- ``pillow loop``: open, ``np.asarray``, ``lut[label]``, ``Image.fromarray``, save; one process;
- ``remap-dir -j 1``: the same job through :func:`unitax.tools.data.remap_dir.run` in this
  process (validation of every value, atomic write-then-rename, bookkeeping included);
- ``remap-dir -j 2`` (and up to the number of cores): the process pool.

Reports files per second, files per second per core, remap-dir's overhead against the plain
loop, and the scaling from 1 to 2 workers (ideal: 2.0). Timings are medians over the rounds,
each from a fresh output folder; planning (walking SRC, stat'ing DST) is included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import unitax
from unitax.tools.data import remap_dir as rd

SOURCE, TARGET = "cityscapes-34", "cityscapes-19-relabeled"


def make_tree(root: Path, n: int, shape: tuple[int, int], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    h, w = shape
    for i in range(n):
        coarse = rng.integers(0, 34, size=(h // 16 + 1, w // 16 + 1), dtype=np.uint8)
        label = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)[:h, :w]
        label[rng.random((h, w)) < 0.01] = 255  # sparse ignore pixels, like object borders
        p = root / f"city{i % 8}" / f"img{i:05d}_gtFine_labelIds.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(label)).save(p)


def pillow_loop(src: Path, dst: Path, lut: np.ndarray) -> int:
    """The baseline: what one writes without a tool."""
    n = 0
    for p in sorted(src.rglob("*.png")):
        out = dst / p.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(p) as im:
            arr = np.asarray(im)
        Image.fromarray(lut[arr]).save(out)
        n += 1
    return n


def remap_dir(tax, src: Path, dst: Path, workers: int) -> int:
    plan = rd.plan(tax, src, dst, SOURCE, TARGET)
    summary = rd.run(plan, workers=workers)
    assert summary.ok and summary.written == summary.files, summary
    return summary.written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--size", default="512x1024", help="label image size HxW (default 512x1024)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--quick", action="store_true", help="100 files of 256x512, 2 rounds")
    args = ap.parse_args()
    if args.quick:
        args.files, args.size, args.repeats = 100, "256x512", 2
    h, w = (int(x) for x in args.size.lower().split("x"))
    cores = os.cpu_count() or 1
    tax = unitax.load()
    lut = tax.chain_lut(tax.route(SOURCE, TARGET))
    worker_counts = sorted({1, 2, min(cores, 4)} if cores > 1 else {1})

    with tempfile.TemporaryDirectory(prefix="unitax-bench-") as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        t0 = time.perf_counter()
        make_tree(src, args.files, (h, w))
        print(f"{args.files} label PNGs of {h}x{w} ({sum(p.stat().st_size for p in src.rglob('*.png')) / 1e6:.1f} MB) "
              f"made in {time.perf_counter() - t0:.1f} s; {cores} CPU(s), {platform.python_implementation()} "
              f"{platform.python_version()}, numpy {np.__version__}, Pillow {Image.__version__}", flush=True)
        cands = {"pillow loop": lambda d: pillow_loop(src, d, lut)}
        for k in worker_counts:
            cands[f"remap-dir -j {k}"] = (lambda j: lambda d: remap_dir(tax, src, d, j))(k)
        # check once that both produce the same files
        a, b = tmp / "check-a", tmp / "check-b"
        cands["pillow loop"](a)
        cands["remap-dir -j 1"](b)
        for p in sorted(a.rglob("*.png")):
            q = b / p.relative_to(a)
            assert (np.asarray(Image.open(p)) == np.asarray(Image.open(q))).all(), p
        shutil.rmtree(a), shutil.rmtree(b)

        times: dict[str, list[float]] = {k: [] for k in cands}
        for r in range(args.repeats):
            for k, f in cands.items():
                d = tmp / f"out-{r}-{k.replace(' ', '_')}"
                t0 = time.perf_counter()
                n = f(d)
                times[k].append(time.perf_counter() - t0)
                assert n == args.files
                shutil.rmtree(d)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    print(f"\n{'candidate':<18} {'median s':>9} {'files/s':>9} {'files/s/core':>13}")
    for k, s in med.items():
        workers = 1 if k == "pillow loop" else int(k.rsplit(" ", 1)[1])
        rate = args.files / s
        rows.append({"candidate": k, "workers": workers, "seconds": s, "files_per_s": rate,
                     "files_per_s_per_core": rate / workers})
        print(f"{k:<18} {s:9.3f} {rate:9.1f} {rate / workers:13.1f}")
    base = args.files / med["pillow loop"]
    one = args.files / med["remap-dir -j 1"]
    summary = {"overhead_vs_pillow_loop_1_core": base / one}
    print(f"\nremap-dir -j 1 vs the plain Pillow loop: {one / base:.2f}x its speed "
          f"({(base / one - 1) * 100:+.0f}% time per file)")
    if "remap-dir -j 2" in med:
        two = args.files / med["remap-dir -j 2"]
        summary["scaling_1_to_2_workers"] = two / one
        print(f"scaling from 1 to 2 workers: {two / one:.2f}x (ideal 2.00x on 2 free cores)")
    if args.json:
        args.json.write_text(json.dumps({"files": args.files, "size": [h, w], "cpus": cores, "rows": rows,
                                         "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
