"""Importer: specs from the Robust Vision Challenge 2022 joint segmentation taxonomy (ozendelait/rvc_devkit).

RVC publishes its taxonomy in MSeg's master-sheet layout, ``segmentation/ss_mapping_uint8_mseg.tsv``:
a ``universal`` column (one row per universal class, ``unlabeled`` last: the ignore row) and one
column per dataset naming the class(es) that fold into each universal class (``{a, b}`` =
several). Where MSeg's sheet leaves a cell blank, RVC's writes the dataset's unlabeled class (the
class its ``unlabeled`` row names, e.g. ``unlabeled``, Mapillary's ``Unlabeled``): such a name in a
universal row is read as blank (another class of the ignore row that a universal row names too is
both mapped and ignored: a slip, written both ways, which `unitax check` refuses [mapped-twice]).
A dataset class named in one universal row maps one-to-one; a class named in several would make
that dataset's mapping a union (RVC's sheet has none).

Class lists: the columns named like a label space of a shared spec root (MSeg's ade20k-151,
coco-panoptic-201, cityscapes-34, kitti-34, mapillary-public66, scannet-41) are that space; the
two RVC adds are read from its ``label_definitions/`` beside the sheet: ``viper-rvc-32`` from
``viper_classes.csv`` (id, name, colour, ``class_eval``) and ``wilddash2-rvc-39`` from WildDash 2's
``wilddash-config.json`` (``labels`` in id order: name, colour, ``evaluate``); classes they do not
evaluate are ``unscored``. Slips: see tools/authoring/published.py.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ...compiler.errors import SpecError
from .importer import parse_cell, read_text
from .published import Published, Slip, Space, bad, render_dataset, render_mapping, render_universal

SHEET = "ss_mapping_uint8_mseg.tsv"
DEFINITIONS = "label_definitions"
UNIVERSAL_COLUMN = "universal"
IGNORE_NAME = "unlabeled"
VIPER = "viper-rvc-32"
WILDDASH = "wilddash2-rvc-39"
HEADER = ["The Robust Vision Challenge 2022 joint semantic-segmentation taxonomy: the universal column of",
          "ss_mapping_uint8_mseg.tsv (ozendelait/rvc_devkit), in row order; written by `unitax import-rvc`.",
          "No colours, parents, synsets or definitions are published: colours are the VOC colour map."]


def _viper(p: Path) -> Space:
    rows = list(csv.DictReader(io.StringIO(read_text(p), newline="")))
    need = {"id", "classname", "red", "green", "blue", "class_eval"}
    if not rows or not need <= set(rows[0]):
        raise bad(p, f"expected the columns {sorted(need)}", line=1)
    try:
        ids = [int(r["id"]) for r in rows]
        colors = [(int(r["red"]), int(r["green"]), int(r["blue"])) for r in rows]
        scored = [int(r["class_eval"]) != 0 for r in rows]
    except ValueError as e:
        raise bad(p, f"a number is not an integer: {e}") from None
    if ids != list(range(len(rows))):
        raise bad(p, "ids must be 0..n-1 in order", line=2)
    names = [r["classname"].strip() for r in rows]
    return Space(VIPER, names, colors=colors, unscored=[n for n, s in zip(names, scored, strict=True) if not s],
                 note="VIPER's classes as RVC's label_definitions/viper_classes.csv lists them (ids, colours; "
                      "class_eval 0: unscored)")


def _wilddash(p: Path) -> Space:
    try:
        labels = json.loads(read_text(p))["labels"]
        names = [str(x["name"]).strip() for x in labels]
        colors = [(int(x["color"][0]), int(x["color"][1]), int(x["color"][2])) for x in labels]
        scored = [bool(x.get("evaluate", True)) for x in labels]
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise bad(p, f"not WildDash's config layout (labels: name, color, evaluate): {type(e).__name__}: {e}") \
            from None
    return Space(WILDDASH, names, colors=colors, unscored=[n for n, s in zip(names, scored, strict=True) if not s],
                 note="WildDash 2's classes as its wilddash-config.json lists them (RVC's label_definitions; ids in "
                      "list order, colours; evaluate false: unscored)")


def read_rvc(sheet: Path, definitions: Path | None, shared: dict[str, dict[str, Any]]
             ) -> tuple[list[str], list[Space], list[Published], list[Slip]]:
    """The universal class names, label spaces, mappings and slips of RVC's sheet."""
    rel = SHEET if sheet.name == SHEET else sheet.name
    rows = list(csv.reader(io.StringIO(read_text(sheet), newline=""), delimiter="\t"))
    if not rows or not rows[0] or rows[0][0].strip() != UNIVERSAL_COLUMN:
        raise bad(sheet, f"the first column of the header must be {UNIVERSAL_COLUMN!r}", line=1)
    header = [h.strip() for h in rows[0]]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise bad(sheet, f"header repeats the column(s) {dup}", line=1)
    body = [(n, r + [""] * (len(header) - len(r))) for n, r in enumerate(rows[1:], 2) if any(c.strip() for c in r)]
    long = next((n for n, r in body if len(r) > len(header) and any(c.strip() for c in r[len(header):])), 0)
    if long:
        raise bad(sheet, f"more columns than the header's {len(header)}", line=long)
    ignore_rows = [(n, r) for n, r in body if r[0].strip() == IGNORE_NAME]
    if len(ignore_rows) != 1:
        raise bad(sheet, f"{len(ignore_rows)} rows named {IGNORE_NAME!r}; the sheet has one (the ignore row)")
    ignore_line, ignore_row = ignore_rows[0]
    uni_rows = [(n, r) for n, r in body if r[0].strip() != IGNORE_NAME]
    universal = [r[0].strip() for _, r in uni_rows]
    slips: list[Slip] = []
    seen: dict[str, int] = {}
    for n, r in uni_rows:
        u = r[0].strip()
        if u in seen:
            slips.append(Slip(rel, n, "duplicate-name", f"universal class {u!r} is also row {seen[u]}"))
        seen.setdefault(u, n)

    spaces: list[Space] = []
    mappings: list[Published] = []
    for j, ds in enumerate(header[1:], 1):
        if ds in shared:
            spec = shared[ds]
            names = [c["name"] for c in spec["classes"] if not c.get("void")]
            space = Space(ds, names, shared=spec,
                          note=f"RVC's sheet column {ds!r}: the label space of MSeg's {ds} (same names and ids)")
        elif ds in (VIPER, WILDDASH):
            if definitions is None:
                raise bad(sheet, f"column {ds!r}: its class list is in {DEFINITIONS}/ beside the sheet, which is "
                                 "missing (--label-definitions DIR)", line=1, rule="missing-file")
            p = definitions / ("viper_classes.csv" if ds == VIPER else "wilddash-config.json")
            if not p.is_file():
                raise bad(p, f"missing: the class list of {ds}", rule="missing-file")
            space = _viper(p) if ds == VIPER else _wilddash(p)
            names = space.names
        else:
            raise bad(sheet, f"column {ds!r} is no label space this importer knows (a shared spec root's, "
                             f"{VIPER} or {WILDDASH})", line=1)
        spaces.append(space)
        known = set(names)
        # RVC's blank: the dataset's unlabeled class, as its ignore row names it (any case)
        filler = {x for x in parse_cell(ignore_row[j]) if x.lower() == IGNORE_NAME}
        ignored = [x for x in parse_cell(ignore_row[j])]
        rows_of: dict[str, list[tuple[int, str]]] = {}
        for (n, r), u in zip(uni_rows, universal, strict=True):
            for x in parse_cell(r[j]):
                if x in filler:
                    continue  # RVC's blank: the dataset's unlabeled class
                rows_of.setdefault(x, []).append((n, u))
        union = any(len(v) > 1 for v in rows_of.values())
        entries: list[tuple[str, str | list[str]]] = []
        stray: list[tuple[str, str | list[str]]] = []
        for x, where in rows_of.items():
            value: str | list[str] = where[0][1] if len(where) == 1 else [u for _, u in where]
            if x not in known:
                slips.append(Slip(rel, where[0][0], "stray-entry",
                                  f"column {ds!r} names {x!r} (row {where[0][1]!r}), which is not a class of {ds}"))
                stray.append((x, value))
            else:
                entries.append((x, value))
        entries.sort(key=lambda e: names.index(e[0]))
        ignore = []
        for x in ignored:
            if x not in known:
                slips.append(Slip(rel, ignore_line, "stray-entry",
                                  f"column {ds!r} ignores {x!r}, which is not a class of {ds}"))
                stray.append((x, []))
            else:
                if x in rows_of:   # written both ways, as published: `unitax check` refuses it [mapped-twice]
                    slips.append(Slip(rel, ignore_line, "mapped-twice", f"column {ds!r} both maps and ignores {x!r}"))
                ignore.append(x)
        unlisted = [x for x in dict.fromkeys(names) if x not in rows_of and x not in ignore]
        for x in unlisted:
            slips.append(Slip(rel, 1, "unlisted-class", f"column {ds!r} never names {ds} class {x!r}"))
        mappings.append(Published(ds, entries, ignore, unlisted, stray,
                                  f"RVC's sheet column {ds!r}, as published", union=union,
                                  overlap_reason="as published by RVC: the class is named in several rows"))
    return universal, spaces, mappings, slips


