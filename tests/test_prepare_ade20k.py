"""ADE20K through prepare's engine (the ``ade20k`` row): challenge + full format -> ade20k-151/150/150-relabeled;
and OpenCV's nearest resize the full format needs (tools/data/prepare/readers/ade20k_full.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from unitax.tools.data.prepare import engine

KEY = "ADE_train_00000004"   # an image MSeg's relabel records move segment 70 of


def _fake_root(tmp_path, with_seg=True):
    root = tmp_path / "ade"
    ann = root / "ADEChallengeData2016/annotations/training"
    ann.mkdir(parents=True)
    label = (np.arange(6 * 9).reshape(6, 9) % 151).astype(np.uint8)
    Image.fromarray(label).save(ann / f"{KEY}.png")
    if with_seg:
        seg = np.zeros((12, 18, 3), np.uint8)
        seg[4:10, 6:14, 2] = 70            # instance 70, in full-format resolution
        seg[..., 0] = 10
        d = root / "ADE20K_2016_07_26/images/training/h/hill"
        d.mkdir(parents=True)
        Image.fromarray(seg).save(d / f"{KEY}_seg.png")
    lists = {("ade20k-151", "train"): [f"images/training/{KEY}.jpg annotations/training/{KEY}.png"],
             ("ade20k-150", "train"): [f"images/training/{KEY}.jpg annotations_semseg150/training/{KEY}.png"],
             ("ade20k-150-relabeled", "train"): [
                 f"images/training/{KEY}.jpg annotations_semseg150_relabeled/training/{KEY}.png"]}
    return root, label, lists


def _prepare(tax, root, out, lists=None, **kw):
    p = engine.plan(tax, "ade20k", root, out, images="none", lists=lists, **kw)
    return p, engine.run(p, workers=1)


def test_ade20k_relabeled_end_to_end(tmp_path, tax):
    """The engine's ADE20K row: challenge PNG -> 150 -> 150-relabeled, segment 70 of the full format moved."""
    root, label, lists = _fake_root(tmp_path)
    out = tmp_path / "out"
    p, s = _prepare(tax, root, out, lists)
    assert (s.written, s.failed) == (1, [])
    assert p.records["ade20k-150-relabeled"].segments == 1
    got = np.asarray(Image.open(out / "annotations_semseg150_relabeled/training" / f"{KEY}.png"))
    want = tax.remap(tax.remap(label, "ade20k-151", "ade20k-150"), "ade20k-150", "ade20k-150-relabeled")
    rec = tax.relabel("ade20k-150-relabeled").segments(KEY, "train")
    assert rec.segment_ids.tolist() == [70]
    inst = np.zeros((12, 18), np.uint8)
    inst[4:10, 6:14] = 70
    moved = inst[(np.arange(6) * 12 // 6)[:, None], (np.arange(9) * 18 // 9)[None, :]] == 70
    want[moved] = rec.classes[0]
    assert moved.sum() > 0 and np.array_equal(got, want)
    plain = np.asarray(Image.open(out / "annotations_semseg150/training" / f"{KEY}.png"))
    assert np.array_equal(plain, tax.remap(label, "ade20k-151", "ade20k-150"))
    _, again = _prepare(tax, root, out, lists)
    assert (again.written, again.skipped) == (0, 1)   # finished samples are skipped


def test_ade20k_records_need_the_full_format(tmp_path, tax):
    """A sample whose image has relabel records fails, naming the full-format file, where it is absent."""
    root, _, lists = _fake_root(tmp_path, with_seg=False)
    p, s = _prepare(tax, root, tmp_path / "out", lists)
    assert [o.rel for o in s.failed] == [f"annotations/training/{KEY}.png"]
    assert f"the segment file {KEY}_seg.png that relabel records need" in s.failed[0].reason
    assert not list((tmp_path / "out").rglob("*.png"))


def test_ade20k_bad_annotation(tmp_path, tax):
    root, _, lists = _fake_root(tmp_path)
    Image.fromarray(np.full((6, 9), 200, np.uint8)).save(
        root / "ADEChallengeData2016/annotations/training" / f"{KEY}.png")
    _, s = _prepare(tax, root, tmp_path / "out", lists)
    assert len(s.failed) == 1 and "values 200 are not ids of ade20k-151" in s.failed[0].reason
    assert not list((tmp_path / "out").rglob("*.png"))


def test_ade20k_real_samples(reference, tax, tmp_path):
    root = reference / "samples/ADE20K_test_data"
    p, s = _prepare(tax, root, tmp_path, partial=True)          # the shipped lists
    assert (s.written, s.failed) == (2, [])
    assert sum(p.missing.values()) == 20210 + 2000 - 2
    for rel in sorted(p.present):
        chal = np.asarray(Image.open(root / "ADEChallengeData2016" / rel))
        want = tax.remap(chal, "ade20k-151", "ade20k-150")
        got = np.asarray(Image.open(tmp_path / rel.replace("annotations/", "annotations_semseg150/")))
        assert np.array_equal(got, want)
        want = tax.remap(want, "ade20k-150", "ade20k-150-relabeled")   # neither sample has relabel records
        got = np.asarray(Image.open(tmp_path / rel.replace("annotations/", "annotations_semseg150_relabeled/")))
        assert np.array_equal(got, want)


# ----- OpenCV's INTER_NEAREST, reproduced without OpenCV -----------------------------------------

NEAREST_TABLE = Path(__file__).parent / "goldens" / "nearest" / "opencv_nearest.tsv"


def _opencv_table() -> list[tuple[int, int, dict[int, int]]]:
    rows = []
    for line in NEAREST_TABLE.read_text("ascii").splitlines():
        if line.startswith("#"):
            continue
        src, dst, exc = line.split("\t")
        rows.append((int(src), int(dst), {} if exc == "-" else
                     {int(i): int(v) for i, v in (p.split(":") for p in exc.split(","))}))
    return rows


def test_nearest_indices_equal_opencv_on_the_table():
    """Every size pair of the table (made with OpenCV, tests/goldens/nearest/make_table.py): the source
    index of every output pixel, ties included (where OpenCV's double arithmetic falls below the exact
    floor(i * src / dst))."""
    from unitax.tools.data.prepare.readers.ade20k_full import nearest_indices

    rows = _opencv_table()
    ties = [r for r in rows if r[2]]
    assert len(rows) > 1000 and len(ties) > 500
    assert (2, 98, {49: 0}) in rows            # 49 * (1 / (98 / 2)) is just below 1
    for src, dst, exc in rows:
        want = np.arange(dst, dtype=np.int64) * src // dst
        for i, v in exc.items():
            want[i] = v
        got = nearest_indices(src, dst)
        assert np.array_equal(got, want), (src, dst, np.flatnonzero(got != want)[:5])


def test_resize_nearest_at_a_tie_takes_opencvs_row():
    from unitax.tools.data.prepare.readers.ade20k_full import resize_nearest

    a = np.arange(2 * 3, dtype=np.uint8).reshape(2, 3)
    out = resize_nearest(a, (98, 3))
    assert out[49].tolist() == a[0].tolist() and out[50].tolist() == a[1].tolist()
