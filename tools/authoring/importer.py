"""Importer: write unitax specs from a directory laid out like the MSeg reference.

Reads ``class_remapping_files/MSeg_master.tsv``, ``class_remapping_files/<a>_to_<b>.tsv`` and
``dataset_lists/<d>/<d>_names.txt`` / ``*_colors.txt``. Takes facts only (names, ids, mappings,
synsets, parent categories, colours); the sheet's definition sentences are not imported.
The specs it writes are the source of truth from then on; re-importing keeps existing
definitions when asked to (``keep_definitions``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...compiler.errors import Problem, SpecError
from ...compiler.palette import voc_palette
from ...fileops.datapath import split_lines
from ...format import IGNORE_OF_DTYPE, label_dtype
from . import specwriter
from .specwriter import Pairs, Raw

MASTER = "class_remapping_files/MSeg_master.tsv"
IGNORE_NAME = "unlabeled"
UNIVERSAL_COLUMN = "universal"
FACT_COLUMNS = ("Parent Category", "universal", "WordNet 3.1 Synset", "Modification of WordNet Node")

# MSeg's training datasets: the sheet columns left of `universal` that have a names file.
# Columns there without one (nyudepthv2-37, scannet-37) are brought in as `source` datasets.
TEST_COLUMNS_START = "Modification of WordNet Node"


def _bad(path: Path, message: str, line: int = 0, rule: str = "reference-format") -> SpecError:
    return SpecError([Problem(str(path), line, "$", rule, message)])


def read_text(p: Path) -> str:
    """A reference file as text; SpecError naming it when it cannot be read or is not UTF-8."""
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad(p, f"not UTF-8 text (byte {e.start})", rule="encoding") from None
    except OSError as e:
        raise _bad(p, f"cannot be read: {e.strerror or e}", rule="unreadable") from None


def read_lines(p: Path) -> list[str]:
    """A reference lines file (names, colours): split on ``\\n`` only, never on U+2028 and the other
    separators ``str.splitlines`` knows (a name holding one would become two classes)."""
    return split_lines(read_text(p))


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Anything unexpected while reading ``path`` becomes a SpecError naming it, not a traceback."""
    try:
        yield
    except (KeyError, IndexError, ValueError, StopIteration, TypeError) as e:
        raise _bad(path, f"cannot be read as the MSeg reference layout ({type(e).__name__}: {e})") from None


def _tsv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t"))


def parse_cell(cell: str) -> list[str]:
    """A master-sheet cell: '' -> [], 'a' -> ['a'], '{a, b}' -> ['a', 'b']."""
    cell = cell.strip()
    if not cell:
        return []
    if cell.startswith("{") and cell.endswith("}"):
        return [x.strip() for x in cell[1:-1].split(",") if x.strip()]
    return [cell]


_SYNSET = re.compile(r"[A-Za-z0-9_.'/-]+\.[nvasr]\.[0-9]{2}")


def split_synset(cell: str) -> tuple[str | None, str | None]:
    """A synset cell -> (synset, note). A clean synset has no note; a cell that starts with
    one and goes on (a second synset, a bracketed remark) keeps the whole cell as note; a cell
    that does not start with one ('---', a question) gives no synset and the cell as note."""
    cell = cell.strip()
    if not cell:
        return None, None
    if _SYNSET.fullmatch(cell):
        return cell, None
    m = _SYNSET.match(cell)
    if m and cell[m.end():m.end() + 2] in (" [", ", "):
        return m.group(0), cell
    return None, cell


@dataclass
class Space:
    name: str
    role: str
    names: list[str]
    colors: list[tuple[int, int, int]] | None = None
    label_dtype: str = "uint8"
    ignore: int = 255
    class_list_from: str = "names-file"
    notes: list[str] = field(default_factory=list)


@dataclass
class MappingSpec:
    source: str
    target: str
    pairs: list[tuple[str, str]]
    ignore: list[str]
    unfed: list[str]
    note: str


