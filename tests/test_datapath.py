"""runtime/fileops/datapath.py: the one check of a relative path taken from data, and \\n-only line splitting."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.examples import examples

from unitax.fileops import datapath
from unitax.fileops.datapath import DataPathError, Root, bad_char, join, relpath, split_lines


@pytest.mark.parametrize("text", ["a.png", "img/a b.png", "x/./y.png", "..png", "...", "a..b/c", "é/ü.png",
                                  "dir/", "a\\b.png"])
def test_plain_relative_paths_pass_as_given(text):
    assert relpath(text) == text


@pytest.mark.parametrize("text, why", [
    ("", "is empty"), ("/etc/passwd", "absolute path"), ("//host/x", "absolute path"),
    ("..", "'..' component"), ("a/../../x", "'..' component"), ("a/..", "'..' component"),
    ("a\x00b", "\\x00"), ("a\nb", "\\n"), ("a\rb", "\\r"), ("a\tb", "\\t"), ("a\x1bb", "\\x1b"),
    ("a\x85b", "\\x85"), ("a\u2028b", "\\u2028"), ("a\u2029b", "\\u2029"), ("a\x7fb", "\\x7f"),
    ("a\udcffb", "not UTF-8"),
])
def test_refused_paths_say_why(text, why):
    with pytest.raises(DataPathError) as e:
        relpath(text, "file_name")
    assert why in str(e.value) and str(e.value).startswith("file_name ")
    assert "\n" not in str(e.value)   # one line, whatever the path holds


@pytest.mark.parametrize("value", [None, 3, b"a.png", ["a"]])
def test_non_strings_are_refused(value):
    with pytest.raises(DataPathError, match="is not a string"):
        relpath(value)


def test_bad_char_is_none_for_printable_text_and_names_the_first_odd_code_point():
    assert bad_char("road sign é") is None
    assert bad_char("a\u2028b\n") == "holds the control or line-separating character \\u2028"


def test_join_stays_inside_and_re_checks_resolved_folders(tmp_path):
    out = tmp_path / "out"
    (out / "ok").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (out / "linked").symlink_to(tmp_path / "elsewhere")
    (out / "inner").symlink_to(out / "ok")
    assert join(out, "ok/a.png") == out / "ok/a.png"
    assert join(out, "new/deeper/a.png") == out / "new/deeper/a.png"        # folders not there yet
    assert join(out, "inner/a.png") == out / "inner/a.png"                   # a link that stays inside
    (out / "ok" / "last").symlink_to(tmp_path / "elsewhere")
    assert join(out, "ok/last") == out / "ok/last"    # the last component is replaced by a writer, not followed
    with pytest.raises(DataPathError, match="leads outside .*elsewhere"):
        join(out, "linked/a.png", "output path")
    assert join(out, "linked/a.png", links="follow") == out / "linked/a.png"   # read-only trees: followed
    with pytest.raises(DataPathError, match="'..' component"):
        join(out, "ok/../../x", links="follow")
    with pytest.raises(ValueError, match="links must be"):
        Root(out, links="maybe")


def test_root_checks_each_folder_once(tmp_path, monkeypatch):
    root = Root(tmp_path)
    calls = []
    real = datapath.os.path.realpath
    monkeypatch.setattr(datapath.os.path, "realpath", lambda p: calls.append(p) or real(p))
    for i in range(5):
        root.join(f"a/{i}.png")
    root.join("b/0.png")
    assert len(calls) == 2


def test_split_lines_splits_on_newline_only():
    assert split_lines("a\u2028b\nc\x85d\r\ne\rf\n") == ["a\u2028b", "c\x85d", "e\rf"]
    assert split_lines("a\nb") == ["a", "b"]
    assert split_lines("a\n\n") == ["a", ""]
    assert split_lines("") == []


def test_datapath_is_a_stdlib_leaf():
    """It imports the standard library alone (it is part of the leaf unitax.fileops, see tests/test_layout.py)."""
    tree = ast.parse(Path(datapath.__file__).read_text("utf-8"))
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))
    assert mods <= {"__future__", "os", "unicodedata", "pathlib"}, mods


_PART = st.sampled_from(["", ".", "a", "b.c", ".d", "e..f", "g h", "é"])


@settings(max_examples=examples(300))
@given(root=st.sampled_from([".", "out", "out/", "./out", "/", "/tmp", "/tmp/.", "a//b"]),
       parts=st.lists(_PART, min_size=1, max_size=5))
def test_join_str_spells_the_path_as_pathlib_does(root, parts):
    """join_str (prepare's plan joins every list line with it) is ``str(Path(root) / rel)``, without pathlib."""
    rel = "/".join(parts)
    try:
        relpath(rel)
    except DataPathError:
        return
    assert Root(root, "follow").join_str(rel) == str(Path(root) / rel)
    assert Root(root, "follow").join(rel) == Path(root) / rel
