#!/usr/bin/env python3
"""Benchmark ``unitax.torch.union_nll`` against ``F.cross_entropy``: peak memory and time, forward + backward.

Usage::

    python bench/bench_unions.py [--json PATH] [--shape N,U,H,W] [--repeats N] [--quick]

Each (loss, dataset) case runs in a fresh process so peaks do not mix. Peak memory is what the
loss adds above its inputs (logits with requires_grad, labels): on CUDA
``torch.cuda.max_memory_allocated`` minus the memory allocated before; on CPU the rise of the
process's peak resident set (``ru_maxrss``) over its value once the inputs exist (tracemalloc
does not see torch's allocations). Cases:

- ``cross_entropy``: ``F.cross_entropy(logits, tax.to_universal(label))`` (the baseline);
- ``union_nll``: ``unitax.torch.union_nll`` on ade20k-150 (one-to-one) and ade20k-150-unions (sets up to 12);
- ``dense_mask``: the direct formula, logsumexp over logits masked with -inf by a per-pixel (N, U, H, W)
  mask, minus logsumexp over all (what union_nll avoids).

The target (issue 15): union_nll's peak within 2x of cross_entropy's at (8, 194, 512, 512).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

CASES = [("cross_entropy", "ade20k-150"), ("union_nll", "ade20k-150"), ("union_nll", "ade20k-150-unions"),
         ("cross_entropy", "ade20k-150-unions"), ("dense_mask", "ade20k-150-unions")]


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def child(kind: str, dataset: str, shape: tuple[int, ...], repeats: int) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F

    import unitax
    import unitax.torch as ut

    torch.manual_seed(0)
    tax = unitax.load()
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    n = shape[0]
    k = len(tax.names(dataset))
    sets = torch.from_numpy(np.array(tax.class_sets(dataset))).to(dev)
    label = torch.randint(0, k, (n, *shape[2:]), device=dev)
    label[:, :8] = 255
    if dataset.endswith("-unions"):  # a quarter of the pixels in multi-class sets
        multi = torch.from_numpy(np.flatnonzero(tax.class_sets(dataset).sum(1) > 1)).to(dev)
        pick = torch.rand(label.shape, device=dev) < 0.25
        label = torch.where(pick, multi[torch.randint(0, len(multi), label.shape, device=dev)], label)
    target = torch.from_numpy(tax.to_universal(label.cpu().numpy(), dataset).astype(np.int64)).to(dev)
    logits = torch.randn(shape, device=dev, requires_grad=True)
    base_rss = _rss_peak()  # CPU: the inputs exist (they are the largest allocation so far)

    def step() -> None:
        if kind == "cross_entropy":
            loss = F.cross_entropy(logits, target, ignore_index=255)
        elif kind == "union_nll":
            loss = ut.union_nll(logits, label, dataset, taxonomy=tax)
        else:
            rows = label.clamp(max=k - 1)
            mask = sets[rows].movedim(-1, 1)
            keep = (label != 255) & mask.any(1)
            per = torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~mask, float("-inf")), 1)
            loss = per.where(keep, torch.zeros(())).sum() / keep.sum()
        loss.backward()
        logits.grad = None

    step()  # warm up (tables on the device, kernels loaded); its peak is what a training step needs
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _rss_peak() - base_rss  # the warm-up step's peak counts: ru_maxrss never goes down
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1000)
    return {"loss": kind, "dataset": dataset, "shape": list(shape), "device": str(dev), "peak_bytes": int(peak),
            "logits_bytes": logits.numel() * logits.element_size(), "median_ms": statistics.median(times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--shape", default=None, help="N,U,H,W (default 8,194,512,512; --quick: 2,194,128,128)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-dense", action="store_true", help="leave out dense_mask (it needs ~7x the logits)")
    ap.add_argument("--child", nargs=2, metavar=("LOSS", "DATASET"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    shape = tuple(int(v) for v in (args.shape or ("2,194,128,128" if args.quick else "8,194,512,512")).split(","))
    repeats = args.repeats or (2 if args.quick else 3)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], shape, repeats)))
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("  torch is not installed: union_nll not benchmarked")
        return 0
    rows = []
    for kind, ds in CASES:
        if kind == "dense_mask" and args.skip_dense:
            continue
        r = subprocess.run([sys.executable, __file__, "--child", kind, ds, "--shape", ",".join(map(str, shape)),
                            "--repeats", str(repeats)], capture_output=True, text=True, env=os.environ)
        if r.returncode != 0:
            print(f"  {kind} {ds}: failed\n{r.stderr[-2000:]}")
            return 1
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    base = {row["dataset"]: row for row in rows if row["loss"] == "cross_entropy"}
    ce = base["ade20k-150"]
    print(f"  union_nll vs cross_entropy, forward + backward, logits {tuple(shape)} float32 "
          f"({ce['logits_bytes'] / 2**30:.2f} GiB) on {ce['device']}; peak = memory added above the inputs")
    for row in rows:
        row["peak_ratio_vs_cross_entropy"] = row["peak_bytes"] / max(ce["peak_bytes"], 1)
        row["time_ratio_vs_cross_entropy"] = row["median_ms"] / ce["median_ms"]
        print(f"  {row['loss']:14s} {row['dataset']:20s} peak {row['peak_bytes'] / 2**30:6.2f} GiB "
              f"({row['peak_ratio_vs_cross_entropy']:4.2f}x, target <= 2 for union_nll)  "
              f"time {row['median_ms']:9.1f} ms ({row['time_ratio_vs_cross_entropy']:4.2f}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": platform.platform(), "python": sys.version.split()[0], "rows": rows}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
