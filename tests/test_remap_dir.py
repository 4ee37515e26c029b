"""`unitax remap-dir` on synthetic label trees made here: remapping through chained tables,
relabel records moving exactly their segments, bad files reported, resume after a kill, a
Dask cluster on loopback."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from support.cluster import CLUSTER

import unitax
from unitax.tools.cli import main
from unitax.tools.data import batch, records

CS34, CS19, CS19R = "cityscapes-34", "cityscapes-19", "cityscapes-19-relabeled"


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def _tree(root: Path, n: int, shape=(24, 32), seed=0, high=34) -> dict[str, np.ndarray]:
    """n label PNGs of ids 0..high-1 (and some 255) in nested folders; rel path -> array."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        a = rng.integers(0, high, size=shape, dtype=np.uint8)
        a[0, : i % 5] = 255
        rel = f"{['train', 'val'][i % 2]}/city{i % 3}/img{i:04d}_gtFine_labelIds.png"
        _png(root / rel, a)
        out[rel] = a
    return out


def _cli(*args: str):
    r = CliRunner().invoke(main, ["remap-dir", *map(str, args)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info
    return r


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _labels(dst: Path) -> dict[str, bytes]:
    return {p.relative_to(dst).as_posix(): p.read_bytes() for p in batch.output_files(dst)}


# ----- remapping ------------------------------------------------------------------------------


def test_route_chains_compiled_tables(tax):
    """Taxonomy.route / chain_lut, the one route remap-dir and RemapLabels take (bundled MSeg build)."""
    assert tax.route(CS34, CS19R) == (CS34, CS19, CS19R)
    assert tax.route("ade20k-151", "ade20k-150-relabeled") == ("ade20k-151", "ade20k-150", "ade20k-150-relabeled")
    assert tax.route(CS34, "universal") == (CS34, "universal")
    assert tax.route(CS34, "camvid-11") == (CS34, "universal", "camvid-11")
    with pytest.raises(unitax.UnknownDatasetError,
                       match="no chain of compiled tables leads from camvid-11 to cityscapes-34"):
        tax.route("camvid-11", CS34)
    lut = tax.chain_lut([CS34, CS19, CS19R])
    assert (lut == tax.remap_lut(CS19, CS19R)[tax.remap_lut(CS34, CS19)]).all()


def test_a_tree_is_remapped_and_src_is_untouched(tmp_path, tax):
    src, dst = tmp_path / "src", tmp_path / "dst"
    labels = _tree(src, 40)
    before = _snapshot(src)
    r = _cli(src, dst, "--from", CS34, "--to", CS19R, "-j", "2")
    assert r.exit_code == 0, r.output
    assert "remap-dir: 40 file(s) in, 40 written, 0 skipped (done before), 0 failed" in r.stdout
    assert "cityscapes-34 -> cityscapes-19 -> cityscapes-19-relabeled: 40 file(s), 40 to write" in r.stderr
    assert "note: cityscapes-19-relabeled has relabel records (2363 segments); they are not applied" in r.stderr
    assert "remap-dir [########################] 40/40 100.0%" in r.stderr  # the progress line, rate and ETA
    assert "files/s" in r.stderr and "ETA" in r.stderr
    assert _snapshot(src) == before
    assert sorted(_labels(dst)) == sorted(labels)
    for rel, a in labels.items():
        want = tax.remap(tax.remap(a, CS34, CS19), CS19, CS19R)
        got = _read(dst / rel)
        assert got.dtype == np.uint8 and (got == want).all(), rel


def test_bad_files_are_reported_and_the_rest_written(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    _tree(src, 6)
    (src / "train" / "not_an_image.png").write_bytes(b"hello")
    _png(src / "train" / "values.png", np.full((4, 4), 200, np.uint8))
    Image.fromarray(np.zeros((4, 4, 4), np.uint8)).save(src / "train" / "rgba.png")
    _png(src / "train" / "rgb_without_palette.png", np.zeros((4, 4, 3), np.uint8))
    (src / "notes.txt").write_text("not a label")
    r = _cli(src, dst, "--from", CS34, "--to", CS19, "--no-progress")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-4:] == [
        f"{src}/train/not_an_image.png: not an image (no known image header)",
        f"{src}/train/rgb_without_palette.png: RGB image, but cityscapes-34 defines no colours; give grayscale ids",
        f"{src}/train/rgba.png: PNG image of mode RGBA (RGBA) holds no label ids (expected 8/16-bit single-channel "
        "ids, or RGB colours)",
        f"{src}/train/values.png: values 200 are not ids of cityscapes-34 (ids 0..33, ignore 255)",
    ]
    assert ("remap-dir: 10 file(s) in, 6 written, 0 skipped (done before), 4 failed, 1 other file(s) not matching "
            "--pattern") in r.stdout
    assert len(_labels(dst)) == 6
    assert batch.read_failures(dst)[0] == ("train/not_an_image.png", "not an image (no known image header)")


def test_rgb_labels_in_and_out(tmp_path, tax):
    src, dst = tmp_path / "src", tmp_path / "dst"
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 19, size=(20, 30), dtype=np.uint8)
    ids[:2] = 255
    palette = tax.colors(CS19)
    rgb = palette[np.minimum(ids, 18)]
    rgb[:2] = 0  # black is no cityscapes-19 colour: unlabeled
    _png(src / "a.png", rgb)
    r = _cli(src, dst, "--from", CS19, "--to", "universal", "--output", "rgb", "--no-progress")
    assert r.exit_code == 0, r.output
    u = tax.to_universal(ids, CS19)
    want = tax.colors("universal")[np.minimum(u, 193)]
    want[u == 255] = 0
    assert (_read(dst / "a.png") == want).all()
    odd = rgb.copy()
    odd[5, 5] = (1, 2, 3)
    _png(src / "a.png", odd)
    r = _cli(src, tmp_path / "dst2", "--from", CS19, "--to", "universal", "--no-progress")
    assert r.exit_code == 1 and f"{src}/a.png: colours #010203 are not colours of cityscapes-19" in r.stderr
    r = _cli(src, tmp_path / "dst3", "--from", CS19, "--to", CS19R, "--output", "rgb")
    assert r.exit_code == 2 and "cityscapes-19-relabeled defines no colours; write grayscale ids" in r.stderr


def test_dst_inside_src_and_unknown_names_are_refused(tmp_path):
    src = tmp_path / "src"
    _tree(src, 2)
    r = _cli(src, src / "out", "--from", CS34, "--to", CS19)
    assert r.exit_code == 2 and "overlap; write the output outside the source tree" in r.stderr
    assert not (src / "out").exists()
    r = _cli(src, tmp_path / "d", "--from", "cityscapes-43", "--to", CS19)
    assert r.exit_code == 2 and "unknown dataset 'cityscapes-43'" in r.stderr
    r = _cli(src, tmp_path / "d", "--from", CS34, "--to", CS19R, "--split", "train")
    assert r.exit_code == 2 and "--split choose relabel records, which need the segment maps" in r.stderr
    r = _cli(src, tmp_path / "d", "--from", CS34, "--to", CS19, "--segments", src.parent / "nope")
    assert r.exit_code == 2  # click: the segments folder must exist


# ----- relabel records -------------------------------------------------------------------------


def _records(tax, dataset, split, n, min_segments=2):
    rl = tax.relabel(dataset)
    keys = [k for k in rl.keys(split) if "/" not in k]
    out = []
    for k in keys:
        h = rl.segments(k, split)
        if len(h.segment_ids) >= min_segments:
            out.append(h)
        if len(out) == n:
            return out
    raise AssertionError("not enough images with records")


def test_relabel_records_move_exactly_the_listed_segments(tmp_path, tax):
    """ADE20K: label PNGs in ade20k-151 ids, segment maps beside them; the output in
    ade20k-150-relabeled equals the plain remap except on the listed segments, which carry
    their records' classes."""
    ds = "ade20k-150-relabeled"
    src, seg, dst = tmp_path / "src", tmp_path / "seg", tmp_path / "dst"
    rng = np.random.default_rng(5)
    hits = _records(tax, ds, "train", 4) + _records(tax, ds, "val", 1)
    expected = {}
    for h in hits:
        folder = "training" if h.split == "train" else "validation"
        label = rng.integers(0, 151, size=(30, 40), dtype=np.uint8)
        segmap = np.zeros(label.shape, np.uint8)
        listed = h.segment_ids.tolist()
        unlisted = [s for s in range(1, 256) if s not in listed][:3]
        for i, s in enumerate(listed + unlisted):  # horizontal bands, one per segment
            segmap[i * 3:(i + 1) * 3] = s
        _png(src / folder / f"{h.key}.png", label)
        _png(seg / folder / f"{h.key}_seg.png", segmap)
        want = tax.remap(tax.remap(label, "ade20k-151", "ade20k-150"), "ade20k-150", ds)
        for s, c in zip(listed, h.classes.tolist(), strict=False):
            assert (segmap == s).any()
            want[segmap == s] = c
        expected[f"{folder}/{h.key}.png"] = want
    plain = rng.integers(0, 151, size=(30, 40), dtype=np.uint8)  # an image no record names: no segment map needed
    _png(src / "training" / "ADE_train_99999999.png", plain)
    via_150 = tax.remap(plain, "ade20k-151", "ade20k-150")
    expected["training/ADE_train_99999999.png"] = tax.remap(via_150, "ade20k-150", ds)

    r = _cli(src, dst, "--from", "ade20k-151", "--to", ds, "--segments", seg, "--partial", "-j", "2", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "relabel records of ade20k-150-relabeled" in r.stderr
    for rel, want in expected.items():
        got = _read(dst / rel)
        assert (got == want).all(), rel
    moved = sum(int((expected[r_] != tax.remap(tax.remap(_read(src / r_), "ade20k-151", "ade20k-150"),
                                               "ade20k-150", ds)).any()) for r_ in expected)
    assert moved >= 1  # some record changes a class here (not all records confirm the old one)


def test_missing_segments_and_maps_fail_their_file(tmp_path, tax):
    ds = "ade20k-150-relabeled"
    src, seg, dst = tmp_path / "src", tmp_path / "seg", tmp_path / "dst"
    a, b = _records(tax, ds, "train", 2)
    label = np.zeros((8, 8), np.uint8)
    _png(src / f"{a.key}.png", label)
    _png(src / f"{b.key}.png", label)
    _png(seg / f"{a.key}.png", np.full((8, 8), 0, np.uint8))  # none of its listed segments
    seg.mkdir(exist_ok=True)
    r = _cli(src, dst, "--from", "ade20k-150", "--to", ds, "--segments", seg, "--partial", "--no-progress")
    assert r.exit_code == 1
    shown = ", ".join(str(s) for s in a.segment_ids.tolist()[:10])
    assert (f"{src}/{a.key}.png: segment map {seg}/{a.key}.png lacks segment(s) {shown} that relabel records move"
            in r.stderr)
    assert (f"{src}/{b.key}.png: no segment map for image key {b.key} below the segments folder, and records move "
            f"{len(b.segment_ids)} of its segments") in r.stderr
    assert _labels(dst) == {}


def test_coco_rgb_segment_maps_and_ambiguous_splits(tmp_path, tax):
    ds = "coco-panoptic-133-relabeled"
    src, seg, dst = tmp_path / "src", tmp_path / "seg", tmp_path / "dst"
    (h,) = _records(tax, ds, "train", 1, min_segments=1)
    label = np.full((10, 12), 3, np.uint8)
    ids = np.zeros(label.shape, np.uint32)
    ids[:5] = h.segment_ids[0]
    rgb = np.stack([ids & 255, (ids >> 8) & 255, ids >> 16], axis=-1).astype(np.uint8)  # R + 256 G + 256^2 B
    _png(src / f"{h.key}.png", label)
    _png(seg / f"{h.key}.png", rgb)
    r = _cli(src, dst, "--from", "coco-panoptic-133", "--to", ds, "--segments", seg, "--partial", "--no-progress")
    assert r.exit_code == 0, r.output
    want = tax.remap(label, "coco-panoptic-133", ds)
    want[:5] = h.classes[0]
    assert (_read(dst / f"{h.key}.png") == want).all()

    # SUN RGB-D numbers train and test images alike: the split must come from the path or --split
    sun = "sunrgbd-37-relabeled"
    rl = tax.relabel(sun)
    train, val = rl.segments("img-000152", "train"), rl.segments("img-000152", "val")
    src, seg = tmp_path / "s2", tmp_path / "g2"
    every = sorted(set(train.segment_ids.tolist()) | set(val.segment_ids.tolist()))
    lab = np.full((2 * len(every), 6), 4, np.uint8)
    sm = np.repeat(np.array(every, np.uint8), 2)[:, None].repeat(6, axis=1)  # two rows per segment
    for folder in ("", "train/"):
        _png(src / f"{folder}img-000152.png", lab)
        _png(seg / f"{folder}img-000152.png", sm)
    r = _cli(src, tmp_path / "d2", "--from", "sunrgbd-37", "--to", sun, "--segments", seg, "--partial", "--no-progress")
    assert r.exit_code == 1
    assert (f"{src}/img-000152.png: image img-000152 has relabel records in splits train, val and its path names "
            "none of them; run each split on its own with --split") in r.stderr
    out = _read(tmp_path / "d2" / "train" / "img-000152.png")  # the folder named the split
    for s, c in zip(train.segment_ids.tolist(), train.classes.tolist(), strict=False):
        assert (out[sm == s] == c).all()
    r = _cli(src, tmp_path / "d3", "--from", "sunrgbd-37", "--to", sun, "--segments", seg, "--split", "val",
             "--no-progress")
    assert r.exit_code == 0, r.output
    out = _read(tmp_path / "d3" / "img-000152.png")
    for s, c in zip(val.segment_ids.tolist(), val.classes.tolist(), strict=False):
        assert (out[sm == s] == c).all()
    assert train.classes.tolist() != val.classes.tolist() or train.segment_ids.tolist() != val.segment_ids.tolist()


# ----- resume ------------------------------------------------------------------------------


def test_rerun_skips_finished_files_and_refuses_another_job(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    labels = _tree(src, 8)
    assert _cli(src, dst, "--from", CS34, "--to", CS19, "--no-progress").exit_code == 0
    first = _labels(dst)
    r = _cli(src, dst, "--from", CS34, "--to", CS19, "--no-progress")
    assert r.exit_code == 0 and "8 file(s) in, 0 written, 8 skipped (done before), 0 failed" in r.stdout
    rel = sorted(labels)[3]
    later = time.time() + 5
    os.utime(src / rel, (later, later))  # a changed source is redone
    r = _cli(src, dst, "--from", CS34, "--to", CS19, "--no-progress")
    assert "1 written, 7 skipped" in r.stdout
    assert _labels(dst) == first
    r = _cli(src, dst, "--from", CS34, "--to", "universal", "--no-progress")
    assert r.exit_code == 2
    assert ("holds the output of a different job (to: 'cityscapes-19' then, 'universal' now, route: "
            "['cityscapes-34', 'cityscapes-19'] then, ['cityscapes-34', 'universal'] now") in r.stderr
    r = _cli(src, dst, "--from", CS34, "--to", "universal", "--no-progress", "--overwrite")
    assert r.exit_code == 0 and "8 written, 0 skipped" in r.stdout


def _child(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "unitax.tools.cli", "remap-dir", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_tree(tmp_path, tax):
    src = tmp_path / "src"
    n = 300
    labels = _tree(src, n, shape=(128, 192), seed=9)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    args = ["--from", CS34, "--to", CS19R, "--no-progress"]
    p = _child([str(src), str(whole), *args, "-j", "1"])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err

    p = _child([str(src), str(resumed), *args, "-j", "2"], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if len(list(resumed.rglob("*_labelIds.png"))) >= 20:
            break
        time.sleep(0.005)
    os.killpg(p.pid, signal.SIGKILL)  # the CLI and its worker processes, mid-run
    p.communicate(timeout=60)
    done = list(resumed.rglob("*_labelIds.png"))
    assert 20 <= len(done) < n, f"the run was not killed mid-way ({len(done)} of {n} written)"
    for f in done:  # every output present is complete: written under a temporary name, then renamed
        rel = f.relative_to(resumed).as_posix()
        assert (_read(f) == tax.remap(tax.remap(labels[rel], CS34, CS19), CS19, CS19R)).all(), rel

    p = _child([str(src), str(resumed), *args, "-j", "2"])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    written, skipped = map(int, re.search(r"(\d+) written, (\d+) skipped", out).groups())
    # done = recorded in the job's ledger (the parent records each batch as it comes back): outputs a
    # worker renamed into place after the last recorded batch are redone, never trusted
    assert skipped <= len(done) and written == n - skipped, out
    assert _labels(resumed) == _labels(whole)
    assert not [q for q in resumed.rglob("*") if batch.TMP_MARK in q.name]


@pytest.mark.slow
def test_ctrl_c_stops_counts_what_was_written_and_resumes(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    n = 200
    _tree(src, n, shape=(128, 192), seed=2)
    args = [str(src), str(dst), "--from", CS34, "--to", CS19, "--no-progress", "-j", "2"]
    p = _child(args, start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None and len(list(dst.rglob("*_labelIds.png"))) < 10:
        time.sleep(0.005)
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    written = int(re.search(r"(\d+) written", out).group(1))
    assert "interrupted: rerun the same command to resume" in out
    assert written == len(list(dst.rglob("*_labelIds.png"))) < n
    p = _child(args)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0 and f"{n - written} written, {written} skipped" in out, out


# ----- on a Dask cluster --------------------------------------------------------------------



@pytest.mark.slow
def test_the_same_job_on_a_dask_cluster_on_loopback(tmp_path):
    pytest.importorskip("distributed", reason="Dask distributed is in the test extra: pip install -e '.[test]'")
    src = tmp_path / "src"
    _tree(src, 30, seed=4)
    (src / "train" / "broken.png").write_bytes(b"x")
    script = tmp_path / "cluster.py"
    script.write_text(CLUSTER)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "DASK_DISTRIBUTED__WORKER__DAEMON": "True"}
    cluster = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=tmp_path, env=env)
    try:
        address = cluster.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        local, remote = tmp_path / "local", tmp_path / "remote"
        args = ["--from", CS34, "--to", CS19R, "--no-progress"]
        p = _child([str(src), str(local), *args, "-j", "2"])
        p.communicate(timeout=300)
        p = _child([str(src), str(remote), *args, "--scheduler", address])
        out, err = p.communicate(timeout=300)
        assert p.returncode == 1, err  # the broken file
        assert f"on the Dask cluster at {address}" in err
        assert f"{src}/train/broken.png: not an image" in err
        assert "31 file(s) in, 30 written, 0 skipped (done before), 1 failed" in out
        assert _labels(remote) == _labels(local) and len(_labels(remote)) == 30
    finally:
        cluster.stdin.close()
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.wait(timeout=30)
        cluster.stdout.close()


def test_an_unreachable_scheduler_is_an_error(tmp_path):
    src = tmp_path / "src"
    _tree(src, 1)
    r = _cli(src, tmp_path / "d", "--from", CS34, "--to", CS19, "--scheduler", "not-an-address")
    assert r.exit_code == 2 and "cannot reach the Dask scheduler at not-an-address" in r.stderr


# ----- the progress line -----------------------------------------------------------------------


def test_progress_shows_rate_and_eta():
    stream = io.StringIO()
    bar = batch.Progress(10, stream=stream, every=0.0)
    bar.start -= 2.0  # as if two seconds had passed
    bar.update(4, 1)
    line = stream.getvalue().splitlines()[-1]
    assert line.startswith("remap-dir [#########---------------] 4/10  40.0%")
    assert "files/s" in line and "ETA 0:00:0" in line and line.endswith("1 failed")
    bar.update(10, 1)
    bar.close()
    assert stream.getvalue().splitlines()[-1].startswith("remap-dir [########################] 10/10 100.0%")
    assert len(stream.getvalue().splitlines()) == 2  # the final state is not printed twice


@pytest.mark.parametrize("ds", ["ade20k-150-relabeled", "bdd-relabeled", "cityscapes-19-relabeled",
                                "coco-panoptic-133-relabeled", "idd-39-relabeled", "mapillary-public65-relabeled",
                                "sunrgbd-37-relabeled"])
def test_records_match_mseg_label_layouts(ds, tax, reference):
    """Every relabel record finds its label file in MSeg's own layout (the split lists' label paths)."""
    import gzip

    rl = tax.relabel(ds)
    rels = []
    lists = sorted((reference / "dataset_lists" / ds.replace("-relabeled", "") / "list").glob("*.txt.gz"))
    for f in lists:
        with gzip.open(f, "rt") as fh:
            rels += [p[1] for p in (line.split() for line in fh) if len(p) == 2]
    assert lists and rels, "MSeg's split lists of this dataset are missing from the reference"
    suffix = re.compile(records.DEFAULT_KEY_SUFFIX)
    seg = {records.image_key(r, suffix): "seg" for r in rels}
    matched = []
    for r in rels:
        m = records.match(records.image_key(r, suffix), rl, None, seg)
        assert not m.why, (r, m.why)
        if m.hit is not None:
            matched.append(m.hit)
    have = {f.name.split(".")[0] for f in lists} & set(rl.splits)  # the reference ships only COCO's val list
    for split in sorted(have):
        rep = records.record_report(rl, split, [h for h in matched if h.split == split], False)
        assert rep.images_unmatched == 0 and rep.records_unmatched == 0, rep
    if ds == "sunrgbd-37-relabeled":
        rep = records.record_report(rl, None, matched, False)
        assert (rep.records_applied, rep.segments, rep.images_unmatched) == (38, len(rl), 0)


def test_sunrgbd_records_apply_on_mseg_layout(tmp_path, tax):
    """MSeg names SUN RGB-D labels 00000152.png under test/ (records: img-000152, split val)."""
    sun = "sunrgbd-37-relabeled"
    rl = tax.relabel(sun)
    src, seg, dst = tmp_path / "semseg-label37", tmp_path / "seg", tmp_path / "out"
    want = {}
    for folder, split in (("train", "train"), ("test", "val")):
        h = rl.segments("img-000152", split)
        lab = np.full((2 * len(h.segment_ids), 6), 4, np.uint8)
        sm = np.repeat(h.segment_ids.astype(np.uint8), 2)[:, None].repeat(6, axis=1)
        _png(src / folder / "00000152.png", lab)
        _png(seg / folder / "00000152.png", sm)
        want[folder] = (sm, h)
    r = _cli(src, dst, "--from", "sunrgbd-37", "--to", sun, "--segments", seg, "--no-progress")
    assert r.exit_code == 1  # the other images' records match no file: not MSeg's whole layout
    assert "records of 3947 image(s) matched no file" in r.stderr
    assert "of 2 image(s) matched files" in r.stderr
    for folder, (sm, h) in want.items():
        out = _read(dst / folder / "00000152.png")
        for s, c in zip(h.segment_ids.tolist(), h.classes.tolist(), strict=False):
            assert (out[sm == s] == c).all()
    r = _cli(src, tmp_path / "o2", "--from", "sunrgbd-37", "--to", sun, "--segments", seg, "--partial", "--no-progress")
    assert r.exit_code == 0 and "(a subset was asked for)" in r.stderr, r.output


def test_remap_labels_takes_the_same_route(tmp_path, tax):
    """RemapLabels follows Taxonomy.route step by step, as remap-dir's chain_lut does (bundled MSeg build)."""
    for target in (CS19R, "camvid-11"):
        path = tax.route(CS34, target)
        tr = unitax.RemapLabels(CS34, target)
        assert tr.route == path
        label = np.arange(34, dtype=np.uint8).reshape(2, 17)
        assert (tr(label) == tax.chain_lut(path)[label]).all()
    src, dst = tmp_path / "src", tmp_path / "dst"
    labels = _tree(src, 3)
    assert _cli(src, dst, "--from", CS34, "--to", CS19R).exit_code == 0
    tr = unitax.RemapLabels(CS34, CS19R)
    assert all((_read(dst / rel) == tr(arr)).all() for rel, arr in labels.items())
