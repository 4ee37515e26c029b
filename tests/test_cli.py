"""The CLI on the frozen MSeg specs: check, compile (deterministic, atomic, untouched on error), import, help."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from support.paths import GENERATED, SPECS

from unitax.compiler import build
from unitax.tools.cli import COMMANDS, main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unitax.tools.cli", *args], capture_output=True, text=True)


@pytest.fixture
def specs_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "taxonomy"
    shutil.copytree(SPECS, dst)
    return dst


def test_check_passes_on_the_bundled_taxonomy():
    r = run("check", "--specs", str(SPECS), "--out", str(GENERATED))
    assert r.returncode == 0, r.stderr
    # bundled facts: MSeg's 36 datasets and 44 mappings, plus the two union variants (issue 15)
    assert "194 universal classes, 38 datasets, 46 mappings" in r.stdout
    assert "up to date" in r.stdout


def test_generated_is_byte_identical_to_a_fresh_compile(tmp_path):
    out = tmp_path / "out"
    build.compile_taxonomy(SPECS, out)
    assert build.read_tree(out) == build.read_tree(GENERATED)  # the session's compile of the same specs


def test_compile_writes_nothing_when_unchanged(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))  # the session's compile
    before = build.read_tree(out)
    ids = {p: (p.stat().st_ino, p.stat().st_dev) for p in [out, *out.rglob("*")]}
    assert not build.compile_taxonomy(SPECS, out).changed
    # no folder swapped, no file replaced (only the manifest's time is refreshed: see warn_if_stale)
    assert {p: (p.stat().st_ino, p.stat().st_dev) for p in [out, *out.rglob("*")]} == ids
    assert build.read_tree(out) == before


def test_bad_spec_fails_with_location_and_leaves_output_untouched(specs_copy, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))  # the compile of these specs
    before = build.read_tree(out)
    p = specs_copy / "mappings" / "ade20k-150_to_universal.yaml"
    text = p.read_text()
    assert "  minibike: motorcycle\n" in text
    p.write_text(text.replace("  minibike: motorcycle\n", "  minibike: motorcycel\n"))
    r = CliRunner().invoke(main, ["compile", "--specs", str(specs_copy), "--out", str(out)])
    assert r.exit_code == 1
    line = text.splitlines().index("  minibike: motorcycle") + 1
    assert (f"{p.as_posix()}:{line} $.map.minibike: 'minibike' maps to 'motorcycel', which is not a universal "
            "class; did you mean 'motorcycle'? [unknown-class]") in r.output
    assert "nothing was written" in r.output
    assert build.read_tree(out) == before


def test_all_errors_in_one_run(specs_copy):
    (specs_copy / "mappings" / "bdd_to_universal.yaml").write_text(
        (specs_copy / "mappings" / "bdd_to_universal.yaml").read_text().replace("  road: road\n", ""))
    u = specs_copy / "datasets" / "camvid-11.yaml"
    u.write_text(u.read_text().replace("{id: 3, name:", "{id: 4, name:"))
    r = CliRunner().invoke(main, ["check", "--specs", str(specs_copy)])
    assert r.exit_code == 1
    assert "bdd class 'road' (id 0) is neither mapped nor ignored [unmapped-class]" in r.output
    assert "[id-order]" in r.output and "camvid-11.yaml:" in r.output


def test_check_reports_stale_output(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))
    (out / "tables" / "to_universal" / "bdd.npy").write_bytes(b"x")
    (out / "stray.txt").write_text("x")
    r = CliRunner().invoke(main, ["check", "--specs", str(SPECS), "--out", str(out)])
    assert r.exit_code == 1
    assert f"{out}/tables/to_universal/: 1 file(s) changed (bdd.npy) [stale-output]" in r.output
    assert f"{out}/: 1 file(s) extra (stray.txt) [stale-output]" in r.output and "is stale (2 file(s))" in r.output


def test_duplicate_yaml_keys_are_refused(specs_copy):
    p = specs_copy / "mappings" / "bdd_to_universal.yaml"
    p.write_text(p.read_text().replace("  road: road\n", "  road: road\n  road: sidewalk_pavement\n"))
    r = CliRunner().invoke(main, ["check", "--specs", str(specs_copy)])
    assert r.exit_code == 1
    assert "$.map.road: duplicate key 'road' (first at line" in r.output and "[duplicate-key]" in r.output


def test_import_mseg_reproduces_the_committed_specs(reference, tmp_path):
    specs = tmp_path / "taxonomy"
    specs.mkdir()
    shutil.copy(SPECS / "universal.yaml", specs / "universal.yaml")  # definitions are kept on re-import
    for p in sorted(SPECS.glob("*/*.yaml")):  # and so are accept: blocks (warnings a person accepted)
        if "\naccept:" in p.read_text():
            (specs / p.parent.name).mkdir(exist_ok=True)
            shutil.copy(p, specs / p.parent.name / p.name)
    r = CliRunner().invoke(main, ["import-mseg", str(reference), "--specs", str(specs)])
    assert r.exit_code == 0, r.output
    assert "wrote 81 spec files" in r.output
    for p in sorted(SPECS.rglob("*.yaml")):
        rel = p.relative_to(SPECS)
        if rel.parts[0] == "relabel":  # written by import-relabel: tests/test_relabel.py
            continue
        if rel.stem.split("_to_")[0].endswith("-unions"):  # written by import-unions: tests/test_unions.py
            continue
        assert (specs / rel).read_text() == p.read_text(), f"{rel} differs from the importer's output"
    model, problems = build.check_specs(specs)
    assert model is not None and not [p for p in problems if p.severity == "error"]


def test_every_command_has_help():
    ctx = click.Context(main)
    names = main.list_commands(ctx)
    assert set(COMMANDS) == set(names)  # every command registered one way, imported on first use
    listing = CliRunner().invoke(main, ["--help"]).output
    for name in names:
        cmd = main.get_command(ctx, name)
        assert cmd is not None and cmd.name == name and f"  {name} " in listing, name
        assert cmd.help and len(cmd.help.strip()) > 20, name
        r = CliRunner().invoke(main, [name, "--help"])
        assert r.exit_code == 0 and "Usage:" in r.output


@pytest.mark.parametrize("command", ["remap-dir", "prepare"])
def test_shared_options_one_name_each(command):
    """-j is --workers in every command (prepare's older --jobs still works, unlisted); --compiled is
    the compiled folder everywhere (--out and --taxonomy: older names, unlisted)."""
    ctx = click.Context(main)
    cmd = main.get_command(ctx, command)
    assert cmd is not None
    opt = next(p for p in cmd.params if p.name == "workers")
    assert {"-j", "--workers", "--jobs"} <= set(opt.opts)
    shown = CliRunner().invoke(main, [command, "--help"]).output
    assert "-j, --workers" in shown and "--jobs" not in shown
    for name in ("evaluate", "remap-dir", "show", "export", "check", "compile"):
        c = main.get_command(ctx, name)
        assert c is not None
        assert [p for p in c.params if "--compiled" in getattr(p, "opts", [])], name
    assert "--taxonomy" not in CliRunner().invoke(main, ["remap-dir", "--help"]).output
    assert "--out " not in CliRunner().invoke(main, ["compile", "--help"]).output


def test_jobs_still_reaches_prepare_as_workers():
    cmd = main.get_command(click.Context(main), "prepare")
    assert cmd is not None
    got = {flag: cmd.make_context("prepare", ["voc2012", "n", "o", flag, "3"]).params["workers"]
           for flag in ("--jobs", "--workers", "-j")}
    assert got == {"--jobs": 3, "--workers": 3, "-j": 3}


def test_commands_that_read_a_build_take_a_bundled_taxonomy_by_name(tmp_path):
    """--compiled NAME (mseg, ut, rvc; in tests their frozen builds) or a folder, as unitax.load takes them."""
    import json

    from unitax.tools.cli import main

    for name, n in (("rvc", 255), ("ut", 259)):
        out = tmp_path / f"{name}.json"
        r = CliRunner().invoke(main, ["export", "huggingface", "--space", "universal", "--compiled", name,
                                      "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert len(json.loads(out.read_text())["id2label"]) == n
    r = CliRunner().invoke(main, ["export", "huggingface", "--compiled", str(GENERATED),
                                  "-o", str(tmp_path / "m.json")])
    assert r.exit_code == 0 and len(json.loads((tmp_path / "m.json").read_text())["id2label"]) == 194
    r = CliRunner().invoke(main, ["export", "huggingface", "--compiled", "utt", "-o", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "'utt' is neither a bundled taxonomy (mseg, rvc, ut) nor a folder" in r.output
    assert not (tmp_path / "x.json").exists()
