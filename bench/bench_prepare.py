#!/usr/bin/env python3
"""Benchmark `unitax prepare` per dataset family against a plain decode-and-write loop.

Usage::

    python bench/bench_prepare.py [--files N] [--size HxW] [--families a,b] [--json PATH] [--quick]

Per family: a synthetic download of N samples (tests/fixtures/make_native.py:build_tree's
native files at HxW, copied to the paths of N lines of MSeg's root-space list that have no
relabel records), then, round by round:

- ``plain loop``: for every sample, the family's native reader (decode to the root label
  space) and one PNG written with Pillow; one process, nothing else;
- ``prepare -j 1``: :func:`unitax.tools.data.prepare.engine.run` in this process: every label space
  MSeg derives (2-4 PNGs per sample), the image linked, sources hashed for the ledger, atomic
  writes, lists;
- ``prepare -j 2``: the process pool.

Reports files/s (files = samples), files/s per core, prepare -j 1 against the plain loop (goal
>= 0.9x per core; prepare writes one label file per space, ``out`` of them, where the loop writes
one: ``outs/loop`` compares label files written per second),
the 1 -> 2 worker speed-up (goal >= 1.8x), and a projection of the wall time of all of MSeg
(the label files of MSeg's lists, ~220,000) on one 16-core machine from the -j 1 rate per core.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import make_native  # noqa: E402


def plain_loop(tax, p, out: Path) -> int:
    """The family's reader on every native label, one PNG written per sample."""
    from PIL import Image

    n = 0
    for t in p.tasks:
        if t.label_src is None:
            continue
        cls, _ = p.job._read(t)
        d = out / f"{n}.png"
        Image.fromarray(cls).save(d)
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--size", default="512x1024")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--families", default="")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="40 files of 256x512, 2 rounds")
    ap.add_argument("--compress-level", type=int, default=6, help="prepare's PNG zlib level (the loop keeps 6)")
    args = ap.parse_args()
    if args.quick:
        args.files, args.size, args.repeats = 40, "256x512", 2
    h, w = (int(v) for v in args.size.split("x"))
    import unitax
    from unitax.tools.data.prepare import engine
    from unitax.tools.data.prepare.lists import load_lists
    from unitax.tools.data.prepare.plans import FAMILIES

    tax = unitax.load()
    lists = load_lists()
    names = [f for f in (args.families.split(",") if args.families else FAMILIES)]
    results: dict = {"files": args.files, "size": args.size, "compress_level": args.compress_level,
                     "cpus": os.cpu_count(), "families": {}}
    total_s_16 = 0.0
    print(f"{'family':16} {'files':>6} {'loop f/s':>9} {'j1 f/s':>8} {'j2 f/s':>8} {'j1/loop':>8} {'out':>3} "
          f"{'outs/loop':>8} {'j2/j1':>6} {'MSeg files':>10} {'16 cores':>9}")
    for name in names:
        fam = FAMILIES[name]
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            n = make_native.grow_tree(tax, lists, name, tmp / "native", args.files, (h, w))
            rates: dict[str, list[float]] = {"loop": [], "j1": [], "j2": []}
            for r in range(args.repeats):
                for mode in ("loop", "j1", "j2"):
                    out = tmp / f"out-{mode}-{r}"
                    p = engine.plan(tax, name, tmp / "native", out, partial=True, lists=lists,
                                    compress_level=args.compress_level)
                    t0 = time.perf_counter()   # planning (lists, tables, ledger) is left out: it is per job
                    if mode == "loop":
                        out.mkdir()
                        k = plain_loop(tax, p, out)
                    else:
                        s = engine.run(p, workers=1 if mode == "j1" else 2)
                        k = s.written
                        assert not s.failed, s.failed[:3]
                    rates[mode].append(k / (time.perf_counter() - t0))
                    shutil.rmtree(out)
        med = {m: statistics.median(v) for m, v in rates.items()}
        mseg = len({ln.split(" ")[1] for (s, sp), v in lists.items() if s == fam.root for ln in v if " " in ln})
        k = len(fam.all_spaces)          # label files written per sample (the loop writes one)
        proj = mseg / (med["j1"] * 16)
        total_s_16 += proj
        results["families"][name] = {"samples": n, "loop_files_s": med["loop"], "prepare_j1_files_s": med["j1"],
                                     "prepare_j2_files_s": med["j2"], "j1_over_loop": med["j1"] / med["loop"],
                                     "j2_over_j1": med["j2"] / med["j1"], "label_files_per_sample": k,
                                     "j1_label_files_over_loop": med["j1"] * k / med["loop"], "mseg_samples": mseg,
                                     "projected_16_cores_s": proj}
        print(f"{name:16} {n:6} {med['loop']:9.1f} {med['j1']:8.1f} {med['j2']:8.1f} {med['j1'] / med['loop']:8.2f} "
              f"{k:3} {med['j1'] * k / med['loop']:8.2f} {med['j2'] / med['j1']:6.2f} {mseg:10} {proj / 60:8.1f}m",
              flush=True)
    results["projected_all_mseg_16_cores_s"] = total_s_16
    print(f"projection, every family, one 16-core machine (from -j 1 per-core rates, {args.size} labels): "
          f"{total_s_16 / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
