"""What unitax may replace (compiler/outputs.py), on the real build and specs, and the OS errors
that root cannot provoke with chmod (simulated here): one line naming the path, exit 2."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile.cases_writes import fake_build, reference
from hostile.cases_writes import specs as base_specs
from support.paths import GENERATED, SPECS

from unitax.compiler import build, outputs
from unitax.tools.authoring import importer
from unitax.tools.cli import main, os_error_line


def test_the_committed_build_is_a_build_and_may_be_replaced():
    assert outputs.why_not_a_build(GENERATED) is None
    outputs.check_build_out(GENERATED, SPECS)


def test_the_real_specs_may_be_reimported_file_for_file():
    files = [p.relative_to(SPECS).as_posix() for p in sorted(SPECS.glob("**/*.yaml"))
             if p.relative_to(SPECS).parts[0] in ("datasets", "mappings") or p.name == "universal.yaml"]
    outputs.check_spec_import(SPECS, files)
    outputs.check_relabel_import(SPECS)


def test_the_real_specs_are_never_a_build_output(tmp_path):
    with pytest.raises(outputs.OutputRefused, match="not a unitax build"):
        outputs.check_build_out(SPECS)
    with pytest.raises(outputs.OutputRefused, match="is the spec folder"):
        outputs.check_build_out(SPECS, SPECS)


def test_leftovers_are_matched_exactly(tmp_path):
    out = tmp_path / "gen"
    ours = tmp_path / ".unitax-build-gen-ab_cd123"
    aside = tmp_path / ".unitax-build-gen-ab_cd123-old"
    (ours / "tables").mkdir(parents=True)
    fake_build(aside)
    other = tmp_path / ".unitax-build-gen-x-ab_cd123"  # gen-x's, not gen's
    fake_build(other)
    users = tmp_path / ".unitax-build-gen-zzzzzzzz"  # right name, the user's files
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    link = tmp_path / ".unitax-build-gen-yyyyyyyy"
    link.symlink_to(ours)
    assert outputs.leftovers(out) == [ours, aside]
    build.remove_leftovers(out)  # out is absent and the aside is a whole build: it is put back
    assert outputs.why_not_a_build(out) is None
    assert not ours.exists() and not aside.exists()
    assert other.is_dir() and (users / "notes.txt").read_text() == "mine" and link.is_symlink()


def test_a_build_refuses_a_folder_that_changed_into_a_users_folder_before_the_swap(tmp_path):
    """swap_in applies the rule itself, whoever calls it (library callers too)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(outputs.OutputRefused):
        build.swap_in({"a": b"1"}, out)
    assert (out / "keep.txt").read_text() == "x"


def _deny(monkeypatch, target: Path) -> None:
    """Opening or reading ``target`` fails with EACCES, as for a user without the permission (root reads anything)."""
    real_read, real_open = Path.read_bytes, os.open

    def denied(p) -> bool:
        return os.path.abspath(p) == os.path.abspath(target)

    def read_bytes(self):
        if denied(self):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_read(self)

    def os_open(path, flags, *a, **k):
        if denied(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(os, "open", os_open)


def test_an_unreadable_spec_is_one_line_naming_it(tmp_path, monkeypatch):
    """check and compile report it as a Problem (exit 1); diff says which side does not validate (exit 2)."""
    specs = base_specs(tmp_path)
    target = specs / "datasets" / "camvid-11.yaml"
    _deny(monkeypatch, target)
    for argv, code in ((["compile", "--specs", str(specs), "--out", str(tmp_path / "out")], 1),
                       (["check", "--specs", str(specs), "--no-stale"], 1),
                       (["diff", str(specs), str(specs)], 2)):
        r = CliRunner().invoke(main, argv)
        assert r.exit_code == code, r.output
        assert "datasets/camvid-11.yaml $: cannot be read: Permission denied [unreadable]" in r.output, r.output
        assert "Traceback" not in r.output
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert not (tmp_path / "out").exists()


def test_an_unreadable_reference_file_is_a_problem_naming_it(tmp_path, monkeypatch):
    ref = reference(tmp_path)
    names = ref / "dataset_lists" / "ds-a" / "ds-a_names.txt"
    _deny(monkeypatch, names)
    r = CliRunner().invoke(main, ["import-mseg", str(ref), "--specs", str(tmp_path / "specs")])
    assert r.exit_code == 1, r.output
    assert f"{names} $: cannot be read: Permission denied [unreadable]" in r.output
    assert not (tmp_path / "specs").exists()


def test_an_unwritable_output_is_one_line(tmp_path, monkeypatch):
    specs = base_specs(tmp_path)

    def mkdtemp(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / ".unitax-build-out-x"))

    monkeypatch.setattr(build.tempfile, "mkdtemp", mkdtemp)
    r = CliRunner().invoke(main, ["compile", "--specs", str(specs), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert (f"unitax: build failed: {tmp_path}/.unitax-build-out-x: Permission denied; {tmp_path}/out was left "
            "as it was") in r.output


def test_os_error_line():
    assert os_error_line(FileNotFoundError(2, "No such file or directory", "a/b")) == "a/b: No such file or directory"
    assert os_error_line(RuntimeError("Symlink loop from '/x/y'")) == "/x/y: symbolic link loop"
    assert os_error_line(RuntimeError("other")) is None
    assert os_error_line(BrokenPipeError(32, "Broken pipe")) is None


def test_import_keeps_files_that_are_not_specs(tmp_path):
    ref = reference(tmp_path)
    specs = tmp_path / "specs"
    r = CliRunner().invoke(main, ["import-mseg", str(ref), "--specs", str(specs)])
    assert r.exit_code == 0, r.output
    (specs / "README.md").write_text("ours")
    (specs / "datasets" / "ds-old.yaml").write_text("name: ds-old\nclasses: []\n")  # stale spec: removed
    r = CliRunner().invoke(main, ["import-mseg", str(ref), "--specs", str(specs)])
    assert r.exit_code == 0, r.output
    assert (specs / "README.md").read_text() == "ours" and not (specs / "datasets" / "ds-old.yaml").exists()
    assert importer.render_specs(ref).keys() == {p.relative_to(specs).as_posix() for p in specs.rglob("*.yaml")}
