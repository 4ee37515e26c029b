"""The edit loop's speed-ups never change what a compile gives: the per-file parse/validation cache
(compiler/cache.py) and the forked docs/sheets render (compiler/perf.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from support.corpus import make_specs
from support.paths import SPECS

from unitax.compiler import build, cache, perf, schema


@pytest.fixture
def specs_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "taxonomy"
    shutil.copytree(SPECS, dst)
    return dst


@pytest.fixture
def small_copy(tmp_path: Path) -> Path:
    """The corpus's closed subset of the MSeg specs (support.corpus.BASE, 10 files): for the tests of the
    cache's own mechanics, which the size of the taxonomy does not change (checks in ~0.1 s, not ~0.7 s)."""
    return make_specs(tmp_path, {"edits": []})


def _checked(root: Path, cache_dir: Path | None):
    checked, problems = cache.load_and_validate(root, cache_dir)
    return [(d.file, d.rel, d.data, d.lines, d.raw, probs) for d, probs in checked], sorted(problems)


def test_a_cache_hit_gives_what_a_fresh_parse_and_validation_give(specs_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("UNITAX_JOBS", raising=False)  # files checked in a forked child too (conftest sets 1 in xdist)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
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


def _relabel_checked(root: Path, cache_dir: Path | None):
    sources = cache.load_and_validate_relabel(root, cache_dir)
    return [(d.file, d.rel, d.data, d.lines, d.raw) for d in sources.docs], sorted(sources.problems), sources.files


def test_relabel_files_are_cached_apart(specs_copy, tmp_path):
    """Relabel files go through the same read, parse, validation and cache as every spec, in a
    cache file of their own (they are checked after the model), broken files included."""
    p = specs_copy / "relabel" / "bdd-relabeled.yaml"
    p.write_text(p.read_text().replace("split: train", "split: Train", 1))  # a schema problem
    (specs_copy / "relabel" / "idd-39-relabeled.yaml").write_text("records: [unclosed\n")  # a parse problem
    c = tmp_path / "cache"
    n = len(list((specs_copy / "relabel").glob("*.yaml")))
    fresh = _relabel_checked(specs_copy, None)
    assert {q.rule for q in fresh[1]} == {"schema-pattern", "yaml-syntax"} and len(fresh[0]) == n - 2
    assert _relabel_checked(specs_copy, c) == fresh == _relabel_checked(specs_copy, c)
    assert len(cache._read(c / cache.RELABEL_CACHE_FILE)) == n and not (c / cache.CACHE_FILE).exists()
    build.check_specs(specs_copy, c)  # the specs' cache beside it: neither replaces the other
    assert len(cache._read(c / cache.RELABEL_CACHE_FILE)) == n and (c / cache.CACHE_FILE).is_file()


def test_an_own_relabel_schema_keys_the_relabel_cache(specs_copy, tmp_path):
    own = specs_copy / "schemas"  # a relabel schema alone: the other specs answer to the package's
    own.mkdir()
    shutil.copy(Path(str(schema.REPO_SCHEMAS)) / schema.RELABEL_SCHEMA, own)
    c = tmp_path / "cache"
    assert _relabel_checked(specs_copy, c)[1] == []
    s = json.loads((own / schema.RELABEL_SCHEMA).read_text())
    s["required"] = [*s["required"], "no_such_field"]
    (own / schema.RELABEL_SCHEMA).write_text(json.dumps(s))
    problems = _relabel_checked(specs_copy, c)[1]
    n = len(list((specs_copy / "relabel").glob("*.yaml")))
    assert len(problems) == n and all(q.rule == "missing-field" and "no_such_field" in q.message for q in problems)


def test_an_edited_spec_is_read_again(small_copy, tmp_path):
    c = tmp_path / "cache"
    model, problems = build.check_specs(small_copy, c)
    assert model is not None
    p = small_copy / "datasets" / "camvid-11.yaml"
    text = p.read_text()
    p.write_text(text + "colour_space: rgb\n")  # an unknown field: a schema problem
    model, problems = build.check_specs(small_copy, c)
    assert model is None and any(q.rule == "unknown-field" and q.file.endswith("camvid-11.yaml") for q in problems)
    p.write_text(text)  # and back: valid again
    model, problems = build.check_specs(small_copy, c)
    assert model is not None


def test_an_edited_schema_invalidates_the_cache(small_copy, tmp_path):
    own = small_copy / "schemas"
    own.mkdir()
    for name in schema.SCHEMA_NAMES:
        shutil.copy(Path(str(schema.REPO_SCHEMAS)) / f"{name}.schema.json", own)
    c = tmp_path / "cache"
    assert build.check_specs(small_copy, c)[0] is not None
    s = json.loads((own / "dataset.schema.json").read_text())
    s["required"] = [*s.get("required", []), "no_such_field"]
    (own / "dataset.schema.json").write_text(json.dumps(s))
    model, problems = build.check_specs(small_copy, c)
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
def test_a_corrupt_or_foreign_cache_is_ignored(small_copy, tmp_path, content):
    c = tmp_path / "cache"
    fresh = _checked(small_copy, None)
    c.mkdir()
    f = c / cache.CACHE_FILE
    if content is None:  # valid marshal data of the wrong shape, and entries of the wrong shape
        import marshal
        payload = marshal.dumps((cache._MAGIC, {b"x": (1, 2)}))
        f.write_bytes(cache._HEADER + hashlib.sha256(payload).digest() + payload)
    else:
        f.write_bytes(content)
    assert _checked(small_copy, c) == fresh
    assert _checked(small_copy, c) == fresh  # and from the rebuilt cache
    if content in (None, b""):  # unitax's own (or empty): rebuilt, one entry per spec file parsed
        assert len(cache._read(f)) == len(fresh[0])
    else:  # not unitax's: left as it is, nothing cached
        assert f.read_bytes() == content


def test_entries_of_wrong_shape_under_a_right_key_are_recomputed(small_copy, tmp_path, monkeypatch):
    c = tmp_path / "cache"
    fresh = _checked(small_copy, None)
    _checked(small_copy, c)
    import marshal
    entries = cache._read(c / cache.CACHE_FILE)
    assert len(entries) == len(fresh[0])
    for bad in ({k: ("bad",) for k in entries}, {k: (True, 1, 2, 3, 4) for k in entries}):
        payload = marshal.dumps((cache._MAGIC, bad))
        (c / cache.CACHE_FILE).write_bytes(cache._HEADER + hashlib.sha256(payload).digest() + payload)
        assert _checked(small_copy, c) == fresh


def test_a_damaged_cache_file_is_a_miss(small_copy, tmp_path):
    c = tmp_path / "cache"
    fresh = _checked(small_copy, None)
    _checked(small_copy, c)
    f = c / cache.CACHE_FILE
    blob = bytearray(f.read_bytes())
    blob[len(blob) // 2] ^= 0x40  # one flipped bit in the payload
    f.write_bytes(bytes(blob))
    assert cache._read(f) == {}
    f.write_bytes(bytes(blob[: len(blob) // 3]))  # truncated
    assert cache._read(f) == {}
    assert _checked(small_copy, c) == fresh


def test_an_unwritable_cache_folder_only_costs_speed(small_copy, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _checked(small_copy, blocker / "cache") == _checked(small_copy, None)


def test_the_forked_render_equals_the_serial_one(specs_copy, monkeypatch):
    monkeypatch.delenv("UNITAX_JOBS", raising=False)  # conftest sets 1 in an xdist worker
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    forks = []
    monkeypatch.setattr(os, "fork", lambda fork=os.fork: forks.append(1) or fork())
    parallel = build.render(specs_copy)[1]
    assert forks  # rendered in forked children
    monkeypatch.undo()
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


def test_the_fast_check_and_jsonschema_agree_on_every_document():
    """The differential fuzz of tests/fuzz_fastcheck.py (`make fuzz` runs it for a minute) on a fixed
    seed: generated and mutated documents of every schema get the same verdict from the fast check
    and from jsonschema, and the same problems from validate_structure with and without it."""
    import fuzz_fastcheck

    seen = fuzz_fastcheck.run(seed=20261205, count=2000)
    for kind in fuzz_fastcheck.KINDS:  # both verdicts exercised on every schema
        assert seen[f"{kind} valid"] >= 30 and seen[f"{kind} invalid"] >= 100, seen


def test_the_package_schemas_are_checked_here_and_inlined_as_referencing_does():
    """A compile against the package's own schemas skips the meta-schema check and inlines the
    $refs itself (no jsonschema import): the check is here, and the inlining must be referencing's."""
    texts = schema._package_texts()
    registry = schema._registry(texts)
    lazy = schema._validators(texts)
    for name, text in texts:
        s = json.loads(text)
        schema.draft202012().check_schema(s)
        assert lazy[name].schema == schema._inline(s, s["$id"], registry), name
        assert isinstance(lazy[name].validator(), schema.draft202012()), name
    relabel = json.loads((schema.REPO_SCHEMAS / schema.RELABEL_SCHEMA).read_text())
    schema.draft202012().check_schema(relabel)
    assert schema.relabel_validator(schema.REPO_SCHEMAS.parent).schema == relabel


def test_a_compile_of_valid_specs_imports_no_jsonschema(tmp_path):
    import subprocess
    import sys
    code = ("import sys; from pathlib import Path; from unitax.compiler import build; "
            f"build.render(Path({str(SPECS)!r})); print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('jsonschema', 'referencing', 'PIL', 'xlsxwriter')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "UNITAX_JOBS": "2"}).stdout.strip().splitlines()[-1]
    assert "jsonschema" not in out and "referencing" not in out and "PIL" not in out, out


def test_parse_skips_the_event_scan_only_where_it_would_pass(monkeypatch):
    """load._scan_would_pass may only say yes where load._scan refuses nothing; parses with and
    without the scan are then the same. The bundled MSeg specs are all such files (a fact of them)."""
    import random

    from unitax.compiler import load
    texts = [p.read_text("utf-8") for _, p in load.spec_files(SPECS)[0]]
    assert all(load._scan_would_pass(t) for t in texts)
    crafted = ["a: [" + "[" * 70 + "]" * 71 + "\n", "a: {b: {c: {d: 1}}}\n", "a: &x [1]\nb: *x\n",
               "".join(" " * i + "- a:\n" for i in range(0, 200, 2)), "- - - - a\n", "a:\n? - b\n: - c\n",
               "a: [\"]\", [[1]]]\n", "--- [1]\n", "a: {b: [1, {c: 1}]}\n", "x: " + "[1]" * 10 + "\n"]
    rng = random.Random(7)
    for t in texts[:20]:  # lines shuffled, indented, bracketed: most no longer parse, a few nest deeper
        lines = t.splitlines()
        for _ in range(5):
            k = rng.randrange(len(lines))
            lines[k] = rng.choice([" " * rng.randrange(40), "- ", "[", "{", "- - "]) + lines[k]
        crafted.append("\n".join(lines) + "\n")
    for t in texts + crafted:
        if load._scan_would_pass(t):
            try:
                load._scan(t)
            except load._Fail as f:
                raise AssertionError(f"_scan refuses {t[:60]!r}: {f.rule}") from None
            except Exception:  # noqa: BLE001 - a syntax error: get_single_node raises it just the same
                pass
    for t in texts[:10]:
        doc, _ = load.parse_yaml(t.encode(), "f", "f")
        monkeypatch.setattr(load, "_scan_would_pass", lambda _t: False)
        full, _ = load.parse_yaml(t.encode(), "f", "f")
        monkeypatch.undo()
        assert doc is not None and full is not None and (doc.data, doc.lines) == (full.data, full.lines)


def test_a_schema_outside_the_fast_subset_goes_to_jsonschema():
    from unitax.compiler import fastcheck
    assert fastcheck.compile_check({"type": "object", "oneOf": [{}]}) is None
    assert fastcheck.compile_check({"enum": [[1]]}) is None
    check = fastcheck.compile_check({"type": "array", "uniqueItems": True})
    assert check([1, True]) and not check([1, 1.0]) and not check([[1], [2]])  # lists as items: not sure


def test_no_fork_while_other_threads_run(monkeypatch):
    import threading
    monkeypatch.delenv("UNITAX_JOBS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        side = perf.Background(_child_value, os.getpid())
        assert side.pid == 0  # no child: computed here
        assert side.result() == {"pid": b"False", "big": bytes(range(256)) * 5000}
    finally:
        stop.set()
        t.join()


def test_a_cache_file_unitax_did_not_write_is_left_alone(small_copy, tmp_path):
    c = tmp_path / "mine"
    c.mkdir()
    (c / cache.CACHE_FILE).write_bytes(b"the user's own file")
    fresh = _checked(small_copy, None)
    assert _checked(small_copy, c) == fresh
    assert (c / cache.CACHE_FILE).read_bytes() == b"the user's own file"
    assert sorted(p.name for p in c.iterdir()) == [cache.CACHE_FILE]  # no temporary file left either


def test_the_in_process_memo_gives_fresh_equal_documents_and_never_hides_a_problem(small_copy, tmp_path):
    """A spec file checked again in this process (another copy of the same specs) is read back from the
    memo: equal data and lines, fresh objects (mutating one changes nothing later), the document named
    as shown this time; a file with a problem is parsed again, its messages naming this copy."""
    other = tmp_path / "other"
    shutil.copytree(small_copy, other)
    first, _ = cache.load_and_validate(small_copy)
    calls = []
    real = cache.load.parse_yaml

    def counting(raw, shown, rel=None):
        calls.append(rel)
        return real(raw, shown, rel)

    cache.load.parse_yaml = counting
    try:
        second, problems = cache.load_and_validate(other)
        assert calls == [] and problems == []   # every file from the memo
        assert [(d.rel, d.data, d.lines) for d, _ in second] == [(d.rel, d.data, d.lines) for d, _ in first]
        assert all(d.file.startswith(other.as_posix()) for d, _ in second)
        second[0][0].data["mutated"] = True     # fresh objects: the next check does not see it
        assert "mutated" not in cache.load_and_validate(other)[0][0][0].data
        p = other / "datasets" / "camvid-11.yaml"
        p.write_text(p.read_text() + "colour_space: rgb\n")   # a schema problem: never memoised
        for _ in range(2):
            calls.clear()
            checked, _ = cache.load_and_validate(other)
            assert calls == ["datasets/camvid-11.yaml"]
            probs = [q for d, qs in checked for q in qs if d.rel == "datasets/camvid-11.yaml"]
            assert probs and all(q.file == p.as_posix() and q.rule == "unknown-field" for q in probs)
    finally:
        cache.load.parse_yaml = real


def test_the_memo_is_keyed_by_the_schemas_in_use(small_copy):
    """A spec root with its own schemas (one requiring a field) is checked against them, not from the memo."""
    assert build.check_specs(small_copy)[0] is not None
    own = small_copy / "schemas"
    own.mkdir()
    for name in schema.SCHEMA_NAMES:
        shutil.copy(Path(str(schema.REPO_SCHEMAS)) / f"{name}.schema.json", own)
    s = json.loads((own / "dataset.schema.json").read_text())
    s["required"] = [*s.get("required", []), "no_such_field"]
    (own / "dataset.schema.json").write_text(json.dumps(s))
    model, problems = build.check_specs(small_copy)
    assert model is None and any(q.rule == "missing-field" and "no_such_field" in q.message for q in problems)


def test_a_fifo_among_the_schemas_blocks_neither_the_cache_key_nor_the_memo(small_copy, tmp_path):
    """Only the schema files the validators read are hashed into a key: a FIFO named like a schema
    beside them (tests/hostile: writes/compile-fifo-among-schemas) is never opened, cache or not."""
    import threading

    own = small_copy / "schemas"
    own.mkdir()
    for name in schema.SCHEMA_NAMES:
        shutil.copy(Path(str(schema.REPO_SCHEMAS)) / f"{name}.schema.json", own)
    os.mkfifo(own / "extra.schema.json")
    results = []
    for cache_dir in (None, tmp_path / "cache"):
        t = threading.Thread(target=lambda c=cache_dir: results.append(build.check_specs(small_copy, c)[0]),
                             daemon=True)
        t.start()
        t.join(timeout=30)
        assert not t.is_alive(), f"blocked (cache_dir={cache_dir})"
    assert len(results) == 2 and all(m is not None for m in results)