def _read_colors(folder: Path, ds: str, names: list[str]) -> tuple[list[tuple[int, int, int]] | None, list[str]]:
    notes = []
    for p in sorted(folder.glob("*_colors.txt")):
        prefix = p.name[: -len("_colors.txt")]
        rows = [line.split() for line in read_lines(p) if line.strip()]
        sibling = folder / f"{prefix}_names.txt"
        same_space = prefix == ds or (sibling.is_file() and read_lines(sibling) == names)
        if not same_space or len(rows) != len(names):
            notes.append(f"{p.name} ({len(rows)} colours for {len(names)} classes) belongs to another "
                         f"label space and was not imported")
            continue
        bad = next((n for n, r in enumerate(rows, 1)
                    if len(r) != 3 or not all(v.isdigit() and int(v) < 256 for v in r)), 0)
        if bad:
            raise _bad(p, f"line {bad}: a colour is three integers 0..255 separated by spaces", line=bad)
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows], notes  # every row is three ints (checked above)
    return None, notes


def read_reference(ref: Path) -> tuple[list[dict[str, Any]], dict[str, Space], list[MappingSpec]]:
    """Parse the reference into universal rows, label spaces and mappings (names, not ids)."""
    master = ref / MASTER
    rows = _tsv(master)
    if not rows or not any(c.strip() for c in rows[0]):
        raise _bad(master, "empty: the first line must be the header of the master sheet", line=1)
    header = rows[0]
    missing = [c for c in FACT_COLUMNS if c not in header]
    if missing:
        raise _bad(master, f"header lacks the column(s) {missing}", line=1)
    dup = sorted({h for h in header if h.strip() and header.count(h) > 1})
    if dup:
        raise _bad(master, f"header repeats the column(s) {dup}", line=1)
    body = [r + [""] * (len(header) - len(r)) for r in rows[1:] if any(c.strip() for c in r)]
    long = next((n for n, r in enumerate(rows[1:], 2)
                 if len(r) > len(header) and any(c.strip() for c in r[len(header):])), 0)
    if long:
        raise _bad(master, f"{len(rows[long - 1])} columns, more than the header's {len(header)}", line=long)
    col = {h: j for j, h in enumerate(header)}
    uni_rows = [r for r in body if r[col[UNIVERSAL_COLUMN]].strip() != IGNORE_NAME]
    ignore_row = next((r for r in body if r[col[UNIVERSAL_COLUMN]].strip() == IGNORE_NAME), None)
    if ignore_row is None:
        raise _bad(master, f"no row whose {UNIVERSAL_COLUMN!r} cell is {IGNORE_NAME!r} (the ignore row: which "
                           "dataset classes are ignored)")
    if col[UNIVERSAL_COLUMN] > col[TEST_COLUMNS_START]:
        raise _bad(master, f"the {UNIVERSAL_COLUMN!r} column must come before {TEST_COLUMNS_START!r}", line=1)
    universal: list[dict[str, Any]] = []
    for r in uni_rows:
        mod = r[col["Modification of WordNet Node"]].strip()
        synset, synset_note = split_synset(r[col["WordNet 3.1 Synset"]])
        entry = {
            "name": r[col[UNIVERSAL_COLUMN]].strip(),
            "parent": r[col["Parent Category"]].strip() or None,
            "synset": synset,
            "wordnet_modified": {"yes": True, "no": False}.get(mod.lower()),
        }
        if synset_note:
            entry["synset_note"] = synset_note
        if mod and mod.lower() not in ("yes", "no"):
            entry["wordnet_modified_note"] = mod
        universal.append(entry)
    uni_names = [u["name"] for u in universal]

    spaces: dict[str, Space] = {}
    lists = ref / "dataset_lists"
    if not lists.is_dir():
        raise _bad(lists, "not a folder: the reference keeps each dataset's names file in dataset_lists/<dataset>/",
                   rule="missing-file")
    for folder in sorted(p for p in lists.iterdir() if p.is_dir()):
        ds = folder.name
        names_file = folder / f"{ds}_names.txt"
        if not names_file.is_file():
            continue
        names = [n.strip() for n in read_lines(names_file)]
        while names and not names[-1]:
            names.pop()
        colors, notes = _read_colors(folder, ds, names)
        space = Space(ds, "source", names, colors, notes=notes)
        repeats = [n for i, n in enumerate(names) if n in names[:i]]
        if set(repeats) - {IGNORE_NAME}:
            raise SpecError([Problem(str(names_file), 0, "$", "duplicate-name",
                                     f"repeated class names {sorted(set(repeats) - {IGNORE_NAME})}")])
        if repeats:
            space.notes.append(f"{len(repeats)} ids are listed as {IGNORE_NAME!r} again after the first: ids "
                               "the dataset never uses, marked void (their pixels, if any, become ignore)")
        if len(names) > 255:
            space.ignore = IGNORE_OF_DTYPE["uint16"]
            space.label_dtype = label_dtype(space.ignore)
            space.notes.append(f"{len(names)} classes: labels are uint16 and ids 0..{len(names) - 1} are all "
                               f"classes (id 255 is {names[255]!r}), so unlabeled pixels are 65535")
        spaces[ds] = space

    split = col[TEST_COLUMNS_START]
    train_cols = [h for h in header[1: col[UNIVERSAL_COLUMN]]]
    test_cols = [h for h in header[split + 1:]]
    mappings: list[MappingSpec] = []
    for h in train_cols:
        j = col[h]
        if h not in spaces:
            order: list[str] = []
            for r in body:
                for n in parse_cell(r[j]):
                    if n not in order:
                        order.append(n)
            spaces[h] = Space(h, "source", order, class_list_from="master-sheet-column", notes=[
                "no names file in the reference: the class list is this dataset's master-sheet column, in "
                "order of first appearance, so ids are unitax's own and not those of released label files"])
        else:
            spaces[h].role = "train"
        pairs = [(n, u) for r, u in zip(uni_rows, uni_names, strict=True) for n in parse_cell(r[j])]
        stray = [n for n, _ in pairs + [(x, "") for x in parse_cell(ignore_row[j])] if n not in spaces[h].names]
        if stray:
            raise _bad(master, f"column {h!r} names {stray[0]!r}, which is not in dataset_lists/{h}/{h}_names.txt")
        pairs.sort(key=lambda p: spaces[h].names.index(p[0]))
        fed = {u for _, u in pairs}
        mappings.append(MappingSpec(h, "universal", pairs, parse_cell(ignore_row[j]),
                                    [u for u in uni_names if u not in fed],
                                    f"imported from the master sheet column {h!r}"))
    for h in test_cols:
        j = col[h]
        if h not in spaces:
            order = []
            for r in uni_rows:
                for n in parse_cell(r[j]):
                    if n not in order:
                        order.append(n)
            spaces[h] = Space(h, "test", order, class_list_from="master-sheet-column", notes=[
                "no names file in the reference: the class list is this test dataset's master-sheet column, in "
                "order of first appearance, so ids are unitax's own and not those of released label files"])
        spaces[h].role = "test"
        pairs, ignore = [], []
        for r, u in zip(uni_rows, uni_names, strict=True):
            cell = parse_cell(r[j])
            if cell:
                pairs.append((u, cell[0]))
            else:
                ignore.append(u)
        fed = {t for _, t in pairs}
        mappings.append(MappingSpec("universal", h, pairs, ignore,
                                    [t for t in spaces[h].names if t not in fed],
                                    f"imported from the master sheet column {h!r}"))

    for p in sorted((ref / "class_remapping_files").glob("*_to_*.tsv")):
        rr = _tsv(p)
        if not rr or len(rr[0]) != 2:
            raise _bad(p, "the first line must be the two dataset names, tab-separated", line=1)
        a, b = (x.strip() for x in rr[0])
        unknown = [x for x in (a, b) if x not in spaces]
        if unknown:
            raise _bad(p, f"dataset(s) {unknown} have no names file and no master-sheet column", line=1)
        src, dst = spaces[a], spaces[b]
        seen: dict[str, str] = {}
        for line, r in enumerate(rr[1:], 2):
            if not r or not r[0].strip():
                continue
            if len(r) != 2:
                raise _bad(p, f"{len(r)} column(s), expected 2 (source class, target class)", line=line)
            s, t = r[0].strip(), r[1].strip()
            if s not in src.names and s != IGNORE_NAME:
                raise _bad(p, f"{s!r} is not a class of {a}", line=line)
            if t not in dst.names and t != IGNORE_NAME:
                raise _bad(p, f"{t!r} is not a class of {b}", line=line)
            if s == IGNORE_NAME and s not in src.names:
                continue  # the reference's row for the ignore id itself: ignore stays ignore
            if s in seen and seen[s] == t:
                continue  # listed twice with the same target
            if s in seen:
                raise _bad(p, f"{s!r} is listed twice, to {seen[s]!r} and to {t!r}: which one is meant?", line=line)
            seen[s] = t
        pairs = [(s, t) for s, t in seen.items() if not (t == IGNORE_NAME and t not in dst.names)]
        pairs.sort(key=lambda x: src.names.index(x[0]) if x[0] in src.names else len(src.names))
        ignore = sorted((s for s, t in seen.items() if t == IGNORE_NAME and t not in dst.names),
                        key=lambda n: src.names.index(n) if n in src.names else len(src.names))
        fed = {t for _, t in pairs}
        mappings.append(MappingSpec(a, b, pairs, ignore, [t for t in dst.names if t not in fed],
                                    f"imported from class_remapping_files/{p.name}"))
    return universal, spaces, mappings


