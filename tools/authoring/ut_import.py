"""Importer: specs from the universal taxonomy of Bevandić et al. (WACV 2022; UNIZG-FER-D307/universal_taxonomies).

The published taxonomy is a folder of Python files (``taxonomies/*.py``): ``universal_classes.py``
(``class_to_index``: universal class -> id, ``ignore`` last) and one file per dataset with
``class_to_index`` (the dataset's ids), ``mapping`` (dataset class -> list of universal classes:
the set its pixels may be; ``['ignore']``: ignored) and ``class_to_eval`` (which classes its
benchmark scores). They are read as data: each top-level assignment is parsed (``ast.parse``) and
its value read with ``ast.literal_eval``; nothing is imported or run. Three files write
``class_to_eval`` as a comprehension, ``{k: k != 'ignore' for k, v in class_to_index.items()}``
(or over ``.keys()``); exactly that pattern is recognised, meaning every class but ``ignore`` is
scored. Anything else that is not a literal is refused with its file and line.

Every mapping is written as a union mapping (``kind: union``), because that is what the taxonomy
is: each dataset class is the union of the universal classes in its list (sets of one are written
as a plain name, so the lookup table holds them, as `import-unions` writes them); the overlaps of
the sets are the paper's design, so each overlapping class carries that as its ``overlap_reason``.
``class_to_eval`` false becomes the dataset's ``unscored`` list. Label spaces equal to a space of
a shared spec root (MSeg's cityscapes-34 and sunrgbd-38, RVC's viper-rvc-32) are that space; the
others are UT's own (``ut-...``, ``mapillary-v1.2-66``). Slips: see tools/authoring/published.py.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from ...compiler.errors import SpecError
from .importer import read_text
from .published import Published, Slip, Space, bad, find_shared, render_dataset, render_mapping, render_universal

UNIVERSAL_FILE = "universal_classes.py"
IGNORE = "ignore"
#: UT's dataset file -> the name of its label space (then -<number of classes>) where no shared space has its
#: classes, and what it is
OWN_SPACES: dict[str, tuple[str, str]] = {
    "ade": ("ut-ade20k", "ADE20K's 150 classes with their full WordNet-style names, `ignore` at id 0"),
    "bdd": ("ut-bdd", "BDD100K's 19 classes, `ignore` at id 19"),
    "camvid": ("ut-camvid", "CamVid's 11 classes, `ignore` at id 11"),
    "cityscapes": ("ut-cityscapes", "Cityscapes' 34 classes"),
    "coco": ("ut-coco-panoptic", "COCO-Panoptic's 133 classes, `ignore` at id 133"),
    "idd": ("ut-idd", "IDD's 40 level-3 classes, `ignore` at id 40"),
    "scannet": ("ut-scannet", "ScanNet's 40 NYU classes, `ignore` at id 0"),
    "sun": ("ut-sunrgbd", "SUN RGB-D's 37 classes and unlabeled"),
    "viper": ("ut-viper", "VIPER's 32 classes"),
    "vistas": ("mapillary-v1.2", "Mapillary Vistas v1.2's 66 classes under their config names (animal--bird, ...)"),
    "wd": ("ut-wilddash2", "WildDash 2's 39 classes as UT names them (train, street-light)"),
}
#: a shared space to prefer where several have the same classes
PREFER = {"viper": "viper-rvc-32", "cityscapes": "cityscapes-34", "sun": "sunrgbd-38"}
OVERLAP_REASON = ("as published by UT: a dataset class is the union of the universal classes its pixels may be, "
                  "and these sets overlap by design (Bevandić et al., WACV 2022)")
HEADER = ["The universal taxonomy of Bevandić et al. (WACV 2022), universal_classes.py of",
          "UNIZG-FER-D307/universal_taxonomies: ids as published; written by `unitax import-ut`.",
          "No colours, parents, synsets or definitions are published: colours are the VOC colour map."]


def _comprehension(value: ast.expr) -> bool:
    """``{k: k != 'ignore' for k, v in class_to_index.items()}`` or ``{c: c != 'ignore' for c in
    class_to_index.keys()}`` (any names): every class but ``ignore`` is scored."""
    if not (isinstance(value, ast.DictComp) and len(value.generators) == 1):
        return False
    gen = value.generators[0]
    if gen.ifs or gen.is_async:
        return False
    it = gen.iter
    if not (isinstance(it, ast.Call) and not it.args and not it.keywords and isinstance(it.func, ast.Attribute)
            and isinstance(it.func.value, ast.Name) and it.func.value.id == "class_to_index"):
        return False
    target = gen.target
    if it.func.attr == "items" and isinstance(target, ast.Tuple) and len(target.elts) == 2:
        key = target.elts[0]
    elif it.func.attr == "keys" and isinstance(target, ast.Name):
        key = target
    else:
        return False
    if not isinstance(key, ast.Name):
        return False
    v = value.value
    return (isinstance(value.key, ast.Name) and value.key.id == key.id and isinstance(v, ast.Compare)
            and isinstance(v.left, ast.Name) and v.left.id == key.id and len(v.ops) == 1
            and isinstance(v.ops[0], ast.NotEq) and len(v.comparators) == 1
            and isinstance(v.comparators[0], ast.Constant) and v.comparators[0].value == IGNORE)


class UTFile:
    """One published file read as data: each assignment's value and line, and the line of each key of
    each dict literal (for slips)."""

    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        text = read_text(path)
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as e:
            raise bad(path, f"not Python syntax: {e.msg}", line=e.lineno or 0) from None
        self.values: dict[str, Any] = {}
        self.lines: dict[str, int] = {}
        self.key_lines: dict[str, dict[str, int]] = {}
        self.repeated: list[tuple[str, str, int]] = []   # (assignment, key, line): a key given twice
        self.every_class_but_ignore: set[str] = set()
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                raise bad(path, "only assignments of a literal to a name are read (a published taxonomy file is "
                                "data)", line=getattr(node, "lineno", 0))
            name = node.targets[0].id
            self.lines[name] = node.lineno
            if name == "class_to_eval" and _comprehension(node.value):
                self.every_class_but_ignore.add(name)
                continue
            try:
                self.values[name] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise bad(path, f"{name} is not a literal (nor the class_to_eval comprehension that means every "
                                "class but ignore); it is not read, never run", line=node.lineno) from None
            if isinstance(node.value, ast.Dict):
                lines: dict[str, int] = {}
                for k in node.value.keys:
                    if isinstance(k, ast.Constant) and isinstance(k.value, str):
                        if k.value in lines:
                            self.repeated.append((name, k.value, k.lineno))
                        lines.setdefault(k.value, k.lineno)
                self.key_lines[name] = lines

    def dict_of(self, name: str, kind: type) -> dict[str, Any]:
        v = self.values.get(name)
        def fits(x: Any) -> bool:
            return isinstance(x, kind) and (kind is bool or not isinstance(x, bool))

        if not isinstance(v, dict) or not all(isinstance(k, str) and fits(x) for k, x in v.items()):
            raise bad(self.path, f"{name} must be a dict of class name -> {kind.__name__}",
                      line=self.lines.get(name, 0))
        return v

    def line(self, name: str, key: str) -> int:
        return self.key_lines.get(name, {}).get(key, self.lines.get(name, 0))


def _ordered(f: UTFile) -> list[str]:
    """``class_to_index``'s names in id order; ids must be 0..n-1, each once."""
    cti = f.dict_of("class_to_index", int)
    ids = sorted(cti.values())
    if ids != list(range(len(ids))):
        raise bad(f.path, "class_to_index ids must be 0..n-1, each once", line=f.lines.get("class_to_index", 0))
    return sorted(cti, key=lambda n: cti[n])


