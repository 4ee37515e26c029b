"""The one writer of the spec format: every command that writes YAML specs (import-mseg,
import-unions, import-relabel, new-dataset, add-class, compile --naive) renders and writes them here.

The format is described once, in :data:`LAYOUTS`: for each kind of spec file (universal, dataset,
mapping, relabel) the keys in the order they are written and how each value is laid out:

- ``SCALAR``: ``key: value`` (strings through :func:`unitax.compiler.yamlquote.q`: plain where
  unambiguous, else double-quoted; ``null``, ``true``/``false``, integers as they are);
- ``FLOW``: ``key: [a, b]`` or ``key: {k: v, ...}`` on one line;
- ``BLOCK``: ``key:`` then one item a line, indented two spaces (``  - item`` for a list,
  ``  k: v`` for a map), ``key: []`` / ``key: {}`` when empty; each item laid out as its
  :class:`Shape` says (a flow map ``  - {id: 0, name: road}``, or a block map whose
  further lines are indented four spaces).

Values inside an item are always written on one line (a list or map in flow style). The keys of
a map with fixed keys (a class entry, a record) are written in the layout's order, whatever the
order of the data; a free map (``map:``, ``draft:``) keeps the data's order. The layout's keys are
the JSON Schemas' properties (compiler/schemas/; tests/test_specwriter.py holds them equal), so a
new spec field is added to the schema and here, and every writer has it.

Comments are written before the first key (``header``) or before a key (``comments``). A string
that must appear verbatim (a trusted constant whose text predates the quoting rule) is a :class:`Raw`.

:func:`write_specs` writes a set of rendered files under a spec folder all or nothing
(tools/atomic.write_set_atomic: staged beside them, then renamed into place).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...compiler.yamlquote import q
from ...fileops import walk
from ...fileops.atomic import write_set_atomic

SCALAR = "scalar"
FLOW = "flow"
BLOCK = "block"


@dataclass(frozen=True)
class Raw:
    """A scalar written exactly as given (a constant of the writer's own, never text from data)."""

    text: str


class Pairs(tuple[tuple[str, Any], ...]):
    """A free map given as (key, value) pairs, written in their order, a repeated key included (the
    validator then names it [duplicate-key]; a dict would keep the last one silently)."""


@dataclass(frozen=True)
class Shape:
    """How a value is laid out: its ``style``; for a map with fixed keys, ``fields`` (key -> Shape,
    in the order they are written); for a block list or a free map, the Shape of its ``items``."""

    style: str = SCALAR
    fields: Mapping[str, Shape] = field(default_factory=dict)
    items: Shape | None = None


_S = Shape()
_FLOW = Shape(FLOW)
_ACCEPT = Shape(BLOCK, items=Shape(BLOCK, fields={"rule": _S, "class": _S, "reason": _S}))

#: the spec format: kind -> the top-level keys in written order, each with its Shape
LAYOUTS: dict[str, Mapping[str, Shape]] = {
    "universal": {
        "name": _S, "description": _S, "ignore": Shape(FLOW, fields={"id": _S, "name": _S}), "label_dtype": _S,
        "classes": Shape(BLOCK, items=Shape(BLOCK, fields={
            "id": _S, "name": _S, "parent": _S, "synset": _S, "wordnet_modified": _S, "synset_note": _S,
            "wordnet_modified_note": _S, "color": _FLOW, "definition": _S, "void": _S})),
        "accept": _ACCEPT,
    },
    "dataset": {
        "name": _S, "role": _S, "label_dtype": _S, "ignore": _S, "class_list_from": _S, "note": _S,
        "unscored": Shape(BLOCK),
        "same_classes_as": Shape(FLOW, fields={"space": _S, "by": _S, "unpaired": _FLOW, "note": _S}),
        "classes": Shape(BLOCK, items=Shape(FLOW, fields={"id": _S, "name": _S, "color": _FLOW, "void": _S})),
        "accept": _ACCEPT,
    },
    "mapping": {
        "source": _S, "target": _S, "kind": _S, "note": _S,
        "instead_of": Shape(BLOCK, fields={"relabeled": _S, "via": _S}),
        "map": Shape(BLOCK), "overlap_reason": Shape(BLOCK), "ignore": Shape(BLOCK), "unlisted": Shape(BLOCK),
        "stray": Shape(BLOCK),
        "unfed": Shape(BLOCK, fields={"all_others": _S, "as_of": _S}),   # a list, or {all_others, as_of}
        "draft": Shape(BLOCK), "accept": _ACCEPT,
    },
    "relabel": {
        "dataset": _S, "aliases": _FLOW, "note": _S,
        "applied_by": Shape(FLOW, fields={"script": _S, "line": _S, "dataset_to_relabel": _S, "update_records": _S}),
        "records": Shape(BLOCK, items=Shape(FLOW, fields={"alias": _S, "split": _S, "from": _S, "to": _S,
                                                           "segments": _S})),
    },
}


def scalar(v: Any) -> str:
    """One scalar as the specs write it."""
    if isinstance(v, Raw):
        return v.text
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return q(v)
    raise TypeError(f"not a spec scalar: {v!r}")


def _ordered(m: Mapping[str, Any], shape: Shape | None) -> list[tuple[str, Any]]:
    """The entries of ``m`` in the layout's order (a map with fixed keys), else in the data's."""
    if shape is None or not shape.fields:
        return list(m.items())
    unknown = [k for k in m if k not in shape.fields]
    if unknown:
        raise ValueError(f"keys {unknown} are not in the spec layout {list(shape.fields)}")
    return [(k, m[k]) for k in shape.fields if k in m]


def _sub(shape: Shape | None, key: str) -> Shape | None:
    return shape.fields.get(key) if shape is not None and shape.fields else None


def inline(v: Any, shape: Shape | None = None) -> str:
    """A value on one line: a scalar, or a list/map in flow style (``[a, b]``, ``{k: v}``)."""
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {inline(x, _sub(shape, k))}" for k, x in _ordered(v, shape)) + "}"
    if isinstance(v, (list, tuple)):
        items = shape.items if shape is not None else None
        return "[" + ", ".join(inline(x, items) for x in v) + "]"
    return scalar(v)


