"""Stage 6 (docs): review material for people: a static HTML site, Markdown pages, SVG colour legends.

Built from the model alone, so from the specs alone. The functions here turn the model into
sorted rows of plain strings (links already resolved); the jinja2 templates in ``templates/``
only loop over them. Every path returned is relative to the compiled folder, under ``docs/``:

- ``docs/html/index.html``: every universal class, a search box (matching dataset class names
  too) and filters by parent category and by dataset; ``docs/html/class/<id>-<slug>.html`` and
  ``docs/html/dataset/<name>.html`` link both ways. No server, no network: CSS and JS are inline.
- ``docs/md/``: the same content as Markdown, one file per parent category and per dataset.
- ``docs/legend/<name>.svg``: a colour legend for the universal taxonomy and for each dataset.

With :class:`Examples` (pictures drawn from data by ``unitax examples``, handed in by ``unitax
docs``, never by a compile), class pages show them grouped by the dataset class they come from,
with before/after pairs of relabeled segments; dataset pages show overlays and union classes;
the index a thumbnail per class. The pictures are only named here, never read; without examples
every page is byte for byte what the specs alone give.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ..model import UNIVERSAL, ClassDef, LabelSpace, Mapping, Model
from ..palette import voc_palette
from . import HEADER
from .escape import md_code, md_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
NO_PARENT = "(none)"
ROLE_ORDER = {"train": 0, "source": 1, "test": 2}

Row = dict[str, Any]


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one template environment (docs site, Markdown, legends, coverage page): missing fields
    are errors, HTML and SVG are escaped, files end in \\n."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "svg"), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


@dataclass(frozen=True)
class Picture:
    """One picture of an examples folder: its file (relative to the folder), alt text and caption."""

    src: str
    alt: str
    caption: str
    source: str
    full: str = ""      # a larger picture to link to, or ""


@dataclass(frozen=True)
class PictureGroup:
    """Pictures under one title (a dataset class, a relabel move, a union class), with an optional
    link: a dataset class's row (``dataset``, ``cid``) or a universal class (``uid``)."""

    title: str
    pictures: tuple[Picture, ...]
    note: str = ""
    dataset: str = ""
    cid: int = -1


@dataclass
class Examples:
    """The pictures of an examples folder, by page (built by ``unitax docs`` from its index)."""

    classes: dict[int, list[PictureGroup]]      # universal id -> by (dataset, dataset class)
    relabel: dict[int, list[PictureGroup]]      # universal id -> relabel moves into or out of it
    datasets: dict[str, list[PictureGroup]]     # dataset -> overlays, union classes
    folder: str = "examples/"                   # where the pictures are, relative to docs/html/


