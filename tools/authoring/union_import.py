"""`unitax import-unions`: write a union variant of a relabeled MSeg training dataset.

MSeg resolves a dataset class that spans several universal classes by relabeling its segments
(relabel/<dataset>-relabeled.yaml). The union variant trains on the original labels instead: each
class of ``<base>`` maps to the *set* of universal classes its segments may be, read off the
specs themselves:

    union(c) = {the universal class <base>_to_universal sends c to}
               ∪ {every record's `to` (but 'unlabeled') for the records whose `from` is the
                  class <base>_to_<relabeled> sends c to}

It writes ``datasets/<base>-unions.yaml`` (the base dataset's class list: the same label images)
and ``mappings/<base>-unions_to_universal.yaml`` (``kind: union``, ``instead_of`` naming the
records it replaces, so `unitax check` verifies each record's target lies in the union). Two sets
that overlap get an ``overlap_reason`` that names the records behind the overlap. Only the files
of the named datasets are written; nothing else under SPECS is touched.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from ...compiler import build, load
from ...compiler.errors import Problem, SpecError
from ...compiler.model import UNIVERSAL, Model
from ...compiler.relabel import Record
from . import specwriter

SUFFIX = "-unions"


def _fail(file: str, message: str) -> SpecError:
    return SpecError([Problem(file, 0, "$", "import-unions", message)])


def derive(model: Model, records: list[Record], base: str,
           relabeled: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(source class -> sorted universal names of its union, source class -> overlap reason)."""
    u = model.universal
    maps = {(m.source, m.target): m for m in model.mappings}
    if (base, UNIVERSAL) not in maps or (base, relabeled) not in maps:
        raise _fail(base, f"needs mappings/{base}_to_universal.yaml and mappings/{base}_to_{relabeled}.yaml")
    src, rel = model.spaces[base], model.spaces[relabeled]
    to_u = dict(maps[(base, UNIVERSAL)].pairs)
    to_r = dict(maps[(base, relabeled)].pairs)
    moved: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.dst != model.universal.ignore_name:  # 'unlabeled': the segment goes to ignore
            moved[r.src].add(r.dst)
    sets: dict[str, list[str]] = {}
    why: dict[str, set[str]] = {}
    for s, t in sorted(to_u.items()):
        name = src.classes[s].name
        members = {u.classes[t].name}
        was = rel.classes[to_r[s]].name if s in to_r else None
        if was is not None and moved.get(was):
            members |= moved[was]
            why[name] = moved[was]
        sets[name] = sorted(members, key=lambda n: u.index[n])
    holders: dict[str, list[str]] = defaultdict(list)
    for name, union in sets.items():
        for m in union:
            holders[m].append(name)
    reasons: dict[str, str] = {}
    for name, union in sets.items():
        if len(union) < 2:
            continue
        others = sorted({o for m in union for o in holders[m] if o != name})
        if others:
            was = rel.classes[to_r[src.index[name]]].name
            shared = sorted(set(union) & {x for o in others for x in sets[o]}, key=lambda n: u.index[n])
            reasons[name] = (f"the relabel records of {was} move its segments to {', '.join(sorted(why[name]))}; "
                             f"so its set shares {', '.join(shared)} with the set(s) of {', '.join(others)}")
    return sets, reasons


def render(model: Model, records: list[Record], base: str, relabeled: str,
           accepted: list[dict[str, str]] | None = None) -> dict[str, str]:
    """The two spec files (relative path -> text) of ``<base>-unions``.

    ``accepted``: the base dataset spec's ``accept:`` entries; the class list is the same, so
    what a person accepted about its classes (a shared colour) holds for the variant too."""
    sets, reasons = derive(model, records, base, relabeled)
    src = model.spaces[base]
    name = base + SUFFIX
    m = next(m for m in model.mappings if m.source == base and m.target == UNIVERSAL)
    ds: dict[str, Any] = {"name": name, "role": src.role, "label_dtype": src.label_dtype, "ignore": src.ignore}
    if src.class_list_from:
        ds["class_list_from"] = src.class_list_from
    ds["note"] = f"the class list of {base} (same label images); trained through a union mapping"
    ds["classes"] = [{"id": c.id, "name": c.name, **({"color": list(c.color)} if c.color is not None else {}),
                      **({"void": True} if c.void else {})} for c in src.classes]
    if accepted:
        ds["accept"] = [{k: a[k] for k in ("rule", "class", "reason")} for a in accepted]
    fed = {x for v in sets.values() for x in v}
    u = model.universal
    mp: dict[str, Any] = {
        "source": name, "target": UNIVERSAL, "kind": "union",
        "note": f"derived from mappings/{base}_to_universal.yaml and relabel/{relabeled}.yaml",
        "instead_of": {"relabeled": relabeled, "via": base},
        "map": {cls: members[0] if len(members) == 1 else members for cls, members in sets.items()}}
    if reasons:
        mp["overlap_reason"] = dict(sorted(reasons.items()))
    mp["ignore"] = [src.classes[i].name for i in m.ignored]
    mp["unfed"] = [c.name for c in u.real_classes if c.name not in fed]
    return {
        f"datasets/{name}.yaml": specwriter.render("dataset", ds, header=[
            f"Dataset {name}: the label images of {base}, trained as unions of universal classes",
            f"(mappings/{name}_to_universal.yaml) instead of relabeling. Written by `unitax import-unions`."],
            comments={"accept": [f"Accepted warnings, as in datasets/{base}.yaml (the same classes)."]}),
        f"mappings/{name}_to_universal.yaml": specwriter.render("mapping", mp, header=[
            f"{name} -> universal as unions: a class maps to the set of universal classes its pixels",
            f"may be: its MSeg class plus every class the relabel records of {relabeled} move it to.",
            "Written by `unitax import-unions`; trained with unitax.torch.union_nll."]),
    }


def _accepted(specs: Path, base: str) -> list[dict[str, str]]:
    """The ``accept:`` entries of ``datasets/<base>.yaml`` about its classes (the file validated)."""
    doc, _ = load.parse_yaml((specs / "datasets" / f"{base}.yaml").read_bytes(), f"datasets/{base}.yaml",
                             f"datasets/{base}.yaml")
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    return [a for a in data.get("accept") or [] if isinstance(a, dict) and {"rule", "class", "reason"} <= set(a)]


def render_specs(specs: Path, bases: list[str]) -> dict[str, str]:
    """Spec files for each base dataset, from the specs under ``specs`` (which must validate)."""
    model, problems = build.check_specs(Path(specs))
    if model is None:
        raise SpecError(problems)
    relabels, more = build.check_relabel(Path(specs), model)
    if any(p.severity == "error" for p in more):
        raise SpecError(more)
    by_name = {r.dataset: r for r in relabels}
    files: dict[str, str] = {}
    for base in bases:
        if base not in model.spaces or model.spaces[base].role != "train":
            raise _fail(base, f"{base!r} is not a declared train dataset")
        relabeled = f"{base}-relabeled"
        if relabeled not in by_name:
            raise _fail(base, f"no relabel records relabel/{relabeled}.yaml to derive unions from")
        files.update(render(model, list(by_name[relabeled].records), base, relabeled, _accepted(Path(specs), base)))
    return dict(sorted(files.items()))


def write_specs(files: dict[str, str], specs: Path) -> None:
    """Write the union specs as one set (tools/specwriter.write_specs): a failed write leaves
    every old file as it was."""
    specwriter.write_specs(specs, files)
