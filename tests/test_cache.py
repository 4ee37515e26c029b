"""The edit loop's speed-ups never change what a compile gives: the per-file parse/validation cache
(compiler/cache.py) and the forked docs/sheets render (compiler/perf.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import SPECS

from unitax.compiler import build, cache, perf, schema


@pytest.fixture
def specs_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "taxonomy"
    shutil.copytree(SPECS, dst)
    return dst


def _checked(root: Path, cache_dir: Path | None):
    checked, problems = cache.load_and_validate(root, cache_dir)
    return [(d.file, d.rel, d.data, d.lines, d.raw, probs) for d, probs in checked], sorted(problems)


def test_a_cache_hit_gives_what_a_fresh_parse_and_validation_give(specs_copy, tmp_path, monkeypatch):
    # a broken file and a file with schema problems are cached too, problems and lines included
    (specs_copy / "mappings" / "camvid-11_to_universal.yaml").write_text("map: [unclosed\n")
    p = specs_copy / "datasets" / "camvid-11.yaml"
    p.write_text(p.read_text() + "colour_space: rgb\n")
    fresh = _checked(specs_copy, None)
    first = _checked(specs_copy, tmp_path / "cache")
    assert (tmp_path / "cache" / cache.CACHE_FILE).is_file()
    again = _checked(specs_copy, tmp_path / "cache")
    assert fresh == first == again
    monkeypatch.setenv("UNITAX_JOBS", "1")  # all files checked in this process: the same again
    assert _checked(specs_copy, None) == fresh
    rules = {p.rule for p in fresh[1]} | {q.rule for *_, probs in fresh[0] for q in probs}
    assert {"yaml-syntax", "unknown-field"} <= rules


def test_a_cached_compile_is_byte_identical(specs_copy, tmp_path):
    plain = build.render(specs_copy)[1]
    build.render(specs_copy, tmp_path / "cache")
    assert build.render(specs_copy, tmp_path / "cache")[1] == plain


def test_an_edited_spec_is_read_again(specs_copy, tmp_path):
    c = tmp_path / "cache"
    model, problems = build.check_specs(specs_copy, c)
    assert model is not None
    p = specs_copy / "datasets" / "camvid-11.yaml"
    text = p.read_text()
    p.write_text(text + "colour_space: rgb\n")  # an unknown field: a schema problem
    model, problems = build.check_specs(specs_copy, c)
    assert model is None and any(q.rule == "unknown-field" and q.file.endswith("camvid-11.yaml") for q in problems)
    p.write_text(text)  # and back: valid again
    model, problems = build.check_specs(specs_copy, c)
    assert model is not None


def test_an_edited_schema_invalidates_the_cache(specs_copy, tmp_path):
    own = specs_copy / "schemas"
    own.mkdir()
    for name in schema.SCHEMA_NAMES:
        shutil.copy(Path(str(schema.REPO_SCHEMAS)) / f"{name}.schema.json", own)
    c = tmp_path / "cache"
    assert build.check_specs(specs_copy, c)[0] is not None
    s = json.loads((own / "dataset.schema.json").read_text())
    s["required"] = [*s.get("required", []), "no_such_field"]
    (own / "dataset.schema.json").write_text(json.dumps(s))
    model, problems = build.check_specs(specs_copy, c)
    assert model is None
    assert any(q.rule == "missing-field" and "no_such_field" in q.message for q in problems)


def test_a_changed_compiler_changes_every_key(tmp_path, monkeypatch):
    code = tmp_path / "compiler"
    shutil.copytree(Path(cache.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__", "emit"))
    monkeypatch.setattr(cache, "_COMPILER", code)
    before = cache._code_key(SPECS)
    assert cache._code_key(SPECS) == before
    with open(code / "load.py", "a") as f:
        f.write("\n# changed\n")
    after_code = cache._code_key(SPECS)
    assert after_code != before
    with open(code / "schemas" / "dataset.schema.json", "a") as f:
        f.write("\n")
    assert cache._code_key(SPECS) not in (before, after_code)


@pytest.mark.parametrize("content", [b"", b"garbage", b"\xe3\x00\x00\x00", None])
def test_a_corrupt_or_foreign_cache_is_ignored_and_rebuilt(specs_copy, tmp_path, content):
    c = tmp_path / "cache"
    fresh = _checked(specs_copy, None)
    c.mkdir()
    f = c / cache.CACHE_FILE
    if content is None:  # valid marshal data of the wrong shape, and entries of the wrong shape
        import marshal
        f.write_bytes(marshal.dumps((cache._MAGIC, {b"x": (1, 2)})))
    else:
        f.write_bytes(content)
    assert _checked(specs_copy, c) == fresh
    assert _checked(specs_copy, c) == fresh  # and from the rebuilt cache
    assert len(cache._read(f)) == len(fresh[0])  # one entry per spec file parsed


def test_entries_of_wrong_shape_under_a_right_key_are_recomputed(specs_copy, tmp_path, monkeypatch):
    c = tmp_path / "cache"
    fresh = _checked(specs_copy, None)
    _checked(specs_copy, c)
    import marshal
    magic, entries = marshal.loads((c / cache.CACHE_FILE).read_bytes())
    (c / cache.CACHE_FILE).write_bytes(marshal.dumps((magic, {k: ("bad",) for k in entries})))
    assert _checked(specs_copy, c) == fresh


def test_an_unwritable_cache_folder_only_costs_speed(specs_copy, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _checked(specs_copy, blocker / "cache") == _checked(specs_copy, None)


def test_the_forked_render_equals_the_serial_one(specs_copy, monkeypatch):
    parallel = build.render(specs_copy)[1]
    monkeypatch.setenv("UNITAX_JOBS", "1")
    assert build.render(specs_copy)[1] == parallel


def _dies_in_child(parent: int) -> dict[str, bytes]:
    if os.getpid() != parent:
        os._exit(3)
    return {"a": b"from the parent"}


def _raises_in_child(parent: int) -> dict[str, bytes]:
    if os.getpid() != parent:
        raise RuntimeError("child")
    return {"a": b"from the parent"}


def _child_value(parent: int) -> dict[str, bytes]:
    return {"pid": str(os.getpid() != parent).encode(), "big": bytes(range(256)) * 5000}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_background_falls_back_to_the_parent_when_the_child_fails(monkeypatch):
    monkeypatch.delenv("UNITAX_JOBS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    for fn in (_dies_in_child, _raises_in_child):
        side = perf.Background(fn, os.getpid())
        assert side.pid  # a child was started
        assert side.result() == {"a": b"from the parent"}
    side = perf.Background(_child_value, os.getpid())
    assert side.result() == {"pid": b"True", "big": bytes(range(256)) * 5000}  # computed by the child
    side = perf.Background(_child_value, os.getpid())
    side.close()  # not wanted any more: reaped, no zombie
    assert side.pid == 0


def test_paused_gc_restores_the_collector():
    import gc
    assert gc.isenabled()
    with perf.paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
