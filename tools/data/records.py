"""Relabel records matched to the files of a batch job (``remap-dir``, ``prepare``), and the report of what matched.

A label file's image key (its path without extension and label suffix, :func:`image_key`) finds
the compiled records of its image (:class:`unitax.Relabel`); where a dataset's records name images
otherwise than its label files do, :data:`RECORD_LAYOUTS` says how. After a run,
:func:`record_report` counts the records, segments and images that matched a file, and what did not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ...relabel import Relabel, Segments
from .batch import walk

# Suffixes that name what a file holds rather than which image it is: label ids, instance ids,
# colour renderings, the camera. Stripped (once, at the end of the name) to get the image key.
DEFAULT_KEY_SUFFIX = (r"(_gt(Fine|Coarse)_[A-Za-z0-9]+|_leftImg8bit|_train_id|_train_color"
                      r"|_instance[A-Za-z0-9]*|_label[A-Za-z0-9]*|_seg)$")


@dataclass(frozen=True)
class Layout:
    """How a dataset's relabel records name images, where that differs from its label files' names."""

    key: Callable[[str], str] | None = None   # label file stem -> the records' image name
    splits: tuple[tuple[str, str], ...] = ()  # folder split word -> the records' split


# SUN RGB-D: records say img-002177 (the RGB image), MSeg's label files are 00002177.png; the
# records' split `val` is MSeg's folder test/ (dataset_lists/sunrgbd-37/list/val.txt).
RECORD_LAYOUTS: dict[str, Layout] = {
    "sunrgbd-37-relabeled": Layout(key=lambda stem: f"img-{int(stem):06d}" if stem.isdigit() else stem,
                                   splits=(("test", "val"),)),
}
SPLIT_WORDS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}


def image_key(rel: str, suffix: re.Pattern[str]) -> str:
    """The image key of a file below SRC: its path without extension and without a label suffix."""
    p = PurePosixPath(rel)
    return suffix.sub("", str(p.with_suffix("")), count=1)


def segment_index(root: Path, suffix: re.Pattern[str]) -> dict[str, str | None]:
    """Image key -> segment map path (None where two maps claim one key)."""
    out: dict[str, str | None] = {}
    for rel in walk(root, "*").files:
        key = image_key(rel, suffix)
        out[key] = None if key in out else str(root / rel)
    return out


@dataclass(frozen=True)
class Match:
    """The records of one file's image: ``hit`` (None: it has none), its segment map, or why it cannot be done."""

    hit: Segments | None = None   # the records matched, also when they cannot be applied
    seg: str | None = None
    why: str = ""


def match(key: str, rl: Relabel, split: str | None, seg_index: dict[str, str | None]) -> Match:
    """The relabel records of ``rl`` for the file with image ``key`` (and its segment map from ``seg_index``)."""
    layout = RECORD_LAYOUTS.get(rl.dataset, Layout())
    parts = key.split("/")
    if layout.key is not None:
        parts = parts[:-1] + [layout.key(parts[-1])]
    hits = []
    for i in range(len(parts)):  # the key below SRC may carry leading folders (a split, a city)
        cand = "/".join(parts[i:])
        hits = [h for h in ([rl.segments(cand, split)] if split else rl.find(cand)) if h is not None]
        if hits:
            break
    if not hits:
        return Match()
    if not split:  # a folder named after a split (train/, test/, ...) picks that split's records only
        named = {SPLIT_WORDS[p.lower()] for p in parts[:-1] if p.lower() in SPLIT_WORDS}
        words = {dict(layout.splits).get(w, w) for w in named} & set(rl.splits)
        if len(words) == 1:
            hits = [h for h in hits if h.split in words]
            if not hits:
                return Match()
        if len(hits) > 1:
            return Match(why=f"image {hits[0].key} has relabel records in splits {', '.join(h.split for h in hits)} "
                             "and its path names none of them; run each split on its own with --split")
    h = hits[0]
    if key not in seg_index:
        return Match(h, why=f"no segment map for image key {key} below the segments folder, and records move "
                            f"{len(h.segment_ids)} of its segments")
    if seg_index[key] is None:
        return Match(h, why=f"two segment maps below the segments folder have image key {key}")
    return Match(h, seg_index[key])


@dataclass(frozen=True)
class RecordReport:
    """How many records, segments and images of a dataset's relabel records matched files; what matched none."""

    dataset: str
    records: int             # records in scope (of the split asked for, or all)
    records_applied: int
    records_unmatched: int
    segments: int            # segments moved in the files matched
    images: int              # images with records that matched a file
    images_unmatched: int
    unmatched_examples: list[tuple[str, str]]   # (split, image key), the first five
    subset: bool             # a split or part of the dataset was asked for: unmatched images are no error


def record_report(rl: Relabel, split: str | None, matched: Iterable[Segments], partial: bool) -> RecordReport:
    """The report of the records of ``rl`` given the hits that matched files."""
    splits = [split] if split else list(rl.splits)
    hits = list({(h.split, h.key): h for h in matched}.values())
    hit = {(h.split, h.key) for h in hits}
    applied = set(int(r) for h in hits for r in np.unique(h.records))
    in_scope = [i for i, r in enumerate(rl.records) if r["split"] in splits]
    lost = [(s, k) for s in splits for k in rl.keys(s) if (s, k) not in hit]
    return RecordReport(dataset=rl.dataset, records=len(in_scope), records_applied=len(applied & set(in_scope)),
                        records_unmatched=len(set(in_scope) - applied),
                        segments=int(sum(len(h.segment_ids) for h in hits)), images=len(hit),
                        images_unmatched=len(lost), unmatched_examples=lost[:5], subset=bool(split) or partial)
