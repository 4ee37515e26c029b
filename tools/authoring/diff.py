"""What changed between two versions of a taxonomy: classes and every lookup-table entry.

``unitax diff OLD NEW`` compares two spec folders or two git revisions of the spec folder. Both
sides are validated and compiled in memory (``build.check_specs`` + ``tables.build_tables``).

How universal classes are matched (dataset classes are the anchors: a dataset's class list
rarely changes, while the universal taxonomy is what gets edited):

1. a class whose name exists on both sides is the same class (*renumbered* if its id changed);
2. the *feeders* of a universal class are the (dataset, dataset class name) pairs whose mapping
   to universal sends them to it; following each feeder from its old universal class to its
   new one links old classes to new ones;
3. an old class whose feeders now reach two or more new classes, at least one of them new, was
   *split*; a new class reached from two or more old classes, at least one of them gone, is a
   *merge*; a gone class and a new class linked only to each other (or, lacking feeders on
   both sides, at the same id) were *renamed*;
4. the rest are *removed* and *added*.

Breaking change (exit status 1): an id of an existing class no longer means that class — a
universal or dataset class renumbered, removed, or merged away. A trained checkpoint's output
rows or a dataset's label files would be read wrongly. Adding classes at the end is not
breaking.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...compiler import analysis, build, tables
from ...compiler.emit.escape import md_code, md_text
from ...compiler.errors import SpecError
from ...compiler.model import UNIVERSAL, LabelSpace, Model
from ..errors import ToolError


class DiffError(ToolError):
    """A side of the diff is neither a spec folder nor a git revision holding one."""


@dataclass(frozen=True)
class Side:
    """One compiled side: what was asked for, the model and its tables."""

    label: str
    model: Model
    tables: dict[str, np.ndarray]


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True)


@contextmanager
def specs_of(spec: str, specs: Path = Path("taxonomy")) -> Iterator[tuple[Path, str]]:
    """The spec folder a side names: ``spec`` itself when it is a folder (or holds ``taxonomy/``),
    else the git revision ``spec`` of ``specs``, exported into a temporary folder."""
    p = Path(spec)
    if p.is_symlink() and not p.exists():
        raise DiffError(f"{spec}: is a symbolic link that leads nowhere (a link loop or a missing target)")
    if p.is_dir():
        yield (p / "taxonomy" if not (p / "universal.yaml").exists() and (p / "taxonomy").is_dir() else p), spec
        return
    specs = Path(specs).resolve()
    anchor = specs if specs.is_dir() else Path.cwd()
    top = _git(["rev-parse", "--show-toplevel"], anchor)
    if top.returncode:
        raise DiffError(f"{spec!r} is not a folder, and {anchor} is not in a git repository")
    root = Path(top.stdout.decode().strip())
    try:
        rel = specs.relative_to(root).as_posix()
    except ValueError:
        raise DiffError(f"the spec folder {specs} is outside the git repository {root}") from None
    rev = _git(["rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], root)
    if rev.returncode:
        raise DiffError(f"{spec!r} is neither a folder nor a git revision")
    tar = _git(["archive", "--format=tar", rev.stdout.decode().strip(), "--", rel], root)
    if tar.returncode:
        raise DiffError(f"revision {spec} has no {rel}/: {tar.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory(prefix="unitax-diff-") as tmp:
        try:
            with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
                tf.extractall(tmp, filter="data")   # refuses absolute and outward links, devices, ...
        except tarfile.TarError as e:   # FilterError: e.g. a symlink in the revision to an absolute path
            raise DiffError(f"revision {spec}: {rel}/ holds what a spec folder may not ({e}); not read") from None
        yield Path(tmp) / rel, f"{spec}:{rel}"


def load_side(spec: str, specs: Path = Path("taxonomy")) -> Side:
    """Validate and compile one side in memory; raises SpecError (problems of that side) or DiffError."""
    with specs_of(spec, specs) as (root, label):
        model, problems = build.check_specs(root)
        if model is None:
            raise SpecError(problems)
        return Side(label, model, tables.build_tables(model))


# ----- matching universal classes ----------------------------------------------------------------


def _feeders(model: Model) -> dict[tuple[str, str], int]:
    """(dataset, dataset class name) -> universal id, over every mapping to universal."""
    out = {}
    for m in model.mappings_of("to_universal"):
        names = model.spaces[m.source].names
        for s, u in m.pairs:
            out[(m.source, names[s])] = u
    return out


def universal_changes(old: Model, new: Model) -> dict[str, Any]:
    """Classes added, removed, renamed, renumbered, split and merged (see the module docstring)."""
    on, nn = old.universal.names, new.universal.names
    o_idx, n_idx = {n: i for i, n in enumerate(on)}, {n: i for i, n in enumerate(nn)}
    same = {o_idx[n]: n_idx[n] for n in on if n in n_idx}
    gone = [i for i, n in enumerate(on) if n not in n_idx]
    fresh = [i for i, n in enumerate(nn) if n not in o_idx]
    of, nf = _feeders(old), _feeders(new)
    links: dict[int, set[int]] = {}
    back: dict[int, set[int]] = {}
    for key, uo in of.items():
        if key in nf:
            links.setdefault(uo, set()).add(nf[key])
            back.setdefault(nf[key], set()).add(uo)
    renamed: dict[int, int] = {}
    for o in gone:
        t = links.get(o, set())
        if len(t) == 1:
            n = next(iter(t))
            if n in fresh and back.get(n) == {o}:
                renamed[o] = n
    for o in gone:  # no feeder evidence on either side: the same id is the same class
        if o not in renamed and not links.get(o) and o < len(nn) and o in fresh and not back.get(o) \
                and o not in renamed.values():
            renamed[o] = o
    matched = {**same, **renamed}
    fresh_left = set(fresh) - set(renamed.values())
    gone_left = set(gone) - set(renamed)
    splits: list[dict[str, Any]] = []
    merges: list[dict[str, Any]] = []
    for o in range(len(on)):
        t = links.get(o, set())
        if len(t) >= 2 and t & fresh_left:
            splits.append({"from": _ref(on, o), "into": [_ref(nn, n) for n in sorted(t)]})
    for n in range(len(nn)):
        s = back.get(n, set())
        if len(s) >= 2 and s & gone_left:
            merges.append({"from": [_ref(on, o) for o in sorted(s)], "into": _ref(nn, n)})
    in_split = {n for x in splits for n in (r["id"] for r in x["into"])}
    split_src = {x["from"]["id"] for x in splits}
    in_merge = {o for x in merges for o in (r["id"] for r in x["from"])}
    merge_dst = {x["into"]["id"] for x in merges}
    return {
        "added": [_ref(nn, n) for n in sorted(fresh_left) if n not in in_split and n not in merge_dst],
        "removed": [_ref(on, o) for o in sorted(gone_left) if o not in split_src and o not in in_merge],
        "renamed": [{"old": _ref(on, o), "new": _ref(nn, n)} for o, n in sorted(renamed.items())],
        "renumbered": [{"name": nn[n], "old_id": o, "new_id": n} for o, n in sorted(matched.items()) if o != n],
        "split": splits,
        "merged": merges,
        "moved_or_gone": sorted(o for o in range(len(on)) if matched.get(o) != o),
    }


def _ref(names: tuple[str, ...], i: int) -> dict[str, Any]:
    return {"id": i, "name": names[i]}


def dataset_changes(old: LabelSpace, new: LabelSpace) -> dict[str, Any]:
    """Classes of one dataset added, removed, renamed (same id, both names new) and renumbered.

    Void ids (unused label values) are not classes: they are neither matched nor reported.
    """
    on, nn = old.names, new.names
    o_idx, n_idx = old.index, new.index  # name -> id, void ids left out
    gone = [c.id for c in old.real_classes if c.name not in n_idx]
    fresh = [c.id for c in new.real_classes if c.name not in o_idx]
    renamed = {i: i for i in gone if i in fresh}
    matched = {o_idx[n]: n_idx[n] for n in o_idx if n in n_idx} | renamed
    out: dict[str, Any] = {
        "added": [_ref(nn, n) for n in fresh if n not in renamed.values()],
        "removed": [_ref(on, o) for o in gone if o not in renamed],
        "renamed": [{"old": _ref(on, o), "new": _ref(nn, n)} for o, n in sorted(renamed.items())],
        "renumbered": [{"name": nn[n], "old_id": o, "new_id": n} for o, n in sorted(matched.items()) if o != n],
        "moved_or_gone": sorted(c.id for c in old.real_classes if matched.get(c.id) != c.id),
    }
    if (old.role, old.label_dtype, old.ignore) != (new.role, new.label_dtype, new.ignore):
        out["changed"] = {"old": {"role": old.role, "label_dtype": old.label_dtype, "ignore": old.ignore},
                          "new": {"role": new.role, "label_dtype": new.label_dtype, "ignore": new.ignore}}
    return out


# ----- tables ------------------------------------------------------------------------------------


def _spaces_of(key: str, model: Model) -> tuple[str, str]:
    """(source space, target space) of a table key; for matrices (test, universal) = (rows, columns)."""
    kind, name = key.split("/", 1)
    if kind == "to_universal":
        return name, UNIVERSAL
    if kind in ("from_universal", "back_map"):
        return UNIVERSAL, name
    if kind in ("matrix", "class_sets"):  # class_sets: (dataset classes, universal), the same layout
        return name, UNIVERSAL
    m = next(m for m in model.mappings if m.key == name)
    return m.source, m.target


def _label(space: LabelSpace, v: int) -> str:
    if v == space.ignore:
        return f"{v} (ignore)"
    return f"{v} {space.classes[v].name!r}" if 0 <= v < len(space.classes) else str(v)


def table_changes(old: Side, new: Side) -> dict[str, Any]:
    """Per table key: added, removed, or every entry whose value changed (with names on both sides)."""
    out: dict[str, Any] = {}
    for key in sorted(set(old.tables) | set(new.tables)):
        if key not in new.tables:
            out[key] = {"status": "removed"}
            continue
        if key not in old.tables:
            out[key] = {"status": "added"}
            continue
        a, b = old.tables[key], new.tables[key]
        if a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b):
            continue
        src_o, dst_o = (old.model.spaces[s] for s in _spaces_of(key, old.model))
        src_n, dst_n = (new.model.spaces[s] for s in _spaces_of(key, new.model))
        entries = []
        if key.startswith(("matrix/", "class_sets/")):
            rows, cols = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
            pa = np.zeros((rows, cols), np.uint8)
            pb = np.zeros((rows, cols), np.uint8)
            pa[: a.shape[0], : a.shape[1]] = a
            pb[: b.shape[0], : b.shape[1]] = b
            for t, u in zip(*np.nonzero(pa != pb), strict=True):
                name_o = dst_o.classes[u].name if u < len(dst_o.classes) else "-"
                name_n = dst_n.classes[u].name if u < len(dst_n.classes) else "-"
                entries.append({"entry": f"[{t}, {u}]", "old": f"{int(pa[t, u])} ({name_o})",
                                "new": f"{int(pb[t, u])} ({name_n})"})
        else:
            n = max(len(src_o.classes), len(src_n.classes))
            fill_o, fill_n = int(dst_o.ignore), int(dst_n.ignore)
            for i in range(max(a.shape[0], b.shape[0])):
                va = int(a[i]) if i < a.shape[0] else fill_o
                vb = int(b[i]) if i < b.shape[0] else fill_n
                if va == vb:
                    continue
                if i >= n and i not in (src_o.ignore, src_n.ignore):
                    continue  # beyond every class on both sides: ignore in, ignore out
                was = repr(src_o.classes[i].name) if i < len(src_o.classes) else "-"
                now = repr(src_n.classes[i].name) if i < len(src_n.classes) else "-"
                entry = f"{i}" if i >= n else f"{i} {was}" if was == now else f"{i} {was} \u2192 {now}"
                entries.append({"entry": entry, "old": _label(dst_o, va), "new": _label(dst_n, vb)})
        if entries or a.shape != b.shape:
            out[key] = {"status": "changed", "old_shape": list(a.shape), "new_shape": list(b.shape),
                        "entries": entries}
    return out


# ----- the whole diff ----------------------------------------------------------------------------


def compare(old: Side, new: Side) -> dict[str, Any]:
    """Everything that changed from ``old`` to ``new``, JSON-ready, with the breaking reasons."""
    uni = universal_changes(old.model, new.model)
    od, nd = {d.name: d for d in old.model.datasets}, {d.name: d for d in new.model.datasets}
    datasets: dict[str, Any] = {}
    breaking = []
    for o in uni["moved_or_gone"]:
        breaking.append(f"universal class {old.model.universal.names[o]!r} (id {o}) " + _fate(o, uni))
    for name in sorted(set(od) | set(nd)):
        if name not in nd:
            datasets[name] = {"status": "removed"}
        elif name not in od:
            datasets[name] = {"status": "added"}
        else:
            ch = dataset_changes(od[name], nd[name])
            for o in ch["moved_or_gone"]:
                where = next((r["new_id"] for r in ch["renumbered"] if r["old_id"] == o), None)
                breaking.append(f"{name} class {od[name].names[o]!r} (id {o}) "
                                + (f"moved to id {where}" if where is not None else "is gone"))
            del ch["moved_or_gone"]
            if any(ch.values()):
                datasets[name] = {"status": "changed", **ch}
    del uni["moved_or_gone"]
    return {
        "old": old.label,
        "new": new.label,
        "fingerprint": {"old": analysis.fingerprint(old.model.universal),
                        "new": analysis.fingerprint(new.model.universal)},
        "breaking": breaking,
        "universal": uni,
        "datasets": datasets,
        "tables": table_changes(old, new),
    }


def _fate(o: int, uni: dict[str, Any]) -> str:
    for r in uni["renumbered"]:
        if r["old_id"] == o:
            return f"moved to id {r['new_id']}"
    for m in uni["merged"]:
        if any(r["id"] == o for r in m["from"]):
            return f"was merged into {m['into']['name']!r}"
    for s in uni["split"]:
        if s["from"]["id"] == o:
            return "was split into " + ", ".join(repr(r["name"]) for r in s["into"])
    return "is gone"


def is_empty(d: dict[str, Any]) -> bool:
    """True when nothing at all changed."""
    return not (any(d["universal"].values()) or d["datasets"] or d["tables"])


def to_json(d: dict[str, Any]) -> str:
    return json.dumps(d, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def _r(r: dict[str, Any]) -> str:
    return f"{md_code(r['name'])} ({r['id']})"


def to_markdown(d: dict[str, Any]) -> str:
    """A review-ready Markdown report (names and spec text escaped: compiler/emit/escape.py)."""
    out = [f"# unitax diff {md_code(str(d['old']))} → {md_code(str(d['new']))}", ""]
    fp = d["fingerprint"]
    if d["breaking"]:
        out += [f"**Breaking:** {len(d['breaking'])} existing class id(s) changed meaning; trained checkpoints "
                "and label files need remapping (`unitax.reorder_rows`).", ""]
        out += [f"- {md_text(b)}" for b in d["breaking"]] + [""]
    else:
        out += ["No existing class id changed meaning.", ""]
    out += [f"Universal fingerprint: `{fp['old'][:16]}` → `{fp['new'][:16]}`"
            + (" (unchanged)" if fp["old"] == fp["new"] else ""), ""]
    if is_empty(d):
        return "\n".join(out + ["No changes.", ""])
    u = d["universal"]
    if any(u.values()):
        out += ["## Universal classes", ""]
        out += [f"- added {_r(r)}" for r in u["added"]]
        out += [f"- removed {_r(r)}" for r in u["removed"]]
        out += [f"- renamed {_r(r['old'])} → {_r(r['new'])}" for r in u["renamed"]]
        out += [f"- renumbered {md_code(r['name'])} {r['old_id']} → {r['new_id']}" for r in u["renumbered"]]
        out += [f"- split {_r(s['from'])} → " + ", ".join(_r(r) for r in s["into"]) for s in u["split"]]
        out += ["- merged " + ", ".join(_r(r) for r in m["from"]) + f" → {_r(m['into'])}" for m in u["merged"]]
        out.append("")
    if d["datasets"]:
        out += ["## Datasets", ""]
        for name, ch in d["datasets"].items():
            if ch["status"] != "changed":
                out += [f"- `{name}` {ch['status']}"]
                continue
            out += [f"### {name}", ""]
            out += [f"- added {_r(r)}" for r in ch["added"]]
            out += [f"- removed {_r(r)}" for r in ch["removed"]]
            out += [f"- renamed {_r(r['old'])} → {_r(r['new'])}" for r in ch["renamed"]]
            out += [f"- renumbered {md_code(r['name'])} {r['old_id']} → {r['new_id']}" for r in ch["renumbered"]]
            if "changed" in ch:
                out += [f"- {ch['changed']['old']} → {ch['changed']['new']}"]
            out.append("")
        out.append("")
    if d["tables"]:
        out += ["## Lookup tables", ""]
        for key, ch in d["tables"].items():
            if ch["status"] != "changed":
                out += [f"- `{key}` {ch['status']}", ""]
                continue
            shape = "" if ch["old_shape"] == ch["new_shape"] else f", shape {ch['old_shape']} → {ch['new_shape']}"
            out += [f"### {key} ({len(ch['entries'])} entries changed{shape})", "", "| entry | old | new |",
                    "| --- | --- | --- |"]
            out += [f"| {md_text(e['entry'])} | {md_text(e['old'])} | {md_text(e['new'])} |" for e in ch["entries"]]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
