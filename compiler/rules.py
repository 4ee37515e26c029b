"""Stage 3: semantic rules over structurally valid specs, each with an id shown in messages.

Rules run on every file that passed its schema, so one run reports every problem. Only when
no rule reports an error is the model (stage 4) built from the same data.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections import defaultdict
from collections.abc import Set as AbstractSet
from pathlib import Path, PurePosixPath
from typing import Any

from unitax.format import label_dtype, max_label

from . import correspond, load, registry
from .correspond import SameClasses
from .errors import Problem
from .load import Document, JsonPath, format_path
from .model import UNIVERSAL, ClassDef, LabelSpace, Mapping, Model
from .names import fold, odd_characters, quote, skeleton

#: the rules of this stage (ids, descriptions: compiler/registry.py)
RULES: dict[str, str] = registry.of_stage("rules")


def suggest(name: str, choices: list[str]) -> str:
    """'; did you mean X?' for the closest choice (case, white space, Unicode forms and look-alike
    letters folded first), or ''."""
    folded = {fold(c): c for c in choices}
    if fold(name) in folded:
        return f"; did you mean {quote(folded[fold(name)])}?"
    looks = {skeleton(c): c for c in choices}
    if skeleton(name) in looks:
        return f"; did you mean {quote(looks[skeleton(name)])}?"
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {quote(close[0])}?" if close else ""



class Reporter:
    """Collects Problems for one set of named rules (every rule id must be declared)."""

    def __init__(self, rules: dict[str, str] = RULES) -> None:
        self.rules = rules
        self.problems: list[Problem] = []

    def add(self, doc: Document, path: JsonPath, rule: str, message: str, severity: str = "error") -> None:
        assert rule in self.rules, rule
        self.problems.append(Problem(doc.file, doc.line(path), format_path(path), rule, message, severity))

    def at(self, file: str, line: int, rule: str, message: str) -> None:
        """A problem located by file and line only (no JSON path)."""
        assert rule in self.rules, rule
        self.problems.append(Problem(file, line, "$", rule, message))



def _space_from(doc: Document) -> LabelSpace:
    d = doc.data
    if doc.rel == "universal.yaml":
        classes = tuple(
            ClassDef(c["id"], c["name"], tuple(c["color"]), c["parent"], c["synset"], c["wordnet_modified"],
                     c.get("synset_note"), c.get("wordnet_modified_note"), c["definition"], c.get("void", False))
            for c in d["classes"]
        )
        ignore = d["ignore"]["id"]
        dtype = d.get("label_dtype") or label_dtype(ignore)
        return LabelSpace(UNIVERSAL, "universal", dtype, ignore, d["ignore"]["name"], classes, d.get("description"))
    classes = tuple(ClassDef(c["id"], c["name"], tuple(c["color"]) if "color" in c else None,
                             void=c.get("void", False)) for c in d["classes"])
    names = {c.name: c.id for c in classes if not c.void}
    unscored = tuple(sorted(names[n] for n in d.get("unscored") or () if n in names))
    same = SameClasses.from_data(d[correspond.KEY]) if correspond.KEY in d else None
    return LabelSpace(d["name"], d["role"], d["label_dtype"], d["ignore"], "unlabeled", classes, d.get("note"),
                      d.get("class_list_from"), unscored, same)


def _by_id(space: LabelSpace) -> list[str | None]:
    """The space's class names by id, None for a void id."""
    return [None if c.void else c.name for c in space.classes]


