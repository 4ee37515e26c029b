"""tools/atomic.py: the tools' one atomic write (a temporary file beside the target, renamed over it)."""
from __future__ import annotations

import os
import stat
from functools import partial

import pytest

from unitax.tools.atomic import TMP_MARK, tmp_name, write_atomic


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
