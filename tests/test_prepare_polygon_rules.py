"""The two polygon relabel rules (tools/data/prepare/polygon_relabel.py), a failing sample leaving none
of its outputs, the counts of the run's summary, and refusals reported by reason."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from unitax.tools.cli import main
from unitax.tools.data.batch import FAILED, read_failures
from unitax.tools.data.prepare import NativeFormatError
from unitax.tools.data.prepare import polygon_relabel as pr
from unitax.tools.data.prepare.plans import FAMILIES

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import make_native  # noqa: E402


def _square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


# ----- the rules on arrays -----------------------------------------------------------------------

ANN = {"imgHeight": 10, "imgWidth": 12, "objects": [
    {"label": "road", "polygon": _square(0, 0, 11, 9)},          # 0
    {"label": "rider", "polygon": _square(1, 1, 6, 6)},          # 1: relabeled, record 1
    {"label": "rider", "polygon": _square(4, 4, 9, 8)},          # 2: relabeled, record 0, drawn over 1
    {"label": "motorcycle", "polygon": _square(5, 0, 7, 3)},     # 3: occludes 1
    {"label": "rider", "polygon": _square(8, 0, 9, 1)},          # 4: relabeled, record 2
    {"label": "car", "polygon": _square(7, 0, 11, 2)},           # 5: hides 4 completely
]}


def _visible(ann):
    """Segment map: the object drawn last (fill only, file order)."""
    from PIL import Image, ImageDraw
    img = Image.new("I", (ann["imgWidth"], ann["imgHeight"]), -1)
    d = ImageDraw.Draw(img)
    for k, o in enumerate(ann["objects"]):
        d.polygon([tuple(p) for p in o["polygon"]], fill=k)
    return np.asarray(img, dtype=np.int32)


def _box(x0, y0, x1, y1, shape=(10, 12)):
    m = np.zeros(shape, bool)
    m[y0:y1 + 1, x0:x1 + 1] = True
    return m


def test_mseg_rule_paints_whole_polygons_in_record_order():
    label = np.zeros((10, 12), np.uint8)
    ids, classes, records = np.array([1, 2, 4], np.uint32), np.array([11, 22, 44], np.uint8), np.array([1, 0, 2])
    vis = _visible(ANN)
    st = pr.paint_mseg(label, ANN, ids, classes, records, vis)
    want = np.zeros((10, 12), np.uint8)
    want[_box(4, 4, 9, 8)] = 22          # record 0 first
    want[_box(1, 1, 6, 6)] = 11          # record 1 over it: also over the motorcycle and over segment 2
    want[_box(8, 0, 9, 1)] = 44          # record 2: hidden under the car, painted all the same
    assert np.array_equal(label, want)
    assert st.segments == 3 and st.hidden == 0 and st.empty == 0
    outside = sum(int((_box(*b) & (vis != s)).sum()) for s, b in ((1, (1, 1, 6, 6)), (2, (4, 4, 9, 8)),
                                                                   (4, (8, 0, 9, 1))))
    assert st.repainted == outside > 0


def test_visible_rule_moves_visible_pixels_and_counts_hidden_segments():
    label = np.zeros((10, 12), np.uint8)
    vis = _visible(ANN)
    st = pr.paint_visible(label, ANN, np.array([1, 2, 4], np.uint32), np.array([11, 22, 44], np.uint8), vis)
    want = np.where(vis == 1, 11, np.where(vis == 2, 22, 0)).astype(np.uint8)
    assert np.array_equal(label, want)
    assert st.hidden == 1 and st.segments == 3 and st.repainted == 0


def test_mseg_mask_is_msegs_rasterisation():
    # a polygon whose points share one row is drawn as a line (MSeg works around a Pillow bug so)
    m = pr.mseg_mask([[1, 3], [5, 3], [8, 3]], 6, 10)
    assert m.sum() == 8 and m[3, 1:9].all()
    # fill and outline (with Pillow >= 9 a filled polygon holds its outline already): never fewer pixels
    from PIL import Image, ImageDraw
    img = Image.new("L", (10, 8), 0)
    ImageDraw.Draw(img).polygon([(1, 1), (8.5, 2), (4, 6.5)], fill=1)
    fill_only = np.asarray(img) == 1
    m = pr.mseg_mask([[1, 1], [8.5, 2], [4, 6.5]], 8, 10)
    assert (m | fill_only).sum() == m.sum() >= fill_only.sum() > 0
    assert not pr.mseg_mask([[20, 20], [30, 20], [25, 30]], 8, 10).any()     # outside: empty
    with pytest.raises(NativeFormatError, match="segment 3: polygon is not a list of"):
        pr.mseg_mask([[1, "x"], [2, 2], [3, 1]], 8, 10, "f.json", 3)


def test_segment_ids_follow_msegs_lookup():
    ann = {"imgHeight": 4, "imgWidth": 4, "objects": [
        {"label": "a", "polygon": _square(0, 0, 1, 1), "id": 7},
        {"label": "b", "polygon": _square(2, 2, 3, 3), "deleted": 1},   # index 1, deleted: still a segment
    ]}
    assert sorted(pr.segment_polygons(ann)) == [1, 7]
    label = np.zeros((4, 4), np.uint8)
    st = pr.paint_mseg(label, ann, np.array([1], np.uint32), np.array([5], np.uint8), np.array([0]), None)
    assert label[2:4, 2:4].tolist() == [[5, 5], [5, 5]] and st.repainted == 0
    with pytest.raises(NativeFormatError, match=r"has no polygon with segment id\(s\) 9 that relabel records move"):
        pr.paint_mseg(label, ann, np.array([9], np.uint32), np.array([5], np.uint8), np.array([0]), None, "f.json")
    with pytest.raises(NativeFormatError, match=r"has no polygon with segment id\(s\) 9"):
        pr.paint_visible(label, ann, np.array([9], np.uint32), np.array([5], np.uint8), np.full((4, 4), -1))


# ----- whole runs ----------------------------------------------------------------------------------


def _run(*args: str):
    return CliRunner().invoke(main, ["prepare", *args, "-j", "1", "--no-progress"])


@pytest.mark.mseg_specs
def test_the_run_reports_each_rule(tax, tmp_path):
    """The golden IDD tree (bundled MSeg records) has riders partly under later polygons and one hidden."""
    native = make_native.build_golden_tree("idd", tmp_path / "native", tax)
    r = _run("idd", str(native), str(tmp_path / "a"), "--partial")
    assert r.exit_code == 0, r.output + r.stderr
    m = re.search(r"relabel idd-39-relabeled: MSeg's polygon rule repainted (\d+) pixel\(s\) of other", r.output)
    assert m and int(m.group(1)) > 0, r.output
    r = _run("idd", str(native), str(tmp_path / "b"), "--partial", "--relabel-polygons", "visible")
    assert r.exit_code == 0, r.output + r.stderr
    m = re.search(r"relabel idd-39-relabeled: (\d+) of (\d+) segment\(s\) were completely hidden", r.output)
    assert m and 0 < int(m.group(1)) < int(m.group(2)), r.output


@pytest.mark.mseg_specs
@pytest.mark.parametrize("rule", ["mseg", "visible"])
def test_a_failing_sample_leaves_none_of_its_outputs(tax, tmp_path, rule):
    native = make_native.build_golden_tree("idd", tmp_path / "native", tax)
    fam = FAMILIES["idd"]
    lines = make_native.golden_lines("idd", tax)
    bad_label = lines[0][1].split(" ")[1]                     # a sample with relabel records
    src = native / fam.bases[0] / re.sub(fam.label_src[0], fam.label_src[1], bad_label)
    ann = json.loads(src.read_text())
    ann["objects"][-1]["label"] = "flying saucer"             # MSeg skips it with a warning; unitax refuses
    src.write_text(json.dumps(ann))
    out = tmp_path / "out"
    r = _run("idd", str(native), str(out), "--partial", "--relabel-polygons", rule)
    assert r.exit_code == 1, r.output + r.stderr
    stem = Path(bad_label).name.split("_")[0]
    assert not [p for p in out.rglob(f"{stem}_*") if p.is_file()]           # no space got a file of it
    assert not any(bad_label.split("/")[-1] in p.read_text() for p in out.glob("*/list/*.txt"))
    (rel, reason), = read_failures(out)
    assert rel == bad_label and f"objects[{len(ann['objects']) - 1}]: label 'flying saucer'" in reason
    assert "failures by reason: 1 x objects[N]: label '…' is not a class of the dataset" in r.stderr
    assert "--partial prepares what is there; these are there and were refused" in r.stderr
    assert (out / FAILED).is_file()
    # the relabel report counts the samples written, not the failed one
    n_with_records = sum(1 for _, ln in lines if make_native._needed(fam, tax, ln.split(" ")[1]))
    line = next(x for x in r.output.splitlines() if x.startswith("relabel idd-39-relabeled: ") and "records" in x)
    assert f"segments of {n_with_records - 1} images" in line, line
    assert f"label files written: idd-39 {len(lines) - 1}, idd-39-relabeled {len(lines) - 1}, idd-40 {len(lines) - 1}" \
        in r.output


@pytest.mark.mseg_specs
def test_images_none_counts_only_samples_with_files(tax, tmp_path):
    """MSeg's IDD lists have image-only test lines: with --images none they write nothing and are no sample written."""
    native = make_native.build_tree("idd", tmp_path / "native", tax)
    labels = list((native / "IDD_Segmentation").rglob("*_polygons.json"))
    r = _run("idd", str(native), str(tmp_path / "out"), "--partial", "--images", "none")
    assert r.exit_code == 0, r.output + r.stderr
    assert f"idd: {len(labels)} samples written," in r.output, r.output
    assert f"label files written: idd-39 {len(labels)}, idd-39-relabeled {len(labels)}, idd-40 {len(labels)}" \
        in r.output
    test_lists = list((tmp_path / "out" / "idd-40" / "list").glob("test*.txt"))
    assert test_lists and all(" " not in ln for f in test_lists for ln in f.read_text().splitlines())