def rule_same_classes(ctx: Reporter, doc: Document, space: LabelSpace, spaces: dict[str, LabelSpace]) -> None:
    """same-classes: a ``same_classes_as`` that does not hold. Where the other space is a dataset of this
    spec root, the whole pairing is checked (compiler/correspond.py); where it is not, only this side (the
    unpaired names): the other space may be another bundled taxonomy's, which `unitax check --bundled` checks."""
    decl = space.same_classes_as
    if decl is None:
        return
    other = spaces.get(decl.space)
    if decl.space == UNIVERSAL:
        ctx.add(doc, (correspond.KEY, "space"), "same-classes",
                "same_classes_as names universal; it names another dataset's label space")
        return
    _, problems = correspond.pair(space.name, _by_id(space), decl, _by_id(other) if other is not None else [])
    for where, message in problems:
        if other is not None or where[:2] == (correspond.KEY, "unpaired") or where == (correspond.KEY, "space"):
            ctx.add(doc, where, "same-classes", message)


def rule_unscored(ctx: Reporter, doc: Document, space: LabelSpace) -> None:
    """unknown-unscored: a name of the dataset's ``unscored`` list that is not one of its classes."""
    for i, n in enumerate(doc.data.get("unscored") or ()):
        if n not in space.index:
            ctx.add(doc, ("unscored", i), "unknown-unscored",
                    f"unscored {quote(n)} is not a class of {space.name}{suggest(n, list(space.names))}; "
                    "it is left out", "warning")


def _published(ctx: Reporter, doc: Document, src: LabelSpace, seen: dict[str, str]) -> tuple[list[int], bool]:
    """unlisted-class and stray-entry (warnings), for the two keys an importer of a published taxonomy
    writes: the ids of the ``unlisted`` source classes (compiled as ignored), and whether the keys are
    sound (an unlisted name that is no class, or is also mapped or ignored, is an error)."""
    d = doc.data
    ok = True
    ids = []
    for i, s in enumerate(d.get("unlisted") or ()):
        if s not in src.index:
            ctx.add(doc, ("unlisted", i), "unknown-class",
                    f"unlisted {quote(s)} is not a class of {src.name}{suggest(s, list(src.names))}")
            ok = False
        elif s in seen:
            ctx.add(doc, ("unlisted", i), "mapped-twice",
                    f"{quote(s)} is listed as unlisted but is also {'mapped' if seen[s] == 'map' else 'ignored'}")
            ok = False
        else:
            seen[s] = "unlisted"
            ids.append(src.index[s])
            ctx.add(doc, ("unlisted", i), "unlisted-class",
                    f"{src.name} class {quote(s)} (id {src.index[s]}) is not mentioned by the published mapping: "
                    "compiled as ignored; decide it in map or ignore, or accept this with the reason", "warning")
    for s, t in (d.get("stray") or {}).items():
        hint = suggest(s, [c.name for c in src.real_classes])
        ctx.add(doc, ("stray", s), "stray-entry",
                f"the published mapping sends {quote(s)} to {t if isinstance(t, str) else _set_text(t)}, but "
                f"{quote(s)} is not a class of {src.name}{hint}: not compiled; fix the name in map, or accept this "
                "with the reason", "warning")
    return ids, ok


