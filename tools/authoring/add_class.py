"""`unitax add-class`: append a universal class and draft the decision it forces in every mapping.

A mapping is total both ways, so a new universal class must be decided in every mapping to or
from universal. This command appends the class to universal.yaml (the next id, the next unused
colour of the palette) and writes, in each such mapping, the safe provisional choice plus a
``draft:`` entry that `unitax check` refuses [draft-entry] until a person has confirmed it:

- into universal (``<ds>_to_universal.yaml``) with an ``unfed`` list: the class is listed in
  ``unfed`` (no class of the dataset feeds it yet), drafted under its own name; with
  ``--split-from OLD`` each dataset class that maps to OLD is drafted too (keep it on OLD or map it
  to the new class, then take the new class out of ``unfed``). A mapping with ``unfed: {all_others:
  true, as_of: N}`` is left as it is: `unitax check` reports the class there [unfed-stale].
- out of universal (``universal_to_<ds>.yaml``): the class is ignored, or, with ``--split-from
  OLD``, it feeds what OLD feeds; drafted under its own name.

Mappings between two datasets do not involve universal and are left alone. Every file is edited
in place (the lines around the change are kept byte for byte), checked to parse to exactly the
intended data, and only then written, each atomically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...compiler import build
from ...compiler.errors import SpecError
from ...compiler.model import UNIVERSAL
from ...compiler.palette import voc_palette
from ...compiler.rules import suggest
from ..errors import ToolError
from . import specwriter

#: libyaml's safe loader where PyYAML has it (as the compiler parses, compiler/load.py): the same data
#: and the same node marks as yaml.SafeLoader, parsed ~10x faster (a plan reads every mapping 5 times)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: a WordNet synset as universal.schema.json takes it
SYNSET = re.compile(r"^[A-Za-z0-9_.'/-]+\.[nvasr]\.[0-9]{2}\Z")  # \Z, not $ (a final newline)


class AddClassError(ToolError):
    """A bad input of add-class: one line; the command exits 2 (USAGE) with it."""


@dataclass
class _Text:
    """A spec file's lines, edited by key (top-level keys of a block mapping only)."""

    lines: list[str]

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def _top(self) -> dict[str, tuple[Any, Any]]:
        node = yaml.compose(self.text, Loader=_LOADER)
        assert isinstance(node, yaml.MappingNode)
        return {k.value: (k, v) for k, v in node.value}

    def _span(self, key: str) -> tuple[int, int] | None:
        """Line range [start, end) of ``key`` and its value (comments after the value stay outside)."""
        top = self._top()
        if key not in top:
            return None
        k, v = top[key]
        last = v
        while isinstance(last, (yaml.SequenceNode, yaml.MappingNode)) and not last.flow_style and last.value:
            last = last.value[-1][1] if isinstance(last, yaml.MappingNode) else last.value[-1]
        end = last.end_mark.line + (0 if last.end_mark.column == 0 else 1)  # column 0: a block scalar's end
        return k.start_mark.line, max(end, k.start_mark.line + 1)

    def put(self, key: str, block: list[str]) -> None:
        """Replace ``key``'s lines by ``block`` (lines without newlines), or append it at the end."""
        new = [line + "\n" for line in block]
        span = self._span(key)
        if span is None:
            if self.lines and not self.lines[-1].endswith("\n"):
                self.lines[-1] += "\n"
            self.lines += new
        else:
            self.lines[span[0]:span[1]] = new


def next_color(used: set[tuple[int, int, int]], start: int) -> tuple[int, int, int]:
    """The first colour of the palette from index ``start`` on that no universal class uses."""
    i = start
    while voc_palette(i) in used:
        i += 1
    return voc_palette(i)


def _universal_text(path: Path, cid: int, name: str, parent: str, definition: str, synset: str | None,
                    color: tuple[int, int, int]) -> str:
    text = path.read_text("utf-8")
    t = _Text(text.splitlines(keepends=True))
    span = t._span("classes")
    assert span is not None
    block = specwriter.item_lines("universal", "classes", {
        "id": cid, "name": name, "parent": parent, "synset": synset or None, "wordnet_modified": None,
        "color": list(color), "definition": definition})
    t.lines[span[1]:span[1]] = [line + "\n" for line in block]
    return t.text


def _draft_note(split_from: str | None) -> str:
    return f"added by unitax add-class{f', split from {split_from}' if split_from else ''}"


