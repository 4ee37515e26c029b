"""A ``prepare`` plan for the ADE20K family, end to end (library only; no CLI yet).

Input, as downloaded (see :mod:`.readers.ade20k_full` for the archives)::

    ROOT/ADEChallengeData2016/images/{training,validation}/ADE_*.jpg
    ROOT/ADEChallengeData2016/annotations/{training,validation}/ADE_*.png   # ade20k-151 ids, grey
    ROOT/ADE20K_2016_07_26/images/**/ADE_*_seg.png                          # only for -relabeled

Output: MSeg's label files of ``target`` (``ade20k-151``, ``ade20k-150`` or
``ade20k-150-relabeled``) at the label paths of MSeg's split lists (shipped in
``tools/prepare/data/lists/``), e.g. ``annotations_semseg150_relabeled/training/ADE_train_00000004.png``,
below an output folder. One sample: read the challenge PNG (ade20k-151), remap it through the
compiled chain 151 -> 150 (-> 150-relabeled); for ``-relabeled``, decode the full-format
``_seg.png``'s instances at the challenge size (MSeg's resize) and move the segments that the
compiled relabel records name for the image.

The full format's own classes (``R // 10 * 256 + G``, ~3,000 object names) are not mapped to
ade20k-151: that needs ADE's object-name index, which the project does not ship; the challenge
annotations stay the class source, as in MSeg.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..atomic import write_atomic
from ..datapath import DataPathError
from ..labelio import LabelFileError, read_colors, read_label
from .errors import NativeFormatError
from .lists import check_line
from .readers import ade20k_full

FAMILY = ("ade20k-151", "ade20k-150", "ade20k-150-relabeled")
SPLITS = {"train": "training", "val": "validation"}


@dataclass(frozen=True)
class Sample:
    split: str            # MSeg's split name: train / val
    key: str              # image key of the relabel records, e.g. ADE_train_00000004
    image: str            # image path of MSeg's list (relative to ADEChallengeData2016)
    label: Path           # the native challenge annotation (ade20k-151)
    seg: Path | None      # the full-format _seg.png (only when the target is relabeled)
    dst: str              # label path of the target's MSeg list (relative to the output folder)


@dataclass
class Plan:
    target: str
    chain: list[str]                      # ade20k-151 -> ... -> target
    samples: list[Sample] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)   # (list line's label path, why)


def _full_seg_index(root: Path) -> dict[str, list[Path]]:
    """Image key -> every full-ADE ``<key>_seg.png`` below ``root`` (sorted); two for one key is an
    ambiguity the callers refuse, naming both (as remap-dir refuses two segment maps of one key)."""
    out: dict[str, list[Path]] = {}
    for p in sorted((root / "ADE20K_2016_07_26" / "images").rglob("ADE_*_seg.png")):
        out.setdefault(p.name[: -len("_seg.png")], []).append(p)
    return out


def ambiguous_seg(key: str, paths: list[Path]) -> str:
    """The reason a sample with several full-ADE ``_seg.png`` files is refused."""
    return (f"two full-ADE segment files have image key {key}: {paths[0]} and {paths[1]}"
            + (f" (and {len(paths) - 2} more)" if len(paths) > 2 else "") + "; refusing to guess which is meant")


def plan(root: str | os.PathLike[str], target: str = "ade20k-150-relabeled",
         splits: Sequence[str] = ("train", "val"), *,
         lists: dict[tuple[str, str], list[str]] | None = None) -> Plan:
    """Every sample of ``splits`` of ``target``'s MSeg lists, with its native sources under ``root``.

    ``lists``: (space, split) -> list lines (default: the shipped lists, ``lists.load_lists()``).
    Samples whose sources are absent are listed in ``Plan.missing``, not raised.
    """
    if target not in FAMILY:
        raise ValueError(f"target must be one of {', '.join(FAMILY)}, not {target!r}")
    if lists is None:
        from .lists import load_lists
        lists = load_lists()
    root = Path(root)
    chal = root / "ADEChallengeData2016"
    relabeled = target.endswith("-relabeled")
    segs = _full_seg_index(root) if relabeled else {}
    out = Plan(target, list(FAMILY[: FAMILY.index(target) + 1]))
    for split in splits:
        src_lines, dst_lines = lists.get(("ade20k-151", split)), lists.get((target, split))
        if src_lines is None or dst_lines is None:
            raise ValueError(f"no MSeg list for ade20k-151/{split} or {target}/{split}")
        for line in [*src_lines, *dst_lines]:   # paths from data: plain relative paths
            try:
                check_line(line)
            except DataPathError as e:
                raise ValueError(f"MSeg list line {ascii(line)}: {e}") from None
        src_by_image = dict(line.split(" ") for line in src_lines)
        for line in dst_lines:
            image, dst = line.split(" ")
            key = PurePosixPath(image).stem
            if image not in src_by_image:
                out.missing.append((dst, f"{image} is not in ade20k-151's {split} list"))
                continue
            label = chal / src_by_image[image]
            if not label.is_file():
                out.missing.append((dst, f"no challenge annotation {label}"))
                continue
            found = segs.get(key, [])
            if relabeled and not found:
                out.missing.append((dst, f"no full-format {key}_seg.png under {root / 'ADE20K_2016_07_26'}"))
                continue
            if len(found) > 1:
                out.missing.append((dst, ambiguous_seg(key, found)))
                continue
            seg = found[0] if found else None
            out.samples.append(Sample(split, key, image, label, seg, dst))
    return out


def prepare_sample(tax: Any, p: Plan, s: Sample) -> np.ndarray:
    """The label map of ``s`` in ``p.target`` (uint8); NativeFormatError (or labelio's LabelFileError) for
    bad input files."""
    label = read_label(s.label)
    if label.dtype != np.uint8:
        raise NativeFormatError(s.label, "expected an 8-bit grey ade20k-151 annotation, got 16-bit ids")
    if int(label.max(initial=0)) >= len(tax.names("ade20k-151")):
        raise NativeFormatError(s.label, f"value {int(label.max())} is not an ade20k-151 id")
    out = label
    for a, b in zip(p.chain, p.chain[1:], strict=False):
        out = tax.remap(out, a, b)
    if s.seg is not None:
        from unitax.relabel import relabel_segments

        hit = tax.relabel(p.target).segments(s.key, s.split)
        if hit is not None and len(hit.segment_ids):
            _, inst = ade20k_full.decode(read_colors(s.seg), label.shape, s.seg)   # at the challenge size
            out = np.array(out, copy=True)
            missing = relabel_segments(out, inst, hit.segment_ids, hit.classes.astype(out.dtype))
            if missing.size:
                raise NativeFormatError(s.seg, f"lacks segment(s) {missing.tolist()} that relabel records move")
    return out


def run(tax: Any, p: Plan, out_dir: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Write every sample of ``p`` under ``out_dir`` (atomically, skipping finished files); returns failures."""
    from PIL import Image

    failed: list[tuple[str, str]] = []
    out_dir = Path(out_dir)
    for s in p.samples:
        dst = out_dir / s.dst
        if dst.is_file():
            continue
        try:
            arr = prepare_sample(tax, p, s)
        except (NativeFormatError, LabelFileError) as exc:
            failed.append((s.dst, str(exc)))
            continue
        write_atomic(dst, partial(Image.fromarray(arr).save, format="PNG"), mkdir=True)
    return failed