UNIVERSAL_HEADER = (
    "The universal taxonomy: one label space that every training dataset maps into.",
    "Ids are stable: never renumber a class that checkpoints were trained with.",
    "Facts imported by `unitax import-mseg` from the MSeg master sheet; definitions are our own.",
)
#: written as it is (its comma would make the quoting rule quote it; the bundled specs have it plain)
UNIVERSAL_DESCRIPTION = Raw("The 194-class universal taxonomy of MSeg (CVPR 2020), compiled by unitax.")


def render_universal(universal: list[dict[str, Any]], definitions: dict[str, str]) -> str:
    classes: list[dict[str, Any]] = []
    for i, u in enumerate(universal):
        entry: dict[str, Any] = {"id": i}
        entry.update((k, u[k]) for k in ("name", "wordnet_modified", "synset_note", "wordnet_modified_note") if k in u)
        entry.update(parent=u["parent"] or None, synset=u["synset"] or None, color=list(voc_palette(i)),
                     definition=definitions.get(u["name"], ""))
        classes.append(entry)
    return specwriter.render("universal", {
        "name": "mseg-universal", "description": UNIVERSAL_DESCRIPTION,
        "ignore": {"id": 255, "name": IGNORE_NAME}, "classes": classes}, header=UNIVERSAL_HEADER)


