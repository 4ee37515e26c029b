"""The importer of MSeg's relabelings (``unitax import-relabel``): the reference's
``relabeled_data/update_records.tsv`` and segment lists -> ``taxonomy/relabel/`` specs, which the
compiler validates and compiles like every spec (``unitax.compiler.relabel`` says how).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ...compiler.errors import Problem, SpecError
from ...compiler.relabel import RELABEL_DIR
from ...fileops.datapath import DataPathError, relpath
from . import specwriter

RECORDS_FILE = "relabeled_data/update_records.tsv"
#: MSeg's script that applies the records, one ``mseg_write_relabeled_segments.py --dataset_to_relabel X``
#: call per relabeled label space; looked for in the reference folder, then beside it (an mseg-api
#: checkout keeps ``download_scripts/`` next to ``mseg/``)
SCRIPT = "download_scripts/mseg_apply_relabeling.sh"
SCRIPT_CALL = re.compile(r"mseg_write_relabeled_segments\.py\b.*--dataset_to_relabel[ =]+(\S+)")
# What mseg-api's mseg_write_relabeled_segments.py (get_relabeling_task) does for each value of
# --dataset_to_relabel: the label space it writes and the record list of
# mseg/label_preparation/dataset_update_records.py it applies, with the dataset names the records
# of that list give (column `dataset` of update_records.tsv). Note that cityscapes-19 and
# cityscapes-34 both apply cityscapes_update_records.
TASKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ade20k-150": ("ade20k-150-relabeled", "ade20k_update_records", ("ade20k", "ade20k-v1")),
    "bdd": ("bdd-relabeled", "bdd_update_records", ("bdd",)),
    "cityscapes-19": ("cityscapes-19-relabeled", "cityscapes_update_records", ("cityscapes",)),
    "cityscapes-34": ("cityscapes-34-relabeled", "cityscapes_update_records", ("cityscapes",)),
    "coco-panoptic-133": ("coco-panoptic-133-relabeled", "cocop_update_records",
                          ("cocop", "cocopanoptic", "cocopanoptic-v1")),
    "idd-39": ("idd-39-relabeled", "idd_update_records", ("idd",)),
    "mapillary-public65": ("mapillary-public65-relabeled", "mapillary_update_records", ("mapillary-public65",)),
    "sunrgbd-37": ("sunrgbd-37-relabeled", "sunrgbd_update_records", ("sunrgbd",)),
}
#: the dataset names of update_records.tsv the importer knows
REFERENCE_ALIASES = frozenset(a for _, _, aliases in TASKS.values() for a in aliases)
# The reference names a segment '<image>_<segment id>.<png|jpg>' (the extension is that of a
# review thumbnail). Our image key is the image's path below its split folder, without
# extension and without the camera suffix: 'seq<dir>_<stem>' (Cityscapes, IDD) becomes
# '<dir>/<stem>', 'mapillary_<stem>' becomes '<stem>', '_leftImg8bit' is dropped.
KEY_STYLE = {"cityscapes-19-relabeled": "seq-dir", "cityscapes-34-relabeled": "seq-dir", "idd-39-relabeled": "seq-dir",
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


@dataclass(frozen=True)
class Call:
    """One line of MSeg's relabeling script: the records of ``update_records`` go to ``space``."""

    line: int
    dataset_to_relabel: str
    space: str
    update_records: str
    aliases: tuple[str, ...]


def find_script(ref: Path) -> Path | None:
    """MSeg's relabeling script in the reference folder, or beside it; None if neither has it."""
    for p in (ref / SCRIPT, ref.parent / SCRIPT):
        if p.is_file():
            return p
    return None


def script_calls(path: Path, problems: list[Problem]) -> list[Call]:
    """The ``--dataset_to_relabel`` calls of MSeg's relabeling script, in script order."""
    calls: list[Call] = []
    logical: list[tuple[int, str]] = []   # shell lines joined at a trailing backslash, with their first line
    start, parts = 0, []
    for n, line in enumerate(_read_reference_text(path).split("\n"), 1):
        start = start or n
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        logical.append((start, " ".join(parts + [line])))
        start, parts = 0, []
    for n, line in logical:
        m = SCRIPT_CALL.search(line.split("#", 1)[0])
        if m is None:
            continue
        name = m.group(1)
        task = TASKS.get(name)
        if task is None:
            problems.append(Problem(path.as_posix(), n, "$", "reference-format",
                                    f"--dataset_to_relabel {name!r} is not a dataset the importer knows "
                                    f"({', '.join(sorted(TASKS))})"))
            continue
        if any(c.space == task[0] for c in calls):
            problems.append(Problem(path.as_posix(), n, "$", "reference-format",
                                    f"{name} is relabeled twice (also on line "
                                    f"{next(c.line for c in calls if c.space == task[0])})"))
            continue
        calls.append(Call(n, name, *task))
    if not calls and not problems:
        problems.append(Problem(path.as_posix(), 0, "$", "reference-format",
                                "no mseg_write_relabeled_segments.py --dataset_to_relabel call"))
    return calls


