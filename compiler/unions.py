"""Union mappings against relabel records: the check behind ``instead_of``.

A union mapping (``kind: union``) that declares ``instead_of: {relabeled: R, via: B}`` replaces
the relabel records of R: its source has B's class list, ``mappings/B_to_R.yaml`` says which class
of R each source class was, and every record of relabel/R.yaml moving segments of that class to a
universal class T (not 'unlabeled') says a pixel of the source class may be T. So T must lie in
the source class's union; otherwise training on the union would push such pixels away from T.
Reported once per record group (a ``from`` class and the source classes mapped to it), as an
error: the union would contradict segments MSeg checked by hand.
"""

from __future__ import annotations

from collections import defaultdict

from .errors import Problem
from .model import Model
from .names import quote
from .relabel import DatasetRelabel


def check(model: Model, relabels: list[DatasetRelabel]) -> list[Problem]:
    """Problems for every union mapping whose sets miss a relabel record's target (rule union-relabel)."""
    out: list[Problem] = []
    u = model.universal
    maps = {(m.source, m.target): m for m in model.mappings}
    records = {r.dataset: r.records for r in relabels}
    for m in model.mappings:
        if m.form != "union" or m.instead_of is None:
            continue
        relabeled, via = m.instead_of
        file, lines, inst_line = m.origin or ("mappings/" + m.key + ".yaml", (), 0)
        line_of = dict(lines)
        src = model.spaces[m.source]
        if relabeled not in model.spaces or via not in model.spaces or (via, relabeled) not in maps:
            out.append(Problem(file, inst_line, "$.instead_of", "union-relabel",
                               f"instead_of needs declared datasets {quote(relabeled)} and {quote(via)} and "
                               f"mappings/{via}_to_{relabeled}.yaml"))
            continue
        if model.spaces[via].names != src.names:
            out.append(Problem(file, inst_line, "$.instead_of.via", "union-relabel",
                               f"{m.source} does not have the class list of {via} (same ids and names), "
                               "so the relabel records cannot be matched to its classes"))
            continue
        if relabeled not in records:
            out.append(Problem(file, inst_line, "$.instead_of.relabeled", "union-relabel",
                               f"there are no relabel records relabel/{relabeled}.yaml to check the unions against"))
            continue
        rel = model.spaces[relabeled]
        was: dict[str, list[int]] = defaultdict(list)  # class of relabeled -> source ids that were it
        for s, t in maps[(via, relabeled)].pairs:
            was[rel.classes[t].name].append(s)
        sets = {s: {u.classes[t].name for t in ts} for s, ts in m.class_sets}
        groups: dict[str, set[str]] = defaultdict(set)
        for r in records[relabeled]:
            if r.dst != u.ignore_name:
                groups[r.src].add(r.dst)
        for frm, targets in sorted(groups.items()):
            for s in was.get(frm, []):
                if s not in sets:  # ignored on the way in: its pixels never train
                    continue
                missing = sorted(targets - sets[s])
                if missing:
                    name = src.classes[s].name
                    out.append(Problem(file, line_of.get(name, 0), f"$.map.{name}", "union-relabel",
                                       f"{quote(name)} (was {frm} in {relabeled}): the relabel records of {frm} move "
                                       f"segments to {', '.join(missing)}, outside its union; add them to its set"))
    return out
