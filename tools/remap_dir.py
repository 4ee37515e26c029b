"""`unitax remap-dir`: rewrite a tree of label images through compiled tables, resumably, in parallel.

A library (no click): :func:`plan` turns a source tree, a target tree and two label spaces into a
:class:`Plan` — the composed look-up tables (a path of compiled tables, e.g. ade20k-151 ->
ade20k-150 -> ade20k-150-relabeled), the relabel records to apply, and one :class:`Task` per label
file still to write; :func:`run` executes it on all local cores (a process pool), or on a running
Dask cluster, and returns a :class:`Summary`.

Guarantees:

- SRC (and the segment maps) are only read. Each output is written to a temporary file beside
  its final name and renamed over it (tools/atomic.py), so an output file is either absent or
  complete, whenever the run is killed.
- DST must be absent, empty, or an earlier remap-dir job's (it holds ``.unitax-remap.json``);
  anything else (a copy of SRC, a folder of other files, a file, a symlink loop) is refused
  untouched, also with ``overwrite``.
- Resume: a file counts as done only if this job wrote it from this very source: the job's
  ledger (``DST/.unitax-remap-ledger.jsonl``, one line per finished file, appended by the
  parent as batches come back; rewritten atomically at start, a torn last line is ignored)
  records the source's (and segment map's) size, mtime_ns and sha256 and the output's size and
  mtime_ns, under the hash of the job stamp. Anything else in DST is redone. ``DST/.unitax-remap.json``
  records the job (label spaces, tables, relabel records, output) so that a rerun with different
  settings refuses to mix outputs (unless told to overwrite). Leftover temporary files are removed
  at start. The guarantee covers killed processes; after a power loss, outputs renamed but not yet
  flushed by the OS may be empty or truncated (rerun with ``overwrite``).
- Symlinked folders below SRC are followed, each real folder once; a link back to a folder
  already walked (a loop), a broken link, a FIFO or other special file matching the pattern is
  reported as a failed entry, never skipped silently. Files the pattern leaves out are counted.
- Label files are checked from their own header (compiler/labelio.py): lossless PNG (or
  TIFF/BMP so named), 8/16-bit single-channel ids or the source's RGB colours.
- Relabel records: every run with segment maps reports how many records, segments and images
  matched files; images with records that match no file make the run fail unless SRC is a
  subset (``split`` or ``partial``). Dataset-specific naming is in ``RECORD_LAYOUTS``.
- A bad file (not an image, a mode that holds no label ids, values outside the source taxonomy,
  a missing segment map or segment) fails alone, with its reason; the others go on.

Workers need only numpy and Pillow (and this package importable); on a cluster they must see
SRC, DST and the segment maps at the same paths (a shared file system).

Why Dask distributed for the cluster (not Ray): it is pure Python from PyPI (an optional extra,
no native runtime or object store to run beside it), its scheduler and workers are one command
each (``dask scheduler`` / ``dask worker ADDRESS``) or a ``LocalCluster`` on loopback in tests,
``Client(address)`` + ``as_completed`` gives the streaming results the progress line needs, and
it already runs on the schedulers numpy shops use (SSH, Kubernetes, SLURM via dask-jobqueue).
The work here is embarrassingly parallel file I/O; Ray's actors and object store would add
weight without use.
"""

from __future__ import annotations

import csv
import errno
import fnmatch
import hashlib
import io
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..compiler.emit.escape import sheet_cell, sheet_value
from ..errors import UnknownDatasetError
from ..format import label_dtype, lut_size
from . import jsonio
from .atomic import TMP_MARK as TMP_MARK  # a temporary file's name holds it (tools/atomic.py)
from .atomic import write_atomic
from .datapath import DataPathError, Root
from .errors import ToolError

