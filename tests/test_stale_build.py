"""A build that no longer matches its specs (issue 19, item 5): the runtime's warning decides by
content, and `unitax check` reports a stale build once per folder with the right counts.

Each test lays out a checkout of its own (``taxonomy/`` and ``generated/`` side by side, small
specs) under a temporary folder; spec times are set with ``os.utime``, never by sleeping.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import unitax.stale as S
import unitax.taxonomy as T
from unitax.compiler import build
from unitax.tools.authoring import importer
from unitax.tools.cli import main

UNIVERSAL = ("road", "car", "person", "sky")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A small checkout, compiled once: specs written (dated in the past), then compiled."""
    tmp = tmp_path_factory.mktemp("checkout")
    specs = tmp / "taxonomy"
    uni = [{"name": n, "parent": "thing", "synset": f"{n}.n.01", "wordnet_modified": False} for n in UNIVERSAL]
    files = {"universal.yaml": importer.render_universal(uni, {n: f"A {n}." for n in UNIVERSAL}),
             "datasets/city.yaml": importer.render_dataset(importer.Space("city", "train", list(UNIVERSAL))),
             "mappings/city_to_universal.yaml": importer.render_mapping(importer.MappingSpec(
                 "city", "universal", [(n, n) for n in UNIVERSAL], [], [], "one to one"))}
    for rel, text in files.items():
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        (specs / rel).write_text(text, encoding="utf-8")
    past = time.time() - 1000
    for p in specs.rglob("*.yaml"):
        os.utime(p, (past, past))
    build.compile_taxonomy(specs, tmp / "generated")
    return tmp


@pytest.fixture
def checkout(template, tmp_path) -> tuple[Path, Path]:
    """(taxonomy/, generated/) of a copy of the template checkout (file times kept)."""
    for name in ("taxonomy", "generated"):
        shutil.copytree(template / name, tmp_path / name)
    return tmp_path / "taxonomy", tmp_path / "generated"


def later(p: Path) -> None:
    """Give ``p`` a time well after any manifest written so far (as an edit, touch or checkout does)."""
    t = time.time() + 100
    os.utime(p, (t, t))


def stale_warnings(gen: Path) -> list[str]:
    """The StaleBuildWarning messages one load of ``gen`` gives (as the bundled build would)."""
    S._warned.discard(str(gen))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        compiled = T.read_compiled(gen)
        S.warn_if_stale(compiled.path, compiled.manifest)
    return [str(x.message) for x in w if issubclass(x.category, S.StaleBuildWarning)]


@pytest.fixture(autouse=True)
def _warning_on(monkeypatch):
    monkeypatch.delenv("UNITAX_NO_STALE_WARNING", raising=False)


def test_a_touch_or_an_undone_edit_does_not_warn_an_edit_does(checkout):
    specs, gen = checkout
    spec = specs / "datasets" / "city.yaml"
    assert stale_warnings(gen) == []
    later(spec)  # touch (or git checkout): newer, same bytes
    assert stale_warnings(gen) == []
    text = spec.read_text()
    spec.write_text(text.replace("name: car", "name: cars"))
    later(spec)
    [msg] = stale_warnings(gen)
    assert "city.yaml" in msg and "differ" in msg and "make compile" in msg
    spec.write_text(text)  # the edit undone
    later(spec)
    assert stale_warnings(gen) == []


def test_a_new_or_removed_spec_warns(checkout):
    specs, gen = checkout
    extra = specs / "datasets" / "town.yaml"
    extra.write_text(importer.render_dataset(importer.Space("town", "test", ["road"])))
    later(extra)
    [msg] = stale_warnings(gen)
    assert "town.yaml is new" in msg
    extra.unlink()
    (specs / "mappings" / "city_to_universal.yaml").unlink()
    later(specs / "universal.yaml")
    [msg] = stale_warnings(gen)
    assert "city_to_universal.yaml is gone" in msg


def test_compile_of_unchanged_specs_clears_the_check(checkout, monkeypatch):
    """After a touch, `unitax compile` (nothing to write) refreshes the manifest's time, so that
    later loads take the fast path and read no spec at all."""
    specs, gen = checkout
    now = time.time()
    os.utime(gen / "manifest.json", (now - 500, now - 500))  # compiled a while ago,
    os.utime(specs / "universal.yaml", (now - 100, now - 100))  # touched since
    calls: list[object] = []
    real = S._specs_differ
    monkeypatch.setattr(S, "_specs_differ", lambda *a: calls.append(a) or real(*a))
    assert stale_warnings(gen) == [] and len(calls) == 1  # times say stale: content read, the same
    assert build.compile_taxonomy(specs, gen).changed is False
    assert stale_warnings(gen) == [] and len(calls) == 1  # times say fresh: nothing read


