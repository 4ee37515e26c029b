"""Hostile inputs for `unitax remap-dir` and `unitax evaluate`: odd trees, odd files, odd DSTs."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from support.hostile import Case

CS34, CS19 = "cityscapes-34", "cityscapes-19"
SUN = "sunrgbd-37-relabeled"


def _ids(seed: int = 0, shape=(6, 8), high: int = 34) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, size=shape, dtype=np.uint8)


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="PNG")


def _save(path: Path, im: Image.Image, fmt: str, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format=fmt, **kw)


def _src(tmp: Path, n: int = 2) -> None:
    for i in range(n):
        _png(tmp / "src" / "train" / f"ok{i}.png", _ids(i))


def _remap(*extra: str, src: str = "src", dst: str = "dst"):
    return lambda t: ["remap-dir", str(t / src), str(t / dst), "--from", CS34, "--to", CS19, "-j", "1",
                      "--no-progress", *extra]


def _run_now(t: Path, *extra: str, src: str = "src", dst: str = "dst") -> None:
    from click.testing import CliRunner

    from unitax.tools.cli import main

    r = CliRunner().invoke(main, _remap(*extra, src=src, dst=dst)(t))
    assert r.exit_code == 0, r.output


def _bad_file(name: str, make) -> callable:
    def setup(t: Path) -> None:
        _src(t)
        make(t / "src" / "train" / name)
    return setup


def _jpeg(p: Path) -> None:
    _save(p, Image.fromarray(_ids(3)), "JPEG", quality=90)


def _tiff32(p: Path) -> None:
    _save(p, Image.fromarray(np.full((4, 4), 65539, np.int32)), "TIFF")


def _gif(p: Path) -> None:
    _save(p, Image.fromarray(_ids(4)).convert("P"), "GIF")


def _bmp(p: Path) -> None:
    _save(p, Image.fromarray(_ids(5)), "BMP")


def _webp(p: Path) -> None:
    _save(p, Image.fromarray(_ids(6)).convert("RGB"), "WEBP", lossless=True)


def _onebit(p: Path) -> None:
    _save(p, Image.fromarray(_ids(7) > 10), "PNG")


def _la(p: Path) -> None:
    _save(p, Image.fromarray(np.stack([_ids(8), np.full((6, 8), 255, np.uint8)], -1), "LA"), "PNG")


def _rgba(p: Path) -> None:
    _save(p, Image.fromarray(np.zeros((6, 8, 4), np.uint8)), "PNG")


def _truncated(p: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(9).integers(0, 34, (64, 64), dtype=np.uint8)).save(buf, "PNG")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _empty(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")


def _text(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("label: road\n")


def _fifo(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(p)


def _apng(p: Path) -> None:
    frames = [Image.fromarray(_ids(i)) for i in range(2)]
    p.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(p, format="PNG", save_all=True, append_images=frames[1:])


def _root() -> str | None:
    return "running as root: permissions do not bind" if os.geteuid() == 0 else None


def _no_webp() -> str | None:
    from PIL import features

    return None if features.check("webp") else "Pillow built without WebP"


BAD_FILES = [  # (name, maker, what the message says, skip_if)
    ("jpeg-named-png", _jpeg, "is a JPEG file, not a lossless label image (PNG) despite its .png name", None),
    ("tiff32-named-png", _tiff32, "is a TIFF file named .png", None),
    ("gif-named-png", _gif, "is a GIF file, not a lossless label image", None),
    ("bmp-named-png", _bmp, "is a BMP file named .png", None),
    ("webp-named-png", _webp, "is a WEBP file, not a lossless label image", _no_webp),
    ("one-bit", _onebit, "PNG image of mode 1 (1-bit (black/white)) holds no label ids", None),
    ("grey-alpha", _la, "PNG image of mode LA (grey + alpha (LA)) holds no label ids", None),
    ("rgba", _rgba, "PNG image of mode RGBA (RGBA) holds no label ids", None),
    ("truncated", _truncated, "truncated image", None),
    ("zero-size", _empty, "empty file (0 bytes), not an image", None),
    ("text-named-png", _text, "not an image (no known image header)", None),
    ("fifo-named-png", _fifo, "is a FIFO, not an image file; not read", None),
    ("animated-png", _apng, "has 2 frames; a label image has one", None),
]

CASES: list[Case] = []

# ----- file content: remap-dir refuses the one file, names it, writes the rest ------------------
for name, make, msg, skip in BAD_FILES:
    CASES.append(Case(
        name=f"remapdir/file-{name}", klass="file-content" if name != "fifo-named-png" else "special-file",
        setup=_bad_file("bad.png", make), argv=_remap(), exit_code=1,
        expect=("{tmp}/src/train/bad.png: " + msg, "3 file(s) in, 2 written, 0 skipped (done before), 1 failed"),
        outputs=("dst",), skip_if=skip))

# a 32-bit TIFF named .tif (taken with --pattern): the format matches its name, the depth does not
CASES.append(Case(
    name="remapdir/file-tiff32-as-tif", klass="file-content", setup=_bad_file("bad.tif", _tiff32),
    argv=_remap("--pattern", "*.tif"), exit_code=1,
    expect=("{tmp}/src/train/bad.tif: TIFF image of mode I (32-bit integer) holds no label ids",),
    outputs=("dst",)))


# ----- file content: evaluate ------------------------------------------------------------------
def _eval_setup(which: str, make) -> callable:
    def setup(t: Path) -> None:
        for d in ("pred", "gt"):
            _png(t / d / "a.png", _ids(1, high=19))
        make(t / which / "a.png")
    return setup


def _evaluate(t: Path) -> list[str]:
    return ["evaluate", str(t / "pred"), str(t / "gt"), "-d", CS19]


for name, make, msg, skip in BAD_FILES:
    if name in ("fifo-named-png", "grey-alpha", "gif-named-png"):
        continue
    which = "gt" if name in ("jpeg-named-png", "truncated", "one-bit") else "pred"
    CASES.append(Case(
        name=f"evaluate/file-{name}", klass="file-content", setup=_eval_setup(which, make), argv=_evaluate,
        exit_code=2, expect=("{tmp}/" + which + "/a.png: " + msg,), skip_if=skip))  # unreadable input: exit 2

# ----- DST safety ------------------------------------------------------------------------------


def _dst_file(t: Path) -> None:
    _src(t)
    (t / "dst").write_text("my notes\n")


def _dst_loop(t: Path) -> None:
    _src(t)
    os.symlink("dst2", t / "dst")
    os.symlink("dst", t / "dst2")


def _dst_dangling(t: Path) -> None:
    _src(t)
    os.symlink("nowhere", t / "dst")


def _dst_copy(t: Path) -> None:  # cp -r src dst; unitax remap-dir src dst: raw ids must not be called done
    _src(t)
    shutil.copytree(t / "src", t / "dst")


def _dst_foreign(t: Path) -> None:
    _src(t)
    (t / "dst").mkdir()
    (t / "dst" / "thesis.tex").write_text("\\documentclass{article}\n")


def _dst_unwritable(t: Path) -> None:
    _src(t)
    (t / "dst").mkdir()
    os.chmod(t / "dst", 0o555)


CASES += [
    Case(name="remapdir/dst-is-a-file", klass="data-loss", setup=_dst_file, argv=_remap(), exit_code=2,
         expect=("{tmp}/dst exists and is not a folder",)),
    Case(name="remapdir/dst-symlink-loop", klass="symlink-tree", setup=_dst_loop, argv=_remap(), exit_code=2,
         expect=("{tmp}/dst is a symlink loop",)),
    Case(name="remapdir/dst-dangling-symlink", klass="symlink-tree", setup=_dst_dangling, argv=_remap(),
         exit_code=2, expect=("{tmp}/dst is a dangling symlink",)),
    Case(name="remapdir/dst-cp-r-of-src", klass="remap-dir-done", setup=_dst_copy, argv=_remap(), exit_code=2,
         expect=("{tmp}/dst is not empty and holds no remap-dir job",)),
    Case(name="remapdir/dst-cp-r-of-src-overwrite", klass="data-loss", setup=_dst_copy, argv=_remap("--overwrite"),
         exit_code=2, expect=("{tmp}/dst is not empty and holds no remap-dir job",)),
    Case(name="remapdir/dst-foreign-folder", klass="data-loss", setup=_dst_foreign, argv=_remap(), exit_code=2,
         expect=("{tmp}/dst is not empty and holds no remap-dir job",)),
    Case(name="remapdir/dst-unwritable", klass="message", setup=_dst_unwritable, argv=_remap(), exit_code=2,
         expect=("{tmp}/dst is not writable",), skip_if=_root),
]

# ----- done means "this job wrote it from this source" ------------------------------------------


def _other_src_same_names(t: Path) -> None:
    _src(t)
    _run_now(t)
    for i in range(2):
        _png(t / "src2" / "train" / f"ok{i}.png", _ids(100 + i))


def _content_changed_same_stat(t: Path) -> None:
    _src(t)
    _run_now(t)
    p = t / "src" / "train" / "ok0.png"
    st = os.stat(p)
    data = bytearray(p.read_bytes())
    _png(p, _ids(0) ^ 1)  # other ids, then the same size and mtime as before
    new = p.read_bytes()
    if len(new) != len(data):
        p.write_bytes(new[: len(data)].ljust(len(data), b"\0"))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))


def _output_replaced(t: Path) -> None:
    _src(t)
    _run_now(t)
    shutil.copy(t / "src" / "train" / "ok1.png", t / "dst" / "train" / "ok1.png")  # raw ids where an output was


def _resume_all_done(t: Path) -> None:
    _src(t)
    _run_now(t)


def _ledger_torn(t: Path) -> None:
    _src(t)
    _run_now(t)
    with open(t / "dst" / ".unitax-remap-ledger.jsonl", "a") as f:
        f.write('{"job": "x", "rel": "tr')  # a kill mid-line


CASES += [
    Case(name="remapdir/done-other-src-same-names", klass="remap-dir-done", setup=_other_src_same_names,
         argv=_remap(src="src2"), exit_code=0, expect=("2 written, 0 skipped (done before)",), outputs=("dst",)),
    Case(name="remapdir/done-source-rewritten-same-size-mtime", klass="remap-dir-done",
         setup=_content_changed_same_stat, argv=_remap(), exit_code=0,
         expect=("1 written, 1 skipped (done before), 0 failed",), outputs=("dst",)),
    Case(name="remapdir/done-output-replaced", klass="remap-dir-done", setup=_output_replaced, argv=_remap(),
         exit_code=0, expect=("1 written, 1 skipped (done before)",), outputs=("dst",)),
    Case(name="remapdir/done-resume-skips", klass="remap-dir-done", setup=_resume_all_done, argv=_remap(),
         exit_code=0, expect=("0 written, 2 skipped (done before)",), outputs=("dst",)),
    Case(name="remapdir/done-torn-ledger-line", klass="remap-dir-done", setup=_ledger_torn, argv=_remap(),
         exit_code=0, expect=("0 written, 2 skipped (done before)",), outputs=("dst",)),
    Case(name="remapdir/done-other-options", klass="remap-dir-done", setup=_resume_all_done,
         argv=_remap("--output", "rgb"), exit_code=2, expect=("{tmp}/dst holds the output of a different job",),
         outputs=("dst",)),
]

# ----- symlinks and odd names in SRC -----------------------------------------------------------


def _linked_subfolder(t: Path) -> None:
    _png(t / "elsewhere" / "city" / "a.png", _ids(1))
    _src(t, 1)
    os.symlink(t / "elsewhere" / "city", t / "src" / "city")


def _src_loop(t: Path) -> None:
    _src(t, 1)
    os.symlink("..", t / "src" / "train" / "up")


def _broken_link(t: Path) -> None:
    _src(t, 1)
    os.symlink("missing.png", t / "src" / "train" / "gone.png")


def _odd_names(t: Path) -> None:
    _src(t, 1)
    _text(t / "src" / "train" / "tab\there.png")
    _text(t / "src" / "train" / "new\nline.png")


def _unreadable_subfolder(t: Path) -> None:
    _src(t, 1)
    _png(t / "src" / "locked" / "a.png", _ids(2))
    os.chmod(t / "src" / "locked", 0)


CASES += [
    Case(name="remapdir/symlinked-subfolder-followed", klass="symlink-tree", setup=_linked_subfolder,
         argv=_remap(), exit_code=0, expect=("2 file(s) in, 2 written",), outputs=("dst",)),
    Case(name="remapdir/symlink-loop-in-src", klass="symlink-tree", setup=_src_loop, argv=_remap(), exit_code=1,
         expect=("{tmp}/src/train/up: symlinked folder leads to ., walked already", "1 written", "1 failed"),
         outputs=("dst",)),
    Case(name="remapdir/broken-symlink-png", klass="symlink-tree", setup=_broken_link, argv=_remap(), exit_code=1,
         expect=("{tmp}/src/train/gone.png: broken symlink", "2 file(s) in, 1 written"), outputs=("dst",)),
    Case(name="remapdir/tab-and-newline-names", klass="message", setup=_odd_names, argv=_remap(), exit_code=1,
         expect=("tab\there.png: not an image", "new\\nline.png: not an image", "2 failed"), outputs=("dst",)),
    Case(name="remapdir/failed-tsv-round-trips", klass="message", setup=_odd_names,
         call=lambda t: _run_and_read_failures(t),
         check=lambda rows: sorted(r[0] for r in rows) == ["train/new\nline.png", "train/tab\there.png"],
         outputs=("dst",)),
    Case(name="remapdir/unreadable-subfolder", klass="message", setup=_unreadable_subfolder, argv=_remap(),
         exit_code=1, expect=("locked", "cannot"), outputs=("dst",), skip_if=_root),
]


def _run_and_read_failures(t: Path) -> list[tuple[str, str]]:
    from click.testing import CliRunner

    from unitax.tools.cli import main
    from unitax.tools.data.batch import read_failures

    CliRunner().invoke(main, _remap()(t))
    return read_failures(t / "dst")


# ----- relabel records on MSeg's SUN RGB-D layout ----------------------------------------------


def _sun_layout(t: Path, splits=(("train", "train"), ("test", "val"))) -> None:
    import unitax

    rl = unitax.load().relabel(SUN)
    for folder, split in splits:
        h = rl.segments("img-000152", split)
        lab = np.full((2 * len(h.segment_ids), 4), 4, np.uint8)
        _png(t / "semseg-label37" / folder / "00000152.png", lab)
        _png(t / "seg" / folder / "00000152.png",
             np.repeat(h.segment_ids.astype(np.uint8), 2)[:, None].repeat(4, axis=1))


def _sun(*extra: str):
    return lambda t: ["remap-dir", str(t / "semseg-label37"), str(t / "dst"), "--from", "sunrgbd-37", "--to", SUN,
                      "--segments", str(t / "seg"), "-j", "1", "--no-progress", *extra]


CASES += [
    Case(name="remapdir/sunrgbd-records-unmatched", klass="relabel-match", setup=_sun_layout, argv=_sun(),
         exit_code=1, expect=("records of 3947 image(s) matched no file", "of 2 image(s) matched files",
                              "2 written"), outputs=("dst",)),
    Case(name="remapdir/sunrgbd-records-partial", klass="relabel-match", setup=_sun_layout, argv=_sun("--partial"),
         exit_code=0, expect=("(a subset was asked for)", "2 written"), outputs=("dst",)),
    Case(name="remapdir/sunrgbd-records-split-val", klass="relabel-match",
         setup=lambda t: _sun_layout(t, (("test", "val"),)),
         argv=_sun("--split", "val"), exit_code=0,
         expect=("of 1 image(s) matched files", "(a subset was asked for)"), outputs=("dst",)),
]


# ----- evaluate on odd trees -------------------------------------------------------------------


def _eval_tree(t: Path) -> None:
    for d in ("pred", "gt"):
        _png(t / d / "a.png", _ids(1, high=19))


def _eval_gt_loop(t: Path) -> None:
    _eval_tree(t)
    os.symlink(".", t / "gt" / "up")


def _eval_gt_fifo(t: Path) -> None:
    _eval_tree(t)
    os.mkfifo(t / "gt" / "b.png")
    _png(t / "pred" / "b.png", _ids(2, high=19))


def _eval_gt_linked(t: Path) -> None:
    _eval_tree(t)
    _png(t / "more" / "c.png", _ids(3, high=19))
    _png(t / "pred" / "city" / "c.png", _ids(3, high=19))
    os.symlink(t / "more", t / "gt" / "city")


CASES += [
    Case(name="evaluate/gt-symlink-loop", klass="symlink-tree", setup=_eval_gt_loop, argv=_evaluate, exit_code=2,
         expect=("{tmp}/gt/up: symlinked folder leads to ., walked already",)),
    Case(name="evaluate/gt-fifo", klass="special-file", setup=_eval_gt_fifo, argv=_evaluate, exit_code=2,
         expect=("{tmp}/gt/b.png: is a FIFO, not an image file; not read",)),
    Case(name="evaluate/gt-symlinked-subfolder-followed", klass="symlink-tree", setup=_eval_gt_linked,
         argv=_evaluate, exit_code=0, expect=("cityscapes-19: 2 image(s)",)),
]
