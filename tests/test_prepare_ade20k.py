"""The ADE20K prepare plan (tools/prepare/ade20k.py): challenge + full format -> ade20k-151/150/150-relabeled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unitax.tools.prepare import NativeFormatError, ade20k

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
                 f"images/training/{KEY}.jpg annotations_semseg150_relabeled/training/{KEY}.png",
                 "images/training/ADE_train_09999999.jpg "
                 "annotations_semseg150_relabeled/training/ADE_train_09999999.png"]}
    return root, label, lists


def test_ade20k_relabeled_end_to_end(tmp_path, tax):
    root, label, lists = _fake_root(tmp_path)
    p = ade20k.plan(root, "ade20k-150-relabeled", ("train",), lists=lists)
    assert p.chain == ["ade20k-151", "ade20k-150", "ade20k-150-relabeled"]
    assert [s.key for s in p.samples] == [KEY] and len(p.missing) == 1 and "not in ade20k-151" in p.missing[0][1]
    assert ade20k.run(tax, p, tmp_path / "out") == []
    got = np.asarray(Image.open(tmp_path / "out/annotations_semseg150_relabeled/training" / f"{KEY}.png"))
    want = tax.remap(tax.remap(label, "ade20k-151", "ade20k-150"), "ade20k-150", "ade20k-150-relabeled")
    rec = tax.relabel("ade20k-150-relabeled").segments(KEY, "train")
    assert rec.segment_ids.tolist() == [70]
    inst = np.zeros((12, 18), np.uint8)
    inst[4:10, 6:14] = 70
    moved = inst[(np.arange(6) * 12 // 6)[:, None], (np.arange(9) * 18 // 9)[None, :]] == 70
    want[moved] = rec.classes[0]
    assert moved.sum() > 0 and np.array_equal(got, want)
    assert ade20k.run(tax, p, tmp_path / "out") == []   # finished files are skipped


def test_ade20k_150_needs_no_full_format(tmp_path, tax):
    root, label, lists = _fake_root(tmp_path, with_seg=False)
    p = ade20k.plan(root, "ade20k-150", ("train",), lists=lists)
    assert len(p.samples) == 1 and p.samples[0].seg is None
    assert np.array_equal(ade20k.prepare_sample(tax, p, p.samples[0]), tax.remap(label, "ade20k-151", "ade20k-150"))
    p = ade20k.plan(root, "ade20k-150-relabeled", ("train",), lists=lists)
    assert not p.samples and "no full-format" in p.missing[0][1]
    with pytest.raises(ValueError, match="target must be one of"):
        ade20k.plan(root, "coco-panoptic-133", lists=lists)


def test_ade20k_bad_annotation(tmp_path, tax):
    root, label, lists = _fake_root(tmp_path)
    Image.fromarray(np.full((6, 9), 200, np.uint8)).save(
        root / "ADEChallengeData2016/annotations/training" / f"{KEY}.png")
    p = ade20k.plan(root, "ade20k-150-relabeled", ("train",), lists=lists)
    with pytest.raises(NativeFormatError, match="value 200 is not an ade20k-151 id"):
        ade20k.prepare_sample(tax, p, p.samples[0])
    failed = ade20k.run(tax, p, tmp_path / "out")
    assert len(failed) == 1 and not (tmp_path / "out").exists()


def test_ade20k_real_samples(reference, tax, tmp_path):
    root = reference / "samples/ADE20K_test_data"
    p = ade20k.plan(root, "ade20k-150-relabeled")          # the shipped lists
    assert sorted(s.key for s in p.samples) == ["ADE_train_00000001", "ADE_val_00000001"]
    assert len(p.missing) == 20210 + 2000 - 2
    assert ade20k.run(tax, p, tmp_path) == []
    for s in p.samples:
        chal = np.asarray(Image.open(s.label))
        got = np.asarray(Image.open(tmp_path / s.dst))
        want = tax.remap(tax.remap(chal, "ade20k-151", "ade20k-150"), "ade20k-150", "ade20k-150-relabeled")
        assert np.array_equal(got, want)   # neither sample has relabel records


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
    from unitax.tools.prepare.readers.ade20k_full import nearest_indices

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
    from unitax.tools.prepare.readers.ade20k_full import resize_nearest

    a = np.arange(2 * 3, dtype=np.uint8).reshape(2, 3)
    out = resize_nearest(a, (98, 3))
    assert out[49].tolist() == a[0].tolist() and out[50].tolist() == a[1].tolist()
