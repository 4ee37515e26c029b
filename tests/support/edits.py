"""Valid edits a user might make to a copy of the taxonomy (for the edited-taxonomy test).

Each edit leaves the specs valid (`unitax check` passes after a compile): every mapping to or
from universal decides the new universal classes (``unfed`` / ``ignore``, or mapped like the
class they split from), and the new dataset's mapping is total.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

NEW_DATASET = "my-robots-3"
NEW_CLASS = "robot"
#: (the universal class that is split, the new class that takes part of it)
SPLIT = ("car", "van")


def _read(p: Path) -> Any:
    return yaml.safe_load(p.read_text("utf-8"))


def _write(p: Path, doc: Any) -> None:
    p.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000), "utf-8")


def _mappings(specs: Path) -> list[tuple[Path, Any]]:
    return [(p, _read(p)) for p in sorted((specs / "mappings").glob("*.yaml"))]


def _unused_color(used: set[tuple[int, ...]]) -> list[int]:
    for r in range(1, 256):
        for g in range(1, 256):
            if (r, g, 7) not in used:
                used.add((r, g, 7))
                return [r, g, 7]
    raise AssertionError("no free colour")  # pragma: no cover


def add_universal_class(specs: Path, name: str, like: str | None = None) -> None:
    """Append universal class ``name`` (the next id) and decide it in every mapping.

    ``like=None``: a new class that nothing feeds yet (``unfed`` into universal, ``ignore`` out
    of it). ``like=X``: a split of ``X``: datasets that fed ``X`` keep feeding ``X`` only (the new
    class is ``unfed`` there), and every mapping out of universal treats it as it treats ``X``.
    """
    uni = _read(specs / "universal.yaml")
    classes = uni["classes"]
    template = next(c for c in classes if c["name"] == (like or classes[0]["name"]))
    used = {tuple(c["color"]) for c in classes}
    classes.append({
        "id": max(c["id"] for c in classes) + 1, "name": name, "parent": template["parent"],
        "synset": None, "wordnet_modified": None, "color": _unused_color(used),
        "definition": f"A {name} (added by the edited-taxonomy test"
                      + (f", split from {like})." if like else ")."),
    })
    _write(specs / "universal.yaml", uni)
    for p, m in _mappings(specs):
        if m["target"] == "universal":
            if isinstance(m.get("unfed"), dict):  # {all_others: true, as_of: N}: decided, as of the new count
                m["unfed"] = {**m["unfed"], "as_of": len(classes)}
            else:
                m["unfed"] = [*(m.get("unfed") or []), name]
        elif m["source"] == "universal":
            if like is not None and like in (m.get("map") or {}):
                m["map"][name] = m["map"][like]
            else:
                m["ignore"] = [*(m.get("ignore") or []), name]
        else:
            continue
        _write(p, m)


def add_dataset(specs: Path, name: str, classes: dict[str, str]) -> None:
    """A training dataset with ``classes`` (its class name -> the universal class it maps to)."""
    _write(specs / "datasets" / f"{name}.yaml", {
        "name": name, "role": "train", "label_dtype": "uint8", "ignore": 255,
        "classes": [{"id": i, "name": c} for i, c in enumerate(classes)],
    })
    uni = [c["name"] for c in _read(specs / "universal.yaml")["classes"]]
    fed = set(classes.values())
    _write(specs / "mappings" / f"{name}_to_universal.yaml", {
        "source": name, "target": "universal", "map": dict(classes), "ignore": [],
        "unfed": [u for u in uni if u not in fed],
    })


def apply_user_edits(specs: Path) -> None:
    """The three edits of issue 14: a new universal class, a split one, a new 3-class dataset."""
    add_universal_class(specs, NEW_CLASS)
    add_universal_class(specs, SPLIT[1], like=SPLIT[0])
    add_dataset(specs, NEW_DATASET, {"floor": "road", "robot": NEW_CLASS, "van": SPLIT[1]})


def confirm_drafts(specs: Path) -> list[Path]:
    """What a person does after reviewing every draft entry and keeping each suggestion: delete the
    ``draft:`` block of every mapping (text only, the rest of each file kept byte for byte)."""
    done = []
    for p in sorted((specs / "mappings").glob("*.yaml")):
        lines = p.read_text("utf-8").splitlines(keepends=True)
        if "draft:\n" not in lines:
            continue
        i = lines.index("draft:\n")
        end = i + 1
        while end < len(lines) and lines[end].startswith((" ", "\n")):
            end += 1
        p.write_text("".join(lines[:i] + lines[end:]), "utf-8")
        done.append(p)
    return done
