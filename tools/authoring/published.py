"""What the importers of published taxonomies (import-ut, import-rvc) share: slips, shared label
spaces, and the rendering of their universal, dataset and mapping specs through the one spec writer.

A published taxonomy is data with flaws. The importers write what was published and never mend
it: a dataset class the published mapping does not mention goes under the mapping's ``unlisted``
(compiled as ignored, a warning [unlisted-class]); a mapping entry whose class the dataset does not
have goes under ``stray`` (never compiled, a warning [stray-entry]); a set that names a class twice
is written twice ([duplicate-in-set]); names that are no class of the other side are written as
they are (an error of `unitax check` [unknown-class], with did-you-mean). Each slip is also returned
as a :class:`Slip` naming the published file and line, so the command can list them.

Label spaces that several taxonomies share (cityscapes-34, ade20k-151, ...) are copied from the
spec root that declares them (MSeg's by default), names, ids, colours and all, so the same name
is the same space in every bundled taxonomy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...compiler.errors import Problem, SpecError
from ...compiler.palette import voc_palette
from . import specwriter
from .specwriter import Pairs


@dataclass(frozen=True)
class Slip:
    """An inconsistency of the published data: where (file, line), the rule `unitax check` reports it
    under, and what it is."""

    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message} [{self.rule}]"


@dataclass
class Space:
    """A dataset's label space as an importer writes it."""

    name: str
    names: list[str]
    role: str = "train"
    colors: list[tuple[int, int, int]] | None = None
    unscored: list[str] = field(default_factory=list)
    note: str | None = None
    #: a spec copied whole from a shared spec root (its data; ``role`` and ``note`` are set anew)
    shared: dict[str, Any] | None = None
    #: the shared space this one is class for class (the spec's ``same_classes_as``), where the importer found one
    same_classes_as: dict[str, Any] | None = None


@dataclass
class Published:
    """One dataset's published mapping into universal, by names, in the published order."""

    source: str
    #: (class name, universal names as published: one name for a one-to-one cell, a list for a set)
    entries: list[tuple[str, str | list[str]]]
    ignore: list[str]
    unlisted: list[str]
    stray: list[tuple[str, str | list[str]]]
    note: str
    union: bool = False
    overlap_reason: str = ""


def bad(path: Path | str, message: str, line: int = 0, rule: str = "reference-format") -> SpecError:
    return SpecError([Problem(str(path), line, "$", rule, message)])


def shared_spaces(roots: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """Dataset specs (name -> parsed data) of the spec roots whose label spaces are shared, the first
    root winning a name; read with the specs' own safe loader."""
    from ...compiler.load import parse_yaml

    out: dict[str, dict[str, Any]] = {}
    for root in roots:
        folder = Path(root) / "datasets"
        if not folder.is_dir():
            raise bad(folder, "not a folder: a spec root keeps its label spaces in datasets/<name>.yaml",
                      rule="missing-file")
        for p in sorted(folder.glob("*.yaml")):
            doc, problems = parse_yaml(p.read_bytes(), str(p))
            if doc is None:
                raise SpecError(problems)
            d = doc.data
            if isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("classes"), list):
                out.setdefault(d["name"], d)
    return out


def dataset_docs(root: Path) -> dict[str, Any]:
    """The dataset specs under ``root`` (name -> ``compiler.load.Document``, the first file winning a name)
    that read as regular files and parse into a mapping with a name and a class list; anything else is
    passed over (the root's own check says why). Read as the compiler reads specs (load.read_spec: a FIFO
    or a link to a device does not block)."""
    from ...compiler.load import parse_yaml, read_spec

    out: dict[str, Any] = {}
    folder = Path(root) / "datasets"
    for p in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        raw, _ = read_spec(p, str(p))
        doc = parse_yaml(raw, str(p))[0] if raw is not None else None
        d = doc.data if doc is not None else None
        if isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("classes"), list):
            out.setdefault(d["name"], doc)
    return out


def kept_same_classes(root: Path) -> dict[str, dict[str, Any]]:
    """The ``same_classes_as`` of each dataset spec already under ``root`` (dataset name -> the declaration):
    what an importer keeps on re-import where the published data does not show one itself (a declaration a
    person wrote, with its note). A file that does not read or parse is passed over."""
    return {name: dict(doc.data["same_classes_as"]) for name, doc in dataset_docs(root).items()
            if isinstance(doc.data.get("same_classes_as"), dict)}