def rule_classes(ctx: Reporter, doc: Document, space: LabelSpace) -> bool:
    """duplicate-id, id-order, id-range, duplicate-name, name-clash, suspicious-name, duplicate-color
    for one label space. Returns False when a name is suspicious (mappings that name the space
    would only report that name again as unknown)."""
    clean = True
    #: where no universal class has a definition, one warning says so instead of one per class
    any_definition = any((c.definition or "").strip() for c in space.classes)
    limit = max_label(space.label_dtype)
    if space.ignore > limit:
        ctx.add(doc, ("ignore",), "id-range", f"ignore id {space.ignore} does not fit {space.label_dtype}")
    if space.name == UNIVERSAL and len(space.classes) > 255 and space.label_dtype == "uint8":
        ctx.add(doc, ("classes",), "id-range",
                f"{len(space.classes)} classes do not fit uint8 tables beside ignore 255; set ignore id 65535 (uint16)")
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    folded: dict[str, tuple[int, str]] = {}
    normal: dict[str, str] = {}
    looks: dict[str, str] = {}
    colors: dict[tuple[int, ...], str] = {}
    if space.name == UNIVERSAL:
        why = odd_characters(space.ignore_name)
        if why:
            ctx.add(doc, ("ignore", "name"), "suspicious-name", f"ignore name {quote(space.ignore_name)} {why}")
            clean = False
    for i, c in enumerate(space.classes):
        p = ("classes", i)
        if c.id in seen_ids:
            ctx.add(doc, p + ("id",), "duplicate-id", f"class {quote(c.name)} has id {c.id}, already used by "
                    f"{quote(space.classes[seen_ids[c.id]].name)}")
        elif c.id == space.ignore and not c.void:  # a void placeholder may hold it (MSeg's naive layout)
            ctx.add(doc, p + ("id",), "id-range", f"class {quote(c.name)} has id {c.id}, which is reserved for ignore")
        elif c.id > limit:
            ctx.add(doc, p + ("id",), "id-range", f"class {quote(c.name)} has id {c.id}, beyond {space.label_dtype}")
        elif c.id != i:
            ctx.add(doc, p + ("id",), "id-order",
                    f"class {quote(c.name)} has id {c.id} at position {i}; ids must run 0, 1, 2, ... in order")
        seen_ids.setdefault(c.id, i)
        why = odd_characters(c.name)
        if why:
            ctx.add(doc, p + ("name",), "suspicious-name", f"class name {quote(c.name)} {why}")
            clean = False
        if c.void:
            continue
        if c.color is not None:
            if c.color in colors:
                what = "universal classes" if space.name == UNIVERSAL else f"{space.name} classes"
                ctx.add(doc, p + ("color",), "duplicate-color",
                        f"class {quote(c.name)} has colour {list(c.color)}, already used by {quote(colors[c.color])}: "
                        f"RGB label images cannot tell these {what} apart (ambiguous colour)",
                        "error" if space.name == UNIVERSAL else "warning")
            else:
                colors[c.color] = c.name
        if c.name in seen_names:
            ctx.add(doc, p + ("name",), "duplicate-name",
                    f"class name {quote(c.name)} is used twice (ids {space.classes[seen_names[c.name]].id} and {c.id})")
            continue
        seen_names[c.name] = i
        key = fold(c.name)
        nkey = fold(unicodedata.normalize("NFKC", c.name))
        skey = skeleton(c.name)
        if key in folded:
            ctx.add(doc, p + ("name",), "name-clash",
                    f"class name {quote(c.name)} differs only by case or white space from {quote(folded[key][1])}")
        elif nkey in normal:
            ctx.add(doc, p + ("name",), "name-clash",
                    f"class name {quote(c.name)} differs only by Unicode normalisation from {quote(normal[nkey])}")
        elif skey in looks:
            ctx.add(doc, p + ("name",), "name-clash",
                    f"class name {quote(c.name)} differs only by look-alike characters from {quote(looks[skey])}")
        else:
            folded[key] = (i, c.name)
        normal.setdefault(nkey, c.name)
        looks.setdefault(skey, c.name)
        if space.name == UNIVERSAL and not (c.definition or "").strip() and any_definition:
            ctx.add(doc, p + ("definition",), "empty-definition", f"class {quote(c.name)} has no definition", "warning")
    if space.name == UNIVERSAL and space.classes and not any_definition:
        ctx.add(doc, ("classes",), "empty-definition",
                f"none of the {len(space.classes)} universal classes has a definition (an imported taxonomy that "
                "publishes none): give each class a definition", "warning")
    return clean


