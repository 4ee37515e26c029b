"""`unitax compare A B`: how the universal classes of two compiled taxonomies relate, and the
translation tables between their universal spaces.

Two taxonomies can only be compared through what they share: the **label spaces** both compile
under one name (``ade20k-150``, ``cityscapes-34``, ...). A shared space counts only where its class
names and ids (and ignore id) are the same in both (:func:`shared_spaces` refuses the others, each
with the first difference), and only where both taxonomies lead its classes into universal: its
own mapping to universal (one-to-one or ``kind: union``), or compiled remaps to a space that has
one (:func:`space_sets`). A space that only a mapping *from* universal reaches (a test dataset) is
not compared: it feeds no universal class, and one coarse test class (VOC's ``background``)
would blur every class it covers.

Two taxonomies also meet through **corresponding** spaces: a space of one whose spec declares it the
same as a space of the other under another name (``same_classes_as``: UT's ``ut-ade20k-151`` is
``ade20k-151`` by id, its own ``ignore`` class unpaired; compiler/correspond.py). The declaration is
checked again against the other build (a correspondence that does not hold is refused and named, as
a shared name whose classes differ), and each pair of classes it makes is one shared dataset class;
the report says which spaces were compared so (``ade20k-151 ≡ ut-ade20k-151 by id``).

Each class ``x`` of a compared space says which universal classes its pixels may be: ``S_A(x)``
in A, ``S_B(x)`` in B (one class for a one-to-one mapping, a set for a union, none where ignored).
For a universal class ``u`` of A, the shared dataset classes that *may* feed it are
``U(u) = {x : u in S_A(x)}``; those that *certainly* lie in it, ``L(u) = {x : S_A(x) = {u}}``
(equal for one-to-one mappings; a union class feeds each of its set only perhaps). A class ``a``
of A and ``b`` of B are *partners* when some shared class may feed both; ``a`` lies within ``b``
when ``U_A(a)`` is inside ``L_B(b)`` (every pixel ``a`` may hold is certainly ``b``). Then, for ``a``
with partners ``P``:

- **equal**: one partner ``b``, each within the other (the same dataset classes feed both, wholly);
- **merged**: one partner ``b`` and ``a`` lies within it, not the reverse (``b`` also holds
  dataset classes that feed other A classes, or that A ignores);
- **split**: every partner lies within ``a``, and they are not one equal class (``a`` is made of
  several B classes, or of one and dataset classes B ignores);
- **overlapping**: partners, none of the above (a partner also holds dataset classes outside ``a``,
  and ``a`` holds more than it);
- **absent**: no partner: no shared space feeds ``a`` (*unseen*), or B ignores every shared
  dataset class that does.

A dataset class that both taxonomies make a union says nothing of which part is which, and would
make every class of one union a partner of every class of the other; where both make it the same
union of classes that the other dataset classes show to be equal pairs, it counts as agreeing
(:func:`agree_unions`), so a build compared with itself is equal class for class.

The relations follow from the two ``(n_shared_classes, n_universal)`` matrices alone
(:func:`relate`), which is what the property tests drive. From them, the translation tables
(:mod:`unitax.translate`): ``ids`` for equal and merged classes (a label translates exactly),
``sets`` adds the parts of split ones (a label becomes a union), the rest are listed with why.

The report: a text a person reads, JSON (``--json``) and an HTML page (``--html FILE``, spec text
escaped by jinja2's autoescape), all deterministic; ``-o DIR`` writes the page, both reports and
the tables as one set (atomic), and replaces only what an earlier ``unitax compare`` wrote.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import unitax
from unitax import translate
from unitax.taxonomy import UNIVERSAL

from ...compiler import correspond
from ...fileops import jsonio
from ...fileops.atomic import write_atomic, write_set_atomic
from ..errors import ToolError

#: the relations, in the order the reports list them
RELATIONS = ("equal", "split", "merged", "overlapping", "absent")
#: in the first line of every page `unitax compare` writes (how it knows a page is its own)
MARK = "Written by `unitax compare`"
#: how many dataset classes a line of the text report names before "..."
SHOWN = 4


class CompareError(ToolError):
    """A comparison that cannot run as asked: a taxonomy that does not load, an output that is not ours."""


# ----- the two taxonomies ---------------------------------------------------------------------


def open_taxonomy(arg: str) -> tuple[str, unitax.Taxonomy]:
    """(the name the reports give it, the loaded taxonomy) for a command-line argument: a build folder
    (`unitax compile --out`) where one exists at that path, else a taxonomy name the runtime knows
    (``unitax.load(name)``: ``mseg`` for the bundled build, and those a registry of builds adds).

    A folder is named by its last component, a name by itself."""
    p = Path(arg)
    if p.is_dir():
        return (p.resolve().name or arg), unitax.load(p)
    try:
        return arg, unitax.load(arg)
    except (unitax.UnitaxError, OSError) as first:
        if arg == "mseg":  # a runtime without names: the bundled build is MSeg's
            return arg, unitax.load()
        raise CompareError(f"{arg!r} is neither a build folder nor a taxonomy this unitax knows by name "
                           f"({first})") from None


# ----- shared label spaces --------------------------------------------------------------------


def space_sets(tax: unitax.Taxonomy, space: str) -> tuple[np.ndarray, str] | None:
    """``(sets, how)``: a (n_space_classes, n_universal) bool matrix, the universal classes each class of
    ``space`` may be, and how ``tax`` leads it there (``"mapping"`` or ``"via X, ..."``); None where
    no compiled mapping to universal reaches it (a test or source space only remapped elsewhere).

    A space without its own mapping follows compiled remaps to the nearest space that has one
    (breadth first, ties to the alphabetically first), each class taking the set of its image."""
    tables = tax._c.taxonomy["tables"]
    if f"class_sets/{space}" in tables:
        return np.asarray(tax.class_sets(space), dtype=np.bool_), "mapping"
    remaps: dict[str, list[str]] = {}
    for src, dst in tax.remaps:
        remaps.setdefault(src, []).append(dst)
    prev = {space: ""}
    queue = deque([space])
    while queue:
        cur = queue.popleft()
        for nxt in sorted(remaps.get(cur, [])):
            if nxt in prev:
                continue
            prev[nxt] = cur
            if f"class_sets/{nxt}" in tables:
                path = [nxt]
                while path[-1] != space:
                    path.append(prev[path[-1]])
                path.reverse()
                lut = tax.chain_lut(path)
                n = len(tax.names(space))
                sets = np.asarray(tax.class_sets(nxt), dtype=np.bool_)
                ids = lut[:n].astype(np.int64)
                ok = ids < sets.shape[0]
                out = np.zeros((n, sets.shape[1]), dtype=np.bool_)
                out[ok] = sets[ids[ok]]
                return out, "via " + ", ".join(path[1:])
            queue.append(nxt)
    return None


@dataclass(frozen=True)
class Shared:
    """The label spaces of A and B by name: compared (with the matrices), refused, not compared; and the
    corresponding spaces (a ``same_classes_as`` of one side naming a space of the other) compared."""

    compared: tuple[tuple[str, int, str, str], ...]  # (space, classes, how A reaches universal, how B)
    refused: tuple[tuple[str, str], ...]             # (space, or "x ≡ y" for a correspondence; why)
    skipped: tuple[tuple[str, str], ...]             # (space, or "x ≡ y"; why it is not compared)
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    feeders: tuple[str, ...]                         # "space:class" (A's) per row of rows_a / rows_b
    rows_a: np.ndarray                               # (n rows, n universal A) bool
    rows_b: np.ndarray
    #: (A's space, B's space, by "id" or "name", classes paired, how A reaches universal, how B)
    corresponding: tuple[tuple[str, str, str, int, str, str], ...] = ()

    def spaces_text(self) -> list[str]:
        """How each compared space was compared: ``cityscapes-34 (34)``, ``ut-ade20k-151 ≡ ade20k-151 by id (151)``."""
        return ([f"{s} ({n})" for s, n, _, _ in self.compared]
                + [f"{x} \u2261 {y} by {by} ({n})" for x, y, by, n, _, _ in self.corresponding])


def _difference(tax_a: unitax.Taxonomy, tax_b: unitax.Taxonomy, space: str, a: str, b: str) -> str | None:
    na, nb = tax_a.names(space), tax_b.names(space)
    if len(na) != len(nb):
        return f"{len(na)} classes in {a}, {len(nb)} in {b}"
    for i, (x, y) in enumerate(zip(na, nb, strict=True)):
        if x != y:
            return f"class {i} is {x!r} in {a}, {y!r} in {b}"
    ia, ib = tax_a.ignore_index(space), tax_b.ignore_index(space)
    if ia != ib:
        return f"ignore id {ia} in {a}, {ib} in {b}"
    return None


def shared_spaces(a: str, tax_a: unitax.Taxonomy, b: str, tax_b: unitax.Taxonomy) -> Shared:
    """The label spaces A and B share by name, checked to be the same space and led into universal by both."""
    da, db = set(tax_a.datasets), set(tax_b.datasets)
    compared, refused, skipped = [], [], []
    feeders: list[str] = []
    rows_a: list[np.ndarray] = [np.zeros((0, len(tax_a.universal_names)), dtype=np.bool_)]
    rows_b: list[np.ndarray] = [np.zeros((0, len(tax_b.universal_names)), dtype=np.bool_)]
    for space in sorted(da & db):
        diff = _difference(tax_a, tax_b, space, a, b)
        if diff is not None:
            refused.append((space, diff))
            continue
        sa, sb = space_sets(tax_a, space), space_sets(tax_b, space)
        if sa is None or sb is None:
            why = {n: ("a test space (universal maps into it)" if f"matrix/{space}" in t._c.taxonomy["tables"]
                       else "no mapping to universal reaches it")
                   for n, t, s in ((a, tax_a, sa), (b, tax_b, sb)) if s is None}
            whys = set(why.values())
            skipped.append((space, f"{whys.pop()} in both" if len(why) == 2 and len(whys) == 1
                            else "; ".join(f"{w} in {n}" for n, w in why.items())))
            continue
        compared.append((space, len(tax_a.names(space)), sa[1], sb[1]))
        feeders.extend(f"{space}:{n}" for n in tax_a.names(space))
        rows_a.append(sa[0])
        rows_b.append(sb[0])
    corresponding: list[tuple[str, str, str, int, str, str]] = []
    used_a, used_b = set(), set()
    for x, tax_x, y, tax_y, x_is_a in ((a, tax_a, b, tax_b, True), (b, tax_b, a, tax_a, False)):
        for space in sorted(tax_x.datasets):
            decl = tax_x.same_classes_as(space)
            if decl is None or decl[0] not in tax_y.datasets or space in tax_y.datasets:
                continue  # none; a space the other side does not have; or the same name in both (compared above)
            other = decl[0]
            sa_name, sb_name = (space, other) if x_is_a else (other, space)
            if any(c[:2] == (sa_name, sb_name) for c in corresponding):
                continue  # both sides declare it: compared once
            label = f"{sa_name} \u2261 {sb_name}"
            used_a.add(sa_name)
            used_b.add(sb_name)
            if other in tax_x.datasets:
                skipped.append((label, f"{other} is a label space of both, compared as such"))
                continue
            pairs, problems = correspond.pair(space, list(tax_x.names(space)), correspond.SameClasses(*decl),
                                              list(tax_y.names(other)))
            if problems:
                refused.append((label, f"{x} declares {space} the same as {y}'s {other} by {decl[1]}, which does "
                                       f"not hold: {problems[0][1]}"))
                continue
            sx, sy = space_sets(tax_x, space), space_sets(tax_y, other)
            if sx is None or sy is None:
                why = {n: ("a test space (universal maps into it)" if f"matrix/{sp}" in t._c.taxonomy["tables"]
                           else "no mapping to universal reaches it")
                       for n, t, sp, st in ((x, tax_x, space, sx), (y, tax_y, other, sy)) if st is None}
                skipped.append((label, "; ".join(f"{w} in {n}" for n, w in why.items())))
                continue
            ids_x = np.array([i for i, _ in pairs], dtype=np.int64)
            ids_y = np.array([j for _, j in pairs], dtype=np.int64)
            ra, rb = (sx[0][ids_x], sy[0][ids_y]) if x_is_a else (sy[0][ids_y], sx[0][ids_x])
            names_a = tax_a.names(sa_name)
            feeders.extend(f"{sa_name}:{names_a[i]}" for i in (ids_x if x_is_a else ids_y))
            rows_a.append(ra)
            rows_b.append(rb)
            corresponding.append((sa_name, sb_name, decl[1], len(pairs),
                                  sx[1] if x_is_a else sy[1], sy[1] if x_is_a else sx[1]))
    return Shared(tuple(compared), tuple(refused), tuple(skipped), tuple(sorted(da - db - used_a)),
                  tuple(sorted(db - da - used_b)), tuple(feeders), np.concatenate(rows_a), np.concatenate(rows_b),
                  tuple(corresponding))


# ----- relations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """How one universal class of one side relates to the other side's classes."""

    id: int
    name: str
    relation: str                 # one of RELATIONS
    partners: tuple[int, ...]     # the other side's classes it shares a dataset class with (ids, sorted)
    note: str                     # what the relation's line adds (what the partner also holds, what is ignored)
    feeders: tuple[str, ...]      # the shared dataset classes that may feed it ("space:class")