STAMP = ".unitax-remap.json"
LOCK = ".unitax-remap.lock"
FAILED = ".unitax-remap-failed.tsv"
LEDGER = ".unitax-remap-ledger.jsonl"
#: the most a stamp, or one ledger line, may hold when read back (tools/jsonio.py bounds the depth too)
STAMP_LIMIT = 1 << 20
LINE_LIMIT = 1 << 16
BOOKKEEPING = (STAMP, LOCK, FAILED, LEDGER)
# Suffixes that name what a file holds rather than which image it is: label ids, instance ids,
# colour renderings, the camera. Stripped (once, at the end of the name) to get the image key.
DEFAULT_KEY_SUFFIX = (r"(_gt(Fine|Coarse)_[A-Za-z0-9]+|_leftImg8bit|_train_id|_train_color"
                      r"|_instance[A-Za-z0-9]*|_label[A-Za-z0-9]*|_seg)$")
# How a dataset's relabel records name images, where that differs from its label files' names.
# SUN RGB-D: records say img-002177 (the RGB image), MSeg's label files are 00002177.png; the
# records' split `val` is MSeg's folder test/ (dataset_lists/sunrgbd-37/list/val.txt).
RECORD_LAYOUTS: dict[str, dict[str, Any]] = {
    "sunrgbd-37-relabeled": {"key": lambda stem: f"img-{int(stem):06d}" if stem.isdigit() else stem,
                             "splits": {"test": "val"}},
}
SPLIT_WORDS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}


class RemapDirError(ToolError):
    """The job cannot start (bad arguments, unknown label spaces, SRC/DST overlap, a locked DST)."""


# ----- the job: tables a worker applies ---------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What every worker needs besides its files: small, picklable, the same for all files."""

    source: str
    target: str
    src_classes: int
    src_ignore: int
    src_dtype: str
    src_colors: np.ndarray | None  # (k,) uint32 RGB codes, sorted, and ...
    src_color_ids: np.ndarray | None  # ... the id each decodes to
    lut_pre: np.ndarray  # source ids -> relabel space ids (or -> target ids without relabeling)
    lut_post: np.ndarray | None  # relabel space ids -> target ids; None: nothing after relabeling
    target_dtype: str
    target_ignore: int
    output: str  # "gray" or "rgb"
    target_palette: np.ndarray | None  # (256 or 65536, 3) uint8 for rgb output
    compress_level: int = 6
    src_shared: tuple[tuple[int, str], ...] = ()  # RGB codes two or more source classes share -> their names


@dataclass(frozen=True)
class Task:
    """One label file to write, with the relabel records of its image (if any)."""

    rel: str
    src: str
    dst: str
    seg: str | None = None
    segment_ids: np.ndarray | None = None
    classes: np.ndarray | None = None


@dataclass(frozen=True)
class Outcome:
    rel: str
    ok: bool
    reason: str = ""
    ident: dict[str, Any] | None = None  # for the ledger: the source (and segment map) and output written


def _decode_colors(rgb: np.ndarray, job: Job) -> tuple[np.ndarray | None, str]:
    code = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    colors, ids = job.src_colors, job.src_color_ids
    assert colors is not None and ids is not None  # only called for spaces with colours
    pos = np.minimum(np.searchsorted(colors, code), len(colors) - 1)
    known = colors[pos] == code
    out = ids[pos]
    if not known.all():
        bad = np.unique(code[~known])
        black = bad == 0
        if black.any():  # black that is no class's colour: unlabeled
            out[~known & (code == 0)] = job.src_ignore
            bad = bad[~black]
        shared = dict(job.src_shared)
        amb = [int(c) for c in bad if int(c) in shared]
        if amb:
            c = amb[0]
            return None, (f"colour #{c:06x} is ambiguous in {job.source}: classes {shared[c]} share it, so an RGB "
                          "label cannot say which is meant; use grayscale ids for this dataset")
        if bad.size:
            shown = ", ".join(f"#{int(c):06x}" for c in bad[:8]) + (" ..." if bad.size > 8 else "")
            return None, f"colours {shown} are not colours of {job.source}"
    return out.astype(job.src_dtype), ""


def _read_ids(path: str, job: Job, data: bytes) -> tuple[np.ndarray | None, str]:
    from .labelio import LabelFileError, decode

    try:
        arr = decode(path, data, rgb=True)
    except LabelFileError as e:
        return None, e.reason
    if arr.ndim == 3:
        if job.src_colors is None:
            return None, f"RGB image, but {job.source} defines no colours; give grayscale ids"
        return _decode_colors(arr, job)
    bad = _invalid(arr, job.src_classes, job.src_ignore)
    if bad:
        return None, bad + f" of {job.source} (ids 0..{job.src_classes - 1}, ignore {job.src_ignore})"
    return arr.astype(job.src_dtype, copy=False), ""


