"""Concurrency (issue 20, class 9): readers and compiles of one output folder at the same time.

- ``unitax.load(OUT)`` while another process recompiles into OUT sees one whole build, the old
  or the new, never a torn mix ("sha256 differs from the manifest", "listed ... but missing").
- Compiles into one OUT at once all succeed: none removes the temporary folder another is
  still writing as a leftover, and the swaps take turns; OUT ends as one whole build and no
  temporary folder is left.

Real processes, bounded loops (a fixed number of loads and swaps), no timed assertions; the three
cases that start several processes, each compiling again and again, are ``slow`` (``make test``
runs them, ``make test-fast`` keeps the leftover case). The
specs are small ones of the cases' own (variants differ in one definition, so that every
compile changes the output), written under the case folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support.hostile import Case

import unitax
from unitax import UnitaxError
from unitax.compiler import build, outputs
from unitax.tools.authoring import importer

UNIVERSAL = ("road", "car", "person", "sky")
VARIANTS = ("a", "b", "c")
#: datasets per taxonomy: each adds tables that a load reads (more chances to meet a swap)
N_DATASETS = 6


def write_specs(root: Path, variant: str) -> Path:
    """A 4-class taxonomy with ``N_DATASETS`` train datasets; each variant orders their classes
    differently, so that the tables (and taxonomy.json) of two variants differ."""
    specs = root / f"specs-{variant}"
    uni = [{"name": n, "parent": "thing", "synset": f"{n}.n.01", "wordnet_modified": False} for n in UNIVERSAL]
    k = VARIANTS.index(variant)
    names = list(UNIVERSAL[k:] + UNIVERSAL[:k])
    files = {"universal.yaml": importer.render_universal(uni, {n: f"A {n}." for n in UNIVERSAL})}
    for d in range(N_DATASETS):
        files[f"datasets/city{d}.yaml"] = importer.render_dataset(importer.Space(f"city{d}", "train", names))
        files[f"mappings/city{d}_to_universal.yaml"] = importer.render_mapping(importer.MappingSpec(
            f"city{d}", "universal", [(n, n) for n in names], [], [], "one to one"))
    for rel, text in files.items():
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        (specs / rel).write_text(text, encoding="utf-8")
    return specs


def _setup(root: Path) -> None:
    for v in VARIANTS:
        write_specs(root, v)
    build.compile_taxonomy(root / "specs-a", root / "out")


def _run(code: str, root: str, *args: str) -> subprocess.Popen[str]:
    """``code`` in a Python process that works in the case's folder ``root`` (its first argument)."""
    return subprocess.Popen([sys.executable, "-c", code, root, *args], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


# A writer: renders variants a and b once, then swaps them into OUT in turn, SWAPS times, through
# the real compile (compile_taxonomy; only its pure render step is replaced by the result
# computed first).
SWAPPER = r'''
import sys
from pathlib import Path
from unitax.compiler import build
root, swaps = Path(sys.argv[1]), int(sys.argv[2])
done = [build.render(root / f"specs-{v}") for v in ("b", "a")]
(root / "ready").write_text("")
for i in range(swaps):
    build.render = lambda specs, cache_dir=None: done[i % 2]
    assert build.compile_taxonomy(root / "specs-a", root / "out").changed
print(f"swaps {swaps}")
'''

#: builds the writer swaps in while the reader loads
SWAPS = 40


def load_while_swapping(root: Path) -> dict[str, Any]:
    """Load OUT again and again while another process swaps ``SWAPS`` builds into it."""
    writer = _run(SWAPPER, str(root), str(SWAPS))
    failures: list[str] = []
    loads = 0
    try:
        while writer.poll() is None and not (root / "ready").exists():
            time.sleep(0.01)  # the writer renders first
        while writer.poll() is None:
            try:
                unitax.load(root / "out")
            except UnitaxError as e:
                failures.append(str(e))
            loads += 1
    finally:
        out, _ = writer.communicate(timeout=600)
    return {"writer": writer.returncode, "writer_output": out[-2000:], "loads": loads, "failures": failures[:3],
            "n_failures": len(failures)}


# One compiling process: renders its variant once, then compiles it into OUT ROUNDS times
# (every compile changes OUT, since the others compile other variants in between).
COMPILER = r'''
import sys
from pathlib import Path
from unitax.compiler import build
root, variant, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
done = build.render(root / f"specs-{variant}")
build.render = lambda specs, cache_dir=None: done
for _ in range(rounds):
    build.compile_taxonomy(root / f"specs-{variant}", root / "out")
'''


def _whole(root: Path) -> dict[str, Any]:
    """The state of OUT after the compiles: which variant it holds, leftovers beside it."""
    tree = build.read_tree(root / "out")
    variants = [v for v in VARIANTS if build.render(root / f"specs-{v}")[1] == tree]
    return {"holds": variants, "leftovers": [p.name for p in outputs.leftovers(root / "out")],
            "others": sorted(p.name for p in root.iterdir() if p.name.startswith(outputs.TMP_PREFIX)
                             and not p.name.endswith(".lock"))}


def concurrent_compiles(root: Path) -> dict[str, Any]:
    """Three processes compile three variants into one OUT, 10 times each, at the same time."""
    procs = [_run(COMPILER, str(root), v, "10") for v in VARIANTS]
    results = [(p.returncode, out[-2000:]) for p in procs for out in [p.communicate(timeout=600)[0]]]
    return {"exits": [rc for rc, _ in results], "errors": [o for rc, o in results if rc], **_whole(root)}


def concurrent_cli_compiles(root: Path) -> dict[str, Any]:
    """Three `unitax compile` commands, one per variant, started together into one OUT."""
    exe = str(Path(sys.executable).with_name("unitax"))
    procs = [subprocess.Popen([exe, "compile", "--specs", str(root / f"specs-{v}"), "--out", str(root / "out")],
                              cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for v in VARIANTS]
    results = [(p.returncode, out[-2000:]) for p in procs for out in [p.communicate(timeout=600)[0]]]
    return {"exits": [rc for rc, _ in results], "errors": [o for rc, o in results if rc], **_whole(root)}


def _all_whole(r: dict[str, Any]) -> bool:
    return r["exits"] == [0, 0, 0] and len(r["holds"]) == 1 and r["leftovers"] == [] and r["others"] == []


def _live_owner_kept(root: Path) -> Any:
    """A temporary folder whose owner runs (the process that started this test run) is no
    leftover; one whose owner is gone is, and the next compile removes only that one."""
    work = root / "work"
    live = work / f"{outputs.TMP_PREFIX}out-abcdefgh.{os.getppid()}"
    dead = work / f"{outputs.TMP_PREFIX}out-ijklmnop.{_dead_pid()}"
    for d in (live, dead):
        (d / "tables").mkdir(parents=True)
    found = outputs.leftovers(work / "out")
    build.compile_taxonomy(root / "specs-b", work / "out")
    return {"found": found, "dead": dead, "dead_removed": not dead.exists(), "live_kept": live.is_dir()}


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


CASES: list[Case] = [
    Case(name="concurrency/load-while-recompiling", klass="concurrency", setup=_setup, call=load_while_swapping,
         check=lambda r: r["writer"] == 0 and r["failures"] == [], outputs=("out", "ready"), slow=True),
    Case(name="concurrency/three-compiles-one-output", klass="concurrency", setup=_setup, call=concurrent_compiles,
         check=_all_whole, outputs=("out", ".unitax-build-out.lock"), slow=True),
    Case(name="concurrency/three-cli-compiles-one-output", klass="concurrency", setup=_setup,
         call=concurrent_cli_compiles, check=_all_whole, outputs=("out", ".unitax-build-out.lock"), slow=True),
    Case(name="concurrency/leftover-of-a-live-compile-kept", klass="concurrency", setup=_setup,
         call=_live_owner_kept,
         check=lambda r: r["found"] == [r["dead"]] and r["dead_removed"] and r["live_kept"], outputs=("work",)),
]
