"""The importer of MSeg's relabelings (``unitax import-relabel``): the reference's
``relabeled_data/update_records.tsv`` and segment lists -> ``taxonomy/relabel/`` specs, which the
compiler validates and compiles like every spec (``unitax.compiler.relabel`` says how).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from ..compiler.errors import Problem, SpecError
from ..compiler.relabel import RELABEL_DIR
from .atomic import TMP_MARK
from .datapath import DataPathError, relpath

RECORDS_FILE = "relabeled_data/update_records.tsv"
# The dataset names of the reference's update_records.tsv and the declared dataset each means:
# the records move segments between classes of the `-relabeled` label spaces (whose class names
# are universal names). Cityscapes segments are keyed by image and apply to cityscapes-34 and -19
# alike; MSeg trains on cityscapes-19-relabeled, so the records belong to that one.
REFERENCE_DATASETS = {
    "ade20k": "ade20k-150-relabeled",
    "ade20k-v1": "ade20k-150-relabeled",
    "bdd": "bdd-relabeled",
    "cityscapes": "cityscapes-19-relabeled",
    "cocop": "coco-panoptic-133-relabeled",
    "cocopanoptic": "coco-panoptic-133-relabeled",
    "cocopanoptic-v1": "coco-panoptic-133-relabeled",
    "idd": "idd-39-relabeled",
    "mapillary-public65": "mapillary-public65-relabeled",
    "sunrgbd": "sunrgbd-37-relabeled",
}
# The reference names a segment '<image>_<segment id>.<png|jpg>' (the extension is that of a
# review thumbnail). Our image key is the image's path below its split folder, without
# extension and without the camera suffix: 'seq<dir>_<stem>' (Cityscapes, IDD) becomes
# '<dir>/<stem>', 'mapillary_<stem>' becomes '<stem>', '_leftImg8bit' is dropped.
KEY_STYLE = {"cityscapes-19-relabeled": "seq-dir", "idd-39-relabeled": "seq-dir",
             "mapillary-public65-relabeled": "prefix:mapillary_"}
CAMERA_SUFFIX = "_leftImg8bit"


def reference_key(name: str, style: str | None) -> str | None:
    """Our image key for the reference's image name (without segment id), or None if it does not fit."""
    if style == "seq-dir":
        if not name.startswith("seq") or "_" not in name[3:]:
            return None
        folder, _, stem = name[3:].partition("_")
        if not folder or not stem:
            return None
        name = f"{folder}/{stem}"
    elif style and style.startswith("prefix:"):
        prefix = style.split(":", 1)[1]
        if not name.startswith(prefix) or len(name) == len(prefix):
            return None
        name = name[len(prefix):]
    if name.endswith(CAMERA_SUFFIX):
        name = name[: -len(CAMERA_SUFFIX)]
    return name or None


def _reference_segments(path: Path, style: str | None, problems: list[Problem]) -> list[tuple[str, int]]:
    out = []
    text = _read_reference_text(path)
    for n, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        stem, dot, ext = line.rpartition(".")
        name, us, sid = stem.rpartition("_")
        key = reference_key(name, style) if dot and us else None
        if not (dot and us and sid.isdigit() and sid.isascii() and key):
            problems.append(Problem(path.as_posix(), n, "$", "reference-format",
                                    f"{line[:80]!r} is not '<image>_<segment id>.<ext>'"))
            continue
        out.append((key, int(sid)))
    return out


def _tsv(segments: list[tuple[str, int]]) -> bytes:
    return "".join(f"{k}\t{s}\n" for k, s in segments).encode("ascii")


def _read_reference_text(path: Path) -> str:
    """A reference file as text; SpecError naming it when unreadable or not UTF-8 (never a traceback)."""
    from .importer import read_text

    return read_text(path)


