"""Stage 4b: what the validated model implies — back-maps, supervision, coverage, composition.

Pure functions of the :class:`Model` (no I/O except :func:`warnings`, which reads the few spec
files it needs to give each warning a line). Used by ``tables`` (back-map tables), ``emit``
(back-map index, fingerprint), ``emit_coverage`` (the coverage report) and ``build`` (the
warnings of ``unitax check``).

Definitions, each chosen so that it needs no list of dataset names:

* **Supervised**: a universal class is supervised by a dataset whose role is ``train`` and whose
  mapping to universal sends some class to it.
* **Used**: a universal class is used by a test dataset whose mapping from universal sends it
  to some test class. A test class fed by at least :data:`CATCH_ALL_SHARE` of all universal
  classes is a *catch-all* (VOC's and PASCAL-Context's ``background``): the coverage report
  tells classes evaluated as themselves somewhere apart from those only swallowed by one.
* **Back-map** of a dataset with a mapping to universal: universal id -> the dataset class that
  maps to it. Where several dataset classes map to one universal class they are *merged*: the
  lowest id represents them. Universal classes the dataset has no class for give its ignore id.
  A back-map is lossless when every dataset class survives dataset -> universal -> dataset:
  no merges and no class ignored on the way in.
* **Same label set**: a dataset with a mapping to universal and a test dataset whose class-name
  sets (case, white space, ``_`` and ``-`` folded) have a Jaccard overlap of at least
  :data:`SAME_LABEL_SET`. For such a pair, dataset -> universal -> test should be the identity
  by name; every class where it is not is a *composition* warning.
* **Remap conflict**: for a remap ``a -> b`` where both ``a`` and ``b`` map to universal, a class
  whose two routes to universal (direct, and via ``b``) reach different universal classes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import registry
from .errors import Problem
from .load import Document, JsonPath, format_path, parse_yaml
from .model import LabelSpace, Mapping, Model
from .names import fold

#: Jaccard overlap of class-name sets above which a train and a test dataset are the same label set
SAME_LABEL_SET = 0.9
#: share of the universal classes above which a test class is a catch-all
CATCH_ALL_SHARE = 0.25

#: The warning rules of this stage (never errors: ``unitax check --strict`` makes them fail).
ANALYSIS_RULES: dict[str, str] = registry.of_stage("analysis")


# ----- fingerprint -------------------------------------------------------------------------------


def fingerprint(space: LabelSpace) -> str:
    """sha256 (hex) of ``"<id>\\t<name>\\n"`` over the label space's classes in id order.

    The universal space's fingerprint identifies the meaning of a model's output channels: two
    taxonomies with the same names at the same ids share it, whatever else differs.
    """
    text = "".join(f"{c.id}\t{c.name}\n" for c in space.classes)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----- back-maps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackMap:
    """universal -> one dataset with a mapping to universal (the inverse of that mapping).

    Attributes:
        dataset: the dataset's name.
        lut: universal id -> dataset id over the universal dtype's range (dataset ignore elsewhere).
        merged: (universal id, dataset ids merged into it, lowest first) where more than one.
        dropped: dataset ids the mapping to universal ignores (no universal id gives them back).
    """

    dataset: str
    lut: np.ndarray
    merged: tuple[tuple[int, tuple[int, ...]], ...]
    dropped: tuple[int, ...]

    @property
    def lossless(self) -> bool:
        """Every dataset class survives dataset -> universal -> dataset."""
        return not self.merged and not self.dropped


def links(mapping: Mapping) -> list[tuple[int, int]]:
    """(source id, universal id) for every universal class a source class may be: its one target, or
    each member of its set for a union mapping (whose ``pairs`` hold only the sets of one)."""
    return [(s, u) for s, us in mapping.class_sets for u in us]


def back_map(mapping: Mapping, src: LabelSpace, universal: LabelSpace) -> BackMap:
    """The back-map of one ``<dataset>_to_universal`` mapping (see the module docstring).

    For a union mapping every member of a class's set leads back to that class (``pairs`` holds only
    the sets of one), so a universal model can emit the dataset's union classes; a universal class
    in the sets of several classes (an overlap with its reason) counts as merged like any other."""
    feeders: dict[int, list[int]] = {}
    for s, u in links(mapping):
        feeders.setdefault(u, []).append(s)
    lut = np.full(universal.table_length, src.ignore, dtype=np.dtype(src.label_dtype))
    merged = []
    for u, srcs in sorted(feeders.items()):
        srcs.sort()
        lut[u] = srcs[0]
        if len(srcs) > 1:
            merged.append((u, tuple(srcs)))
    return BackMap(src.name, lut, tuple(merged), tuple(sorted(mapping.ignored)))


def back_maps(model: Model) -> dict[str, BackMap]:
    """Back-map of every dataset with a mapping to universal, by dataset name (sorted)."""
    out = {m.source: back_map(m, model.spaces[m.source], model.universal) for m in model.mappings_of("to_universal")}
    return dict(sorted(out.items()))


def back_map_index(bm: BackMap, model: Model) -> dict[str, object]:
    """What ``taxonomy.json`` says about a back-map: lossless flag, merged and dropped classes by name."""
    names = model.spaces[bm.dataset].names
    uni = model.universal.names
    return {
        "dataset": bm.dataset,
        "lossless": bm.lossless,
        "merged": {uni[u]: [names[s] for s in srcs] for u, srcs in bm.merged},
        "dropped": [names[s] for s in bm.dropped],
    }


# ----- supervision and use ------------------------------------------------------------------------


def supervisors(model: Model) -> list[tuple[str, ...]]:
    """For each universal id, the train datasets that map some class to it, a union's set included (sorted)."""
    out: list[set[str]] = [set() for _ in model.universal.classes]
    for m in model.mappings_of("to_universal"):
        if model.spaces[m.source].role == "train":
            for _, u in links(m):
                out[u].add(m.source)
    return [tuple(sorted(s)) for s in out]