def rule_mapping(ctx: Reporter, doc: Document, spaces: dict[str, LabelSpace], broken: set[str]) -> Mapping | None:
    """unknown-dataset, self-mapping, unknown-class, mapped-twice, unmapped-class, draft-entry, undecided-target,
    fed-unfed, unfed-stale."""
    d = doc.data
    if d["source"] in broken or d["target"] in broken:
        return None  # that file's own problems are reported already
    ok = True
    for side in ("source", "target"):
        if d[side] not in spaces:
            ctx.add(doc, (side,), "unknown-dataset",
                    f"{side} {quote(d[side])} is not a declared dataset{suggest(d[side], sorted(spaces))}")
            ok = False
    if not ok:
        return None
    if d["source"] == d["target"]:
        ctx.add(doc, ("target",), "self-mapping", f"maps {quote(d['source'])} onto itself")
        return None
    src, dst = spaces[d["source"]], spaces[d["target"]]
    pairs: list[tuple[int, int]] = []
    seen: dict[str, str] = {}
    for s, t in d["map"].items():
        if s not in src.index:
            ctx.add(doc, ("map", s), "unknown-class",
                    f"{quote(s)} is not a class of {src.name}{suggest(s, list(src.names))}")
            ok = False
        if t not in dst.index:
            what = "a universal class" if dst.name == UNIVERSAL else f"a class of {dst.name}"
            hint = suggest(t, list(dst.names))
            if not hint and t == dst.ignore_name:
                hint = "; list the source class under ignore instead"
            ctx.add(doc, ("map", s), "unknown-class", f"{quote(s)} maps to {quote(t)}, which is not {what}{hint}")
            ok = False
        seen[s] = "map"
        if ok:
            pairs.append((src.index[s], dst.index[t]))
    ignored = []
    for i, s in enumerate(d["ignore"]):
        if s not in src.index:
            ctx.add(doc, ("ignore", i), "unknown-class",
                    f"ignored {quote(s)} is not a class of {src.name}{suggest(s, list(src.names))}")
            ok = False
            continue
        if s in seen:
            ctx.add(doc, ("ignore", i), "mapped-twice",
                    f"{quote(s)} is both mapped (to {quote(d['map'][s])}) and ignored")
            ok = False
            continue
        seen[s] = "ignore"
        ignored.append(src.index[s])
    unlisted, sound = _published(ctx, doc, src, seen)
    ok = ok and sound
    ignored += unlisted
    for c in src.real_classes:
        if c.name not in seen:
            ctx.add(doc, ("map",), "unmapped-class",
                    f"{src.name} class {quote(c.name)} (id {c.id}) is neither mapped nor ignored")
            ok = False
    for s, why in (d.get("draft") or {}).items():
        feeders = sorted(k for k, v in d["map"].items() if v == s)
        # a draft names the classes of the side that is not universal (new-dataset), or a universal
        # class the other side must decide (add-class)
        names_target = d["target"] != UNIVERSAL and d["source"] == UNIVERSAL
        if names_target and (s in dst.index or s not in src.index) or not names_target and s in dst.index \
                and s not in src.index:
            line = f"is fed by {', '.join(quote(f) for f in feeders)}" if feeders else "is left unfed"
        else:
            line = f"maps to {quote(d['map'][s])}" if s in d["map"] else "is ignored"
        ctx.add(doc, ("draft", s), "draft-entry",
                f"{quote(s)} {line}: an unconfirmed draft suggestion ({why}); check that line, then delete "
                f"this draft entry (and the draft key once empty)")
        ok = False
    fed = set(d["map"].values())
    unfed = []
    if isinstance(d["unfed"], dict):  # {all_others: true, as_of: N}: every class not fed, as decided at N
        whole = _all_others(ctx, doc, src, dst, pairs, ignored, fed)
        return whole if ok else None
    for i, t in enumerate(d["unfed"]):
        if t not in dst.index:
            ctx.add(doc, ("unfed", i), "unknown-class",
                    f"unfed {quote(t)} is not a class of {dst.name}{suggest(t, list(dst.names))}")
            ok = False
        elif t in fed:
            src_names = sorted(k for k, v in d["map"].items() if v == t)
            ctx.add(doc, ("unfed", i), "fed-unfed", f"{quote(t)} is listed as unfed but {src_names} map to it")
            ok = False
        else:
            unfed.append(dst.index[t])
    listed = fed | set(d["unfed"])
    for c in dst.real_classes:
        if c.name not in listed:
            ctx.add(doc, ("unfed",), "undecided-target",
                    f"{dst.name} class {quote(c.name)} (id {c.id}) is fed by no {src.name} class "
                    "and not listed in unfed")
            ok = False
    if not ok:
        return None
    return Mapping(src.name, dst.name, tuple(sorted(pairs)), tuple(sorted(ignored)), tuple(sorted(unfed)),
                   d.get("note"))


