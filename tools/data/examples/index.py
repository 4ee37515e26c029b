"""The examples folder's ``index.json``: written by ``unitax examples``, read by ``unitax docs --examples``.

The one description of the format (:data:`FORMAT`)::

    {"format": "unitax-examples 1", "per_class": K, "budget": bytes, "bytes": bytes kept,
     "dropped": {kind: picks dropped for the budget},
     "classes": {"<universal id>": {"name": universal class, "picks": [PICK + "class", "class_id" (of the
                 space drawn), and for a relabeled space "from_space", "from_class", "from_class_id": the
                 class of the space before relabeling most of those pixels had]}},
     "relabel": [{"space", "base", "before", "before_id", "after", "after_id", "before_universal",
                  "after_universal", "picks": [PICK]}],
     "unions": {"<union dataset>": [{"class", "class_id", "allows": [universal ids], "picks": [PICK]}]},
     "datasets": {"<space>": [PICK]}}

    PICK = {"space", "split", "source" (the image, <tree folder name>/<path in the tree>), "label",
            "box": [x0, y0, x1, y1], "file" (the picture, relative to the folder), "full" (or null),
            "photo": whether the image was there (else the picture shows the label's colours)}

Read back, the index is untrusted input: bounded JSON (:mod:`unitax.fileops.jsonio`), every file
a plain relative path confined to the folder (:mod:`unitax.fileops.datapath`) naming a regular
file, every space and class one of the taxonomy's; every problem is reported, with its JSON path.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ....compiler.emit.docs import Examples, Picture, PictureGroup
from ....compiler.model import Model
from ....fileops import jsonio
from ....fileops.atomic import write_atomic
from ....fileops.datapath import DataPathError, Root, bad_char
from .pick import Pick
from .render import full_name
from .scan import ExamplesError, Shown

INDEX = "index.json"
FORMAT = "unitax-examples 1"
INDEX_LIMIT = 64 << 20
TEXT_LIMIT = 1000


def _pick(p: Pick, sizes: dict[str, int], trees: list[Path], tree_names: list[str], label: str) -> dict[str, Any]:
    s = p.sample
    full = full_name(p.file)
    return {"space": p.space, "split": s.split, "source": f"{tree_names[s.tree]}/{s.image}",
            "label": f"{tree_names[s.tree]}/{label}", "box": list(p.box), "file": p.file,
            "full": full if full in sizes else None, "photo": os.path.exists(trees[s.tree] / s.image)}


UNLABELED = "unlabeled"


def class_name(tax: Any, space: str, cid: int) -> str:
    """A class's name; the ignore id is "unlabeled" (a relabel record may move ignored pixels, or into ignore)."""
    names = tax.names(space)
    return names[cid] if 0 <= cid < len(names) else UNLABELED


