"""The generated spreadsheets: the master sheet round-trips the reference, one CSV per mapping, and
an XLSX workbook that a real reader (openpyxl) reads back equal to the specs, byte-reproducibly."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from support import mseg_reference as R
from support.goldens import check_goldens
from support.paths import GENERATED, ROOT, SPECS

from unitax.compiler import build
from unitax.compiler.emit import sheets as emit_sheets
from unitax.compiler.emit.escape import sheet_value
from unitax.compiler.model import UNIVERSAL, Model

GOLDEN_SPECS = ROOT / "tests" / "goldens" / "specs"

DEFINITION = "Defn (Most of the meanings are derived from WordNet 3.1)"
EXACT_COLUMNS = ("Parent Category", "universal", "WordNet 3.1 Synset", "Modification of WordNet Node")


def _model(root: Path) -> Model:
    model, problems = build.check_specs(root)
    assert model is not None, [str(p) for p in problems]
    return model


@pytest.fixture(scope="module")
def model() -> Model:
    return _model(SPECS)


@pytest.fixture(scope="module")
def sheets(model: Model) -> dict[str, bytes]:
    return emit_sheets.render(model)


def _tsv(data: bytes) -> list[list[str]]:
    """The text of every cell (a formula-like one was written with a leading quote: escape.sheet_value)."""
    return [[sheet_value(c) for c in row]
            for row in csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter="\t")]


def _names(cell: str) -> list[str]:
    return R.cell_names(cell)


def _canonical(names: list[str], order: dict[str, int], braces: bool) -> str:
    """How our sheet writes a list of dataset classes: id order, ', ' between, braces for several
    (always on the ignore row)."""
    names = sorted(names, key=order.__getitem__)
    if not names:
        return ""
    return names[0] if len(names) == 1 and not braces else "{" + ", ".join(names) + "}"


def test_master_sheet_round_trips_the_reference(reference, model, sheets):
    """Every fact cell equals the reference's. Cells that list dataset classes are compared as
    parsed lists and, after writing the reference's list in one canonical form (classes in id
    order, single classes without braces, the ignore row always braced), byte for byte: the specs
    do not record the reference's order inside a cell nor its spacing, so those are normalized."""
    header, ref_rows = R.master(reference)
    ours = _tsv(sheets["sheets/master.tsv"])
    assert ours[0] == header, "the column layout differs from the reference"
    assert len(ours) - 1 == len(ref_rows) == len(model.universal.classes) + 1
    universal_col = header.index("universal")
    train = header[1:universal_col]
    test = header[header.index("Modification of WordNet Node") + 1:]
    normalized = 0
    for i, (row, ref) in enumerate(zip(ours[1:], ref_rows, strict=False)):
        assert len(row) == len(header)
        got = dict(zip(header, row, strict=False))
        last = i == len(ref_rows) - 1
        where = f"row {i + 2} ({ref['universal']})"
        for col in EXACT_COLUMNS + tuple(test):
            assert got[col] == ref[col].strip(), f"{where}, column {col!r}"
        for col in train:
            order = model.spaces[col].index
            want = _names(ref[col])
            assert sorted(_names(got[col])) == sorted(want), f"{where}, column {col!r}"
            canonical = _canonical(want, order, braces=last)
            assert got[col] == canonical, f"{where}, column {col!r}"
            normalized += ref[col] != canonical
        if not last:
            assert got[DEFINITION] == model.universal.classes[i].definition
    # the normalization is the exception, not the rule: the reference itself is mostly canonical
    assert normalized < 40, f"{normalized} cells differ from the reference in form only"


def test_master_sheet_definitions_are_ours(reference, model, sheets):
    _, ref_rows = R.master(reference)
    ours = _tsv(sheets["sheets/master.tsv"])
    col = ours[0].index(DEFINITION)
    for row, ref in zip(ours[1:-1], ref_rows, strict=False):
        assert row[col], f"{row[ours[0].index('universal')]} has no definition"
        theirs = ref[DEFINITION].strip().lower()
        if theirs:  # the reference leaves some definitions blank
            assert theirs not in row[col].lower(), f"{ref['universal']}: the reference's definition was copied"


def test_one_csv_per_mapping_row_per_source_class(model, sheets):
    csvs = {k for k in sheets if k.startswith("sheets/mappings/")}
    assert csvs == {f"sheets/mappings/{m.key}.csv" for m in model.mappings}
    assert len(csvs) == len(model.mappings) == 46  # bundled: 44 MSeg mappings + 2 union variants
    for m in model.mappings:
        rows = list(csv.reader(io.StringIO(sheets[f"sheets/mappings/{m.key}.csv"].decode(), newline="")))
        if m.form == "union":  # a set per row (tests/test_unions.py); the sets of one read as above
            assert rows[0] == ["source_id", "source_name", "target_id", "target_name", "target_ids"]
            ones = [r[:4] for r in rows[1:] if r[4] and " " not in r[4]]
            singles = {s: ts[0] for s, ts in m.sets if len(ts) == 1}
            assert ones == [[str(s), model.spaces[m.source].classes[s].name, str(t),
                                 model.universal.classes[t].name] for s, t in sorted(singles.items())], m.key
            continue
        assert rows[0] == ["source_id", "source_name", "target_id", "target_name"]
        src, dst = model.spaces[m.source], model.spaces[m.target]
        target = dict(m.pairs)
        expected = []
        for c in src.classes:
            if c.void:
                continue
            if c.id in target:
                expected.append([str(c.id), c.name, str(target[c.id]), dst.classes[target[c.id]].name])
            else:
                assert c.id in m.ignored
                expected.append([str(c.id), c.name, str(dst.ignore), "unlabeled"])
        assert rows[1:] == expected, m.key


