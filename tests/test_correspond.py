"""Corresponding label spaces (``same_classes_as``, compiler/correspond.py): a dataset declared the same
label space as another, class for class by id or by name. Checked by the compiler inside one spec root,
by `unitax check --bundled` across roots, and by `unitax compare`, which compares two taxonomies through
the pairs; written by `unitax import-ut` where UT's data shows it. On the twins (tests/support/twins.py:
delta is beta with street and indoor renamed and declared corresponding)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import twins
from support.paths import ROOT

import unitax
from unitax.compiler import build, correspond
from unitax.compiler.correspond import SameClasses
from unitax.tools.authoring import published, ut_import
from unitax.tools.cli import main
from unitax.tools.commands.authoring import same_classes_problems
from unitax.tools.data import compare as cmp

FIXTURES = ROOT / "tests" / "fixtures"


def _by_relation(rels: tuple[cmp.Relation, ...]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {k: set() for k in cmp.RELATIONS}
    for r in rels:
        out[r.relation].add(r.name)
    return out


# ----- the pairing ------------------------------------------------------------------------------------


def test_pairs_by_id_and_by_name_leave_out_the_unpaired():
    pairs, problems = correspond.pair("x", ["A", "B", "ignore"], SameClasses("y", "id", ("ignore",)), ["a", "b"])
    assert pairs == ((0, 0), (1, 1)) and problems == []
    pairs, problems = correspond.pair("x", ["b", "ignore", "a"], SameClasses("y", "name", ("ignore",)), ["a", "b"])
    assert pairs == ((0, 1), (2, 0)) and problems == []
    # a void id there has no class to pair with
    _, problems = correspond.pair("x", ["a", "b"], SameClasses("y", "id"), ["a", None, "b"])
    assert [w for w, _ in problems] == [("classes", 1), ("same_classes_as", "space")]


def test_totality_both_ways_and_each_problem_where_it_lies():
    # a class here without a partner, not listed: named, at its class entry
    _, problems = correspond.pair("x", ["a", "b", "extra"], SameClasses("y", "id"), ["a", "b"])
    assert problems == [(("classes", 2), "x class 'extra' (id 2) has no partner by id: y has no class of id 2; "
                                         "list it under same_classes_as.unpaired, or correct the declaration")]
    # a class there without a partner here (listing a class with a partner as unpaired leaves it lonely)
    _, problems = correspond.pair("x", ["a", "b"], SameClasses("y", "name", ("b",)), ["a", "b"])
    assert problems == [(("same_classes_as", "space"), "1 class(es) of y pair with no class of x by name: 'b' "
                                                       "(id 1); the two do not have the same classes")]
    # unpaired names that are no class, or twice
    _, problems = correspond.pair("x", ["a"], SameClasses("y", "id", ("zz", "a", "a")), ["a"])
    assert [w for w, _ in problems][:2] == [("same_classes_as", "unpaired", 0), ("same_classes_as", "unpaired", 2)]
    _, problems = correspond.pair("x", ["a"], SameClasses("x", "id"), ["a"])
    assert "declares itself" in problems[0][1]


# ----- the compiler, inside one spec root ------------------------------------------------------------


def _root(tmp_path: Path, extra: dict[str, str]) -> Path:
    root = twins.write_specs("alpha", tmp_path / "specs")
    universal = twins.SPECS["alpha"]["universal"]
    for name, text in extra.items():
        (root / "datasets" / f"{name}.yaml").write_text(text, encoding="utf-8")
        classes = [line.split("name: ")[1].rstrip("}").strip('"') for line in text.splitlines() if "{id:" in line]
        (root / "mappings" / f"{name}_to_universal.yaml").write_text(twins._mapping(  # the rest ignored
            name, "universal", {classes[0]: "road"}, classes, universal), encoding="utf-8")  # type: ignore[arg-type]
    return root


def test_a_declaration_that_holds_compiles_into_the_build_and_its_docs(tmp_path):
    root = _root(tmp_path, {"street2": twins._dataset("street2", twins.DELTA_STREET,
                                                     "{space: street, by: id, unpaired: [ignore]}")})
    out = tmp_path / "out"
    build.compile_taxonomy(root, out)
    tax = unitax.load(out)
    assert tax.same_classes_as("street2") == ("street", "id", ("ignore",))
    assert tax.same_classes_as("street") is None
    doc = json.loads((out / "taxonomy.json").read_text("utf-8"))
    assert doc["datasets"]["street2"]["same_classes_as"] == {"space": "street", "by": "id", "unpaired": ["ignore"]}
    page = (out / "docs" / "md" / "dataset" / "street2.md").read_text("utf-8")
    assert "same classes as" in page and "street, class for class by id; no partner there: ignore" in page
    # a note says why (a declaration a person wrote): in the build and on the page
    p = root / "datasets" / "street2.yaml"
    p.write_text(p.read_text("utf-8").replace("unpaired: [ignore]}", 'unpaired: [ignore], note: "capitals"}'))
    build.compile_taxonomy(root, out)
    assert unitax.load(out).same_classes_as("street2") == ("street", "id", ("ignore",))
    doc = json.loads((out / "taxonomy.json").read_text("utf-8"))
    assert doc["datasets"]["street2"]["same_classes_as"]["note"] == "capitals"
    assert "no partner there: ignore (capitals)" in (out / "docs" / "md" / "dataset" / "street2.md").read_text("utf-8")


def test_the_compiler_names_file_line_and_class_of_each_problem(tmp_path):
    lonely = twins._dataset("street2", [*twins.DELTA_STREET, "extra"], "{space: street, by: id, unpaired: [ignore]}")
    by_name = twins._dataset("indoor2", ["floor", "animal", "plant", "lamp"], "{space: indoor, by: name}")
    typo = twins._dataset("indoor3", ["floor", "animal", "plant", "furniture", "lamp"],
                          "{space: indoor, by: name, unpaired: [lampp]}")
    root = _root(tmp_path, {"street2": lonely, "indoor2": by_name, "indoor3": typo})
    _, problems = build.check_specs(root)
    mine = sorted((Path(p.file).name, p.line, p.message) for p in problems if p.rule == "same-classes")
    assert mine == [
        ("indoor2.yaml", 5, "1 class(es) of indoor pair with no class of indoor2 by name: 'furniture' (id 3); "
                            "the two do not have the same classes"),
        ("indoor3.yaml", 5, "unpaired 'lampp' is not a class of indoor3"),
        ("street2.yaml", 16, "street2 class 'extra' (id 9) has no partner by id: street has no class of id 9; "
                             "list it under same_classes_as.unpaired, or correct the declaration"),
    ]
    assert all(p.severity == "error" for p in problems if p.rule == "same-classes")
    result = CliRunner().invoke(main, ["check", "--specs", str(root), "--no-stale"])
    assert result.exit_code == 1 and "street2.yaml:16" in result.output and "[same-classes]" in result.output


def test_a_space_of_another_root_is_left_to_check_bundled(tmp_path):
    """The compiler checks only this side (the unpaired names); the other space may be another taxonomy's."""
    root = _root(tmp_path, {"far": twins._dataset("far", ["a", "b"], "{space: elsewhere, by: id, unpaired: [c]}")})
    _, problems = build.check_specs(root)
    assert [p.message for p in problems if p.rule == "same-classes"] == ["unpaired 'c' is not a class of far"]