def _all_others(ctx: Reporter, doc: Document, src: LabelSpace, dst: LabelSpace, pairs: list[tuple[int, int]],
                ignored: list[int], fed: set[str]) -> Mapping | None:
    """unfed-stale for ``unfed: {all_others: true, as_of: N}``: the target classes added since (id N
    and above) that the map does not feed have not been decided."""
    as_of = doc.data["unfed"]["as_of"]
    n = len(dst.classes)
    if as_of > n:
        ctx.add(doc, ("unfed", "as_of"), "unfed-stale",
                f"as_of is {as_of}, but {dst.name} has {n} classes; classes were removed since this was decided: "
                f"review the map, then set as_of to {n}")
        return None
    new = [c.name for c in dst.real_classes if c.id >= as_of and c.name not in fed]
    if new:
        ctx.add(doc, ("unfed", "as_of"), "unfed-stale",
                f"{dst.name} gained {len(new)} class(es) after unfed all_others was decided as of {as_of} "
                f"(ids {as_of} and above): {', '.join(quote(x) for x in new)}; decide whether a {src.name} class "
                f"feeds each, then set as_of to {n}")
        return None
    unfed = tuple(c.id for c in dst.real_classes if c.name not in fed)
    return Mapping(src.name, dst.name, tuple(sorted(pairs)), tuple(sorted(ignored)), unfed, doc.data.get("note"))


def rule_roles(ctx: Reporter, docs: dict[str, Document], mappings: dict[tuple[str, str], Any],
               broken: AbstractSet[str] = frozenset()) -> None:
    """missing-mapping: train datasets map to universal, test datasets are mapped from it.

    A mapping file that exists but failed to load (``mappings/<stem>`` in ``broken``) has its
    own problems reported already and is not reported again as missing.
    """
    if not mappings and not any(b.startswith("mappings/") for b in broken) and docs:
        need = sorted(n for n, d in docs.items() if d.data["role"] in ("train", "test"))
        if need:  # no mapping at all: one problem for the folder, not one per dataset
            some = next(iter(docs.values()))
            folder = some.file[: len(some.file) - len(some.rel)] + "mappings"
            listed = ", ".join(need[:5]) + (f" and {len(need) - 5} more" if len(need) > 5 else "")
            ctx.at(folder, 0, "missing-mapping", f"holds no mapping spec, but {len(need)} train/test dataset(s) need "
                   f"one to or from universal ({listed})")
            return
    for name, doc in docs.items():
        role = doc.data["role"]
        if f"mappings/{name}_to_{UNIVERSAL}" in broken or f"mappings/{UNIVERSAL}_to_{name}" in broken:
            continue
        if role == "train" and (name, UNIVERSAL) not in mappings:
            ctx.add(doc, ("role",), "missing-mapping",
                    f"train dataset {quote(name)} has no mapping file mappings/{name}_to_universal.yaml")
        if role == "test" and (UNIVERSAL, name) not in mappings:
            ctx.add(doc, ("role",), "missing-mapping",
                    f"test dataset {quote(name)} has no mapping file mappings/universal_to_{name}.yaml")


def rule_cycles(ctx: Reporter, mapping_docs: dict[tuple[str, str], Document]) -> None:
    """cycle: dataset-to-dataset remaps must form a DAG (universal excluded)."""
    graph: dict[str, list[str]] = defaultdict(list)
    for s, t in sorted(mapping_docs):
        if UNIVERSAL not in (s, t) and s != t:  # a self-mapping is its own rule
            graph[s].append(t)
    state: dict[str, int] = {}
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                if frozenset(cyc) not in reported:
                    reported.add(frozenset(cyc))
                    doc = mapping_docs[(n, m)]
                    ctx.add(doc, ("target",), "cycle", "remaps form a cycle: " + " -> ".join(cyc))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


