"""The naive baseline (MSeg ablation), id for id as mseg-api's NaiveTaxonomyConverter: union of
the lower-cased class names of MSeg's unrelabeled train datasets in order of first appearance,
255 kept for unlabeled, test classes fed by name equality alone. Checked against an independent
reading of the reference names files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from support.paths import SPECS

import unitax
from unitax.compiler import build
from unitax.tools.authoring import naive
from unitax.tools.cli import main

MSEG_TRAIN = ["ade20k-150", "bdd", "cityscapes-19", "coco-panoptic-133", "idd-39", "mapillary-public65", "sunrgbd-37"]
MSEG_TEST = ["camvid-11", "kitti-19", "pascal-context-60", "scannet-20", "voc2012", "wilddash-19"]


@pytest.fixture(scope="module")
def model(mseg_model):
    return mseg_model


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """`unitax compile --naive` run in an empty folder holding a generated/ of its own: the default
    output is generated-naive/ and generated/ is left alone (never the bundled build)."""
    root = tmp_path_factory.mktemp("naive")
    (root / "generated").mkdir()
    here = os.getcwd()
    os.chdir(root)
    try:
        r = CliRunner().invoke(main, ["compile", "--naive", "--specs", str(SPECS)])
    finally:
        os.chdir(here)
    assert r.exit_code == 0, r.output
    assert "naive baseline: 315 universal classes in 316 ids, ignore 255, from ade20k-150, bdd" in r.stdout
    assert not any((root / "generated").iterdir())
    return root / "generated-naive"


def _names(reference: Path, ds: str) -> list[str]:
    return (reference / "dataset_lists" / ds / f"{ds}_names.txt").read_text("utf-8").splitlines()


def mseg_layout(reference: Path) -> list[str | None]:
    """The naive id layout by mseg-api's rule, from the reference names files: lower-cased names
    in order of first appearance over MSEG_TRAIN, id 255 skipped (None)."""
    out: list[str | None] = []
    for ds in MSEG_TRAIN:
        for n in _names(reference, ds):
            if n.lower() not in out:
                out.append(n.lower())
                if len(out) == 255:
                    out.append(None)
    return out


def test_the_merged_datasets_are_msegs_unrelabeled_train_datasets_in_its_order(model):
    assert naive.naive_datasets(model) == MSEG_TRAIN == list(naive.MSEG_TRAIN)  # no cityscapes-34, no -relabeled


def test_ids_skip_255():
    ids = naive.naive_ids([f"c{i}" for i in range(300)])
    assert ids["c254"] == 254 and ids["c255"] == 256 and 255 not in ids.values() and max(ids.values()) == 300
    assert naive.naive_ids(["a", "b"]) == {"a": 0, "b": 1}
    assert naive.naive_name("Column_Pole") == "column_pole" and naive.naive_name("wall  brick") == "wall  brick"


def test_ids_are_msegs_naive_layout(reference, compiled):
    want = mseg_layout(reference)
    tax = unitax.load(compiled)
    assert len(want) == 316 and want[255] is None
    assert list(tax.universal_names) == [n if n is not None else "unlabeled" for n in want]
    assert tax.ignore_index("universal") == 255
    # pinned from a run of mseg-api's NaiveTaxonomyConverter
    assert want[:3] == ["airplane", "animal", "apparel"] and want[253:257] == ["rail track", "non-drivable fallback",
                                                                              None, "autorickshaw"]
    assert want[-2:] == ["whiteboard", "night stand"]


def test_train_tables_send_each_class_to_its_lower_cased_name(reference, compiled):
    want = mseg_layout(reference)
    uid = {n: i for i, n in enumerate(want) if n is not None}
    tax = unitax.load(compiled)
    for ds in MSEG_TRAIN:
        names = _names(reference, ds)
        labels = np.arange(len(names), dtype=np.uint8)
        got = tax.to_universal(labels, ds)
        assert got.dtype == np.uint16
        assert got.tolist() == [uid[n.lower()] for n in names], ds
        assert tax.to_universal(np.array([255], np.uint8), ds).tolist() == [255]  # unlabeled stays 255
        assert tax.back_map_info(ds)["dropped"] == []  # nothing ignored on the way in


def test_test_matrices_are_name_equality(reference, compiled):
    """P[t, u] = 1 exactly where the test class's lower-cased name is naive class u (mseg-api's
    _transform_u2d); channel 255 feeds nothing; test classes without a same-named class get nothing."""
    want = mseg_layout(reference)
    uid = {n: i for i, n in enumerate(want) if n is not None}
    tax = unitax.load(compiled)
    sums = {}
    for test in MSEG_TEST:
        names = _names(reference, test)
        m = np.zeros((len(names), 316), np.uint8)
        for t, n in enumerate(names):
            if n.lower() in uid:
                m[t, uid[n.lower()]] = 1
        assert np.array_equal(tax.matrix(test), m), test
        sums[test] = int(m.sum())
    assert sums == {"camvid-11": 8, "kitti-19": 19, "pascal-context-60": 49, "scannet-20": 19, "voc2012": 15,
                    "wilddash-19": 19}  # as mseg-api's convs
    camvid = tax.names("camvid-11")
    unfed = [camvid[t] for t in range(len(camvid)) if not tax.matrix("camvid-11")[t].any()]
    assert unfed == ["SignSymbol", "Pedestrian", "Column_Pole"]
    # universal labels: 255 and classes no test class is named after go to the test's ignore
    lut = tax.test_lut("camvid-11")
    assert lut[255] == 255 and lut[uid["road"]] == camvid.index("Road") and lut[uid["person"]] == 255


def test_specs_are_deterministic_and_valid(model, tmp_path):
    a = naive.render_specs(model, SPECS)
    assert a == naive.render_specs(model, SPECS)
    naive.write_specs(a, tmp_path)
    m, problems = build.check_specs(tmp_path)
    assert m is not None and [p for p in problems if p.severity == "error"] == []
    assert m.universal.ignore == 255 and m.universal.label_dtype == "uint16"  # 316 ids, 255 kept for ignore
    assert len(m.universal.classes) == 316 and len(m.universal.real_classes) == 315
    assert m.universal.classes[255].void and m.universal.classes[255].name == "unlabeled"
    assert {d.name for d in m.datasets if d.role == "train"} == set(MSEG_TRAIN)
    u = yaml.safe_load(a["universal.yaml"])
    assert u["classes"][0] == {"id": 0, "name": "airplane", "parent": None, "synset": None, "wordnet_modified": None,
                               "color": [0, 0, 0], "definition": u["classes"][0]["definition"]}
    assert "ade20k-150 'airplane'" in u["classes"][0]["definition"]
    assert len({tuple(c["color"]) for c in u["classes"] if not c.get("void")}) == 315  # distinct past 255 too
    assert a["datasets/ade20k-150.yaml"] == (SPECS / "datasets" / "ade20k-150.yaml").read_bytes()
    camvid = yaml.safe_load(a["mappings/universal_to_camvid-11.yaml"])
    assert camvid["unfed"] == ["SignSymbol", "Pedestrian", "Column_Pole"] and camvid["map"]["road"] == "Road"


def test_a_non_void_class_on_the_ignore_id_is_still_an_error(model, tmp_path):
    files = naive.render_specs(model, SPECS)
    u = yaml.safe_load(files["universal.yaml"])
    del u["classes"][255]["void"]
    files["universal.yaml"] = yaml.safe_dump(u, sort_keys=False).encode()
    naive.write_specs(files, tmp_path)
    m, problems = build.check_specs(tmp_path)
    assert m is None and any(p.rule == "id-range" and "reserved for ignore" in p.message for p in problems)


def test_loadable_by_the_runtime(compiled):
    tax = unitax.load(compiled)
    assert tax.train_datasets == tuple(sorted(MSEG_TRAIN))
    assert tax.fingerprint != unitax.load().fingerprint
    car = tax.universal_names.index("car")
    assert tax.to_universal(np.array([13], np.uint8), "cityscapes-19")[0] == car
    assert tax.from_universal(np.array([car], np.uint16), "kitti-19").tolist() == [tax.names("kitti-19").index("car")]
    assert tax.to_test_labels(np.array([300, 999], np.int32), "voc2012", out_of_range="ignore").tolist() == [255, 255]


def test_scores_and_evaluation_in_a_test_dataset(compiled):
    tax = unitax.load(compiled)
    rng = np.random.default_rng(0)
    probs = rng.random((316, 8, 8)).astype(np.float32)
    ev = tax.evaluator("camvid-11")
    gt = rng.integers(0, 11, size=(8, 8)).astype(np.uint8)
    ev.update(probs, gt)
    assert ev.result().pixels == 64
    assert tax.to_test(probs, "camvid-11").shape == (11, 8, 8)