def feeders_of(model: Model) -> list[tuple[str, ...]]:
    """For each universal id, every dataset (any role) whose mapping to universal feeds it (a union's set included)."""
    out: list[set[str]] = [set() for _ in model.universal.classes]
    for m in model.mappings_of("to_universal"):
        for _, u in links(m):
            out[u].add(m.source)
    return [tuple(sorted(s)) for s in out]


def catch_alls(model: Model) -> dict[str, tuple[int, ...]]:
    """For each test dataset, its catch-all classes (fed by >= CATCH_ALL_SHARE of the universal classes)."""
    n = len(model.universal.classes)
    out = {}
    for m in model.mappings_of("from_universal"):
        counts: dict[int, int] = {}
        for _, t in m.pairs:
            counts[t] = counts.get(t, 0) + 1
        out[m.target] = tuple(sorted(t for t, k in counts.items() if k >= CATCH_ALL_SHARE * n))
    return out


def consumers(model: Model) -> list[tuple[tuple[str, int], ...]]:
    """For each universal id, the (test dataset, test class id) pairs it feeds, sorted."""
    out: list[list[tuple[str, int]]] = [[] for _ in model.universal.classes]
    for m in model.mappings_of("from_universal"):
        for u, t in m.pairs:
            out[u].append((m.target, t))
    return [tuple(sorted(x)) for x in out]


@dataclass(frozen=True)
class Coverage:
    """Who supervises and who consumes each universal class (the coverage report's data).

    Attributes:
        train: train datasets in column order.
        test: test datasets in column order.
        supervised: [universal id][train index] -> number of that dataset's classes mapped to it.
        consumed: [universal id][test index] -> the test class id it feeds, or -1.
        catch_all: test dataset -> its catch-all class ids.
    """

    train: tuple[str, ...]
    test: tuple[str, ...]
    supervised: np.ndarray
    consumed: np.ndarray
    catch_all: dict[str, tuple[int, ...]]

    def evaluated(self) -> np.ndarray:
        """(n_universal,) bool: feeds some test class that is not a catch-all."""
        out = np.zeros(self.consumed.shape[0], dtype=bool)
        for j, t in enumerate(self.test):
            col = self.consumed[:, j]
            out |= (col >= 0) & ~np.isin(col, self.catch_all.get(t, ()))
        return out

    def test_share(self) -> dict[str, tuple[int, int]]:
        """Per test dataset: (universal classes feeding it outside catch-alls, all feeding it)."""
        out = {}
        for j, t in enumerate(self.test):
            col = self.consumed[:, j]
            used = col >= 0
            named = used & ~np.isin(col, self.catch_all.get(t, ()))
            out[t] = (int(named.sum()), int(used.sum()))
        return out


def coverage(model: Model) -> Coverage:
    """The supervision x consumption matrix of every universal class."""
    n = len(model.universal.classes)
    train = tuple(d.name for d in model.datasets if d.role == "train")
    test = tuple(m.target for m in model.mappings_of("from_universal"))
    sup = np.zeros((n, len(train)), dtype=np.int64)
    col = {d: j for j, d in enumerate(train)}
    for m in model.mappings_of("to_universal"):
        if m.source in col:
            for _, u in m.pairs:
                sup[u, col[m.source]] += 1
    con = np.full((n, len(test)), -1, dtype=np.int64)
    for j, m in enumerate(model.mappings_of("from_universal")):
        for u, t in m.pairs:
            con[u, j] = t
    return Coverage(train, test, sup, con, catch_alls(model))


