"""Stage 6 (docs): the coverage report — which datasets supervise each universal class and which
test classes consume it — as an HTML page beside the class index and an SVG picture.

Writes ``docs/html/coverage.html`` (``templates/coverage.html``, extending the docs site's ``base.html``) and
``docs/coverage.svg``. Data comes from :func:`analysis.coverage`; rows are prepared here and the
template only loops.
"""

from __future__ import annotations

from html import escape

from .. import analysis
from ..model import Model
from . import HEADER
from .docs import Paths, environment


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


def page_data(model: Model) -> dict[str, object]:
    """Everything the page shows, as sorted rows of strings and numbers."""
    cov = analysis.coverage(model)
    paths = Paths(model)
    uni = model.universal
    n = len(uni.classes)
    evaluated = cov.evaluated()
    shares = cov.test_share()
    rows = []
    for c in uni.classes:
        train = [("" if k == 0 else "\u2713" if k == 1 else str(k)) for k in cov.supervised[c.id]]
        test = []
        for j, t in enumerate(cov.test):
            tid = int(cov.consumed[c.id, j])
            test.append({"name": model.spaces[t].classes[tid].name if tid >= 0 else "",
                         "catch_all": tid in cov.catch_all.get(t, ())})
        rows.append({"id": c.id, "name": c.name, "href": paths.cls(c.id), "train": train,
                     "n_train": int((cov.supervised[c.id] > 0).sum()), "test": test,
                     "n_test": sum(1 for x in test if x["name"] and not x["catch_all"])})
    tests = []
    for t in cov.test:
        named, used = shares[t]
        cas = ", ".join(model.spaces[t].classes[i].name for i in cov.catch_all.get(t, ())) or "none"
        tests.append({"name": t, "href": paths.ds(t), "classes": len(model.spaces[t].real_classes), "used": used,
                      "used_pct": _pct(used, n), "named": named, "named_pct": _pct(named, n), "catch_all": cas})
    back = analysis.back_maps(model)
    trains = []
    for j, d in enumerate(cov.train):
        k = int((cov.supervised[:, j] > 0).sum())
        bm = back[d]
        how = "lossless" if bm.lossless else (f"lossy: {len(bm.merged)} merge(s), {len(bm.dropped)} dropped")
        trains.append({"name": d, "href": paths.ds(d), "classes": len(model.spaces[d].real_classes),
                       "supervised": k, "supervised_pct": _pct(k, n), "back_map": how})
    sup = int((cov.supervised.sum(axis=1) > 0).sum())
    swallowed = int(((cov.consumed >= 0).any(axis=1) & ~evaluated).sum())
    summary = (f"{n} universal classes: {sup} supervised by at least one of {len(cov.train)} train datasets; "
               f"{int(evaluated.sum())} evaluated as a class of their own by at least one of {len(cov.test)} test "
               f"datasets, {swallowed} only swallowed by a catch-all class.")
    routes = []
    paths_ = analysis.composition(model)
    for p in paths_:
        src, tspace = model.spaces[p.dataset], model.spaces[p.test]
        routes.append({
            "dataset": p.dataset, "cls": src.classes[p.cls].name, "test": p.test,
            "universal": uni.classes[p.universal].name if p.universal is not None else "(ignored)",
            "arrives": tspace.classes[p.arrives].name if p.arrives is not None else "(ignored)",
            "expected": tspace.classes[p.expected].name if p.expected is not None else "(no such class)",
            "verdict": "ok" if p.ok else "NOT THE IDENTITY",
        })
    pairs = analysis.same_label_set_pairs(model)
    bad = sum(not p.ok for p in paths_)
    composition_summary = (f"{len(pairs)} pair(s), {len(paths_)} class routes, {bad} not the identity "
                           "(`unitax check` warns on each).")
    return {"summary": summary, "tests": tests, "trains": trains, "rows": rows, "train": list(cov.train),
            "test": list(cov.test), "catch_all_pct": f"{analysis.CATCH_ALL_SHARE:.0%}", "routes": routes,
            "same_pct": f"{analysis.SAME_LABEL_SET:.0%}", "composition_summary": composition_summary}


# ----- the picture -------------------------------------------------------------------------------

CELL, ROW_H, LABEL_W, HEAD_H = 12, 11, 170, 165
SUPERVISED, CONSUMED, CATCH_ALL = "#2f6db5", "#2a9d5b", "#b9dfc7"


def svg(model: Model) -> str:
    """The coverage matrix as an SVG: one row per universal class, one column per train dataset
    (blue where it supervises the class) and per test dataset (green where a test class of its
    own consumes it, pale green where only a catch-all does)."""
    cov = analysis.coverage(model)
    uni = model.universal
    cols = [(d, "train") for d in cov.train] + [(t, "test") for t in cov.test]
    gap = CELL  # between the train and the test block
    width = LABEL_W + len(cols) * CELL + gap + 75  # room for the last rotated labels
    height = HEAD_H + len(uni.classes) * ROW_H + 10

    def x_of(j: int) -> int:
        return LABEL_W + j * CELL + (gap if j >= len(cov.train) else 0)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="9">',
           f"<!-- {escape(HEADER)} -->",
           f"<title>Coverage: {len(uni.classes)} universal classes x {len(cov.train)} train and "
           f"{len(cov.test)} test datasets</title>",
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    for j, (name, role) in enumerate(cols):
        x = x_of(j) + CELL // 2 + 3
        out.append(f'<text transform="translate({x},{HEAD_H - 4}) rotate(-65)" '
                   f'fill="{SUPERVISED if role == "train" else CONSUMED}">{escape(name)}</text>')
    for c in uni.classes:
        y = HEAD_H + c.id * ROW_H
        if c.id % 2:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW_H}" fill="#f4f4f4"/>')
        out.append(f'<text x="{LABEL_W - 4}" y="{y + ROW_H - 2}" text-anchor="end">{c.id} {escape(c.name)}</text>')
        for j in range(len(cov.train)):
            if cov.supervised[c.id, j]:
                out.append(f'<rect x="{x_of(j) + 1}" y="{y + 1}" width="{CELL - 2}" height="{ROW_H - 2}" '
                           f'fill="{SUPERVISED}"/>')
        for k, t in enumerate(cov.test):
            tid = int(cov.consumed[c.id, k])
            if tid >= 0:
                fill = CATCH_ALL if tid in cov.catch_all.get(t, ()) else CONSUMED
                out.append(f'<rect x="{x_of(len(cov.train) + k) + 1}" y="{y + 1}" width="{CELL - 2}" '
                           f'height="{ROW_H - 2}" fill="{fill}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render(model: Model) -> dict[str, bytes]:
    """The coverage files as path (relative to the compiled folder) -> bytes."""
    html = environment().get_template("coverage.html").render(header=HEADER, root="", **page_data(model))
    return {"docs/html/coverage.html": html.encode("utf-8"), "docs/coverage.svg": svg(model).encode("utf-8")}