def _item(v: Any, shape: Shape | None) -> list[str]:
    """One item of a block list: ``  - {..}`` or a block map (``  - k: v`` then ``    k: v``)."""
    if shape is not None and shape.style == BLOCK and isinstance(v, Mapping) and v:
        lines = [f"    {scalar(k)}: {inline(x, _sub(shape, k))}" for k, x in _ordered(v, shape)]
        return ["  - " + lines[0][4:], *lines[1:]]
    return [f"  - {inline(v, shape)}"]


def key_lines(kind: str, key: str, value: Any) -> list[str]:
    """The lines (without newlines) of one top-level ``key`` of a ``kind`` spec file."""
    layout = LAYOUTS[kind]
    if key not in layout:
        raise ValueError(f"{key!r} is not a key of a {kind} spec (the layout has {list(layout)})")
    shape = layout[key]
    if shape.style != BLOCK or not isinstance(value, (Mapping, list, tuple)):
        return [f"{key}: {inline(value, shape)}"]
    if not value:
        return [f"{key}: {{}}" if isinstance(value, (Mapping, Pairs)) else f"{key}: []"]
    if isinstance(value, Pairs):
        return [f"{key}:"] + [f"  {scalar(k)}: {inline(x, shape.items)}" for k, x in value]
    if isinstance(value, Mapping):
        return [f"{key}:"] + [f"  {scalar(k)}: {inline(x, _sub(shape, k) or shape.items)}"
                              for k, x in _ordered(value, shape)]
    return [f"{key}:"] + [line for x in value for line in _item(x, shape.items)]


def item_lines(kind: str, key: str, item: Any) -> list[str]:
    """The lines of one more item of the block list ``key`` (add-class appends a universal class)."""
    shape = LAYOUTS[kind][key]
    if shape.style != BLOCK:
        raise ValueError(f"{kind} {key!r} is not a block list")
    return _item(item, shape.items)


def render(kind: str, data: Mapping[str, Any], *, header: Sequence[str] = (),
           comments: Mapping[str, Sequence[str]] | None = None) -> str:
    """A ``kind`` spec file holding ``data``: ``header`` comment lines, then each key of the layout
    that ``data`` has, in the layout's order, preceded by its ``comments`` lines."""
    layout = LAYOUTS[kind]
    unknown = [k for k in data if k not in layout]
    if unknown:
        raise ValueError(f"keys {unknown} are not keys of a {kind} spec (the layout has {list(layout)})")
    out = [f"# {c}" if c else "#" for c in header]
    for key in layout:
        if key in data:
            out += [f"# {c}" if c else "#" for c in (comments or {}).get(key, ())]
            out += key_lines(kind, key, data[key])
    return "\n".join(out) + "\n"


def write_specs(root: Path, files: Mapping[str, str | bytes], *, delete: Iterable[str] = (),
                replace: bool = True) -> None:
    """Write ``files`` (path relative to ``root`` -> text or bytes) and remove ``delete``, as one set:
    all or nothing (tools/atomic.write_set_atomic). ``replace=False``: an existing file is an error
    (FileExistsError), and nothing is written."""
    write_set_atomic(root, files, delete=delete, replace=replace)


def replace_folder(root: Path, sub: str, files: Mapping[str, str | bytes]) -> None:
    """Make ``root/sub`` hold exactly ``files`` (paths relative to ``root``, all below ``sub``), as one
    set: the files there that ``files`` does not name are removed with the same all-or-nothing write,
    then the folders left empty below ``sub``. The caller has checked that ``root/sub`` holds only
    files it may replace."""
    root = Path(root)
    base = root / sub
    old = [Path(p).relative_to(root).as_posix() for p in walk.files(base)]
    write_set_atomic(root, files, delete=old)
    folders = [e.path for e in walk.walk(base, stats=False) if e.folder and e.rel != "."] if base.is_dir() else []
    for folder in sorted(folders, reverse=True):
        try:
            os.rmdir(folder)   # only an empty one (the deepest first: a path sorts after its parent's)
        except OSError:
            pass
