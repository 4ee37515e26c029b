"""`unitax prepare` / `unitax prepare --verify` on synthetic download trees of every family.

The trees come from tests/fixtures/make_native.py:build_tree (a few samples of MSeg's shipped
lists per split, native files where the family's plan says the download keeps them, the relabel
records' segment ids present). Facts of the bundled MSeg taxonomy used here (its lists, its relabel
records) are named where used.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from unitax.tools.cli import main
from unitax.tools.data.batch import FAILED, LEDGER, TMP_MARK
from unitax.tools.data.prepare import engine
from unitax.tools.data.prepare.plans import FAMILIES

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import make_native  # noqa: E402


def _run(*args: str):
    return CliRunner().invoke(main, ["prepare", *args])


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[p.relative_to(root).as_posix()] = "-> " + os.readlink(p)
        elif p.is_file():
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _record_images(tax, fam, tree: Path) -> dict[str, int]:
    """relabeled space -> images of the tree whose relabel records (bundled MSeg records) name them."""
    from unitax.tools.data.prepare.lists import load_lists
    out: dict[str, int] = {}
    for space in fam.spaces:
        if space not in tax.relabel_datasets:
            continue
        rl = tax.relabel(space)
        n = 0
        for _split, line in make_native._pick(fam, {k: v for k, v in load_lists().items() if k[0] == fam.root}, tax):
            parts = line.split(" ")
            if len(parts) > 1:
                rs = engine.record_split(fam, parts[1])
                n += rs is not None and rl.segments(engine.sample_key(fam, parts[1]), rs) is not None
        out[space] = n + (fam.name == "coco-panoptic")   # build_tree adds a COCO train image with records
    return out


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_prepare_then_verify_every_family(name, tax, tmp_path):
    if name == "pascal-context":
        pytest.importorskip("scipy", reason="PASCAL-Context's .mat needs scipy: pip install -e '.[test]'")
    fam = FAMILIES[name]
    native = make_native.build_tree(name, tmp_path / "native", tax)
    before = _snapshot(native)
    out = tmp_path / "out"
    r = _run(name, str(native), str(out), "--partial", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    assert _snapshot(native) == before                          # NATIVE_ROOT only read
    # every label space MSeg derives, at the label paths of MSeg's lists, with the lists
    for space in [*fam.all_spaces, *fam.copies]:
        assert list((out / space / "list").glob("*.txt")), space
        for lf in (out / space / "list").glob("*.txt"):
            for line in lf.read_text().splitlines():
                parts = line.split(" ")
                assert (out / parts[0]).is_symlink()
                if len(parts) > 1:
                    assert (out / parts[1]).is_file()
    # the relabel report: every record of the images in the tree applied, nothing failed
    for space, n in _record_images(tax, fam, native).items():
        assert n > 0
        assert f"relabel {space}: " in r.output
        line = next(x for x in r.output.splitlines() if x.startswith(f"relabel {space}: "))
        assert f"segments of {n} images" in line, line
    v = _run("--verify", name, str(out))
    assert v.exit_code == 0, v.output + v.stderr
    assert v.output.strip().endswith("ok")
    v = _run("--verify", name, str(out), str(native))        # every moved segment, pixel by pixel
    assert v.exit_code == 0, v.output + v.stderr


def test_verify_with_native_checks_every_moved_segment(tax, tmp_path):
    native = make_native.build_tree("ade20k", tmp_path / "native", tax)
    out = tmp_path / "out"
    assert _run("ade20k", str(native), str(out), "--partial", "-j", "1", "--no-progress").exit_code == 0
    hit = tax.relabel("ade20k-150-relabeled").segments("ADE_train_00000004", "train")   # bundled MSeg records
    lab_path = out / "annotations_semseg150_relabeled/training/ADE_train_00000004.png"
    lab = np.asarray(Image.open(lab_path)).copy()
    sid, cls = int(hit.segment_ids[0]), int(hit.classes[0])
    seg = np.asarray(Image.open(next(native.rglob("ADE_train_00000004_seg.png"))))[::3, ::3, 2]
    r, c = np.argwhere(seg == sid)[0]
    lab[r, c] = (cls + 1) % 150
    Image.fromarray(lab).save(lab_path)
    v = _run("--verify", "ade20k", str(out), str(native))
    assert v.exit_code == 1 and f"segment {sid} should hold class {cls}" in v.stderr


def test_prepare_outputs_follow_the_tables(tax, tmp_path):
    """ade20k-150 is ade20k-151 through the compiled table; the relabeled file moves the records' segments."""
    native = make_native.build_tree("ade20k", tmp_path / "native", tax)
    out = tmp_path / "out"
    assert _run("ade20k", str(native), str(out), "--partial", "-j", "1", "--no-progress").exit_code == 0
    rel = "training/ADE_train_00000004.png"
    src = np.asarray(Image.open(native / "ADEChallengeData2016/annotations" / rel))
    a150 = np.asarray(Image.open(out / "annotations_semseg150" / rel))
    assert np.array_equal(a150, tax.remap(src, "ade20k-151", "ade20k-150"))
    relab = np.asarray(Image.open(out / "annotations_semseg150_relabeled" / rel))
    hit = tax.relabel("ade20k-150-relabeled").segments("ADE_train_00000004", "train")
    base = tax.remap(a150, "ade20k-150", "ade20k-150-relabeled")
    changed = relab != base
    assert changed.any()  # the fixture's record moves pixels: a prepare that skipped relabeling fails here
    assert set(np.unique(relab[changed]).tolist()) <= set(hit.classes.tolist())


