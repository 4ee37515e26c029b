"""The streaming evaluator: a hand-computed example, brute force on random data, int64 counts,
errors, and evaluation of universal predictions in the real MSeg datasets' own classes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from support.bundled import N_UNIVERSAL
from support.examples import examples

import unitax
from unitax import Evaluator, LabelError
from unitax.tools.cli import main

NAMES = ("road", "car", "sky", "tree")  # "tree" never occurs in the ground truth below


def test_hand_computed_example():
    gt = np.array([[0, 0, 1, 1],
                   [2, 2, 2, 255]], dtype=np.uint8)
    pred = np.array([[0, 1, 1, 255],
                     [2, 2, 3, 0]], dtype=np.uint8)
    ev = Evaluator(NAMES)
    ev.update(pred, gt)
    r = ev.result()
    # Valid pixels: 7. road: gt 2, hit 1, predicted 1 (the pixel over ignore gt does not count).
    # car: gt 2, hit 1 (the other is predicted ignore), predicted 2. sky: gt 3, hit 2, predicted 2.
    # tree: never in gt, predicted once (a sky pixel).
    assert r.confusion.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 2, 1], [0, 0, 0, 0]]
    assert r.unpredicted.tolist() == [0, 1, 0, 0]
    assert r.gt_pixels.tolist() == [2, 2, 3, 0] and r.pred_pixels.tolist() == [1, 2, 2, 1]
    assert r.present.tolist() == [True, True, True, False] and r.absent == ("tree",)
    # standard: tree is predicted but absent from the ground truth, so IoU 0 (TP+FP+FN = 1), and it
    # counts in the mean; its accuracy (recall) has no ground truth, so NaN
    iou = [1 / (2 + 1 - 1), 1 / (2 + 2 - 1), 2 / (3 + 2 - 2), 0.0]  # 1/2, 1/3, 2/3, 0
    assert r.convention == "standard"
    assert r.iou.tolist() == pytest.approx(iou)
    assert r.miou == pytest.approx(1.5 / 4)
    assert r.fwiou == pytest.approx(2 / 7 * 1 / 2 + 2 / 7 * 1 / 3 + 3 / 7 * 2 / 3)
    assert r.pixel_accuracy == pytest.approx(4 / 7)
    assert math.isnan(r.accuracy[3]) and r.mean_accuracy == pytest.approx((1 / 2 + 1 / 2 + 2 / 3) / 3)
    assert r.pixels == 7
    d = r.as_dict()
    assert d["classes"][3] == {"id": 3, "name": "tree", "present": False, "iou": 0.0, "accuracy": None,
                               "gt_pixels": 0, "pred_pixels": 1}
    assert d["convention"] == "standard" and d["present_classes"] == 3 and d["miou"] == pytest.approx(0.375)
    json.dumps(d, allow_nan=False)  # strictly valid JSON
    text = r.table()
    assert "tree" in text and "n/a" in text and "mIoU 37.50" in text and "convention: standard" in text


# gt/pred of the hand-computed example, with a fifth class "bus" in neither
HAND_GT = np.array([[0, 0, 1, 1], [2, 2, 2, 255]], dtype=np.uint8)
HAND_PRED = np.array([[0, 1, 1, 255], [2, 2, 3, 0]], dtype=np.uint8)
NAMES5 = NAMES + ("bus",)


def test_hand_computed_standard_convention_with_a_class_in_neither():
    ev = Evaluator(NAMES5)
    ev.update(HAND_PRED, HAND_GT)
    r = ev.result()
    assert r.iou[:4].tolist() == pytest.approx([1 / 2, 1 / 3, 2 / 3, 0.0]) and math.isnan(r.iou[4])  # bus: 0/0
    assert r.miou == pytest.approx((1 / 2 + 1 / 3 + 2 / 3 + 0) / 4)  # bus skipped, tree counted
    assert math.isnan(r.accuracy[3]) and math.isnan(r.accuracy[4])
    assert r.mean_accuracy == pytest.approx((1 / 2 + 1 / 2 + 2 / 3) / 3)
    assert r.as_dict()["classes"][4]["iou"] is None
    assert "bus" in r.table() and r.table().count("n/a") == 3  # tree acc, bus IoU and acc


def test_hand_computed_mseg_convention():
    """mseg-semantic: I / (U + 1e-10) and I / (T + 1e-10) for every class, means over all 5."""
    ev = Evaluator(NAMES5, convention="mseg")
    ev.update(HAND_PRED, HAND_GT)
    r = ev.result()
    assert r.convention == "mseg"
    eps = 1e-10
    iou = [1 / (2 + eps), 1 / (3 + eps), 2 / (3 + eps), 0 / (1 + eps), 0 / (0 + eps)]
    acc = [1 / (2 + eps), 1 / (2 + eps), 2 / (3 + eps), 0.0, 0.0]
    assert r.iou.tolist() == iou and r.accuracy.tolist() == acc  # exactly the same float64 arithmetic
    assert r.miou == pytest.approx((1 / 2 + 1 / 3 + 2 / 3) / 5)  # 0.3: tree and bus count as 0
    assert r.mean_accuracy == pytest.approx((1 / 2 + 1 / 2 + 2 / 3) / 5)
    assert r.pixel_accuracy == pytest.approx(4 / 7) and r.pixels == 7
    d = r.as_dict()
    assert d["convention"] == "mseg" and d["classes"][4]["iou"] == 0.0 and d["miou"] == pytest.approx(0.3)
    assert "convention: mseg" in r.table() and "mIoU 30.00" in r.table()
    # the same counts, re-scored by the other convention
    assert ev.result("standard").miou == pytest.approx(0.375) and Evaluator(NAMES5).result("mseg").miou == 0.0


def test_ignore_pixels_do_not_count_in_either_convention():
    gt = np.array([255, 255, 0, 1], np.uint8)
    pred = np.array([1, 2, 0, 255], np.uint8)  # predictions over ignore gt count nowhere
    for conv in ("standard", "mseg"):
        ev = Evaluator(("a", "b", "c"), convention=conv)
        ev.update(pred, gt)
        r = ev.result()
        assert r.pred_pixels.tolist() == [1, 0, 0] and r.gt_pixels.tolist() == [1, 1, 0] and r.pixels == 2
        assert r.iou[0] == pytest.approx(1.0) and r.iou[1] == 0.0
    assert math.isnan(Evaluator(("a", "b", "c")).result().miou)


def test_unknown_convention_is_a_clear_error(tax):
    for bad in ("cityscapes", "MSEG", None):
        with pytest.raises(ValueError, match="unknown evaluation convention.*standard, mseg"):
            Evaluator(NAMES, convention=bad)
        with pytest.raises(ValueError, match="unknown evaluation convention"):
            tax.evaluator("camvid-11", convention=bad)
    with pytest.raises(ValueError, match="unknown evaluation convention"):
        Evaluator(NAMES).result("nope")


def mseg_meter(pred: np.ndarray, gt: np.ndarray, n: int, ignore: int) -> dict:
    """mseg-semantic's rule written out independently: predictions over ignore ground truth become
    the ignore value, histograms over 0..n-1, I/(U+1e-10), means over all n classes."""
    pred = np.where(gt == ignore, ignore, pred)
    inter = np.array([np.sum((pred == c) & (gt == c)) for c in range(n)], np.float64)
    area_p = np.array([np.sum(pred == c) for c in range(n)], np.float64)
    area_t = np.array([np.sum(gt == c) for c in range(n)], np.float64)
    iou = inter / (area_p + area_t - inter + 1e-10)
    acc = inter / (area_t + 1e-10)
    return {"iou": iou, "acc": acc, "miou": iou.mean(), "macc": acc.mean(),
            "pacc": inter.sum() / (area_t.sum() + 1e-10)}


def brute_force(pred: np.ndarray, gt: np.ndarray, n: int, ignore: int) -> dict:
    """Metrics by the definitions, one pixel at a time."""
    tp, gt_n, pred_n = [0] * n, [0] * n, [0] * n
    for p, g in zip(pred.ravel().tolist(), gt.ravel().tolist(), strict=False):
        if g == ignore:
            continue
        gt_n[g] += 1
        if p != ignore:
            pred_n[p] += 1
        if p == g:
            tp[g] += 1
    total = sum(gt_n)
    iou = [tp[c] / (gt_n[c] + pred_n[c] - tp[c]) if gt_n[c] + pred_n[c] else None for c in range(n)]
    acc = [tp[c] / gt_n[c] if gt_n[c] else None for c in range(n)]
    present = [c for c in range(n) if gt_n[c]]
    scored = [c for c in range(n) if iou[c] is not None]
    return {
        "tp": tp, "gt": gt_n, "pred": pred_n, "iou": iou, "acc": acc,
        "miou": sum(iou[c] for c in scored) / len(scored),
        "macc": sum(acc[c] for c in present) / len(present),
        "fwiou": sum(gt_n[c] / total * iou[c] for c in present),
        "pacc": sum(tp) / total,
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64])
@pytest.mark.parametrize("seed", range(4))
def test_against_brute_force_on_random_data(dtype, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    ignore = 255
    ev = Evaluator([f"c{i}" for i in range(n)], ignore)
    preds, gts = [], []
    for _ in range(3):  # several batches of different shapes
        shape = tuple(int(s) for s in rng.integers(1, 40, size=int(rng.integers(1, 4))))
        gt = rng.integers(0, n, size=shape)
        gt[rng.random(shape) < 0.2] = ignore
        pred = np.where(rng.random(shape) < 0.5, gt, rng.integers(0, n, size=shape))
        pred[rng.random(shape) < 0.1] = ignore
        ev.update(pred.astype(dtype), gt.astype(dtype))
        preds.append(pred.ravel())
        gts.append(gt.ravel())
    want = brute_force(np.concatenate(preds), np.concatenate(gts), n, ignore)
    r = ev.result()
    assert np.diagonal(r.confusion).tolist() == want["tp"]
    assert r.gt_pixels.tolist() == want["gt"] and r.pred_pixels.tolist() == want["pred"]
    for c in range(n):
        if want["iou"][c] is None:
            assert math.isnan(r.iou[c]) and not r.present[c]
        else:
            assert r.iou[c] == pytest.approx(want["iou"][c])
        if want["acc"][c] is None:
            assert math.isnan(r.accuracy[c]) and not r.present[c]
        else:
            assert r.accuracy[c] == pytest.approx(want["acc"][c])
    assert r.miou == pytest.approx(want["miou"]) and r.mean_accuracy == pytest.approx(want["macc"])
    assert r.fwiou == pytest.approx(want["fwiou"]) and r.pixel_accuracy == pytest.approx(want["pacc"])
    m = ev.result("mseg")
    mw = mseg_meter(np.concatenate(preds), np.concatenate(gts), n, ignore)
    assert m.iou == pytest.approx(mw["iou"]) and m.accuracy == pytest.approx(mw["acc"])
    assert m.miou == pytest.approx(mw["miou"]) and m.mean_accuracy == pytest.approx(mw["macc"])
    assert m.pixel_accuracy == pytest.approx(mw["pacc"])


@settings(max_examples=examples(40), deadline=None)
@given(st.integers(1, 254), st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_fast_and_general_paths_and_batching_agree(n, seed, parts):
    """uint8 (one uint16 key per pixel) and int64 (gt * (n+1) + pred) counting agree, in any batching."""
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, n, size=997)
    gt[rng.random(997) < 0.1] = 255
    pred = rng.integers(0, n, size=997)
    pred[rng.random(997) < 0.1] = 255
    fast, general = Evaluator(range(n)), Evaluator(range(n))
    for p, g in zip(np.array_split(pred, parts), np.array_split(gt, parts), strict=False):
        fast.update(p.astype(np.uint8), g.astype(np.uint8))
    general.update(pred.astype(np.int64), gt.astype(np.int64))
    assert np.array_equal(fast.confusion, general.confusion)
    assert np.array_equal(fast.result().unpredicted, general.result().unpredicted)


def test_counts_are_int64_and_never_wrap():
    ev = Evaluator(NAMES)
    big = np.zeros((4, 4), dtype=np.int64)
    big[0, 0] = 2**33 + 1  # beyond uint32: a 32-bit accumulator would have wrapped
    big[1, 0] = 2**31
    ev.add_counts(big, np.array([0, 2**32, 0, 0]))
    ev.update(np.zeros((512, 512), np.uint8), np.zeros((512, 512), np.uint8))
    r = ev.result()
    assert r.confusion.dtype == np.int64 and r.unpredicted.dtype == np.int64
    assert int(r.confusion[0, 0]) == 2**33 + 1 + 512 * 512
    assert r.pixels == 2**33 + 1 + 512 * 512 + 2**31 + 2**32
    assert r.iou[0] == (2**33 + 1 + 512 * 512) / (2**33 + 1 + 512 * 512 + 2**31)
    other = Evaluator(NAMES)
    other.add_counts(big)
    ev.merge(other)
    assert int(ev.confusion[0, 0]) == 2 * (2**33 + 1) + 512 * 512


def test_many_batches_sum_exactly():
    ev = Evaluator(NAMES)
    gt = np.tile(np.array([0, 1, 2, 3, 255], np.uint8), 1 << 20)  # 5 Mi pixels a batch
    for _ in range(8):
        ev.update(gt, gt)
    assert ev.confusion.diagonal().tolist() == [8 << 20] * 4
    assert ev.result().miou == 1.0


def test_bad_values_raise_and_count_nothing():
    ev = Evaluator(NAMES)
    ok = np.zeros(6, np.uint8)
    with pytest.raises(LabelError, match=r"ground-truth values outside the class ids 0..3 \(and ignore 255\): 4, 7"):
        ev.update(ok, np.array([0, 4, 7, 255, 1, 2], np.uint8))
    with pytest.raises(LabelError, match=r"predicted values outside .*: 9"):
        ev.update(np.array([0, 9, 0, 0, 0, 0], np.uint8), ok)
    with pytest.raises(LabelError, match=r"ground-truth values outside .*: -1"):
        ev.update(ok.astype(np.int16), np.array([0, -1, 0, 0, 0, 0], np.int16))
    with pytest.raises(LabelError, match="shape"):
        ev.update(ok, ok[:5])
    with pytest.raises(LabelError, match="integer"):
        ev.update(ok.astype(np.float32), ok)
    assert ev.confusion.sum() == 0
    # predictions are read only where the ground truth is valid, in both counting paths
    for dt in (np.uint8, np.int32):
        ev.update(np.array([9], dt), np.array([255], dt))
    assert ev.result().pixels == 0 and math.isnan(ev.result().miou)
    with pytest.raises(ValueError, match="is a class id"):
        Evaluator(NAMES, ignore_index=2)


def test_uint16_label_space_with_ignore_65535():
    names = [f"c{i}" for i in range(300)]
    ev = Evaluator(names, ignore_index=65535)
    gt = np.array([299, 0, 65535, 5], np.uint16)
    ev.update(np.array([299, 1, 3, 65535], np.uint16), gt)
    r = ev.result()
    assert r.pixels == 3 and r.iou[299] == 1.0 and r.iou[0] == 0.0 and r.unpredicted[5] == 1


# ----- on the real MSeg taxonomy --------------------------------------------------------------


def test_universal_scores_in_a_test_dataset(tax):
    rng = np.random.default_rng(1)
    probs = rng.random((N_UNIVERSAL, 2, 16, 16)).astype(np.float32)
    gt = rng.integers(0, 11, size=(2, 16, 16)).astype(np.uint8)
    ev = tax.evaluator("camvid-11")
    ev.update(probs, gt, axis=0)
    labels = tax.to_test_labels(probs, "camvid-11", axis=0)
    ref = unitax.Evaluator(tax.names("camvid-11"))
    ref.update(labels, gt)
    assert np.array_equal(ev.confusion, ref.confusion) and ev.confusion.sum() == gt.size
    # universal labels: pred_space="universal" maps them through the test mapping
    ul = np.argmax(probs, axis=0).astype(np.uint8)
    ev2 = tax.evaluator("camvid-11")
    ev2.update(ul, gt, pred_space="universal")
    ref2 = unitax.Evaluator(tax.names("camvid-11"))
    ref2.update(tax.to_test_labels(ul, "camvid-11"), gt)
    assert np.array_equal(ev2.confusion, ref2.confusion)
    assert "mIoU" in ev.result().table() and repr(ev).startswith("<unitax.Evaluator camvid-11")


def test_train_dataset_evaluation_through_its_back_map(tax):
    """Perfect universal predictions of ADE20K-150 ground truth score IoU 1 exactly on the classes
    the back-map keeps apart, and less on merged or dropped ones."""
    ds = "ade20k-150"
    n = len(tax.names(ds))
    gt = np.repeat(np.arange(n, dtype=np.uint8), 3).reshape(1, -1)
    universal = tax.to_universal(gt, ds)
    # pixels of dropped classes: the model says some universal class ADE20K-150 has no class for
    elsewhere = int(np.flatnonzero(tax.back_map(ds)[:N_UNIVERSAL] == 255)[0])
    universal[universal == 255] = elsewhere
    ev = tax.evaluator(ds)
    ev.update(universal, gt, pred_space="universal")
    # scores give the same labels wherever the winning universal class has an ADE20K-150 class
    # (elsewhere the argmax over ADE20K-150 classes of all-zero sums is class 0, as for any test set)
    onehot = np.zeros((N_UNIVERSAL,) + gt.shape, np.float32)
    onehot[universal, 0, np.arange(gt.shape[1])] = 1.0
    kept = universal != elsewhere
    assert kept.sum() > 300
    assert np.array_equal(tax.from_universal(onehot, ds)[kept], tax.from_universal(universal, ds)[kept])
    r = ev.result()
    info = tax.back_map_info(ds)
    names = tax.names(ds)
    lossy = {c for v in info["merged"].values() for c in v} | set(info["dropped"])
    perfect = {names[i] for i in range(n) if r.iou[i] == 1.0}
    assert perfect == set(names) - lossy
    assert len(perfect) == n - len(lossy) and len(lossy) > 0
    for c in info["dropped"]:
        assert r.accuracy[names.index(c)] == 0.0  # predicted as ignore: a miss


def test_universal_space_evaluation(tax):
    gt = np.array([[0, 193, 255]], np.uint8)
    ev = tax.evaluator("universal")
    ev.update(np.array([[0, 193, 5]], np.uint8), gt)
    scores = np.zeros((1, 3, N_UNIVERSAL), np.float32)
    scores[0, :, 7] = 1
    ev.update(scores, gt, axis=-1)
    r = ev.result()
    assert r.pixels == 4 and r.iou[0] == 0.5 and r.iou[193] == 0.5


def test_evaluator_errors(tax):
    with pytest.raises(unitax.UnknownDatasetError):
        tax.evaluator("no-such-dataset")
    with pytest.raises(unitax.UnknownDatasetError, match="no mapping to universal"):
        tax.evaluator("camvid-32")  # a source dataset only remapped into camvid-11
    ev = tax.evaluator("camvid-11")
    with pytest.raises(LabelError, match="channels"):
        ev.update(np.zeros((5, 4), np.float32), np.zeros(4, np.uint8), axis=0)
    with pytest.raises(ValueError, match="pred_space"):
        ev.update(np.zeros(4, np.uint8), np.zeros(4, np.uint8), pred_space="test")


# ----- `unitax evaluate` ------------------------------------------------------------------------


def _png(path, arr):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_cli_evaluate_over_two_directories(tmp_path, tax):
    rng = np.random.default_rng(3)
    ev = tax.evaluator("kitti-19")
    for name in ("a/000001", "a/000002", "b/000003"):
        gt = rng.integers(0, 19, size=(12, 20)).astype(np.uint8)
        gt[0] = 255
        pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, 19, size=gt.shape)).astype(np.uint8)
        pred[pred == 255] = 0
        _png(tmp_path / "pred" / f"{name}.png", pred)
        _png(tmp_path / "gt" / f"{name}.png", gt)
        ev.update(pred, gt)
    want = ev.result()
    r = CliRunner().invoke(main, ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"),
                                  "--dataset", "kitti-19", "--format", "json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["images"] == 3 and got["dataset"] == "kitti-19"
    assert got["miou"] == pytest.approx(want.miou) and got["pixels"] == want.pixels
    r = CliRunner().invoke(main, ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-d", "kitti-19"])
    assert r.exit_code == 0 and "mIoU" in r.stdout and "3 image(s)" in r.stdout
    assert "convention: standard" in r.stdout
    args = ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-d", "kitti-19", "--convention", "mseg"]
    r = CliRunner().invoke(main, args + ["--format", "json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["convention"] == "mseg" and got["miou"] == pytest.approx(ev.result("mseg").miou)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "convention: mseg" in r.stdout
    r = CliRunner().invoke(main, args[:-1] + ["cityscapes"])
    assert r.exit_code == 2 and "'cityscapes' is not one of 'standard', 'mseg'" in r.output


def test_cli_evaluate_draws_the_confusion_matrix(tmp_path, tax):
    """--confusion-png writes a picture of the run's matrix; an existing file is replaced only with --force."""
    from PIL import Image

    rng = np.random.default_rng(5)
    gt = rng.integers(0, 6, size=(16, 24)).astype(np.uint8)
    pred = np.where(rng.random(gt.shape) < 0.6, gt, rng.integers(0, 6, size=gt.shape)).astype(np.uint8)
    _png(tmp_path / "pred" / "x.png", pred)
    _png(tmp_path / "gt" / "x.png", gt)
    pic = tmp_path / "conf.png"
    args = ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-d", "kitti-19", "--confusion-png", str(pic)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    with Image.open(pic) as im:
        assert im.format == "PNG" and im.mode == "RGB" and min(im.size) > 100
    before = pic.read_bytes()
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and f"{pic}: exists; pass --force to replace it" in r.output
    assert pic.read_bytes() == before
    r = CliRunner().invoke(main, args + ["--force"])
    assert r.exit_code == 0 and pic.read_bytes() == before  # the same matrix draws the same bytes


