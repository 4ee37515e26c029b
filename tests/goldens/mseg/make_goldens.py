"""Make the goldens of tests/goldens/mseg/ by running MSeg's own preparation scripts (mseg-api).

Not run by the tests (it needs an mseg-api checkout and its dependencies); see README.md here for
the exact commands. Per family it

1. builds the family's golden native tree (tests/fixtures/make_native.py: build_golden_tree, run with
   unitax's Python, ``--unitax-python``) into WORK/native/<family>;
2. copies the mseg-api checkout to WORK/api/<family> and there sets ``MSEG_DST_DIR`` in
   ``mseg/utils/dataset_config.py`` (the one setting its README asks for) and cuts
   ``mseg/dataset_lists/<space>/list/{train,val}.txt`` down to the tree's samples (the same line
   numbers in every space's list, as MSeg's parallel lists are);
3. copies the tree to WORK/mseg_dataset/<MSeg's folder> and runs, with mseg-api's own code, the
   steps of ``download_scripts/mseg_remap_<family>.sh`` and then
   ``mseg_write_relabeled_segments.py --dataset_to_relabel X`` for each call of
   ``download_scripts/mseg_apply_relabeling.sh`` of the family; before each, the plain remap
   X -> X-relabeled (``remap_dataset.py``) is run and kept: the relabeled space before its records;
4. copies every label file of every space of the samples to OUT/<family>/mseg/<space>/<label path>,
   and, for the polygon families, writes OUT/<family>/visible/<space>/<label path>: the kept remap
   with each record's segment moved only where it is visible, the visible segment map drawn here
   (the polygons in file order with Pillow's fill, skipping what the dataset's own rasteriser
   skips: deleted objects, fewer than 3 points, labels it does not know after dropping 'group',
   Cityscapes' license plate) and the records read with mseg-api's own code
   (form_fname_to_updatelist_dict over dataset_update_records).

Run with the Python that has mseg-api's dependencies (numpy, imageio, opencv, Pillow, scipy,
matplotlib, torch, tqdm, pandas).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# family -> (folder of the tree below mseg_dataset/, the tree's folder(s) there, remap steps, relabel calls)
FAMILIES = {
    "cityscapes": {"dst": "Cityscapes", "copy": {"Cityscapes": "Cityscapes"},
                   "steps": [["remap_dataset.py", "--orig_dname", "cityscapes-34", "--remapped_dname", "cityscapes-19",
                              "--orig_dataroot", "{root}/Cityscapes", "--remapped_dataroot", "{root}/Cityscapes"]],
                   "relabel": {"cityscapes-19": "cityscapes-19-relabeled", "cityscapes-34": "cityscapes-34-relabeled"},
                   "root": "{root}/Cityscapes", "spaces": ["cityscapes-34", "cityscapes-19", "cityscapes-19-relabeled",
                                                           "cityscapes-34-relabeled"]},
    "idd": {"copy": {"IDD_Segmentation": "IDD/IDD_Segmentation"},
            "steps": [["dump_idd_semantic_labels.py", "--num-workers", "1", "--datadir", "{root}/IDD/IDD_Segmentation"],
                      ["remap_dataset.py", "--orig_dname", "idd-40", "--remapped_dname", "idd-39",
                       "--orig_dataroot", "{root}/IDD/IDD_Segmentation",
                       "--remapped_dataroot", "{root}/IDD/IDD_Segmentation"]],
            "relabel": {"idd-39": "idd-39-relabeled"},
            "root": "{root}/IDD/IDD_Segmentation", "spaces": ["idd-40", "idd-39", "idd-39-relabeled"]},
    "ade20k": {"copy": {"ADEChallengeData2016": "ADE20K/ADEChallengeData2016",
                        "ADE20K_2016_07_26": "ADE20K/ADE20K_2016_07_26"},
               "steps": [["remap_dataset.py", "--orig_dname", "ade20k-151", "--remapped_dname", "ade20k-150",
                          "--orig_dataroot", "{root}/ADE20K/ADEChallengeData2016",
                          "--remapped_dataroot", "{root}/ADE20K/ADEChallengeData2016"]],
               "relabel": {"ade20k-150": "ade20k-150-relabeled"},
               "root": "{root}/ADE20K/ADEChallengeData2016",
               "spaces": ["ade20k-151", "ade20k-150", "ade20k-150-relabeled"]},
}


def _remap(a: str, b: str, root: str, *extra: str) -> list[str]:
    return ["remap_dataset.py", "--orig_dname", a, "--remapped_dname", b, "--orig_dataroot", "{root}/" + root,
            "--remapped_dataroot", "{root}/" + root, *extra]


FAMILIES.update({
    "kitti": {"copy": {"KITTI": "KITTI"}, "steps": [_remap("kitti-34", "kitti-19", "KITTI")], "relabel": {},
              "root": "{root}/KITTI", "spaces": ["kitti-34", "kitti-19"]},
    "wilddash": {"copy": {"WildDash": "WildDash"}, "steps": [_remap("wilddash-34", "wilddash-19", "WildDash")],
                 "relabel": {}, "root": "{root}/WildDash", "spaces": ["wilddash-34", "wilddash-19"]},
    "scannet": {"copy": {"scannet_frames_25k": "ScanNet/scannet_frames_25k"},
                "steps": [_remap("scannet-41", "scannet-20", "ScanNet/scannet_frames_25k")], "relabel": {},
                "root": "{root}/ScanNet/scannet_frames_25k", "spaces": ["scannet-41", "scannet-20"]},
    "sunrgbd": {"copy": {"SUNRGBD": "SUNRGBD"}, "steps": [_remap("sunrgbd-38", "sunrgbd-37", "SUNRGBD")],
                "relabel": {"sunrgbd-37": "sunrgbd-37-relabeled"}, "root": "{root}/SUNRGBD",
                "spaces": ["sunrgbd-38", "sunrgbd-37", "sunrgbd-37-relabeled"]},
    "bdd": {"copy": {"bdd100k": "BDD/bdd100k"}, "steps": [], "relabel": {"bdd": "bdd-relabeled"},
            "root": "{root}/BDD/bdd100k", "spaces": ["bdd", "bdd-relabeled"]},
    # MSeg's download script unzips CamVid's labels into Labels32-RGB/
    "camvid": {"copy": {"CamVid": "Camvid", "CamVid/LabeledApproved_full": "Camvid/Labels32-RGB"},
               "steps": [_remap("camvid-32", "camvid-11", "Camvid", "--convert_label_from_rgb")], "relabel": {},
               "root": "{root}/Camvid", "spaces": ["camvid-32", "camvid-11"], "decode_rgb": ["camvid-32"]},
    "mapillary": {"copy": {"MapillaryVistas": "MapillaryVistasPublic"},
                  "steps": [_remap("mapillary-public66", "mapillary-public65", "MapillaryVistasPublic",
                                   "--convert_label_from_rgb")],
                  "relabel": {"mapillary-public65": "mapillary-public65-relabeled"},
                  "root": "{root}/MapillaryVistasPublic",
                  "spaces": ["mapillary-public66", "mapillary-public65", "mapillary-public65-relabeled"],
                  "decode_rgb": ["mapillary-public66"]},
    "pascal-context": {"copy": {"PASCAL_Context": "PASCAL_Context"},
                       "steps": [["mseg_dump_pascalcontext_pngs.py", "--pcontext_dst_dir", "{root}/PASCAL_Context"],
                                 _remap("pascal-context-460", "pascal-context-60", "PASCAL_Context",
                                        "--include_ignore_idx_cls")],
                       "relabel": {}, "root": "{root}/PASCAL_Context",
                       "spaces": ["pascal-context-460", "pascal-context-60"]},
    # the reference (and this mseg-api snapshot) lacks COCO-Panoptic's train lists: val samples only,
    # with empty train lists and an empty panoptic_train2017.json (MSeg's APIs read both splits)
    "coco-panoptic": {"copy": {"COCOPanoptic": "COCOPanoptic"},
                      "steps": [["dump_coco_semantic_labels.py", "--num_processes", "1"],
                                _remap("coco-panoptic-201", "coco-panoptic-133", "COCOPanoptic")],
                      "relabel": {"coco-panoptic-133": "coco-panoptic-133-relabeled"},
                      "root": "{root}/COCOPanoptic", "empty_train": True,
                      "spaces": ["coco-panoptic-201", "coco-panoptic-133", "coco-panoptic-133-relabeled",
                                 "coco-panoptic-inst-201"]},
    "voc2012": {"copy": {"VOCdevkit/VOC2012": "PASCAL_VOC_2012"}, "steps": [], "relabel": {},
                "root": "{root}/PASCAL_VOC_2012", "spaces": ["voc2012"]},
})
POLYGON_FAMILIES = ("cityscapes", "idd")
# NumPy-2 overflow fixes, the only change to mseg-api's code (file, old, new): NumPy 1 promoted a uint8
# array times a Python int by value (uint8 * 256 -> uint16, * 65536 -> uint32); NumPy 2 keeps uint8
# and raises. Casting to int64 first gives NumPy 1's values.
NUMPY2_FIXES = [
    ("mseg/dataset_apis/COCOInstanceAPI.py", "instance_id_img = R + (G * 256) + (B * 256 ** 2)",
     "instance_id_img = R.astype(np.int64) + (G.astype(np.int64) * 256) + (B.astype(np.int64) * 256 ** 2)"),
]


def decode_rgb(api: Path, space: str, src: Path, dst: Path) -> None:
    """An RGB/palette label file as MSeg's remap_dataset.py decodes it (--convert_label_from_rgb), with its code."""
    import imageio

    sys.path.insert(0, str(api))
    from mseg.utils.cv2_utils import cv2_imread_rgb
    from mseg.utils.mask_utils import rgb_img_to_obj_cls_img
    from mseg.utils.names_utils import load_dataset_colors_arr

    imageio.imwrite(dst, rgb_img_to_obj_cls_img(cv2_imread_rgb(str(src)), load_dataset_colors_arr(space)))


