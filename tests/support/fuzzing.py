"""The command line and time-boxed loop the fuzz scripts share (`make fuzz`): rounds of a hypothesis
run until the budget is spent, each round on its own seed when one is given."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable


def main(name: str, doc: str, run: Callable[[int, int | None], object], inputs_per_round: int) -> int:
    """Parse ``--seconds``/``--seed``, call ``run(100, seed)`` round after round while a further round
    fits in the budget, and report: 0 with the inputs tried, or 1 on the first failure (hypothesis has
    shrunk and printed the falsifying example by then)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="wall-clock budget (default 60)")
    ap.add_argument("--seed", type=int, default=None, help="seed for a reproducible run")
    args = ap.parse_args()
    start, rounds = time.monotonic(), 0
    batch_s = 0.0
    while time.monotonic() - start + batch_s < args.seconds:
        t0 = time.monotonic()
        try:
            run(100, None if args.seed is None else args.seed + rounds)
        except Exception as e:
            traceback.print_exception(e, limit=-3)
            print(f"{name}: FAILED after {rounds} rounds: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        batch_s = time.monotonic() - t0
        rounds += 1
    print(f"{name}: {rounds * inputs_per_round} inputs in {time.monotonic() - start:.0f}s, no failure")
    return 0
