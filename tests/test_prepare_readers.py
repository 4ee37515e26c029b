"""The native readers of `unitax prepare` (tools/data/prepare/readers), on the synthetic fixtures of
tests/fixtures/make_native.py and, where the MSeg reference folder exists, on its real samples."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unitax.tools.data.labelio import LabelFileError
from unitax.tools.data.prepare import NativeFormatError
from unitax.tools.data.prepare.readers import ade20k_full, coco_panoptic, pascal_context, png_labels, polygons

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NATIVE = FIXTURES / "native"

_spec = importlib.util.spec_from_file_location("make_native", FIXTURES / "make_native.py")
make_native = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_native)

HAVE_SCIPY = importlib.util.find_spec("scipy") is not None


# ----- the fixtures themselves ------------------------------------------------------------------

def test_fixtures_are_reproducible_and_small(tmp_path):
    out = make_native.build(tmp_path / "native")
    committed = sorted(p.relative_to(NATIVE) for p in NATIVE.rglob("*") if p.is_file())
    rebuilt = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert committed == rebuilt
    for rel in committed:
        a, b = NATIVE / rel, out / rel
        assert a.stat().st_size < 4096, rel
        if rel.suffix == ".png" and rel.parts[0] != "broken":
            ia, ib = Image.open(a), Image.open(b)   # pixels, not zlib's bytes, must agree
            assert ia.mode == ib.mode and np.array_equal(np.asarray(ia), np.asarray(ib)), rel
            assert ia.getpalette() == ib.getpalette(), rel
        elif rel.parts[0] != "broken":
            assert a.read_bytes() == b.read_bytes(), rel


# ----- COCO panoptic -----------------------------------------------------------------------------

COCO_DIR = NATIVE / "COCOPanoptic/annotations"


def test_coco_panoptic_fixture(tax):
    anns = coco_panoptic.load_annotations(COCO_DIR / "panoptic_val2017.json")
    cls, seg = coco_panoptic.read(COCO_DIR / "panoptic_val2017/000000000042.png", anns,
                                  tax.names("coco-panoptic-201"))
    assert seg.dtype == np.uint32 and cls.dtype == np.uint8
    assert np.array_equal(seg, make_native.coco_segments())          # 70000 and 257: G and B used
    assert np.array_equal(cls, make_native.coco_classes())          # void and unlisted ids -> 255
    assert cls[0, 9] == 255 and seg[0, 9] == make_native.COCO_UNLISTED
    assert tax.names("coco-panoptic-201")[200] == "rug-merged" and cls[5, 0] == 200


def test_coco_panoptic_errors(tax):
    rgb = np.zeros((2, 2, 3), np.uint8)
    names = tax.names("coco-panoptic-201")
    with pytest.raises(NativeFormatError, match="category_id 12 is not a coco-panoptic-201 class"):
        coco_panoptic.decode(rgb, [{"id": 1, "category_id": 12}], names)   # 12 is void in COCO
    with pytest.raises(NativeFormatError, match="listed twice"):
        coco_panoptic.decode(rgb, [{"id": 1, "category_id": 1}, {"id": 1, "category_id": 2}])
    with pytest.raises(NativeFormatError, match="lacks an integer"):
        coco_panoptic.decode(rgb, [{"id": 1}])
    with pytest.raises(NativeFormatError, match=r"\(2, 2\) uint8"):
        coco_panoptic.decode(rgb[..., 0], [])
    with pytest.raises(NativeFormatError, match="no entry in the panoptic JSON"):
        coco_panoptic.read(COCO_DIR / "panoptic_val2017/000000000042.png", {})
    with pytest.raises(NativeFormatError, match="not a COCO panoptic JSON"):
        coco_panoptic.load_annotations(NATIVE / "broken/not_json_polygons.json")


def test_coco_panoptic_real_samples(reference, tax):
    base = reference / "samples/COCOPanoptic_test_data/annotations"
    for split, stem in [("val", "000000000139"), ("train", "000000000009")]:
        data = json.loads((base / f"panoptic_{split}2017.json").read_text())
        anns = {a["file_name"]: a["segments_info"] for a in data["annotations"]}
        cls, seg = coco_panoptic.read(base / f"panoptic_{split}2017/{stem}.png", anns,
                                      tax.names("coco-panoptic-201"))
        infos = anns[f"{stem}.png"]
        assert len(infos) > 3
        for info in infos:   # the JSON's own area of every segment = its pixels in our decoding
            mask = seg == info["id"]
            assert int(mask.sum()) == info["area"], (stem, info["id"])
            assert np.all(cls[mask] == info["category_id"])
        listed = np.isin(seg, [i["id"] for i in infos])
        assert np.all(cls[~listed] == 255) and np.any(~listed)


# ----- full ADE20K -------------------------------------------------------------------------------

def test_ade20k_full_fixture_mseg_resize():
    full = make_native.ade_full_rgb()
    seg_path = NATIVE / "ADE20K_2016_07_26/images/training/a/aiport_terminal/ADE_train_00000001_seg.png"
    chal = NATIVE / "ADEChallengeData2016/annotations/training/ADE_train_00000001.png"
    cls, inst = ade20k_full.read(seg_path, chal)
    h, w = make_native.ADE_CHALLENGE_SHAPE
    H, W = make_native.ADE_FULL_SHAPE
    assert cls.shape == inst.shape == (h, w) and cls.dtype == np.uint16
    for i in range(h):      # the rule written out pixel by pixel: source = floor(i * H / h)
        for j in range(w):
            r, g, b = (int(v) for v in full[i * H // h, j * W // w])
            assert inst[i, j] == b and cls[i, j] == r // 10 * 256 + g
    assert set(np.unique(cls // 256).tolist()) == {2, 3}
    pil = np.asarray(Image.fromarray(full[..., 2]).resize((w, h), Image.NEAREST))
    assert not np.array_equal(pil, inst)     # Pillow samples pixel centres: not MSeg's rule
    cls_native, inst_native = ade20k_full.read(seg_path)
    assert np.array_equal(inst_native, full[..., 2]) and cls_native.shape == (H, W)


def test_ade20k_full_errors():
    with pytest.raises(NativeFormatError, match="uint8 RGB"):
        ade20k_full.decode(np.zeros((4, 4), np.uint8))
    with pytest.raises(NativeFormatError, match="bad target size"):
        ade20k_full.decode(np.zeros((4, 4, 3), np.uint8), (0, 3))
    # file-level refusals are labelio's, one line naming the path
    with pytest.raises(LabelFileError, match=r"broken/truncated\.png: truncated image"):
        ade20k_full.read(NATIVE / "broken/truncated.png")
    with pytest.raises(LabelFileError, match=r"absent_seg\.png: cannot read: No such file"):
        ade20k_full.read(NATIVE / "broken/absent_seg.png")


def test_ade20k_full_real_sample_matches_mseg(reference):
    """MSeg's relabel records name ADE_train_00000001's instance B=30: 40,609 px at challenge size."""
    base = reference / "samples/ADE20K_test_data"
    seg = base / "ADE20K_2016_07_26/images/training/a/aiport_terminal/ADE_train_00000001_seg.png"
    chal = base / "ADEChallengeData2016/annotations/training/ADE_train_00000001.png"
    cls, inst = ade20k_full.read(seg, chal)
    assert inst.shape == np.asarray(Image.open(chal)).shape == (512, 683)
    assert int((inst == 30).sum()) == 40609
    full_b = np.asarray(Image.open(seg))[..., 2]
    assert full_b.shape == (1536, 2048)
    pil = np.asarray(Image.fromarray(full_b).resize((683, 512), Image.NEAREST))
    assert int((pil == 30).sum()) == 40786 and int((pil != inst).sum()) == 7765   # Pillow's NEAREST differs
    # OpenCV computes floor(i * (1 / (h / H))) in doubles; on these sizes it equals our integer rule
    for src, dst in [(1536, 512), (2048, 683), (960, 512), (1280, 683)]:
        dbl = np.minimum(np.floor(np.arange(dst) * (1.0 / (dst / src))).astype(np.int64), src - 1)
        assert np.array_equal(dbl, ade20k_full.nearest_indices(src, dst))
    # the class code: 0 (unlabeled) and object indices reaching past 255 through R // 10 * 256
    assert cls.dtype == np.uint16 and 0 < int(cls.max()) < 4096


# ----- polygons ----------------------------------------------------------------------------------

def test_cityscapes_polygons_fixture(tax):
    names = tax.names("cityscapes-34")
    cls, seg = polygons.read(NATIVE / "Cityscapes/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_polygons.json",
                             names, "cityscapes-34")
    nid = {n: i for i, n in enumerate(names)}
    want = np.full((10, 20), nid["road"], np.uint8)    # road covers the whole image (its polygon is [0,19]x[0,9])
    want_seg = np.zeros((10, 20), np.int32)
    for label, sid, (x0, y0, x1, y1) in [("car", 1, (2, 2, 8, 6)), ("person", 5, (6, 4, 10, 8)),
                                         ("polegroup", 6, (15, 1, 16, 8))]:
        want[y0:y1 + 1, x0:x1 + 1] = nid[label]          # Pillow fills a polygon's boundary too
        want_seg[y0:y1 + 1, x0:x1 + 1] = sid
    assert np.array_equal(cls, want)
    assert np.array_equal(seg, want_seg)   # deleted (2), degenerate (3), license plate (4): never drawn


def test_idd_polygons_fixture(tax):
    names = tax.names("idd-40")
    cls, seg = polygons.read(NATIVE / "IDD/IDD_Segmentation/gtFine/val/119/638495_gtFine_polygons.json",
                             names, "idd-40")
    nid = {n: i for i, n in enumerate(names)}
    want = np.full((6, 12), nid["unlabeled"], np.uint8)
    want_seg = np.full((6, 12), polygons.NO_SEGMENT, np.int32)
    for label, sid, (x0, y0, x1, y1) in [("sky", 7, (0, 0, 11, 2)), ("vehicle fallback", 3, (1, 1, 4, 5)),
                                         ("license plate", 9, (2, 3, 3, 4))]:
        want[y0:y1 + 1, x0:x1 + 1] = nid[label]
        want_seg[y0:y1 + 1, x0:x1 + 1] = sid   # the objects' own "id" fields
    assert nid["unlabeled"] == 35
    assert np.array_equal(cls, want) and np.array_equal(seg, want_seg)


def test_polygons_errors(tax):
    names = tax.names("idd-40")
    ann = {"imgHeight": 4, "imgWidth": 4, "objects": [{"label": "dragon", "polygon": [[0, 0], [3, 0], [3, 3]]}]}
    with pytest.raises(NativeFormatError, match="label 'dragon' is not a class"):
        polygons.decode(ann, names)
    cls, seg = polygons.decode(ann, names, on_unknown="skip")   # MSeg's script skips it (with a print)
    assert np.all(cls == 35) and np.all(seg == -1)
    with pytest.raises(NativeFormatError, match="needs imgHeight"):
        polygons.decode({"objects": []}, names)
    bad = {"imgHeight": 4, "imgWidth": 4, "objects": [{"label": "sky", "polygon": [[0, "a"]]}]}
    with pytest.raises(NativeFormatError, match=r"objects\[0\].polygon"):
        polygons.decode(bad, names)
    dup = {"imgHeight": 4, "imgWidth": 4, "objects": [{"label": "sky", "polygon": [], "id": 2}] * 2}
    with pytest.raises(NativeFormatError, match="segment id 2"):
        polygons.decode(dup, names)
    with pytest.raises(NativeFormatError, match="not JSON"):
        polygons.read(NATIVE / "broken/not_json_polygons.json", names, "idd-40")


# ----- PASCAL-Context ----------------------------------------------------------------------------

@pytest.mark.skipif(not HAVE_SCIPY, reason="scipy not installed (optional extra unitax[prepare])")
def test_pascal_context_mat_fixture():
    d = NATIVE / "PASCAL_Context/trainval"
    a = pascal_context.read(d / "2008_000002.mat")
    assert a.dtype == np.uint16 and np.array_equal(a, make_native.pascal_label_map()) and a.max() > 255
    with pytest.raises(NativeFormatError, match="no LabelMap"):
        pascal_context.read(d / "2008_000003.mat")
    with pytest.raises(NativeFormatError, match="not a readable MATLAB file"):
        pascal_context.read(d / "2008_000004.mat")


def test_pascal_context_decode():
    assert pascal_context.decode(np.array([[0.0, 459.0]])).tolist() == [[0, 459]]
    with pytest.raises(NativeFormatError, match=r"value 460 at \(row 1, col 0\)"):
        pascal_context.decode(np.array([[1, 2], [460, 3]]))
    with pytest.raises(NativeFormatError, match="non-integral"):
        pascal_context.decode(np.array([[0.5]]))
    with pytest.raises(NativeFormatError, match="2-D"):
        pascal_context.decode(np.zeros(3, np.uint16))


# ----- palette / RGB / 16-bit PNGs ---------------------------------------------------------------

def test_palette_png(tax):
    d = NATIVE / "MapillaryVistas/validation/labels"
    ids = png_labels.read_palette(d / "__fixture_ok.png", tax.colors("mapillary-public66"))
    assert np.array_equal(ids, make_native.palette_indices())
    with pytest.raises(NativeFormatError, match=r"palette entry 3 is \(1, 2, 3\)"):
        png_labels.read_palette(d / "__fixture_bad_palette.png", tax.colors("mapillary-public66"))
    with pytest.raises(NativeFormatError, match="index 65, not a class"):
        png_labels.read_palette(d / "__fixture_ok.png", tax.colors("mapillary-public66")[:65])
    with pytest.raises(LabelFileError, match=r"0016E5_00390_L\.png: PNG image of mode RGB \(RGB\) holds no label ids"):
        png_labels.read_palette(NATIVE / "CamVid/LabeledApproved_full/0016E5_00390_L.png", tax.colors("camvid-32"))
    grey = np.asarray(Image.open(d / "__fixture_ok.png"))   # the indices alone, saved as grey: no palette
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="PNG")
    with pytest.raises(LabelFileError, match=r"x\.png: PNG image of mode L .* is not a palette \(mode P\) image"):
        png_labels.read_palette("x.png", tax.colors("mapillary-public66"), data=buf.getvalue())


def test_rgb_colour_labels(tax):
    d = NATIVE / "CamVid/LabeledApproved_full"
    ids = png_labels.read_rgb(d / "0016E5_00390_L.png", tax.colors("camvid-32"))
    assert np.array_equal(ids, make_native.camvid_ids())
    with pytest.raises(NativeFormatError, match=r"2 pixels have a colour that is no class; first at "
                                                r"\(row 2, col 3\): \(1, 2, 3\)"):
        png_labels.read_rgb(d / "0016E5_00391_L.png", tax.colors("camvid-32"))
    with pytest.raises(ValueError, match="colour twice"):
        png_labels.decode_rgb(np.zeros((1, 1, 3), np.uint8), np.zeros((2, 3), np.uint8))


def test_mapillary_instances():
    cls, seg = png_labels.read_instances(NATIVE / "MapillaryVistas/validation/instances/__fixture_ok.png", 66)
    v = make_native.mapillary_instances()
    assert np.array_equal(seg, v) and np.array_equal(cls, v // 256)
    assert set(np.unique(cls).tolist()) == {19, 55, 65}
    with pytest.raises(NativeFormatError, match="class id >= 60"):
        png_labels.decode_instances(v, 60)
    with pytest.raises(LabelFileError, match="mode RGB .* holds no label ids"):
        png_labels.read_instances(NATIVE / "CamVid/LabeledApproved_full/0016E5_00390_L.png")
    with pytest.raises(NativeFormatError, match="expected a 16-bit grey image, got mode P"):
        png_labels.read_instances(NATIVE / "MapillaryVistas/validation/labels/__fixture_ok.png")


def test_mapillary_config_colours_are_the_taxonomy_colours(reference, tax):
    """The palette check compares against tax.colors("mapillary-public66"): the v1.1 config's colours."""
    cfg = json.loads((reference / "samples/mapillary-vistas-dataset_public_v1.1_config.json").read_text())
    assert [lab["readable"] for lab in cfg["labels"]] == list(tax.names("mapillary-public66"))
    assert [lab["color"] for lab in cfg["labels"]] == tax.colors("mapillary-public66").tolist()