def _invalid(arr: np.ndarray, n: int, ignore: int) -> str:
    from unitax.remap import invalid_values

    bad = invalid_values(arr, n, ignore)
    if not bad.size:
        return ""
    shown = ", ".join(str(int(v)) for v in bad[:10]) + (" ..." if bad.size > 10 else "")
    return f"values {shown} are not ids"


def _read_segments(path: str) -> tuple[np.ndarray | None, str, dict[str, Any] | None]:
    from .labelio import LabelFileError, decode, digest, read_bytes

    try:
        data = read_bytes(path)
        st = os.stat(path)
        arr = decode(path, data, segments=True)
    except LabelFileError as e:
        return None, f"segment map {e}", None
    if arr.ndim == 3:  # the COCO panoptic encoding: id = R + 256 G + 256^2 B
        a = arr.astype(np.uint32)
        arr = a[..., 0] | (a[..., 1] << 8) | (a[..., 2] << 16)
    return arr, "", {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest(data)}


def _encode(out: np.ndarray, job: Job) -> Any:
    from .labelio import encode_png

    return encode_png(out, job.target_palette if job.output == "rgb" else None)


def process(job: Job, task: Task) -> Outcome:
    """Read, check, remap (and relabel) one label file and write it atomically; never raises for bad input."""
    from unitax.relabel import relabel_segments
    from unitax.remap import apply_lut

    from .labelio import LabelFileError, digest, read_bytes

    try:
        st = os.stat(task.src)
        data = read_bytes(task.src)
    except LabelFileError as e:
        return Outcome(task.rel, False, e.reason)
    except OSError as e:
        return Outcome(task.rel, False, f"cannot read: {e.strerror or e}")
    ident: dict[str, Any] = {"src": {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest(data)},
                             "seg": None}
    ids, why = _read_ids(task.src, job, data)
    if ids is None:
        return Outcome(task.rel, False, why)
    out = apply_lut(ids, job.lut_pre)
    if task.segment_ids is not None and len(task.segment_ids):
        if task.seg is None:
            return Outcome(task.rel, False, f"no segment map for it, and records move {len(task.segment_ids)} "
                                            "of its segments")
        seg, why, ident["seg"] = _read_segments(task.seg)
        if seg is None:
            return Outcome(task.rel, False, why)
        if seg.shape != out.shape:
            return Outcome(task.rel, False, f"segment map {task.seg} is {seg.shape[1]}x{seg.shape[0]}, "
                                            f"the label {out.shape[1]}x{out.shape[0]}")
        assert task.classes is not None  # set together with segment_ids (_with_records)
        missing = relabel_segments(out, seg, task.segment_ids, task.classes)
        if missing.size:
            shown = ", ".join(str(int(s)) for s in missing[:10]) + (" ..." if missing.size > 10 else "")
            return Outcome(task.rel, False, f"segment map {task.seg} lacks segment(s) {shown} that relabel "
                                            "records move")
    if job.lut_post is not None:
        out = apply_lut(out, job.lut_post)
    try:
        img = _encode(out, job)
        write_atomic(task.dst, lambda tmp: img.save(tmp, format="PNG", compress_level=job.compress_level),
                     mkdir=True)
        ost = os.stat(task.dst)
    except OSError as e:
        return Outcome(task.rel, False, f"cannot write {task.dst}: {e.strerror or e}")
    ident["out"] = {"size": ost.st_size, "mtime_ns": ost.st_mtime_ns}
    return Outcome(task.rel, True, ident=ident)


def run_batch(job: Job, tasks: list[Task]) -> list[Outcome]:
    """Process a batch of files (the unit of work of the pool and of the cluster)."""
    out = []
    step = getattr(job, "process_task", None)  # another tool's job (unitax prepare) brings its own step
    for t in tasks:
        try:
            out.append(step(t) if step is not None else process(job, t))
        except Exception as e:  # a bug or an odd file must not take the batch down with it
            out.append(Outcome(t.rel, False, f"internal error: {type(e).__name__}: {e}"))
    return out


