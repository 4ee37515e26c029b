"""Corresponding label spaces: a dataset spec's ``same_classes_as`` says that its label space is
another one (declared in this spec root or in another bundled taxonomy) class for class, each
class pairing with the class of the same id, or of the same name, in the other space, except the
classes it lists under ``unpaired`` (UT's own ``ignore`` class, which the other space does not have).

The declaration is total both ways: every class of this space pairs with one class there or is
listed as unpaired, and every class there is the partner of one class here. :func:`pair` checks a
declaration against the two class lists and gives the pairs, or the problems, each with where in
the spec it lies; it serves the compiler (both spaces in one spec root: compiler/rules.py), `unitax
check --bundled` (the other space in another bundled taxonomy) and `unitax compare` (against the
other build). Pure: no I/O, standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .names import quote

#: how classes pair: by their id, or by their name
BY = ("id", "name")
#: the spec key
KEY = "same_classes_as"


@dataclass(frozen=True)
class SameClasses:
    """A dataset's ``same_classes_as``: the other label space, how classes pair, the classes with no partner."""

    space: str
    by: str
    unpaired: tuple[str, ...] = ()
    #: why the two are the same where their names alone do not show it
    note: str | None = None

    @classmethod
    def from_data(cls, data: dict[str, object]) -> SameClasses:
        """From the spec's (schema-valid) value or its taxonomy.json entry."""
        unpaired = data.get("unpaired") or ()
        assert isinstance(unpaired, (list, tuple))
        note = data.get("note")
        return cls(str(data["space"]), str(data["by"]), tuple(str(u) for u in unpaired),
                   str(note) if note is not None else None)

    def data(self) -> dict[str, object]:
        """As the spec and taxonomy.json write it."""
        out: dict[str, object] = {"space": self.space, "by": self.by}
        if self.unpaired:
            out["unpaired"] = list(self.unpaired)
        if self.note is not None:
            out["note"] = self.note
        return out

    def text(self) -> str:
        """``ade20k-151 by id`` (and the unpaired classes), for docs and reports."""
        return f"{self.space} by {self.by}" + (f" (unpaired: {', '.join(self.unpaired)})" if self.unpaired else "")


#: where a problem lies in the declaring spec: a JSON path (("same_classes_as", "unpaired", 0), ("classes", 3))
Where = tuple[str | int, ...]


def pair(name: str, here: Sequence[str | None], decl: SameClasses,
         there: Sequence[str | None]) -> tuple[tuple[tuple[int, int], ...], list[tuple[Where, str]]]:
    """The pairs (id here, id there) a declaration makes, and its problems (none: it holds).

    Args:
        name: this label space's name (for messages).
        here, there: each space's class names by id, ``None`` for a void id (no class).
        decl: the declaration of ``name``.
    """
    problems: list[tuple[Where, str]] = []
    key = KEY
    if decl.space == name:
        return (), [((key, "space"), f"{name} declares itself as the space it has the same classes as")]
    index_here = {n: i for i, n in enumerate(here) if n is not None}
    unpaired: set[int] = set()
    for k, u in enumerate(decl.unpaired):
        if u not in index_here:
            problems.append(((key, "unpaired", k), f"unpaired {quote(u)} is not a class of {name}"))
        elif index_here[u] in unpaired:
            problems.append(((key, "unpaired", k), f"unpaired names {quote(u)} twice"))
        else:
            unpaired.add(index_here[u])
    index_there: dict[str, int] = {}
    for k, n in enumerate(there):
        if n is not None:
            index_there.setdefault(n, k)
    pairs: list[tuple[int, int]] = []
    j: int | None
    for i, n in enumerate(here):
        if n is None or i in unpaired:
            continue
        if decl.by == "id":
            j = i if i < len(there) and there[i] is not None else None
            missing = f"{decl.space} has no class of id {i}"
        else:
            j = index_there.get(n)
            missing = f"{decl.space} has no class named {quote(n)}"
        if j is None:
            problems.append((("classes", i), f"{name} class {quote(n)} (id {i}) has no partner by {decl.by}: "
                                             f"{missing}; list it under {key}.unpaired, or correct the declaration"))
        else:
            pairs.append((i, j))
    partnered = {j for _, j in pairs}
    lonely = [(j, n) for j, n in enumerate(there) if n is not None and j not in partnered
              and index_there.get(n) == j]
    if lonely:
        shown = ", ".join(f"{quote(n)} (id {j})" for j, n in lonely[:6]) + (
            f" and {len(lonely) - 6} more" if len(lonely) > 6 else "")
        problems.append(((key, "space"), f"{len(lonely)} class(es) of {decl.space} pair with no class of {name} by "
                                         f"{decl.by}: {shown}; the two do not have the same classes"))
    return tuple(pairs), problems