def test_an_unknown_rule_is_refused(tmp_path):
    r = _run("idd", str(tmp_path), str(tmp_path / "out"), "--relabel-polygons", "whole")
    assert r.exit_code == 2 and "'whole' is not one of 'mseg', 'visible'" in r.output


@pytest.mark.mseg_specs
@pytest.mark.parametrize("rule", ["mseg", "visible"])
def test_verify_applies_the_runs_rule_again(tax, tmp_path, rule):
    from PIL import Image

    native = make_native.build_golden_tree("cityscapes", tmp_path / "native", tax)
    out = tmp_path / "out"
    assert _run("cityscapes", str(native), str(out), "--partial", "--relabel-polygons", rule).exit_code == 0
    for extra in ((), (str(native),)):
        v = CliRunner().invoke(main, ["prepare", "--verify", "cityscapes", str(out), *extra])
        assert v.exit_code == 0, v.output + v.stderr
    lab_path = next((out / "gtFine_34cls_relabeled").rglob("hamburg_*.png"))
    lab = np.asarray(Image.open(lab_path)).copy()
    lab[0, 0] = (int(lab[0, 0]) + 1) % 30
    Image.fromarray(lab).save(lab_path)
    v = CliRunner().invoke(main, ["prepare", "--verify", "cityscapes", str(out), str(native)])
    assert v.exit_code == 1
    assert f"{lab_path}: 1 pixel(s) differ from the relabel records applied again ({rule} rule)" in v.stderr
