"""The compiled tables say exactly what the MSeg reference says, for every dataset and class."""

from __future__ import annotations

import numpy as np
import pytest
from support import mseg_reference as R

TRAIN_COLUMNS = [
    "mapillary-public65", "mapillary-public65-relabeled", "coco-panoptic-133", "coco-panoptic-133-relabeled",
    "ade20k-150", "ade20k-150-relabeled", "idd-39", "idd-39-relabeled", "cityscapes-34",
    "cityscapes-34-relabeled", "cityscapes-19", "cityscapes-19-relabeled", "bdd", "bdd-relabeled",
    "sunrgbd-37", "sunrgbd-37-relabeled",
]
SHEET_ONLY_TRAIN = ["nyudepthv2-37", "scannet-37"]
TEST_COLUMNS = ["camvid-11", "kitti-19", "pascal-context-60", "scannet-20", "voc2012", "wilddash-19",
                "test-nyudepthv2-37"]


def test_universal_classes_are_the_sheet_rows(reference, tax):
    _, rows = R.master(reference)
    assert rows[-1]["universal"] == "unlabeled"
    assert tax.universal_names == tuple(r["universal"].strip() for r in rows[:-1])
    assert len(tax.universal_names) == 194


def test_roles(tax):
    # the union variants (issue 15) are ours, not columns of the sheet
    assert set(d for d in tax.train_datasets if not tax.is_union(d)) == set(TRAIN_COLUMNS)
    assert set(tax.test_datasets) == set(TEST_COLUMNS)
    assert len(tax.datasets) == 36 + 2


def test_every_names_file_is_a_dataset_in_id_order(reference, tax):
    folders = sorted(p.name for p in (reference / "dataset_lists").iterdir() if p.is_dir())
    assert len(folders) == 33
    for ds in folders:
        assert tax.names(ds) == tuple(R.names(reference, ds)), ds


@pytest.mark.parametrize("dataset", TRAIN_COLUMNS + SHEET_ONLY_TRAIN)
def test_every_class_goes_where_the_master_sheet_says(reference, tax, dataset):
    _, rows = R.master(reference)
    universal = tax.universal_names
    expected: dict[str, int] = {}
    for r in rows:
        target = r["universal"].strip()
        for n in R.cell_names(r[dataset]):
            assert n not in expected, f"{n} twice in column {dataset}"
            expected[n] = 255 if target == "unlabeled" else universal.index(target)
    names = tax.names(dataset)
    lut = tax.lut(dataset)
    assert set(expected) == set(names)
    for i, n in enumerate(names):
        assert lut[i] == expected[n], f"{dataset} {n!r} (id {i}) -> {lut[i]}, sheet says {expected[n]}"
    # and through the public call, on every id at once
    ids = np.arange(len(names), dtype=np.uint8)
    assert tax.to_universal(ids, dataset).tolist() == [expected[n] for n in names]


@pytest.mark.parametrize("test_dataset", TEST_COLUMNS)
def test_test_matrix_equals_the_sheet_column(reference, tax, test_dataset):
    _, rows = R.master(reference)
    test_names = tax.names(test_dataset)
    expected = np.zeros((len(test_names), 194), dtype=np.uint8)
    hard = np.full(256, 255, dtype=np.uint8)
    for u, r in enumerate(rows[:-1]):
        cell = R.cell_names(r[test_dataset])
        assert len(cell) <= 1
        if cell:
            expected[test_names.index(cell[0]), u] = 1
            hard[u] = test_names.index(cell[0])
    assert not R.cell_names(rows[-1][test_dataset])
    np.testing.assert_array_equal(tax.matrix(test_dataset), expected)
    np.testing.assert_array_equal(tax.test_lut(test_dataset), hard)


def test_test_class_lists_come_from_names_files(reference, tax):
    for ds in TEST_COLUMNS[:-1]:
        assert tax.names(ds) == tuple(R.names(reference, ds))


def test_every_remap_file_is_compiled_exactly(reference, tax):
    files = R.remap_files(reference)
    assert len(files) == 19
    for path in files:
        a, b, pairs = R.remap_pairs(reference, path)
        src, dst = tax.names(a), tax.names(b)
        lut = tax.remap_lut(a, b)
        for s, t in pairs:
            want = 255 if t == "unlabeled" and "unlabeled" not in dst else dst.index(t)
            if s not in src:
                assert s == "unlabeled"  # the reference's row for the ignore value itself
                assert lut[tax.ignore_index(a)] == 255
                continue
            for i in [i for i, n in enumerate(src) if n == s]:
                assert lut[i] == want, f"{path.name}: {s!r} (id {i}) -> {lut[i]}, file says {want}"
        assert tax.remaps.count((a, b)) == 1


def test_ignore_stays_ignore_everywhere(tax):
    for ds in tax.train_datasets:
        assert tax.lut(ds)[255] == 255
    for ds in tax.test_datasets:
        assert tax.test_lut(ds)[255] == 255
    for a, b in tax.remaps:
        assert tax.remap_lut(a, b)[tax.ignore_index(a)] == 255


def test_unused_ids_are_ignore_not_zero(tax):
    for ds in tax.train_datasets:
        n = len(tax.names(ds))
        assert (tax.lut(ds)[n:] == 255).all(), ds