def build(tax: Any, shown: list[Shown], kept: list[Pick], sizes: dict[str, int], trees: list[Path],
          tree_names: list[str], per_class: int, budget: int, dropped: Counter[str]) -> dict[str, Any]:
    """The index of the picks kept (in pick order)."""
    unames = tax.universal_names
    base_of = {s.space: s.base for s in shown}
    classes: dict[str, Any] = {}
    relabel: dict[str, dict[str, Any]] = {}
    unions: dict[str, list[dict[str, Any]]] = {}
    datasets: dict[str, list[dict[str, Any]]] = {}
    for sh in shown:
        for un in sh.unions:
            sets = tax.class_sets(un)
            unions[un] = [{"class": name, "class_id": i, "allows": [int(u) for u in sets[i].nonzero()[0]], "picks": []}
                          for i, name in enumerate(tax.names(un)) if int(sets[i].sum()) > 1]
    for p in kept:
        s = p.sample
        own = s.label if p.space in base_of else s.base_label
        e = _pick(p, sizes, trees, tree_names, own or s.label)
        if p.kind == "class":
            c = classes.setdefault(p.group, {"name": unames[int(p.group)], "picks": []})
            e.update({"class": tax.names(p.space)[p.cid], "class_id": p.cid})
            base = base_of[p.space]
            if base is not None and 0 <= p.origin < len(tax.names(base)):
                e.update({"from_space": base, "from_class": tax.names(base)[p.origin], "from_class_id": p.origin})
            c["picks"].append(e)
        elif p.kind == "relabel":
            base = base_of[p.space]
            assert base is not None
            if p.group not in relabel:
                relabel[p.group] = {"space": p.space, "base": base, "before": class_name(tax, base, p.cid),
                                    "before_id": p.cid, "after": class_name(tax, p.space, p.cid2), "after_id": p.cid2,
                                    "before_universal": int(tax.lut(base)[p.cid]),
                                    "after_universal": int(tax.lut(p.space)[p.cid2]), "picks": []}
            relabel[p.group]["picks"].append({**e, "label": f"{tree_names[s.tree]}/{s.label}"})
        elif p.kind == "union":
            un, cid = p.group.split(":")
            row = next(r for r in unions[un] if r["class_id"] == int(cid))
            row["picks"].append(e)
        else:
            datasets.setdefault(p.space, []).append(e)
    return {"format": FORMAT, "per_class": per_class, "budget": budget,
            "bytes": sum(sizes.get(p.file, 0) + sizes.get(full_name(p.file), 0) for p in kept),
            "dropped": dict(sorted(dropped.items())),
            "classes": dict(sorted(classes.items(), key=lambda kv: int(kv[0]))),
            "relabel": [relabel[k] for k in relabel], "unions": unions, "datasets": datasets}


