"""The step of ``unitax remap-dir`` (tools/data/batch.py's ``Step``): read, check, remap (and relabel) one label file.

A :class:`Job` holds what every worker needs besides its files (the composed tables, the source's
colours, the output format): small, picklable, the same for all files; called on a :class:`Task`
it writes that file atomically and returns its :class:`~unitax.tools.data.batch.Outcome` with the
identities the ledger records. It needs only numpy and Pillow (workers of a pool or a Dask cluster);
:mod:`unitax.tools.data.remap_dir` plans the tasks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...fileops.atomic import write_atomic
from .batch import Outcome


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

    def __call__(self, task: Task) -> Outcome:
        """The step (tools/data/batch.py): one label file, see :func:`process`."""
        return process(self, task)


@dataclass(frozen=True)
class Task:
    """One label file to write, with the relabel records of its image (if any)."""

    rel: str
    src: str
    dst: str
    seg: str | None = None
    segment_ids: np.ndarray | None = None
    classes: np.ndarray | None = None


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
    from .labelio import LabelFileError, bad_ids, decode

    try:
        arr = decode(path, data, rgb=True)
    except LabelFileError as e:
        return None, e.reason
    if arr.ndim == 3:
        if job.src_colors is None:
            return None, f"RGB image, but {job.source} defines no colours; give grayscale ids"
        return _decode_colors(arr, job)
    bad = bad_ids(arr, job.src_classes, job.src_ignore)
    if bad:
        return None, bad + f" of {job.source} (ids 0..{job.src_classes - 1}, ignore {job.src_ignore})"
    return arr.astype(job.src_dtype, copy=False), ""


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
    from ...kernels import apply_lut
    from ...relabel import relabel_segments
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
        assert task.classes is not None  # set together with segment_ids (plan)
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
