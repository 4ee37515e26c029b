"""runtime/fileops/atomic.py: the tools' one atomic write (a temporary file beside the target, renamed over it)."""
from __future__ import annotations

import os
import stat
from functools import partial

import pytest

from unitax.fileops.atomic import TMP_MARK, tmp_name, write_atomic, write_set_atomic


def test_bytes_str_and_writer(tmp_path):
    write_atomic(tmp_path / "a.bin", b"\x00\x01")
    write_atomic(tmp_path / "b.txt", "é\r\n")                     # UTF-8, line endings as given
    write_atomic(tmp_path / "deep/er/c.txt", partial(os.symlink, "target"), mkdir=True)
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == "é\r\n".encode()
    assert os.readlink(tmp_path / "deep/er/c.txt") == "target"
    write_atomic(tmp_path / "a.bin", b"new")                       # replaces
    assert (tmp_path / "a.bin").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt", "deep"]


def test_mode(tmp_path):
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "plain", b"x")
        write_atomic(tmp_path / "shared", b"x", mode=0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == 0o600   # as new files get
    assert stat.S_IMODE(os.stat(tmp_path / "shared").st_mode) == 0o644


def test_the_temporary_name(tmp_path):
    t = tmp_name(tmp_path / "x.png")
    assert os.path.dirname(t) == str(tmp_path)
    name = os.path.basename(t)
    assert name.startswith(".x.png" + TMP_MARK) and not name.endswith(".png")
    assert t != tmp_name(tmp_path / "x.png")                      # unique per call


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_any_failure_leaves_the_old_file_and_no_temporary_one(tmp_path, exc):
    (tmp_path / "x").write_bytes(b"old")
    seen = []

    def writer(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(b"half")
        seen.append(tmp)
        raise exc

    with pytest.raises(type(exc)):
        write_atomic(tmp_path / "x", writer)
    assert seen and not os.path.exists(seen[0])
    assert (tmp_path / "x").read_bytes() == b"old" and os.listdir(tmp_path) == ["x"]
    with pytest.raises(IsADirectoryError):                          # the rename fails: cleaned up too
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "f").write_bytes(b"")
        write_atomic(tmp_path / "d", b"data")
    assert sorted(os.listdir(tmp_path)) == ["d", "x"]


# ----- a set of files: all new or all old ----------------------------------------------------------


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_set_is_written_whole_and_stale_files_go(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/old.yaml").write_bytes(b"old")
    (tmp_path / "a/keep.yaml").write_bytes(b"keep v1")
    write_set_atomic(tmp_path, {"a/keep.yaml": "keep v2", "b/new.yaml": b"new"}, delete=["a/old.yaml", "a/none"])
    assert _tree(tmp_path) == {"a/keep.yaml": b"keep v2", "b/new.yaml": b"new"}
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]                # no staging folder left


def test_a_set_that_cannot_be_written_leaves_the_old_one(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    for n in ("x", "y", "z"):
        (tmp_path / "a" / n).write_bytes(b"old " + n.encode())
    before = _tree(tmp_path)
    real_open = open
    calls = []

    def full_disk(path, mode="r", *a, **k):  # the second file of the set hits a full disk
        if "x" in mode and TMP_MARK in str(path):
            calls.append(path)
            if len(calls) == 2:
                raise OSError(28, "No space left on device", str(path))
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_set_atomic(tmp_path, {"a/x": b"new", "a/y": b"new", "c/w": b"new"}, delete=["a/z"])
    monkeypatch.undo()
    assert _tree(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["a"]


def test_a_failed_rename_puts_the_old_set_back(tmp_path, monkeypatch):
    (tmp_path / "x").write_bytes(b"old x")
    (tmp_path / "z").write_bytes(b"old z")
    before = _tree(tmp_path)
    real = os.replace
    n = []

    def flaky(src, dst):
        n.append(dst)
        if len(n) == 2 and str(dst).startswith(str(tmp_path)) and TMP_MARK not in str(dst):
            raise OSError(5, "Input/output error", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        write_set_atomic(tmp_path, {"x": b"new x", "sub/y": b"new y"}, delete=["z"])
    monkeypatch.undo()
    assert _tree(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["x", "z"]


def test_a_set_that_may_not_replace(tmp_path):
    (tmp_path / "b").write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        write_set_atomic(tmp_path, {"a": b"mine", "b": b"mine"}, replace=False)
    assert _tree(tmp_path) == {"b": b"theirs"} and os.listdir(tmp_path) == ["b"]
    write_set_atomic(tmp_path, {"a": b"mine"}, replace=False)
    assert _tree(tmp_path) == {"a": b"mine", "b": b"theirs"}
    with pytest.raises(ValueError):
        write_set_atomic(tmp_path, {"../escape": b"x"})


def test_a_killed_writers_staging_folder_is_swept(tmp_path):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()                                                   # a pid that is gone
    stale = tmp_path / f"{TMP_MARK}set-{dead.pid}-0123abcd"
    live = tmp_path / f"{TMP_MARK}set-{os.getpid()}-0123abcd"     # a writer still running: kept
    other = tmp_path / f"{TMP_MARK}set-{dead.pid}-notours"        # not a name write_set_atomic makes: kept
    for d in (stale, live, other):
        (d / "new").mkdir(parents=True)
        (d / "new" / "x.yaml").write_bytes(b"half")
    write_set_atomic(tmp_path, {"x.yaml": b"whole"})
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, other.name, "x.yaml"])
