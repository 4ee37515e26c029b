"""Atomic builds: a compile killed at any moment leaves the previous output usable, and says so.

`unitax compile` runs in a child process that is killed with SIGKILL at chosen moments: before
the first file is written, halfway through writing one, after every file is written, while the
written tree is verified, just before the swap, after the swap while the old tree is removed,
and between the two renames of the fallback used where renameat2 is missing. The moments are
picked by an audit hook in the child (`sys.addaudithook`: test-side, no hooks in product code);
a few more kills come from outside at spread delays after the temporary folder appears.

After every kill: the output folder holds exactly the previous build or exactly the new one
(never a mix), `unitax.load()` verifies it, `unitax check` reports the leftover temporary folder,
and the next compile removes it and writes the new build.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.corpus import make_specs

import unitax
from unitax.compiler import build
from unitax.tools.cli import main

pytestmark = pytest.mark.slow  # every test spawns compiles and kills them

# Runs `unitax compile` and SIGKILLs itself at the n-th audit event that matches the moment.
CHILD = r'''
import os, signal, sys
moment, n, specs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# Imported before the hook is installed: importing ctypes (numpy does) fires ctypes.dlopen, which
# the swap moment watches for (renameat2 is loaded through ctypes).
import ctypes, ctypes.util, numpy
from unitax.compiler import build
from unitax.tools.cli import main
TMP = build.TMP_PREFIX
count = 0
made = []

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def hook(event, args):
    global count
    if event == "tempfile.mkdtemp":
        made.append(str(args[0]))
    path = str(args[0]) if args else ""
    if path.endswith(".lock"):  # the lock file beside the output (outputs.build_lock), not a build file
        return
    if moment == "write":  # open(path, mode, flags) or os.open(path, None, flags)
        hit = (event == "open" and TMP in path
               and ("w" in str(args[1]) if args[1] is not None else bool(args[2] & (os.O_WRONLY | os.O_RDWR))))
    elif moment == "verify":
        hit = event == "open" and TMP in path and "r" in str(args[1] or "") and os.path.isfile(path)
    elif moment == "swap":  # (an os.rename elsewhere, e.g. of a template cache file, is not the swap)
        hit = event == "ctypes.dlopen" or (event == "os.rename" and TMP in path)
    elif moment == "cleanup":
        hit = event == "shutil.rmtree" and path in made
    elif moment == "fallback":
        hit = event == "os.rename"
    else:
        raise SystemExit(f"unknown moment {moment}")
    if hit:
        count += 1
        if count == n:
            die()

if moment == "fallback":
    import unitax.fileops.atomic as atomic
    atomic.exchange = lambda a, b: False  # as on a system without renameat2

if moment == "half":  # die halfway through writing the n-th file
    real_write = build._write_new
    def half_write(path, data):
        global count
        if TMP in path:
            count += 1
            if count == n:
                real_write(path, data[: len(data) // 2])
                die()
        real_write(path, data)
    build._write_new = half_write
else:
    sys.addaudithook(hook)
sys.argv = ["unitax", "compile", "--specs", specs, "--out", out]
main()
'''


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    """Specs A and B (B with one colour changed) and their compiled trees: B is the previous build."""
    tmp = tmp_path_factory.mktemp("builds")
    new_specs = make_specs(tmp / "a", {"edits": []})
    old_specs = make_specs(tmp / "b", {"edits": []})
    p = old_specs / "datasets" / "cityscapes-19.yaml"
    p.write_text(p.read_text().replace("name: road, color: [128, 64, 128]", "name: road, color: [128, 64, 129]"))
    build.compile_taxonomy(new_specs, tmp / "new")
    build.compile_taxonomy(old_specs, tmp / "old")
    old, new = build.read_tree(tmp / "old"), build.read_tree(tmp / "new")
    assert old != new and set(old) == set(new)
    return {"specs": new_specs, "old_dir": tmp / "old", "old": old, "new": new}


def compile_and_die(moment: str, n: int, specs: Path, out: Path) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-c", CHILD, moment, str(n), str(specs), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, f"the kill point {moment}#{n} was never reached: {r.stderr[-2000:]}"
    return r


def assert_recovers(out: Path, builds: dict, expect: str) -> None:
    """``out`` holds one whole build; check reports the state; the next compile cleans up."""
    tree = build.read_tree(out)
    state = "old" if tree == builds["old"] else "new" if tree == builds["new"] else "mixed"
    assert state == expect, f"after the kill {out} holds the {state} build"
    tax = unitax.load(out)  # verifies every file against the manifest
    assert tax.datasets == ("camvid-11", "camvid-32", "cityscapes-19", "cityscapes-34")

    left = build.leftovers(out)
    r = CliRunner().invoke(main, ["check", "--specs", str(builds["specs"]), "--out", str(out)])
    lines = r.stderr.splitlines()
    for folder in left:
        assert f"{folder}: left by an interrupted compile (the previous {out} is intact); run `unitax compile` " \
               "to clean up [interrupted-compile]" in lines
    if state == "old":
        assert f"{out}: is stale ({len(build.stale_files(builds['new'], out))} file(s)): run `make compile` " \
               "(unitax compile) [stale-output]" in lines
    assert r.exit_code == (1 if left or state == "old" else 0), r.output

    # The next compile removes the leftovers, also when it has nothing to write (state "new").
    result = build.compile_taxonomy(builds["specs"], out)
    assert build.leftovers(out) == []
    assert build.read_tree(out) == builds["new"] and result.changed == (state == "old")


def previous(tmp_path: Path, builds: dict) -> Path:
    out = tmp_path / "generated"
    shutil.copytree(builds["old_dir"], out)
    return out


@pytest.mark.parametrize("moment, n, expect", [
    ("write", 1, "old"),        # the temporary folder exists, nothing written yet
    ("write", -1, "old"),       # all but the last file written (n counted from the end)
    ("half", 1, "old"),         # first file half written
    ("half", -1, "old"),        # last file half written
    ("verify", 1, "old"),       # every file written, read-back verification begun
    ("swap", 1, "old"),         # verified, about to exchange the folders
    ("cleanup", 1, "new"),      # exchanged; the old tree, now in the temporary folder, half removed
], ids=lambda v: str(v))
def test_kill_at_a_chosen_moment(moment, n, expect, tmp_path, builds):
    out = previous(tmp_path, builds)
    if n < 0:
        n += len(builds["new"]) + 1
    compile_and_die(moment, n, builds["specs"], out)
    if moment != "cleanup":
        assert build.leftovers(out), "the killed compile left no temporary folder"
    assert_recovers(out, builds, expect)


def test_kill_between_the_fallback_renames_keeps_the_previous_tree_aside(tmp_path, builds):
    """Without renameat2 the swap is two renames: out -> aside, tmp -> out. Killed between them,
    out is absent for that moment but the previous tree is whole in the aside folder, check says
    so, and the next compile puts it back before it swaps the new build in."""
    out = previous(tmp_path, builds)
    compile_and_die("fallback", 2, builds["specs"], out)
    assert not out.exists()
    aside = [p for p in build.leftovers(out) if build.read_tree(p) == builds["old"]]
    assert len(aside) == 1, "the previous build is not intact beside out"
    r = CliRunner().invoke(main, ["check", "--specs", str(builds["specs"]), "--out", str(out)])
    assert r.exit_code == 1 and f"{aside[0]}: left by an interrupted compile" in r.output
    build.compile_taxonomy(builds["specs"], out)
    assert build.read_tree(out) == builds["new"] and build.leftovers(out) == []


def test_kill_during_a_first_compile_leaves_no_half_output(tmp_path, builds):
    out = tmp_path / "generated"
    compile_and_die("write", 3, builds["specs"], out)
    assert not out.exists() and build.leftovers(out)
    r = CliRunner().invoke(main, ["check", "--specs", str(builds["specs"]), "--out", str(out)])
    assert r.exit_code == 1 and "left by an interrupted compile" in r.output and "is stale" in r.output
    build.compile_taxonomy(builds["specs"], out)
    assert build.read_tree(out) == builds["new"] and build.leftovers(out) == []


@pytest.mark.parametrize("delay_ms", [0, 2, 20])
def test_kill_from_outside_at_spread_delays(delay_ms, tmp_path, builds):
    """A real SIGKILL from another process, some milliseconds after the temporary folder appears."""
    out = previous(tmp_path, builds)
    exe = Path(sys.executable).with_name("unitax")
    proc = subprocess.Popen([str(exe), "compile", "--specs", str(builds["specs"]), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and not build.leftovers(out):
            time.sleep(0.0002)
        time.sleep(delay_ms / 1000)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=300)
    tree = build.read_tree(out)
    assert_recovers(out, builds, "new" if tree == builds["new"] else "old")