def test_pascal_context_without_scipy(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError, match=r"pip install 'unitax\[prepare\]'"):
        pascal_context.read(NATIVE / "PASCAL_Context/trainval/2008_000002.mat")


# ----- every reader reads label images through labelio -------------------------------------------

def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG")
    return buf.getvalue()


def test_readers_refuse_a_jpeg_named_png_with_labelios_message(tax, tmp_path):
    """A lossy file in place of a native label is refused by labelio, one line naming the path."""
    jpg = _jpeg(make_native.ade_full_rgb())
    reason = "is a JPEG file, not a lossless label image (PNG) despite its .png name"
    calls = {
        "ade20k_full": lambda p: ade20k_full.read(p),
        "coco_panoptic": lambda p: coco_panoptic.read(p, {p.name: []}),
        "read_rgb": lambda p: png_labels.read_rgb(p, tax.colors("camvid-32")),
        "read_palette": lambda p: png_labels.read_palette(p, tax.colors("mapillary-public66")),
        "read_instances": lambda p: png_labels.read_instances(p),
        "ade20k_full size": lambda p: ade20k_full.read(
            NATIVE / "ADE20K_2016_07_26/images/training/a/aiport_terminal/ADE_train_00000001_seg.png", p),
    }
    for what, call in calls.items():
        p = tmp_path / f"{what.replace(' ', '_')}.png"
        p.write_bytes(jpg)
        with pytest.raises(LabelFileError) as e:
            call(p)
        assert str(e.value) == f"{p}: {reason}", what
        assert "\n" not in str(e.value)


