"""Label pictures: tax.colorize / tax.overlay (numpy only), `unitax show`, confusion_picture."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from support.bundled import N_UNIVERSAL

import unitax
from unitax.pictures import voc_colormap
from unitax.tools.cli import main
from unitax.tools.data.show import confusion_picture

RNG = np.random.default_rng(7)


def opened(path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im.copy()


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


# ----- colorize / overlay -------------------------------------------------------------------


def test_colorize_uses_the_space_colours_and_black_for_ignore(tax):
    label = RNG.integers(0, 19, (5, 7)).astype(np.uint8)
    label[0, :3] = 255
    pic = tax.colorize(label, "cityscapes-19")
    assert pic.shape == (5, 7, 3) and pic.dtype == np.uint8
    cols = tax.colors("cityscapes-19")
    assert np.array_equal(pic[label != 255], cols[label[label != 255]])
    assert (pic[0, :3] == 0).all()
    assert (tax.colorize(label, "cityscapes-19", ignore_color=(255, 0, 255))[0, 0] == (255, 0, 255)).all()
    assert tax.colorize(label.astype(np.int64)[None], "cityscapes-19").shape == (1, 5, 7, 3)  # any shape, dtype


def test_the_mseg_universal_colours_are_the_voc_colour_map(tax):
    assert np.array_equal(voc_colormap(len(tax.universal_names)), tax.colors("universal"))


def test_spaces_without_colours_get_the_voc_colour_map(tax):
    assert tax.own_colors("camvid-11") is None  # it defines none; colors() gives those it is drawn with
    assert np.array_equal(tax.colors("camvid-11"), voc_colormap(11))
    label = np.arange(11, dtype=np.uint8)
    assert np.array_equal(tax.colorize(label, "camvid-11"), voc_colormap(11))
    assert len(np.unique(voc_colormap(460), axis=0)) == 460 and not (voc_colormap(460) == 0).all(1).any()


def test_colorize_uint16_space(tax):
    label = np.array([[0, 459, 65535]], dtype=np.uint16)
    pic = tax.colorize(label, "pascal-context-460")
    assert (pic[0, 2] == 0).all() and np.array_equal(pic[0, :2], voc_colormap(460)[[0, 459]])


@pytest.mark.parametrize("bad", [np.array([19]), np.array([-1]), np.array([254]), np.array([0.0])])
def test_colorize_refuses_ids_outside_the_space(tax, bad):
    with pytest.raises(unitax.LabelError):
        tax.colorize(bad, "cityscapes-19")
    with pytest.raises(unitax.UnknownDatasetError):
        tax.colorize(np.zeros(2, np.uint8), "cityscapes")
    with pytest.raises(ValueError, match="ignore_color"):
        tax.colorize(np.zeros(2, np.uint8), "universal", ignore_color=(0, 0, 300))


def test_overlay_blends_and_leaves_ignored_pixels(tax):
    label = RNG.integers(0, N_UNIVERSAL, (6, 8)).astype(np.uint8)
    label[:2] = 255
    image = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    col = tax.colorize(label, "universal")
    for alpha in (0.0, 0.3, 0.5, 1.0):
        out = tax.overlay(image, label, "universal", alpha=alpha)
        assert out.dtype == np.uint8 and out.shape == (6, 8, 3)
        want = np.floor((1 - alpha) * image.astype(np.float32) + alpha * col.astype(np.float32) + 0.5)
        assert np.array_equal(out[2:], want[2:].astype(np.uint8))
        assert np.array_equal(out[:2], image[:2])
    assert np.array_equal(tax.overlay(image, label, "universal", alpha=1)[2:], col[2:])
    grey = image[..., 0]
    assert np.array_equal(tax.overlay(grey, label, "universal", 0)[2:], np.repeat(grey[2:, :, None], 3, -1))
    rgba = np.concatenate([image, np.zeros((6, 8, 1), np.uint8)], -1)
    assert np.array_equal(tax.overlay(rgba, label, "universal"), tax.overlay(image, label, "universal"))
    assert np.array_equal(tax.overlay(image / 255.0, label, "universal"), tax.overlay(image, label, "universal"))


def test_overlay_errors(tax):
    label = np.zeros((4, 4), np.uint8)
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="4 x 5"):
        tax.overlay(np.zeros((4, 5, 3), np.uint8), label, "universal")
    with pytest.raises(ValueError, match="alpha"):
        tax.overlay(img, label, "universal", alpha=1.5)
    with pytest.raises(ValueError, match="0..1"):
        tax.overlay(img * 2.0 + 3, label, "universal")
    with pytest.raises(unitax.LabelError):
        tax.overlay(img, label + 200, "universal")
    with pytest.raises(unitax.LabelError, match="H x W"):
        tax.overlay(img, label[None], "universal")


def test_pictures_import_numpy_only():
    code = ("import sys, numpy as np, unitax; t = unitax.load(); "
            "t.overlay(np.zeros((2, 2, 3), np.uint8), t.colorize(np.zeros((2, 2), np.uint8), 'universal')[..., 0] * 0, "
            "'universal'); bad = [m for m in ('PIL', 'click', 'unitax.tools', 'unitax.compiler') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- unitax show --------------------------------------------------------------------------


def _scene(tmp_path):
    lab = np.full((60, 90), 10, np.uint8)  # cityscapes-19: sky, building, road, a car
    lab[25:] = 2
    lab[40:] = 0
    lab[30:50, 10:40] = 13
    lab[:3] = 255
    Image.fromarray(lab).save(tmp_path / "lab.png")
    Image.fromarray(RNG.integers(0, 256, (60, 90, 3)).astype(np.uint8)).save(tmp_path / "photo.png")
    return lab


def test_show_draws_label_and_legend(tax, tmp_path):
    lab = _scene(tmp_path)
    r = cli("show", str(tmp_path / "lab.png"), "--space", "cityscapes-19", "-o", str(tmp_path / "a.png"))
    assert r.exit_code == 0, r.output
    pic = np.asarray(opened(tmp_path / "a.png").convert("RGB"))
    k = 256 // 90 + 1  # enlarged (nearest) so the legend is not taller than the picture
    assert pic.shape[0] == max(60 * k, pic.shape[0]) and pic.shape[1] > 90 * k
    assert np.array_equal(pic[: 60 * k : k, : 90 * k : k], tax.colorize(lab, "cityscapes-19"))
    legend = pic[:, 90 * k:]
    for c in (0, 2, 10, 13):  # a swatch for each class present, none for a class absent
        assert (legend == tax.colors("cityscapes-19")[c]).all(-1).sum() > 100
    assert (legend == tax.colors("cityscapes-19")[11]).all(-1).sum() == 0
    r = cli("show", str(tmp_path / "lab.png"), "--space", "cityscapes-19", "--image", str(tmp_path / "photo.png"),
            "-o", str(tmp_path / "b.png"))
    assert r.exit_code == 0, r.output
    photo = np.asarray(opened(tmp_path / "photo.png"))
    over = np.asarray(opened(tmp_path / "b.png").convert("RGB"))[: 60 * k : k, : 90 * k : k]
    assert np.array_equal(over, tax.overlay(photo, lab, "cityscapes-19"))


def test_show_reads_palette_and_16_bit_labels(tmp_path):
    p = Image.fromarray(np.array([[0, 1], [2, 255]], np.uint8), "L").convert("P")
    p.save(tmp_path / "p.png")
    r = cli("show", str(tmp_path / "p.png"), "--space", "universal", "-o", str(tmp_path / "p-out.png"))
    assert r.exit_code == 0
    Image.fromarray(np.array([[0, 459], [65535, 3]], np.uint16)).save(tmp_path / "w.png")
    r = cli("show", str(tmp_path / "w.png"), "--space", "pascal-context-460", "-o", str(tmp_path / "w-out.png"))
    assert r.exit_code == 0, r.output


def test_show_errors(tmp_path):
    _scene(tmp_path)
    lab, photo, out = str(tmp_path / "lab.png"), str(tmp_path / "photo.png"), str(tmp_path / "o.png")
    r = cli("show", photo, "--space", "universal", "-o", out)
    assert r.exit_code == 2 and "mode RGB (RGB) holds no label ids" in r.output
    r = cli("show", lab, "--space", "camvid-11", "-o", out)  # sky is 10 in cityscapes-19, fine; 13 is not camvid-11
    assert r.exit_code == 2 and "outside camvid-11" in r.output
    r = cli("show", lab, "--space", "nope", "-o", out)
    assert r.exit_code == 2 and "unknown dataset" in r.output
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(tmp_path / "small.png")
    r = cli("show", lab, "--space", "cityscapes-19", "--image", str(tmp_path / "small.png"), "-o", out)
    assert r.exit_code == 2 and "5 x 5" in r.output
    r = cli("show", lab, "--space", "cityscapes-19", "-o", lab)
    assert r.exit_code == 2 and "is an input" in r.output
    assert cli("show", lab, "--space", "cityscapes-19", "-o", out).exit_code == 0
    r = cli("show", lab, "--space", "cityscapes-19", "-o", out)
    assert r.exit_code == 2 and "--force" in r.output
    assert cli("show", lab, "--space", "cityscapes-19", "-o", out, "--force").exit_code == 0
    (tmp_path / "junk.png").write_bytes(b"not a png")
    r = cli("show", str(tmp_path / "junk.png"), "--space", "universal", "-o", str(tmp_path / "j.png"))
    assert r.exit_code == 2 and "not an image" in r.output


# ----- confusion_picture --------------------------------------------------------------------


def test_confusion_picture_keeps_present_classes(tax, tmp_path):
    n = len(tax.universal_names)
    conf = np.zeros((n, n), np.int64)
    conf[[3, 50, 120], [3, 50, 120]] = [90, 10, 40]
    conf[3, 50] = 10
    small = opened(confusion_picture(conf, tax.universal_names, tmp_path / "c.png"))
    full = opened(confusion_picture(conf, tax.universal_names, tmp_path / "all.png", classes="all"))
    assert small.size[0] < 700 and full.size[0] > 2000  # 3 classes vs 194 (cells shrink, names stay legible)
    arr = np.asarray(small.convert("RGB"))
    blue = (arr[..., 2] > arr[..., 0] + 60).sum()
    assert blue > 0  # the diagonal is drawn
    conf10 = np.eye(10, dtype=np.int64) * 5
    assert opened(confusion_picture(conf10, [f"c{i}" for i in range(10)], tmp_path / "t.png")).size[0] < 1000


def test_confusion_picture_bytes_are_deterministic(tmp_path):
    conf = RNG.integers(0, 50, (12, 12))
    names = [f"class {i}" for i in range(12)]
    a = confusion_picture(conf, names, tmp_path / "a.png", title="t").read_bytes()
    assert a == confusion_picture(conf, names, tmp_path / "b.png", title="t").read_bytes()


@pytest.mark.parametrize("conf, names", [(np.zeros((3, 4)), "abc"), (np.ones((2, 2)), "abc"),
                                         (np.zeros((2, 2)), "ab"), (-np.ones((2, 2)), "ab")])
def test_confusion_picture_errors(tmp_path, conf, names):
    with pytest.raises(ValueError):
        confusion_picture(conf, list(names), tmp_path / "x.png")
