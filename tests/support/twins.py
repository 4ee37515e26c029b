"""Two small taxonomies over the same label spaces, ``alpha`` and ``beta``, built to exercise every
relation of ``unitax compare`` and to run the runtime on spaces unlike MSeg's (a union mapping, a
uint16 source space remapped into a train space, a test space).

Shared label spaces (same names, same classes, in both):

- ``street`` (train): road, car, truck, pedestrian, rider, tree, bush, sky;
- ``street-raw`` (source, uint16, ignore 65535): ``unlabeled`` then street's classes, remapped into ``street``;
- ``indoor`` (train): floor, animal, plant, furniture, lamp. alpha maps it one to one; beta through a
  ``kind: union`` mapping (animal -> {dog, cat}, furniture -> {table, chair});
- ``eval`` (test): road, vehicle, person, vegetation, fed from universal (not compared: evaluation only);
- ``clash`` (train): shares the name but not the classes ([a, b] in alpha, [a, c] in beta): refused.

Only in alpha: ``alpha-only`` (feeds ``thing``); only in beta: ``beta-only`` (feeds ``other``).

``delta`` is beta with street and indoor under names of its own, declared corresponding
(``same_classes_as``): ``delta-street`` is street by id, ``delta-indoor`` indoor by name (see
:func:`delta_files`); compared with alpha through them, it must relate as beta does.

What the comparison must find (:data:`EXPECTED`): alpha -> beta 3 equal (road, floor, lamp), 3 split
(person -> pedestrian + rider, animal -> dog + cat, furniture -> table + chair), 3 merged (car and
truck -> vehicle, plant -> small_plant), 1 overlapping (tree ~ tall_plant, small_plant), 2 absent (sky:
beta ignores street's sky; thing: unseen); beta -> alpha 3 equal, 1 split (vehicle), 7 merged,
1 overlapping (small_plant), 1 absent (other).

:func:`build` compiles a taxonomy once per test process (a temporary folder removed at exit).
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from pathlib import Path

from unitax.tools.authoring import importer

STREET = ("road", "car", "truck", "pedestrian", "rider", "tree", "bush", "sky")
INDOOR = ("floor", "animal", "plant", "furniture", "lamp")
EVAL = ("road", "vehicle", "person", "vegetation")

#: per taxonomy: universal classes; datasets (name -> role, classes, dtype); mappings (file stem -> YAML)
SPECS: dict[str, dict[str, object]] = {
    "alpha": {
        "universal": ["road", "car", "truck", "person", "tree", "plant", "sky", "animal", "furniture", "floor",
                      "lamp", "thing"],
        "datasets": {"clash": ("train", ["a", "b"]), "alpha-only": ("train", ["thing"])},
        "to_universal": {
            "street": {"road": "road", "car": "car", "truck": "truck", "pedestrian": "person", "rider": "person",
                       "tree": "tree", "bush": "tree", "sky": "sky"},
            "indoor": {n: n for n in INDOOR},
            "clash": {"a": "road", "b": "sky"},
            "alpha-only": {"thing": "thing"},
        },
        "to_eval": {"road": "road", "car": "vehicle", "truck": "vehicle", "person": "person", "tree": "vegetation",
                    "plant": "vegetation"},
    },
    "beta": {
        "universal": ["road", "vehicle", "pedestrian", "rider", "tall_plant", "small_plant", "dog", "cat", "table",
                      "chair", "floor", "lamp", "other"],
        "datasets": {"clash": ("train", ["a", "c"]), "beta-only": ("train", ["other"])},
        "to_universal": {
            "street": {"road": "road", "car": "vehicle", "truck": "vehicle", "pedestrian": "pedestrian",
                       "rider": "rider", "tree": "tall_plant", "bush": "small_plant"},
            "indoor": {"floor": "floor", "animal": ["dog", "cat"], "plant": "small_plant",
                       "furniture": ["table", "chair"], "lamp": "lamp"},
            "clash": {"a": "road", "c": "lamp"},
            "beta-only": {"other": "other"},
        },
        "to_eval": {"road": "road", "vehicle": "vehicle", "pedestrian": "person", "rider": "person",
                    "tall_plant": "vegetation", "small_plant": "vegetation"},
    },
}

#: beta with 290 more universal classes (never fed): a universal space wider than a byte (uint16 labels,
#: ignore 65535), as UT's 259 classes are
SPECS["gamma"] = {**SPECS["beta"], "universal": [*SPECS["beta"]["universal"],  # type: ignore[list-item]
                                                 *(f"extra_{i:03d}" for i in range(290))]}

#: relation -> classes, per direction (the fixture's design; see the module docstring)
EXPECTED = {
    ("alpha", "beta"): {"equal": {"road", "floor", "lamp"}, "split": {"person", "animal", "furniture"},
                        "merged": {"car", "truck", "plant"}, "overlapping": {"tree"}, "absent": {"sky", "thing"}},
    ("beta", "alpha"): {"equal": {"road", "floor", "lamp"}, "split": {"vehicle"},
                        "merged": {"pedestrian", "rider", "tall_plant", "dog", "cat", "table", "chair"},
                        "overlapping": {"small_plant"}, "absent": {"other"}},
}


def _q(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _list(items: list[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def _mapping(source: str, target: str, pairs: dict[str, object], sources: list[str], targets: list[str]) -> str:
    union = any(isinstance(v, list) for v in pairs.values())
    fed = {t for v in pairs.values() for t in (v if isinstance(v, list) else [v])}
    lines = [f"source: {source}", f"target: {target}"] + (["kind: union"] if union else []) + ["map:"]
    lines += [f"  {_q(k)}: {_list(v) if isinstance(v, list) else _q(v)}" for k, v in pairs.items()]
    lines.append(f"ignore: {_list([s for s in sources if s not in pairs])}")
    lines.append(f"unfed: {_list([t for t in targets if t not in fed])}")
    return "\n".join(lines) + "\n"


def _dataset(name: str, classes: list[str], same: str) -> str:
    """A train dataset spec (uint8, ignore 255) whose ``same_classes_as`` is the flow map ``same``."""
    return "\n".join([f"name: {name}", "role: train", "label_dtype: uint8", "ignore: 255",
                      f"same_classes_as: {same}", "classes:"]
                     + [f"  - {{id: {i}, name: {_q(c)}}}" for i, c in enumerate(classes)]) + "\n"


#: delta: beta, with street and indoor under names of its own, declared the same as alpha's (and beta's)
#: street and indoor: ``delta-street`` by id (the names capitalised, a class ``ignore`` of its own at id 8,
#: unpaired), ``delta-indoor`` by name (indoor's classes in the reverse order, then ``ignore``)
DELTA_STREET = [n.capitalize() for n in STREET] + ["ignore"]
DELTA_INDOOR = [*reversed(INDOOR), "ignore"]


def delta_files() -> dict[str, str]:
    """The spec files of ``delta`` (see :data:`DELTA_STREET`): beta's, street and indoor renamed and
    declared corresponding (``same_classes_as``), street-raw left out."""
    files = spec_files("beta")
    for rel in ("datasets/street.yaml", "datasets/indoor.yaml", "datasets/street-raw.yaml",
                "mappings/street-raw_to_street.yaml", "mappings/street_to_universal.yaml",
                "mappings/indoor_to_universal.yaml"):
        del files[rel]
    beta = SPECS["beta"]["to_universal"]  # type: ignore[index]
    universal: list[str] = SPECS["beta"]["universal"]  # type: ignore[assignment]
    files["datasets/delta-street.yaml"] = _dataset("delta-street", DELTA_STREET,
                                                   "{space: street, by: id, unpaired: [ignore]}")
    files["mappings/delta-street_to_universal.yaml"] = _mapping(
        "delta-street", "universal", {n.capitalize(): v for n, v in beta["street"].items()}, DELTA_STREET, universal)
    files["datasets/delta-indoor.yaml"] = _dataset("delta-indoor", DELTA_INDOOR,
                                                   "{space: indoor, by: name, unpaired: [ignore]}")
    files["mappings/delta-indoor_to_universal.yaml"] = _mapping(
        "delta-indoor", "universal", dict(beta["indoor"]), DELTA_INDOOR, universal)
    return files


def spec_files(name: str, rename: dict[str, str] | None = None) -> dict[str, str]:
    """The spec files of ``alpha`` or ``beta`` (relative path -> text), universal classes renamed by ``rename``;
    ``delta``: :func:`delta_files`."""
    if name == "delta":
        return delta_files()
    s = SPECS[name]
    ren = dict(rename or {})

    def r(v: object) -> object:
        return [ren.get(x, x) for x in v] if isinstance(v, list) else ren.get(str(v), str(v))

    universal: list[str] = [ren.get(n, n) for n in s["universal"]]  # type: ignore[attr-defined]
    s = {**s, "to_universal": {ds: {k: r(v) for k, v in pairs.items()}
                               for ds, pairs in s["to_universal"].items()},  # type: ignore[attr-defined]
         "to_eval": {ren.get(k, k): v for k, v in s["to_eval"].items()}}  # type: ignore[attr-defined]
    uni = [{"name": n, "parent": "thing" if n != "thing" else None, "synset": re.sub(r"\W", "_", n) + ".n.01",
            "wordnet_modified": False} for n in universal]
    spaces = {"street": ("train", list(STREET)), "indoor": ("train", list(INDOOR)), "eval": ("test", list(EVAL)),
              **s["datasets"]}  # type: ignore[dict-item]
    files = {"universal.yaml": importer.render_universal(uni, {n: f"A {n}." for n in universal})}
    if len(universal) > 255:  # a wide universal space: uint16 labels, ignore 65535
        text = files["universal.yaml"]
        assert "ignore: {id: 255, name: unlabeled}" in text
        files["universal.yaml"] = text.replace("ignore: {id: 255, name: unlabeled}",
                                               "label_dtype: uint16\nignore: {id: 65535, name: unlabeled}")
    for ds, (role, classes) in spaces.items():
        files[f"datasets/{ds}.yaml"] = importer.render_dataset(importer.Space(ds, role, classes))
    files["datasets/street-raw.yaml"] = importer.render_dataset(
        importer.Space("street-raw", "source", ["unlabeled", *STREET], label_dtype="uint16", ignore=65535))
    for ds, pairs in s["to_universal"].items():  # type: ignore[attr-defined]
        files[f"mappings/{ds}_to_universal.yaml"] = _mapping(ds, "universal", pairs, spaces[ds][1], universal)
    files["mappings/universal_to_eval.yaml"] = _mapping("universal", "eval", s["to_eval"],  # type: ignore[arg-type]
                                                        universal, list(EVAL))
    files["mappings/street-raw_to_street.yaml"] = _mapping("street-raw", "street", {n: n for n in STREET},
                                                           ["unlabeled", *STREET], list(STREET))
    return files


def write_specs(name: str, root: Path, rename: dict[str, str] | None = None) -> Path:
    """Write the specs of ``alpha`` or ``beta`` into ``root`` (see :func:`spec_files`); returns ``root``."""
    for rel, text in spec_files(name, rename).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


_BUILT: dict[str, Path] = {}
_TMP: list[Path] = []


def build(name: str) -> Path:
    """``alpha``, ``beta`` (or ``gamma``, ``delta``) compiled (once per process) into a temporary folder; returns
    the build folder."""
    if name not in _BUILT:
        from unitax.compiler import build as compiler

        if not _TMP:
            _TMP.append(Path(tempfile.mkdtemp(prefix="unitax-twins-")))
            atexit.register(shutil.rmtree, _TMP[0], True)
        specs = write_specs(name, _TMP[0] / f"{name}-specs")
        out = _TMP[0] / name
        compiler.compile_taxonomy(specs, out)
        _BUILT[name] = out
    return _BUILT[name]
