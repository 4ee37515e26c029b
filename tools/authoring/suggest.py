"""Suggest the universal class(es) a new dataset's class belongs to, from names alone.

Pure standard library + numpy; no network, no model. Each universal class is described by
*aliases*, each with a weight and a reason:

- its own name and its WordNet synset lemma (``traffic_light``, ``backpack.n.01`` -> ``backpack``);
- the names of dataset classes the existing mappings already send to it (``sidewalk`` ->
  ``sidewalk_pavement``): the strongest evidence, since a person decided each;
- the words of the first sentence of its definition (what the class is, before the sentences
  that say what goes elsewhere) and its parent's name, as weak bag-of-words evidence.

A query name is compared with every alias after folding (case, ``_``/``-``/camelCase as spaces,
plurals to singular, ``-other``/``-merged``/``-stuff`` suffixes dropped): an exact folded match
scores the alias weight; otherwise token overlap (Dice) and character-trigram cosine, whichever is
higher, scaled by the weight. A class's score is its best alias; the reason names that alias.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ...compiler.model import UNIVERSAL, Model

#: alias weights by kind (an exact folded match scores the weight itself)
WEIGHTS = {"evidence": 1.0, "merged": 0.8, "name": 1.0, "synset": 0.9, "definition": 0.55, "parent": 0.35}
#: below this best score a class is proposed as ignore (nothing matched well enough)
IGNORE_BELOW = 0.3

_STOP = frozenset("a an the of and or on in at to for by with from as its it is are be any such other "
                  "that this which used one two part parts e g eg".split())
_SUFFIXES = ("-other-merged", "-merged", "-other", "-stuff", "-things")


def _singular(w: str) -> str:
    if len(w) <= 3 or w.endswith(("ss", "us", "is")):
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "sses", "zes")):
        return w[:-2]
    if w.endswith("ves") and len(w) > 4:
        return w[:-3] + "f"
    if w.endswith("s"):
        return w[:-1]
    return w


def tokens(name: str) -> tuple[str, ...]:
    """The folded words of a class name (see the module docstring)."""
    n = name.strip()
    for suf in _SUFFIXES:
        if n.casefold().endswith(suf) and len(n) > len(suf):
            n = n[: -len(suf)]
            break
    n = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", n)  # camelCase -> camel Case
    words = re.split(r"[^0-9a-z]+", n.casefold())
    return tuple(_singular(w) for w in words if w and w not in _STOP)


def fold(name: str) -> str:
    return " ".join(tokens(name))


def _trigrams(s: str) -> dict[str, int]:
    s = f"  {s} "
    out: dict[str, int] = defaultdict(int)
    for i in range(len(s) - 2):
        out[s[i:i + 3]] += 1
    return out


def _cosine(a: dict[str, int], b: dict[str, int]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = np.sqrt(sum(v * v for v in a.values()))
    nb = np.sqrt(sum(v * v for v in b.values()))
    return float(dot / (na * nb))


@dataclass(frozen=True)
class Alias:
    folded: str
    words: frozenset[str]
    grams: dict[str, int]
    weight: float
    reason: str


@dataclass(frozen=True)
class Candidate:
    """One proposed universal class for a query name."""

    name: str
    score: float
    reason: str


def _alias(text: str, kind: str, reason: str) -> Alias | None:
    f = fold(text)
    if not f:
        return None
    return Alias(f, frozenset(f.split()), _trigrams(f), WEIGHTS[kind], reason)


def _first_sentence(text: str) -> str:
    text = re.sub(r"\(WordNet:[^)]*\)", "", text or "")
    return re.split(r"(?<=[.;])\s", text.strip(), maxsplit=1)[0]


class Suggester:
    """Scores names against the universal classes of a model (see the module docstring).

    ``exclude``: dataset names whose mappings are left out of the evidence (the held-out
    dataset of the benchmark, and its variants).
    """

    def __init__(self, model: Model, exclude: frozenset[str] = frozenset()) -> None:
        uni = model.universal
        self.classes = [c.name for c in uni.real_classes]
        self.aliases: dict[str, list[Alias]] = {c: [] for c in self.classes}
        self.definition_words: dict[str, frozenset[str]] = {}
        for c in uni.real_classes:
            al = self.aliases[c.name]
            for a in (_alias(c.name, "name", "its name"),
                      _alias((c.synset or "").split(".")[0], "synset", f"its WordNet synset {c.synset}"),
                      _alias(c.parent or "", "parent", f"its parent {c.parent!r}")):
                if a is not None:
                    al.append(a)
            self.definition_words[c.name] = frozenset(tokens(_first_sentence(c.definition or "")))
        seen: set[tuple[str, str]] = set()
        for m in model.mappings:
            if m.kind == "remap" or m.source in exclude or m.target in exclude:
                continue
            other = m.source if m.kind == "to_universal" else m.target
            src, dst = model.spaces[m.source], model.spaces[m.target]
            feeders: dict[int, int] = defaultdict(int)
            for _, t in m.pairs:
                feeders[t] += 1
            for s, t in m.pairs:
                u = dst.classes[t].name if m.kind == "to_universal" else src.classes[s].name
                n = src.classes[s].name if m.kind == "to_universal" else dst.classes[t].name
                if (u, fold(n)) in seen or u not in self.aliases:
                    continue
                seen.add((u, fold(n)))
                # a test class fed by several universal classes (voc2012 'person' <- person,
                # bicyclist, ...) names their merge, not each of them: weaker evidence
                merged = m.kind == "from_universal" and feeders[t] > 1
                a = _alias(n, "merged" if merged else "evidence",
                           f"{other} {n!r}, " + ("which merges it with others" if merged else "mapped to it"))
                if a is not None:
                    self.aliases[u].append(a)

    def score(self, name: str) -> list[Candidate]:
        """Every universal class with a positive score for ``name``, best first (ties by name)."""
        f = fold(name)
        words = frozenset(f.split())
        grams = _trigrams(f)
        out = []
        for u in self.classes:
            best, why = 0.0, ""
            for a in self.aliases[u]:
                if f and f == a.folded:
                    s, how = a.weight, "matches"
                else:
                    dice = 2 * len(words & a.words) / (len(words) + len(a.words)) if words and a.words else 0.0
                    cos = _cosine(grams, a.grams)
                    s, how = a.weight * max(dice, cos) * 0.9, "close to"
                if s > best:
                    best, why = s, f"{how} {a.reason}"
            dw = self.definition_words[u]
            if words and dw:
                share = len(words & dw) / len(words)
                s = WEIGHTS["definition"] * share
                if s > best:
                    best, why = s, f"{', '.join(sorted(words & dw))} in its definition"
            if best > 0:
                out.append(Candidate(u, round(best, 3), why))
        out.sort(key=lambda c: (-c.score, c.name))
        return out

    def suggest(self, name: str, k: int = 3) -> list[Candidate]:
        """The best ``k`` candidates for ``name`` (fewer when fewer score)."""
        return self.score(name)[:k]


def family(dataset: str) -> str:
    """A dataset's family: the name before its first '-' (``test-`` prefix dropped), so holding
    out cityscapes-19 also holds out cityscapes-19-relabeled and cityscapes-34."""
    d = dataset[5:] if dataset.startswith("test-") else dataset
    return d.split("-")[0]


def held_out(model: Model, dataset: str) -> frozenset[str]:
    """The datasets left out of the evidence when ``dataset`` is held out (its whole family)."""
    fam = family(dataset)
    return frozenset(s for s in model.spaces if s != UNIVERSAL and family(s) == fam)
