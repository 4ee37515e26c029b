"""Stage 6b: warnings a person has accepted in the specs, with the reason.

``universal.yaml``, a dataset or a mapping spec may hold ``accept: [{rule, class, reason}]``. A
warning of that file with that rule id, located at that class (``classes[i]`` of that name in
universal.yaml or a dataset; a mapping's ``map.<class>`` or the ``ignore`` entry of that class)
becomes *accepted*: still reported, as ``accepted: <message> (<reason>)``, but ``unitax check
--strict`` does not fail on it (e.g. a new universal class that no train dataset supervises yet:
``{rule: unsupervised-class, class: moped, reason: ...}``). An entry that matches no warning is
itself a warning [accept-stale], so acceptances cannot outlive the finding they excuse; an entry
that matches one is never stale, also when another entry accepted that warning first.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .errors import Problem
from .load import Document, JsonPath, format_path
from .names import quote

ACCEPT_RULES: dict[str, str] = {
    "accept-stale": "an accept entry of a spec matches no warning any more",
}

#: the severity of an accepted warning (``Problem.__str__`` shows it as ``accepted: ...``)
ACCEPTED = "accepted"


def _docs_with_accept(docs: dict[str, Document]) -> list[Document]:
    """The spec documents (spec-relative path -> document, as the compile read them) holding an accept list."""
    return [doc for _, doc in sorted(docs.items()) if isinstance(doc.data, dict)
            and isinstance(doc.data.get("accept"), list)]


def _places(doc: Document, cls: str) -> list[str]:
    """The JSON paths (as shown in Problems) where a warning about ``cls`` sits in ``doc``."""
    d = doc.data
    paths: list[JsonPath] = []
    if doc.rel.startswith("datasets/") or doc.rel == "universal.yaml":
        paths += [("classes", i) for i, c in enumerate(d.get("classes") or [])
                  if isinstance(c, dict) and c.get("name") == cls]
    else:
        paths += [("map", cls), ("stray", cls)]
        paths += [(key, i) for key in ("ignore", "unlisted") for i, n in enumerate(d.get(key) or []) if n == cls]
    return [format_path(p) for p in paths]


def _at(problem: Problem, places: list[str]) -> bool:
    return any(problem.path == p or problem.path.startswith((p + ".", p + "[")) for p in places)


def _of(problem: Problem, rel: str) -> bool:
    """Whether ``problem`` is located in the spec ``rel`` (a spec-relative path: not merely a name that ends
    the same way, as mappings/bdd_to_universal.yaml ends like universal.yaml)."""
    f = Path(problem.file).as_posix()
    return f == rel or f.endswith("/" + rel)


def apply(problems: list[Problem], docs: dict[str, Document], stale: bool = True) -> list[Problem]:
    """``problems`` with each accepted warning turned into an ``accepted`` Problem (reason appended),
    plus an ``accept-stale`` warning for every accept entry that matched no warning (unless
    ``stale`` is False: specs with errors never reach the analysis that finds some warnings).
    ``docs``: the spec documents the compile read (spec-relative path -> document)."""
    accepting = _docs_with_accept(docs)
    if not accepting:
        return problems
    out = list(problems)
    extra = []
    for doc in accepting:
        for i, entry in enumerate(doc.data["accept"]):
            rule, cls, reason = entry.get("rule"), entry.get("class"), entry.get("reason")
            places = _places(doc, cls)
            hit = False
            for j, p in enumerate(out):
                if p.severity in ("warning", ACCEPTED) and p.rule == rule and _of(p, doc.rel) and _at(p, places):
                    hit = True  # an entry that matches is never stale, even where another entry accepted it first
                    if p.severity == "warning":
                        out[j] = replace(p, message=f"{p.message} ({reason})", severity=ACCEPTED)
            if not hit and stale:
                extra.append(Problem(doc.file, doc.line(("accept", i)), format_path(("accept", i)), "accept-stale",
                                     f"accepts [{rule}] for {quote(str(cls))}, but no such warning is reported: "
                                     f"delete this entry", "warning"))
    return sorted(set(out + extra))
