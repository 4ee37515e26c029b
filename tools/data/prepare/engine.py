"""``unitax prepare``: run one :class:`.plans.Family` row as a batch job (tools/data/batch.py): plan, run.

- :func:`plan`: MSeg's lists of every space of the family (or derived ones, :mod:`.derive`) -> one
  :class:`.step.PrepTask` per sample (native sources, the outputs of every space, the relabel
  records of its image, the image to link/copy), what is missing from the download, and what an
  earlier run of this job finished; its :class:`.step.PrepJob` is the step.
- :func:`run`: the batch runner on the plan (all cores, or a Dask cluster; atomic writes;
  OUT_ROOT's stamp, lock, ledger and failures TSV), then the split lists.
- :mod:`.verify` re-reads a prepared OUT_ROOT.

NATIVE_ROOT is only read. OUT_ROOT must be absent, empty or an earlier prepare job's (the batch
job store: a stamp naming ``unitax prepare``; a folder of another job is refused).
"""
from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ....fileops.atomic import write_atomic
from ....fileops.datapath import DataPathError, Root
from ....relabel import Relabel, Segments
from ..batch import BatchError, Outcome, Progress, Summary, Work, check_dst, job_id, overlaps, read_ledger
from ..batch import run as batch_run
from ..records import SPLIT_WORDS, RecordReport, record_report
from .derive import Lists, coco_train_lists, derive_lists
from .errors import NativeFormatError, PrepareError
from .plans import FAMILIES, Family
from .polygon_relabel import DEFAULT_RULE, RULES, PaintStats, PaintTotals
from .step import PrepJob, PrepTask, done

TOOL = "unitax prepare"
LIST_DIR = "list"

__all__ = ["LIST_DIR", "TOOL", "Lists", "Plan", "PrepareError", "family", "find_base", "plan", "run"]


@dataclass
class Plan:
    """A family's job and the work left (``tasks``), with what planning found and, after :func:`run`, what it did."""

    job: PrepJob
    family: Family
    native: Path
    base: Path
    dst: Path
    lists: Lists
    tasks: list[PrepTask]
    files: int
    skipped: int
    failed: list[Outcome]
    missing: Counter[str] = field(default_factory=Counter)   # split -> label sources absent
    expected: Counter[str] = field(default_factory=Counter)  # split -> samples with labels
    samples: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (space, split) -> rel per line
    records: dict[str, RecordReport] = field(default_factory=dict)   # relabeled space -> what its records matched
    notes: list[str] = field(default_factory=list)
    stamp: dict[str, Any] = field(default_factory=dict)
    job_id: str = ""
    partial: bool = False
    present: set[str] = field(default_factory=set)   # rel of every sample whose sources are there
    relabels: dict[str, Relabel] = field(default_factory=dict)      # relabeled space -> its records
    matched: dict[str, list[tuple[str, Segments]]] = field(default_factory=dict)   # space -> (sample rel, hit)
    # after run(): per relabeled space, what the records did in the samples written by this run;
    # and per space, the label files written
    painted: dict[str, PaintTotals] = field(default_factory=dict)
    written: Counter[str] = field(default_factory=Counter)

    def work(self) -> Work[PrepTask]:
        """What the batch runner needs: the step, the tasks, OUT_ROOT and its stamp."""
        return Work(self.job, self.tasks, self.dst, self.stamp, self.files, self.skipped, self.failed)


