"""A small taxonomy with one union mapping, shared by tests/test_unions.py and the hostile union cases.

Seven universal classes; ``city`` (train) holds road, vehicle (-> {car}), animal (-> {dog, cat}) and
sky (ignored), through a ``kind: union`` mapping; ``other`` (train) holds road alone, mapped one to one.
"""

from __future__ import annotations

from pathlib import Path

from unitax.tools.authoring import importer

UNIVERSAL = ("road", "car", "person", "sky", "tree", "dog", "cat")
CITY = ("road", "vehicle", "animal", "sky")  # vehicle -> {car}, animal -> {dog, cat}, sky ignored
UNION = """source: city
target: universal
kind: union
map:
  road: road
  vehicle: [car]
  animal: [dog, cat]
ignore:
  - sky
unfed:
  - person
  - sky
  - tree
"""


def write_specs(root: Path, mapping: str = UNION, extra: dict[str, str] | None = None) -> Path:
    """Write the taxonomy's specs into ``root`` (``mapping`` as city's mapping, ``extra`` files on top)."""
    uni = [{"name": n, "parent": "thing", "synset": f"{n}.n.01", "wordnet_modified": False} for n in UNIVERSAL]
    files = {"universal.yaml": importer.render_universal(uni, {n: f"A {n}." for n in UNIVERSAL}),
             "datasets/city.yaml": importer.render_dataset(importer.Space("city", "train", list(CITY))),
             "datasets/other.yaml": importer.render_dataset(importer.Space("other", "train", ["road"])),
             "mappings/other_to_universal.yaml": importer.render_mapping(importer.MappingSpec(
                 "other", "universal", [("road", "road")], [], [n for n in UNIVERSAL if n != "road"], "n")),
             "mappings/city_to_universal.yaml": mapping}
    files.update(extra or {})
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root