def class_names(spec: dict[str, Any]) -> list[str]:
    """The names of a dataset spec's classes in id order, void ids left out."""
    return [c["name"] for c in spec["classes"] if isinstance(c, dict) and not c.get("void")]


def find_shared(names: list[str], shared: dict[str, dict[str, Any]], prefer: str | None = None) -> str | None:
    """The shared space whose classes are exactly ``names`` in id order (ids contiguous, none void), or None;
    ``prefer`` first where several are."""
    hits = [n for n, d in sorted(shared.items()) if [c.get("name") for c in d["classes"]] == names
            and [c.get("id") for c in d["classes"]] == list(range(len(names)))]
    if prefer in hits:
        return prefer
    return hits[0] if hits else None


def render_universal(name: str, description: str, names: list[str], ignore: tuple[int, str],
                     header: list[str]) -> str:
    """A universal.yaml: ids in the published order, VOC colours (none are published), no parents,
    synsets or definitions (none are published: each class is an [empty-definition] warning until a
    person writes one)."""
    classes = [{"id": i, "name": n, "parent": None, "synset": None, "wordnet_modified": None,
                "color": list(voc_palette(i)), "definition": ""} for i, n in enumerate(names)]
    data: dict[str, Any] = {"name": name, "description": description, "ignore": {"id": ignore[0], "name": ignore[1]}}
    if ignore[0] == 65535:
        data["label_dtype"] = "uint16"
    data["classes"] = classes
    return specwriter.render("universal", data, header=header)


def render_dataset(s: Space, header: str) -> str:
    if s.shared is not None:
        data = {k: v for k, v in s.shared.items() if k not in ("accept", "note", "role", "unscored")}
        data["role"] = s.role
        if s.note:
            data["note"] = s.note
        if s.unscored:
            data["unscored"] = s.unscored
        return specwriter.render("dataset", data, header=[header])
    data = {"name": s.name, "role": s.role, "label_dtype": "uint8", "ignore": 255}
    if s.note:
        data["note"] = s.note
    if s.unscored:
        data["unscored"] = s.unscored
    if s.same_classes_as:
        data["same_classes_as"] = s.same_classes_as
    classes: list[dict[str, Any]] = []
    for i, n in enumerate(s.names):
        c: dict[str, Any] = {"id": i, "name": n}
        if s.colors:
            c["color"] = list(s.colors[i])
        classes.append(c)
    data["classes"] = classes
    return specwriter.render("dataset", data, header=[header])


def overlapping(entries: list[tuple[str, str | list[str]]]) -> list[str]:
    """The source classes whose set overlaps another's where either set has more than one member
    (what [overlapping-sets] asks a reason for), in the entries' order."""
    sets = {s: set(t if isinstance(t, list) else [t]) for s, t in entries}
    holders: dict[str, list[str]] = defaultdict(list)
    for s, members in sets.items():
        for u in members:
            holders[u].append(s)
    out = []
    for s, members in sets.items():
        if any(o != s and (len(members) > 1 or len(sets[o]) > 1) for u in members for o in holders[u]):
            out.append(s)
    return out


def render_mapping(m: Published, universal: list[str], header: list[str]) -> str:
    fed = {u for _, t in m.entries for u in (t if isinstance(t, list) else [t])}
    data: dict[str, Any] = {"source": m.source, "target": "universal"}
    if m.union:
        data["kind"] = "union"
    data["note"] = m.note
    data["map"] = Pairs(m.entries)
    if m.union:
        reasons = overlapping(m.entries)
        if reasons:
            data["overlap_reason"] = {s: m.overlap_reason for s in reasons}
    data["ignore"] = m.ignore
    if m.unlisted:
        data["unlisted"] = m.unlisted
    if m.stray:
        data["stray"] = Pairs(m.stray)
    data["unfed"] = [u for u in universal if u not in fed]
    return specwriter.render("mapping", data, header=header)


def write(files: dict[str, str], root: Path) -> None:
    """Write the spec files under ``root`` as one set, replacing its datasets/ and mappings/ wholesale
    and keeping the ``accept:`` blocks a person added to a file that is written again (as import-mseg)."""
    from .importer import write_specs

    write_specs(files, root)