def _within(rows_x: np.ndarray, rows_y: np.ndarray) -> np.ndarray:
    """(n_x, n_y) bool: every dataset class that may feed x certainly feeds y (vacuous where none feeds x)."""
    certain_y = rows_y & (rows_y.sum(axis=1) == 1)[:, None]
    outside = rows_x.T.astype(np.int64) @ (~certain_y).astype(np.int64)
    within: np.ndarray = outside == 0
    return within


def _listed(items: Sequence[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _equal_pairs(rows_x: np.ndarray, rows_y: np.ndarray) -> dict[int, int]:
    """x class -> y class for every pair that is equal (one partner each, each within the other)."""
    partners = (rows_x.T.astype(np.int64) @ rows_y.astype(np.int64)) > 0
    x_in_y, y_in_x = _within(rows_x, rows_y), _within(rows_y, rows_x)
    out = {}
    for a in range(rows_x.shape[1]):
        p = np.flatnonzero(partners[a])
        if p.size == 1 and partners[:, p[0]].sum() == 1 and x_in_y[a, p[0]] and y_in_x[p[0], a]:
            out[a] = int(p[0])
    return out


def agree_unions(rows_x: np.ndarray, rows_y: np.ndarray,
                 feeders: Sequence[str]) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], int, int]:
    """Resolve the dataset classes that are unions on both sides where the two unions agree.

    A dataset class that both taxonomies make a union of several classes says nothing of which part
    of it is which class, so as it stands it makes every class of one union a partner of every class
    of the other. Where the classes of the two unions are equal pairs by the other dataset classes
    (those that are not unions on both sides), one to one, the two taxonomies make it the same union:
    it then counts as one dataset class per pair, each wholly in both classes of its pair.

    Returns the rows (agreeing unions replaced), their feeders (a union's name once per pair),
    the number of dataset classes that are unions on both sides, and how many of them agree.
    """
    rows_x, rows_y = np.asarray(rows_x, dtype=np.bool_), np.asarray(rows_y, dtype=np.bool_)
    both = (rows_x.sum(axis=1) > 1) & (rows_y.sum(axis=1) > 1)
    if not both.any():
        return rows_x, rows_y, tuple(feeders), 0, 0
    equal = _equal_pairs(rows_x[~both], rows_y[~both])
    out_x: list[np.ndarray] = []
    out_y: list[np.ndarray] = []
    names: list[str] = []
    agreed = 0
    for i in range(rows_x.shape[0]):
        sx, sy = np.flatnonzero(rows_x[i]), np.flatnonzero(rows_y[i])
        if both[i] and all(int(a) in equal for a in sx) and sorted(equal[int(a)] for a in sx) == sy.tolist():
            agreed += 1
            for a in sx:
                vx = np.zeros(rows_x.shape[1], dtype=np.bool_)
                vy = np.zeros(rows_y.shape[1], dtype=np.bool_)
                vx[a], vy[equal[int(a)]] = True, True
                out_x.append(vx)
                out_y.append(vy)
                names.append(feeders[i])
        else:
            out_x.append(rows_x[i])
            out_y.append(rows_y[i])
            names.append(feeders[i])
    return np.array(out_x), np.array(out_y), tuple(names), int(both.sum()), agreed