def sh(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    sys.stdout.write(r.stdout[-3000:])
    sys.stderr.write(r.stderr[-3000:])
    if r.returncode != 0 or "Traceback" in r.stderr or "Traceback" in r.stdout:
        raise SystemExit(f"failed: {' '.join(cmd)}")


def cut_lists(api: Path, spaces: list[str], keep: list[str]) -> dict[str, list[str]]:
    """Cut each space's train/val list to the lines whose root-space label path is in ``keep``."""
    out: dict[str, list[str]] = {}
    for split in ("train", "val"):
        root_lines = (api / f"mseg/dataset_lists/{spaces[0]}/list/{split}.txt").read_text().splitlines()
        idx = [i for i, ln in enumerate(root_lines) if len(ln.split(" ")) > 1 and ln.split(" ")[1] in keep]
        for space in dict.fromkeys(spaces):
            f = api / f"mseg/dataset_lists/{space}/list/{split}.txt"
            if not f.is_file():
                continue
            lines = f.read_text().splitlines()
            picked = [lines[i] for i in idx]
            f.write_text("".join(ln + "\n" for ln in picked))
            out.setdefault(space, []).extend(picked)
    return out


def visible_segments(ann: dict, names: list[str], never: set[str]):
    """Per pixel, the index-or-id of the object drawn last there (-1: none), as the rasterisers draw."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.new("I", (ann["imgWidth"], ann["imgHeight"]), -1)
    draw = ImageDraw.Draw(img)
    for k, obj in enumerate(ann["objects"]):
        label = str(obj["label"])
        if obj.get("deleted") or len(obj["polygon"]) < 3:
            continue
        if label not in names and label.endswith("group"):
            label = label[: -len("group")]
        if label not in names or label in never:
            continue
        draw.polygon([tuple(p) for p in obj["polygon"]], fill=obj.get("id", k))
    return np.asarray(img, dtype=np.int64)


def visible_goldens(family: str, api: Path, root: Path, lists: dict[str, list[str]], kept: Path, out: Path) -> None:
    import json

    import imageio
    import numpy as np

    sys.path.insert(0, str(api))
    from mseg.label_preparation import dataset_update_records as dur
    from mseg.label_preparation.mseg_write_relabeled_segments import form_fname_to_updatelist_dict
    from mseg.utils.names_utils import get_classname_to_dataloaderid_map, load_class_names

    records = {"cityscapes": dur.cityscapes_update_records, "idd": dur.idd_update_records}[family]
    base_names = load_class_names("cityscapes-34" if family == "cityscapes" else "idd-40")
    never = {"license plate"} if family == "cityscapes" else set()
    for space in FAMILIES[family]["relabel"].values():
        cmap = get_classname_to_dataloaderid_map(space, include_ignore_idx_cls=True)
        for split in ("train", "val"):
            upd = form_fname_to_updatelist_dict(space, records, split)
            for line in (api / f"mseg/dataset_lists/{space}/list/{split}.txt").read_text().splitlines():
                img, lab = line.split(" ")
                parent, stem = Path(lab).parts[-2], Path(img).stem
                label = imageio.imread(kept / space / lab)
                for rec in upd[parent].get(stem, []):
                    jpath = root / re.sub(r"gtFine[^/]*/", "gtFine/", str(Path(lab).parent), count=1) / (
                        stem.replace("_leftImg8bit", "") + "_gtFine_polygons.json")
                    vis = visible_segments(json.loads(jpath.read_text()), list(base_names), never)
                    label[vis == rec.segmentid] = cmap[rec.relabeled_class]
                dst = out / family / "visible" / space / lab
                dst.parent.mkdir(parents=True, exist_ok=True)
                imageio.imwrite(dst, label.astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mseg-api", type=Path, required=True, help="a checkout of mseg-api (outside this repository)")
    ap.add_argument("--work", type=Path, required=True, help="a scratch folder outside this repository")
    ap.add_argument("--unitax-python", default=str(REPO / ".venv/bin/python"))
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("families", nargs="*", default=list(FAMILIES))
    a = ap.parse_args()
    for family in a.families:
        cfg = FAMILIES[family]
        work = a.work / family
        shutil.rmtree(work, ignore_errors=True)
        native = work / "native"
        subprocess.run([a.unitax_python, "-c", "import sys; sys.path.insert(0, 'tests/fixtures'); import make_native; "
                        f"from pathlib import Path; make_native.build_golden_tree({family!r}, Path({str(native)!r}))"],
                       cwd=REPO, check=True)
        labels = subprocess.run([a.unitax_python, "-c", "import sys; sys.path.insert(0, 'tests/fixtures'); "
                                 f"import make_native; print('\\n'.join(l.split(' ')[1] for _, l in "
                                 f"make_native.golden_lines({family!r})))"],
                                cwd=REPO, check=True, capture_output=True, text=True).stdout.split()
        api = work / "api"
        shutil.copytree(a.mseg_api, api, ignore=shutil.ignore_patterns(".git"))
        for rel, old, new in NUMPY2_FIXES:
            f = api / rel
            assert f.read_text().count(old) == 1, (rel, old)
            f.write_text(f.read_text().replace(old, new))
        cfgfile = api / "mseg/utils/dataset_config.py"
        cfgfile.write_text(cfgfile.read_text().replace('MSEG_DST_DIR = ""', f'MSEG_DST_DIR = "{work}"', 1))
        root = work / "mseg_dataset"
        for src, dst in cfg["copy"].items():
            shutil.copytree(native / src, root / dst)
        if cfg.get("empty_train"):
            for space in cfg["spaces"]:
                t = api / f"mseg/dataset_lists/{space}/list/train.txt"
                if not t.is_file():
                    t.write_text("")
            (root / "COCOPanoptic/annotations/panoptic_train2017").mkdir(parents=True, exist_ok=True)
            (root / "COCOPanoptic/annotations/panoptic_train2017.json").write_text('{"annotations": []}')
        lists = cut_lists(api, cfg["spaces"], labels)
        env = {**os.environ, "PYTHONPATH": str(api)}
        lp = api / "mseg/label_preparation"
        for step in cfg["steps"]:
            sh([sys.executable, str(lp / step[0]), *[s.format(root=root) for s in step[1:]]], api, env)
        kept = work / "before_records"
        for name, space in cfg["relabel"].items():
            if family in POLYGON_FAMILIES:
                sh([sys.executable, str(lp / "remap_dataset.py"), "--orig_dname", name, "--remapped_dname", space,
                    "--orig_dataroot", cfg["root"].format(root=root), "--remapped_dataroot", str(kept / space),
                    "--num_processes", "1"], api, env)
            sh([sys.executable, str(lp / "mseg_write_relabeled_segments.py"), "--num_processes", "1",
                "--dataset_to_relabel", name], api, env)
        dst_root = Path(cfg["root"].format(root=root))
        shutil.rmtree(a.out / family, ignore_errors=True)
        n = 0
        for space in cfg["spaces"]:
            for line in lists[space]:
                lab = line.split(" ")[1]
                src = dst_root / lab
                if not src.is_file():
                    raise SystemExit(f"MSeg wrote no {src}")
                d = a.out / family / "mseg" / space / lab
                d.parent.mkdir(parents=True, exist_ok=True)
                if space in cfg.get("decode_rgb", ()):
                    decode_rgb(api, space, src, d)
                else:
                    shutil.copyfile(src, d)
                n += 1
        print(f"{family}: {n} golden label files")
        if family in POLYGON_FAMILIES:
            visible_goldens(family, api, dst_root, lists, kept, a.out)


if __name__ == "__main__":
    main()