def check(docs: list[Document], broken: AbstractSet[str] = frozenset()) -> tuple[Model | None, list[Problem]]:
    """Run every semantic rule; returns the model (None if any error) and all problems.

    Args:
        docs: the documents that passed their schema.
        broken: names of label spaces whose files failed earlier stages (mappings that name them
            are skipped rather than reported again as naming unknown datasets), and
            ``mappings/<stem>`` for mapping files that failed (not reported again as missing).
    """
    ctx = Reporter()
    universal_doc = next((d for d in docs if d.rel == "universal.yaml"), None)
    # datasets/ or mappings/ that is not a folder is one problem of the loader, not one per file.
    bad = load.bad_folders(Path(docs[0].file[: len(docs[0].file) - len(docs[0].rel)] or ".")) if docs else set()
    datasets: dict[str, Document] = {}
    mapping_docs: dict[tuple[str, str], Document] = {}
    for doc in docs:
        stem = PurePosixPath(doc.rel).stem
        if doc.rel.startswith("datasets/"):
            name = doc.data["name"]
            if name != stem:
                ctx.add(doc, ("name",), "file-name", f"dataset {quote(name)} is declared in {stem}.yaml; "
                        f"name the file {name}.yaml")
            if name == UNIVERSAL:
                ctx.add(doc, ("name",), "duplicate-dataset", "'universal' is reserved for the universal taxonomy")
            elif name in datasets:
                ctx.add(doc, ("name",), "duplicate-dataset",
                        f"dataset {quote(name)} is also declared in {datasets[name].file}")
            else:
                datasets[name] = doc
        elif doc.rel.startswith("mappings/"):
            key = (doc.data["source"], doc.data["target"])
            if stem != f"{key[0]}_to_{key[1]}":
                ctx.add(doc, ("source",), "file-name",
                        f"mapping {key[0]} -> {key[1]} must live in {key[0]}_to_{key[1]}.yaml")
            else:
                mapping_docs[key] = doc
    spaces: dict[str, LabelSpace] = {}
    broken = set(broken)
    if universal_doc is not None:
        spaces[UNIVERSAL] = _space_from(universal_doc)
        if not rule_classes(ctx, universal_doc, spaces[UNIVERSAL]):
            broken.add(UNIVERSAL)
    for name, doc in sorted(datasets.items()):
        spaces[name] = _space_from(doc)
        if not rule_classes(ctx, doc, spaces[name]):
            broken.add(name)
        rule_unscored(ctx, doc, spaces[name])
    for name, doc in sorted(datasets.items()):
        same = spaces[name].same_classes_as
        if name not in broken and same is not None and same.space not in broken:
            rule_same_classes(ctx, doc, spaces[name], spaces)
    mappings: dict[tuple[str, str], Mapping | None] = {}
    if UNIVERSAL in spaces and "datasets" not in bad:
        for key, doc in sorted(mapping_docs.items()):
            mappings[key] = (rule_union_mapping if doc.data.get("kind") == "union" else rule_one_to_one)(
                ctx, doc, spaces, broken)
    if "mappings" not in bad:
        rule_roles(ctx, datasets, mapping_docs, broken)
    rule_cycles(ctx, mapping_docs)
    errors = [p for p in ctx.problems if p.severity == "error"]
    if errors or broken or universal_doc is None or any(m is None for m in mappings.values()):
        return None, ctx.problems
    model = Model(
        universal=spaces[UNIVERSAL],
        datasets=tuple(spaces[n] for n in sorted(datasets)),
        mappings=tuple(m for _, m in sorted(mappings.items()) if m is not None),
    )
    return model, ctx.problems