def relate(names_x: Sequence[str], names_y: Sequence[str], rows_x: np.ndarray, rows_y: np.ndarray,
           feeders: Sequence[str], this: str, other: str) -> tuple[Relation, ...]:
    """The relation of every class of X to Y's classes, from the shared dataset classes' sets.

    Args:
        names_x, names_y: the universal class names of X and Y, in id order.
        rows_x, rows_y: (n_shared_classes, n_x) and (n_shared_classes, n_y) bool: the classes of X
            (of Y) each shared dataset class may be.
        feeders: the shared dataset classes' names, one per row.
        this, other: X's and Y's names, for the notes.
    """
    rows_x, rows_y = np.asarray(rows_x, dtype=np.bool_), np.asarray(rows_y, dtype=np.bool_)
    partners = (rows_x.T.astype(np.int64) @ rows_y.astype(np.int64)) > 0
    x_in_y, y_in_x = _within(rows_x, rows_y), _within(rows_y, rows_x)
    certain_x = rows_x & (rows_x.sum(axis=1) == 1)[:, None]
    fed_y = np.asarray(rows_y.any(axis=1), dtype=np.bool_)
    out = []
    for a, name in enumerate(names_x):
        mine = [int(i) for i in np.flatnonzero(rows_x[:, a])]
        feeds = tuple(feeders[i] for i in mine)
        p = tuple(int(b) for b in np.flatnonzero(partners[a]))
        lost = [feeders[i] for i in mine if not fed_y[i]]
        ignored = f"; {other} ignores {_listed(lost)}" if lost else ""
        if not p:
            rel = "absent"
            note = (f"{other} ignores every shared dataset class that feeds it ({_listed(lost)})" if feeds
                    else "no shared label space feeds it")
        elif len(p) == 1 and x_in_y[a, p[0]] and y_in_x[p[0], a]:
            rel, note = "equal", ""
        elif len(p) == 1 and x_in_y[a, p[0]]:
            rel = "merged"
            with_ = [names_x[c] if x_in_y[c, p[0]] else f"part of {names_x[c]}"
                     for c in (int(c) for c in np.flatnonzero(partners[:, p[0]])) if c != a]
            extra = [feeders[int(i)] for i in np.flatnonzero(rows_y[:, p[0]] & ~rows_x.any(axis=1))]
            note = "; ".join(([f"with {_listed(with_)}"] if with_ else [])
                             + ([f"and {_listed(extra)}, which {this} ignores"] if extra else []))
        elif all(y_in_x[b, a] for b in p):
            rel, note = "split", ignored.removeprefix("; ")
        else:
            rel = "overlapping"
            wider = []
            for b in p:
                if not y_in_x[b, a]:
                    beyond = [feeders[int(i)] for i in np.flatnonzero(rows_y[:, b] & ~certain_x[:, a])]
                    wider.append(f"{names_y[b]} also holds {_listed(beyond)}")
            note = "; ".join(wider) + ignored
        out.append(Relation(a, name, rel, p, note, feeds))
    return tuple(out)


