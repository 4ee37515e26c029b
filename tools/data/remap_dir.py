"""`unitax remap-dir`: rewrite a tree of label images through compiled tables, resumably, in parallel.

A library (no click) and a batch job (tools/data/batch.py): :func:`plan` turns a source tree, a target
tree and two label spaces into a :class:`Plan` — the composed look-up tables (a path of compiled
tables, e.g. ade20k-151 -> ade20k-150 -> ade20k-150-relabeled), the relabel records to apply
(tools/data/records.py), and one :class:`Task` per label file still to write; its :class:`Job` is the
step that writes one file; :func:`run` hands both to the batch runner (all local cores, or a
running Dask cluster) and returns its :class:`~unitax.tools.data.batch.Summary`.

Guarantees:

- SRC (and the segment maps) are only read. Each output is written to a temporary file beside
  its final name and renamed over it (runtime/fileops/atomic.py), so an output file is either absent or
  complete, whenever the run is killed.
- DST must be absent, empty, or an earlier remap-dir job's (the job store of tools/data/batch.py:
  ``.unitax-remap.json``); anything else is refused untouched, also with ``overwrite``.
- Resume: a file counts as done only if this job (the stamp: label spaces, tables, relabel
  records, output) wrote it from this very source: the ledger records the source's (and segment
  map's) size, mtime_ns and sha256 and the output's size and mtime_ns. This covers killed
  processes; after a power loss, outputs renamed but not yet flushed may be truncated (rerun
  with ``overwrite``).
- The walk (tools/data/batch.py) follows symlinked folders once each and reports loops, broken
  links and special files as failed entries; files the pattern leaves out are counted.
- Label files are checked from their own header (tools/data/labelio.py): lossless PNG (or
  TIFF/BMP so named), 8/16-bit single-channel ids or the source's RGB colours.
- Relabel records: every run with segment maps reports how many records, segments and images
  matched files; images with records that match no file make the run fail unless SRC is a
  subset (``split`` or ``partial``). Dataset-specific naming is in ``records.RECORD_LAYOUTS``.
- A bad file (not an image, a mode that holds no label ids, values outside the source taxonomy,
  a missing segment map or segment) fails alone, with its reason; the others go on.

Workers need only numpy and Pillow (and this package importable); on a cluster they must see
SRC, DST and the segment maps at the same paths (a shared file system).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import UnknownDatasetError
from ...fileops.datapath import DataPathError, Root
from ...format import label_dtype, lut_size
from ...relabel import Relabel, Segments
from . import batch
from .batch import Outcome, Progress, Summary
from .records import DEFAULT_KEY_SUFFIX, RecordReport, image_key, match, record_report, segment_index
from .remap_step import Job, Task


class RemapDirError(batch.BatchError):
    """The job cannot start (bad arguments, unknown label spaces, SRC/DST overlap, a locked DST)."""


# ----- planning (the client side: needs the compiled taxonomy) ----------------------------------


@dataclass
class Plan:
    """A job and the work left: ``tasks`` to run; the rest already decided."""

    job: Job
    src: Path
    dst: Path
    route: list[str]
    relabel_dataset: str | None
    files: int  # label files found in SRC
    tasks: list[Task]
    skipped: int  # outputs already there from an earlier run
    failed: list[Outcome]  # files refused while planning (ambiguous split, no segment map, ...)
    notes: list[str] = field(default_factory=list)
    stamp: dict[str, Any] = field(default_factory=dict)
    others: int = 0  # files below SRC the pattern left out
    job_id: str = ""
    records: RecordReport | None = None  # what the relabel records matched

    def work(self) -> batch.Work[Task]:
        """What the batch runner needs: the step, the tasks, DST and its stamp."""
        return batch.Work(self.job, self.tasks, self.dst, self.stamp, self.files, self.skipped, self.failed)


def _color_table(colors: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Sorted RGB codes and their ids; a colour two classes share decodes to neither."""
    if colors is None:
        return None, None
    codes = (colors[:, 0].astype(np.uint32) << 16) | (colors[:, 1].astype(np.uint32) << 8) | colors[:, 2]
    uniq, counts = np.unique(codes, return_counts=True)
    keep = uniq[counts == 1]
    ids = np.array([int(np.flatnonzero(codes == c)[0]) for c in keep], dtype=np.int64)
    return keep, ids