# ----- composition -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathResult:
    """One class's route dataset -> universal -> test dataset; ids are None where ignored."""

    dataset: str
    test: str
    cls: int
    universal: int | None
    arrives: int | None
    expected: int | None

    @property
    def ok(self) -> bool:
        return self.arrives == self.expected


def same_label_set_pairs(model: Model) -> list[tuple[str, str, float]]:
    """(dataset with a mapping to universal, test dataset, Jaccard overlap) at or above SAME_LABEL_SET."""
    out = []
    for fm in model.mappings_of("to_universal"):
        a = {fold(c.name, separators=True) for c in model.spaces[fm.source].real_classes}
        for tm in model.mappings_of("from_universal"):
            b = {fold(c.name, separators=True) for c in model.spaces[tm.target].real_classes}
            j = len(a & b) / len(a | b) if a | b else 0.0
            if j >= SAME_LABEL_SET:
                out.append((fm.source, tm.target, j))
    return out


def composition(model: Model) -> list[PathResult]:
    """The route of every class of every same-label-set pair (see the module docstring)."""
    to_u = {m.source: dict(m.pairs) for m in model.mappings_of("to_universal")}
    from_u = {m.target: dict(m.pairs) for m in model.mappings_of("from_universal")}
    out = []
    for ds, test, _ in same_label_set_pairs(model):
        by_name: dict[str, int] = {}
        for c in model.spaces[test].real_classes:
            by_name.setdefault(fold(c.name, separators=True), c.id)
        for c in model.spaces[ds].real_classes:
            u = to_u[ds].get(c.id)
            t = from_u[test].get(u) if u is not None else None
            out.append(PathResult(ds, test, c.id, u, t, by_name.get(fold(c.name, separators=True))))
    return out


@dataclass(frozen=True)
class Conflict:
    """A remap ``source -> target`` class whose two routes to universal disagree."""

    remap: Mapping
    cls: int
    direct: int
    via: int
    through: int


def remap_conflicts(model: Model) -> list[Conflict]:
    """Classes of remaps between two datasets with mappings to universal whose routes disagree."""
    to_u = {m.source: dict(m.pairs) for m in model.mappings_of("to_universal")}
    out = []
    for r in model.mappings_of("remap"):
        if r.source in to_u and r.target in to_u:
            for s, t in r.pairs:
                a, b = to_u[r.source].get(s), to_u[r.target].get(t)
                if a is not None and b is not None and a != b:
                    out.append(Conflict(r, s, a, b, t))
    return out


# ----- findings -> warnings -----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A warning before it has a line: spec file (relative), JSON path, rule, message."""

    rel: str
    path: JsonPath
    rule: str
    message: str


def _mapping_rel(m: Mapping) -> str:
    return f"mappings/{m.source}_to_{m.target}.yaml"


def findings(model: Model) -> list[Finding]:
    """Every analysis warning of the model, in a fixed order."""
    uni = model.universal
    out: list[Finding] = []
    sup = supervisors(model)
    fed = feeders_of(model)
    cons = consumers(model)
    for c in uni.real_classes:  # a void placeholder (the naive layout's id 255) is no class
        if not sup[c.id]:
            only = f" (only {', '.join(fed[c.id])}, which {'is' if len(fed[c.id]) == 1 else 'are'} not train data)" \
                if fed[c.id] else ""
            out.append(Finding("universal.yaml", ("classes", c.id, "name"), "unsupervised-class",
                               f"universal class {c.name!r} (id {c.id}) is supervised by no train dataset{only}"))
        if not cons[c.id] and model.mappings_of("from_universal"):
            out.append(Finding("universal.yaml", ("classes", c.id, "name"), "unused-class",
                               f"universal class {c.name!r} (id {c.id}) feeds no class of any test dataset"))
    maps = {m.source: m for m in model.mappings_of("to_universal")}
    overlap = {(a, b): j for a, b, j in same_label_set_pairs(model)}
    for p in composition(model):
        if p.ok:
            continue
        src, test = model.spaces[p.dataset], model.spaces[p.test]
        name = src.classes[p.cls].name
        u = f"universal {uni.classes[p.universal].name!r}" if p.universal is not None else "ignore"
        if p.universal is None:
            t = ""
        else:
            t = f" -> {p.test} " + (repr(test.classes[p.arrives].name) if p.arrives is not None else "ignore")
        want = (f"{p.test} has class {test.classes[p.expected].name!r}" if p.expected is not None
                else f"{p.test} has no class of that name")
        rel = _mapping_rel(maps[p.dataset])
        path: JsonPath = ("map", name) if p.universal is not None else ("ignore", name)
        out.append(Finding(rel, path, "composition",
                           f"{p.dataset} {name!r} -> {u}{t}, but {want} (same label set: "
                           f"{overlap[(p.dataset, p.test)]:.0%} of names shared)"))
    uni_names = uni.names
    for cf in remap_conflicts(model):
        r = cf.remap
        s = model.spaces[r.source].classes[cf.cls].name
        t = model.spaces[r.target].classes[cf.through].name
        out.append(Finding(_mapping_rel(r), ("map", s), "remap-conflict",
                           f"{r.source} {s!r} maps to universal {uni_names[cf.direct]!r}, but through "
                           f"{r.target} {t!r} it reaches {uni_names[cf.via]!r}"))
    return out