def write(dst: Path, index: dict[str, Any]) -> None:
    write_atomic(dst / INDEX, json.dumps(index, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


# ----- reading it back --------------------------------------------------------------------------


class _Reader:
    """Checks an index against a model, collecting every problem with its JSON path."""

    def __init__(self, folder: Path, model: Model):
        self.folder, self.model = folder, model
        self.root = Root(folder, "inside")
        self.problems: list[str] = []
        self.files: set[str] = set()

    def bad(self, where: str, why: str) -> None:
        self.problems.append(f"{self.folder / INDEX}: {where}: {why}")

    def text(self, d: Any, key: str, where: str) -> str | None:
        v = d.get(key) if isinstance(d, dict) else None
        if not isinstance(v, str) or not v or len(v) > TEXT_LIMIT or bad_char(v):
            self.bad(f"{where}.{key}", f"{ascii(v)[:80]} is not a one-line text of at most {TEXT_LIMIT} characters")
            return None
        return v

    def int_(self, d: Any, key: str, where: str) -> int | None:
        v = d.get(key) if isinstance(d, dict) else None
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            self.bad(f"{where}.{key}", f"{ascii(v)[:80]} is not a whole number >= 0")
            return None
        return v

    def space_class(self, space: str | None, name: str | None, cid: int | None, where: str,
                    unlabeled: bool = False) -> bool:
        if space is None:
            return False
        sp = self.model.spaces.get(space)
        if sp is None:
            self.bad(f"{where}.space", f"{space!r} is not a label space of this taxonomy")
            return False
        if cid is None or name is None:
            return False
        if cid == sp.ignore and name == UNLABELED and unlabeled:
            return True
        if cid >= len(sp.classes) or sp.classes[cid].name != name:
            self.bad(where, f"class {cid} of {space} is not {name!r} in this taxonomy (an index of another taxonomy?)")
            return False
        return True

    def file(self, v: Any, where: str) -> str | None:
        try:
            path = self.root.join(v, where)
        except DataPathError as e:
            self.bad(where, str(e))
            return None
        try:
            st = os.lstat(path)
        except OSError as e:
            self.bad(where, f"{path}: {e.strerror or e}")
            return None
        import stat
        if not stat.S_ISREG(st.st_mode):
            self.bad(where, f"{path} is not a regular file")
            return None
        if not str(v).endswith(".jpg"):
            self.bad(where, f"{ascii(v)} is not a .jpg picture")
            return None
        self.files.add(str(v))
        return str(v)

    def pick(self, d: Any, where: str) -> tuple[dict[str, Any], Picture] | None:
        if not isinstance(d, dict):
            self.bad(where, "not an object")
            return None
        space, split = self.text(d, "space", where), self.text(d, "split", where)
        source = self.text(d, "source", where)
        if space is not None and space not in self.model.spaces:
            self.bad(f"{where}.space", f"{space!r} is not a label space of this taxonomy")
            space = None
        f = self.file(d.get("file"), f"{where}.file")
        full = None if d.get("full") is None else self.file(d.get("full"), f"{where}.full")
        if space is None or split is None or source is None or f is None:
            return None
        shown = source if d.get("photo") is True else f"{source} (image absent: drawn on the label's colours)"
        return {"space": space, "split": split, "source": shown}, Picture(f, "", "", shown, full or "")


def read(folder: Path, model: Model) -> tuple[Examples, set[str]]:
    """The pictures of an examples folder for the docs of ``model``, and the files they name;
    ExamplesError listing every problem."""
    r = _Reader(folder, model)
    try:
        data = jsonio.load(folder / INDEX, max_bytes=INDEX_LIMIT)
    except FileNotFoundError:
        raise ExamplesError(f"{folder}: no {INDEX}; make one with `unitax examples`") from None
    except (OSError, ValueError) as e:
        raise ExamplesError(f"{folder / INDEX}: {getattr(e, 'strerror', None) or e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExamplesError(f"{folder / INDEX}: not an index of `unitax examples` (format {FORMAT!r})")
    u = model.universal
    ex = Examples({}, {}, {})
    classes = data.get("classes")
    for key, c in (classes.items() if isinstance(classes, dict) else ()):
        where = f"$.classes[{key!r}]"
        uid = int(key) if isinstance(key, str) and key.isdigit() else -1
        if not 0 <= uid < len(u.classes) or not isinstance(c, dict) or c.get("name") != u.classes[uid].name:
            shown = ascii(c.get("name") if isinstance(c, dict) else c)[:60]
            r.bad(where, f"is not a universal class of this taxonomy by id and name ({shown})")
            continue
        uname = u.classes[uid].name
        groups: dict[tuple[str, int], PictureGroup] = {}
        for i, p in enumerate(c.get("picks") or []):
            w = f"{where}.picks[{i}]"
            got = r.pick(p, w)
            name, cid = r.text(p, "class", w), r.int_(p, "class_id", w)
            if got is None or not r.space_class(got[0]["space"], name, cid, w):
                continue
            assert name is not None and cid is not None
            meta, pic = got
            space = meta["space"]
            gspace, gname, gcid, note = space, name, cid, ""
            if "from_space" in p:   # a relabeled space: grouped by the class the pixels had before
                fs, fname, fcid = r.text(p, "from_space", w), r.text(p, "from_class", w), r.int_(p, "from_class_id", w)
                if not r.space_class(fs, fname, fcid, w + ".from_class"):
                    continue
                assert fs is not None and fname is not None and fcid is not None
                gspace, gname, gcid = fs, fname, fcid
                note = f"(as {name} in {space})"
            what = f"{gname} of {gspace}" + (f", {name} of {space}" if gspace != space else "")
            pic = Picture(pic.src, f"{uname}: {what} ({meta['split']}), from {meta['source']}",
                          f"{gspace} · {gname} · {meta['split']}", meta["source"], pic.full)
            g = groups.get((gspace, gcid)) or PictureGroup(f"{gname} ({gspace})", (), note=note, dataset=gspace,
                                                           cid=gcid)
            if note and note not in g.note:
                note = g.note[:-1] + ", " + note[len("(as "):] if g.note else note
            else:
                note = g.note
            groups[(gspace, gcid)] = PictureGroup(g.title, g.pictures + (pic,), note=note, dataset=gspace, cid=gcid)
        if groups:
            ex.classes[uid] = list(groups.values())
    for i, m in enumerate(data.get("relabel") or []):
        where = f"$.relabel[{i}]"
        if not isinstance(m, dict):
            r.bad(where, "not an object")
            continue
        space, base = r.text(m, "space", where), r.text(m, "base", where)
        before, after = r.text(m, "before", where), r.text(m, "after", where)
        bid, aid = r.int_(m, "before_id", where), r.int_(m, "after_id", where)
        bu, au = r.int_(m, "before_universal", where), r.int_(m, "after_universal", where)
        ok = r.space_class(base, before, bid, where, True) & r.space_class(space, after, aid, where, True)
        if not ok or bu is None or au is None:
            continue
        names = [u.classes[x].name if x < len(u.classes) else "unlabeled" for x in (bu, au)]
        pics = []
        for j, p in enumerate(m.get("picks") or []):
            got = r.pick(p, f"{where}.picks[{j}]")
            if got is None:
                continue
            meta, pic = got
            pics.append(Picture(pic.src, f"relabeled in {space}: {before} became {after} ({names[0]} → {names[1]}), "
                                         f"before and after, from {meta['source']}",
                                f"{before} → {after} · {meta['split']}", meta["source"]))
        if not pics:
            continue
        g = PictureGroup(f"{space}: {before} → {after}", tuple(pics), note=f"(universal {names[0]} → {names[1]})",
                         dataset=str(space), cid=aid if aid is not None else -1)
        for x in sorted({bu, au}):
            if x < len(u.classes):
                ex.relabel.setdefault(x, []).append(g)
    unions = data.get("unions")
    for un, rows in (unions.items() if isinstance(unions, dict) else ()):
        where = f"$.unions[{un!r}]"
        if un not in model.spaces or not isinstance(rows, list):
            r.bad(where, "is not a union dataset of this taxonomy with a list of classes")
            continue
        for i, row in enumerate(rows):
            w = f"{where}[{i}]"
            name, cid = r.text(row, "class", w), r.int_(row, "class_id", w)
            allows = row.get("allows") if isinstance(row, dict) else None
            if not r.space_class(un, name, cid, w) or not isinstance(allows, list) or not all(
                    isinstance(x, int) and 0 <= x < len(u.classes) for x in allows):
                if isinstance(row, dict) and not isinstance(allows, list):
                    r.bad(f"{w}.allows", "not a list of universal ids")
                continue
            text = "{" + ", ".join(u.classes[x].name for x in allows) + "}"
            pics = []
            for j, p in enumerate(row.get("picks") or []):
                got = r.pick(p, f"{w}.picks[{j}]")
                if got is not None:
                    meta, pic = got
                    pics.append(Picture(pic.src, f"{name} of {un}, which allows {text}, from {meta['source']}",
                                        f"{meta['space']} · {name} · {meta['split']}", meta["source"], pic.full))
            ex.datasets.setdefault(str(un), []).append(
                PictureGroup(f"{name} allows {text}", tuple(pics), dataset=str(un), cid=cid if cid is not None else -1))
    dsets = data.get("datasets")
    for space, rows in (dsets.items() if isinstance(dsets, dict) else ()):
        where = f"$.datasets[{space!r}]"
        if space not in model.spaces or not isinstance(rows, list):
            r.bad(where, "is not a label space of this taxonomy with a list of pictures")
            continue
        pics = []
        for j, p in enumerate(rows):
            got = r.pick(p, f"{where}[{j}]")
            if got is not None:
                meta, pic = got
                pics.append(Picture(pic.src, f"label overlay of {space} ({meta['split']}), from {meta['source']}",
                                    f"{space} · {meta['split']}", meta["source"]))
        if pics:
            ex.datasets.setdefault(space, []).insert(0, PictureGroup("Label overlays", tuple(pics)))
    if r.problems:
        raise ExamplesError(f"{len(r.problems)} problem(s) in the index:\n" + "\n".join(r.problems))
    return ex, r.files
