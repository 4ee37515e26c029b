"""The spec keys an importer of a published taxonomy writes for its slips (issue 23): ``unlisted``
and ``stray`` in mappings, ``unscored`` in datasets, and duplicate members of a union set: each a
warning with file, line and rule that compiles to a defined table, and that ``accept:`` records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from support.union_city import UNION, UNIVERSAL, write_specs

import unitax
from unitax.compiler import build

ONE_TO_ONE = """source: city
target: universal
map:
  road: road
  vehicle: car
ignore:
  - sky
unlisted:
  - animal
stray:
  raod: road
unfed:
  - person
  - sky
  - tree
  - dog
  - cat
"""


def _problems(root: Path) -> tuple[object, list[str], list[str]]:
    model, problems = build.check_specs(root)
    return (model, [str(p) for p in problems if p.severity == "error"],
            [str(p) for p in problems if p.severity != "error"])


def test_unlisted_and_stray_are_warnings_with_lines_and_compile_as_ignored(tmp_path):
    root = write_specs(tmp_path / "specs", ONE_TO_ONE)
    model, errors, warnings = _problems(root)
    assert errors == [] and model is not None
    unlisted = [w for w in warnings if "[unlisted-class]" in w]
    stray = [w for w in warnings if "[stray-entry]" in w]
    assert len(unlisted) == 1 and "city_to_universal.yaml:9 " in unlisted[0] and "'animal' (id 2)" in unlisted[0]
    assert len(stray) == 1 and "city_to_universal.yaml:11 " in stray[0] and "did you mean 'road'?" in stray[0]
    out = tmp_path / "out"
    build.write_tree(build.render(root)[1], out)
    lut = unitax.load(out).lut("city")
    u = {n: i for i, n in enumerate(UNIVERSAL)}
    assert list(lut[:4]) == [u["road"], u["car"], 255, 255]   # animal (unlisted) and sky (ignored): ignore


def test_accept_records_a_slip_and_a_stale_entry_is_reported(tmp_path):
    accept = ("accept:\n  - rule: unlisted-class\n    class: animal\n    reason: the authors left it out\n"
              "  - rule: stray-entry\n    class: raod\n    reason: a typo of the published sheet\n")
    root = write_specs(tmp_path, ONE_TO_ONE + accept)
    _, errors, warnings = _problems(root)
    model, files, problems = build.render(root)
    assert errors == []
    assert sorted(p.rule for p in problems if p.severity == "accepted") == ["stray-entry", "unlisted-class"]
    assert not [p for p in problems if p.severity == "warning" and p.rule in ("stray-entry", "unlisted-class")]


def test_an_unlisted_class_that_is_also_mapped_or_unknown_is_an_error(tmp_path):
    _, errors, _ = _problems(write_specs(tmp_path / "a", ONE_TO_ONE.replace("  - animal\n", "  - vehicle\n")))
    assert any("[mapped-twice]" in e and "'vehicle'" in e for e in errors), errors
    _, errors, _ = _problems(write_specs(tmp_path / "b", ONE_TO_ONE.replace("  - animal\n", "  - aminal\n")))
    assert any("[unknown-class]" in e and "did you mean 'animal'?" in e for e in errors), errors


def test_a_union_set_naming_a_class_twice_is_a_warning_and_compiles_once(tmp_path):
    root = write_specs(tmp_path / "specs", UNION.replace("[dog, cat]", "[dog, cat, dog]"))
    model, errors, warnings = _problems(root)
    assert errors == []
    dup = [w for w in warnings if "[duplicate-in-set]" in w]
    assert len(dup) == 1 and "city_to_universal.yaml:7 " in dup[0] and "names 'dog' twice" in dup[0]
    out = tmp_path / "out"
    build.write_tree(build.render(root)[1], out)
    sets = unitax.load(out).class_sets("city")
    assert set(np.flatnonzero(sets[2])) == {UNIVERSAL.index("dog"), UNIVERSAL.index("cat")}


def test_unscored_classes_reach_the_build_and_an_unknown_one_is_a_warning(tmp_path):
    city = ("name: city\nrole: train\nlabel_dtype: uint8\nignore: 255\nunscored:\n  - sky\n  - skye\nclasses:\n"
            "  - {id: 0, name: road}\n  - {id: 1, name: vehicle}\n  - {id: 2, name: animal}\n  - {id: 3, name: sky}\n")
    root = write_specs(tmp_path / "specs", extra={"datasets/city.yaml": city})
    model, errors, warnings = _problems(root)
    assert errors == [] and model.spaces["city"].unscored == (3,)
    unknown = [w for w in warnings if "[unknown-unscored]" in w]
    assert len(unknown) == 1 and "city.yaml:7 " in unknown[0] and "did you mean 'sky'?" in unknown[0]
    out = tmp_path / "out"
    build.write_tree(build.render(root)[1], out)
    assert unitax.load(out).unscored("city") == ("sky",)


def test_a_universal_taxonomy_without_any_definition_is_one_warning(tmp_path):
    root = write_specs(tmp_path / "specs")
    p = root / "universal.yaml"
    text = p.read_text()
    for n in UNIVERSAL:
        text = text.replace(f"definition: A {n}.\n", 'definition: ""\n')
    p.write_text(text)
    model, errors, warnings = _problems(root)
    empty = [w for w in warnings if "[empty-definition]" in w]
    assert errors == [] and len(empty) == 1 and f"none of the {len(UNIVERSAL)} universal classes" in empty[0], warnings


def test_a_class_only_ever_inside_a_larger_union_set_is_named_so(tmp_path):
    """dog and cat are only in animal's set {dog, cat}: a union supervises them (no unsupervised-class warning), and
    the supervision note names them as supervised only through a larger set (UT has six such)."""
    from unitax.compiler import analysis

    root = write_specs(tmp_path / "specs")
    model, _, problems = build.render(root)
    assert not [p for p in problems if p.rule == "unsupervised-class" and "'cat'" in str(p)]
    note = next(n for n in analysis.notes(model) if n.startswith("supervision:"))
    assert note.endswith("; 2 only ever as one of several classes of a union set (dog, cat)"), note


def test_a_label_space_two_spec_roots_declare_differently_is_reported(tmp_path):
    """`unitax check --bundled`: a name is one label space (names and ids) in every bundled taxonomy."""
    from unitax.tools.commands.authoring import shared_space_problems

    a, b = write_specs(tmp_path / "a"), write_specs(tmp_path / "b")
    assert shared_space_problems([a, b]) == []
    p = b / "datasets" / "city.yaml"
    p.write_text(p.read_text().replace("name: vehicle", "name: vehicles"))
    [line] = shared_space_problems([a, b])
    assert line.startswith(f"{p}:1: label space 'city' differs from {a / 'datasets' / 'city.yaml'}")
    assert "id 1: 'vehicle' there, 'vehicles' here" in line and line.endswith("[shared-space]")