def render_reference(ref: Path) -> dict[str, bytes]:
    """The relabel specs (paths relative to the spec root -> bytes) for the MSeg reference at ``ref``.

    Raises SpecError naming the reference file and line of anything it cannot read.
    """
    ref = Path(ref)
    path = ref / RECORDS_FILE
    if not path.is_file():
        raise SpecError([Problem(path.as_posix(), 0, "$", "missing-file",
                                 "not a directory laid out like the MSeg reference "
                                 "(no relabeled_data/update_records.tsv)")])
    rows = list(csv.reader(io.StringIO(_read_reference_text(path), newline=""), delimiter="\t"))
    header = ["dataset", "split", "orig_class", "relabeled_class", "segment_list"]
    problems: list[Problem] = []
    if not rows or rows[0] != header:
        raise SpecError([Problem(path.as_posix(), 1, "$", "reference-format", f"header is not {header}")])
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    files: dict[str, bytes] = {}
    for n, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != 5:
            problems.append(Problem(path.as_posix(), n, "$", "reference-format", f"{len(row)} columns, expected 5"))
            continue
        alias, split, src, dst, listing = (c.strip() for c in row)
        dataset = REFERENCE_DATASETS.get(alias)
        if dataset is None:
            problems.append(Problem(path.as_posix(), n, "$", "reference-format",
                                    f"dataset {alias!r} is not one the importer knows "
                                    f"({', '.join(sorted(REFERENCE_DATASETS))})"))
            continue
        try:   # a path from the file's content: below relabeled_data/, and written below relabel/<dataset>/
            relpath(listing, "segment list")
        except DataPathError as e:
            problems.append(Problem(path.as_posix(), n, "$", "reference-format", str(e)))
            continue
        seg_path = path.parent / listing
        if not seg_path.resolve().is_relative_to(path.parent.resolve()) or not seg_path.is_file():
            problems.append(Problem(path.as_posix(), n, "$", "missing-file", f"segment list {listing!r} not found"))
            continue
        segments = _reference_segments(seg_path, KEY_STYLE.get(dataset), problems)
        rel = PurePosixPath(listing).with_suffix(".tsv").as_posix()
        files[f"{RELABEL_DIR}/{dataset}/{rel}"] = _tsv(segments)
        by_dataset.setdefault(dataset, []).append(
            {"alias": alias, "split": split, "from": src, "to": dst, "segments": rel})
    if problems:
        raise SpecError(problems)
    for dataset, recs in sorted(by_dataset.items()):
        files[f"{RELABEL_DIR}/{dataset}.yaml"] = render_yaml(dataset, recs).encode("utf-8")
    return dict(sorted(files.items()))


def render_yaml(dataset: str, records: list[dict[str, Any]]) -> str:
    """A relabel spec file: the dataset, its aliases (those the records use) and one record a line."""
    from ..compiler.yamlquote import q

    aliases = sorted({r["alias"] for r in records} - {dataset})
    out = [
        f"# Segment relabelings of {dataset}: each record moves the segments listed in its file",
        f"# (relabel/{dataset}/<file>: '<image key>\\t<segment id>' a line) from one universal class to",
        "# another ('unlabeled': to ignore). `from` is the class the segments were reviewed as; the",
        "# segments move whatever they are labelled now. Imported by `unitax import-relabel` from the",
        "# MSeg reference (relabeled_data/update_records.tsv); `alias` is the dataset name used there.",
        f"dataset: {dataset}",
        "aliases: [" + ", ".join(q(a) for a in aliases) + "]",
        "records:",
    ]
    for r in records:
        fields = [f"alias: {q(r['alias'])}"] if r["alias"] != dataset else []
        fields += [f"split: {q(r['split'])}", f"from: {q(r['from'])}", f"to: {q(r['to'])}",
                   f"segments: {q(r['segments'])}"]
        out.append("  - {" + ", ".join(fields) + "}")
    return "\n".join(out) + "\n"


def write_specs(files: dict[str, bytes], root: Path) -> None:
    """Replace ``root/relabel`` with ``files``: written into a folder beside it first, then swapped
    in by two renames. A failed write (a full disk) removes that folder and leaves the old one as it
    was; a failed swap puts the old folder back."""
    root = Path(root)
    final = root / RELABEL_DIR
    tmp = root / f".{RELABEL_DIR}{TMP_MARK}{os.getpid()}"
    old = root / f".{RELABEL_DIR}.old{TMP_MARK}{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    moved = False
    try:
        for rel, data in files.items():
            p = tmp / PurePosixPath(rel).relative_to(RELABEL_DIR)
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "xb") as f:
                f.write(data)
        if final.exists():
            os.rename(final, old)
            moved = True
        os.rename(tmp, final)
    except BaseException:
        if moved and not final.exists():
            os.rename(old, final)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
