"""Fuzz `unitax remap-dir` on random small trees for a bounded time, against a plain-numpy reference.

    .venv/bin/python tests/fuzz_remap_dir.py [--seconds 60] [--seed N]     (or `make fuzz`)

Each example draws (hypothesis) a tree of a few label files under odd names (spaces, tabs,
newlines, unicode, leading dashes) in nested folders, of mixed content: valid 8-bit ids, ids
outside cityscapes-34, RGB, RGBA, JPEG/TIFF named .png, empty and non-image files, FIFOs;
symlinked files and folders, symlink loops and broken links. It runs remap-dir
(cityscapes-34 -> cityscapes-19, in process), killing it after a random number of files,
mutates the tree (a source rewritten, an output replaced by raw ids), and reruns to the end.

The final DST must match a plain-numpy reference: each label file reachable from SRC (symlinked
folders followed once) that is a PNG of mode L with ids < 34 or 255 is ``lut[ids]`` in DST
(``lut`` from the compiled table); every other file found is listed in the failed-files TSV;
``written + skipped + failed == files`` on every run; SRC is byte-identical throughout.
Failures are shrunk by hypothesis, printed, and the script exits 1.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import session  # noqa: E402
from support.hostile import snapshot  # noqa: E402

session.activate()  # the tests' package: the frozen MSeg build, not the user's generated/
import unitax  # noqa: E402
from unitax.tools.data import batch  # noqa: E402
from unitax.tools.data import remap_dir as rd  # noqa: E402

TAX = unitax.load()
LUT = TAX.remap_lut("cityscapes-34", "cityscapes-19")
NAME = st.text(alphabet=st.sampled_from(list("abcXYZ019 _-.\té\n")), min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..") and "/" not in s)
KINDS = ("ok", "ok", "ok", "bad-ids", "rgb", "rgba", "jpeg", "tiff", "empty", "text", "fifo", "link-file",
         "broken-link")


def _bytes(kind: str, seed: int) -> bytes | None:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 34, (5, 7), dtype=np.uint8)
    buf = io.BytesIO()
    if kind == "ok":
        ids[0, 0] = 255
        Image.fromarray(ids).save(buf, "PNG")
    elif kind == "bad-ids":
        ids[1, 1] = 200
        Image.fromarray(ids).save(buf, "PNG")
    elif kind == "rgb":
        Image.fromarray(np.stack([ids] * 3, -1)).save(buf, "PNG")
    elif kind == "rgba":
        Image.fromarray(np.stack([ids] * 4, -1)).save(buf, "PNG")
    elif kind == "jpeg":
        Image.fromarray(ids).save(buf, "JPEG")
    elif kind == "tiff":
        Image.fromarray(ids.astype(np.int32) + 65536).save(buf, "TIFF")
    elif kind == "empty":
        return b""
    elif kind == "text":
        return b"not an image"
    else:
        return None
    return buf.getvalue()


ENTRY = st.tuples(st.lists(NAME, max_size=2), NAME, st.sampled_from(KINDS), st.integers(0, 1000))


@st.composite
def trees(draw):
    entries = draw(st.lists(ENTRY, min_size=1, max_size=8))
    dir_links = draw(st.lists(st.tuples(NAME, st.sampled_from(["up", "sibling", "outside"])), max_size=2))
    kill_after = draw(st.integers(0, 6))
    mutate = draw(st.sampled_from(["none", "rewrite-source", "replace-output"]))
    return entries, dir_links, kill_after, mutate


def build(root: Path, entries, dir_links) -> None:
    src = root / "src"
    src.mkdir()
    (root / "outside" / "o").mkdir(parents=True)
    Image.fromarray(np.full((3, 3), 7, np.uint8)).save(root / "outside" / "o" / "x.png")
    for folders, name, kind, n in entries:
        d = src.joinpath(*folders)
        try:
            d.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            continue
        p = d / f"{name}.png"
        if p.exists() or p.is_symlink():
            continue
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "link-file":
            os.symlink(root / "outside" / "o" / "x.png", p)
        elif kind == "broken-link":
            os.symlink("nothing-here.png", p)
        else:
            p.write_bytes(_bytes(kind, n))
    for name, where in dir_links:
        p = src / f"L{name}"
        if p.exists() or p.is_symlink():
            continue
        os.symlink({"up": ".", "sibling": str(src), "outside": str(root / "outside")}[where], p)


def reference(src: Path) -> tuple[dict[str, np.ndarray], set[str]]:
    """Plain numpy: rel -> expected output, and rels that must fail; symlinked folders once each."""
    want: dict[str, np.ndarray] = {}
    bad: set[str] = set()
    seen = set()

    def walk(d: Path, rel: str) -> None:
        st_ = os.stat(d)
        if (st_.st_dev, st_.st_ino) in seen:
            bad.add(rel)
            return
        seen.add((st_.st_dev, st_.st_ino))
        for name in sorted(os.listdir(d)):
            p = d / name
            r = f"{rel}/{name}" if rel else name
            if p.is_dir():
                walk(p, r)
                continue
            if not name.endswith(".png"):
                continue
            if not p.is_file():  # FIFOs, broken links
                bad.add(r)
                continue
            try:
                with Image.open(p) as im:
                    ok = im.format == "PNG" and im.mode == "L"
                    ids = np.array(im) if ok else None
            except Exception:
                ok, ids = False, None
            if ok and ((ids < 34) | (ids == 255)).all():
                want[r] = LUT[ids]
            else:
                bad.add(r)

    walk(src, "")
    return want, bad


class Kill(Exception):
    pass


def run_once(src: Path, dst: Path, kill_after: int | None) -> batch.Summary:
    plan = rd.plan(TAX, src, dst, "cityscapes-34", "cityscapes-19")
    count = 0

    def on_batch(outcomes):
        nonlocal count
        count += len(outcomes)
        if kill_after is not None and count >= kill_after:
            raise KeyboardInterrupt

    s = rd.run(plan, workers=1, batch_size=1, on_batch=on_batch)
    assert s.written + s.skipped + len(s.failed) <= s.files
    if not s.interrupted:
        assert s.written + s.skipped + len(s.failed) == s.files, s
    return s


def check(tree) -> None:
    entries, dir_links, kill_after, mutate = tree
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, entries, dir_links)
        src, dst = root / "src", root / "dst"
        before = snapshot(src)
        run_once(src, dst, kill_after or None)
        if mutate == "rewrite-source":
            for p in sorted(src.rglob("*.png")):
                if p.is_file() and not p.is_symlink() and p.stat().st_size > 0:
                    try:
                        with Image.open(p) as im:
                            if im.format == "PNG" and im.mode == "L":
                                a = np.array(im)
                                Image.fromarray(np.where(a == 255, a, (a + 1) % 34).astype(np.uint8)).save(p)
                                break
                    except Exception:
                        continue
            before = snapshot(src)
        elif mutate == "replace-output":
            outs = list(batch.output_files(dst))
            if outs:  # raw ids where an output was (a cp -r over part of DST): must be redone
                with Image.open(outs[0]) as im:
                    a = np.array(im)
                Image.fromarray(np.full_like(a, 33)).save(outs[0], format="PNG")
        s = run_once(src, dst, None)
        assert snapshot(src) == before, "SRC changed"
        want, bad = reference(src)
        failed = {o.rel for o in s.failed}
        assert bad <= failed, f"not reported as failed: {sorted(bad - failed)}"
        for rel, arr in want.items():
            with Image.open(dst / rel) as im:
                got = np.array(im)
            assert got.shape == arr.shape and (got == arr).all(), f"{rel}: wrong output"
        if failed:
            assert {r for r, _ in batch.read_failures(dst)} == failed
        assert s.written + s.skipped == len(want), (s, len(want))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    deadline = time.monotonic() + args.seconds
    n = 0

    def prop_for(round_: int):
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(trees())
        def prop(tree):
            nonlocal n
            if time.monotonic() > deadline:
                return
            n += 1
            check(tree)

        return prop if args.seed is None else seed(args.seed * 100003 + round_)(prop)

    try:
        round_ = 0
        while time.monotonic() < deadline:
            prop_for(round_)()
            round_ += 1
    except Exception:
        traceback.print_exc()
        print(f"fuzz_remap_dir: FAILED after {n} example(s)", file=sys.stderr)
        return 1
    print(f"fuzz_remap_dir: {n} random tree(s), kills and reruns, all matched the numpy reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