def render_dataset(s: Space) -> str:
    data: dict[str, Any] = {"name": s.name, "role": s.role, "label_dtype": s.label_dtype, "ignore": s.ignore,
                            "class_list_from": s.class_list_from}
    if s.notes:
        data["note"] = "; ".join(s.notes)
    classes: list[dict[str, Any]] = []
    for i, n in enumerate(s.names):
        c: dict[str, Any] = {"id": i, "name": n}
        if s.colors:
            c["color"] = list(s.colors[i])
        if n in s.names[:i]:
            c["void"] = True
        classes.append(c)
    data["classes"] = classes
    return specwriter.render("dataset", data, header=[
        f"Dataset {s.name}: class ids are the values stored in its label images."])


def render_mapping(m: MappingSpec) -> str:
    return specwriter.render("mapping", {
        "source": m.source, "target": m.target, "note": m.note, "map": Pairs(m.pairs), "ignore": m.ignore,
        "unfed": m.unfed}, header=[f"{m.source} -> {m.target}. Total: every {m.source} class is mapped or ignored,",
                                   f"and every {m.target} class is fed or listed in unfed."])


def render_specs(ref: Path, definitions: dict[str, str] | None = None) -> dict[str, str]:
    """All spec files (relative path -> text) for the reference at ``ref``."""
    ref = Path(ref)
    if not (ref / MASTER).is_file():
        raise SpecError([Problem(str(ref / MASTER), 0, "$", "missing-file",
                                 "not a directory laid out like the MSeg reference (no master sheet)")])
    with _reading(ref / MASTER):
        universal, spaces, mappings = read_reference(ref)
    files = {"universal.yaml": render_universal(universal, definitions or {})}
    for name, s in sorted(spaces.items()):
        files[f"datasets/{name}.yaml"] = render_dataset(s)
    for m in mappings:
        files[f"mappings/{m.source}_to_{m.target}.yaml"] = render_mapping(m)
    return dict(sorted(files.items()))