def render_specs(source: Path, shared: dict[str, dict[str, Any]], definitions: Path | None = None
                 ) -> tuple[dict[str, str], list[Slip]]:
    """All spec files (relative path -> text) for RVC's sheet (a file, or the folder that holds it and
    label_definitions/), and the slips found."""
    source = Path(source)
    for candidate in (source, source / "segmentation"):
        if candidate.is_dir() and (candidate / SHEET).is_file():
            source = candidate / SHEET
            break
    if not source.is_file():
        raise bad(source, f"not RVC's sheet {SHEET} (nor a folder holding it)", rule="missing-file")
    if definitions is None and (source.parent / DEFINITIONS).is_dir():
        definitions = source.parent / DEFINITIONS
    universal, spaces, mappings, slips = read_rvc(source, definitions, shared)
    if len(universal) > 255:
        raise bad(source, f"{len(universal)} universal classes: more than uint8 labels hold beside the ignore id 255")
    names = [s.name for s in spaces]
    if len(set(names)) != len(names):
        raise SpecError(bad(source, "a column is given twice", line=1).problems)
    files = {"universal.yaml": render_universal(
        "rvc-universal", f"The {len(universal)}-class joint segmentation taxonomy of the Robust Vision Challenge "
        "2022, compiled by unitax.", universal, (255, IGNORE_NAME), HEADER)}
    for s in spaces:
        files[f"datasets/{s.name}.yaml"] = render_dataset(
            s, f"Dataset {s.name}: class ids are the values stored in its label images; written by "
            "`unitax import-rvc`.")
    for m in mappings:
        files[f"mappings/{m.source}_to_universal.yaml"] = render_mapping(m, universal, [
            f"{m.source} -> universal as RVC's sheet publishes it; written by `unitax import-rvc`."])
    return dict(sorted(files.items())), slips
