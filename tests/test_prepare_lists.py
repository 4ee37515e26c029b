"""MSeg's split lists shipped in tools/data/prepare/data/lists/ (tools/data/prepare/lists.py)."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from click.testing import CliRunner

from unitax.tools.cli import main
from unitax.tools.data.prepare import lists

SPECS = lists.default_specs()   # the shipped lists: tools/data/prepare/data/lists/


def test_shipped_lists_equal_the_reference(reference):
    """Every list of the reference, same lines in the same order, and nothing else."""
    shipped = lists.load_lists(SPECS)
    ref = lists.read_reference(reference)
    assert sorted(shipped) == sorted(ref) and len(ref) == 88
    for key, lines in ref.items():
        assert shipped[key] == lines, key
    assert sum(map(len, shipped.values())) == 338678
    for key in lists.KNOWN_MISSING:   # the reference snapshot has COCO-Panoptic val lists only
        assert key not in ref and (key[0], "val") in ref
    with pytest.raises(lists.ListsError, match=r"no list coco-panoptic-133/train \(missing from the MSeg reference\)"):
        lists.split_pairs("coco-panoptic-133", "train", SPECS)


def test_shipped_lists_are_small_and_match_their_index(tax):
    blob = SPECS / lists.LISTS_DIR / lists.BLOB
    assert blob.stat().st_size < 1_100_000
    shipped = lists.load_lists(SPECS)
    rows = [r.split("\t") for r in (SPECS / lists.LISTS_DIR / lists.INDEX).read_text().splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == sorted(shipped)
    for space, split, n, digest in rows:
        lines = shipped[(space, split)]
        assert int(n) == len(lines)
        assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == digest
    assert {space for space, _ in shipped} <= set(tax.datasets)   # every list belongs to a compiled space
    pairs = lists.split_pairs("ade20k-150", "val", SPECS)
    assert len(pairs) == 2000
    assert pairs[0] == ("images/validation/ADE_val_00000001.jpg",
                        "annotations_semseg150/validation/ADE_val_00000001.png")


def _fake_reference(root, mtime):
    for space, split, text in [("kitti-19", "train", "a.png b.png\nc.png d.png"),      # no final newline
                               ("camvid-11", "test", "x.png y.png\n"), ("wilddash-19", "test", "only.jpg\n")]:
        d = root / "dataset_lists" / space / "list"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{split}.txt.gz").write_bytes(gzip.compress(text.encode(), mtime=mtime))
    return root


def test_import_is_deterministic_and_round_trips(tmp_path):
    ref_a, ref_b = _fake_reference(tmp_path / "a", 0), _fake_reference(tmp_path / "b", 123456)
    lists.import_lists(ref_a, tmp_path / "specs_a")
    lists.import_lists(ref_b, tmp_path / "specs_b")
    for name in (lists.BLOB, lists.INDEX):
        assert (tmp_path / "specs_a/lists" / name).read_bytes() == (tmp_path / "specs_b/lists" / name).read_bytes()
    got = lists.load_lists(tmp_path / "specs_a")
    assert got == {("camvid-11", "test"): ["x.png y.png"], ("kitti-19", "train"): ["a.png b.png", "c.png d.png"],
                   ("wilddash-19", "test"): ["only.jpg"]}
    assert lists.split_pairs("wilddash-19", "test", tmp_path / "specs_a") == [("only.jpg", None)]
    assert sorted(p.name for p in (tmp_path / "specs_a/lists").iterdir()) == sorted([lists.BLOB, lists.INDEX])


def test_reading_again_sees_new_content_and_gives_lists_of_its_own(tmp_path):
    """load_lists keeps the last file it parsed (by the hash of its bytes): a changed file at the same
    path is read anew, and what a caller does to the lists it got never reaches the next call."""
    lists.import_lists(_fake_reference(tmp_path / "a", 0), tmp_path / "specs")
    first = lists.load_lists(tmp_path / "specs")
    first[("kitti-19", "train")].append("changed.png")
    del first[("camvid-11", "test")]
    again = lists.load_lists(tmp_path / "specs")
    assert again[("kitti-19", "train")] == ["a.png b.png", "c.png d.png"] and ("camvid-11", "test") in again
    ref = _fake_reference(tmp_path / "b", 0)
    (ref / "dataset_lists/kitti-19/list/train.txt.gz").write_bytes(gzip.compress(b"e.png f.png\n", mtime=0))
    lists.import_lists(ref, tmp_path / "specs")   # the same path, new content
    assert lists.load_lists(tmp_path / "specs")[("kitti-19", "train")] == ["e.png f.png"]


def test_import_lists_errors(tmp_path):
    with pytest.raises(lists.ListsError, match=r"no <space>/list/<split>.txt\(.gz\) files"):
        lists.read_reference(tmp_path)
    d = tmp_path / "dataset_lists/kitti-19/list"
    d.mkdir(parents=True)
    (d / "train.txt.gz").write_bytes(gzip.compress(b"a.png b.png c.png\n"))
    with pytest.raises(lists.ListsError, match=r"train.txt.gz:1: not '<image path>\[ <label path>\]'"):
        lists.read_reference(tmp_path)
    (d / "train.txt.gz").write_bytes(b"\xff\xfe not gzip, not UTF-8")  # what the bytes say counts, not the name
    with pytest.raises(lists.ListsError, match="not a UTF-8 list, plain or gzipped"):
        lists.read_reference(tmp_path)
    with pytest.raises(lists.ListsError, match="run `unitax import-lists REFERENCE`"):
        lists.load_lists(tmp_path / "nowhere")
    (tmp_path / "bad/lists").mkdir(parents=True)
    (tmp_path / "bad/lists" / lists.BLOB).write_bytes(b"garbage")
    with pytest.raises(lists.ListsError, match="corrupt lists file"):
        lists.load_lists(tmp_path / "bad")


def test_import_lists_command(tmp_path):
    ref = _fake_reference(tmp_path / "ref", 0)
    res = CliRunner().invoke(main, ["import-lists", str(ref), "--specs", str(tmp_path / "specs")])
    assert res.exit_code == 0, res.output
    assert "wrote 3 split lists to" in res.output
    res = CliRunner().invoke(main, ["import-lists", str(tmp_path / "specs"), "--specs", str(tmp_path / "x")])
    assert res.exit_code == 2 and "no <space>/list/<split>.txt(.gz) files" in res.output


def test_plain_text_lists_as_in_an_mseg_api_checkout(tmp_path):
    """mseg-api keeps `<split>.txt`; the reference gzips them. Both read the same; gzip is told by its
    bytes, not the name; one split given both ways is refused."""
    lines = ["images/a.jpg labels/a.png", "images/b.jpg labels/b.png"]
    plain, zipped, named = tmp_path / "plain", tmp_path / "zipped", tmp_path / "named"
    for root, name, data in ((plain, "train.txt", "\n".join(lines).encode() + b"\n"),
                             (zipped, "train.txt.gz", gzip.compress("\n".join(lines).encode(), mtime=0)),
                             (named, "train.txt", gzip.compress("\n".join(lines).encode(), mtime=0))):
        d = root / "dataset_lists" / "camvid-11" / "list"
        d.mkdir(parents=True)
        (d / name).write_bytes(data)
        assert lists.read_reference(root) == {("camvid-11", "train"): lines}
    (zipped / "dataset_lists" / "camvid-11" / "list" / "train.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(lists.ListsError, match="the camvid-11 train list is also"):
        lists.read_reference(zipped)


def test_lists_checked_before_are_passed_and_others_still_refused():
    """prepare's line check remembers lists that passed, by their content: a list whose lines joined
    equal a passed one's but split differently (a line holding the newline) is still refused."""
    from unitax.tools.data.prepare import engine
    from unitax.tools.data.prepare.errors import PrepareError

    good = {("kitti-19", "train"): ["a.png b.png", "c.png d.png"]}
    engine.check_lists(good, "MSeg's")
    engine.check_lists(good, "MSeg's")
    for bad in (["a.png b.png\nc.png d.png"], ["a.png b.png", "../c.png d.png"]):
        with pytest.raises(PrepareError, match=r"MSeg's kitti-19/train list, line \d: .*refusing to run"):
            engine.check_lists({("kitti-19", "train"): bad}, "MSeg's")
