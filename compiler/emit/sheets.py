"""Stage 6 (sheets): the taxonomy as spreadsheets for review, built from the model alone.

- ``sheets/master.tsv``: the master sheet in the column layout of the MSeg reference
  (``MSeg_master.tsv``): one row per universal class plus the ``unlabeled`` row, a column per
  dataset mapped into universal (the class names that fold into each row) and per test dataset
  (the test class each row counts as), parent category, synset, definition (ours) and the
  WordNet-modified flag.
- ``sheets/mappings/<source>_to_<target>.csv``: one per mapping, a row per source class.
- ``sheets/taxonomy.xlsx``: a workbook with the universal classes, an index of the mappings and
  a sheet per mapping; byte-reproducible (XlsxWriter's zip dates are fixed, the creation date
  it stamps is pinned to ``CREATED``).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import xlsxwriter

from ..model import UNIVERSAL, ClassDef, Mapping, Model
from ..names import fold
from . import HEADER
from .escape import sheet_cell

CREATED = datetime(2020, 1, 1, tzinfo=UTC)

PARENT = "Parent Category"
UNIVERSAL_COLUMN = "universal"
SYNSET = "WordNet 3.1 Synset"
DEFINITION = "Defn (Most of the meanings are derived from WordNet 3.1)"
MODIFIED = "Modification of WordNet Node"

# The column order of the MSeg reference sheet. Datasets it does not name go after those it
# does (by name); datasets it names that the specs lack are left out. Only the layout comes from
# here: which columns exist and every cell come from the specs.
MSEG_TRAIN_ORDER = (
    "mapillary-public65", "mapillary-public65-relabeled", "coco-panoptic-133", "coco-panoptic-133-relabeled",
    "ade20k-150", "ade20k-150-relabeled", "idd-39", "idd-39-relabeled", "cityscapes-34", "cityscapes-34-relabeled",
    "cityscapes-19", "cityscapes-19-relabeled", "bdd", "bdd-relabeled", "nyudepthv2-37", "scannet-37",
    "sunrgbd-37", "sunrgbd-37-relabeled",
)
MSEG_TEST_ORDER = (
    "test-nyudepthv2-37", "kitti-19", "voc2012", "scannet-20", "camvid-11", "wilddash-19", "pascal-context-60",
)


def _ordered(names: set[str], layout: tuple[str, ...]) -> list[str]:
    return [n for n in layout if n in names] + sorted(names - set(layout))


def cell(names: list[str], braces: bool = False) -> str:
    """A master-sheet cell: '' for none, the name for one, '{a, b}' for several (or always braced)."""
    if not names:
        return ""
    if len(names) == 1 and not braces:
        return names[0]
    return "{" + ", ".join(names) + "}"


def _modified(c: ClassDef) -> str:
    if c.wordnet_modified_note:
        return c.wordnet_modified_note
    return {True: "yes", False: "no", None: ""}[c.wordnet_modified]


def master_rows(model: Model) -> list[list[str]]:
    """The master sheet as rows of strings, the header first and the ignore row last."""
    u = model.universal
    # MSeg's layout has one target per class: union mappings show in their own mapping sheets
    to_u = {m.source: m for m in model.mappings_of("to_universal") if m.form != "union"}
    from_u = {m.target: m for m in model.mappings_of("from_universal")}
    train = _ordered(set(to_u), MSEG_TRAIN_ORDER)
    test = _ordered(set(from_u), MSEG_TEST_ORDER)
    header = [PARENT, *train, UNIVERSAL_COLUMN, SYNSET, DEFINITION, MODIFIED, *test]

    folded: dict[str, list[list[str]]] = {}
    for name in train:
        space, m = model.spaces[name], to_u[name]
        col: list[list[str]] = [[] for _ in u.classes]
        for s, t in m.pairs:  # sorted by source id
            col[t].append(space.classes[s].name)
        folded[name] = col
    counts: dict[str, list[str]] = {}
    for name in test:
        space, m = model.spaces[name], from_u[name]
        col_t = [""] * len(u.classes)
        for s, t in m.pairs:
            col_t[s] = space.classes[t].name
        counts[name] = col_t

    rows = [header]
    for c in u.classes:
        rows.append([
            c.parent or "",
            *(cell(folded[n][c.id]) for n in train),
            c.name,
            c.synset_note or c.synset or "",
            c.definition or "",
            _modified(c),
            *(counts[n][c.id] for n in test),
        ])
    ignored = {n: [model.spaces[n].classes[s].name for s in to_u[n].ignored] for n in train}
    rows.append([u.ignore_name, *(cell(ignored[n], braces=True) for n in train), u.ignore_name,
                 "", "", "", *("" for _ in test)])
    return rows


def _csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    """Rows as CSV (or TSV) bytes, every cell neutralised for spreadsheets (escape.sheet_cell)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerows([sheet_cell(c) for c in row] for row in rows)
    return buf.getvalue().encode("utf-8")


