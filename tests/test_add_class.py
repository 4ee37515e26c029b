"""`unitax add-class`: a universal class in one command, its decision drafted in every mapping
(tools/authoring/add_class.py), and `check --strict` passing once the drafts are confirmed and its warnings
accepted in universal.yaml. On a copy of the frozen MSeg specs where a test needs every kind of
mapping or --strict, else on the corpus's small closed subset of them (support.corpus.BASE)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import yamlio
from support.corpus import make_specs
from support.edits import confirm_drafts
from support.paths import SPECS

import unitax
from unitax.tools.cli import main


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    dst = tmp_path / "taxonomy"
    shutil.copytree(SPECS, dst)
    return dst


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """universal, camvid-11 (test), cityscapes-19 and -34 (train), their mappings: checks in ~0.1 s."""
    return make_specs(tmp_path, {"edits": []})


def invoke(*args: str):
    return CliRunner().invoke(main, [*map(str, args)])


def _mappings(specs: Path) -> dict[str, dict]:
    return {p.name: yamlio.load(p.read_text("utf-8")) for p in sorted((specs / "mappings").glob("*.yaml"))}


def test_a_new_class_is_appended_and_drafted_in_every_mapping_to_and_from_universal(specs):
    before = _mappings(specs)
    old_universal = (specs / "universal.yaml").read_text("utf-8")
    r = invoke("add-class", "snowman", "--parent", "outdoor", "--definition", "A figure of packed snow.",
               "--specs", specs)
    assert r.exit_code == 0, r.output
    uni = yamlio.load((specs / "universal.yaml").read_text("utf-8"))["classes"]
    assert uni[-1]["name"] == "snowman" and uni[-1]["id"] == uni[-2]["id"] + 1 == len(uni) - 1
    assert tuple(uni[-1]["color"]) not in {tuple(c["color"]) for c in uni[:-1]}
    assert (specs / "universal.yaml").read_text("utf-8").startswith(old_universal)  # only appended
    after = _mappings(specs)
    involved = [n for n, m in before.items() if "universal" in (m["source"], m["target"])]
    assert involved and all(after[n]["draft"] == {"snowman": after[n]["draft"]["snowman"]} for n in involved)
    for n, m in before.items():
        if n not in involved:
            assert after[n] == m, n
        elif m["target"] == "universal":
            assert after[n]["unfed"] == [*m["unfed"], "snowman"] and after[n]["map"] == m["map"], n
        else:
            assert after[n]["ignore"] == [*m["ignore"], "snowman"] and after[n]["map"] == m["map"], n
    r = invoke("check", "--specs", specs, "--no-stale")
    assert r.exit_code == 1
    drafts = [line for line in r.output.splitlines() if line.endswith("[draft-entry]")]
    assert len(drafts) == len(involved)
    assert any("$.draft.snowman: 'snowman' is left unfed: an unconfirmed draft" in d for d in drafts)
    assert any("$.draft.snowman: 'snowman' is ignored: an unconfirmed draft" in d for d in drafts)


def test_a_second_class_drafts_beside_the_first_ones_unconfirmed_drafts(small):
    specs = small
    r = invoke("add-class", "snowman", "--parent", "outdoor", "--definition", "Snow.", "--specs", specs)
    assert r.exit_code == 0, r.output
    r = invoke("add-class", "hoverboard", "--parent", "vehicle", "--definition", "A board.", "--specs", specs)
    assert r.exit_code == 0, r.output
    cs = _mappings(specs)["cityscapes-19_to_universal.yaml"]
    assert cs["unfed"][-2:] == ["snowman", "hoverboard"] and set(cs["draft"]) == {"snowman", "hoverboard"}
    names = [c["name"] for c in yamlio.load((specs / "universal.yaml").read_text("utf-8"))["classes"]]
    assert names[-2:] == ["snowman", "hoverboard"]


def test_confirmed_drafts_compile_and_check_strict_passes_with_an_accept_in_universal(specs, tmp_path):
    assert invoke("add-class", "snowman", "--parent", "outdoor", "--definition", "A figure of packed snow.",
                  "--specs", specs).exit_code == 0
    confirm_drafts(specs)
    r = invoke("check", "--strict", "--specs", specs, "--no-stale")
    assert r.exit_code == 1 and "'snowman' (id 194) is supervised by no train dataset [unsupervised-class]" in r.output
    with open(specs / "universal.yaml", "a", encoding="utf-8") as f:
        f.write("accept:\n"
                "  - {rule: unsupervised-class, class: snowman, reason: no dataset labels snowmen yet}\n"
                "  - {rule: unused-class, class: snowman, reason: no test dataset has snowmen}\n"
                "  - {rule: unused-class, class: snowman, reason: the same warning accepted twice is not stale}\n")
    out = tmp_path / "out"
    assert invoke("compile", "--specs", specs, "--out", out).exit_code == 0
    r = invoke("check", "--strict", "--specs", specs, "--out", out)
    assert r.exit_code == 0, r.output
    assert "accepted: universal class 'snowman' (id 194) is supervised by no train dataset" in r.output
    assert "[accept-stale]" not in r.output
    tax = unitax.load(out)
    assert tax.universal_names[-1] == "snowman" and (tax.lut("ade20k-150") != 194).all()


def test_an_accept_in_universal_that_matches_nothing_is_stale(small):
    specs = small
    with open(specs / "universal.yaml", "a", encoding="utf-8") as f:
        f.write("accept:\n  - {rule: unsupervised-class, class: car, reason: car is supervised}\n")
    r = invoke("check", "--specs", specs, "--no-stale")
    assert r.exit_code == 0, r.output
    assert "universal.yaml:" in r.output and "accepts [unsupervised-class] for 'car'" in r.output
    assert "[accept-stale]" in r.output


def test_a_split_feeds_what_the_old_class_feeds_and_drafts_its_feeders(specs, tmp_path):
    r = invoke("add-class", "moped", "--parent", "vehicle", "--definition", "A moped or a small scooter.",
               "--split-from", "motorcycle", "--specs", specs)
    assert r.exit_code == 0, r.output
    m = _mappings(specs)
    ade = m["ade20k-150_to_universal.yaml"]
    assert ade["map"]["minibike"] == "motorcycle" and set(ade["draft"]) == {"minibike", "moped"}
    assert "moped" in ade["unfed"]
    for n, mp in m.items():
        if mp["source"] == "universal" and "motorcycle" in mp["map"]:
            assert mp["map"]["moped"] == mp["map"]["motorcycle"] and "moped" in mp["draft"], n
    # the person's decision: ADE's minibike is a moped (and nothing of ADE's feeds motorcycle any more)
    p = specs / "mappings" / "ade20k-150_to_universal.yaml"
    text = p.read_text("utf-8").replace("  minibike: motorcycle\n", "  minibike: moped\n")
    text = text.replace("  - moped\n", "  - motorcycle\n", 1)
    p.write_text(text, "utf-8")
    confirm_drafts(specs)
    out = tmp_path / "out"
    r = invoke("compile", "--specs", specs, "--out", out)
    assert r.exit_code == 0, r.output
    tax = unitax.load(out)
    moped = tax.universal_names.index("moped")
    assert tax.lut("ade20k-150")[tax.names("ade20k-150").index("minibike")] == moped
    for t in tax.test_datasets:  # every test dataset scores a moped as it scores a motorcycle
        mat = tax.matrix(t)
        assert (mat[:, moped] == mat[:, tax.universal_names.index("motorcycle")]).all(), t


def test_an_all_others_mapping_is_left_for_unfed_stale(small):
    specs = small
    names = specs.parent / "names.txt"
    names.write_text("road\nsnow\n")
    assert invoke("new-dataset", "mycity-test-only", "--names", names, "--specs", specs).exit_code == 0
    confirm_drafts(specs)
    p = specs / "mappings" / "mycity-test-only_to_universal.yaml"
    before = p.read_bytes()
    assert invoke("add-class", "snowman", "--parent", "outdoor", "--definition", "Snow, shaped.",
                  "--specs", specs).exit_code == 0
    assert p.read_bytes() == before
    r = invoke("check", "--specs", specs, "--no-stale")
    assert "mycity-test-only_to_universal.yaml" in r.output
    assert "'snowman'; decide whether a mycity-test-only" in r.output
    assert "[unfed-stale]" in r.output


@pytest.mark.parametrize("args, message", [
    (["car", "--parent", "vehicle", "--definition", "x"], "'car' is a universal class already (id "),
    (["moped", "--parent", "vehicle", "--definition", "x", "--split-from", "motorcycel"],
     "--split-from 'motorcycel' is not a universal class; did you mean 'motorcycle'?"),
    (["moped", "--parent", "vehicle", "--definition", " "], "--definition is empty"),
    (["moped", "--parent", "vehicle", "--definition", "x", "--synset", "moped"], "--synset 'moped' is not a WordNet"),
])
def test_bad_arguments_exit_2_and_write_nothing(small, args, message):
    specs = small
    before = {p: p.read_bytes() for p in specs.rglob("*.yaml")}
    r = invoke("add-class", *args, "--specs", specs)
    assert r.exit_code == 2 and message in r.output, r.output
    assert {p: p.read_bytes() for p in specs.rglob("*.yaml")} == before


def test_invalid_specs_exit_1_naming_the_problem(small):
    specs = small
    p = specs / "mappings" / "cityscapes-19_to_universal.yaml"
    p.write_text(p.read_text("utf-8").replace("  road: road\n", ""), "utf-8")
    assert "name: moped\n" not in (specs / "universal.yaml").read_text("utf-8")
    r = invoke("add-class", "moped", "--parent", "vehicle", "--definition", "x", "--specs", specs)
    assert r.exit_code == 1 and "[unmapped-class]" in r.output and "do not validate" in r.output
    assert "name: moped\n" not in (specs / "universal.yaml").read_text("utf-8")
