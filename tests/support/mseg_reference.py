"""An independent reader of the MSeg reference files, written for the tests only.

Deliberately shares no code with tools/authoring/importer.py, so the tests compare the compiled
tables against the reference itself rather than against the importer's reading of it.
"""

from __future__ import annotations

import csv
from pathlib import Path

IGNORE = "unlabeled"


def _tsv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.reader(f, delimiter="\t") if any(c.strip() for c in row)]


def master(ref: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows as dicts) of MSeg_master.tsv, the `unlabeled` row last."""
    rows = _tsv(ref / "class_remapping_files" / "MSeg_master.tsv")
    header = rows[0]
    return header, [dict(zip(header, r, strict=False)) for r in rows[1:]]


def cell_names(cell: str) -> list[str]:
    cell = cell.strip()
    if cell.startswith("{"):
        return [c.strip() for c in cell.strip("{}").split(",") if c.strip()]
    return [cell] if cell else []


def names(ref: Path, dataset: str) -> list[str]:
    text = (ref / "dataset_lists" / dataset / f"{dataset}_names.txt").read_text(encoding="utf-8")
    out = [line.strip() for line in text.splitlines()]
    while out and not out[-1]:
        out.pop()
    return out


def remap_pairs(ref: Path, path: Path) -> tuple[str, str, list[tuple[str, str]]]:
    rows = _tsv(path)
    return rows[0][0].strip(), rows[0][1].strip(), [(r[0].strip(), r[1].strip()) for r in rows[1:]]


def remap_files(ref: Path) -> list[Path]:
    return sorted((ref / "class_remapping_files").glob("*_to_*.tsv"))
