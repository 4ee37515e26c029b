"""The naive baseline (MSeg ablation): union of the lower-cased training class names, compiled
from the real specs by `unitax compile --naive` into its own folder and loaded by the runtime."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import unitax
from conftest import SPECS
from unitax.compiler import build
from unitax.tools import naive
from unitax.tools.cli import main

MSEG_TRAIN = ["ade20k-150", "bdd", "cityscapes-19", "coco-panoptic-133", "idd-39", "mapillary-public65", "sunrgbd-37"]


@pytest.fixture(scope="module")
def model():
    m, _ = build.check_specs(SPECS)
    return m


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
    assert "naive baseline: 315 universal classes from ade20k-150, bdd" in r.stdout
    assert not any((root / "generated").iterdir())
    return root / "generated-naive"


def test_the_merged_datasets_are_the_official_label_spaces_of_mseg_training(model):
    assert naive.naive_datasets(model) == MSEG_TRAIN  # not cityscapes-34 (remapped into -19), no -relabeled


def test_union_of_lower_cased_names(model):
    classes = naive.naive_classes(model, MSEG_TRAIN)
    brute = {" ".join(c.name.lower().split()) for d in MSEG_TRAIN for c in model.spaces[d].real_classes}
    assert list(classes) == sorted(brute) and len(classes) == 315
    assert sum(len(v) for v in classes.values()) == sum(len(model.spaces[d].real_classes) for d in MSEG_TRAIN)
    assert ("mapillary-public65", "Person") in classes["person"] and ("coco-panoptic-133", "person") in classes["person"]
    # what the curated taxonomy merges by meaning stays apart by name
    assert "wall-brick" in classes and "wall" in classes and "sky-other-merged" in classes


def test_specs_are_deterministic_and_valid(model, tmp_path):
    a = naive.render_specs(model, SPECS)
    assert a == naive.render_specs(model, SPECS)
    naive.write_specs(a, tmp_path)
    m, problems = build.check_specs(tmp_path)
    assert m is not None and [p for p in problems if p.severity == "error"] == []
    assert m.universal.ignore == 65535 and m.universal.label_dtype == "uint16"  # 315 classes > 254
    assert {d.name for d in m.datasets if d.role == "train"} == set(MSEG_TRAIN)
    u = yaml.safe_load(a["universal.yaml"])
    assert u["classes"][0] == {"id": 0, "name": "airplane", "parent": None, "synset": None, "wordnet_modified": None,
                               "color": [0, 0, 0], "definition": u["classes"][0]["definition"]}
    assert "ade20k-150 'airplane'" in u["classes"][0]["definition"]
    assert len({tuple(c["color"]) for c in u["classes"]}) == 315  # distinct colours past 255 too
    assert a["datasets/ade20k-150.yaml"] == (SPECS / "datasets" / "ade20k-150.yaml").read_bytes()


def test_loadable_by_the_runtime(compiled, model):
    tax = unitax.load(compiled)
    assert len(tax.universal_names) == 315 and tax.ignore_index("universal") == 65535
    assert tax.train_datasets == tuple(MSEG_TRAIN)
    assert tax.fingerprint != unitax.load().fingerprint
    for ds in MSEG_TRAIN:  # every class to the naive class of its lower-cased name (brute force)
        names = model.spaces[ds].names
        labels = np.arange(len(names), dtype=np.uint8)
        got = tax.to_universal(labels, ds)
        assert got.dtype == np.uint16
        assert [tax.universal_names[u] for u in got] == [" ".join(n.lower().split()) for n in names]
        assert tax.back_map_info(ds)["dropped"] == []  # nothing ignored on the way in
    # same-named classes of different datasets meet in one naive class
    car = tax.universal_names.index("car")
    assert tax.to_universal(np.array([13], np.uint8), "cityscapes-19")[0] == car
    assert tax.from_universal(np.array([car], np.uint16), "kitti-19").tolist() == [tax.names("kitti-19").index("car")]


def test_test_mappings_follow_the_curated_taxonomy(compiled):
    """A naive class feeds the test class its members reach through the curated MSeg mappings."""
    tax, mseg = unitax.load(compiled), unitax.load()
    for test in tax.test_datasets:
        lut = tax.test_lut(test)
        for ds in MSEG_TRAIN:
            n = len(tax.names(ds))
            labels = np.arange(n, dtype=np.uint8)
            via_naive = lut[tax.to_universal(labels, ds)]
            via_mseg = mseg.test_lut(test)[mseg.to_universal(labels, ds)]
            agree = via_mseg != 255  # where the curated route reaches the test dataset...
            assert np.array_equal(via_naive[agree], via_mseg[agree]), (test, ds)  # ...the naive one agrees


def test_scores_and_evaluation_in_a_test_dataset(compiled):
    tax = unitax.load(compiled)
    rng = np.random.default_rng(0)
    probs = rng.random((315, 8, 8)).astype(np.float32)
    ev = tax.evaluator("camvid-11")
    gt = rng.integers(0, 11, size=(8, 8)).astype(np.uint8)
    ev.update(probs, gt)
    assert ev.result().pixels == 64
    assert tax.to_test(probs, "camvid-11").shape == (11, 8, 8)