def test_minibike_in_the_sheets(sheets):
    rows = list(csv.reader(io.StringIO(sheets["sheets/mappings/ade20k-150_to_universal.csv"].decode())))
    assert [r for r in rows if r[1] == "minibike"] == [["78", "minibike", "178", "motorcycle"]]


def _fill(cell) -> str | None:
    """A cell's solid fill as '#rrggbb', or None."""
    f = cell.fill
    if f is None or f.fill_type != "solid":
        return None
    rgb = f.fgColor.rgb
    return "#" + rgb[-6:].lower() if isinstance(rgb, str) else None


def _hex(c) -> str | None:
    return None if c is None else "#{:02x}{:02x}{:02x}".format(*c)


def test_xlsx_reads_back_equal_to_the_specs(model, sheets):
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl (in the `test` extra) reads the workbook back")
    wb = openpyxl.load_workbook(io.BytesIO(sheets["sheets/taxonomy.xlsx"]))
    names = wb.sheetnames
    assert names[:2] == ["universal", "mappings"]
    assert len(names) == 2 + len(model.mappings)

    ws = wb["universal"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("id", "name", "colour", "parent", "WordNet synset", "synset note", "WordNet modified",
                       "definition")
    assert len(rows) == 1 + len(model.universal.classes)
    for c, row, cells in zip(model.universal.classes, rows[1:], ws.iter_rows(min_row=2), strict=False):
        assert row[0] == c.id and row[1] == c.name
        assert row[2].lower() == _hex(c.color) == _fill(cells[2])
        assert (row[3] or None) == c.parent
        assert (row[4] or None) == c.synset
        assert (row[5] or None) == c.synset_note
        flag = {True: "yes", False: "no", None: ""}[c.wordnet_modified]
        assert row[6] == (flag + (f" ({c.wordnet_modified_note})" if c.wordnet_modified_note else "") or None)
        assert row[7] == c.definition
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:H{len(rows)}"
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    assert widths["B"] >= max(len(c.name) for c in model.universal.classes)
    assert widths["H"] >= 80

    index = list(wb["mappings"].iter_rows(values_only=True))
    assert index[0][:4] == ("sheet", "source", "target", "kind")
    by_sheet = {r[0]: r for r in index[1:]}
    assert len(by_sheet) == len(model.mappings)
    for m in model.mappings:
        name = next(k for k, r in by_sheet.items() if (r[1], r[2]) == (m.source, m.target))
        assert by_sheet[name][3:7] == (m.kind, len(m.pairs), len(m.ignored), len(m.unfed))
        ws = wb[name]
        src, dst = model.spaces[m.source], model.spaces[m.target]
        target = dict(m.pairs)
        got = list(ws.iter_rows(values_only=True))
        assert got[0] == ("source id", "source name", "target id", "target name")
        real = [c for c in src.classes if not c.void]
        assert len(got) == 1 + len(real), name
        for c, row, cells in zip(real, got[1:], ws.iter_rows(min_row=2), strict=False):
            t = target.get(c.id)
            want = (c.id, c.name, t, dst.classes[t].name) if t is not None else (c.id, c.name, dst.ignore, "unlabeled")
            if m.form == "union" and len(dict(m.sets).get(c.id, ())) > 1:  # a larger set: its names in braces
                names = ", ".join(dst.classes[u].name for u in dict(m.sets)[c.id])
                want = (c.id, c.name, dst.ignore, "{" + names + "}")
            assert row == want, f"{name}: {row} != {want}"
            assert _fill(cells[1]) == _hex(c.color)
            assert _fill(cells[3]) == (_hex(dst.classes[t].color) if t is not None else None)
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:D{len(got)}"
        if m.target == UNIVERSAL:  # every row of a mapping into universal carries the target's colour
            assert all(_fill(r[3]) for r, c in zip(ws.iter_rows(min_row=2), real, strict=False) if c.id in target)


def test_xlsx_is_byte_reproducible(model, sheets):
    data = sheets["sheets/taxonomy.xlsx"]
    assert emit_sheets.workbook(model) == data
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "<dcterms:created xsi:type=\"dcterms:W3CDTF\">2020-01-01T00:00:00Z</dcterms:created>" in core


def test_sheet_names_fit_excel():
    from unitax.compiler.model import Mapping

    taken: set[str] = set()
    long = [Mapping(f"a-very-long-dataset-name-{i}", "another-very-long-dataset-name", (), (), ()) for i in range(3)]
    names = [emit_sheets.sheet_name(m, taken) for m in long + long]
    assert len({n.lower() for n in names}) == 6
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_committed_sheets_are_current(sheets):
    """What this emitter writes is committed as is (other emitters may add files beside it)."""
    committed = {f"sheets/{k}": v for k, v in build.read_tree(GENERATED / "sheets").items()}
    stale = sorted(k for k in sheets if committed.get(k) != sheets[k])
    assert not stale, f"generated/sheets is stale ({len(stale)} files, e.g. {stale[:3]}): run make compile"


def test_goldens():
    """The sheets of the tiny fixture taxonomy, byte for byte (UNITAX_UPDATE_GOLDENS=1 rewrites them)."""
    check_goldens(emit_sheets.render(_model(GOLDEN_SPECS)), "sheets")

