"""How well `unitax new-dataset` guesses a mapping: hold out each train dataset of the specs
in turn (its whole family: cityscapes-19 also drops cityscapes-19-relabeled and -34 from the
evidence), suggest universal classes for its class names alone, and compare with the curated
mapping. Top-1 / top-3: the curated universal class is the first / among the first three
suggestions, over the dataset's mapped classes (ignored classes are counted apart: how many of them
the draft also proposes to ignore).

    python bench/bench_suggest.py [--specs taxonomy] [--json bench/results/suggest.json]

On the bundled MSeg specs the held-out datasets are MSeg's seven training datasets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(specs: Path) -> dict:
    from unitax.compiler import build
    from unitax.compiler.model import UNIVERSAL
    from unitax.tools.authoring.suggest import IGNORE_BELOW, Suggester, held_out

    model, problems = build.check_specs(specs)
    if model is None:
        raise SystemExit("\n".join(str(p) for p in problems if p.severity == "error"))
    rows = {}
    total = {"classes": 0, "top1": 0, "top3": 0, "ignored": 0, "ignored_proposed": 0}
    for m in model.mappings_of("to_universal"):
        ds = model.spaces[m.source]
        if ds.role != "train" or ds.name.endswith("-relabeled"):
            continue
        sug = Suggester(model, exclude=held_out(model, ds.name))
        uni = model.universal
        r = {"classes": 0, "top1": 0, "top3": 0, "ignored": 0, "ignored_proposed": 0, "misses": []}
        for s, t in m.pairs:
            name, want = ds.classes[s].name, uni.classes[t].name
            got = [c.name for c in sug.suggest(name, 3)]
            r["classes"] += 1
            r["top1"] += got[:1] == [want]
            r["top3"] += want in got
            if got[:1] != [want]:
                r["misses"].append({"class": name, "curated": want, "suggested": got})
        for s in m.ignored:
            best = sug.suggest(ds.classes[s].name, 1)
            r["ignored"] += 1
            r["ignored_proposed"] += not best or best[0].score < IGNORE_BELOW
        for k in total:
            total[k] += r[k]
        r["top1_rate"] = round(r["top1"] / r["classes"], 3) if r["classes"] else None
        r["top3_rate"] = round(r["top3"] / r["classes"], 3) if r["classes"] else None
        r["held_out"] = sorted(held_out(model, ds.name))
        rows[ds.name] = r
    total["top1_rate"] = round(total["top1"] / total["classes"], 3) if total["classes"] else None
    total["top3_rate"] = round(total["top3"] / total["classes"], 3) if total["classes"] else None
    macro1 = [r["top1_rate"] for r in rows.values() if r["top1_rate"] is not None]
    macro3 = [r["top3_rate"] for r in rows.values() if r["top3_rate"] is not None]
    total["macro_top1_rate"] = round(sum(macro1) / len(macro1), 3) if macro1 else None
    total["macro_top3_rate"] = round(sum(macro3) / len(macro3), 3) if macro3 else None
    assert UNIVERSAL not in rows
    return {"datasets": rows, "overall": total}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--specs", type=Path, default=ROOT / "taxonomy")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    res = run(args.specs)
    print(f"  {'held-out dataset':28} {'classes':>7} {'top-1':>7} {'top-3':>7} {'ignored kept':>12}")
    for name, r in res["datasets"].items():
        print(f"  {name:28} {r['classes']:7d} {r['top1_rate']:7.1%} {r['top3_rate']:7.1%} "
              f"{r['ignored_proposed']:5d}/{r['ignored']:<6d}")
    t = res["overall"]
    print(f"  {'overall (all classes)':28} {t['classes']:7d} {t['top1_rate']:7.1%} {t['top3_rate']:7.1%} "
          f"{t['ignored_proposed']:5d}/{t['ignored']:<6d}")
    print(f"  {'mean over datasets':28} {'':7} {t['macro_top1_rate']:7.1%} {t['macro_top3_rate']:7.1%}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