_JOB: Job | None = None


def _init_worker(job: Job) -> None:
    import signal

    global _JOB
    _JOB = job
    os.environ.setdefault("UNITAX_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops handing out work


def _run_batch_here(tasks: list[Task]) -> list[Outcome]:
    assert _JOB is not None
    return run_batch(_JOB, tasks)


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
    records: dict[str, Any] | None = None  # what the relabel records matched (see _record_report)


def image_key(rel: str, suffix: re.Pattern[str]) -> str:
    """The image key of a file below SRC: its path without extension and without a label suffix."""
    p = PurePosixPath(rel)
    return suffix.sub("", str(p.with_suffix("")), count=1)


def _walk(root: Path, pattern: str) -> tuple[list[str], list[Outcome], int]:
    """Label files below ``root`` (symlinked folders followed, each real folder once), the files
    and folders found but not taken (with why), and how many other files the pattern left out."""
    out: list[str] = []
    problems: list[Outcome] = []
    others = 0
    seen: dict[tuple[int, int], str] = {}
    st = os.stat(root)
    seen[(st.st_dev, st.st_ino)] = "."

    def rel_of(p: str) -> str:
        return Path(p).relative_to(root).as_posix()

    def onerror(e: OSError) -> None:
        problems.append(Outcome(rel_of(e.filename) if e.filename else ".", False,
                                f"folder cannot be read: {e.strerror or e}; its files were not processed"))

    for d, dirs, files in os.walk(root, followlinks=True, onerror=onerror):
        keep = []
        for name in sorted(dirs):
            p = os.path.join(d, name)
            try:
                dst = os.stat(p)
            except OSError as e:
                problems.append(Outcome(rel_of(p), False, f"folder cannot be entered: {e.strerror or e}"))
                continue
            k = (dst.st_dev, dst.st_ino)
            if k in seen:
                problems.append(Outcome(rel_of(p), False, f"symlinked folder leads to {seen[k]}, walked already "
                                                          "(a symlink loop or a second link); not followed"))
                continue
            seen[k] = rel_of(p)
            keep.append(name)
        dirs[:] = keep
        for f in sorted(files):
            if TMP_MARK in f:
                continue
            p = os.path.join(d, f)
            if not fnmatch.fnmatch(f, pattern):
                others += 1
                continue
            try:
                fst = os.stat(p)
            except OSError as e:
                why = "broken symlink" if os.path.islink(p) else "cannot stat"
                problems.append(Outcome(rel_of(p), False, f"{why}: {e.strerror or e}"))
                continue
            if stat.S_ISDIR(fst.st_mode):
                continue
            if not stat.S_ISREG(fst.st_mode):
                kind = "a FIFO" if stat.S_ISFIFO(fst.st_mode) else "a socket" if stat.S_ISSOCK(fst.st_mode) else \
                    "a device or other special file"
                problems.append(Outcome(rel_of(p), False, f"is {kind}, not an image file; not read"))
                continue
            out.append(rel_of(p))
    return out, problems, others


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


def _overlaps(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


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
    check_dst(dst)
    if _overlaps(src, dst):
        raise RemapDirError(f"{dst} and {src} overlap; write the output outside the source tree")
    if segments is not None:
        if not Path(segments).is_dir():
            raise RemapDirError(f"segment maps folder {segments} is not a directory")
        if _overlaps(Path(segments), dst):
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
    job_id = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()
    suffix = re.compile(key_suffix)
    rels, walk_failed, others = _walk(src, pattern)
    seg_index = _segment_index(Path(segments), suffix) if segments is not None else {}
    ledger = {} if overwrite else read_ledger(dst, job_id)
    tasks: list[Task] = []
    failed: list[Outcome] = list(walk_failed)
    skipped = 0
    matched: list[Any] = []
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
            t, why, hit = _with_records(t, rel, image_key(rel, suffix), rl, split, seg_index)
            if hit is not None:
                matched.append(hit)
            if why:
                failed.append(Outcome(rel, False, why))
                continue
        if _done(t, ledger.get(rel)):
            skipped += 1
            continue
        tasks.append(t)
    records = _record_report(rl, split, matched, partial) if rl is not None else None
    return Plan(job, src, dst, path, relabel_dataset if rl is not None else None, len(rels) + len(walk_failed),
                tasks, skipped, failed, notes, stamp, others=others, job_id=job_id, records=records)


def _record_report(rl: Any, split: str | None, matched: list[Any], partial: bool) -> dict[str, Any]:
    """How many records, segments and images of the records matched files; what matched none."""
    splits = [split] if split else list(rl.splits)
    matched = list({(h.split, h.key): h for h in matched}.values())
    hit = {(h.split, h.key) for h in matched}
    applied = set(int(r) for h in matched for r in np.unique(h.records))
    in_scope = [i for i, r in enumerate(rl.records) if r["split"] in splits]
    lost = [(s, k) for s in splits for k in rl.keys(s) if (s, k) not in hit]
    return {"dataset": rl.dataset, "records": len(in_scope), "records_applied": len(applied & set(in_scope)),
            "records_unmatched": len(set(in_scope) - applied),
            "segments": int(sum(len(h.segment_ids) for h in matched)),
            "images": len(hit), "images_unmatched": len(lost), "unmatched_examples": lost[:5],
            "subset": bool(split) or partial}


def check_dst(dst: Path) -> str:
    """Refuse a DST remap-dir may not write into: anything but absent, empty, or its own earlier job."""
    try:
        st = os.stat(dst)
    except FileNotFoundError:
        if os.path.islink(dst):
            raise RemapDirError(f"{dst} is a dangling symlink; give a folder") from None
        return "new"
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise RemapDirError(f"{dst} is a symlink loop; give a folder") from None
        raise RemapDirError(f"{dst}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise RemapDirError(f"{dst} exists and is not a folder; give a new or empty folder")
    try:
        names = set(os.listdir(dst))
    except OSError as e:
        raise RemapDirError(f"{dst} cannot be read: {e.strerror or e}") from None
    if not os.access(dst, os.W_OK | os.X_OK):
        raise RemapDirError(f"{dst} is not writable")
    if not names:
        return "empty"
    if STAMP in names or names <= set(BOOKKEEPING):
        return "ours"
    raise RemapDirError(f"{dst} is not empty and holds no remap-dir job ({STAMP}); refusing to write into it: "
                        "give a new or empty folder (remap-dir writes only where it wrote before)")


def read_ledger(dst: Path, job_id: str) -> dict[str, dict[str, Any]]:
    """The files this job finished: rel -> identity of source, segment map and output (last entry wins).

    A line torn by a kill is ignored; entries of another job are ignored."""
    out: dict[str, dict[str, Any]] = {}
    try:
        text = (Path(dst) / LEDGER).read_text("utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            e = jsonio.loads(line, max_bytes=LINE_LIMIT)  # a damaged line (even 100,000 '[') is skipped
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("job") == job_id and isinstance(e.get("rel"), str):
            out[e["rel"]] = e
    return out


def _same_file(path: str | None, ident: dict[str, Any] | None, content: bool = True) -> bool:
    if path is None or not isinstance(ident, dict):
        return path is None and ident is None
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_size != ident.get("size") or st.st_mtime_ns != ident.get("mtime_ns"):
        return False
    if not content:
        return True
    from .labelio import digest

    try:
        with open(path, "rb") as f:
            return digest(f.read()) == ident.get("sha256")
    except OSError:
        return False


def _stamp(job: Job, path: list[str], rl: Any, key_suffix: str, split: str | None) -> dict[str, Any]:
    """What identifies a job's outputs: the tables (by hash), relabel records, output format."""
    h = hashlib.sha256()
    for arr in (job.lut_pre, job.lut_post, job.target_palette, job.src_colors, job.src_color_ids):
        h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes() + str(arr.dtype).encode())
    if rl is not None:
        h.update(rl.sha256.encode())
    return {"tool": "unitax remap-dir", "from": job.source, "to": job.target, "route": path,
            "relabel": rl.dataset if rl is not None else None, "split": split, "key_suffix": key_suffix,
            "output": job.output, "compress_level": job.compress_level, "tables_sha256": h.hexdigest()}


def _segment_index(root: Path, suffix: re.Pattern[str]) -> dict[str, str | None]:
    """Image key -> segment map path (None where two maps claim one key)."""
    out: dict[str, str | None] = {}
    for rel in _walk(root, "*")[0]:
        key = image_key(rel, suffix)
        out[key] = None if key in out else str(root / rel)
    return out


def _with_records(t: Task, rel: str, key: str, rl: Any, split: str | None,
                  seg_index: dict[str, str | None]) -> tuple[Task, str, Any]:
    """The task with its image's relabel records (and segment map), or a reason it cannot be done;
    and the records matched (None: none)."""
    layout = RECORD_LAYOUTS.get(rl.dataset, {})
    parts = key.split("/")
    if "key" in layout:
        parts = parts[:-1] + [layout["key"](parts[-1])]
    hits = []
    for i in range(len(parts)):  # the key below SRC may carry leading folders (a split, a city)
        cand = "/".join(parts[i:])
        hits = [h for h in ([rl.segments(cand, split)] if split else rl.find(cand)) if h is not None]
        if hits:
            break
    if not hits:
        return t, "", None
    if not split:  # a folder named after a split (train/, test/, ...) picks that split's records only
        words = {SPLIT_WORDS.get(p.lower()) for p in parts[:-1]} - {None}
        words = {layout.get("splits", {}).get(w, w) for w in words} & set(rl.splits)
        if len(words) == 1:
            hits = [h for h in hits if h.split in words]
            if not hits:
                return t, "", None
        if len(hits) > 1:
            return t, (f"image {hits[0].key} has relabel records in splits {', '.join(h.split for h in hits)} and its "
                       "path names none of them; run each split on its own with --split"), None
    h = hits[0]
    if key not in seg_index:
        return t, f"no segment map for image key {key} below the segments folder, and records move " \
                  f"{len(h.segment_ids)} of its segments", h
    if seg_index[key] is None:
        return t, f"two segment maps below the segments folder have image key {key}", h
    return Task(t.rel, t.src, t.dst, seg_index[key], np.asarray(h.segment_ids), np.asarray(h.classes)), "", h


def _done(t: Task, entry: dict[str, Any] | None) -> bool:
    """This job wrote the output from this very source (and segment map), and it is untouched since."""
    if entry is None:
        return False
    return (_same_file(t.dst, entry.get("out"), content=False) and _same_file(t.src, entry.get("src"))
            and _same_file(t.seg, entry.get("seg")))


# ----- running ----------------------------------------------------------------------------------


@dataclass
class Summary:
    files: int
    written: int
    skipped: int
    failed: list[Outcome]
    seconds: float
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


class Progress:
    """A one-line progress bar on a terminal (rate, ETA); on a pipe, a line every ``every`` seconds."""

    def __init__(self, total: int, stream: Any = None, enabled: bool = True, every: float = 10.0,
                 name: str = "remap-dir"):
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled and total > 0
        self.name = name
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.1 if self.tty else every
        self.start = self.last = time.monotonic()
        self.done = self.failed = 0
        self._drawn: tuple[int, int] | None = None

    def update(self, done: int, failed: int) -> None:
        self.done, self.failed = done, failed
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every or done == self.total):
            self.last = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        width = 24
        fill = int(width * self.done / self.total) if self.total else width
        bar = "#" * fill + "-" * (width - fill)
        eta_s = "--:--" if eta == float("inf") else _clock(eta)
        fail = f"  {self.failed} failed" if self.failed else ""
        return (f"{self.name} [{bar}] {self.done}/{self.total} {100 * self.done / max(self.total, 1):5.1f}%  "
                f"{rate:7.1f} files/s  elapsed {_clock(elapsed)}  ETA {eta_s}{fail}")

    def _draw(self, now: float) -> None:
        self._drawn = (self.done, self.failed)
        text = self.line(now)
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            if self._drawn != (self.done, self.failed):
                self._draw(time.monotonic())
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _batches(tasks: list[Task], size: int) -> Iterator[list[Task]]:
    for i in range(0, len(tasks), size):
        yield tasks[i: i + size]


class _DstGuard:
    """Holds DST's lock for the run, checks/writes the job stamp, and sweeps leftover temporaries."""

    def __init__(self, plan: Plan, overwrite: bool):
        self.plan, self.overwrite = plan, overwrite
        self.fd: int | None = None
        self.ledger: Any = None

    def __enter__(self) -> _DstGuard:
        import fcntl

        dst = self.plan.dst
        check_dst(dst)
        try:
            dst.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(dst / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RemapDirError(f"cannot write {dst}: {e.strerror or e}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            self.fd = None
            raise RemapDirError(f"another remap-dir is writing {dst} (it holds {dst / LOCK})") from None
        stamp_path = dst / STAMP
        if stamp_path.exists() and not self.overwrite:
            try:
                old = jsonio.load(stamp_path, max_bytes=STAMP_LIMIT)
            except ValueError:
                old = None
            if old != self.plan.stamp:
                self.__exit__(None, None, None)
                diff = "" if not isinstance(old, dict) else ", ".join(
                    f"{k}: {old.get(k)!r} then, {v!r} now" for k, v in self.plan.stamp.items() if old.get(k) != v)
                raise RemapDirError(f"{dst} holds the output of a different job ({diff or 'unreadable stamp'}); "
                                    "write to another folder, or pass --overwrite to redo every file")
        write_atomic(stamp_path, json.dumps(self.plan.stamp, indent=1, sort_keys=True) + "\n")
        # the ledger keeps only this job's entries (rewritten atomically); finished files are appended
        kept = {} if self.overwrite else read_ledger(dst, self.plan.job_id)
        write_atomic(dst / LEDGER, "".join(json.dumps(e, sort_keys=True) + "\n" for e in kept.values()))
        self.ledger = open(dst / LEDGER, "a", encoding="utf-8")
        sweep(dst)
        return self

    def record(self, outcomes: list[Outcome]) -> None:
        """Append the files just finished to the ledger (one flushed line each; a torn line is ignored)."""
        lines = "".join(json.dumps({"job": self.plan.job_id, "rel": o.rel, **o.ident}, sort_keys=True) + "\n"
                        for o in outcomes if o.ok and o.ident is not None)
        if lines and self.ledger is not None:
            self.ledger.write(lines)
            self.ledger.flush()

    def __exit__(self, *exc: Any) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None


def sweep(dst: Path) -> None:
    """Remove the temporary files a killed writer left under ``dst`` (only while none is writing)."""
    for d, _, files in os.walk(dst):
        for f in files:
            if TMP_MARK in f:
                try:
                    os.unlink(os.path.join(d, f))
                except OSError:
                    pass


def run(plan: Plan, *, workers: int | None = None, scheduler: str | None = None, progress: Progress | None = None,
        batch_size: int | None = None, overwrite: bool = False,
        on_batch: Callable[[list[Outcome]], None] | None = None) -> Summary:
    """Run a plan: in this process (``workers=1``), on a local process pool (default: all cores),
    or on the Dask cluster whose scheduler listens at ``scheduler``.

    A KeyboardInterrupt stops the run (pending work cancelled, finished outputs kept) and is
    reported as ``Summary.interrupted``.
    """
    start = time.monotonic()
    tasks = plan.tasks
    workers = workers or os.cpu_count() or 1
    failed = list(plan.failed)
    written = 0
    interrupted = False
    with _DstGuard(plan, overwrite) as guard:
        if batch_size is None:
            slots = workers if scheduler is None else 64
            batch_size = max(1, min(64, len(tasks) // (slots * 8) or 1))
        batches = list(_batches(tasks, batch_size))

        def take(outcomes: list[Outcome]) -> None:
            nonlocal written
            guard.record(outcomes)
            for o in outcomes:
                if o.ok:
                    written += 1
                else:
                    failed.append(o)
            if progress is not None:
                progress.update(written + len(failed) - len(plan.failed), len(failed))
            if on_batch is not None:
                on_batch(outcomes)

        try:
            if scheduler is not None:
                _run_dask(plan.job, batches, scheduler, take)
            elif workers == 1 or len(batches) <= 1:
                for b in batches:
                    take(run_batch(plan.job, b))
            else:
                _run_pool(plan.job, batches, workers, take, plan.dst)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if progress is not None:
                progress.close()
        _write_failures(plan.dst, failed)
    return Summary(plan.files, written, plan.skipped, failed, time.monotonic() - start, interrupted)


def _run_pool(job: Job, batches: list[list[Task]], workers: int, take: Callable[[list[Outcome]], None],
              dst: Path | None = None) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=min(workers, len(batches)), initializer=_init_worker, initargs=(job,))
    pending: set[Any] = set()
    try:
        # a bounded number of batches in flight, so that an interrupt has little to wait for
        it = iter(batches)
        for b in it:
            pending.add(pool.submit(_run_batch_here, b))
            if len(pending) >= workers * 2:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                take(f.result())
                more = next(it, None)
                if more is not None:
                    pending.add(pool.submit(_run_batch_here, more))
    except KeyboardInterrupt:
        # Ctrl-C: workers ignore it and finish the batch in hand; count what they finish
        # (a second Ctrl-C stops waiting)
        pool.shutdown(wait=True, cancel_futures=True)
        for f in pending:
            if f.done() and not f.cancelled() and f.exception() is None:
                take(f.result())
        raise
    except BrokenProcessPool:
        # a worker was killed (SIGKILL from the out-of-memory killer) or crashed: the pool ended
        # every worker; what the ledger holds is finished, the rest is redone by a rerun
        pool.shutdown(wait=True, cancel_futures=True)
        if dst is not None:
            sweep(dst)  # the dead worker's temporary file
        raise RemapDirError("a worker process died (killed by a signal, e.g. by the out-of-memory killer, or "
                            "crashed); the files finished so far are kept: rerun the same command to resume"
                            + ("" if workers <= 1 else ", with fewer workers (-j) if memory ran out")) from None
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(job: Job, batches: list[list[Task]], address: str, take: Callable[[list[Outcome]], None]) -> None:
    import importlib

    try:  # untyped: reached through Any
        distributed: Any = importlib.import_module("distributed")
        Client, as_completed = distributed.Client, distributed.as_completed
    except ImportError:
        raise RemapDirError("--scheduler needs Dask distributed: pip install 'unitax[cluster]'") from None
    try:
        client = Client(address, timeout="30s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise RemapDirError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    futures: list[Any] = []
    try:
        job_f = client.scatter(job, broadcast=True, hash=False)
        futures = [client.submit(run_batch, job_f, b, pure=False) for b in batches]
        by_future = dict(zip(futures, batches, strict=True))
        for fut in as_completed(futures, loop=client.loop):
            try:
                outcomes = fut.result()
            except Exception as e:  # a worker died or could not import unitax
                outcomes = [Outcome(t.rel, False, f"cluster task failed: {type(e).__name__}: {e}")
                            for t in by_future[fut]]
            take(outcomes)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        client.close()


def _write_failures(dst: Path, failed: list[Outcome]) -> None:
    p = dst / FAILED
    if not failed:
        p.unlink(missing_ok=True)
        return
    text = io.StringIO(newline="")
    w = csv.writer(text, delimiter="\t", lineterminator="\n")
    for o in sorted(failed, key=lambda o: o.rel):
        w.writerow([sheet_cell(o.rel), sheet_cell(o.reason)])  # a name starting '=' is no formula
    # a file name that is not UTF-8 (undecodable bytes, held as surrogates) is written as its own bytes
    write_atomic(p, text.getvalue().encode("utf-8", "surrogateescape"))


def output_files(dst: Path) -> Iterable[Path]:
    """The label files of an output tree (its bookkeeping files left out)."""
    for p in sorted(Path(dst).rglob("*")):
        if p.is_file() and p.name not in BOOKKEEPING and TMP_MARK not in p.name:
            yield p


def read_failures(dst: Path) -> list[tuple[str, str]]:
    """The failed-files TSV as (path below SRC, reason) pairs (csv quoting: names with tabs/newlines round-trip;
    a name that is not UTF-8 comes back as the same surrogate-escaped str)."""
    with open(Path(dst) / FAILED, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return [(sheet_value(r[0]), sheet_value(r[1])) for r in csv.reader(f, delimiter="\t")]