def test_resume_after_a_kill_is_byte_identical(tax, tmp_path):
    """A run killed mid-way (outputs of some samples renamed into place, a temporary file left, the
    ledger's last line torn) resumes to the same bytes as an uninterrupted run."""
    native = make_native.build_tree("cityscapes", tmp_path / "native", tax)
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert _run("cityscapes", str(native), str(ref), "--partial", "-j", "1", "--no-progress").exit_code == 0
    assert _run("cityscapes", str(native), str(out), "--partial", "-j", "1", "--no-progress").exit_code == 0
    ledger = (out / LEDGER).read_text().splitlines()
    (out / LEDGER).write_text("\n".join(ledger[:-1]) + "\n" + ledger[-1][: len(ledger[-1]) // 2])
    victim = next(p for p in sorted(out.rglob("*.png")) if not p.is_symlink())
    victim.write_bytes(victim.read_bytes()[:20])                 # torn by the kill (and not in the ledger)
    (victim.parent / (victim.name + TMP_MARK + "999")).write_bytes(b"partial")
    for p in out.rglob("list/*.txt"):
        p.unlink()
    r = _run("cityscapes", str(native), str(out), "--partial", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    assert "already done" in r.output and " 0 already done" not in r.output
    keep = lambda s: {k: v for k, v in s.items() if not k.startswith(".unitax")}  # noqa: E731
    assert keep(_snapshot(out)) == keep(_snapshot(ref))


def test_missing_files_fail_with_counts(tax, tmp_path):
    native = make_native.build_tree("kitti", tmp_path / "native", tax)
    out = tmp_path / "out"
    r = _run("kitti", str(native), str(out), "-j", "1", "--no-progress")
    assert r.exit_code == 1
    assert "partial download: label sources missing: " in r.output
    assert "train 149 of 150" in r.output     # MSeg's kitti-34 train list has 150 lines, the tree 1
    assert (out / FAILED).is_file()


def test_corrupt_native_file_fails_alone(tax, tmp_path):
    native = make_native.build_tree("voc2012", tmp_path / "native", tax)
    victim = sorted((native / "VOCdevkit/VOC2012/SegmentationClassAug").glob("*.png"))[0]
    victim.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    r = _run("voc2012", str(native), str(tmp_path / "out"), "--partial", "-j", "1", "--no-progress")
    assert r.exit_code == 1
    assert victim.name in r.stderr and "1 failed" in r.output


def test_a_fifo_in_place_of_a_native_file_fails_alone_without_blocking(tax, tmp_path):
    native = make_native.build_tree("voc2012", tmp_path / "native", tax)
    victim = sorted((native / "VOCdevkit/VOC2012/SegmentationClassAug").glob("*.png"))[0]
    victim.unlink()
    os.mkfifo(victim)  # opening it would wait for a writer forever
    r = _run("voc2012", str(native), str(tmp_path / "out"), "--partial", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output  # the plan counts it as missing (not a file); nothing blocked
    assert not list((tmp_path / "out").rglob(victim.name))
    # and a file turned into a FIFO after planning is refused by the worker before it opens it
    from unitax.tools.data.prepare.errors import NativeFormatError
    from unitax.tools.data.prepare.step import source_ident

    with pytest.raises(NativeFormatError, match="not a regular file"):
        source_ident(str(victim))


def test_unknown_release_is_refused(tax, tmp_path):
    native = make_native.build_tree("mapillary", tmp_path / "native", tax)
    (native / "MapillaryVistas/config_v2.0.json").write_text("{}")
    r = _run("mapillary", str(native), str(tmp_path / "out"), "--partial", "--no-progress")
    assert r.exit_code == 2 and "refusing to guess" in r.stderr
    r = _run("mapillary", str(tmp_path / "empty-native"), str(tmp_path / "out"))
    assert r.exit_code == 2 and f"unitax prepare: {tmp_path / 'empty-native'} is not a folder" in r.stderr
    (tmp_path / "nothing").mkdir()
    r = _run("mapillary", str(tmp_path / "nothing"), str(tmp_path / "out"))
    assert r.exit_code == 2 and "no mapillary download recognised" in r.stderr


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    r = _run("ade20k", str(tmp_path))
    assert r.exit_code == 2
    assert r.stderr == "unitax prepare: give DATASET NATIVE_ROOT OUT_ROOT (or --list, or --verify DATASET OUT_ROOT)\n"
    r = _run("--verify", "ade20k")
    assert r.exit_code == 2 and r.stderr == "unitax prepare: --verify takes DATASET OUT_ROOT [NATIVE_ROOT]\n"
    r = _run("no-such-dataset", str(tmp_path), str(tmp_path / "out"))
    assert r.exit_code == 2 and r.stderr.startswith("unitax prepare: unknown dataset 'no-such-dataset'; known: ")


@pytest.mark.parametrize(("interrupted", "failed", "code"), [(True, True, 130), (False, True, 1), (True, False, 130)])
def test_an_interrupt_exits_130_before_failures_exit_1(tax, tmp_path, monkeypatch, interrupted, failed, code):
    from unitax.tools.data.batch import Outcome, Summary

    native = make_native.build_tree("wilddash", tmp_path / "native", tax)
    bad = [Outcome("a/b.png", False, "cannot read")] if failed else []
    monkeypatch.setattr(engine, "run", lambda *a, **k: Summary(1, 0, 0, bad, 0.0, interrupted))
    r = _run("wilddash", str(native), str(tmp_path / "out"), "--partial", "--no-progress")
    assert r.exit_code == code
    assert ("failed: a/b.png: cannot read" in r.stderr) == failed
    assert ("interrupted; run the same command again to resume" in r.stderr) == interrupted


def test_out_root_of_others_is_refused(tax, tmp_path):
    native = make_native.build_tree("wilddash", tmp_path / "native", tax)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("x")
    r = _run("wilddash", str(native), str(out), "--partial", "--no-progress")
    assert r.exit_code == 2 and "refusing to write into it" in r.stderr
    assert (out / "mine.txt").read_text() == "x"
    ok = tmp_path / "ok"
    assert _run("wilddash", str(native), str(ok), "--partial", "-j", "1", "--no-progress").exit_code == 0
    r = _run("kitti", str(make_native.build_tree("kitti", tmp_path / "k", tax)), str(ok), "--partial", "--no-progress")
    assert r.exit_code == 2 and "different job" in r.stderr    # another dataset's job: refused


def test_verify_finds_problems(tax, tmp_path):
    native = make_native.build_tree("camvid", tmp_path / "native", tax)
    out = tmp_path / "out"
    assert _run("camvid", str(native), str(out), "--partial", "-j", "1", "--no-progress").exit_code == 0
    lab = sorted((out / "semseg11").glob("*.png"))[0]
    a = np.asarray(Image.open(lab)).copy()
    a[0, 0] = 200                                                # no camvid-11 id
    Image.fromarray(a).save(lab)
    small = sorted((out / "Labels32-RGB").glob("*.png"))[0]
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(small)      # not its image's size
    v = _run("--verify", "camvid", str(out))
    assert v.exit_code == 1
    assert "200" in v.stderr and "its image" in v.stderr
    v = _run("--verify", "camvid", str(tmp_path / "native"))   # no prepare job there: a problem verify finds
    assert v.exit_code == 1 and "no unitax prepare job here" in v.stderr


def test_images_copy_and_none(tax, tmp_path):
    native = make_native.build_tree("scannet", tmp_path / "native", tax)
    for mode in ("copy", "none"):
        out = tmp_path / mode
        assert _run("scannet", str(native), str(out), "--partial", "--images", mode, "-j", "1",
                    "--no-progress").exit_code == 0
        imgs = [p for p in out.rglob("*.jpg")]
        assert (len(imgs) > 0 and not any(p.is_symlink() for p in imgs)) if mode == "copy" else not imgs
        assert _run("--verify", "scannet", str(out)).exit_code == 0


def test_list_names_every_family():
    r = _run("--list")
    assert r.exit_code == 0
    for name in FAMILIES:
        assert f"\n{name}: " in "\n" + r.output


@pytest.mark.slow
def test_pool_of_two_workers_gives_the_same_bytes(tax, tmp_path):
    native = make_native.build_tree("idd", tmp_path / "native", tax)
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run("idd", str(native), str(a), "--partial", "-j", "1", "--no-progress").exit_code == 0
    assert _run("idd", str(native), str(b), "--partial", "-j", "2", "--no-progress").exit_code == 0
    keep = lambda s: {k: v for k, v in s.items() if not k.startswith(".unitax")}  # noqa: E731
    assert keep(_snapshot(a)) == keep(_snapshot(b))


# ----- the real MSeg samples (../shared/reference/mseg/samples) --------------------------------------


def test_real_ade20k_sample(reference, tax, tmp_path):
    native = reference / "samples/ADE20K_test_data"
    out = tmp_path / "out"
    r = _run("ade20k", str(native), str(out), "--partial", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    v = _run("--verify", "ade20k", str(out))
    assert v.exit_code == 0, v.output + v.stderr
    src = np.asarray(Image.open(native / "ADEChallengeData2016/annotations/training/ADE_train_00000001.png"))
    got = np.asarray(Image.open(out / "annotations_semseg150/training/ADE_train_00000001.png"))
    assert np.array_equal(got, tax.remap(src, "ade20k-151", "ade20k-150"))


def test_real_coco_sample(reference, tax, tmp_path):
    native = reference / "samples/COCOPanoptic_test_data"
    out = tmp_path / "out"
    r = _run("coco-panoptic", str(native), str(out), "--partial", "--images", "none", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    assert "derived from annotations/panoptic_train2017.json" in r.output
    rl = tax.relabel("coco-panoptic-133-relabeled")   # the bundled MSeg records of the two sample images
    n = sum(len(rl.segments(k, s).segment_ids) for k, s in (("000000000139", "val"), ("000000000009", "train")))
    assert f"{n} segments of 2 images" in r.output, r.output
    v = _run("--verify", "coco-panoptic", str(out), str(native))   # every moved segment, pixel by pixel
    assert v.exit_code == 0, v.output + v.stderr
    assert (out / "semantic_relabeled133/val2017/000000000139.png").is_file()
    assert (out / "semantic_relabeled133/train2017/000000000009.png").is_file()


@pytest.mark.slow
def test_a_killed_process_resumes_to_the_same_bytes(tax, tmp_path):
    """SIGKILL a real `unitax prepare` once its ledger holds a finished sample; the rerun finishes
    the job, and the tree equals an uninterrupted run's."""
    import signal
    import subprocess
    import time

    from unitax.tools.data.prepare.lists import load_lists

    pytest.importorskip("scipy", reason="PASCAL-Context's .mat needs scipy: pip install -e '.[test]'")
    native = tmp_path / "native"
    make_native.grow_tree(tax, load_lists(), "pascal-context", native, 150, (96, 128))
    cli = [sys.executable, "-m", "unitax.tools.cli", "prepare", "pascal-context", str(native)]
    ref, out = tmp_path / "ref", tmp_path / "out"
    subprocess.run(cli + [str(ref), "--partial", "-j", "1", "--no-progress"], check=True, capture_output=True)
    proc = subprocess.Popen(cli + [str(out), "--partial", "-j", "1", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / LEDGER).is_file() and (out / LEDGER).stat().st_size > 0:
            break
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    if not killed:
        pytest.skip("the run finished before it could be killed (machine too fast for 150 samples)")
    assert not (out / "pascal-context-460" / "list").exists()     # killed before the lists
    r = subprocess.run(cli + [str(out), "--partial", "-j", "1", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 already done" not in r.stdout
    keep = lambda s: {k: v for k, v in s.items() if not k.startswith(".unitax")}  # noqa: E731
    assert keep(_snapshot(out)) == keep(_snapshot(ref))


@pytest.mark.slow
def test_prepare_on_a_dask_cluster(tax, tmp_path):
    """The same job on a Dask cluster on loopback (a child process, as in test_remap_dir) gives the same bytes."""
    import subprocess

    pytest.importorskip("distributed", reason="Dask distributed is in the test extra: pip install -e '.[test]'")
    from support.cluster import CLUSTER

    native = make_native.build_tree("coco-panoptic", tmp_path / "native", tax)
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run("coco-panoptic", str(native), str(a), "--partial", "-j", "1", "--no-progress").exit_code == 0
    script = tmp_path / "cluster.py"
    script.write_text(CLUSTER)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "DASK_DISTRIBUTED__WORKER__DAEMON": "True"}
    cluster = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=tmp_path, env=env)
    try:
        address = cluster.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        r = subprocess.run([sys.executable, "-m", "unitax.tools.cli", "prepare", "coco-panoptic", str(native), str(b),
                            "--partial", "--scheduler", address, "--no-progress"], capture_output=True, text=True,
                           env=env, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        cluster.stdin.close()
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.wait(timeout=30)
        cluster.stdout.close()
    keep = lambda s: {k: v for k, v in s.items() if not k.startswith(".unitax")}  # noqa: E731
    assert keep(_snapshot(a)) == keep(_snapshot(b))