Config = tuple[list[str], list[tuple[int, int, int]], str, list[str]]


def published_colors(definitions: Path | None) -> list[Config]:
    """(class names in id order, colours, file, readable names) of the label configs in RVC's
    ``label_definitions/`` that give colours (Mapillary Vistas v1.2 and v2.0, WildDash 2): a UT dataset
    whose classes are exactly one of these lists takes its colours, and its classes' readable names
    (``Bird`` for ``animal--bird``) count as their names where :func:`same_classes` pairs them. None: no configs."""
    import json

    out: list[Config] = []
    for name in ("mapillary-config-v1p2.json", "mapillary-config-v2p0.json", "wilddash-config.json"):
        p = definitions / name if definitions is not None else None
        if p is None or not p.is_file():
            continue
        try:
            labels = json.loads(read_text(p))["labels"]
            out.append(([str(x["name"]) for x in labels],
                        [(int(x["color"][0]), int(x["color"][1]), int(x["color"][2])) for x in labels], name,
                        [str(x.get("readable") or x["name"]) for x in labels]))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise bad(p, f"not a label config (labels: name, color): {type(e).__name__}: {e}") from None
    return out


#: the name MSeg and RVC give a dataset's class of unlabeled pixels, which UT calls ``ignore``
UNLABELED = "unlabeled"


