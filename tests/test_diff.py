"""`unitax diff OLD NEW`: classes added, removed, renamed, renumbered, split and merged, every
changed lookup-table entry, the breaking-change exit status, folders and git revisions.

Edits are made on copies of real MSeg spec files (a closed subset: the universal taxonomy,
cityscapes-19 and bdd as train data, kitti-19 as test data) through their YAML data; after each
edit the mappings are made total again the way an editor would (newly unfed universal classes
listed in `unfed`, new universal classes ignored by the test mapping)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import yamlio
from support.paths import SPECS

from unitax.tools.authoring import diff
from unitax.tools.cli import main

FILES = ("universal.yaml", "datasets/cityscapes-19.yaml", "datasets/bdd.yaml", "datasets/kitti-19.yaml",
         "mappings/cityscapes-19_to_universal.yaml", "mappings/bdd_to_universal.yaml",
         "mappings/universal_to_kitti-19.yaml")


def copy_specs(dst: Path) -> Path:
    for rel in FILES:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPECS / rel, dst / rel)
    return dst


@pytest.fixture
def old(tmp_path) -> Path:
    return copy_specs(tmp_path / "old")


@pytest.fixture
def new(tmp_path) -> Path:
    return copy_specs(tmp_path / "new")


def read(root: Path, rel: str):
    return yamlio.load((root / rel).read_text("utf-8"))


def write(root: Path, rel: str, data) -> None:
    (root / rel).write_text(yamlio.dump(data), "utf-8")


def universal_edit(root: Path, fn) -> None:
    """Apply ``fn`` to the list of universal classes, renumber ids in list order, re-total mappings."""
    u = read(root, "universal.yaml")
    u["classes"] = fn(u["classes"])
    for i, c in enumerate(u["classes"]):
        c["id"] = i
    write(root, "universal.yaml", u)
    retotal(root)


def retotal(root: Path) -> None:
    names = [c["name"] for c in read(root, "universal.yaml")["classes"]]
    for p in sorted((root / "mappings").glob("*.yaml")):
        rel = p.relative_to(root).as_posix()
        m = read(root, rel)
        if m["target"] == "universal":
            fed = {n for v in m["map"].values() for n in (v if isinstance(v, list) else [v])}  # union mappings: sets
            m["unfed"] = [n for n in names if n not in fed]
        elif m["source"] == "universal":
            m["map"] = {k: v for k, v in m["map"].items() if k in names}
            m["ignore"] = [n for n in names if n not in m["map"]]
            test = [c["name"] for c in read(root, f"datasets/{m['target']}.yaml")["classes"]]
            m["unfed"] = [t for t in test if t not in m["map"].values()]
        write(root, rel, m)


def new_class(name: str) -> dict:
    return {"id": 0, "name": name, "parent": None, "synset": None, "wordnet_modified": None,
            "color": [1, 2, 3], "definition": f"test class {name}"}


def remap_feeder(root: Path, dataset: str, cls: str, to: str) -> None:
    rel = f"mappings/{dataset}_to_universal.yaml"
    m = read(root, rel)
    m["map"][cls] = to
    write(root, rel, m)
    retotal(root)


def run(old: Path, new: Path, fmt: str = "json"):
    r = CliRunner().invoke(main, ["diff", str(old), str(new), "--format", fmt])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info
    return r


def compare(old: Path, new: Path) -> dict:
    return diff.compare(diff.load_side(str(old)), diff.load_side(str(new)))


# ----- the real taxonomy -------------------------------------------------------------------------


def test_the_mseg_taxonomy_against_itself():
    r = run(SPECS, SPECS, "markdown")
    assert r.exit_code == 0, r.output
    assert "No existing class id changed meaning." in r.stdout and "No changes." in r.stdout
    side = diff.load_side(str(SPECS))
    d = diff.compare(side, side)
    assert d["breaking"] == [] and d["tables"] == {} and d["datasets"] == {} and diff.is_empty(d)
    assert d["fingerprint"]["old"] == d["fingerprint"]["new"]
    assert json.loads(diff.to_json(d)) == d


def _git(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    config = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *config, *argv], cwd=cwd, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_revisions(tmp_path, monkeypatch):
    repo = tmp_path / "repo"  # a repository whose HEAD holds the frozen MSeg specs as taxonomy/
    shutil.copytree(SPECS, repo / "taxonomy")
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "specs"]):
        assert _git(*argv, cwd=repo).returncode == 0
    monkeypatch.chdir(repo)
    head = diff.load_side("HEAD")
    n = len(head.model.universal.classes)
    assert head.label == "HEAD:taxonomy" and n > 0
    assert diff.is_empty(diff.compare(head, head))
    # HEAD against an edited export of HEAD: the revision side is read from git, not the folder
    edited = tmp_path / "edited"
    with diff.specs_of("HEAD") as (root, _):
        shutil.copytree(root, edited)
    universal_edit(edited, lambda cs: cs + [new_class("hoverboard")])
    r = CliRunner().invoke(main, ["diff", "HEAD", str(edited), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["universal"]["added"] == [{"id": n, "name": "hoverboard"}]
    r = CliRunner().invoke(main, ["diff", "no-such-revision-xyz", str(edited)])
    assert r.exit_code == 2 and "neither a folder nor a git revision" in r.stderr


# ----- each kind of change -------------------------------------------------------------------------


def test_rename_is_not_breaking_but_changes_the_fingerprint(old, new):
    for rel in ("mappings/cityscapes-19_to_universal.yaml", "mappings/bdd_to_universal.yaml"):
        m = read(new, rel)
        m["map"] = {k: ("automobile" if v == "car" else v) for k, v in m["map"].items()}
        write(new, rel, m)
    m = read(new, "mappings/universal_to_kitti-19.yaml")
    m["map"] = {("automobile" if k == "car" else k): v for k, v in m["map"].items()}
    write(new, "mappings/universal_to_kitti-19.yaml", m)
    universal_edit(new, lambda cs: [dict(c, name="automobile") if c["name"] == "car" else c for c in cs])
    r = run(old, new)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["universal"]["renamed"] == [{"old": {"id": 176, "name": "car"}, "new": {"id": 176, "name": "automobile"}}]
    assert d["universal"]["added"] == d["universal"]["removed"] == d["universal"]["renumbered"] == []
    assert d["breaking"] == [] and d["tables"] == {}  # same ids everywhere
    assert d["fingerprint"]["old"] != d["fingerprint"]["new"]


def test_renumbering_is_breaking_and_lists_every_changed_entry(old, new):
    def swap(cs):
        i, j = next(k for k, c in enumerate(cs) if c["name"] == "bus"), next(k for k, c in enumerate(cs)
                                                                               if c["name"] == "train")
        cs[i], cs[j] = cs[j], cs[i]
        return cs

    universal_edit(new, swap)
    r = run(old, new)
    assert r.exit_code == 1, r.output
    d = json.loads(r.stdout)
    assert d["universal"]["renumbered"] == [{"name": "bus", "old_id": 180, "new_id": 181},
                                            {"name": "train", "old_id": 181, "new_id": 180}]
    assert d["breaking"] == ["universal class 'bus' (id 180) moved to id 181",
                             "universal class 'train' (id 181) moved to id 180"]
    cs = d["tables"]["to_universal/cityscapes-19"]["entries"]
    assert cs == [{"entry": "15 'bus'", "old": "180 'bus'", "new": "181 'bus'"},
                  {"entry": "16 'train'", "old": "181 'train'", "new": "180 'train'"}]
    assert {"entry": "180 'bus' \u2192 'train'", "old": "15 'bus'", "new": "16 'train'"} in \
        d["tables"]["from_universal/kitti-19"]["entries"]
    assert len(d["tables"]["matrix/kitti-19"]["entries"]) == 4
    md = diff.to_markdown(d)
    assert "**Breaking:** 2 existing class id(s)" in md and "| 15 'bus' | 180 'bus' | 181 'bus' |" in md


def test_added_at_the_end_is_not_breaking(old, new):
    universal_edit(new, lambda cs: cs + [new_class("van")])
    r = run(old, new)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["universal"]["added"] == [{"id": 194, "name": "van"}] and d["breaking"] == []
    assert d["tables"]["matrix/kitti-19"]["old_shape"] == [19, 194]
    assert d["tables"]["matrix/kitti-19"]["new_shape"] == [19, 195]


def test_split(old, new):
    universal_edit(new, lambda cs: cs + [new_class("car_bdd")])
    remap_feeder(new, "bdd", "car", "car_bdd")
    d = compare(old, new)
    assert d["universal"]["split"] == [{"from": {"id": 176, "name": "car"},
                                        "into": [{"id": 176, "name": "car"}, {"id": 194, "name": "car_bdd"}]}]
    assert d["universal"]["added"] == [] and d["breaking"] == []
    assert d["tables"]["to_universal/bdd"]["entries"] == [{"entry": "13 'car'", "old": "176 'car'",
                                                           "new": "194 'car_bdd'"}]


def test_merge_of_a_class_in_the_middle_renumbers_the_rest(old, new):
    for ds in ("cityscapes-19", "bdd"):
        remap_feeder(new, ds, "bus", "truck")
    universal_edit(new, lambda cs: [c for c in cs if c["name"] != "bus"])
    r = run(old, new)
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    u = d["universal"]
    assert u["merged"] == [{"from": [{"id": 180, "name": "bus"}, {"id": 182, "name": "truck"}],
                            "into": {"id": 181, "name": "truck"}}]
    assert u["removed"] == [] and u["added"] == []
    assert [r["name"] for r in u["renumbered"]][:2] == ["train", "truck"] and len(u["renumbered"]) == 193 - 180
    assert d["breaking"][0] == "universal class 'bus' (id 180) was merged into 'truck'"
    assert len(d["breaking"]) == 1 + 13


def test_removed(old, new):
    universal_edit(new, lambda cs: [c for c in cs if c["name"] != "backpack"])
    d = compare(old, new)
    assert d["universal"]["removed"] == [{"id": 0, "name": "backpack"}]
    assert len(d["universal"]["renumbered"]) == 193 and d["breaking"][0] == "universal class 'backpack' (id 0) is gone"


def test_dataset_class_changes(old, new):
    k = read(new, "datasets/kitti-19.yaml")
    k["classes"][12]["name"] = "cyclist_or_rider"  # kitti-19 'rider'
    write(new, "datasets/kitti-19.yaml", k)
    m = read(new, "mappings/universal_to_kitti-19.yaml")
    m["map"] = {u: ("cyclist_or_rider" if t == "rider" else t) for u, t in m["map"].items()}
    write(new, "mappings/universal_to_kitti-19.yaml", m)
    d = compare(old, new)
    assert d["datasets"] == {"kitti-19": {"status": "changed", "added": [], "removed": [],
                                          "renamed": [{"old": {"id": 12, "name": "rider"},
                                                       "new": {"id": 12, "name": "cyclist_or_rider"}}],
                                          "renumbered": []}}
    assert d["breaking"] == [] and d["tables"] == {}
    c = read(new, "datasets/cityscapes-19.yaml")  # swap two classes of a train dataset: its label files break
    c["classes"][0]["name"], c["classes"][1]["name"] = c["classes"][1]["name"], c["classes"][0]["name"]
    write(new, "datasets/cityscapes-19.yaml", c)
    d = compare(old, new)
    assert d["breaking"] == ["cityscapes-19 class 'road' (id 0) moved to id 1",
                             "cityscapes-19 class 'sidewalk' (id 1) moved to id 0"]
    assert d["tables"]["to_universal/cityscapes-19"]["entries"][0] == {
        "entry": "0 'road' \u2192 'sidewalk'", "old": "98 'road'", "new": "100 'sidewalk_pavement'"}


def test_a_side_that_does_not_validate(old, new):
    m = read(new, "mappings/bdd_to_universal.yaml")
    m["map"]["car"] = "motorcar"
    write(new, "mappings/bdd_to_universal.yaml", m)
    r = run(old, new)
    assert r.exit_code == 2 and "[unknown-class]" in r.stderr and "the new side" in r.stderr


def test_diff_is_deterministic(old, new):
    universal_edit(new, lambda cs: cs[::-1])
    a, b = run(old, new), run(old, new)
    assert a.exit_code == b.exit_code == 1 and a.stdout == b.stdout
    assert len(json.loads(a.stdout)["universal"]["renumbered"]) == 194