def existing_definitions(root: Path) -> dict[str, str]:
    """Definitions already written in ``root/universal.yaml`` (empty if none), by class name."""
    from ...compiler.load import parse_yaml

    p = Path(root) / "universal.yaml"
    if not p.is_file():
        return {}
    doc, _ = parse_yaml(p.read_bytes(), str(p))
    if doc is None or not isinstance(doc.data, dict):
        return {}
    return {c["name"]: c["definition"] for c in doc.data.get("classes", [])
            if isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("definition"), str)}


def read_definitions(path: Path) -> dict[str, str]:
    """A YAML file mapping class name -> definition, read with the specs' own safe loader."""
    from ...compiler.load import parse_yaml

    doc, problems = parse_yaml(Path(path).read_bytes(), str(path))
    if doc is None:
        raise SpecError(problems)
    bad = [k for k, v in doc.data.items() if not isinstance(v, str)] if isinstance(doc.data, dict) else ["$"]
    if bad:
        raise SpecError([Problem(str(path), doc.line((k,)) if k != "$" else 1, f"$.{k}", "schema-type",
                                 "definitions must be a map of class name -> text") for k in bad])
    return dict(doc.data)


ACCEPT_HEADER = ("# Warnings a person accepted, with the reason: `unitax check` prints them as accepted, "
                 "--strict passes.")


def kept_accept(p: Path) -> str:
    """The ``accept:`` block that ends an existing spec file (with its comment line), kept on
    re-import like the definitions: what a person accepted is not the importer's to drop."""
    try:
        lines = p.read_text("utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return ""
    starts = [i for i, line in enumerate(lines) if line.startswith("accept:")]
    if not starts:
        return ""
    i = end = starts[-1]
    while end + 1 < len(lines) and lines[end + 1][:1] in (" ", "-", "\n"):
        end += 1  # the block runs to the next top-level key
    if i > 0 and lines[i - 1].startswith(ACCEPT_HEADER[:40]):
        i -= 1
    block = "".join(lines[i:end + 1])
    return block if block.endswith("\n") else block + "\n"


def write_specs(files: dict[str, str], root: Path) -> None:
    """Write spec files under ``root``, replacing datasets/ and mappings/ wholesale: as one set
    (tools/atomic.write_set_atomic), so a failed write leaves every old spec as it was."""
    root = Path(root)
    files = {rel: text + kept_accept(root / rel) for rel, text in files.items()}
    stale = [f"{sub}/{p.name}" for sub in ("datasets", "mappings") if (root / sub).is_dir()
             for p in sorted((root / sub).glob("*.yaml"))]
    specwriter.write_specs(root, files, delete=stale)