# ----- check --bundled, across spec roots -------------------------------------------------------------


def test_check_bundled_checks_a_declaration_against_the_other_root(tmp_path):
    alpha = twins.write_specs("alpha", tmp_path / "alpha")
    delta = twins.write_specs("delta", tmp_path / "delta")
    assert same_classes_problems([alpha, delta]) == []
    assert same_classes_problems([delta]) == [  # no root declares street or indoor
        f"{delta / 'datasets' / n}.yaml:5: same_classes_as names {s!r}, which no bundled taxonomy declares "
        "[same-classes]" for n, s in (("delta-indoor", "indoor"), ("delta-street", "street"))]
    p = delta / "datasets" / "delta-street.yaml"
    p.write_text(p.read_text("utf-8").replace("unpaired: [ignore]", "unpaired: []"), encoding="utf-8")
    assert same_classes_problems([alpha, delta]) == [
        f"{p}:15: delta-street class 'ignore' (id 8) has no partner by id: street has no class of id 8; list it "
        f"under same_classes_as.unpaired, or correct the declaration (against {alpha / 'datasets'}/street.yaml) "
        "[same-classes]"]


def test_the_bundled_taxonomies_correspondences_hold():
    """UT's frozen specs against MSeg's and RVC's, as `make check` runs it on the live ones."""
    roots = [FIXTURES / "mseg-specs", FIXTURES / "rvc-specs", FIXTURES / "ut-specs"]
    assert same_classes_problems(roots) == []
    declared = {p.stem: line for p in sorted((roots[2] / "datasets").glob("*.yaml"))
                for line in p.read_text("utf-8").splitlines() if line.startswith("same_classes_as:")}
    assert declared["ut-ade20k-151"] == "same_classes_as: {space: ade20k-151, by: id}"
    assert declared["ut-coco-panoptic-134"] == ("same_classes_as: {space: coco-panoptic-133, by: name, "
                                                "unpaired: [ignore]}")


