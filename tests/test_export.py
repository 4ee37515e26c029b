"""`unitax export`: each format checked by reading it back the way its framework does.

Python exports are executed (runpy) and their values compared with the taxonomy; their register()
helpers run against small stand-ins of mmseg's and detectron2's registries (neither framework is
installed here). The JSON is loaded into `transformers` configs where transformers is installed.
"""

from __future__ import annotations

import json
import runpy
import sys
import types

import numpy as np
import pytest
from click.testing import CliRunner

import unitax
from unitax import pictures
from unitax.tools.cli import main
from unitax.tools.data import export

FORMATS = list(export.FORMATS)
SPACES = ["universal", "cityscapes-34", "ade20k-150", "camvid-11", "camvid-32", "coco-panoptic-201",
          "pascal-context-460"]
CITYSCAPES_FIELDS = ("name", "id", "trainId", "category", "categoryId", "hasInstances", "ignoreInEval", "color")


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def exported(tmp_path, fmt: str, space: str) -> dict:
    path = tmp_path / f"{fmt}-{space}.{'json' if fmt == 'huggingface' else 'py'}"
    r = cli("export", fmt, "--space", space, "-o", str(path))
    assert r.exit_code == 0, r.output
    if fmt == "huggingface":
        return json.loads(path.read_text())
    return runpy.run_path(str(path))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("space", SPACES)
def test_same_build_same_bytes(tax, tmp_path, fmt, space):
    a, b = tmp_path / "a", tmp_path / "b"
    for p in (a, b):
        r = cli("export", fmt, "--space", space, "-o", str(p))
        assert r.exit_code == 0, r.output
    assert a.read_bytes() == b.read_bytes() == export.render(tax, fmt, space)
    assert str(tmp_path) not in a.read_text()  # no paths, no dates: only the build and the arguments


# ----- huggingface --------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["universal", "cityscapes-34", "pascal-context-460"])
def test_huggingface_schema(tax, tmp_path, space):
    d = exported(tmp_path, "huggingface", space)
    names = tax.names(space)
    assert d["id2label"] == {str(i): n for i, n in enumerate(names)}  # string keys, as config.json holds them
    assert d["label2id"] == {n: i for i, n in enumerate(names)}
    assert d["num_labels"] == len(names)
    assert d["semantic_loss_ignore_index"] == tax.ignore_index(space)
    assert d["unitax"]["space"] == space and d["unitax"]["universal_fingerprint"] == tax.fingerprint


def test_huggingface_repeated_name_stands_for_its_lowest_id(tax, tmp_path):
    d = exported(tmp_path, "huggingface", "coco-panoptic-201")
    names = tax.names("coco-panoptic-201")
    assert len(d["id2label"]) == d["num_labels"] == len(names)
    assert d["label2id"]["unlabeled"] == names.index("unlabeled")
    assert all(names[i] == n for n, i in d["label2id"].items())


@pytest.mark.parametrize("space", ["universal", "ade20k-150"])
def test_huggingface_transformers_config_round_trip(tax, tmp_path, space):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed (the `test` extra has it)")
    d = exported(tmp_path, "huggingface", space)
    names = tax.names(space)
    cfg = transformers.PretrainedConfig(id2label=d["id2label"], label2id=d["label2id"])
    assert cfg.num_labels == len(names)
    assert cfg.id2label == dict(enumerate(names)) and cfg.label2id == d["label2id"]
    back = transformers.PretrainedConfig.from_dict(cfg.to_dict())
    assert back.id2label == cfg.id2label and back.label2id == cfg.label2id
    seg = transformers.SegformerConfig(**d)  # the whole file as a semantic-segmentation config
    again = transformers.SegformerConfig.from_dict(json.loads(seg.to_json_string()))
    assert again.num_labels == len(names) and again.id2label == dict(enumerate(names))
    assert again.semantic_loss_ignore_index == tax.ignore_index(space)
    assert again.unitax["universal_fingerprint"] == tax.fingerprint


# ----- mmsegmentation -----------------------------------------------------------------------


def test_mmsegmentation_dataset_to_universal(tax, tmp_path):
    g = exported(tmp_path, "mmsegmentation", "ade20k-150")
    assert g["METAINFO"]["classes"] == tax.universal_names
    assert np.array_equal(np.array(g["METAINFO"]["palette"]), tax.colors("universal"))
    assert g["SOURCE_METAINFO"]["classes"] == tax.names("ade20k-150")
    assert np.array_equal(np.array(g["SOURCE_METAINFO"]["palette"]), tax.colors("ade20k-150"))
    assert g["IGNORE_INDEX"] == 255 and g["SPACE"] == "universal"
    lut = tax.lut("ade20k-150")
    assert g["label_map"] == {i: int(lut[i]) for i in range(150)}
    # applied as mmseg's LoadAnnotations does, it is to_universal
    label = np.random.default_rng(0).integers(0, 150, (40, 50)).astype(np.uint8)
    label[:3] = 255
    seg = label.copy()
    for old, new in g["label_map"].items():
        seg[label == old] = new
    assert np.array_equal(seg, tax.to_universal(label, "ade20k-150"))


