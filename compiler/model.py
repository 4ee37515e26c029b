"""Stage 4: the validated taxonomy as frozen dataclasses. Built only from validated data; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .correspond import SameClasses

UNIVERSAL = "universal"
Color = tuple[int, int, int]


@dataclass(frozen=True)
class ClassDef:
    """A class of a label space: its id (the stored label value), name and colour."""

    id: int
    name: str
    color: Color | None = None
    parent: str | None = None
    synset: str | None = None
    wordnet_modified: bool | None = None
    synset_note: str | None = None
    wordnet_modified_note: str | None = None
    definition: str | None = None
    void: bool = False


@dataclass(frozen=True)
class LabelSpace:
    """The universal taxonomy or one dataset's classes, in id order (ids are 0..n-1)."""

    name: str
    role: str  # "universal", "train", "test" or "source"
    label_dtype: str  # "uint8" or "uint16"
    ignore: int
    ignore_name: str
    classes: tuple[ClassDef, ...]
    note: str | None = None
    class_list_from: str | None = None
    #: ids of the classes the dataset's own benchmark does not score (the spec's ``unscored``)
    unscored: tuple[int, ...] = ()
    #: the spec's ``same_classes_as``: the label space this one is, class for class (compiler/correspond.py)
    same_classes_as: SameClasses | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every id's name, in id order (void ids included)."""
        return tuple(c.name for c in self.classes)

    @property
    def real_classes(self) -> tuple[ClassDef, ...]:
        """The classes that mappings must account for (void ids left out)."""
        return tuple(c for c in self.classes if not c.void)

    @cached_property
    def index(self) -> dict[str, int]:
        """Class name -> id, void ids left out."""
        return {c.name: c.id for c in self.classes if not c.void}

    @property
    def table_length(self) -> int:
        """How many input values a lookup table from this space covers (its dtype's range)."""
        return 256 if self.label_dtype == "uint8" else 65536


@dataclass(frozen=True)
class Mapping:
    """A total mapping source -> target, as ids.

    ``pairs`` holds (source id, target id) for mapped classes, ``ignored`` the source ids sent
    to the target's ignore id, ``unfed`` the target ids no source class feeds.
    """

    source: str
    target: str
    pairs: tuple[tuple[int, int], ...]
    ignored: tuple[int, ...]
    unfed: tuple[int, ...]
    note: str | None = None
    #: "one-to-one" (every mapped source class has one target) or "union" (a mapping to universal
    #: whose source classes may cover a set of universal classes; ``pairs`` then holds only the
    #: classes whose set has one member, so the lookup table sends the others to ignore)
    form: str = "one-to-one"
    #: union mappings: (source id, sorted target ids) for every mapped source class, in source id order
    sets: tuple[tuple[int, tuple[int, ...]], ...] = ()
    #: union mappings: (relabeled dataset, via dataset) whose relabel records the unions replace
    instead_of: tuple[str, str] | None = None
    #: where the spec lives: (file, ((source class name, line), ...), line of instead_of); for messages only
    origin: tuple[str, tuple[tuple[str, int], ...], int] | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{self.source}_to_{self.target}"

    @property
    def class_sets(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """(source id, target ids) for every mapped source class: the union mapping's sets, or a
        one-to-one mapping's pairs as sets of one (so both kinds agree by construction)."""
        if self.form == "union":
            return self.sets
        return tuple((s, (t,)) for s, t in self.pairs)

    @property
    def kind(self) -> str:
        """``to_universal``, ``from_universal`` (into a test dataset) or ``remap`` (dataset to dataset)."""
        if self.target == UNIVERSAL:
            return "to_universal"
        if self.source == UNIVERSAL:
            return "from_universal"
        return "remap"


@dataclass(frozen=True)
class Model:
    """The whole validated taxonomy."""

    universal: LabelSpace
    datasets: tuple[LabelSpace, ...]  # sorted by name
    mappings: tuple[Mapping, ...]  # sorted by (source, target)

    @cached_property
    def spaces(self) -> dict[str, LabelSpace]:
        out = {d.name: d for d in self.datasets}
        out[UNIVERSAL] = self.universal
        return out

    def mappings_of(self, kind: str) -> tuple[Mapping, ...]:
        return tuple(m for m in self.mappings if m.kind == kind)
