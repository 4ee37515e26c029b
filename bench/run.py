"""`make bench`: every benchmark of the project in one run, each case as a ratio to a baseline
measured in the same run on the same machine (never timed assertions in tests).

Runs: the runtime kernels on the real MSeg tables (bench_kernels.py), a fresh process doing
`import unitax; unitax.load()` vs a bare interpreter, `unitax compile` cold and a no-change
`make compile`, remap-dir files/s (bench_remap_dir.py), `unitax prepare` files/s per family
(bench_prepare.py), the top-1/top-3 agreement of `unitax new-dataset`'s suggestions with the
curated mappings (bench_suggest.py; a score, not a time) and union_nll's peak memory and time
against cross_entropy (bench_unions.py). Results: bench/results/*.json.

    python bench/run.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"


def timed(cmd: list[str], repeats: int, cwd: Path = ROOT) -> float:
    """Median wall time in ms of running ``cmd`` (output discarded)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def startup_and_compile(repeats: int) -> dict:
    py = sys.executable
    bare = timed([py, "-c", "pass"], repeats)
    numpy = timed([py, "-c", "import numpy"], repeats)
    load = timed([py, "-c", "import unitax; unitax.load()"], repeats)
    with tempfile.TemporaryDirectory() as tmp:
        cold = []
        for i in range(max(3, repeats // 3)):
            out = Path(tmp) / f"out{i}"
            t = time.perf_counter()
            subprocess.run([py, "-m", "unitax.tools.cli", "compile", "--out", str(out)], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cold.append((time.perf_counter() - t) * 1000)
        cold_ms = statistics.median(cold)
    subprocess.run(["make", "-s", "compile"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    nochange = timed(["make", "-s", "compile"], repeats)
    rows = {
        "bare_interpreter_ms": bare,
        "import_numpy_ms": numpy,
        "import_unitax_load_ms": load,
        "import_load_over_bare_ms": load - bare,
        "import_load_over_numpy_ms": load - numpy,
        "compile_cold_ms": cold_ms,
        "make_compile_nochange_ms": nochange,
    }
    print("\n== startup and compile (median of runs, fresh processes)")
    print(f"  bare interpreter              {bare:8.1f} ms")
    print(f"  import numpy                  {numpy:8.1f} ms")
    print(f"  import unitax; unitax.load()  {load:8.1f} ms   over bare: {load - bare:6.1f} ms  (target <= 50; "
          f"numpy alone is {numpy - bare:.1f})   reference converter: 2139 ms")
    print(f"  unitax compile (cold)         {cold_ms:8.1f} ms   (target < 1000)")
    print(f"  make compile (no change)      {nochange:8.1f} ms   (target < 200)")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller inputs and fewer rounds")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    quick = ["--quick"] if args.quick else []
    results = {"startup_compile": startup_and_compile(5 if args.quick else 11)}
    print("\n== runtime kernels (bench/bench_kernels.py)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "bench_kernels.py"), "--json", str(OUT / "kernels.json"),
                    *quick], check=True)
    print("\n== remap-dir (bench/bench_remap_dir.py)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "bench_remap_dir.py"), "--json",
                    str(OUT / "remap_dir.json"), *quick], check=True)
    print("\n== prepare (bench/bench_prepare.py)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "bench_prepare.py"), "--json",
                    str(OUT / "prepare.json"), *quick], check=True)
    print("\n== new-dataset suggestions, each train dataset held out (bench/bench_suggest.py)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "bench_suggest.py"), "--json", str(OUT / "suggest.json")],
                   check=True)
    print("\n== union_nll vs cross_entropy (bench/bench_unions.py)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "bench_unions.py"), "--json", str(OUT / "unions.json"),
                    *quick], check=True)
    (OUT / "startup_compile.json").write_text(json.dumps(results["startup_compile"], indent=1) + "\n")
    print(f"\nresults in {OUT.relative_to(ROOT)}/")
    shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