def test_mmsegmentation_own_classes(tax, tmp_path):
    g = exported(tmp_path, "mmsegmentation", "camvid-11")
    assert g["METAINFO"]["classes"] == tax.names("camvid-11")
    assert np.array_equal(np.array(g["METAINFO"]["palette"]), pictures.voc_colormap(11))  # camvid-11 has no colours
    assert g["label_map"] is None and "SOURCE_METAINFO" not in g


class _Registry:
    def __init__(self):
        self.module_dict = {}

    def register_module(self, name, module):
        self.module_dict[name] = module


class _BaseSegDataset:  # what mmseg 1.x's BaseSegDataset does with METAINFO and get_label_map
    METAINFO: dict = {}

    def __init__(self):
        self.label_map = self.get_label_map(self.METAINFO.get("classes"))

    @classmethod
    def get_label_map(cls, new_classes=None):
        return None


def test_mmsegmentation_register(tax, tmp_path, monkeypatch):
    registry = _Registry()
    mods = {"mmseg": types.ModuleType("mmseg"), "mmseg.datasets": types.ModuleType("mmseg.datasets"),
            "mmseg.registry": types.ModuleType("mmseg.registry")}
    mods["mmseg.datasets"].BaseSegDataset = _BaseSegDataset
    mods["mmseg.registry"].DATASETS = registry
    for k, v in mods.items():
        monkeypatch.setitem(sys.modules, k, v)
    g = exported(tmp_path, "mmsegmentation", "cityscapes-34")
    cls = g["register"]()
    assert registry.module_dict == {"UnitaxCityscapes34Dataset": cls} and g["register"]() is cls
    ds = cls()
    assert ds.label_map == g["label_map"] and ds.METAINFO["classes"] == tax.universal_names
    assert g["register"]("Other") is registry.module_dict["Other"]


# ----- detectron2 ---------------------------------------------------------------------------


def test_detectron2_values(tax, tmp_path):
    g = exported(tmp_path, "detectron2", "cityscapes-34")
    assert g["stuff_classes"] == list(tax.universal_names)
    assert np.array_equal(np.array(g["stuff_colors"]), tax.colors("universal"))
    lut = tax.lut("cityscapes-34")
    assert g["stuff_dataset_id_to_contiguous_id"] == {i: int(lut[i]) for i in range(34) if lut[i] != 255}
    assert g["ignore_label"] == 255
    own = exported(tmp_path, "detectron2", "kitti-19")
    assert own["stuff_classes"] == list(tax.names("kitti-19"))
    assert own["stuff_dataset_id_to_contiguous_id"] == {i: i for i in range(19)}


def test_detectron2_register_imports_detectron2_only_when_called(tax, tmp_path, monkeypatch):
    g = exported(tmp_path, "detectron2", "ade20k-150")  # executing the file needs no detectron2
    calls = {}

    class Meta:
        def set(self, **kw):
            calls["meta"] = kw

    meta = Meta()
    data = types.ModuleType("detectron2.data")
    data.DatasetCatalog = types.SimpleNamespace(register=lambda name, fn: calls.setdefault("catalog", (name, fn)))
    data.MetadataCatalog = types.SimpleNamespace(get=lambda name: meta)
    datasets = types.ModuleType("detectron2.data.datasets")
    datasets.load_sem_seg = lambda gt, img, gt_ext, image_ext: [("load", gt, img, gt_ext, image_ext)]
    for k, v in {"detectron2": types.ModuleType("detectron2"), "detectron2.data": data,
                 "detectron2.data.datasets": datasets}.items():
        monkeypatch.setitem(sys.modules, k, v)
    assert g["register"]("ade_u", "imgs", "gts") is meta
    name, fn = calls["catalog"]
    assert name == "ade_u" and fn() == [("load", "gts", "imgs", "png", "jpg")]
    m = calls["meta"]
    assert m["stuff_classes"] == list(tax.universal_names) and m["ignore_label"] == 255
    assert m["evaluator_type"] == "sem_seg" and m["sem_seg_root"] == "gts" and m["image_root"] == "imgs"
    assert m["stuff_dataset_id_to_contiguous_id"] == g["stuff_dataset_id_to_contiguous_id"]


# ----- cityscapes ---------------------------------------------------------------------------


def test_cityscapes_table(tax, tmp_path):
    g = exported(tmp_path, "cityscapes", "cityscapes-34")
    labels = g["labels"]
    assert g["Label"]._fields == CITYSCAPES_FIELDS  # cityscapesScripts' helpers/labels.py
    names, lut = tax.names("cityscapes-34"), tax.lut("cityscapes-34")
    u = tax._space("universal")
    assert [lab.name for lab in labels[:-1]] == list(names)
    assert labels[-1].id == 255 and labels[-1].ignoreInEval and labels[-1].category == "void"
    for lab in labels[:-1]:
        assert lab.trainId == lut[lab.id]
        assert lab.ignoreInEval == (lab.trainId == 255)
        want = "void" if lab.trainId == 255 else (u["parents"][lab.trainId] or u["names"][lab.trainId])
        assert lab.category == want
        assert lab.color == tuple(int(v) for v in pictures.palette(tax, "cityscapes-34")[lab.id])
        assert lab.hasInstances is False
    by_cat = {}
    for lab in labels:
        by_cat.setdefault(lab.category, set()).add(lab.categoryId)
    assert all(len(v) == 1 for v in by_cat.values()) and by_cat["void"] == {0}
    assert len({next(iter(v)) for v in by_cat.values()}) == len(by_cat)
    assert g["name2label"]["car"].trainId == tax.universal_names.index("car")
    assert g["id2label"][26].name == "car" and g["category2labels"]["vehicle"]