def test_readers_decode_the_bytes_they_are_given(tax, tmp_path):
    """``data=``: the caller's bytes (read once, hashed) are decoded; the file is not opened again."""
    import sys

    cases = [
        (NATIVE / "CamVid/LabeledApproved_full/0016E5_00390_L.png",
         lambda p, d: png_labels.read_rgb(p, tax.colors("camvid-32"), d)),
        (NATIVE / "MapillaryVistas/validation/labels/__fixture_ok.png",
         lambda p, d: png_labels.read_palette(p, tax.colors("mapillary-public66"), data=d)),
        (NATIVE / "MapillaryVistas/validation/instances/__fixture_ok.png",
         lambda p, d: png_labels.read_instances(p, data=d)[1]),
        (COCO_DIR / "panoptic_val2017/000000000042.png",
         lambda p, d: coco_panoptic.read(p, coco_panoptic.load_annotations(COCO_DIR / "panoptic_val2017.json"),
                                         data=d)[1]),
        (NATIVE / "ADE20K_2016_07_26/images/training/a/aiport_terminal/ADE_train_00000001_seg.png",
         lambda p, d: ade20k_full.read(p, data=d)[1]),
    ]
    opened: list[str] = []

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, Path)) and str(args[0]).startswith(str(tmp_path)):
            opened.append(str(args[0]))

    sys.addaudithook(hook)   # hooks cannot be removed; this one only records opens under tmp_path
    for src, call in cases:
        want = call(src, None)
        copy = tmp_path / src.name
        copy.write_bytes(src.read_bytes())
        opened.clear()
        got = call(copy, copy.read_bytes())
        assert opened == [str(copy)], (src.name, opened)   # only the test's own read_bytes
        assert np.array_equal(got, want), src.name


def test_colour_labels_take_opaque_rgba_only(tax):
    """As before labelio, an RGBA colour label is read with its alpha dropped, but only when opaque."""
    from unitax.tools.data.labelio import header, read_colors

    rgb = make_native.ade_full_rgb()
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    assert np.array_equal(read_colors("a.png", buf.getvalue()), rgb)
    rgba[0, 1, 3] = 7
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    with pytest.raises(LabelFileError, match=r"^a\.png: PNG image of mode RGBA \(RGBA\) has 1 pixels that are not "):
        read_colors("a.png", buf.getvalue())
    with pytest.raises(LabelFileError, match="mode RGBA .* holds no label ids"):   # ids: RGBA never
        header("a.png", buf.getvalue())
    hdr = header(NATIVE / "MapillaryVistas/validation/labels/__fixture_ok.png")
    assert hdr.format == "PNG" and hdr.mode == "P" and hdr.shape == make_native.palette_indices().shape
    assert hdr.palette is not None and hdr.palette.shape[1] == 3