def render_reference(ref: Path) -> dict[str, bytes]:
    """The relabel specs (paths relative to the spec root -> bytes) for the MSeg reference at ``ref``.

    Each label space MSeg's relabeling script relabels (``download_scripts/mseg_apply_relabeling.sh``)
    gets the records of the list its call applies (:data:`TASKS`), in the order of update_records.tsv,
    and says so in ``applied_by``. Raises SpecError naming the reference file and line of anything it
    cannot read.
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
    script = find_script(ref)
    calls: list[Call] = []
    if script is None:
        problems.append(Problem((ref / SCRIPT).as_posix(), 0, "$", "missing-file",
                                f"MSeg's relabeling script is needed to know which label spaces get which records "
                                f"(looked for {SCRIPT} in {ref} and in {ref.parent})"))
    else:
        calls = script_calls(script, problems)
    records: list[tuple[int, dict[str, Any]]] = []
    for n, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != 5:
            problems.append(Problem(path.as_posix(), n, "$", "reference-format", f"{len(row)} columns, expected 5"))
            continue
        alias, split, src, dst, listing = (c.strip() for c in row)
        if alias not in REFERENCE_ALIASES:
            problems.append(Problem(path.as_posix(), n, "$", "reference-format",
                                    f"dataset {alias!r} is not one the importer knows "
                                    f"({', '.join(sorted(REFERENCE_ALIASES))})"))
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
        if script is not None and calls and not any(alias in c.aliases for c in calls):
            problems.append(Problem(path.as_posix(), n, "$", "reference-format",
                                    f"records of {alias!r} are applied by no call of {script.as_posix()}"))
            continue
        records.append((n, {"alias": alias, "split": split, "from": src, "to": dst, "listing": listing,
                            "seg_path": seg_path}))
    files: dict[str, bytes] = {}
    script_rel = SCRIPT
    for call in calls:
        recs = []
        for _, r in records:
            if r["alias"] not in call.aliases:
                continue
            rel = PurePosixPath(r["listing"]).with_suffix(".tsv").as_posix()
            segments = _reference_segments(r["seg_path"], KEY_STYLE.get(call.space), problems)
            files[f"{RELABEL_DIR}/{call.space}/{rel}"] = _tsv(segments)
            recs.append({**r, "segments": rel})
        if recs:
            files[f"{RELABEL_DIR}/{call.space}.yaml"] = render_yaml(call.space, recs, call, script_rel).encode("utf-8")
    if problems:
        raise SpecError(sorted(set(problems), key=lambda p: (p.file, p.line, p.message)))
    return dict(sorted(files.items()))


def render_yaml(dataset: str, records: list[dict[str, Any]], call: Call | None = None,
                script: str = SCRIPT) -> str:
    """A relabel spec file: the dataset, its aliases (those the records use), why the records apply
    (``applied_by``: the script line, when ``call`` is given) and one record a line."""
    aliases = sorted({r["alias"] for r in records} - {dataset})
    header = [
        f"Segment relabelings of {dataset}: each record moves the segments listed in its file",
        f"(relabel/{dataset}/<file>: '<image key>\\t<segment id>' a line) from one universal class to",
        "another ('unlabeled': to ignore). `from` is the class the segments were reviewed as; the",
        "segments move whatever they are labelled now. Imported by `unitax import-relabel` from the",
        "MSeg reference (relabeled_data/update_records.tsv); `alias` is the dataset name used there.",
    ]
    data: dict[str, Any] = {"dataset": dataset, "aliases": aliases}
    if call is not None:
        header += [
            f"MSeg applies these records to {dataset} at {script}:{call.line}",
            f"(mseg_write_relabeled_segments.py --dataset_to_relabel {call.dataset_to_relabel}, whose task applies",
            f"{call.update_records}: the records named {', '.join(call.aliases)}), in this order.",
        ]
        data["applied_by"] = {"script": script, "line": call.line, "dataset_to_relabel": call.dataset_to_relabel,
                              "update_records": call.update_records}
    data["records"] = [{**({"alias": r["alias"]} if r["alias"] != dataset else {}),
                        **{k: r[k] for k in ("split", "from", "to", "segments")}} for r in records]
    return specwriter.render("relabel", data, header=header)


def write_specs(files: dict[str, bytes], root: Path) -> None:
    """Make ``root/relabel`` hold exactly ``files``, as one set (tools/specwriter.replace_folder): a
    failed write (a full disk) leaves the old relabel specs and segment lists as they were."""
    specwriter.replace_folder(Path(root), RELABEL_DIR, files)