def test_cityscapes_universal_and_test_spaces(tax, tmp_path):
    g = exported(tmp_path, "cityscapes", "universal")
    u = tax._space("universal")
    assert [(lab.id, lab.trainId) for lab in g["labels"][:-1]] == [(i, i) for i in range(len(u["names"]))]
    assert [lab.category for lab in g["labels"][:-1]] == [
        p or n for n, p in zip(u["names"], u["parents"], strict=False)]
    t = exported(tmp_path, "cityscapes", "camvid-11")
    cats = {lab.name: lab.category for lab in t["labels"]}
    assert cats["Car"] == "vehicle" and cats["Sky"] == "sky"
    assert not any(lab.ignoreInEval for lab in t["labels"][:-1])


# ----- writing rules, errors ----------------------------------------------------------------


def test_overwrite_rules(tmp_path):
    out = tmp_path / "meta.py"
    assert cli("export", "cityscapes", "-o", str(out)).exit_code == 0
    r = cli("export", "cityscapes", "-o", str(out))
    assert r.exit_code == 0 and "unchanged" in r.output
    r = cli("export", "cityscapes", "--space", "kitti-19", "-o", str(out))
    assert r.exit_code == 2 and "--force" in r.output
    r = cli("export", "cityscapes", "--space", "kitti-19", "-o", str(out), "--force")
    assert r.exit_code == 0 and "kitti-19" in out.read_text()
    mine = tmp_path / "mine.py"
    mine.write_text("print('my own code')\n")
    for extra in ([], ["--force"]):
        r = cli("export", "cityscapes", "-o", str(mine), *extra)
        assert r.exit_code == 2 and "not written by `unitax export`" in r.output
        assert mine.read_text() == "print('my own code')\n"
    cfg = tmp_path / "config.json"
    cfg.write_text('{"id2label": {}}')
    assert cli("export", "huggingface", "-o", str(cfg), "--force").exit_code == 2
    assert cli("export", "huggingface", "-o", str(tmp_path / "h.json")).exit_code == 0
    assert cli("export", "huggingface", "--space", "kitti-19", "-o", str(tmp_path / "h.json"), "--force").exit_code == 0
    (tmp_path / "link.py").symlink_to(out)
    r = cli("export", "cityscapes", "-o", str(tmp_path / "link.py"), "--force")
    assert r.exit_code == 2 and "not a plain file" in r.output
    r = cli("export", "cityscapes", "-o", str(tmp_path / "nope" / "x.py"))
    assert r.exit_code == 2 and "no such folder" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "h.json", "link.py", "meta.py", "mine.py"]


def test_unknown_format_and_space():
    r = cli("export", "onnx", "-o", "x.json")
    assert r.exit_code == 2 and "'onnx' is not one of" in r.output
    r = cli("export", "huggingface", "--space", "ade20k", "-o", "x.json")
    assert r.exit_code == 2 and "unknown dataset 'ade20k'" in r.output and "ade20k-150" in r.output


def test_hostile_class_names_stay_data(tmp_path):
    tax = unitax.load()
    u = dict(tax._spaces["universal"])
    bad = "x'y\"z\n'''\"\"\"\\ ); import os  # "
    u["names"] = [bad if i == 0 else n for i, n in enumerate(u["names"])]
    tax._spaces = {**tax._spaces, "universal": u}
    tax.__dict__["fingerprint"] = "f" * 64
    for fmt in FORMATS:
        for space in ("universal", "cityscapes-34"):
            path = tmp_path / f"{fmt}-{space}"
            path.write_bytes(export.render(tax, fmt, space))
            if fmt == "huggingface":
                assert json.loads(path.read_text())["id2label"]["0"] == bad or space != "universal"
                continue
            g = runpy.run_path(str(path))
            names = g.get("stuff_classes") or (g["METAINFO"]["classes"] if "METAINFO" in g else
                                              [lab.name for lab in g["labels"]])
            if space == "universal":
                assert names[0] == bad
            assert "os" not in g


def test_compiled_option_reads_that_build(tax, tmp_path):
    from support.paths import GENERATED

    out = tmp_path / "a.json"
    r = cli("export", "huggingface", "--space", "kitti-19", "--compiled", str(GENERATED), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == export.render(tax, "huggingface", "kitti-19")
    r = cli("export", "huggingface", "--compiled", str(tmp_path), "-o", str(tmp_path / "b.json"))
    assert r.exit_code == 2 and "unitax export:" in r.output and not (tmp_path / "b.json").exists()
