"""Fuzz the native readers of `unitax prepare` and `new-dataset` for a bounded time: nothing but the
documented error may escape, and what is accepted holds what the reader promises.

    .venv/bin/python tests/fuzz_native.py [--seconds 60] [--seed N]     (or `make fuzz`)

Targets (hypothesis draws each input from values that are almost right: ``..`` and absolute
paths, folders, control and line-separating characters, undecodable bytes, spaces, floats, bools,
strings and huge integers where integers belong, coordinates far outside the image):

- **COCO panoptic JSON** (``coco_panoptic.load_annotations`` on the file's bytes, then ``decode``
  of each entry on a small panoptic PNG): only ``NativeFormatError``; an accepted ``file_name`` is
  a plain file name given once, an accepted class map holds the listed categories or 255.
- **polygon JSON** (``polygons.read`` on the file's bytes): only ``NativeFormatError``; an
  accepted file gives maps of its size, segment ids that are its objects' (or -1).
- **split lists** (``lists.read_reference`` of an mseg-api ``dataset_lists`` folder; the lines
  through ``engine.check_lists`` too): only ``ListsError`` (``PrepareError``); every accepted line
  is two plain relative paths (tools/datapath.py), and the lists read back are the lines split on
  ``\\n`` alone.
- **names and colours files** (``onboard.read_names`` / ``read_colors``): only ``OnboardError``; an
  accepted name is one line of text (no control or line-separating character), an accepted colour
  three ASCII numbers 0-255, one a ``\\n``-line.

Failures are shrunk by hypothesis, printed, and the script exits 1.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import fuzzing  # noqa: E402

import unitax  # noqa: E402
from unitax.fileops.datapath import bad_char, relpath  # noqa: E402
from unitax.tools.authoring.onboard import OnboardError, read_colors, read_names  # noqa: E402
from unitax.tools.data.prepare import NativeFormatError, engine, lists  # noqa: E402
from unitax.tools.data.prepare.errors import PrepareError  # noqa: E402
from unitax.tools.data.prepare.readers import coco_panoptic, polygons  # noqa: E402

TAX = unitax.load()
IDD = list(TAX.names("idd-40"))
COCO = list(TAX.names("coco-panoptic-201"))

# pieces of names and paths that are almost right
PIECE = st.sampled_from(["a", "img", "000000000009.png", "x.jpg", "..", ".", "", "/", "//", " ", "\t", "\n",
                         "\r", "\x00", "\x1b", "\x85", "\u2028", "\u2029", "\udcff", "é", "\u200b", "\\"])
TEXT = st.lists(PIECE, max_size=6).map("".join)
NUMBER = st.one_of(st.integers(-5, 300), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=True),
                   st.booleans(), st.none(), st.sampled_from(["1", "4.7", "", "0x10"]))
JUNK = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
                    max_leaves=8)


def _encode(doc: Any) -> bytes:
    """JSON bytes of ``doc`` (lone surrogates as JSON escapes); NaN and infinities as Python writes them."""
    return json.dumps(doc).encode("utf-8")


# ----- COCO panoptic -------------------------------------------------------------------------------

SEGMENT = st.fixed_dictionaries({}, optional={"id": NUMBER, "category_id": NUMBER, "iscrowd": NUMBER})
ANNOTATION = st.fixed_dictionaries({}, optional={"file_name": st.one_of(TEXT, NUMBER),
                                                 "segments_info": st.one_of(st.lists(SEGMENT, max_size=3), JUNK)})
COCO_DOC = st.one_of(st.fixed_dictionaries({"annotations": st.lists(ANNOTATION, max_size=4)}), JUNK)


def check_coco(doc: Any, raw: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "panoptic_val2017.json"
        p.write_bytes(raw if raw is not None else _encode(doc))
        try:
            anns = coco_panoptic.load_annotations(p)
        except NativeFormatError:
            return
    for name, infos in anns.items():
        assert relpath(name) == name and "/" not in name, name
        rgb = np.zeros((3, 4, 3), np.uint8)
        rgb[0, :, 0] = 1
        rgb[1, :, 0] = 2
        try:
            cls, seg = coco_panoptic.decode(rgb, infos, COCO)
        except NativeFormatError:
            continue
        cats = {int(i["category_id"]) for i in infos}
        assert cls.dtype == np.uint8 and seg.shape == (3, 4)
        assert set(np.unique(cls).tolist()) <= cats | {255}
        for i in infos:
            assert type(i["id"]) is int and type(i["category_id"]) is int


# ----- polygons ------------------------------------------------------------------------------------

POINT = st.one_of(st.lists(st.one_of(st.integers(-50, 50), st.floats(-1e12, 1e12), NUMBER), min_size=2,
                           max_size=2), JUNK)
OBJECT = st.fixed_dictionaries(
    {"label": st.one_of(st.sampled_from(["sky", "road", "vehicle fallback", "dragon", "cargroup"]), NUMBER)},
    optional={"polygon": st.one_of(st.lists(POINT, max_size=5), JUNK), "id": NUMBER, "deleted": NUMBER})
POLY_DOC = st.one_of(
    st.fixed_dictionaries({"imgHeight": st.one_of(st.integers(1, 12), NUMBER),
                           "imgWidth": st.one_of(st.integers(1, 12), NUMBER),
                           "objects": st.one_of(st.lists(OBJECT, max_size=4), JUNK)}),
    JUNK)


def check_polygons(doc: Any, raw: bytes | None) -> None:
    data = raw if raw is not None else _encode(doc)
    try:
        cls, seg = polygons.read("fuzz_polygons.json", IDD, "idd-40", data=data)
    except NativeFormatError:
        return
    assert isinstance(doc, dict)
    h, w = doc["imgHeight"], doc["imgWidth"]
    assert type(h) is int and type(w) is int and cls.shape == seg.shape == (h, w)
    ids = {o.get("id", k) for k, o in enumerate(doc["objects"])}
    assert set(np.unique(seg).tolist()) <= ids | {polygons.NO_SEGMENT}
    assert all(type(i) is int and 0 <= i < 2 ** 31 for i in ids)


# ----- split lists ---------------------------------------------------------------------------------

LINE = st.one_of(st.tuples(TEXT, TEXT).map(" ".join), TEXT, st.sampled_from(["img/a.jpg lab/a.png"]))


def check_lists(lines: list[str], sep: str) -> None:
    text = sep.join(lines) + sep
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "dataset_lists" / "kitti-19" / "list" / "train.txt"
        f.parent.mkdir(parents=True)
        f.write_bytes(text.encode("utf-8", "surrogateescape"))
        try:
            got = lists.read_reference(tmp)
        except lists.ListsError:
            return
    read = got[("kitti-19", "train")]
    want = text.replace("\r\n", "\n").split("\n")[:-1]
    assert read == want, (read, want)
    for line in read:
        image, label = lists.check_line(line)
        assert image == line.split(" ")[0]
        assert ".." not in image.split("/") and not image.startswith("/") and not bad_char(image)
        assert label is None or (".." not in label.split("/") and not label.startswith("/") and not bad_char(label))
    try:
        engine.check_lists({("kitti-19", "train"): read}, "fuzzed")
    except PrepareError as e:
        raise AssertionError(f"a list read_reference accepted is refused by prepare: {e}") from None


# ----- names and colours files ---------------------------------------------------------------------

NAME = st.lists(st.sampled_from(["road", "car", " ", "\t", "\r", "\x00", "\x85", "\u2028", "\u2029", "\x0b",
                                 "\x0c", "\x1c", "é", "Road"]), max_size=4).map("".join)
COLOUR = st.one_of(st.lists(st.sampled_from(["0", "10", "255", "256", "\u0661\u0660", "\u00b2", "1e2", "-1",
                                             "\uff11"]), min_size=1, max_size=4)
                   .flatmap(lambda ps: st.sampled_from([" ", ",", "\t", "; "]).map(lambda sep: sep.join(ps))),
                   NAME)


def check_names(names: list[str], colours: list[str], raw: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        nf, cf = Path(tmp) / "names.txt", Path(tmp) / "colors.txt"
        nf.write_bytes(raw if raw is not None else "\n".join(names).encode("utf-8"))
        cf.write_bytes("\n".join(colours).encode("utf-8"))
        try:
            got = read_names(nf)
        except OnboardError:
            return
        assert got and all(n and n == n.strip() and not bad_char(n) for n in got), got
        if raw is None:
            kept = list(names)
            while kept and not kept[-1].strip():
                kept.pop()
            assert len(got) == len(kept), (got, kept)
        try:
            cols = read_colors(cf, len(got))
        except OnboardError:
            return
    assert len(cols) == len(got) and all(0 <= v <= 255 and type(v) is int for c in cols for v in c)


def property_tests(examples: int, derandomize: bool = False) -> list:
    """The hypothesis tests (COCO, polygons, lists, names/colours), each running ``examples`` inputs."""
    conf = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None,
                    max_examples=examples, derandomize=derandomize, print_blob=True)
    raw = st.one_of(st.none(), st.none(), st.binary(max_size=40))

    @conf
    @given(doc=COCO_DOC, raw=raw)
    def fuzz_coco(doc: Any, raw: bytes | None) -> None:
        check_coco(doc, raw)

    @conf
    @given(doc=POLY_DOC, raw=raw)
    def fuzz_polygons(doc: Any, raw: bytes | None) -> None:
        check_polygons(doc, raw)

    @conf
    @given(lines=st.lists(LINE, max_size=4), sep=st.sampled_from(["\n", "\r\n"]))
    def fuzz_lists(lines: list[str], sep: str) -> None:
        check_lists(lines, sep)

    @conf
    @given(names=st.lists(NAME, max_size=4), colours=st.lists(COLOUR, max_size=4), raw=raw)
    def fuzz_names(names: list[str], colours: list[str], raw: bytes | None) -> None:
        check_names(names, colours, raw)

    return [fuzz_coco, fuzz_polygons, fuzz_lists, fuzz_names]


def run(examples: int, seed: int | None = None) -> None:
    from hypothesis import seed as hseed

    for f in property_tests(examples):
        (hseed(seed)(f) if seed is not None else f)()


def main() -> int:
    return fuzzing.main("fuzz_native", __doc__ or "", run, 400)

if __name__ == "__main__":
    sys.exit(main())