def test_a_build_without_a_list_of_inputs_warns_by_times(checkout):
    """A build of an older unitax (its manifest lists no specs_files): times are all there is."""
    specs, gen = checkout
    compiled = T.read_compiled(gen)
    manifest = {k: v for k, v in compiled.manifest.items() if k != "specs_files"}
    later(specs / "universal.yaml")
    S._warned.discard(str(gen))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        S.warn_if_stale(gen, manifest)
    assert len(w) == 1 and "universal.yaml was modified" in str(w[0].message)


def test_the_manifest_lists_the_inputs_its_hash_covers(checkout):
    specs, gen = checkout
    m = T.read_compiled(gen).manifest
    assert {"universal.yaml", "datasets/city.yaml", "mappings/city_to_universal.yaml"} <= set(m["specs_files"])
    assert any(r.startswith("schemas/") for r in m["specs_files"]) and m["specs_files"] == sorted(m["specs_files"])


# ----- unitax check on a stale build ------------------------------------------------------------


def test_check_counts_the_warnings_it_prints_with_a_stale_build(checkout):
    specs, gen = checkout
    (specs / "datasets" / "notes.txt").write_text("mine")  # read by nobody: a [stray-file] warning
    r0 = CliRunner().invoke(main, ["check", "--specs", str(specs), "--out", str(gen)])
    assert r0.exit_code == 0 and "[stray-file]" in r0.output, r0.output
    m = specs / "mappings" / "city_to_universal.yaml"
    m.write_text(m.read_text().replace("note: one to one", "note: one to one, edited"))
    r = CliRunner().invoke(main, ["check", "--specs", str(specs), "--out", str(gen)])
    assert r.exit_code == 1, r.output
    lines = r.output.splitlines()
    stale = [line for line in lines if line.endswith("[stale-output]")]
    printed_warnings = [line for line in lines if ": warning: " in line]
    assert len(printed_warnings) == 1 and "[stray-file]" in printed_warnings[0] and stale
    assert lines[-1] == f"unitax: {len(stale)} error(s), 1 warning(s)"


def test_check_summarises_a_stale_build_in_one_line_per_folder(checkout):
    specs, gen = checkout
    uni = specs / "universal.yaml"
    uni.write_text(uni.read_text().replace("A road.", "A paved road."))  # changes docs, manifest, ...
    r = CliRunner().invoke(main, ["check", "--specs", str(specs), "--out", str(gen)])
    assert r.exit_code == 1, r.output
    stale = [line for line in r.output.splitlines() if line.endswith("[stale-output]")]
    folders = [line.split(": ", 1)[0] for line in stale[:-1]]
    assert len(folders) == len(set(folders)) and all(f.endswith("/") for f in folders), stale
    n_files = len(build.stale_files(build.render(specs)[1], gen))
    assert n_files > len(folders), "the case should change several files of one folder"
    assert stale[-1] == f"{gen}: is stale ({n_files} file(s)): run `make compile` (unitax compile) [stale-output]"
    counted = sum(int(part.split(" file(s)")[0]) for line in stale[:-1] for part in line.split(": ", 1)[1].split("; "))
    assert counted == n_files
    assert f"{gen}/: " in r.output and "manifest.json" in r.output


def test_a_build_of_another_bundled_taxonomy_finds_its_specs_through_the_registry(template, tmp_path):
    """builds/ut/ of a checkout is compared with taxonomies/ut/ (runtime/bundled.py), as generated/ with taxonomy/;
    a build folder the registry does not know is never compared."""
    specs, gen = tmp_path / "taxonomies" / "ut", tmp_path / "builds" / "ut"
    shutil.copytree(template / "taxonomy", specs)
    shutil.copytree(template / "generated", gen)
    shutil.copytree(template / "generated", tmp_path / "elsewhere" / "ut")
    shutil.copytree(template / "taxonomy", tmp_path / "elsewhere" / "taxonomy")
    spec = specs / "datasets" / "city.yaml"
    assert stale_warnings(gen) == []
    spec.write_text(spec.read_text().replace("name: car", "name: cars"))
    later(spec)
    [msg] = stale_warnings(gen)
    assert str(spec) in msg and str(gen) in msg
    other = tmp_path / "elsewhere" / "taxonomy" / "datasets" / "city.yaml"
    other.write_text(spec.read_text())
    later(other)
    assert stale_warnings(tmp_path / "elsewhere" / "ut") == []