# ----- compare ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["alpha-delta", "delta-alpha"])
def test_compare_through_corresponding_spaces_relates_as_through_shared_ones(order):
    """delta is beta with street and indoor renamed: through the correspondences, alpha and delta relate
    as alpha and beta do through the shared spaces, whichever side declares them."""
    alpha, delta = unitax.load(twins.build("alpha")), unitax.load(twins.build("delta"))
    if order == "alpha-delta":
        c = cmp.compare("alpha", alpha, "delta", delta)
        ab, ba = c.a_to_b, c.b_to_a
        assert c.shared.corresponding == (("indoor", "delta-indoor", "name", 5, "mapping", "mapping"),
                                          ("street", "delta-street", "id", 8, "mapping", "mapping"))
    else:
        c = cmp.compare("delta", delta, "alpha", alpha)
        ba, ab = c.a_to_b, c.b_to_a
        assert c.shared.corresponding == (("delta-indoor", "indoor", "name", 5, "mapping", "mapping"),
                                          ("delta-street", "street", "id", 8, "mapping", "mapping"))
    assert _by_relation(ab) == twins.EXPECTED[("alpha", "beta")]
    assert _by_relation(ba) == twins.EXPECTED[("beta", "alpha")]
    text = cmp.text_report(c)
    assert "street \u2261 delta-street by id (8)" in text or "delta-street \u2261 street by id (8)" in text
    assert "street-raw" in c.shared.only_a + c.shared.only_b  # declared by neither: only in alpha
    spaces = cmp.json_report(c)["spaces"]["corresponding"]
    assert {(s["by"], s["pairs"]) for s in spaces} == {("name", 5), ("id", 8)}


def test_compare_refuses_a_correspondence_that_does_not_hold(tmp_path):
    """Built alone, delta's root cannot check its declarations; compare checks them against the other build."""
    specs = twins.write_specs("delta", tmp_path / "specs")
    p = specs / "datasets" / "delta-indoor.yaml"
    p.write_text(p.read_text("utf-8").replace(", unpaired: [ignore]", ""), encoding="utf-8")  # ignore: no partner
    build.compile_taxonomy(specs, tmp_path / "bad")
    alpha = twins.build("alpha")
    c = cmp.compare("alpha", unitax.load(alpha), "bad", unitax.load(tmp_path / "bad"))
    assert [s for s, _ in c.shared.refused] == ["clash", "indoor \u2261 delta-indoor"]
    why = dict(c.shared.refused)["indoor \u2261 delta-indoor"]
    assert why == ("bad declares delta-indoor the same as alpha's indoor by name, which does not hold: delta-indoor "
                   "class 'ignore' (id 5) has no partner by name: indoor has no class named 'ignore'; list it under "
                   "same_classes_as.unpaired, or correct the declaration")
    assert cmp.has_problems(c)
    assert [x for x, *_ in c.shared.corresponding] == ["street"]
    result = CliRunner().invoke(main, ["compare", str(alpha), str(tmp_path / "bad")])
    assert result.exit_code == 1 and "indoor \u2261 delta-indoor (bad declares" in result.output


# ----- the UT importer ------------------------------------------------------------------------------------


def _spec(name: str, classes: list[str]) -> dict[str, object]:
    return {"name": name, "classes": [{"id": i, "name": n} for i, n in enumerate(classes)]}


def test_the_importer_writes_only_what_the_names_show():
    shared = {"bdd": _spec("bdd", ["road", "Column_Pole"]), "bdd-relabeled": _spec("bdd-relabeled", ["road", "pole"]),
              "kitti": _spec("kitti", ["road", "column pole"])}
    decl, found = ut_import.same_classes(["road", "column pole", "ignore"], shared, "bdd")
    assert decl == {"space": "bdd", "by": "id", "unpaired": ["ignore"]}  # folded names agree; kitti: not bdd's
    assert found == "the same classes as bdd by id (unpaired: ignore)"
    # a variant gives way to the space it is a variant of
    shared["bdd-relabeled"] = _spec("bdd-relabeled", ["road", "Column_Pole"])
    assert ut_import.same_classes(["road", "column pole"], shared, "bdd")[0] == {"space": "bdd", "by": "id"}
    # WordNet names, UT's ignore for unlabeled, readable names of a label config
    ade = {"ade": _spec("ade", ["unlabeled", "building", "Bird"])}
    decl, _ = ut_import.same_classes(["ignore", "building, edifice", "animal--bird"], ade, "ade", [
        "ignore", "building, edifice", "Bird"])
    assert decl == {"space": "ade", "by": "id"}
    assert ut_import.same_classes(["ignore", "building, edifice", "animal--bird"], ade, "ade")[0] is None
    # by name: the same names in another order
    coco = {"coco-x": _spec("coco-x", ["b", "a"])}
    assert ut_import.same_classes(["a", "b", "ignore"], coco, "coco")[0] == {
        "space": "coco-x", "by": "name", "unpaired": ["ignore"]}
    # a near miss is said, never written
    decl, found = ut_import.same_classes(["sign", "road"], {"camvid-2": _spec("camvid-2", ["SignSymbol", "Road"])},
                                         "camvid")
    assert decl is None
    assert found == ("not written: no shared space of camvid has the same classes (near: camvid-2 by id, but "
                     "id 0 is 'sign' here, 'SignSymbol' there)")