def _locate(doc: Document | None, path: JsonPath) -> int:
    if doc is None:
        return 0
    if path and path[0] == "ignore" and isinstance(path[-1], str):  # ignore lists hold names
        items = doc.data.get("ignore") or []
        path = ("ignore", items.index(path[-1])) if path[-1] in items else ("ignore",)
    return doc.line(path)


def _display(path: JsonPath, doc: Document | None) -> str:
    if doc is not None and path and path[0] == "ignore" and isinstance(path[-1], str):
        items = doc.data.get("ignore") or []
        if path[-1] in items:
            return format_path(("ignore", items.index(path[-1])))
    return format_path(path)


def warnings(model: Model, root: Path, read: dict[str, Document] | None = None) -> list[Problem]:
    """The findings as warning Problems, each with the line of its spec file under ``root``
    (located in ``read``, the documents the compile read, by spec-relative path, when given)."""
    found = findings(model)
    docs: dict[str, Document | None] = dict(read or {})
    out = []
    for f in found:
        if f.rel not in docs:
            p = Path(root) / f.rel
            try:
                docs[f.rel] = parse_yaml(p.read_bytes(), p.as_posix(), f.rel)[0]
            except OSError:
                docs[f.rel] = None
        doc = docs[f.rel]
        file = doc.file if doc is not None else (Path(root) / f.rel).as_posix()
        out.append(Problem(file, _locate(doc, f.path), _display(f.path, doc), f.rule, f.message, "warning"))
    return out


# ----- notes (facts worth a line in `unitax check`, not warnings) ---------------------------------


def notes(model: Model) -> list[str]:
    """One-line facts about the taxonomy that are by design but worth knowing: lossy back-maps,
    composition pairs checked, classes only swallowed by catch-alls."""
    out = []
    bms = back_maps(model)
    lossy = [b for b in bms.values() if not b.lossless]
    parts = []
    for b in lossy:
        why = [f"{sum(len(s) for _, s in b.merged)} classes merged into {len(b.merged)}"] if b.merged else []
        why += [f"{len(b.dropped)} dropped"] if b.dropped else []
        parts.append(f"{b.dataset} ({', '.join(why)})")
    out.append(f"back-maps: {len(bms) - len(lossy)} of {len(bms)} lossless"
               + (f"; lossy: {'; '.join(parts)}" if parts else ""))
    pairs = same_label_set_pairs(model)
    paths = composition(model)
    bad = sum(not p.ok for p in paths)
    out.append(f"composition: {len(pairs)} same-label-set pair(s) "
               f"({', '.join(f'{a}->{b}' for a, b, _ in pairs) or 'none'}), {len(paths)} class routes, "
               f"{bad} not the identity")
    cov = coverage(model)
    if cov.test:
        ev = cov.evaluated()
        swallowed = [model.universal.names[u] for u in range(len(ev)) if not ev[u] and (cov.consumed[u] >= 0).any()]
        cas = [f"{t} {model.spaces[t].classes[c].name!r}" for t, ids in cov.catch_all.items() for c in ids]
        out.append(f"coverage: {int(ev.sum())} of {len(ev)} universal classes are evaluated as a class of their own "
                   f"by some test dataset; {len(swallowed)} feed only catch-all classes"
                   + (f" ({', '.join(cas)})" if cas else ""))
    sup = supervisors(model)
    alone = {u for m in model.mappings_of("to_universal") if model.spaces[m.source].role == "train" for _, u in m.pairs}
    in_sets = [model.universal.names[u] for u, s in enumerate(sup) if s and u not in alone]
    out.append(f"supervision: {sum(bool(s) for s in sup)} of {len(sup)} universal classes supervised by a train "
               f"dataset" + (f"; {len(in_sets)} only ever as one of several classes of a union set "
                             f"({', '.join(in_sets)})" if in_sets else ""))
    return out