def mapping_pairs(model: Model, m: Mapping) -> list[tuple[ClassDef, ClassDef | None]]:
    """(source class, target class or None = ignored) per source class, void ids left out, in id order."""
    src, dst = model.spaces[m.source], model.spaces[m.target]
    target = dict(m.pairs)
    return [(c, dst.classes[target[c.id]] if c.id in target else None) for c in src.real_classes]


def mapping_rows(model: Model, m: Mapping) -> list[list[str]]:
    """The CSV rows of a mapping; an ignored class goes to the target's ignore id and name."""
    dst = model.spaces[m.target]
    if m.form == "union":
        return union_rows(model, m)
    return [[str(s.id), s.name, *((str(t.id), t.name) if t is not None else (str(dst.ignore), dst.ignore_name))]
            for s, t in mapping_pairs(model, m)]


def union_rows(model: Model, m: Mapping) -> list[list[str]]:
    """A union mapping's rows: target_id is the lookup table's value (the class for a set of one,
    ignore for a larger set), target_name the set as ``{a, b, c}``, target_ids its ids ``1 5 9``."""
    src, dst = model.spaces[m.source], model.spaces[m.target]
    sets = dict(m.sets)
    rows = []
    for c in src.real_classes:
        ts = sets.get(c.id, ())
        if not ts:
            rows.append([str(c.id), c.name, str(dst.ignore), dst.ignore_name, ""])
        elif len(ts) == 1:
            rows.append([str(c.id), c.name, str(ts[0]), dst.classes[ts[0]].name, str(ts[0])])
        else:
            rows.append([str(c.id), c.name, str(dst.ignore), cell([dst.classes[u].name for u in ts]),
                         " ".join(str(u) for u in ts)])
    return rows


UNION_HEADER = ["source_id", "source_name", "target_id", "target_name", "target_ids"]


MAPPING_HEADER = ["source_id", "source_name", "target_id", "target_name"]


def sheet_name(m: Mapping, taken: set[str]) -> str:
    """A worksheet name (Excel: at most 31 characters, unique ignoring case) for a mapping."""
    def short(name: str) -> str:
        return "univ" if name == UNIVERSAL else name.replace("-relabeled", "-rel").replace("panoptic", "pan")

    base = f"{short(m.source)}>{short(m.target)}"
    name, k = base[:31], 2
    while fold(name) in taken:  # Excel compares sheet names ignoring case
        suffix = f"~{k}"
        name, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(fold(name))
    return name


def _hex(c: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*c)


def _swatch(c: tuple[int, int, int]) -> tuple[str, tuple[int, int, int]]:
    """A colour cell: its hex code, filled with the colour."""
    return (_hex(c), c)