def test_the_importer_keeps_a_declaration_a_person_wrote_where_the_names_show_none(tmp_path):
    """Re-importing replaces datasets/ wholesale; a same_classes_as the names do not show (CamVid's SignSymbol,
    which UT calls sign) is kept with its note, and the import says so."""
    folder = tmp_path / "taxonomies"
    folder.mkdir()
    (folder / "universal_classes.py").write_text("class_to_index = {'road': 0, 'sign': 1, 'ignore': 2}\n")
    (folder / "camvid.py").write_text(
        "class_to_index = {'road': 0, 'sign': 1, 'ignore': 2}\n"
        "mapping = {'road': ['road'], 'sign': ['sign'], 'ignore': ['ignore']}\n"
        "class_to_eval = {k: k != 'ignore' for k, v in class_to_index.items()}\n")
    shared = {"camvid-2": {"name": "camvid-2", "classes": [{"id": 0, "name": "Road"}, {"id": 1, "name": "SignSymbol"}]}}
    notes: list[str] = []
    files, _ = ut_import.render_specs(folder, shared, notes=notes)
    assert "same_classes_as" not in files["datasets/ut-camvid-3.yaml"]
    assert notes == ["ut-camvid-3: not written: no shared space of camvid has the same classes (near: camvid-2 by "
                     "id, but id 1 is 'sign' here, 'SignSymbol' there)"]
    specs = tmp_path / "specs"
    (specs / "datasets").mkdir(parents=True)
    (specs / "datasets" / "ut-camvid-3.yaml").write_text(files["datasets/ut-camvid-3.yaml"].replace(
        "classes:", "same_classes_as:\n  space: camvid-2\n  by: id\n  unpaired: [ignore]\n  note: sign is SignSymbol\n"
        "classes:"), encoding="utf-8")
    kept = published.kept_same_classes(specs)
    assert kept == {"ut-camvid-3": {"space": "camvid-2", "by": "id", "unpaired": ["ignore"],
                                    "note": "sign is SignSymbol"}}
    notes.clear()
    files, _ = ut_import.render_specs(folder, shared, notes=notes, kept=kept)
    assert ("same_classes_as: {space: camvid-2, by: id, unpaired: [ignore], note: sign is SignSymbol}"
            in files["datasets/ut-camvid-3.yaml"])
    assert notes[0].endswith("; kept the declaration in the specs (camvid-2 by id)")
    # where the names do show one, the importer's is written (and it says what it replaced)
    shared["camvid-2"]["classes"][1]["name"] = "Sign"  # type: ignore[index]
    notes.clear()
    files, _ = ut_import.render_specs(folder, shared, notes=notes, kept=kept)
    assert "same_classes_as: {space: camvid-2, by: id, unpaired: [ignore]}\n" in files["datasets/ut-camvid-3.yaml"]
    assert notes == ["ut-camvid-3: the same classes as camvid-2 by id (unpaired: ignore); replaced the declaration "
                     "in the specs (camvid-2 by id)"]


def test_check_of_a_spec_root_of_ones_own_checks_its_declarations_against_the_bundled_ones(tmp_path, monkeypatch):
    """`unitax check --specs MINE` in a checkout: a space named outside MINE is looked up in the bundled
    taxonomies' spec roots (here alpha's specs stand in for taxonomy/); a misspelt one fails the check."""
    monkeypatch.chdir(tmp_path)
    twins.write_specs("alpha", tmp_path / "taxonomy")
    delta = twins.write_specs("delta", tmp_path / "mine")
    ok = CliRunner().invoke(main, ["check", "--specs", str(delta), "--no-stale"])
    assert ok.exit_code == 0, ok.output
    p = delta / "datasets" / "delta-street.yaml"
    p.write_text(p.read_text("utf-8").replace("space: street", "space: streets"), encoding="utf-8")
    bad = CliRunner().invoke(main, ["check", "--specs", str(delta), "--no-stale"])
    assert bad.exit_code == 1, bad.output
    assert f"{p}:5: same_classes_as names 'streets', which no bundled taxonomy declares [same-classes]" in bad.output