def counts(relations: Sequence[Relation]) -> dict[str, int]:
    """Classes per relation, every relation listed (0 included), in :data:`RELATIONS` order."""
    c = dict.fromkeys(RELATIONS, 0)
    for r in relations:
        c[r.relation] += 1
    return c


# ----- translation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tables:
    """One direction's translation (see :mod:`unitax.translate`): ids, sets, and why the rest do not translate."""

    ids: dict[int, int]
    sets: np.ndarray
    untranslatable: dict[str, str]


def translation(relations: Sequence[Relation], n_target: int, names_target: Sequence[str]) -> Tables:
    """Equal and merged classes translate to their one partner (``ids`` and a set of one), split ones to
    the set of their parts; overlapping and absent ones not at all, each with why."""
    ids: dict[int, int] = {}
    sets = np.zeros((len(relations), n_target), dtype=np.bool_)
    why: dict[str, str] = {}
    for r in relations:
        if r.relation in ("equal", "merged"):
            ids[r.id] = r.partners[0]
            sets[r.id, r.partners[0]] = True
        elif r.relation == "split":
            sets[r.id, list(r.partners)] = True
        elif r.relation == "overlapping":
            why[r.name] = (f"overlapping {', '.join(names_target[b] for b in r.partners)}: {r.note}; "
                           "no set of classes there is exactly it")
        else:
            why[r.name] = f"absent: {r.note}"
    return Tables(ids, sets, why)