def _fold(name: str) -> str:
    """A class name with case and everything but letters and digits dropped (``Column_Pole`` -> ``columnpole``)."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def names_agree(ut: str, other: str, readable: str | None = None) -> bool:
    """Whether UT's class name ``ut`` and another space's ``other`` name one class: equal once case, spaces
    and punctuation are dropped (``column pole``, ``Column_Pole``), or ``other`` is one of the comma-separated
    WordNet names UT writes (ADE's ``building, edifice`` and ``building``), or the class's readable name in
    its label config (Mapillary's ``animal--bird``, ``Bird``); UT's ``ignore`` and ``unlabeled`` are both a
    taxonomy's name for the unlabeled class."""
    if ut == IGNORE:
        return other in (IGNORE, UNLABELED)
    f = _fold(other)
    return bool(f) and any(_fold(c) == f for c in (ut, *ut.split(","), readable or "") if c.strip())


def same_classes(names: list[str], shared: dict[str, dict[str, Any]], dataset: str,
                 readable: list[str] | None = None) -> tuple[dict[str, Any] | None, str]:
    """The ``same_classes_as`` of a UT label space that is no shared space, and what was found (for the
    import's report): a shared space of the same dataset (its name is ``dataset`` or begins ``dataset-``:
    Cityscapes' 19 classes are also BDD's, KITTI's and WildDash's, but only ``bdd`` holds BDD's labels)
    whose classes pair with these one to one, UT's ``ignore`` class left unpaired where the other has no
    class there. By id: every id the other space has holds a class whose names agree (:func:`names_agree`),
    and the ids beyond it hold only ``ignore``; by name: the same names but ``ignore``, in another order.
    Where several spaces match, a variant (``bdd-relabeled``, named after another match) gives way to the
    space it is a variant of; where several still do, none is written."""
    hits: list[tuple[str, str, list[str]]] = []
    near: list[str] = []
    for space, spec in sorted(shared.items()):
        if space != dataset and not space.startswith(dataset + "-"):
            continue
        classes = spec["classes"]
        if [c.get("id") for c in classes] != list(range(len(classes))):
            continue
        other = [None if c.get("void") else c.get("name") for c in classes]
        real = [o for o in other if o is not None]
        if len(names) >= len(other) and all(n == IGNORE for n in names[len(other):]):
            wrong = [(i, n, o) for i, (n, o) in enumerate(zip(names, other, strict=False))
                     if o is None or not names_agree(n, o, readable[i] if readable else None)]
            if not wrong:
                hits.append((space, "id", names[len(other):]))
                continue
            if len(wrong) <= 2:
                near.append(f"{space} by id, but " + "; ".join(f"id {i} is {n!r} here, {o!r} there"
                                                                for i, n, o in wrong))
        if sorted(set(names) - {IGNORE}) == sorted(real) and len(real) == len(set(real)) \
                and len(names) == len(set(names)):
            hits.append((space, "name", [IGNORE] if IGNORE in names else []))
    variants = {h[0] for h in hits if any(h[0].startswith(g[0] + "-") for g in hits)}
    hits = [h for h in hits if h[0] not in variants]
    if len(hits) == 1:
        space, by, unpaired = hits[0]
        decl: dict[str, Any] = {"space": space, "by": by}
        if unpaired:
            decl["unpaired"] = unpaired
        return decl, (f"the same classes as {space} by {by}"
                      + (f" (unpaired: {', '.join(unpaired)})" if unpaired else ""))
    if hits:
        return None, "not written: several spaces match (" + ", ".join(f"{h[0]} by {h[1]}" for h in hits) + ")"
    return None, (f"not written: no shared space of {dataset} has the same classes"
                  + (" (near: " + "; ".join(near) + ")" if near else ""))


def read_ut(folder: Path, shared: dict[str, dict[str, Any]], definitions: Path | None = None,
            notes: list[str] | None = None, kept: dict[str, dict[str, Any]] | None = None
            ) -> tuple[list[str], list[Space], list[Published], list[Slip]]:
    """The universal class names, the label spaces, the mappings and the slips of UT's folder (colours
    from the label configs in ``definitions`` whose class lists are a dataset's); ``notes`` gets one line
    per UT space of its own saying which shared space it has the same classes as (:func:`same_classes`);
    ``kept``: the declarations already in the specs (dataset -> ``same_classes_as``), kept where the names
    show none (one a person wrote, with the note that says why)."""
    configs = published_colors(definitions)
    uni_file = UTFile(folder / UNIVERSAL_FILE, f"taxonomies/{UNIVERSAL_FILE}")
    universal = _ordered(uni_file)
    if universal[-1:] != [IGNORE]:
        raise bad(uni_file.path, f"the last universal class must be {IGNORE!r} (the ignore id)",
                  line=uni_file.lines.get("class_to_index", 0))
    universal = universal[:-1]
    slips: list[Slip] = []
    spaces: list[Space] = []
    mappings: list[Published] = []
    for p in sorted(folder.glob("*.py")):
        stem = p.stem
        if p.name == UNIVERSAL_FILE or stem.startswith("_"):
            continue
        f = UTFile(p, f"taxonomies/{p.name}")
        for what, key, line in f.repeated:
            slips.append(Slip(f.rel, line, "duplicate-key", f"{what} gives {key!r} twice (Python keeps the last)"))
        names = _ordered(f)
        mapping = f.dict_of("mapping", list)
        if "class_to_eval" in f.every_class_but_ignore:
            scored = {n: n != IGNORE for n in names}
        else:
            scored = f.dict_of("class_to_eval", bool)
        unscored = [n for n, s in scored.items() if not s]
        for n in names:
            if n not in scored:
                slips.append(Slip(f.rel, f.lines.get("class_to_eval", 0), "reference-format",
                                  f"class_to_eval does not say whether {n!r} is scored (taken as scored)"))
        for n in unscored:
            if n not in names:
                slips.append(Slip(f.rel, f.line("class_to_eval", n), "unknown-unscored",
                                  f"class_to_eval names {n!r}, which is not in class_to_index"))
        hit = find_shared(names, shared, PREFER.get(stem))
        own, what = OWN_SPACES.get(stem, (f"ut-{stem}", f"UT's {stem}"))
        name = hit or f"{own}-{len(names)}"
        note = (f"UT's taxonomies/{p.name}: the label space of {name} (same names and ids)" if hit
                else f"UT's taxonomies/{p.name}: {what}")
        colors = next(((c, f, r) for n, c, f, r in configs if n == names), None) if not hit else None
        if colors is not None:
            note += f"; colours from {colors[1]}"
        family = own.removeprefix("ut-").split("-")[0]   # the dataset: ut-bdd -> bdd, mapillary-v1.2 -> mapillary
        same, found = same_classes(names, shared, family, colors[2] if colors else None) if not hit else (None, "")
        before = (kept or {}).get(name)
        if not hit and before is not None and before != same:
            if same is None:
                same = before
                found += f"; kept the declaration in the specs ({before.get('space')} by {before.get('by')})"
            else:
                found += f"; replaced the declaration in the specs ({before.get('space')} by {before.get('by')})"
        if notes is not None and not hit:
            notes.append(f"{name}: {found}")
        spaces.append(Space(name, names, colors=colors[0] if colors else None, unscored=unscored, note=note,
                            shared=shared.get(hit) if hit else None, same_classes_as=same))
        entries: list[tuple[str, str | list[str]]] = []
        ignore, stray = [], []
        for cls, members in mapping.items():
            if not all(isinstance(u, str) for u in members):
                raise bad(p, f"mapping[{cls!r}] must be a list of universal class names", line=f.line("mapping", cls))
            line = f.line("mapping", cls)
            if members == [IGNORE]:
                value: str | list[str] | None = None
            else:
                value = members[0] if len(members) == 1 else list(members)
                for u in members:
                    if u not in universal:
                        slips.append(Slip(f.rel, line, "unknown-class",
                                          f"mapping[{cls!r}] names {u!r}, which is not a universal class"))
                dup = sorted({u for u in members if members.count(u) > 1})
                for u in dup:
                    slips.append(Slip(f.rel, line, "duplicate-in-set", f"mapping[{cls!r}] names {u!r} twice"))
            if cls not in names:
                slips.append(Slip(f.rel, line, "stray-entry",
                                  f"mapping names {cls!r}, which is not in class_to_index"))
                stray.append((cls, value if value is not None else [IGNORE]))
            elif value is None:
                ignore.append(cls)
            else:
                entries.append((cls, value))
        unlisted = [n for n in names if n not in mapping]
        for n in unlisted:
            slips.append(Slip(f.rel, f.line("class_to_index", n), "unlisted-class",
                              f"class {n!r} is in class_to_index but not in mapping"))
        mappings.append(Published(name, entries, ignore, unlisted, stray,
                                  f"UT's taxonomies/{p.name} mapping, as published", union=True,
                                  overlap_reason=OVERLAP_REASON))
    return universal, spaces, mappings, slips


def render_specs(folder: Path, shared: dict[str, dict[str, Any]], definitions: Path | None = None,
                 notes: list[str] | None = None, kept: dict[str, dict[str, Any]] | None = None
                 ) -> tuple[dict[str, str], list[Slip]]:
    """All spec files (relative path -> text) for UT's published folder, and the slips found;
    ``definitions``: RVC's label_definitions/, for the colours of the datasets whose class lists it gives;
    ``notes`` gets the correspondences found, ``kept`` gives those already written (see :func:`read_ut`)."""
    folder = Path(folder)
    if (folder / "taxonomies" / UNIVERSAL_FILE).is_file():
        folder = folder / "taxonomies"
    if not (folder / UNIVERSAL_FILE).is_file():
        raise bad(folder / UNIVERSAL_FILE, "not UT's taxonomies folder (a checkout of "
                  "UNIZG-FER-D307/universal_taxonomies, or its taxonomies/ folder)", rule="missing-file")
    universal, spaces, mappings, slips = read_ut(folder, shared, definitions, notes, kept)
    seen: dict[str, str] = {}
    for s in spaces:
        if s.name in seen:
            raise SpecError(bad(folder, f"two files give the label space {s.name}").problems)
        seen[s.name] = s.name
    files = {"universal.yaml": render_universal(
        "ut-universal", f"The {len(universal)}-class universal taxonomy of Bevandić et al. (WACV 2022), compiled "
        "by unitax.", universal, (65535, IGNORE), HEADER)}
    for s in spaces:
        files[f"datasets/{s.name}.yaml"] = render_dataset(
            s, f"Dataset {s.name}: class ids as UT's class_to_index gives them; written by `unitax import-ut`.")
    for m in mappings:
        files[f"mappings/{m.source}_to_universal.yaml"] = render_mapping(m, universal, [
            f"{m.source} -> universal as UT publishes it: each class maps to the set of universal classes",
            "its pixels may be (kind: union; trained with unitax.torch.union_nll); written by `unitax import-ut`."])
    return dict(sorted(files.items())), slips
