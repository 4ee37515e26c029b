"""An independent reader of the published UT and RVC taxonomies, written for the tests only.

Shares no code with tools/authoring/ut_import.py or rvc_import.py, so the fidelity tests compare
the compiled tables with the published files themselves, not with the importers' reading of them.
UT's .py files are parsed and each assignment's value read with ``ast.literal_eval`` (never
imported or run); RVC's sheet and numeric tables are read with the csv module.
"""

from __future__ import annotations

import ast
import csv
import json
from dataclasses import dataclass
from pathlib import Path

#: the comprehensions UT writes for class_to_eval ("every class but ignore is scored"), as published
EVERY_CLASS_BUT_IGNORE = ("{k: k != 'ignore' for k, v in class_to_index.items()}",
                          "{c: c != 'ignore' for c in class_to_index.keys()}")


@dataclass
class UTDataset:
    file: str
    names: list[str]          # class_to_index in id order
    mapping: dict[str, list[str]]
    scored: dict[str, bool]


def _assignments(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    out: dict[str, object] = {}
    for node in ast.parse(text).body:
        assert isinstance(node, ast.Assign), f"{path}:{node.lineno}: not an assignment"
        name = node.targets[0].id  # type: ignore[attr-defined]
        if isinstance(node.value, ast.DictComp):
            source = ast.get_source_segment(text, node.value)
            assert source in EVERY_CLASS_BUT_IGNORE, f"{path}:{node.lineno}: an unknown comprehension {source}"
            out[name] = "every class but ignore"
        else:
            out[name] = ast.literal_eval(node.value)
    return out


def ut_universal(ref: Path) -> list[str]:
    """UT's universal class names in id order, ``ignore`` (the last) included."""
    cti = _assignments(ref / "taxonomies" / "universal_classes.py")["class_to_index"]
    assert isinstance(cti, dict)
    return sorted(cti, key=cti.__getitem__)


def ut_datasets(ref: Path) -> list[UTDataset]:
    out = []
    for p in sorted((ref / "taxonomies").glob("*.py")):
        if p.name == "universal_classes.py":
            continue
        a = _assignments(p)
        cti, mapping, ev = a["class_to_index"], a["mapping"], a["class_to_eval"]
        assert isinstance(cti, dict) and isinstance(mapping, dict)
        names = sorted(cti, key=cti.__getitem__)
        scored = {n: n != "ignore" for n in names} if ev == "every class but ignore" else ev
        assert isinstance(scored, dict)
        out.append(UTDataset(p.name, names, mapping, scored))
    return out


def _cell(cell: str) -> list[str]:
    cell = cell.strip()
    if cell.startswith("{") and cell.endswith("}"):
        return [c.strip() for c in cell[1:-1].split(",") if c.strip()]
    return [cell] if cell else []


def rvc_sheet(ref: Path) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """(universal names in row order without ``unlabeled``, column -> universal row name -> the dataset
    class names of its cell, the ``unlabeled`` row included)."""
    with open(ref / "ss_mapping_uint8_mseg.tsv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if any(c.strip() for c in r)]
    header = rows[0]
    cols: dict[str, dict[str, list[str]]] = {h: {} for h in header[1:]}
    for r in rows[1:]:
        for h, c in zip(header[1:], r[1:], strict=False):
            cols[h][r[0].strip()] = _cell(c)
    return [r[0].strip() for r in rows[1:] if r[0].strip() != "unlabeled"], cols


#: RVC's numeric table columns -> the label space whose ids they give
NUMERIC_COLUMNS = {"ade20k_id": "ade20k-151", "coco_pano_id": "coco-panoptic-201",
                   "cityscapes_pano_id": "cityscapes-34", "kitti_pano_id": "kitti-34",
                   "mvd_pano_id": "mapillary-public66", "scannet_pano_id": "scannet-41",
                   "viper_pano_id": "viper-rvc-32", "wilddash_pano_id": "wilddash2-rvc-39"}


def rvc_numeric(ref: Path, name: str = "ss_mapping_uint8.csv") -> list[tuple[str, str, int]]:
    """(universal row name, label space, dataset id) for every id of RVC's numeric table."""
    with open(ref / name, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [(r["key"], ds, int(x)) for r in rows for col, ds in NUMERIC_COLUMNS.items()
            for x in (r.get(col) or "").split(";") if x.strip()]


def rvc_class_list(ref: Path, mseg_ref: Path, space: str) -> list[str]:
    """The class names of a column's label space in id order: RVC's label_definitions for its two new
    spaces, MSeg's names files for the others."""
    defs = ref / "label_definitions"
    if space == "viper-rvc-32":
        with open(defs / "viper_classes.csv", newline="", encoding="utf-8") as f:
            return [r["classname"] for r in csv.DictReader(f)]
    if space == "wilddash2-rvc-39":
        return [x["name"] for x in json.loads((defs / "wilddash-config.json").read_text(encoding="utf-8"))["labels"]]
    text = (mseg_ref / "dataset_lists" / space / f"{space}_names.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.split("\n") if line.strip()]