def family(name: str) -> Family:
    """The plan row of dataset ``name``; PrepareError naming the known ones."""
    if name not in FAMILIES:
        raise PrepareError(f"unknown dataset {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def find_base(fam: Family, native: Path) -> Path:
    """The folder of ``native`` where MSeg's list paths resolve; refuses releases it does not know."""
    if not native.is_dir():
        raise PrepareError(f"{native} is not a folder")
    for cand in fam.bases:
        base = native / cand
        for path, what in fam.other_versions.items():
            if (native / path).exists() or (base / path).exists():
                raise PrepareError(f"{native}: found {path}, {what}; refusing to guess (`unitax prepare --list` "
                                   f"says what {fam.name} expects)")
    for cand in fam.bases:
        base = native / cand
        if base.is_dir() and (not fam.marker or next(base.glob(fam.marker), None) is not None):
            return base
    where = " or ".join(f"{native / b}" if b != "." else str(native) for b in fam.bases)
    raise PrepareError(f"{native}: no {fam.name} download recognised: expected {where}"
                       + (f" holding {fam.marker}" if fam.marker else "")
                       + f" ({fam.download})")


def sample_key(fam: Family, label: str) -> str:
    """The image key of the relabel records of a list's label path."""
    parts = PurePosixPath(label).with_suffix("").parts[-fam.key_parts:]
    key = "/".join(parts)
    if fam.key_strip:
        key = re.sub(fam.key_strip, "", key)
    if fam.key_format and key.isdigit():
        key = fam.key_format.format(int(key))
    return key


def record_split(fam: Family, label: str) -> str | None:
    """The relabel records' split a label path's folders name (None: none)."""
    for part in PurePosixPath(label).parts[:-1]:
        w = fam.record_splits.get(part) or SPLIT_WORDS.get(part.lower())
        if w:
            return fam.record_splits.get(w, w)
    return None


#: sha256 of lists whose every line passed check_line (a pure function of the lines): prepare and its
#: --verify check the same MSeg lists again on each run in one process
_PASSED: set[bytes] = set()


def check_lists(lists: Lists, source: str) -> None:
    """Every line of every list is '<image path>[ <label path>]' of plain relative paths; PrepareError
    naming the list and line of the first that is not (a path from data never leaves its root)."""
    from .lists import check_line
    for (space, split), lines in sorted(lists.items()):
        digest = hashlib.sha256(ascii(lines).encode("ascii")).digest()   # unambiguous: a line's own \n is escaped
        if digest in _PASSED:
            continue
        for i, line in enumerate(lines, 1):
            try:
                check_line(line)
            except DataPathError as e:
                raise PrepareError(f"{source} {space}/{split} list, line {i}: {e}; refusing to run") from None
        if len(_PASSED) >= 4096:
            _PASSED.clear()
        _PASSED.add(digest)


def _join(root: Root, text: str, rel: str) -> str:
    """``str(root / text)``, confined to ``root`` (:mod:`unitax.fileops.datapath`); PrepareError naming the
    sample. A string, built without pathlib: the plan joins every line of the dataset's lists."""
    try:
        return root.join_str(text, "output path" if root.links == "inside" else "native path")
    except DataPathError as e:
        raise PrepareError(f"sample {ascii(rel)}: {e}; refusing to run") from None


def plan(tax: Any, dataset: str, native: str | os.PathLike[str], out: str | os.PathLike[str], *, images: str = "link",
         partial: bool = False, overwrite: bool = False, lists: Lists | None = None,
         compress_level: int = 6, derive: bool = False, relabel_polygons: str = DEFAULT_RULE) -> Plan:
    """The job of preparing ``dataset`` from ``native`` into ``out``: one task per sample of the lists still
    to do; samples missing from the download are failures (or, with ``partial``, counted); PrepareError
    when the job cannot start."""
    fam = family(dataset)
    native, dst = Path(native), Path(out)
    if images not in ("link", "copy", "none"):
        raise PrepareError(f"--images must be link, copy or none, not {images!r}")
    if relabel_polygons not in RULES:
        raise PrepareError(f"--relabel-polygons must be {' or '.join(RULES)}, not {relabel_polygons!r}")
    base = find_base(fam, native)
    try:
        check_dst(dst)
    except BatchError as e:
        raise PrepareError(str(e)) from None
    if overlaps(native, dst):
        raise PrepareError(f"{dst} and {native} overlap; NATIVE_ROOT is only read: write elsewhere")
    notes: list[str] = []
    if derive:
        lists, notes = derive_lists(fam, base)
    elif lists is None:
        from .lists import load_lists
        lists = load_lists()
    lists = {k: v for k, v in lists.items() if k[0] in fam.all_spaces or k[0] in fam.copies}
    if fam.name == "coco-panoptic":
        derived = coco_train_lists(lists, base, [*fam.all_spaces, *fam.copies])
        if derived:
            notes.append(f"train lists of {', '.join(derived)} derived from annotations/panoptic_train2017.json "
                         "(sorted by file name; the MSeg reference lacks them)")
    check_lists(lists, "derived" if derive else "MSeg's")
    # tables from the root space
    luts: dict[str, np.ndarray] = {}
    for space in fam.all_spaces:
        chain = [space]
        while chain[-1] != fam.root:
            chain.append(fam.spaces[chain[-1]])
        luts[space] = tax.chain_lut(chain[::-1])
    colors = None
    if fam.reader in ("rgb", "palette"):
        colors = np.asarray(tax.own_colors(fam.root), dtype=np.uint8)
    job = PrepJob(fam.name, fam.reader, fam.segments, len(tax.names(fam.root)), tax.ignore_index(fam.root),
                  tuple(tax.names(fam.root)), colors, luts, images, compress_level,
                  copy_root=fam.root if fam.reader == "grey" else "", polygon_rule=relabel_polygons)
    relabels = {s: tax.relabel(s) for s in fam.spaces if s in tax.relabel_datasets}
    h = hashlib.sha256()
    for s in sorted(luts):
        h.update(s.encode() + luts[s].tobytes())
    for s in sorted(relabels):
        h.update(relabels[s].sha256.encode())
    stamp = {"tool": TOOL, "dataset": fam.name, "native": str(native.resolve()), "spaces": fam.all_spaces,
             "images": images, "partial": partial, "compress_level": compress_level, "tables_sha256": h.hexdigest()}
    if derive:   # only then: the stamps (and job ids) of MSeg-list runs stay what they were
        stamp["lists"] = "derive"
    if fam.segments == "polygons":   # the rule shapes the relabeled outputs: another rule is another job
        stamp["relabel_polygons"] = relabel_polygons
    jid = job_id(stamp)
    ledger = {} if overwrite else read_ledger(dst, jid)

    coco_ann: dict[str, dict[str, list[dict[str, Any]]]] = {}
    seg_index: dict[str, list[Path]] = {}
    if fam.segments == "ade-full":
        from .readers.ade20k_full import seg_index as full_seg_index
        seg_index = full_seg_index(native)

    # samples: one per root label path (or per image for label-less test lines)
    by_rel: dict[str, dict[str, Any]] = {}
    samples: dict[tuple[str, str], list[str]] = {}
    splits = sorted({sp for (s, sp) in lists if s == fam.root})
    for split in splits:
        root_lines = lists[(fam.root, split)]
        per_space = {s: lists.get((s, split)) for s in [*fam.all_spaces, *fam.copies]}
        for s, ls in per_space.items():
            if ls is not None and len(ls) != len(root_lines):
                raise PrepareError(f"MSeg's {s}/{split} list has {len(ls)} lines, {fam.root}'s {len(root_lines)}")
        for i, line in enumerate(root_lines):
            parts = line.split(" ")
            image, label = parts[0], (parts[1] if len(parts) > 1 else None)
            rel = label or image
            ent = by_rel.setdefault(rel, {"image": image, "label": label, "outs": {}, "split": split})
            for s, ls in per_space.items():
                if ls is None:
                    continue
                sp = ls[i].split(" ")
                if len(sp) > 1:
                    ent["outs"][s] = sp[1]
                samples.setdefault((s, split), []).append(rel)
    tasks: list[PrepTask] = []
    failed: list[Outcome] = []
    missing: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    nat, outr = Root(base, "follow"), Root(dst, "inside")   # NATIVE_ROOT is only read; OUT_ROOT is written
    matched: dict[str, list[tuple[str, Segments]]] = {s: [] for s in relabels}   # (sample rel, hit)
    skipped = 0
    present: set[str] = set()
    absent: set[str] = set()
    for rel, ent in by_rel.items():
        label, image, split = ent["label"], ent["image"], ent["split"]
        label_src = seg_src = None
        info = None
        if label is not None:
            pat, rep = fam.label_src
            label_src = _join(nat, re.sub(pat, rep, label), rel)
            if not os.path.isfile(label_src):
                absent.add(rel)
                if not partial:
                    failed.append(Outcome(rel, False, f"missing from the download: {label_src}"))
                continue
            if fam.reader == "coco":
                jname = PurePosixPath(label_src).parent.name + ".json"
                if jname not in coco_ann:
                    from .readers.coco_panoptic import load_annotations
                    jp = base / "annotations" / jname
                    try:
                        coco_ann[jname] = load_annotations(jp)
                    except NativeFormatError as e:
                        raise PrepareError(str(e)) from None
                segs = coco_ann[jname].get(PurePosixPath(label_src).name)
                info = tuple(segs) if segs is not None else None
        img_src = _join(nat, image, rel)
        imgs: tuple[tuple[str, str], ...] = ()
        if images != "none":
            if not os.path.isfile(img_src):
                if label is None:
                    absent.add(rel)
                    if not partial:
                        failed.append(Outcome(rel, False, f"missing from the download: image {img_src}"))
                    continue
                if not partial:
                    failed.append(Outcome(rel, False, f"missing from the download: image {img_src}"))
                    continue
            else:
                imgs = ((img_src, _join(outr, image, rel)),)
        recs = []
        if label is not None and relabels:
            key, rsplit = sample_key(fam, label), record_split(fam, label)
            for s, rl in relabels.items():
                hit = rl.segments(key, rsplit) if rsplit else None
                if hit is not None:
                    recs.append((s, np.asarray(hit.segment_ids), np.asarray(hit.classes), np.asarray(hit.records)))
                    matched[s].append((rel, hit))
            if recs and fam.seg_src[0]:
                seg_src = _join(nat, re.sub(fam.seg_src[0], fam.seg_src[1], label), rel)
            elif recs and fam.segments == "ade-full":
                from .readers.ade20k_full import ambiguous_seg
                found = seg_index.get(PurePosixPath(label).stem, [])
                if len(found) > 1:
                    failed.append(Outcome(rel, False, ambiguous_seg(PurePosixPath(label).stem, found)))
                    continue
                seg_src = str(found[0]) if found else None
            if recs and fam.segments in ("ade-full", "instances") or (recs and fam.segments == "polygons"
                                                                      and fam.reader != "polygons"):
                if seg_src is None or not os.path.isfile(seg_src):
                    failed.append(Outcome(rel, False, f"missing from the download: the segment file "
                                                         f"{seg_src or PurePosixPath(label).stem + '_seg.png'} that "
                                                         "relabel records need"))
                    continue
        outs = tuple((s, _join(outr, p, rel)) for s, p in sorted(ent["outs"].items()) if s not in fam.copies)
        copies = () if label_src is None else tuple((label_src, _join(outr, p, rel))
                                                    for s, p in sorted(ent["outs"].items())
                                                    if s in fam.copies)
        t = PrepTask(rel, label_src, seg_src, info, outs, tuple(recs), imgs, copies)
        present.add(rel)
        if not (t.outputs or t.copies or t.images):   # an image-only line with --images none: nothing to write
            continue
        if done(t, ledger.get(rel)):
            skipped += 1
            continue
        tasks.append(t)
    for (space, split), rels in samples.items():   # per split of MSeg's lists (a sample may be in several)
        if space == fam.root:
            for rel in rels:
                what = split if by_rel[rel]["label"] is not None else f"{split} (images)"
                expected[what] += 1
                missing[what] += rel in absent
    bad = {o.rel for o in failed}
    records = {s: record_report(rl, None, [h for r, h in matched[s] if r not in bad], True)
               for s, rl in relabels.items()}
    return Plan(job, fam, native, base, dst, lists, tasks, len(by_rel), skipped, failed, missing, expected,
                samples, records, notes, stamp, jid, partial, present, relabels=relabels, matched=matched)


def run(p: Plan, *, workers: int | None = None, scheduler: str | None = None, progress: Progress | None = None,
        overwrite: bool = False) -> Summary:
    """Write every task (tools/data/batch.py's runner: pool or Dask, ledger, failures TSV), then the lists."""
    painted: dict[str, PaintTotals] = {}
    labels_of = {t.rel: t.outputs for t in p.tasks}

    def collect(outcomes: list[Outcome]) -> None:
        for o in outcomes:
            if not o.ok:
                continue
            for space, _ in labels_of.get(o.rel, ()):
                p.written[space] += 1
            for space, st in ((o.ident or {}).get("relabel") or {}).items():
                painted.setdefault(space, PaintTotals()).count(PaintStats(**st))

    summary = batch_run(p.work(), workers=workers, scheduler=scheduler, progress=progress, overwrite=overwrite,
                        on_batch=collect)
    p.painted = painted
    bad = {o.rel for o in summary.failed}
    p.records = {s: record_report(rl, None, [h for r, h in p.matched.get(s, []) if r not in bad], True)
                 for s, rl in p.relabels.items()}
    ok = p.present - bad
    for (space, split), rels in sorted(p.samples.items()):
        lines = [line for line, rel in zip(p.lists[(space, split)], rels, strict=True) if rel in ok]
        path = p.dst / space / LIST_DIR / f"{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(line + "\n" for line in lines)
        write_atomic(path, data)
    return summary


def failure_kinds(failed: list[Outcome]) -> list[tuple[str, int, Outcome]]:
    """Failures grouped by the kind of their reason (the reason without its file, paths, numbers, quoted
    names and colours), most frequent first: (kind, count, first failure of that kind)."""
    groups: dict[str, list[Outcome]] = {}
    for o in failed:
        reason = o.reason
        head, sep, rest = reason.partition(": ")
        if sep and ("/" in head or os.sep in head or "." in head):   # 'PATH: REASON'
            reason = rest
        kind = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
        kind = re.sub(r"[^\s'\"]*/[^\s'\"]*", "PATH", kind)
        kind = re.sub(r"\([^()]*\d[^()]*\)", "(…)", kind)
        kind = re.sub(r"\d+", "N", kind)
        groups.setdefault(kind, []).append(o)
    return sorted(((k, len(v), v[0]) for k, v in groups.items()), key=lambda g: (-g[1], g[0]))
