"""runtime/fileops/walk.py: the names-only walk (``files``) agrees with the full walk (``walk``)."""
from __future__ import annotations

import os

import pytest

from unitax.fileops.walk import files, walk


def _tree(root):
    for rel in ("b.yaml", "a.tsv", "z/y.yaml", "z/a/deep.json", "m/n.txt", "m/o.yml", "A.yaml"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    (root / "empty").mkdir()
    if hasattr(os, "symlink"):
        os.symlink(root / "z", root / "link_to_z")            # a link to a folder: neither a file nor entered
        os.symlink(root / "b.yaml", root / "m" / "link.yaml")  # a link to a file: a file
        os.symlink(root / "nowhere", root / "dangling.yaml")   # a dangling link: a file (as os.walk says)


@pytest.mark.parametrize("suffixes", [(), (".yaml", ".yml", ".json", ".tsv"), (".txt",)])
def test_files_are_the_file_entries_of_the_full_walk_in_its_order(tmp_path, suffixes):
    _tree(tmp_path)
    full = [e.path for e in walk(tmp_path, stats=False) if not e.folder and e.path.endswith(suffixes or ("",))]
    names = list(files(tmp_path, suffixes))
    assert names == full
    if ".txt" not in suffixes:
        assert [os.path.relpath(p, tmp_path) for p in names if p.endswith(".yaml")] == \
            ["A.yaml", "b.yaml", "dangling.yaml", "m/link.yaml", "z/y.yaml"]   # sorted, files before subfolders
    else:
        assert names == [str(tmp_path / "m" / "n.txt")]
    assert not any("link_to_z" in p for p in names)


def test_files_of_a_folder_that_cannot_be_listed_are_none(tmp_path):
    assert list(files(tmp_path / "missing")) == []
    (tmp_path / "f.yaml").write_text("x")
    assert list(files(tmp_path / "f.yaml")) == []


def test_walk_names_paths_below_the_root_relative_and_posix(tmp_path):
    _tree(tmp_path)
    for root in (tmp_path, str(tmp_path) + os.sep):
        rels = {e.rel for e in walk(root, stats=False)}
        assert {"b.yaml", "z", "z/a", "z/a/deep.json", "link_to_z", "m/link.yaml"} <= rels
        assert not any(r.startswith(("/", "./")) for r in rels)
