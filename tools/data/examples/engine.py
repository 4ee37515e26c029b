"""``unitax examples``: plan and run the three phases (scan, pick, render) as one batch job, then the index.

The examples folder is a batch job's output folder (tools/data/batch.py): absent, empty or an
earlier ``unitax examples`` job's (its stamp names the trees, the taxonomy's fingerprint, the
options and the Pillow version, since JPEG bytes may differ between the JPEG libraries Pillow
bundles); a rerun of the same job skips every scan chunk and render task whose part file and
sources are unchanged. Then the size budget: while the pictures listed exceed it, picks are
dropped, the last-ranked first (dataset overlays, then union classes, relabel pairs, class picks
within one rank), their files removed, and the report says how many and which kinds.
"""
from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ....fileops import jsonio
from ..batch import BatchError, Progress, Summary, Work, check_dst, job_id, overlaps, read_ledger
from ..batch import run as batch_run
from . import index as index_mod
from .pick import Pick, picks
from .render import FULL, QUALITY, THUMB, Item, RenderJob, RenderTask, full_name, render_done
from .scan import CHUNK, ExamplesError, Sample, ScanJob, ScanTask, Shown, find_shown, scan_done

TOOL = "unitax examples"
PARTS = "parts"
#: the default size budget: 25 MB (10^6) for the whole MSeg taxonomy at K = 3
BUDGET = 25_000_000
PART_LIMIT = 64 << 20
DROP_ORDER = {"dataset": 0, "union": 1, "relabel": 2, "class": 3}


@dataclass
class Report:
    """What a run did: per phase its batch summary; the pictures kept and dropped; problems found in the data."""

    shown: list[Shown]
    notes: list[str]
    scan: Summary | None = None
    render: Summary | None = None
    pictures: Counter[str] = field(default_factory=Counter)     # kind -> pictures kept
    bytes: int = 0
    dropped: Counter[str] = field(default_factory=Counter)      # kind -> picks dropped for the budget
    dropped_bytes: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    budget: int = BUDGET

    @property
    def interrupted(self) -> bool:
        return any(s is not None and s.interrupted for s in (self.scan, self.render))


