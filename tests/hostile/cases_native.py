"""Hostile native data (issue 20): paths taken from data, native values that are not what they look
like, ambiguous native trees, names that split lines, and inputs that used to end in a traceback.

Classes: ``data-path`` (a path from a file's content or a file name must stay below its root:
runtime/fileops/datapath.py), ``native-value`` (types and ranges checked at each native reader),
``ambiguous-native`` (two native files for one sample, refused naming both), ``line-split`` (lists
and names files split on ``\\n`` only; names holding control or line-separating characters refused),
``traceback`` (one line and an exit status, never a traceback or a hang).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from support.corpus import BASE
from support.hostile import Case
from support.paths import SPECS

from unitax.tools.data.prepare import NativeFormatError
from unitax.tools.data.prepare.errors import PrepareError

REPO = Path(__file__).resolve().parents[2]
ADE = "ADEChallengeData2016"
COCO_TRAIN = "COCOPanoptic/annotations/panoptic_train2017.json"


# ----- builders ------------------------------------------------------------------------------------


def _png_header(w: int, h: int) -> bytes:
    """A PNG that claims w x h RGB pixels and holds one tiny IDAT: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


def _label(path: Path, shape: tuple[int, int] = (4, 6), value: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


def _photo(path: Path, shape: tuple[int, int] = (4, 6)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((*shape, 3), np.uint8), "RGB").save(path, format="JPEG")


def _write(rel: str | bytes, data: str | bytes):
    def run(t: Path) -> None:
        p = os.path.join(os.fsencode(t), rel if isinstance(rel, bytes) else os.fsencode(rel))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    return run


def _steps(*fns: Any):
    def run(t: Path) -> None:
        for f in fns:
            f(t)
    return run


def _ade_derive(*names: str | bytes):
    """An ADE20K challenge tree for --lists derive: one good sample, and label files (with their
    images) under each of ``names`` (str or raw bytes of a file name that is not UTF-8)."""
    def run(t: Path) -> None:
        base = t / "native" / ADE
        _label(base / "annotations/training/ADE_train_00000001.png")
        _photo(base / "images/training/ADE_train_00000001.jpg")
        for n in names:
            raw = n if isinstance(n, bytes) else os.fsencode(n)
            stem = raw[: -len(b".png")]
            _label(Path(os.fsdecode(os.path.join(os.fsencode(base / "annotations/training"), raw))))
            _photo(Path(os.fsdecode(os.path.join(os.fsencode(base / "images/training"), stem + b".jpg"))))
    return run


def _prepare(*extra: str, dataset: str = "ade20k"):
    return lambda t: ["prepare", dataset, str(t / "native"), str(t / "out"), "-j", "1", "--no-progress", *extra]


def _coco(*anns: dict[str, Any]):
    """A COCO-Panoptic tree (folders only) whose panoptic_train2017.json holds ``anns``."""
    def run(t: Path) -> None:
        base = t / "native" / "COCOPanoptic"
        (base / "annotations" / "panoptic_val2017").mkdir(parents=True)
        (base / "images").mkdir()
        (t / "native" / COCO_TRAIN).write_text(json.dumps({"annotations": list(anns)}))
    return run


def _ann(name: str, *segments: dict[str, Any]) -> dict[str, Any]:
    return {"file_name": name, "segments_info": list(segments) or [{"id": 1, "category_id": 1}]}


def _reference(*lines: str):
    """An mseg-api style ``dataset_lists/kitti-19/list/train.txt`` holding ``lines``."""
    return _write("ref/dataset_lists/kitti-19/list/train.txt", "".join(line + "\n" for line in lines))


def _verify_out(line: str, *files: tuple[str, bytes | None]):
    """An OUT_ROOT of a `prepare ade20k` job whose ade20k-151 train list is ``line``, with ``files``
    (rel, bytes; None = a valid 4x6 label)."""
    def run(t: Path) -> None:
        out = t / "out"
        (out / "ade20k-151" / "list").mkdir(parents=True)
        (out / ".unitax-remap.json").write_text(json.dumps({"tool": "unitax prepare", "dataset": "ade20k",
                                                                   "images": "link"}))
        (out / "ade20k-151" / "list" / "train.txt").write_text(line + "\n")
        for rel, data in files:
            if data is None:
                _label(out / rel)
            else:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_bytes(data)
    return run


def _ade_two_segs(t: Path) -> None:
    """A synthetic ADE20K download (tests/fixtures/make_native.py) where one image's full-ADE _seg.png is
    also in a second scene folder, with other segment ids."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    import make_native

    make_native.build_tree("ade20k", t / "native")
    segs = sorted((t / "native" / "ADE20K_2016_07_26" / "images").rglob("ADE_*_seg.png"))
    twin = t / "native" / "ADE20K_2016_07_26" / "images" / "zz" / "zoo" / segs[0].name
    twin.parent.mkdir(parents=True)
    a = np.asarray(Image.open(segs[0])).copy()
    a[..., 2] = 0
    Image.fromarray(a, "RGB").save(twin)


def _specs(t: Path) -> None:
    for rel in BASE:
        (t / "taxonomy" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPECS / rel, t / "taxonomy" / rel)


def _new_dataset(names: str, colors: str | None = None):
    def run(t: Path) -> None:
        (t / "specs").mkdir()
        (t / "names.txt").write_bytes(names.encode("utf-8"))
        if colors is not None:
            (t / "colors.txt").write_bytes(colors.encode("utf-8"))
    return run


def _new_dataset_argv(colors: bool = False):
    return lambda t: (["new-dataset", "mine", "--names", str(t / "names.txt"), "--specs", str(t / "specs")]
                      + (["--colors", str(t / "colors.txt")] if colors else []))


# ----- runtime calls -------------------------------------------------------------------------------


def _names(space: str) -> list[str]:
    import unitax
    return list(unitax.load().names(space))


def _poly(**over: Any):
    """polygons.decode of a 4x4 idd-40 annotation with one sky polygon, fields of it replaced by ``over``."""
    def call(t: Path) -> Any:
        from unitax.tools.data.prepare.readers import polygons
        obj: dict[str, Any] = {"label": "sky", "polygon": [[0, 0], [3, 0], [3, 3]], "id": 7}
        ann: dict[str, Any] = {"imgHeight": 4, "imgWidth": 4, "objects": [obj]}
        for k, v in over.items():
            (ann if k.startswith("img") else obj)[k] = v
        return polygons.decode(ann, _names("idd-40"))
    return call


def _coco_decode(**info: Any):
    """coco_panoptic.decode of a 2x2 panoptic PNG of segment 1 with segments_info ``[info]``."""
    def call(t: Path) -> Any:
        from unitax.tools.data.prepare.readers import coco_panoptic
        rgb = np.zeros((2, 2, 3), np.uint8)
        rgb[..., 0] = 1
        return coco_panoptic.decode(rgb, [{"id": 1, "category_id": 1, **info}], _names("coco-panoptic-201"))
    return call


def _coco_load(t: Path) -> Any:
    from unitax.tools.data.prepare.readers import coco_panoptic
    return coco_panoptic.load_annotations(t / "native" / COCO_TRAIN)


def _plan_with_list(line: str):
    """engine.plan of ade20k on a tree whose (given) ade20k-151 train list is the one ``line``."""
    def call(t: Path) -> Any:
        import unitax
        from unitax.tools.data.prepare import engine
        (t / "native" / ADE / "annotations").mkdir(parents=True)
        return engine.plan(unitax.load(), "ade20k", t / "native", t / "out", partial=True,
                           lists={("ade20k-151", "train"): [line]})
    return call


def _diff_latin1(t: Path) -> subprocess.CompletedProcess[str]:
    """`unitax diff` of two spec folders in a child whose terminal speaks ISO-8859-1."""
    _specs(t)
    shutil.copytree(t / "taxonomy", t / "new")
    env = {**os.environ, "PYTHONIOENCODING": "iso-8859-1", "LC_ALL": "C", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "unitax.tools.cli", "diff", str(t / "taxonomy"), str(t / "new")],
                          capture_output=True, text=True, encoding="iso-8859-1", env=env, cwd=t, timeout=300)


def _git_repo_with_absolute_link(t: Path) -> None:
    _specs(t)
    (t / "taxonomy" / "datasets" / "evil.yaml").symlink_to("/etc/hostname")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(t)}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "specs"]):
        subprocess.run(["git", *args], cwd=t, env=env, check=True, capture_output=True)


def _no_git() -> str | None:
    return None if shutil.which("git") else "git is not installed"


CASES = [
    # ----- 1. paths taken from data ----------------------------------------------------------------
    Case("native/coco-file-name-climbs-out", "data-path", _coco(_ann("../../../esc/000000000009.png")),
         _prepare("--partial", "--images", "none", dataset="coco-panoptic"), exit_code=2, outputs=("out",),
         expect=("panoptic_train2017.json", "annotations[0].file_name '../../../esc/000000000009.png' has a '..' "
                                            "component")),
    Case("native/coco-file-name-absolute", "data-path", _coco(_ann("/tmp/unitax-esc/000000000009.png")),
         _prepare("--partial", "--images", "none", dataset="coco-panoptic"), exit_code=2, outputs=("out",),
         expect=("is an absolute path",)),
    Case("native/coco-file-name-with-a-folder", "data-path", _coco(_ann("sub/000000000009.png")),
         _prepare("--partial", "--images", "none", dataset="coco-panoptic"), exit_code=2, outputs=("out",),
         expect=("names a folder",)),
    Case("native/import-lists-line-climbs-into-another-dataset", "data-path",
         _reference("img/a.png lab/a.png", "img ../KITTI/x.png"),
         lambda t: ["import-lists", str(t / "ref"), "--specs", str(t / "specs")], exit_code=2, outputs=("specs",),
         expect=("train.txt:2: label path '../KITTI/x.png' has a '..' component",)),
    Case("native/import-lists-absolute-image", "data-path", _reference("/etc/passwd lab/a.png"),
         lambda t: ["import-lists", str(t / "ref"), "--specs", str(t / "specs")], exit_code=2, outputs=("specs",),
         expect=("train.txt:1: image path '/etc/passwd' is an absolute path",)),
    Case("native/import-lists-control-character", "data-path", _reference("img/a\x1b[2J.png lab/a.png"),
         lambda t: ["import-lists", str(t / "ref"), "--specs", str(t / "specs")], exit_code=2, outputs=("specs",),
         expect=("holds the control or line-separating character \\x1b",)),
    Case("native/prepare-refuses-a-list-line-that-climbs-out", "data-path",
         lambda t: None, call=_plan_with_list("images/training/x.jpg annotations/../../../x.png"),
         raises=PrepareError, outputs=("native", "out"),
         expect=("ade20k-151/train list, line 1: label path 'annotations/../../../x.png' has a '..' component",)),
    Case("native/verify-refuses-an-out-list-line-that-climbs-out", "data-path",
         _steps(_verify_out("../secret.jpg ../secret.png"), lambda t: _label(t / "secret.png")),
         lambda t: ["prepare", "--verify", "ade20k", str(t / "out")], exit_code=1,
         expect=("image path '../secret.jpg' has a '..' component",)),

    Case("native/import-relabel-segment-list-climbs-out", "data-path",
         _steps(_write("ref/relabeled_data/update_records.tsv",
                       "dataset\tsplit\torig_class\trelabeled_class\tsegment_list\n"
                       "ade20k\ttrain\tfloor\trug\ta/b/../../../relabeled_data/x.txt\n"),
                _write("ref/relabeled_data/x.txt", "ADE_train_00000001_3.png\n"),
                lambda t: (t / "ref/relabeled_data/a/b").mkdir(parents=True), _specs),
         lambda t: ["import-relabel", str(t / "ref"), "--specs", str(t / "taxonomy")], exit_code=1,
         outputs=("taxonomy",),
         expect=("update_records.tsv:2", "segment list 'a/b/../../../relabeled_data/x.txt' has a '..' component",)),
    Case("native/out-root-folder-linked-outside", "data-path",
         _steps(_ade_derive(), _write("out/.unitax-remap.json", "{}"), _write("elsewhere/keep.txt", "mine"),
                lambda t: (t / "out" / "annotations_semseg150").symlink_to(t / "elsewhere")),
         _prepare("--lists", "derive", "--overwrite"), exit_code=2, outputs=("out",),
         expect=("output path 'annotations_semseg150/training/ADE_train_00000001.png' leads outside {tmp}/out",)),
    Case("native/remap-dir-dst-folder-linked-outside", "data-path",
         _steps(lambda t: _label(t / "src" / "sub" / "a.png", value=7), _write("dst/.unitax-remap.json", "{}"),
                _write("elsewhere/keep.txt", "mine"), lambda t: (t / "dst" / "sub").symlink_to(t / "elsewhere")),
         lambda t: ["remap-dir", str(t / "src"), str(t / "dst"), "--from", "cityscapes-34", "--to", "cityscapes-19",
                    "-j", "1", "--no-progress", "--overwrite"], exit_code=1, outputs=("dst",),
         expect=("output path 'sub/a.png' leads outside {tmp}/dst",)),

    # ----- 5. native values that are not what they look like --------------------------------------
    Case("native/polygon-coordinate-finite-but-absurd", "native-value", lambda t: None,
         call=_poly(polygon=[[0, 0], [1e10, 0], [3, 3]]), raises=NativeFormatError,
         expect=("objects[0].polygon[1] = (1e+10, 0) lies more than the image's size outside the 4x4 image",)),
    Case("native/polygon-id-wraps-int32", "native-value", lambda t: None, call=_poly(id=2 ** 32 + 15),
         raises=NativeFormatError, expect=("segment id 4294967311 does not fit the int32 segment map",)),
    Case("native/polygon-id-true", "native-value", lambda t: None, call=_poly(id=True), raises=NativeFormatError,
         expect=("segment id True is not a new non-negative integer",)),
    Case("native/polygon-image-height-float", "native-value", lambda t: None, call=_poly(imgHeight=4.7),
         raises=NativeFormatError, expect=("imgHeight 4.7 and imgWidth 4 must be integers",)),
    Case("native/polygon-coordinate-bool", "native-value", lambda t: None,
         call=_poly(polygon=[[0, 0], [True, 0], [3, 3]]), raises=NativeFormatError,
         expect=("objects[0].polygon has a coordinate that is not a number",)),
    Case("native/coco-category-id-float", "native-value", lambda t: None, call=_coco_decode(category_id=4.7),
         raises=NativeFormatError, expect=("segments_info[0]: category_id 4.7 is not an integer",)),
    Case("native/coco-category-id-true", "native-value", lambda t: None, call=_coco_decode(category_id=True),
         raises=NativeFormatError, expect=("segments_info[0]: category_id True is not an integer",)),
    Case("native/coco-segment-id-string", "native-value", lambda t: None, call=_coco_decode(id="1"),
         raises=NativeFormatError, expect=("segments_info[0]: id '1' is not an integer",)),

    # ----- 6. ambiguous native trees ---------------------------------------------------------------
    Case("native/coco-file-name-twice", "ambiguous-native",
         _coco(_ann("000000000009.png"), _ann("000000000010.png"), _ann("000000000009.png")),
         call=_coco_load, raises=NativeFormatError,
         expect=("annotations[0] and annotations[2] both have file_name '000000000009.png'",)),
    Case("native/coco-file-name-twice-in-prepare", "ambiguous-native",
         _coco(_ann("000000000009.png"), _ann("000000000009.png")),
         _prepare("--partial", "--images", "none", dataset="coco-panoptic"), exit_code=2, outputs=("out",),
         expect=("annotations[0] and annotations[1] both have file_name",)),

    Case("native/ade-two-full-seg-files-for-one-image", "ambiguous-native", _ade_two_segs,
         _prepare("--partial", "--images", "none"), exit_code=1, outputs=("out",),
         expect=("two full-ADE segment files have image key ADE_", "/a/abbey/ADE_", "/zz/zoo/ADE_",
                 "refusing to guess which is meant")),

    # ----- 7. names that split lines ---------------------------------------------------------------
    Case("native/names-file-line-separator", "line-split", _new_dataset("road\nside\u2028walk\ncar\n"),
         _new_dataset_argv(), exit_code=2, outputs=("specs",),
         expect=("names.txt:2: class 'side\\u2028walk' holds the control or line-separating character \\u2028",)),
    Case("native/names-file-next-line", "line-split", _new_dataset("road\nside\x85walk\ncar\n"),
         _new_dataset_argv(), exit_code=2, outputs=("specs",),
         expect=("names.txt:2:", "\\x85")),
    Case("native/names-file-lone-carriage-return", "line-split", _new_dataset("road\nside\rwalk\ncar\n"),
         _new_dataset_argv(), exit_code=2, outputs=("specs",),
         expect=("names.txt:2: class 'side\\rwalk' holds the control or line-separating character \\r",)),
    Case("native/import-lists-line-separator", "line-split", _reference("img/a\u2028b.png lab/a.png"),
         lambda t: ["import-lists", str(t / "ref"), "--specs", str(t / "specs")], exit_code=2, outputs=("specs",),
         expect=("train.txt:1: image path 'img/a\\u2028b.png' holds the control or line-separating character",)),
    Case("native/derive-file-name-with-a-newline", "line-split", _ade_derive("ADE_train_a\nb.png"),
         _prepare("--lists", "derive"), exit_code=2, outputs=("out",),
         expect=("cannot be written in a split list", "\\n")),
    Case("native/derive-file-name-with-a-space", "line-split", _ade_derive("ADE_train_a b.png"),
         _prepare("--lists", "derive"), exit_code=2, outputs=("out",),
         expect=("cannot be written in a split list", "file 'annotations/training/ADE_train_a b.png' holds a space")),

    # ----- 10. tracebacks and hangs -> one line, exit 2 --------------------------------------------
    Case("native/show-image-decompression-bomb", "traceback",
         _steps(lambda t: _label(t / "label.png"), _write("photo.png", _png_header(40000, 40000))),
         lambda t: ["show", str(t / "label.png"), "--space", "ade20k-151", "--image", str(t / "photo.png"),
                    "-o", str(t / "pic.png")], exit_code=2, outputs=("pic.png",),
         expect=("photo.png", "decompression bomb")),
    Case("native/show-image-just-above-the-pixel-bound", "traceback",
         _steps(lambda t: _label(t / "label.png"), _write("photo.png", _png_header(12000, 12000))),
         lambda t: ["show", str(t / "label.png"), "--space", "ade20k-151", "--image", str(t / "photo.png"),
                    "-o", str(t / "pic.png")], exit_code=2, outputs=("pic.png",),
         expect=("claims 12000 x 12000 = 144,000,000 pixels",)),
    Case("native/verify-image-decompression-bomb", "traceback",
         _verify_out("img/a.jpg lab/a.png", ("lab/a.png", None), ("img/a.jpg", _png_header(40000, 40000))),
         lambda t: ["prepare", "--verify", "ade20k", str(t / "out")], exit_code=1,
         expect=("image img/a.jpg unreadable", "decompression bomb")),
    Case("native/derive-file-name-not-utf8", "traceback", _ade_derive(b"ADE_train_\xff.png"),
         _prepare("--lists", "derive"), exit_code=2, outputs=("out",),
         expect=("cannot be written in a split list", "\\udcff", "not UTF-8")),
    Case("native/failures-tsv-with-a-name-not-utf8", "traceback", _write(b"src/bad\xff.png", b"not an image"),
         lambda t: ["remap-dir", str(t / "src"), str(t / "dst"), "--from", "cityscapes-34", "--to",
                    "cityscapes-19", "-j", "1", "--no-progress"], exit_code=1, outputs=("dst",),
         expect=("not an image",)),
    Case("native/diff-under-an-iso-8859-1-terminal", "traceback", lambda t: None, call=_diff_latin1,
         outputs=("taxonomy", "new"),
         check=lambda r: r.returncode == 0 and "unitax diff" in r.stdout and "->" in r.stdout
         and "Traceback" not in r.stderr),
    Case("native/diff-revision-with-an-absolute-symlink", "traceback", _git_repo_with_absolute_link,
         lambda t: ["diff", "HEAD", str(t / "taxonomy"), "--specs", str(t / "taxonomy")], exit_code=2,
         skip_if=_no_git, expect=("revision HEAD: taxonomy/ holds what a spec folder may not",)),
    Case("native/colors-arabic-indic-digits", "traceback", _new_dataset("road\n", "\u0661\u0660 20 30\n"),
         _new_dataset_argv(colors=True), exit_code=2, outputs=("specs",),
         expect=("colors.txt:1:", "is not three numbers 0-255 (R G B, ASCII digits)")),
    Case("native/colors-superscript-digit", "traceback", _new_dataset("road\n", "\u00b2 20 30\n"),
         _new_dataset_argv(colors=True), exit_code=2, outputs=("specs",),
         expect=("colors.txt:1:", "is not three numbers")),
    Case("native/new-dataset-more-names-than-uint16", "traceback",
         _new_dataset("".join(f"c{i}\n" for i in range(65536))), _new_dataset_argv(), exit_code=2,
         outputs=("specs",), expect=("holds 65536 lines; a dataset has at most 65535 classes",)),
]