def rule_one_to_one(ctx: Reporter, doc: Document, spaces: dict[str, LabelSpace], broken: set[str]) -> Mapping | None:
    """union-in-one-to-one, then the rules of :func:`rule_mapping`."""
    lists = [s for s, t in doc.data["map"].items() if isinstance(t, list)]
    for s in lists:
        ctx.add(doc, ("map", s), "union-in-one-to-one",
                f"{quote(s)} maps to a list {doc.data['map'][s]}, but this mapping is one-to-one; write one class, "
                "or declare `kind: union` (mappings to universal only)")
    if lists:
        return None
    return rule_mapping(ctx, doc, spaces, broken)


def _set_text(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")
    return "{" + shown + "}"


def rule_union_mapping(ctx: Reporter, doc: Document, spaces: dict[str, LabelSpace], broken: set[str]) -> Mapping | None:
    """union-target, unknown-dataset, unknown-class, empty-set, duplicate-in-set, overlapping-sets, mapped-twice,
    unmapped-class, draft-entry, undecided-target, fed-unfed for a union mapping (``kind: union``).

    A source class maps to a universal class name or a list of them (a list of one is a set of
    one). The model's ``pairs`` keep the sets of one (the lookup table sends the others to
    ignore), ``sets`` every set.
    """
    d = doc.data
    if d["source"] in broken or d["target"] in broken:
        return None
    ok = True
    for side in ("source", "target"):
        if d[side] not in spaces:
            ctx.add(doc, (side,), "unknown-dataset",
                    f"{side} {quote(d[side])} is not a declared dataset{suggest(d[side], sorted(spaces))}")
            ok = False
    if not ok:
        return None
    src, dst = spaces[d["source"]], spaces[d["target"]]
    if dst.name != UNIVERSAL or src.role != "train":
        ctx.add(doc, ("kind",), "union-target",
                f"a union mapping maps a train dataset to universal, not {src.name} ({src.role}) -> {dst.name}")
        return None
    sets: dict[str, list[str]] = {}
    for s, t in d["map"].items():
        if s not in src.index:
            ctx.add(doc, ("map", s), "unknown-class",
                    f"{quote(s)} is not a class of {src.name}{suggest(s, list(src.names))}")
            ok = False
        members = t if isinstance(t, list) else [t]
        if not members:
            ctx.add(doc, ("map", s), "empty-set",
                    f"{quote(s)} maps to an empty set; list it under ignore, or name the classes it covers")
            ok = False
        seen_here: set[str] = set()
        for j, u in enumerate(members):
            where = ("map", s, j) if isinstance(t, list) else ("map", s)
            if u not in dst.index:
                hint = suggest(u, list(dst.names))
                if not hint and u == dst.ignore_name:
                    hint = "; list the source class under ignore instead"
                ctx.add(doc, where, "unknown-class",
                        f"{quote(s)} maps to {quote(u)}, which is not a universal class{hint}")
                ok = False
            elif u in seen_here:
                ctx.add(doc, where, "duplicate-in-set",
                        f"{quote(s)} names {quote(u)} twice in its set (compiled once)", "warning")
            seen_here.add(u)
        sets[s] = sorted(seen_here, key=lambda u: dst.index.get(u, -1))
    reasons = d.get("overlap_reason", {})
    for s in reasons:
        if s not in d["map"]:
            ctx.add(doc, ("overlap_reason", s), "unknown-class",
                    f"overlap_reason names {quote(s)}, which is not a mapped class of this mapping"
                    f"{suggest(s, list(d['map']))}")
            ok = False
    # overlaps: a class whose set has more than one member shares a class with another class's set
    # (two sets of one naming the same class are an ordinary merge, as in one-to-one mappings)
    holders: dict[str, list[str]] = defaultdict(list)
    for s, members in sets.items():
        for u in members:
            holders[u].append(s)
    reported: set[tuple[str, str]] = set()
    for s, members in sets.items():
        for u in members:
            for other in holders[u]:
                if other == s or (len(sets[s]) < 2 and len(sets[other]) < 2):
                    continue
                pair = (min(s, other), max(s, other))
                if pair in reported or s in reasons or other in reasons:
                    continue
                reported.add(pair)
                shared = [v for v in sets[s] if v in set(sets[other])]
                ctx.add(doc, ("map", max(pair)), "overlapping-sets",
                        f"{quote(pair[0])} ⊇ {_set_text(sets[pair[0]])} and "
                        f"{quote(pair[1])} ⊇ {_set_text(sets[pair[1]])} "
                        f"overlap on {_set_text(shared)}; say why under overlap_reason, or make the sets disjoint")
                ok = False
    seen: set[str] = set(d["map"])
    ignored = []
    for i, s in enumerate(d["ignore"]):
        if s not in src.index:
            ctx.add(doc, ("ignore", i), "unknown-class",
                    f"ignored {quote(s)} is not a class of {src.name}{suggest(s, list(src.names))}")
            ok = False
        elif s in d["map"]:
            ctx.add(doc, ("ignore", i), "mapped-twice",
                    f"{quote(s)} is both mapped (to {_set_text(sets[s])}) and ignored")
            ok = False
        else:
            seen.add(s)
            ignored.append(src.index[s])
    marks = dict.fromkeys(d["map"], "map") | dict.fromkeys((s for s in d["ignore"] if s not in d["map"]), "ignore")
    unlisted, sound = _published(ctx, doc, src, marks)
    ok = ok and sound
    ignored += unlisted
    seen |= {s for s, how in marks.items() if how == "unlisted"}
    for c in src.real_classes:
        if c.name not in seen:
            ctx.add(doc, ("map",), "unmapped-class",
                    f"{src.name} class {quote(c.name)} (id {c.id}) is neither mapped nor ignored")
            ok = False
    for s, why in (d.get("draft") or {}).items():  # as in rule_mapping: a source class, or a universal one
        if s in src.index or s not in dst.index:
            line = f"maps to {_set_text(sets[s])}" if s in sets else "is ignored"
        else:
            line = f"is in the sets of {sorted(holders[s])}" if holders.get(s) else "is left unfed"
        ctx.add(doc, ("draft", s), "draft-entry",
                f"{quote(s)} {line}: an unconfirmed draft suggestion ({why}); check that line, then delete "
                f"this draft entry (and the draft key once empty)")
        ok = False
    fed = {u for members in sets.values() for u in members}
    unfed = []
    for i, u in enumerate(d["unfed"]):
        if u not in dst.index:
            ctx.add(doc, ("unfed", i), "unknown-class",
                    f"unfed {quote(u)} is not a class of {dst.name}{suggest(u, list(dst.names))}")
            ok = False
        elif u in fed:
            ctx.add(doc, ("unfed", i), "fed-unfed",
                    f"{quote(u)} is listed as unfed but the sets of {sorted(holders[u])} cover it")
            ok = False
        else:
            unfed.append(dst.index[u])
    listed = fed | set(d["unfed"])
    for c in dst.real_classes:
        if c.name not in listed:
            ctx.add(doc, ("unfed",), "undecided-target",
                    f"universal class {quote(c.name)} (id {c.id}) is in no {src.name} class's set "
                    "and not listed in unfed")
            ok = False
    if not ok:
        return None
    id_sets = tuple(sorted((src.index[s], tuple(dst.index[u] for u in members)) for s, members in sets.items()))
    pairs = tuple((s, members[0]) for s, members in id_sets if len(members) == 1)
    inst = d.get("instead_of")
    origin = (doc.file, tuple((s, doc.line(("map", s))) for s in d["map"]), doc.line(("instead_of",)) if inst else 0)
    return Mapping(src.name, dst.name, pairs, tuple(sorted(ignored)), tuple(sorted(unfed)), d.get("note"),
                   form="union", sets=id_sets, instead_of=(inst["relabeled"], inst["via"]) if inst else None,
                   origin=origin)
