"""Back-maps universal -> each dataset with a mapping to universal, on the real MSeg specs:
the compiled tables and their lossless / merged / dropped index against a brute-force inversion
of the compiled forward tables, round trips, and `tax.from_universal`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.bundled import N_UNIVERSAL
from support.paths import GENERATED

import unitax
from unitax.compiler import analysis
from unitax.compiler.model import ClassDef, LabelSpace, Mapping


def forward_datasets(tax) -> list[str]:
    return [d for d in tax.datasets if f"to_universal/{d}" in tax._tables]


def test_mseg_has_20_datasets_with_a_mapping_to_universal():
    tax = unitax.load()
    # MSeg's 16 train + nyudepthv2-37, scannet-37, and the two union variants
    assert len(forward_datasets(tax)) == 20


def test_every_dataset_with_a_mapping_to_universal_has_a_back_map(tax):
    ds = forward_datasets(tax)
    assert set(tax.train_datasets) <= set(ds)
    for d in ds:
        b = tax.back_map(d)
        assert b.shape == (256,) and b.dtype == np.uint8 and not b.flags.writeable
        assert (b[N_UNIVERSAL:] == 255).all()  # beyond the universal ids: ignore, never 0
    with pytest.raises(unitax.UnknownDatasetError, match="no back-map"):
        tax.back_map("camvid-11")


@pytest.mark.parametrize("dataset", ["ade20k-150", "coco-panoptic-133", "mapillary-public65", "idd-39",
                                     "cityscapes-34", "bdd-relabeled", "sunrgbd-37", "nyudepthv2-37"])
def test_back_map_is_the_brute_force_inverse_of_the_forward_table(tax, dataset):
    fwd = tax.lut(dataset)
    names = tax.names(dataset)
    n = len(names)
    back = tax.back_map(dataset)
    merged, dropped = {}, []
    for u in range(N_UNIVERSAL):
        srcs = [c for c in range(n) if fwd[c] == u]
        assert back[u] == (min(srcs) if srcs else 255), (dataset, tax.universal_names[u])
        if len(srcs) > 1:
            merged[tax.universal_names[u]] = [names[c] for c in srcs]
    dropped = [names[c] for c in range(n) if fwd[c] == 255]
    info = tax.back_map_info(dataset)
    assert info == {"lossless": not merged and not dropped, "merged": merged, "dropped": dropped}
    # round trip dataset -> universal -> dataset: identity exactly where nothing is lost
    labels = np.arange(n, dtype=np.uint8)
    trip = tax.from_universal(tax.to_universal(labels, dataset), dataset)
    lost = {c for v in merged.values() for c in v[1:]} | set(dropped)
    for c in range(n):
        if names[c] in lost:
            assert trip[c] != c
        else:
            assert trip[c] == c


def test_which_back_maps_are_lossless(tax):
    """Facts of the MSeg taxonomy: the relabeled datasets are one-to-one with universal classes
    (that is what relabeling was for); the official label spaces merge or drop classes."""
    lossless = {d for d in forward_datasets(tax) if tax.back_map_info(d)["lossless"]}
    assert {d for d in forward_datasets(tax) if d.endswith("-relabeled")} <= lossless
    assert {"ade20k-150", "coco-panoptic-133", "mapillary-public65", "idd-39", "cityscapes-34"}.isdisjoint(lossless)
    assert {"bdd", "cityscapes-19", "sunrgbd-37"} <= lossless
    ade = tax.back_map_info("ade20k-150")
    assert len(ade["dropped"]) == 9 and len(ade["merged"]) == 14
    assert all(len(v) >= 2 for v in ade["merged"].values())


def test_taxonomy_json_indexes_back_maps():
    t = json.loads((GENERATED / "taxonomy.json").read_text("utf-8"))
    e = t["tables"]["back_map/coco-panoptic-133"]
    assert e["file"] == "tables/back_map/coco-panoptic-133.npy" and e["dataset"] == "coco-panoptic-133"
    assert e["lossless"] is False and e["dropped"] == [] and len(e["merged"]) == 6
    # the keys of the forward tables are unchanged
    assert "to_universal/coco-panoptic-133" in t["tables"] and "from_universal/camvid-11" in t["tables"]


def test_from_universal_labels_and_scores(tax):
    u = np.array([[98, 176, 142, 255, 5]], np.uint8)  # road, car, sky, ignore, case
    assert tax.from_universal(u, "cityscapes-19").tolist() == [[0, 13, 10, 255, 255]]
    assert tax.from_universal(u, "kitti-19").tolist() == tax.to_test_labels(u, "kitti-19").tolist()
    with pytest.raises(unitax.LabelError, match="outside universal"):
        tax.from_universal(np.array([200], np.uint8), "coco-panoptic-133")
    assert tax.from_universal(np.array([200], np.uint8), "coco-panoptic-133", out_of_range="ignore").tolist() == [255]
    scores = np.zeros((3, N_UNIVERSAL), np.float32)
    scores[[0, 1, 2], [98, 176, 142]] = 1
    assert tax.from_universal(scores, "cityscapes-19", axis=1).tolist() == [0, 13, 10]
    logits = np.log(scores + 1e-6)
    assert tax.from_universal(logits, "cityscapes-19", axis=-1, from_logits=True).tolist() == [0, 13, 10]


def test_merged_universal_class_goes_to_the_lowest_id():
    """analysis.back_map on a hand-made mapping: three classes into two universal ones, one ignored."""
    uni = LabelSpace("universal", "universal", "uint8", 255, "unlabeled",
                     tuple(ClassDef(i, n) for i, n in enumerate(["a", "b", "c"])))
    src = LabelSpace("toy", "train", "uint8", 255, "unlabeled",
                     tuple(ClassDef(i, n) for i, n in enumerate(["x", "y", "z", "w"])))
    m = Mapping("toy", "universal", ((0, 1), (1, 2), (3, 1)), (2,), (0,))
    bm = analysis.back_map(m, src, uni)
    assert bm.lut[:4].tolist() == [255, 0, 1, 255] and bm.merged == ((1, (0, 3)),) and bm.dropped == (2,)
    assert not bm.lossless
    two = LabelSpace("two", "train", "uint8", 255, "unlabeled", (ClassDef(0, "x"), ClassDef(1, "y")))
    one_to_one = analysis.back_map(Mapping("two", "universal", ((0, 2), (1, 0)), (), (1,)), two, uni)
    assert one_to_one.lossless and one_to_one.lut[:3].tolist() == [1, 255, 0]