# ----- the comparison -------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One taxonomy of a comparison: the name the reports give it and the loaded build."""

    name: str
    tax: unitax.Taxonomy

    @property
    def names(self) -> tuple[str, ...]:
        return self.tax.universal_names


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` found: the shared spaces, each side's relations, the unions both make."""

    a: Side
    b: Side
    shared: Shared
    a_to_b: tuple[Relation, ...]
    b_to_a: tuple[Relation, ...]
    unions_in_both: int = 0   # shared dataset classes that both make a union of several classes
    unions_agreed: int = 0    # ... of them, the same union of equal classes (see agree_unions)

    def tables(self, direction: str) -> Tables:
        """The translation ``"a_to_b"`` or ``"b_to_a"``."""
        if direction == "a_to_b":
            return translation(self.a_to_b, len(self.b.names), self.b.names)
        return translation(self.b_to_a, len(self.a.names), self.a.names)


def compare(a: str, tax_a: unitax.Taxonomy, b: str, tax_b: unitax.Taxonomy) -> Comparison:
    """Compare two loaded taxonomies named ``a`` and ``b`` (the names the reports use; one name twice
    becomes ``a (A)`` and ``a (B)``)."""
    if a == b:
        a, b = f"{a} (A)", f"{b} (B)"
    sh = shared_spaces(a, tax_a, b, tax_b)
    rows_a, rows_b, feeders, both, agreed = agree_unions(sh.rows_a, sh.rows_b, sh.feeders)
    ab = relate(tax_a.universal_names, tax_b.universal_names, rows_a, rows_b, feeders, a, b)
    ba = relate(tax_b.universal_names, tax_a.universal_names, rows_b, rows_a, feeders, b, a)
    return Comparison(Side(a, tax_a), Side(b, tax_b), sh, ab, ba, both, agreed)


def has_problems(c: Comparison) -> bool:
    """A space that shares a name but differs, or a correspondence that does not hold (the command exits 1
    after reporting), or nothing to compare."""
    return bool(c.shared.refused) or not (c.shared.compared or c.shared.corresponding)


# ----- reports --------------------------------------------------------------------------------


_SYMBOL = {"equal": "=", "split": "->", "merged": "->", "overlapping": "~"}


def _partners_text(r: Relation, names: Sequence[str]) -> str:
    ps = [names[b] for b in r.partners]
    return "{" + ", ".join(ps) + "}" if r.relation == "split" and len(ps) > 1 else ", ".join(ps)


def _summary(rels: Sequence[Relation], other: str) -> str:
    c = counts(rels)
    unseen = sum(r.relation == "absent" and not r.feeders for r in rels)
    absent = f"{c['absent']} absent"
    if c["absent"]:
        absent += f" ({unseen} unseen in shared spaces, {c['absent'] - unseen} ignored by {other})"
    return ", ".join([f"{c[k]} {k}" for k in RELATIONS[:-1]] + [absent])


def _translatable(t: Tables, n: int) -> str:
    ones = len(t.ids)
    several = int((t.sets.sum(axis=1) > 1).sum())
    return f"{ones + several} of {n} classes ({ones} to one class, {several} to a set)"


def text_report(c: Comparison) -> str:
    """The report a person reads: the spaces, the counts, then one line per class by relation."""
    a, b, sh = c.a.name, c.b.name, c.shared
    lines = [f"unitax compare: {a} ({len(c.a.names)} universal classes) and {b} ({len(c.b.names)})",
             f"compared through {len(sh.compared)} shared label space(s)"
             + (f" and {len(sh.corresponding)} corresponding one(s)" if sh.corresponding else "")
             + (": " + ", ".join(sh.spaces_text()) if sh.compared or sh.corresponding else "")]
    if sh.refused:
        lines.append(f"refused {len(sh.refused)} (a shared name whose classes differ, or a correspondence that "
                     "does not hold): " + "; ".join(f"{s} ({why})" for s, why in sh.refused))
    if sh.skipped:
        by_why: dict[str, list[str]] = {}
        for s, why in sh.skipped:
            by_why.setdefault(why, []).append(s)
        lines.append(f"not compared {len(sh.skipped)}: " + "; ".join(f"{why}: {', '.join(ss)}"
                                                                  for why, ss in sorted(by_why.items())))
    if c.unions_in_both:
        lines.append(f"{c.unions_in_both} shared dataset class(es) are unions in both; {c.unions_agreed} the same "
                     "union of equal classes (counted as agreeing), the others make their classes partners")
    for who, only in ((a, sh.only_a), (b, sh.only_b)):
        if only:
            lines.append(f"only in {who}: {_listed(list(only))}")
    lines += ["", f"{a} -> {b}: {_summary(c.a_to_b, b)}", f"{b} -> {a}: {_summary(c.b_to_a, a)}",
              f"translatable: {a} -> {b} {_translatable(c.tables('a_to_b'), len(c.a.names))}; "
              f"{b} -> {a} {_translatable(c.tables('b_to_a'), len(c.b.names))}"]
    for rels, x, y, names_y in ((c.a_to_b, a, b, c.b.names), (c.b_to_a, b, a, c.a.names)):
        lines += ["", f"{x} -> {y}"]
        for rel in RELATIONS:
            for r in rels:
                if r.relation != rel:
                    continue
                if rel == "absent":
                    line = f"{r.name}: {r.note}"
                else:
                    line = f"{r.name} {_SYMBOL[rel]} {_partners_text(r, names_y)}" + (f" ({r.note})" if r.note else "")
                lines.append(f"  {rel:<12} {line}")
    return "\n".join(lines) + "\n"


def _relation_json(r: Relation, names_y: Sequence[str]) -> dict[str, Any]:
    return {"id": r.id, "class": r.name, "relation": r.relation, "partners": [names_y[b] for b in r.partners],
            "note": r.note, "feeders": list(r.feeders)}


def json_report(c: Comparison) -> dict[str, Any]:
    """Everything the text says, as data (``--json``, ``report.json``)."""
    sh = c.shared

    def side(s: Side) -> dict[str, Any]:
        return {"name": s.name, "universal_classes": len(s.names), "fingerprint": s.tax.fingerprint}

    def tables(direction: str, n: int) -> dict[str, Any]:
        t = c.tables(direction)
        return {"translatable": n - len(t.untranslatable), "to_one_class": len(t.ids),
                "to_a_set": int((t.sets.sum(axis=1) > 1).sum()), "untranslatable": t.untranslatable}

    return {
        "unitax": "compare",
        "a": side(c.a), "b": side(c.b),
        "spaces": {"compared": [{"space": s, "classes": n, "a": ha, "b": hb} for s, n, ha, hb in sh.compared],
                   "corresponding": [{"a_space": x, "b_space": y, "by": by, "pairs": n, "a": ha, "b": hb}
                                     for x, y, by, n, ha, hb in sh.corresponding],
                   "refused": [{"space": s, "why": w} for s, w in sh.refused],
                   "not_compared": [{"space": s, "why": w} for s, w in sh.skipped],
                   "only_a": list(sh.only_a), "only_b": list(sh.only_b)},
        "unions_in_both": {"classes": c.unions_in_both, "agreeing": c.unions_agreed},
        "counts": {"a_to_b": counts(c.a_to_b), "b_to_a": counts(c.b_to_a)},
        "absent_unseen": {"a_to_b": sum(r.relation == "absent" and not r.feeders for r in c.a_to_b),
                          "b_to_a": sum(r.relation == "absent" and not r.feeders for r in c.b_to_a)},
        "translation": {"a_to_b": tables("a_to_b", len(c.a.names)), "b_to_a": tables("b_to_a", len(c.b.names))},
        "a_to_b": [_relation_json(r, c.b.names) for r in c.a_to_b],
        "b_to_a": [_relation_json(r, c.a.names) for r in c.b_to_a],
    }


def json_text(c: Comparison) -> str:
    return json.dumps(json_report(c), indent=1, ensure_ascii=False) + "\n"


def html_page(c: Comparison) -> str:
    """The HTML page (one file, no script, no network); every name is escaped by jinja2's autoescape."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=True, trim_blocks=True,
        lstrip_blocks=True, auto_reload=False)
    sh = c.shared

    def rows(rels: Sequence[Relation], names_y: Sequence[str]) -> list[dict[str, str]]:
        order = {k: i for i, k in enumerate(RELATIONS)}
        return [{"relation": r.relation, "name": r.name, "partners": ", ".join(names_y[b] for b in r.partners),
                 "note": r.note, "feeders": _listed(list(r.feeders)) if r.feeders else "none"}
                for r in sorted(rels, key=lambda r: (order[r.relation], r.id))]

    directions = [{"x": c.a.name, "y": c.b.name, "counts": counts(c.a_to_b), "rows": rows(c.a_to_b, c.b.names),
                   "anchor": "a-to-b"},
                  {"x": c.b.name, "y": c.a.name, "counts": counts(c.b_to_a), "rows": rows(c.b_to_a, c.a.names),
                   "anchor": "b-to-a"}]
    return env.get_template("compare.html").render(
        mark=MARK, a=c.a.name, b=c.b.name, n_a=len(c.a.names), n_b=len(c.b.names), relations=RELATIONS,
        compared=[{"space": s, "classes": n, "how_a": ha, "how_b": hb} for s, n, ha, hb in sh.compared]
        + [{"space": f"{x} \u2261 {y} (by {by})", "classes": n, "how_a": ha, "how_b": hb}
           for x, y, by, n, ha, hb in sh.corresponding],
        refused=[{"space": s, "why": w} for s, w in sh.refused],
        skipped=[{"space": s, "why": w} for s, w in sh.skipped],
        directions=directions,
        unions=(f"{c.unions_in_both} shared dataset class(es) are unions in both; {c.unions_agreed} the same union "
                "of equal classes (counted as agreeing), the others make their classes partners")
        if c.unions_in_both else "",
        translatable=[f"{c.a.name} \u2192 {c.b.name}: {_translatable(c.tables('a_to_b'), len(c.a.names))}",
                      f"{c.b.name} \u2192 {c.a.name}: {_translatable(c.tables('b_to_a'), len(c.b.names))}"],
        untranslatable=[{"x": c.a.name, "y": c.b.name, "items": sorted(c.tables("a_to_b").untranslatable.items())},
                        {"x": c.b.name, "y": c.a.name, "items": sorted(c.tables("b_to_a").untranslatable.items())}])


# ----- writing --------------------------------------------------------------------------------


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def translation_files(c: Comparison) -> dict[str, bytes]:
    """The files of a translation folder (:mod:`unitax.translate`): ``translation.json`` and the tables."""
    files: dict[str, bytes] = {}
    directions: dict[str, Any] = {}
    for direction, src, tgt in (("a_to_b", c.a, c.b), ("b_to_a", c.b, c.a)):
        t = c.tables(direction)
        ign_s, ign_t = src.tax.ignore_index(UNIVERSAL), tgt.tax.ignore_index(UNIVERSAL)
        arrays = {"ids": translate.ids_table(t.ids, len(src.names), ign_s, ign_t), "sets": t.sets}
        entry: dict[str, Any] = {"untranslatable": t.untranslatable}
        for part, rel in translate.table_files(direction).items():
            data = _npy(arrays[part])
            files[rel] = data
            entry[part] = {"file": rel, "dtype": str(arrays[part].dtype), "shape": list(arrays[part].shape),
                           "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        directions[direction] = entry

    def side(s: Side) -> dict[str, Any]:
        return {"name": s.name, "names": list(s.names), "ignore": s.tax.ignore_index(UNIVERSAL),
                "fingerprint": s.tax.fingerprint}

    index = {"unitax": "compare", "format": translate.TRANSLATION_FORMAT, "a": side(c.a), "b": side(c.b),
             "directions": directions}
    files[translate.INDEX] = (json.dumps(index, indent=1, ensure_ascii=False) + "\n").encode()
    return files


def folder_files(c: Comparison) -> dict[str, bytes]:
    """Everything ``-o DIR`` writes: the translation tables, ``report.txt``, ``report.json`` and ``index.html``."""
    files = translation_files(c)
    files["report.txt"] = text_report(c).encode()
    files["report.json"] = json_text(c).encode()
    files["index.html"] = html_page(c).encode()
    return files


def _page_is_ours(path: Path) -> bool:
    """Whether ``path`` holds a page an earlier `unitax compare` wrote (:data:`MARK` in its first lines)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return MARK.encode() in head


def _folder_is_ours(folder: Path) -> bool:
    """Whether ``folder`` holds a translation index an earlier `unitax compare -o` wrote."""
    try:
        doc = jsonio.loads((folder / translate.INDEX).read_bytes(), max_bytes=translate.INDEX_LIMIT)
    except (ValueError, OSError):
        return False
    return isinstance(doc, dict) and doc.get("unitax") == "compare"


def write_folder(folder: Path, c: Comparison) -> int:
    """Write :func:`folder_files` into ``folder`` as one set; returns the number of files.

    ``folder`` must be absent, empty, or one an earlier ``unitax compare -o`` wrote (its
    ``translation.json`` says so); anything else is refused untouched."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise CompareError(f"{folder}: exists and is not a folder; not replaced")
    if folder.is_dir() and any(folder.iterdir()) and not _folder_is_ours(folder):
        raise CompareError(f"{folder}: a folder `unitax compare` did not write (no {translate.INDEX} of its own); "
                           "choose an empty or new folder")
    files = folder_files(c)
    write_set_atomic(folder, files)
    return len(files)


def write_page(path: Path, c: Comparison) -> None:
    """Write the HTML page to ``path``; an existing file is replaced only if `unitax compare` wrote it."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise CompareError(f"{path}: exists and is not a plain file; not replaced")
    if path.exists() and not _page_is_ours(path):
        raise CompareError(f"{path}: exists and was not written by `unitax compare`; not replaced")
    if not path.parent.is_dir():
        raise CompareError(f"{path.parent}: no such folder")
    write_atomic(path, html_page(c).encode(), mode=0o644)