def plan(specs: Path, name: str, parent: str, definition: str, split_from: str | None,
         synset: str | None = None) -> dict[Path, tuple[str, Any]]:
    """The files to write: path -> (new text, the data it must parse to). Raises AddClassError.

    ``specs`` must be valid but for unconfirmed drafts (see :func:`add_class`)."""
    upath = specs / "universal.yaml"
    udata = yaml.load(upath.read_text("utf-8"), Loader=_LOADER)
    index = {c["name"]: c["id"] for c in udata["classes"] if not c.get("void")}
    if not name or name != name.strip():
        raise AddClassError(f"class name {name!r} is empty or has white space at an end")
    if name in index:
        raise AddClassError(f"{name!r} is a universal class already (id {index[name]})")
    if split_from is not None and split_from not in index:
        hint = suggest(split_from, list(index))
        raise AddClassError(f"--split-from {split_from!r} is not a universal class{hint}")
    if not parent.strip():
        raise AddClassError("--parent is empty")
    if not definition.strip():
        raise AddClassError("--definition is empty: say what the class includes and what its neighbours keep")
    if synset is not None and not SYNSET.match(synset):
        raise AddClassError(f"--synset {synset!r} is not a WordNet synset (lemma.pos.nn, e.g. moped.n.01)")
    cid = max(c["id"] for c in udata["classes"]) + 1
    ignore = udata["ignore"]["id"]
    if cid >= ignore:
        raise AddClassError(f"universal has no id left below its ignore id {ignore} (set label_dtype: uint16)")
    color = next_color({tuple(c["color"]) for c in udata["classes"]}, cid)
    utext = _universal_text(upath, cid, name, parent, definition, synset, color)
    udata["classes"].append({"id": cid, "name": name, "parent": parent, "synset": synset, "wordnet_modified": None,
                             "color": list(color), "definition": definition})
    files: dict[Path, tuple[str, Any]] = {upath: (utext, udata)}
    note = _draft_note(split_from)
    for p in sorted((specs / "mappings").glob("*.yaml")):
        text = p.read_text("utf-8")
        data = yaml.load(text, Loader=_LOADER)
        if not isinstance(data, dict) or UNIVERSAL not in (data.get("source"), data.get("target")):
            continue
        t = _Text(text.splitlines(keepends=True))
        draft = dict(data.get("draft") or {})
        mapping = dict(data.get("map") or {})
        if data["target"] == UNIVERSAL:
            if isinstance(data.get("unfed"), dict):
                continue  # {all_others: true, as_of: N}: [unfed-stale] asks
            unfed = [*(data.get("unfed") or []), name]
            t.put("unfed", specwriter.key_lines("mapping", "unfed", unfed))
            data["unfed"] = unfed
            movers = sorted(s for s, u in mapping.items()  # a union mapping's value may be a set (a list)
                            if split_from is not None and (u == split_from or isinstance(u, list) and split_from in u))
            for s in movers:
                draft[s] = (f"{note}: keep it on {split_from}, or map it to {name} (then take {name} out of unfed, "
                            f"and list {split_from} there if nothing else feeds it)")
            draft[name] = (f"{note}: no {data['source']} class feeds it yet; if one does, map that class to it "
                           "and take it out of unfed")
        else:
            old = mapping.get(split_from) if split_from is not None else None
            if old is not None:
                mapping[name] = old
                t.put("map", specwriter.key_lines("mapping", "map", mapping))
                data["map"] = mapping
                draft[name] = f"{note}: feeds {old!r} as {split_from} does; or ignore it, or feed another class"
            else:
                ignore = [*(data.get("ignore") or []), name]
                t.put("ignore", specwriter.key_lines("mapping", "ignore", ignore))
                data["ignore"] = ignore
                draft[name] = f"{note}: ignored; map it if it should count as a {data['target']} class"
        t.put("draft", specwriter.key_lines("mapping", "draft", draft))
        data["draft"] = draft
        files[p] = (t.text, data)
    for p, (text, want) in files.items():
        got = yaml.load(text, Loader=_LOADER)
        if got != want:  # pragma: no cover - a layout this editor does not handle: write nothing
            raise AddClassError(f"{p}: cannot be edited in place (an unusual layout); add the class by hand")
    return files


def add_class(specs: Path, name: str, parent: str, definition: str, split_from: str | None,
              synset: str | None = None) -> list[Path]:
    """Append the class and draft every mapping (see the module docstring); returns the files written."""
    _, problems = build.check_specs(specs)
    # drafts not yet confirmed (another class added just before) and the [unfed-stale] they bring
    # are decisions pending, not broken specs: the new class drafts beside them
    pending = ("draft-entry", "unfed-stale")
    errors = [p for p in problems if p.severity == "error" and p.rule not in pending]
    if errors:
        raise SpecError(errors)
    files = plan(specs, name, parent, definition, split_from, synset)
    # one set: universal.yaml and every mapping, or none of them (a half-drafted class would leave
    # mappings that are not total)
    specwriter.write_specs(specs, {p.relative_to(specs).as_posix(): text for p, (text, _) in files.items()})
    return list(files)
