"""``unitax examples``, phase 2: which samples show what, from the scan's part files (pure, deterministic).

Candidates are ranked by a tier, then by the sha256 of the space, the sample's path in its tree and
the class: tier 0 is a region not cut by the image border that covers 1-40 % of the image, 1 one
not cut of another size, 2 a cut one of medium size, 3 the rest. Picks of one group come from
distinct samples while there are enough. The same parts give the same picks on any machine.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .scan import Sample, Shown

MEDIUM = (0.01, 0.40)


@dataclass(frozen=True)
class Pick:
    """One picture to draw: its kind and group, the label space drawn, the sample, the class(es) and box."""

    kind: str          # class | relabel | union | dataset
    group: str         # universal id, 'space:before:after', 'union:class id' or the space
    space: str         # the label space whose label is drawn
    sample: Sample
    cid: int           # the dataset class (relabel: the class before); -1 for a dataset overlay
    cid2: int          # relabel: the class after; else -1
    box: tuple[int, int, int, int]
    rank: int
    file: str          # relative to the examples folder
    origin: int = -1   # a class pick of a relabeled space: the base space's class it comes from

    @property
    def task(self) -> str:
        """The render task that draws it: one per universal class, relabeled space, union dataset, dataset."""
        if self.kind == "class":
            return f"class/{int(self.group):03d}"
        if self.kind == "relabel":
            return f"relabel/{self.group.split(':')[0]}"
        if self.kind == "union":
            return f"union/{self.group.split(':')[0]}"
        return f"dataset/{self.group}"


def tier(r: list[int], h: int, w: int, n_index: int = 1) -> int:
    """0 best: a region not cut by the border, of medium size (see the module doc)."""
    n, cut = r[n_index], r[n_index + 5]
    frac = n / max(1, h * w)
    medium = MEDIUM[0] <= frac <= MEDIUM[1]
    return (0 if medium else 1) if not cut else (2 if medium else 3)


def _hash(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()


def _take(cands: list[tuple[int, str, Sample, list[int]]], k: int) -> list[tuple[Sample, list[int]]]:
    """The best ``k`` (tier, hash) candidates, distinct samples first."""
    cands.sort(key=lambda c: (c[0], c[1]))
    out: list[tuple[Sample, list[int]]] = []
    seen: set[Sample] = set()
    for _, _, s, r in cands:
        if len(out) < k and s not in seen:
            out.append((s, r))
            seen.add(s)
    for _, _, s, r in cands:
        if len(out) >= k:
            break
        if not any(s is o and r is q for o, q in out):
            out.append((s, r))
    return out


Cand = tuple[int, str, Sample, list[int]]


class Best:
    """The candidates of one group that :func:`_take` would choose from, in bounded memory: the ``k`` best
    samples, each by its best candidate, and, while fewer than ``k`` samples were seen, every candidate."""

    def __init__(self, k: int):
        self.k, self.samples = k, 0
        self.top: list[Cand] = []
        self.every: list[Cand] | None = []

    def add(self, cands: list[Cand]) -> None:
        """All candidates of one sample."""
        self.samples += 1
        self.top.append(min(cands, key=lambda c: (c[0], c[1])))
        self.top.sort(key=lambda c: (c[0], c[1]))
        del self.top[self.k:]
        if self.every is not None:
            self.every += cands
            if self.samples >= self.k:
                self.every = None   # k distinct samples: _take never fills from the rest

    def take(self) -> list[tuple[Sample, list[int]]]:
        if self.every is not None:
            return _take(self.every, self.k)
        return [(s, r) for _, _, s, r in self.top]


def picks(tax: Any, shown: list[Shown], rows: Any, tree_names: list[str], k: int) -> list[Pick]:
    """Every pick, in a fixed order: per shown space (by name) its classes, relabel moves, unions, overlays.

    ``rows(space)`` yields (sample, scan row) of a shown space, one sample at a time (memory stays
    bounded by the groups, not the samples)."""
    out: list[Pick] = []
    for sh in shown:
        lut = np.asarray(tax.lut(sh.space))
        ignore_u = tax.ignore_index("universal")
        by_u: dict[int, Best] = defaultdict(lambda: Best(k))
        by_move: dict[tuple[int, int], Best] = defaultdict(lambda: Best(k))
        by_union: dict[tuple[str, int], Best] = defaultdict(lambda: Best(k))
        sets = {u: np.asarray(tax.class_sets(u)) for u in sh.unions}
        multi = {u: {int(i) for i in np.flatnonzero(cs.sum(1) > 1)} for u, cs in sets.items()}
        overlay: list[tuple[str, Sample]] = []
        for s, row in rows(sh.space):
            if not row:
                continue
            path = f"{tree_names[s.tree]}/{s.label}"
            h, w = row["h"], row["w"]
            overlay.append((_hash(sh.space, path), s))
            overlay.sort(key=lambda x: x[0])
            del overlay[k:]
            here: dict[Any, list[Cand]] = defaultdict(list)
            for r in row["classes"]:
                u = int(lut[r[0]])
                if u != ignore_u:
                    here[("u", u)].append((tier(r, h, w), _hash(sh.space, path, r[0]), s, r))
            for m in row.get("moves", ()):
                here[("m", m[0], m[1])].append((tier(m, h, w, 2), _hash(sh.space, path, m[0], m[1]), s, m))
            for r in row.get("base", row["classes"]) if sh.unions else ():
                for un in sets:
                    if r[0] in multi[un]:
                        here[("n", un, r[0])].append((tier(r, h, w), _hash(un, path, r[0]), s, r))
            for key, cands in here.items():
                if key[0] == "u":
                    by_u[key[1]].add(cands)
                elif key[0] == "m":
                    by_move[(key[1], key[2])].add(cands)
                else:
                    by_union[(key[1], key[2])].add(cands)
        src = sh.base or sh.space
        for u in sorted(by_u):
            for i, (s, r) in enumerate(by_u[u].take()):
                out.append(Pick("class", str(u), sh.space, s, r[0], -1, (r[2], r[3], r[4], r[5]), i,
                                f"class/{u:03d}/{sh.space}-{i}.jpg", r[7] if len(r) > 7 else -1))
        for (b, a) in sorted(by_move):
            for i, (s, m) in enumerate(by_move[(b, a)].take()):
                out.append(Pick("relabel", f"{sh.space}:{b}:{a}", sh.space, s, b, a, (m[3], m[4], m[5], m[6]), i,
                                f"relabel/{sh.space}/{b:03d}-{a:03d}-{i}.jpg"))
        for (un, cid) in sorted(by_union):
            for i, (s, r) in enumerate(by_union[(un, cid)].take()):
                out.append(Pick("union", f"{un}:{cid}", src, s, r[0], -1, (r[2], r[3], r[4], r[5]), i,
                                f"union/{un}/{cid:03d}-{i}.jpg"))
        for space in (sh.space, *((sh.base,) if sh.base else ())):
            for i, (_, s) in enumerate(overlay):
                out.append(Pick("dataset", space, space, s, -1, -1, (0, 0, 0, 0), i, f"dataset/{space}-{i}.jpg"))
    return out
