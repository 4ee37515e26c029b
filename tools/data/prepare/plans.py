"""One plan per dataset family, as data: what to download, which reader, which lists, which chain.

Every family is one :class:`Family` row of :data:`FAMILIES`; :mod:`.engine` is the one piece of
code that runs them. A row says:

- ``download``: the archives (and version) to get from the dataset's own site, and ``bases``:
  the folder below NATIVE_ROOT they unpack to (candidates tried in order; ``.`` = NATIVE_ROOT
  itself), recognised by ``marker`` (a path or glob below the base that the right version has).
- ``other_versions``: paths below NATIVE_ROOT or the base that mean a release this plan does
  not know; prepare refuses them instead of guessing.
- ``root``: the label space the native files decode to, read by ``reader`` from ``label_src``
  (a regular-expression rewrite of the root space's MSeg list label path to the native file).
- ``spaces``: every label space MSeg derives, each with its parent (compiled tables compose
  along them); relabeled spaces get their segment ids from ``segments``.
- ``key``: how the relabel records name an image (trailing path parts, suffix stripped, format).
- ``derive``: how ``prepare --lists derive`` builds the lists from the files found instead of
  MSeg's: per split, a glob of its native label files (and of its images, to report images
  without a label; empty: not checked), ``derive_label`` (native path -> the root space's list
  label path), ``derive_image`` (that -> the image path) and ``derive_paths`` (that -> each other
  space's list label path), all as MSeg's lists write them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    name: str
    download: str                       # what to download, from where (one paragraph)
    bases: tuple[str, ...]              # folder(s) below NATIVE_ROOT where MSeg's list paths resolve
    marker: str                         # a path below the base that the expected release has
    root: str                           # the label space the native files decode to
    reader: str                         # grey | rgb | palette | polygons | mat | coco
    label_src: tuple[str, str]          # (regex, replacement) on the root space's list label path
    spaces: dict[str, str]              # derived space -> its parent (root excluded)
    segments: str = ""                  # ade-full | polygons | coco | instances | classes:<space>
    seg_src: tuple[str, str] = ("", "")  # (regex, replacement) for a segment file, where one is needed
    key_parts: int = 1                  # trailing path parts of the label path in the record key
    key_strip: str = ""                 # regex removed from the end of the key
    key_format: str = ""                # e.g. "img-{:06d}": the key is int(key) formatted so
    record_splits: dict[str, str] = field(default_factory=dict)   # path word -> record split
    other_versions: dict[str, str] = field(default_factory=dict)  # path -> what it is
    folder_out: str = ""                # the dataset's folder name in MSeg's layout (informational)
    copies: tuple[str, ...] = ()        # spaces whose label file is the native label file, copied as is
    derive: dict[str, tuple[str, str]] = field(default_factory=dict)  # split -> (label glob, image glob)
    derive_label: tuple[str, str] = (r"^", "")        # native label path -> root space's list label path
    derive_image: tuple[str, str] = ("", "")          # root list label path -> image path
    derive_paths: dict[str, tuple[str, str]] = field(default_factory=dict)  # space -> rewrite of the root path

    @property
    def all_spaces(self) -> list[str]:
        return [self.root, *self.spaces]


FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family(
        "ade20k",
        "ADEChallengeData2016.zip (MIT Scene Parsing, http://sceneparsing.csail.mit.edu) and, for "
        "ade20k-150-relabeled, the full ADE20K_2016_07_26.zip (https://groups.csail.mit.edu/vision/datasets/ADE20K/)",
        ("ADEChallengeData2016",), "annotations", "ade20k-151", "grey", (r"^(.*)$", r"\1"),
        {"ade20k-150": "ade20k-151", "ade20k-150-relabeled": "ade20k-150"},
        segments="ade-full", key_parts=1,
        other_versions={"ADE20K_2021_17_01": "the 2021 full ADE20K release (MSeg uses ADE20K_2016_07_26)"},
        folder_out="ADE20K/ADEChallengeData2016",
        derive={"train": ("annotations/training/*.png", "images/training/*.jpg"),
                "val": ("annotations/validation/*.png", "images/validation/*.jpg")},
        derive_image=(r"^annotations/(.*)\.png$", r"images/\1.jpg"),
        derive_paths={"ade20k-150": (r"^annotations/", "annotations_semseg150/"),
                      "ade20k-150-relabeled": (r"^annotations/", "annotations_semseg150_relabeled/")}),
    Family(
        "bdd",
        "BDD100K '10K Images' (bdd100k_images.zip) and 'Segmentation' (bdd100k_seg.zip, the 2018 release "
        "with seg/labels/*_train_id.png), https://bdd-data.berkeley.edu",
        ("bdd100k", "."), "seg/labels", "bdd", "grey", (r"^(.*)$", r"\1"),
        {"bdd-relabeled": "bdd"}, segments="classes:bdd", key_strip=r"_train_id$",
        other_versions={"labels/sem_seg": "the 2020 BDD100K layout (labels/sem_seg/masks); MSeg uses seg/labels"},
        folder_out="BDD/bdd100k",
        derive={"train": ("seg/labels/train/*_train_id.png", "seg/images/train/*.jpg"),
                "val": ("seg/labels/val/*_train_id.png", "seg/images/val/*.jpg")},
        derive_image=(r"^seg/labels/(.*)_train_id\.png$", r"seg/images/\1.jpg"),
        derive_paths={"bdd-relabeled": (r"^seg/", "seg_relabeled/")}),
    Family(
        "camvid",
        "CamVid (Cambridge-driving Labeled Video Database, "
        "http://mi.eng.cam.ac.uk/research/projects/VideoRec/CamVid/): "
        "701_StillsRaw_full.zip and LabeledApproved_full.zip (32-class RGB colour labels)",
        ("CamVid", "."), "LabeledApproved_full", "camvid-32", "rgb",
        (r"^Labels32-RGB/(.*)$", r"LabeledApproved_full/\1"), {"camvid-11": "camvid-32"},
        folder_out="Camvid",
        derive={"all": ("LabeledApproved_full/*_L.png", "")},
        derive_label=(r"^LabeledApproved_full/", "Labels32-RGB/"),
        derive_image=(r"^Labels32-RGB/(.*)_L\.png$", r"701_StillsRaw_full/\1.png"),
        derive_paths={"camvid-11": (r"^Labels32-RGB/", "semseg11/")}),
    Family(
        "cityscapes",
        "gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip, https://www.cityscapes-dataset.com",
        ("Cityscapes", "."), "gtFine", "cityscapes-34", "grey", (r"^(.*)$", r"\1"),
        {"cityscapes-19": "cityscapes-34", "cityscapes-19-relabeled": "cityscapes-19",
         "cityscapes-34-relabeled": "cityscapes-34"},
        segments="polygons", seg_src=(r"_gtFine_labelIds\.png$", "_gtFine_polygons.json"),
        key_parts=2, key_strip=r"_gtFine_labelIds$", folder_out="Cityscapes",
        derive={s: (f"gtFine/{s}/*/*_gtFine_labelIds.png", f"leftImg8bit/{s}/*/*_leftImg8bit.png")
                for s in ("train", "val")},
        derive_image=(r"^gtFine/(.*)_gtFine_labelIds\.png$", r"leftImg8bit/\1_leftImg8bit.png"),
        derive_paths={"cityscapes-19": (r"^gtFine/", "gtFine_19cls/"),
                      "cityscapes-19-relabeled": (r"^gtFine/", "gtFine_19cls_relabeled/"),
                      "cityscapes-34-relabeled": (r"^gtFine/", "gtFine_34cls_relabeled/")}),
    Family(
        "coco-panoptic",
        "COCO 2017 images (train2017.zip, val2017.zip, moved to images/) and panoptic_annotations_trainval2017.zip "
        "(annotations/panoptic_{train,val}2017.json + the unzipped panoptic_{train,val}2017/ PNG folders), "
        "https://cocodataset.org",
        ("COCOPanoptic", "."), "annotations", "coco-panoptic-201", "coco",
        (r"^semantic_annotations201/(\w+?)2017/(.*)$", r"annotations/panoptic_\g<1>2017/\2"),
        {"coco-panoptic-133": "coco-panoptic-201", "coco-panoptic-133-relabeled": "coco-panoptic-133"},
        segments="coco", key_parts=1, record_splits={"val2017": "val", "train2017": "train"},
        folder_out="COCOPanoptic",
        derive={s: (f"annotations/panoptic_{s}2017/*.png", f"images/{s}2017/*.jpg") for s in ("train", "val")},
        derive_label=(r"^annotations/panoptic_(\w+?)2017/", r"semantic_annotations201/\g<1>2017/"),
        derive_image=(r"^semantic_annotations201/(\w+?2017)/(.*)\.png$", r"images/\1/\2.jpg"),
        derive_paths={"coco-panoptic-133": (r"^semantic_annotations201/", "semantic_annotations133/"),
                      "coco-panoptic-133-relabeled": (r"^semantic_annotations201/", "semantic_relabeled133/"),
                      "coco-panoptic-inst-201": (r"^semantic_annotations201/(\w+?2017)/", r"annotations/panoptic_\1/")},
        copies=("coco-panoptic-inst-201",)),
    Family(
        "idd",
        "IDD Segmentation (IDD Part I, idd-segmentation.tar.gz, polygon JSON), https://idd.insaan.iiit.ac.in",
        ("IDD_Segmentation", "IDD/IDD_Segmentation", "."), "gtFine", "idd-40", "polygons",
        (r"_gtFine_labelids\.png$", "_gtFine_polygons.json"),
        {"idd-39": "idd-40", "idd-39-relabeled": "idd-39"}, segments="polygons",
        key_parts=2, key_strip=r"_gtFine_labelids$",
        other_versions={"IDD_Detection": "IDD Detection, not IDD Segmentation"}, folder_out="IDD/IDD_Segmentation",
        derive={s: (f"gtFine/{s}/*/*_gtFine_polygons.json", f"leftImg8bit/{s}/*/*_leftImg8bit.png")
                for s in ("train", "val")},
        derive_label=(r"_gtFine_polygons\.json$", "_gtFine_labelids.png"),
        derive_image=(r"^gtFine/(.*)_gtFine_labelids\.png$", r"leftImg8bit/\1_leftImg8bit.png"),
        derive_paths={"idd-39": (r"^gtFine/", "gtFine39/"), "idd-39-relabeled": (r"^gtFine/", "gtFine39_relabeled/")}),
    Family(
        "kitti",
        "KITTI semantic segmentation benchmark data_semantics.zip (training/semantic, cityscapes-34 ids), "
        "http://www.cvlibs.net/datasets/kitti/eval_semseg.php",
        ("KITTI", "."), "training/semantic", "kitti-34", "grey", (r"^(.*)$", r"\1"),
        {"kitti-19": "kitti-34"}, folder_out="KITTI",
        derive={"training": ("training/semantic/*.png", "training/image_2/*.png")},
        derive_image=(r"^training/semantic/", "training/image_2/"),
        derive_paths={"kitti-19": (r"^training/semantic/", "training/label19/")}),
    Family(
        "mapillary",
        "Mapillary Vistas v1.1 (mapillary-vistas-dataset_public_v1.1.zip: 66 classes, palette labels, 16-bit "
        "instances), https://www.mapillary.com/dataset/vistas",
        ("MapillaryVistas", "."), "config.json", "mapillary-public66", "palette", (r"^(.*)$", r"\1"),
        {"mapillary-public65": "mapillary-public66", "mapillary-public65-relabeled": "mapillary-public65"},
        segments="instances", seg_src=(r"/labels/", "/instances/"),
        other_versions={"config_v2.0.json": "Mapillary Vistas v2.0 (124 classes); MSeg uses v1.1",
                        "training/v2.0": "Mapillary Vistas v2.0 (124 classes); MSeg uses v1.1"},
        folder_out="MapillaryVistasPublic",
        derive={"train": ("training/labels/*.png", "training/images/*.jpg"),
                "val": ("validation/labels/*.png", "validation/images/*.jpg")},
        derive_image=(r"^(\w+)/labels/(.*)\.png$", r"\1/images/\2.jpg"),
        derive_paths={"mapillary-public65": (r"^(\w+)/labels/", r"\1_semseg65/labels/"),
                      "mapillary-public65-relabeled": (r"^(\w+)/labels/", r"\1_semseg65_relabeled/labels/")}),
    Family(
        "pascal-context",
        "PASCAL-Context trainval.tar.gz (459-class full .mat release, "
        "https://cs.stanford.edu/~roozbeh/pascal-context/) "
        "and the VOC2010 JPEGImages",
        ("PASCAL_Context", "."), "trainval", "pascal-context-460", "mat",
        (r"^Segmentation_GT_460cls/(.*)\.png$", r"trainval/\1.mat"), {"pascal-context-60": "pascal-context-460"},
        folder_out="PASCAL_Context",
        derive={"all": ("trainval/*.mat", "")},
        derive_label=(r"^trainval/(.*)\.mat$", r"Segmentation_GT_460cls/\1.png"),
        derive_image=(r"^Segmentation_GT_460cls/(.*)\.png$", r"JPEGImages/\1.jpg"),
        derive_paths={"pascal-context-60": (r"^Segmentation_GT_460cls/", "Segmentation_GT_60cls/")}),
    Family(
        "voc2012",
        "VOCtrainval_11-May-2012.tar (http://host.robots.ox.ac.uk/pascal/VOC/voc2012/) and SegmentationClassAug.zip "
        "(the SBD-augmented labels) unpacked into VOC2012/",
        ("VOCdevkit/VOC2012", "VOC2012", "."), "SegmentationClassAug", "voc2012", "grey", (r"^(.*)$", r"\1"),
        {}, folder_out="PASCAL_VOC_2012",
        derive={"all": ("SegmentationClassAug/*.png", "")},
        derive_image=(r"^SegmentationClassAug/(.*)\.png$", r"JPEGImages/\1.jpg")),
    Family(
        "scannet",
        "ScanNet v2 scannet_frames_25k.zip (25k subsampled frames, color/ + label/ NYU-40 ids), http://www.scan-net.org",
        ("scannet_frames_25k", "."), "scene*_*/label", "scannet-41", "grey", (r"^(.*)$", r"\1"),
        {"scannet-20": "scannet-41"}, folder_out="ScanNet/scannet_frames_25k",
        derive={"all": ("scene*_*/label/*.png", "scene*_*/color/*.jpg")},
        derive_image=(r"/label/(.*)\.png$", r"/color/\1.jpg"),
        derive_paths={"scannet-20": (r"/label/", "/label20/")}),
    Family(
        "sunrgbd",
        "SUN RGB-D (https://rgbd.cs.princeton.edu) 37-class labels as MSeg's download script lays them out: "
        "image/{train,test}/img-NNNNNN.jpg and label38/{train,test}/NNNNNNNN.png (0 = unlabeled, 1..37)",
        ("SUNRGBD", "."), "label38", "sunrgbd-38", "grey", (r"^(.*)$", r"\1"),
        {"sunrgbd-37": "sunrgbd-38", "sunrgbd-37-relabeled": "sunrgbd-37"},
        segments="classes:sunrgbd-37", key_format="img-{:06d}", record_splits={"test": "val"},
        folder_out="SUNRGBD",
        derive={"train": ("label38/train/*.png", "image/train/*.jpg"),
                "val": ("label38/test/*.png", "image/test/*.jpg")},
        derive_image=(r"^label38/(\w+)/00(\d{6})\.png$", r"image/\1/img-\2.jpg"),
        derive_paths={"sunrgbd-37": (r"^label38/", "semseg-label37/"),
                      "sunrgbd-37-relabeled": (r"^label38/", "semseg-relabeled37/")}),
    Family(
        "wilddash",
        "WildDash v1 wd_val_01.zip (labelIds PNGs) and wd_both_01.zip (test images), https://wilddash.cc",
        ("WildDash", "."), "wd_val_01", "wilddash-34", "grey", (r"^(.*)$", r"\1"),
        {"wilddash-19": "wilddash-34"},
        other_versions={"wd_public_02": "WildDash 2 (wd_public_02); MSeg uses WildDash v1"}, folder_out="WildDash",
        derive={"all": ("wd_val_01/*_labelIds.png", "")},
        derive_image=(r"_labelIds\.png$", ".png"),
        derive_paths={"wilddash-19": (r"^wd_val_01/", "wd_val_19class/")}),
]}


def describe(fam: Family) -> str:
    """The `prepare --list` paragraph of one family."""
    bases = " or ".join("NATIVE_ROOT" if b == "." else f"NATIVE_ROOT/{b}" for b in fam.bases)
    return (f"{fam.name}: {fam.download}\n    expects {bases}"
            + (f" holding {fam.marker}/" if fam.marker else "")
            + f"\n    writes {', '.join(fam.all_spaces + list(fam.copies))}")