class _Formats:
    """Cell formats, one per fill colour, made on first use (XlsxWriter dedupes them too)."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.wb = wb
        self.header = wb.add_format({"bold": True, "bg_color": "#DDE3EA", "bottom": 1})
        self.link = wb.add_format({"font_color": "#0550AE", "underline": 1})
        self.muted = wb.add_format({"font_color": "#6E7781"})
        self._fills: dict[tuple[int, int, int], object] = {}

    def fill(self, c: tuple[int, int, int]) -> object:
        if c not in self._fills:
            ink = "#000000" if 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 140 else "#FFFFFF"
            self._fills[c] = self.wb.add_format({"bg_color": _hex(c), "font_color": ink})
        return self._fills[c]


def _table(ws: Any, fmt: _Formats, header: list[str], rows: list[list[object]], widths: list[float]) -> None:
    """Header row (frozen, with an autofilter) and rows; a cell given as (text, colour) is filled."""
    for j, h in enumerate(header):
        ws.write_string(0, j, h, fmt.header)
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            if isinstance(v, tuple):
                text, color = v
                if color is not None:
                    ws.write_string(i, j, text, fmt.fill(color))
                elif text:
                    ws.write_string(i, j, text)
            elif isinstance(v, int):
                ws.write_number(i, j, v)
            elif v:  # an empty string stays an empty cell
                ws.write_string(i, j, v)
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(header) - 1)


def _text(cell: object) -> str:
    """The text of a cell: its own, or the text of a (text, colour) pair."""
    return str(cell[0]) if isinstance(cell, tuple) else str(cell)


def _width(header: list[str], rows: list[list[object]], j: int, cap: float = 60) -> float:
    longest = max([len(header[j])] + [len(_text(r[j])) for r in rows])
    return float(min(cap, max(6, longest + 2)))


UNIVERSAL_HEADER = ["id", "name", "colour", "parent", "WordNet synset", "synset note", "WordNet modified",
                    "definition"]
INDEX_HEADER = ["sheet", "source", "target", "kind", "mapped", "ignored", "unfed targets", "note"]


def workbook(model: Model) -> bytes:
    """The XLSX workbook, byte-reproducible."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    wb.set_properties({"title": "unitax taxonomy", "comments": HEADER, "created": CREATED})
    fmt = _Formats(wb)
    u = model.universal

    ws = wb.add_worksheet("universal")
    rows: list[list[object]] = []
    for c in u.classes:
        assert c.color is not None
        rows.append([c.id, c.name, _swatch(c.color), c.parent or "", c.synset or "", c.synset_note or "",
                     {True: "yes", False: "no", None: ""}[c.wordnet_modified] + (
                         f" ({c.wordnet_modified_note})" if c.wordnet_modified_note else ""),
                     c.definition or ""])
    widths = [_width(UNIVERSAL_HEADER, rows, j) for j in range(7)] + [120.0]
    _table(ws, fmt, UNIVERSAL_HEADER, rows, widths)

    index = wb.add_worksheet("mappings")
    taken = {"universal", "mappings"}
    names = [sheet_name(m, taken) for m in model.mappings]
    idx_rows: list[list[object]] = []
    for m, name in zip(model.mappings, names, strict=True):
        idx_rows.append([name, m.source, m.target, m.kind, len(m.pairs), len(m.ignored), len(m.unfed), m.note or ""])
    _table(index, fmt, INDEX_HEADER, idx_rows, [_width(INDEX_HEADER, idx_rows, j) for j in range(7)] + [80.0])
    for i, name in enumerate(names, start=1):  # the sheet name cell links to the sheet
        index.write_url(i, 0, f"internal:'{name}'!A1", fmt.link, string=name)

    # Mapping sheets carry a class's colour as the fill of its name cell (no colour columns: XlsxWriter
    # spends ~10 us a cell, and 4 cells a row keep the whole workbook near 0.2 s).
    header = ["source id", "source name", "target id", "target name"]
    for m, name in zip(model.mappings, names, strict=True):
        dst = model.spaces[m.target]
        rows = []
        for sc, tc in mapping_pairs(model, m):
            target: list[object] = ([tc.id, (tc.name, tc.color)] if tc is not None
                                    else [dst.ignore, (dst.ignore_name, None)])
            rows.append([sc.id, (sc.name, sc.color), *target])
        if m.form == "union":  # a larger set shows as {a, b, c} beside ignore, the lookup table's value
            src = model.spaces[m.source]
            rows = [[int(r[0]), (r[1], src.classes[int(r[0])].color), int(r[2]),
                     (r[3], dst.classes[int(r[2])].color if int(r[2]) < len(dst.classes) else None)]
                    for r in union_rows(model, m)]
        ws = wb.add_worksheet(name)
        _table(ws, fmt, header, rows, [_width(header, rows, j) for j in range(len(header))])
    wb.close()
    return buf.getvalue()


def render(model: Model) -> dict[str, bytes]:
    """Every sheet file as path (relative to the compiled folder) -> bytes."""
    files = {"sheets/master.tsv": _csv(master_rows(model), "\t")}
    for m in model.mappings:
        header = UNION_HEADER if m.form == "union" else MAPPING_HEADER
        files[f"sheets/mappings/{m.key}.csv"] = _csv([header, *mapping_rows(model, m)])
    files["sheets/taxonomy.xlsx"] = workbook(model)
    return files