def shared_colors(names: list[str], colors: np.ndarray | None,
                  among: set[int] | None = None) -> dict[int, str]:
    """RGB code -> the classes (quoted, joined) that share it, for codes two or more classes share.

    ``among`` limits the classes considered (e.g. the ids a job can write)."""
    if colors is None:
        return {}
    codes = (colors[:, 0].astype(np.uint32) << 16) | (colors[:, 1].astype(np.uint32) << 8) | colors[:, 2]
    by_code: dict[int, list[int]] = {}
    for i, c in enumerate(codes.tolist()):
        if among is None or i in among:
            by_code.setdefault(int(c), []).append(i)
    return {c: " and ".join(repr(names[i]) for i in ids) for c, ids in sorted(by_code.items()) if len(ids) > 1}


def plan(tax: Any, src: Path, dst: Path, source: str, target: str, *, segments: Path | None = None,
         relabel_dataset: str | None = None, split: str | None = None, pattern: str = "*.png",
         key_suffix: str = DEFAULT_KEY_SUFFIX, output: str = "gray", overwrite: bool = False,
         compress_level: int = 6, partial: bool = False) -> Plan:
    """Decide what to do: the tables, the relabel records of each file, and what is left to write.

    Args:
        tax: a loaded :class:`unitax.Taxonomy`.
        src, dst: the source tree (read only) and the output tree (mirrors src).
        source, target: label spaces (dataset names or ``universal``).
        segments: tree of segment maps mirroring src; turns relabeling on.
        relabel_dataset: whose records to apply (default: the last dataset with records on the
            chain from source to target).
        split: the split of every file (default: found from the image key, or a path component).
        pattern: file names to take (fnmatch).
        key_suffix: regular expression stripped once from the end of a file's stem to get its image key.
        output: ``gray`` (ids) or ``rgb`` (the target's colours; ignore is black).
        overwrite: redo every file and replace a previous job's stamp (only in a DST of remap-dir).
        partial: SRC holds part of the dataset: relabel records that match no file are reported, not errors.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise RemapDirError(f"{src} is not a directory")
    batch.check_dst(dst)
    if batch.overlaps(src, dst):
        raise RemapDirError(f"{dst} and {src} overlap; write the output outside the source tree")
    if segments is not None:
        if not Path(segments).is_dir():
            raise RemapDirError(f"segment maps folder {segments} is not a directory")
        if batch.overlaps(Path(segments), dst):
            raise RemapDirError(f"{dst} and the segment maps {segments} overlap")
    for name in (source, target):
        tax.names(name)  # UnknownDatasetError lists the known ones
    try:
        path = list(tax.route(source, target))  # the runtime's one route, as RemapLabels takes it
    except UnknownDatasetError as e:
        raise RemapDirError(str(e)) from None
    notes: list[str] = []
    with_records = [d for d in path if d in tax.relabel_datasets]
    rl = None
    if segments is not None:
        if relabel_dataset is None:
            if not with_records:
                raise RemapDirError(f"no label space on the chain {' -> '.join(path)} has relabel records "
                                    f"(datasets with records: {', '.join(tax.relabel_datasets)})")
            relabel_dataset = with_records[-1]
        elif relabel_dataset not in path:
            raise RemapDirError(f"relabel dataset {relabel_dataset} is not on the chain {' -> '.join(path)}")
        rl = tax.relabel(relabel_dataset)
        if split is not None and split not in rl.splits:
            raise RemapDirError(f"{relabel_dataset} has no records of split {split!r} (splits: {', '.join(rl.splits)})")
    elif relabel_dataset is not None or split is not None:
        raise RemapDirError("--relabel-dataset and --split choose relabel records, which need the segment maps "
                            "(--segments)")
    elif with_records:
        notes.append(f"{with_records[-1]} has relabel records ({len(tax.relabel(with_records[-1]))} segments); "
                     "they are not applied without --segments")
    if rl is not None:
        i = path.index(relabel_dataset)
        lut_pre, lut_post = tax.chain_lut(path[: i + 1]), (tax.chain_lut(path[i:]) if i + 1 < len(path) else None)
    else:
        lut_pre, lut_post = tax.chain_lut(path), None
    palette = None
    if output == "rgb":
        cols = tax.own_colors(target)
        if cols is None:
            raise RemapDirError(f"{target} defines no colours; write grayscale ids (--output gray)")
        ignore = tax.ignore_index(target)
        written = {int(v) for v in np.unique(lut_post if lut_post is not None else lut_pre)} - {ignore}
        clash = shared_colors(tax.names(target), cols, written)
        if clash:
            c, who = next(iter(clash.items()))
            raise RemapDirError(f"--output rgb: {target} classes {who} share colour #{c:06x}, so RGB labels could not "
                                "tell them apart; write grayscale ids (--output gray)")
        palette = np.zeros((lut_size(ignore), 3), np.uint8)
        palette[: len(cols)] = cols
    elif output != "gray":
        raise RemapDirError(f"output must be gray or rgb, not {output!r}")
    src_colors, src_ids = _color_table(tax.own_colors(source))
    s_ignore, t_ignore = tax.ignore_index(source), tax.ignore_index(target)
    job = Job(
        source=source, target=target, src_classes=len(tax.names(source)), src_ignore=s_ignore,
        src_dtype=label_dtype(s_ignore), src_colors=src_colors, src_color_ids=src_ids,
        lut_pre=lut_pre, lut_post=lut_post, target_dtype=label_dtype(t_ignore),
        target_ignore=t_ignore, output=output, target_palette=palette, compress_level=compress_level,
        src_shared=tuple(shared_colors(tax.names(source), tax.own_colors(source)).items()))
    stamp = _stamp(job, path, rl, key_suffix, split)
    job_id = batch.job_id(stamp)
    suffix = re.compile(key_suffix)
    found = batch.walk(src, pattern)
    rels, walk_failed, others = found.files, found.problems, found.others
    seg_index = segment_index(Path(segments), suffix) if segments is not None else {}
    ledger = {} if overwrite else batch.read_ledger(dst, job_id)
    tasks: list[Task] = []
    failed: list[Outcome] = list(walk_failed)
    skipped = 0
    matched: list[Segments] = []
    out = Root(dst)   # a file name found below SRC, mirrored below DST: its folder there must stay in DST
    for rel in rels:
        s = src / rel
        try:
            d = out.join(rel, "output path", chars=False)
        except DataPathError as e:
            failed.append(Outcome(rel, False, f"{e}; not written"))
            continue
        t = Task(rel, str(s), str(d))
        if rl is not None:
            m = match(image_key(rel, suffix), rl, split, seg_index)
            if m.hit is not None:
                matched.append(m.hit)
            if m.why:
                failed.append(Outcome(rel, False, m.why))
                continue
            if m.hit is not None:
                t = Task(rel, t.src, t.dst, m.seg, np.asarray(m.hit.segment_ids), np.asarray(m.hit.classes))
        if _done(t, ledger.get(rel)):
            skipped += 1
            continue
        tasks.append(t)
    records = record_report(rl, split, matched, partial) if rl is not None else None
    return Plan(job, src, dst, path, relabel_dataset if rl is not None else None, len(rels) + len(walk_failed),
                tasks, skipped, failed, notes, stamp, others=others, job_id=job_id, records=records)


def _stamp(job: Job, path: list[str], rl: Relabel | None, key_suffix: str, split: str | None) -> dict[str, Any]:
    """What identifies a job's outputs: the tables (by hash), relabel records, output format."""
    h = hashlib.sha256()
    for arr in (job.lut_pre, job.lut_post, job.target_palette, job.src_colors, job.src_color_ids):
        h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes() + str(arr.dtype).encode())
    if rl is not None:
        h.update(rl.sha256.encode())
    return {"tool": "unitax remap-dir", "from": job.source, "to": job.target, "route": path,
            "relabel": rl.dataset if rl is not None else None, "split": split, "key_suffix": key_suffix,
            "output": job.output, "compress_level": job.compress_level, "tables_sha256": h.hexdigest()}


def _done(t: Task, entry: dict[str, Any] | None) -> bool:
    """This job wrote the output from this very source (and segment map), and it is untouched since."""
    if entry is None:
        return False
    return (batch.same_file(t.dst, entry.get("out"), content=False) and batch.same_file(t.src, entry.get("src"))
            and batch.same_file(t.seg, entry.get("seg")))


def run(plan: Plan, *, workers: int | None = None, scheduler: str | None = None, progress: Progress | None = None,
        batch_size: int | None = None, overwrite: bool = False,
        on_batch: Callable[[list[Outcome]], None] | None = None) -> Summary:
    """Run a plan (tools/data/batch.py's :func:`~unitax.tools.data.batch.run`): in this process (``workers=1``), on a
    local process pool (default: all cores), or on the Dask cluster whose scheduler listens at ``scheduler``."""
    return batch.run(plan.work(), workers=workers, scheduler=scheduler, progress=progress, batch_size=batch_size,
                     overwrite=overwrite, on_batch=on_batch)