def run(tax: Any, trees: list[Path], dst: Path, *, per_class: int = 3, budget: int = BUDGET, overlays: bool = False,
        spaces: tuple[str, ...] = (), workers: int | None = None, progress: bool = True,
        overwrite: bool = False) -> Report:
    """The examples of every universal class from ``trees`` into ``dst``; ExamplesError when it cannot start."""
    import PIL

    start = time.monotonic()
    if per_class < 1:
        raise ExamplesError("--per-class must be at least 1")
    try:
        check_dst(dst)
    except BatchError as e:
        raise ExamplesError(str(e)) from None
    for tree in trees:
        if overlaps(tree, dst):
            raise ExamplesError(f"{dst} and {tree} overlap; the trees are only read: write elsewhere")
    shown, samples, notes = find_shown(tax, trees, spaces)
    tree_names = [tree.resolve().name for tree in trees]
    stamp = {"tool": TOOL, "trees": [str(tree.resolve()) for tree in trees], "spaces": [s.space for s in shown],
             "per_class": per_class, "budget": budget, "overlays": overlays, "thumb": THUMB, "quality": QUALITY,
             "taxonomy": tax.fingerprint, "pillow": PIL.__version__}
    report = Report(shown, notes, budget=budget)
    jid = job_id(stamp)
    luts = {d: np.asarray(tax.lut(d)) for s in shown for d in (s.space, *((s.base,) if s.base else ()))}

    # phase 1: scan
    ledger = {} if overwrite else read_ledger(dst, jid)
    tasks: list[ScanTask] = []
    chunks: dict[str, list[ScanTask]] = {}
    for sh in shown:
        ss = samples[sh.space]
        chunks[sh.space] = []
        for i in range(0, len(ss), CHUNK):
            t = ScanTask(f"scan/{sh.space}/{i // CHUNK:05d}", sh.space,
                         tuple((str(trees[s.tree] / s.label),
                                None if s.base_label is None else str(trees[s.tree] / s.base_label))
                               for s in ss[i: i + CHUNK]),
                         str(dst / PARTS / "scan" / sh.space / f"{i // CHUNK:05d}.json"))
            chunks[sh.space].append(t)
            if not scan_done(t, ledger.get(t.rel)):
                tasks.append(t)
    n_all = sum(len(v) for v in chunks.values())
    step = ScanJob(luts, {d: tax.ignore_index(d) for d in luts}, {s.space: s.base for s in shown if s.base})
    work = Work(step, tasks, dst, stamp, n_all, n_all - len(tasks))
    report.scan = _run(work, workers, progress, overwrite, "examples: scan")
    if report.scan.interrupted or report.scan.failed:
        report.seconds = time.monotonic() - start
        return report

    # phase 2: pick (the parts read one at a time, so memory holds the picks, not every sample's row)
    def rows(space: str) -> Iterator[tuple[Sample, dict[str, Any]]]:
        ss = samples[space]
        for t in chunks[space]:
            got = _read_part(Path(t.part))
            found = got.get("rows")
            if not isinstance(found, list) or len(found) != len(t.samples):
                raise ExamplesError(f"{t.part}: not the part file of its samples; rerun with --overwrite")
            report.problems.extend(_errors(got))
            first = int(t.rel.rsplit("/", 1)[1]) * CHUNK
            for s, r in zip(ss[first: first + len(found)], found, strict=True):
                yield s, (r if isinstance(r, dict) else {})

    chosen = picks(tax, shown, rows, tree_names, per_class)

    # phase 3: render
    of_space: dict[str, Shown] = {}
    for sh in shown:
        of_space[sh.space] = sh
        if sh.base:
            of_space.setdefault(sh.base, sh)
    by_task: dict[str, list[Item]] = defaultdict(list)
    for p in chosen:
        by_task[p.task].append(_item(p, of_space, trees, overlays))
    rtasks = [RenderTask(rel, tuple(items), str(dst / PARTS / (rel + ".json")), str(dst))
              for rel, items in sorted(by_task.items())]
    ledger = read_ledger(dst, jid)
    todo = [t for t in rtasks if not render_done(t, ledger.get(t.rel))]
    colors = {d: np.asarray(tax.colors(d), np.uint8) for d in luts}
    rjob = RenderJob(np.asarray(tax.colors("universal"), np.uint8), colors, luts, tax.ignore_index("universal"))
    report.render = _run(Work(rjob, todo, dst, stamp, len(rtasks), len(rtasks) - len(todo)), workers, progress,
                         False, "examples: render")
    if report.render.interrupted or report.render.failed:
        report.seconds = time.monotonic() - start
        return report

    # the budget, then the index
    sizes: dict[str, int] = {}
    for rt in rtasks:
        got = _read_part(Path(rt.part))
        files = got.get("files")
        if isinstance(files, dict):
            sizes.update((k, v) for k, v in files.items() if isinstance(v, int))
        report.problems += _errors(got)

    def cost(p: Pick) -> int:
        return sizes.get(p.file, 0) + sizes.get(full_name(p.file), 0)

    kept = [p for p in chosen if p.file in sizes]
    total = sum(cost(p) for p in kept)
    drop: set[str] = set()
    if total > budget:
        for p in sorted(kept, key=lambda p: (-p.rank, DROP_ORDER[p.kind], p.task, p.file), reverse=False):
            if total <= budget:
                break
            drop.add(p.file)
            total -= cost(p)
            report.dropped[p.kind] += 1
            report.dropped_bytes += cost(p)
    for p in kept:
        if p.file in drop:
            for f in (p.file, full_name(p.file)):
                try:
                    os.unlink(dst / f)
                except FileNotFoundError:
                    pass
    kept = [p for p in kept if p.file not in drop]
    for p in kept:
        for f in (p.file, *((full_name(p.file),) if full_name(p.file) in sizes else ())):
            if not (dst / f).is_file():
                report.problems.append(f"{dst / f}: listed by its part file but missing; rerun with --overwrite")
        report.pictures[p.kind] += 1
    report.bytes = total
    index = index_mod.build(tax, shown, kept, sizes, trees, tree_names, per_class, budget, report.dropped)
    index_mod.write(dst, index)
    report.seconds = time.monotonic() - start
    return report


def _run(work: Work[Any], workers: int | None, progress: bool, overwrite: bool, name: str) -> Summary:
    bar = Progress(len(work.tasks), enabled=progress, name=name)
    try:
        return batch_run(work, workers=workers, progress=bar, overwrite=overwrite)
    except BatchError as e:
        raise ExamplesError(str(e)) from None


def _errors(part: dict[str, Any]) -> list[str]:
    """The samples a step could not read, as 'path: reason' lines."""
    errs = part.get("errors")
    return [f"{x[1]}" if isinstance(x, list) and len(x) == 2 else str(x)
            for x in (errs if isinstance(errs, list) else [])]


def _read_part(path: Path) -> dict[str, Any]:
    try:
        data = jsonio.load(path, max_bytes=PART_LIMIT)
    except (OSError, ValueError) as e:
        raise ExamplesError(f"{path}: cannot read this job's part file ({e}); rerun with --overwrite") from None
    if not isinstance(data, dict):
        raise ExamplesError(f"{path}: not a part file; rerun with --overwrite")
    return data


def _item(p: Pick, of_space: dict[str, Shown], trees: list[Path], overlays: bool) -> Item:
    sh = of_space[p.space]
    s: Sample = p.sample
    root = trees[s.tree]
    image = str(root / s.image)
    label = s.label if p.space == sh.space else s.base_label
    assert label is not None
    if p.kind == "relabel":
        assert s.base_label is not None and sh.base is not None
        return Item("relabel", p.file, str(root / s.base_label), image, sh.base, p.cid, p.box,
                    label2=str(root / s.label), space2=sh.space, cid2=p.cid2)
    return Item(p.kind, p.file, str(root / label), image, p.space, p.cid, p.box,
                full=overlays and p.kind in ("class", "union"))


__all__ = ["BUDGET", "FULL", "Report", "TOOL", "run"]