def slug(name: str) -> str:
    """A file-name-safe form of a class name: lower case, runs of other characters as one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "class"


def gh_anchor(heading: str) -> str:
    """The anchor a code host (GitHub's rule) gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def hex_color(c: tuple[int, int, int] | None) -> str:
    return "" if c is None else "#{:02x}{:02x}{:02x}".format(*c)


def parent_key(c: ClassDef) -> str:
    return c.parent if c.parent is not None else NO_PARENT


@dataclass(frozen=True)
class Route:
    """How a dataset's ids reach universal: the label spaces passed on the way and the composed map."""

    via: tuple[str, ...]  # the label spaces passed through, excluding both ends
    ids: dict[int, int | None]  # source id -> target id, None = ignored on the way


def id_map(m: Mapping) -> dict[int, int | None]:
    """Source id -> target id (None = sent to ignore) for every non-void source class."""
    out: dict[int, int | None] = dict(m.pairs)
    out.update((s, None) for s in m.ignored)
    return out


class View:
    """The model seen from the docs: who folds into whom, by id, computed once."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.u = model.universal
        self.to_u = {m.source: m for m in model.mappings_of("to_universal")}
        self.from_u = {m.target: m for m in model.mappings_of("from_universal")}
        self.out: dict[str, list[Mapping]] = defaultdict(list)
        self.inc: dict[str, list[Mapping]] = defaultdict(list)
        for m in model.mappings:
            self.out[m.source].append(m)
            self.inc[m.target].append(m)

    @cached_property
    def datasets(self) -> list[LabelSpace]:
        """Datasets in reading order: train, source, test, each by name."""
        return sorted(self.model.datasets, key=lambda d: (ROLE_ORDER.get(d.role, 9), d.name))

    @cached_property
    def routes(self) -> dict[str, Route]:
        """Each dataset that reaches universal, directly or through remaps (shortest path, by name)."""
        remaps: dict[str, list[Mapping]] = defaultdict(list)
        for m in self.model.mappings_of("remap"):
            remaps[m.source].append(m)
        out: dict[str, Route] = {}
        for d in self.model.datasets:
            seen = {d.name}
            queue: deque[tuple[str, tuple[Mapping, ...]]] = deque([(d.name, ())])
            while queue:
                name, path = queue.popleft()
                if name in self.to_u:
                    out[d.name] = self._compose(path + (self.to_u[name],))
                    break
                for m in sorted(remaps[name], key=lambda m: m.target):
                    if m.target not in seen:
                        seen.add(m.target)
                        queue.append((m.target, path + (m,)))
        return out

    @staticmethod
    def _compose(path: tuple[Mapping, ...]) -> Route:
        ids: dict[int, int | None] = id_map(path[0])
        for m in path[1:]:
            step = id_map(m)
            ids = {s: (None if t is None else step.get(t)) for s, t in ids.items()}
        return Route(tuple(m.target for m in path[:-1]), ids)

    @cached_property
    def folded(self) -> dict[int, list[tuple[LabelSpace, Route, list[ClassDef]]]]:
        """Universal id -> [(dataset, route, its classes that land there)], datasets in reading order."""
        out: dict[int, list[tuple[LabelSpace, Route, list[ClassDef]]]] = defaultdict(list)
        for d in self.datasets:
            route = self.routes.get(d.name)
            if route is None:
                continue
            by_target: dict[int, list[ClassDef]] = defaultdict(list)
            for c in d.real_classes:
                t = route.ids.get(c.id)
                if t is not None:
                    by_target[t].append(c)
            for t, cs in by_target.items():
                out[t].append((d, route, cs))
        return out

    @cached_property
    def test_maps(self) -> list[tuple[LabelSpace, dict[int, int | None]]]:
        """Each test dataset (by name) with universal id -> test id (None = not evaluated)."""
        return [(self.model.spaces[n], id_map(self.from_u[n])) for n in sorted(self.from_u)]

    def counts_as(self, uid: int) -> list[tuple[LabelSpace, ClassDef | None]]:
        """For each test dataset (by name): the test class universal ``uid`` counts as, or None."""
        out = []
        for d, ids in self.test_maps:
            t = ids.get(uid)
            out.append((d, None if t is None else d.classes[t]))
        return out


class Paths:
    """Where each page lives: HTML paths relative to ``docs/html/``, Markdown paths to ``docs/md/``.

    Links on pages one folder down (class, dataset and category pages) get ``UP`` in front here,
    not in the templates: every ``{{ }}`` costs an escape, and there are ~60,000 of them."""

    def __init__(self, model: Model) -> None:
        self.class_file = {c.id: f"{c.id}-{slug(c.name)}.html" for c in model.universal.classes}
        self.md_category = {parent_key(c): ("no-parent" if c.parent is None else slug(c.parent)) + ".md"
                            for c in model.universal.classes}
        self.universal = model.universal

    def cls(self, uid: int) -> str:
        return "class/" + self.class_file[uid]

    def md_cls(self, uid: int) -> str:
        c = self.universal.classes[uid]
        return f"category/{self.md_category[parent_key(c)]}#{gh_anchor(md_heading(c))}"

    @staticmethod
    def ds(name: str, cid: int | None = None) -> str:
        return f"dataset/{name}.html" + ("" if cid is None else f"#id-{cid}")

    @staticmethod
    def md_ds(name: str) -> str:
        return f"dataset/{name}.md"

    def space(self, name: str) -> tuple[str, str]:
        """(HTML, Markdown) link of a label space's page; the universal one is the index."""
        return ("index.html", "README.md") if name == UNIVERSAL else (self.ds(name), self.md_ds(name))

    def member(self, space: str, c: ClassDef) -> Row:
        """A link to class ``c`` of ``space``: its universal class page, or its row on the dataset page."""
        if space == UNIVERSAL:
            return {"text": c.name, "md": md_code(c.name), "href": UP + self.cls(c.id),
                    "md_href": UP + self.md_cls(c.id)}
        return {"text": c.name, "md": md_code(c.name), "href": UP + self.ds(space, c.id),
                "md_href": UP + self.md_ds(space)}


UP = "../"


def md_heading(c: ClassDef) -> str:
    return f"{c.id} {c.name}"


def _via(route: Route) -> str:
    return f"via {' → '.join(route.via)}" if route.via else ""


def _modified(c: ClassDef) -> str:
    text = {True: "yes", False: "no", None: "not recorded"}[c.wordnet_modified]
    return text + (f" ({c.wordnet_modified_note})" if c.wordnet_modified_note else "")


def _class_rows(view: View, paths: Paths) -> list[Row]:
    """One row per universal class, with every fact the index, class pages and Markdown show."""
    rows = []
    ucls = view.u.classes
    covers = _union_covers(view)
    for c in ucls:
        folded: list[dict[str, Any]] = []
        extra = covers.get(c.id, {})
        listed = [d for d, _, _ in view.folded.get(c.id, [])]
        listed += [view.model.spaces[n] for n in sorted(extra) if view.model.spaces[n] not in listed]
        for d in listed:
            route, cs = next(((r, cs) for x, r, cs in view.folded.get(c.id, []) if x == d), (view.routes[d.name], []))
            html, md = paths.space(d.name)
            members = _listing([paths.member(d.name, x) for x in cs] + extra.get(d.name, []))
            folded.append({
                "dataset": d.name, "role": d.role, "via": _via(route), "ihref": html, "href": UP + html,
                "md_href": UP + md,
                "classes": members,
                "names": ", ".join([x.name for x in cs] + [x["text"] for x in extra.get(d.name, [])]),
                "md_names": ", ".join(x["md"] for x in members),
            })
        tests: list[dict[str, Any]] = []
        for d, t in view.counts_as(c.id):
            html, md = paths.space(d.name)
            tests.append({
                "dataset": d.name, "ihref": html, "href": UP + html, "md_href": UP + md,
                "cls": None if t is None else paths.member(d.name, t),
                "md_cls": "ignored (not evaluated)" if t is None else md_code(t.name),
            })
        search: list[str] = [c.name, c.name.replace("_", " "), parent_key(c), c.synset or ""]
        search += [x.name for _, _, cs in view.folded.get(c.id, []) for x in cs]
        search += [t["cls"]["text"] for t in tests if t["cls"] is not None]
        member_ds = [f["dataset"] for f in folded] + [t["dataset"] for t in tests if t["cls"] is not None]
        assert c.color is not None  # the universal schema requires a colour
        rows.append({
            "id": str(c.id),
            "name": c.name,
            "md_heading_text": md_text(md_heading(c)),
            "md_name": md_code(c.name),
            "file": paths.cls(c.id),
            "ihref": paths.cls(c.id),
            "md_ihref": paths.md_cls(c.id),
            "color": hex_color(c.color),
            "parent": parent_key(c),
            "md_parent": md_text(parent_key(c)),
            "synset": c.synset or "",
            "synset_note": c.synset_note or "",
            "modified": _modified(c),
            "definition": c.definition or "",
            "md_definition": md_text(c.definition or "(no definition yet)"),
            "md_synset": md_code(c.synset) if c.synset else "none",
            "md_synset_note": md_text(c.synset_note) if c.synset_note else "",
            "md_modified": md_text(_modified(c)),
            "folded": folded,
            "tests": tests,
            "search": " ".join(s.lower() for s in search if s),
            "datasets": " ".join(member_ds),
            "prev": UP + paths.cls(c.id - 1) if c.id > 0 else "",
            "next": UP + paths.cls(c.id + 1) if c.id + 1 < len(ucls) else "",
        })
    return rows


def _union_covers(view: View) -> dict[int, dict[str, list[Row]]]:
    """Universal id -> {union dataset: links to its classes whose set (of more than one) covers it},
    each shown as ``animal ⊇ {bird, cat, ...}``."""
    paths_member = Paths(view.model).member
    out: dict[int, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for m in view.model.mappings:
        if m.form != "union" or m.target != UNIVERSAL:
            continue
        src = view.model.spaces[m.source]
        for s, ts in m.sets:
            if len(ts) < 2:
                continue
            text = "{" + ", ".join(view.u.classes[u].name for u in ts) + "}"
            link = dict(paths_member(m.source, src.classes[s]))
            link["text"] = f"{src.classes[s].name} ⊇ {text}"
            link["md"] = f"{link['md']} ⊇ {md_text(text)}"
            for u in ts:
                out[u][m.source].append(link)
    return out


def _listing(items: list[Row]) -> list[Row]:
    """Mark each link of a comma-separated list but the first, to be preceded by a comma (cheaper in
    jinja than ``loop.first``, which builds a loop context per list)."""
    for i, x in enumerate(items):
        x["more"] = i > 0
    return items


def _cell(items: list[Row], empty: str) -> Row:
    return {"items": _listing(items), "empty": empty}


def _dataset_page(view: View, paths: Paths, d: LabelSpace) -> Row:
    """A dataset's page: its facts, and for every class where it goes and what comes into it."""
    columns: list[Row] = []
    cells: list[dict[int, Row]] = []
    real = d.real_classes
    for m in sorted(view.out[d.name], key=lambda m: m.target):
        ids, target = id_map(m), view.model.spaces[m.target]
        html, md = paths.space(m.target)
        columns.append({"title": f"→ {m.target}", "href": UP + html, "md_href": UP + md})
        cells.append({c.id: _cell([] if (k := ids.get(c.id)) is None else [paths.member(m.target, target.classes[k])],
                                  "ignored") for c in real})
        if m.form == "union":  # a union mapping: every class of the set, not only sets of one
            sets = dict(m.sets)
            cells[-1] = {c.id: _cell([paths.member(m.target, target.classes[u]) for u in sets.get(c.id, ())], "ignored")
                         for c in real}
    route = view.routes.get(d.name)
    if route is not None and route.via:
        columns.append({"title": f"→ universal ({_via(route)})", "href": UP + "index.html",
                        "md_href": UP + "README.md"})
        cells.append({c.id: _cell([] if (u := route.ids.get(c.id)) is None
                                  else [paths.member(UNIVERSAL, view.u.classes[u])], "ignored")
                      for c in real})
    for m in sorted(view.inc[d.name], key=lambda m: m.source):
        src = view.model.spaces[m.source]
        into: dict[int, list[Row]] = defaultdict(list)
        for s, t in m.pairs:
            into[t].append(paths.member(m.source, src.classes[s]))
        html, md = paths.space(m.source)
        columns.append({"title": f"← {m.source}", "href": UP + html, "md_href": UP + md})
        cells.append({c.id: _cell(into.get(c.id, []), "—") for c in real})
    rows = []
    for c in real:
        rows.append({
            "id": str(c.id),
            "name": c.name,
            "md_name": md_code(c.name),
            "color": hex_color(c.color),
            "cells": [col[c.id] for col in cells],
        })
    n_void = sum(c.void for c in d.classes)
    facts = [
        ("role", d.role),
        ("classes", f"{len(real)}" + (f" ({n_void} void ids, unused, not listed)" if n_void else "")),
        ("label dtype", d.label_dtype),
        ("ignore id", str(d.ignore)),
    ]
    if d.class_list_from:
        facts.append(("class list from", d.class_list_from))
    if d.unscored:
        facts.append(("not scored by its benchmark", ", ".join(d.classes[i].name for i in d.unscored)))
    if d.same_classes_as is not None:
        same = d.same_classes_as
        facts.append(("same classes as", f"{same.space}, class for class by {same.by}"
                      + (f"; no partner there: {', '.join(same.unpaired)}" if same.unpaired else "")
                      + (f" ({same.note})" if same.note else "")))
    if d.note:
        facts.append(("note", d.note))
    return {
        "name": d.name,
        "facts": [{"key": k, "value": v, "md_value": md_text(v)} for k, v in facts],
        "columns": columns,
        "rows": rows,
        "legend": f"../../legend/{d.name}.svg",
    }


def _dataset_rows(view: View, paths: Paths) -> list[Row]:
    out = []
    for d in view.datasets:
        targets = sorted(m.target for m in view.out[d.name])
        route = view.routes.get(d.name)
        if route is not None and route.via:
            targets.append(f"universal ({_via(route)})")
        out.append({
            "name": d.name,
            "role": d.role,
            "classes": str(len(d.real_classes)),
            "href": paths.ds(d.name),
            "md_href": paths.md_ds(d.name),
            "goes_to": ", ".join(targets) or "—",
            "legend": f"../legend/{d.name}.svg",
        })
    return out


LEGEND_ROWS = 40
LEGEND_LABEL = 40


def legend(title: str, entries: list[tuple[str, tuple[int, int, int]]], note: str) -> Row:
    """Layout of a colour legend: a swatch and a label per entry, in columns of at most 40."""
    n = len(entries)
    per_col = min(LEGEND_ROWS, max(n, 1))
    cols = max(1, math.ceil(n / per_col))
    label_len = min(LEGEND_LABEL, max((len(t) for t, _ in entries), default=1))
    col_w = 30 + 7 * label_len
    top = 44 if note else 30
    items = []
    for i, (text, color) in enumerate(entries):
        items.append({
            "x": str(10 + (i // per_col) * col_w), "y": str(top + (i % per_col) * 20),
            "fill": hex_color(color),
            "label": text if len(text) <= LEGEND_LABEL else text[:LEGEND_LABEL - 1] + "…",
        })
    return {"title": title, "note": note, "width": str(20 + cols * col_w),
            "height": str(top + per_col * 20 + 6), "items": items}


def _legends(model: Model) -> dict[str, Row]:
    u = model.universal
    out = {UNIVERSAL: legend(f"{u.name}: {len(u.classes)} universal classes",
                             [(f"{c.id} {c.name}", c.color or (0, 0, 0)) for c in u.classes], "")}
    for d in model.datasets:
        own = all(c.color is not None for c in d.real_classes)
        entries = [(f"{c.id} {c.name}", c.color if own and c.color else voc_palette(c.id)) for c in d.real_classes]
        note = "" if own else "the dataset defines no colours: PASCAL VOC palette by id"
        out[d.name] = legend(f"{d.name}: {len(d.real_classes)} classes", entries, note)
    return out


def render(model: Model) -> dict[str, bytes]:
    """Every docs file as path (relative to the compiled folder) -> bytes."""
    return {**pages(model), **legends(model)}


def _picture_rows(groups: list[PictureGroup], folder: str, paths: Paths, up: str = UP) -> list[Row]:
    """Picture groups as rows: file names under the examples folder as links from the page."""
    out = []
    for g in groups:
        href = ""
        if g.dataset and g.cid >= 0:
            href = up + paths.ds(g.dataset, g.cid)
        elif g.dataset:
            href = up + paths.ds(g.dataset)
        out.append({"title": g.title, "href": href, "note": g.note, "pictures": [
            {"src": up + folder + p.src, "alt": p.alt, "caption": p.caption, "source": p.source,
             "href": up + folder + (p.full or p.src)} for p in g.pictures]})
    return out


def pages(model: Model, examples: Examples | None = None) -> dict[str, bytes]:
    """The HTML site and the Markdown pages (docs/html/, docs/md/); with ``examples``, their pictures
    on the HTML pages (the Markdown pages are the same either way)."""
    env = environment()
    view, paths = View(model), Paths(model)
    files: dict[str, str] = {}
    description = model.universal.note or ""
    common = {"header": HEADER, "taxonomy": "Universal taxonomy", "description": description,
              "md_description": md_text(description)}
    classes = _class_rows(view, paths)
    for r in classes:
        uid = int(r["id"])
        groups = [] if examples is None else examples.classes.get(uid, [])
        r["pictures"] = [] if examples is None else _picture_rows(groups, examples.folder, paths)
        r["pairs"] = [] if examples is None else _picture_rows(examples.relabel.get(uid, []), examples.folder, paths)
        first = next((p for g in groups for p in g.pictures), None)
        r["thumb"] = None if first is None or examples is None else {"src": examples.folder + first.src,
                                                                     "alt": first.alt}
    datasets = _dataset_rows(view, paths)
    parents = sorted({r["parent"] for r in classes})
    filters = [{"name": d.name, "role": d.role} for d in view.datasets
               if d.name in view.routes or d.name in view.from_u]

    files["docs/html/index.html"] = env.get_template("index.html").render(
        **common, root="", classes=classes, parents=parents, filters=filters, datasets=datasets)
    tmpl = env.get_template("class.html")
    for r in classes:
        files[f"docs/html/{r['file']}"] = tmpl.render(**common, root="../", c=r)
    html, md = env.get_template("dataset.html"), env.get_template("dataset.md")
    for d in view.datasets:
        page = _dataset_page(view, paths, d)
        page["pictures"] = [] if examples is None else _picture_rows(examples.datasets.get(d.name, []),
                                                                     examples.folder, paths)
        files[f"docs/html/{paths.ds(d.name)}"] = html.render(**common, root="../", d=page)
        files[f"docs/md/{paths.md_ds(d.name)}"] = md.render(**common, root="../", d=page)

    by_parent: dict[str, list[Row]] = defaultdict(list)
    for r in classes:
        by_parent[r["parent"]].append(r)
    tmpl = env.get_template("category.md")
    categories = []
    for p in parents:
        rel = f"category/{paths.md_category[p]}"
        files[f"docs/md/{rel}"] = tmpl.render(**common, root="../", parent=md_text(p), classes=by_parent[p])
        categories.append({"parent": md_text(p), "href": rel, "n": str(len(by_parent[p])),
                           "names": ", ".join(md_code(r["name"]) for r in by_parent[p])})
    files["docs/md/README.md"] = env.get_template("index.md").render(
        **common, root="", classes=classes, categories=categories, datasets=datasets)

    return {k: v.encode("utf-8") for k, v in sorted(files.items())}


def legends(model: Model) -> dict[str, bytes]:
    """The colour legends, ``docs/legend/<name>.svg`` (part of :func:`render`; rendered apart by
    a compile, which balances its processes with them)."""
    tmpl = environment().get_template("legend.svg")
    return {f"docs/legend/{name}.svg": tmpl.render(header=HEADER, lg=lg).encode("utf-8")
            for name, lg in sorted(_legends(model).items())}