def test_cli_evaluate_universal_labels_and_errors(tmp_path, tax):
    gt = np.array([[0, 1, 255]], np.uint8)
    upred = np.array([[98, 176, 0]], np.uint8)  # universal road, car
    _png(tmp_path / "pred" / "x.png", upred)
    _png(tmp_path / "gt" / "x.png", gt)
    r = CliRunner().invoke(main, ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-d", "cityscapes-19",
                                  "--pred-space", "universal", "--format", "json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    # road hit; the sidewalk pixel predicted as (universal) car misses; car is absent from gt
    road, sidewalk, car = (got["classes"][tax.names("cityscapes-19").index(c)] for c in ("road", "sidewalk", "car"))
    assert (road["iou"], sidewalk["iou"], car["iou"], car["pred_pixels"]) == (1.0, 0.0, 0.0, 1)
    assert got["convention"] == "standard" and got["classes"][0]["accuracy"] == 1.0
    _png(tmp_path / "gt" / "y.png", gt)
    r = CliRunner().invoke(main, ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-d", "cityscapes-19"])
    assert r.exit_code == 2 and "y.png" in r.output and "no prediction" in r.output
    (tmp_path / "gt" / "y.png").unlink()
    _png(tmp_path / "pred" / "x.png", np.array([[0, 40, 0]], np.uint8))
    r = CliRunner().invoke(main, ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "-d", "cityscapes-19"])
    assert r.exit_code == 2 and "x.png" in r.output and "40" in r.output
