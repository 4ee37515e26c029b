"""Relabel records: the import of the MSeg reference, validation with exact locations, the
compiled tables (checked against an independent reading of the reference), and the runtime."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from support.examples import examples
from support.paths import GENERATED, SPECS

import unitax
from unitax.compiler import build, load_relabel
from unitax.compiler.emit import relabel as emit_relabel
from unitax.relabel import relabel_segments
from unitax.tools.authoring import relabel_import
from unitax.tools.cli import main

# The reference's dataset names and the declared datasets their records are applied to (the
# test's own statement of mseg-api's mseg_write_relabeled_segments.py get_relabeling_task, which
# the importer must implement): the Cityscapes records relabel cityscapes-19 and cityscapes-34.
DATASETS_OF = {
    "ade20k": ("ade20k-150-relabeled",), "ade20k-v1": ("ade20k-150-relabeled",), "bdd": ("bdd-relabeled",),
    "cityscapes": ("cityscapes-19-relabeled", "cityscapes-34-relabeled"),
    "cocop": ("coco-panoptic-133-relabeled",), "cocopanoptic": ("coco-panoptic-133-relabeled",),
    "cocopanoptic-v1": ("coco-panoptic-133-relabeled",), "idd": ("idd-39-relabeled",),
    "mapillary-public65": ("mapillary-public65-relabeled",), "sunrgbd": ("sunrgbd-37-relabeled",),
}
# --dataset_to_relabel X of MSeg's mseg_apply_relabeling.sh -> (the space it writes, the record list)
TASK_OF = {
    "ade20k-150": ("ade20k-150-relabeled", "ade20k_update_records"), "bdd": ("bdd-relabeled", "bdd_update_records"),
    "cityscapes-19": ("cityscapes-19-relabeled", "cityscapes_update_records"),
    "cityscapes-34": ("cityscapes-34-relabeled", "cityscapes_update_records"),
    "coco-panoptic-133": ("coco-panoptic-133-relabeled", "cocop_update_records"),
    "idd-39": ("idd-39-relabeled", "idd_update_records"),
    "mapillary-public65": ("mapillary-public65-relabeled", "mapillary_update_records"),
    "sunrgbd-37": ("sunrgbd-37-relabeled", "sunrgbd_update_records"),
}
CITYSCAPES_SEGMENTS = 2_363   # lines of the 12 Cityscapes segment lists, applied twice


@pytest.fixture(scope="module")
def model(mseg_model):
    return mseg_model


# ----- the reference, read independently ---------------------------------------------------------


def _our_key(dataset: str, name: str) -> str:
    """The image key the specs must use for the reference's image name (the documented rule)."""
    if dataset in ("cityscapes-19-relabeled", "cityscapes-34-relabeled", "idd-39-relabeled"):
        assert name.startswith("seq"), name
        folder, stem = name[3:].split("_", 1)
        name = f"{folder}/{stem}"
    if dataset == "mapillary-public65-relabeled":
        assert name.startswith("mapillary_"), name
        name = name[len("mapillary_"):]
    return name[: -len("_leftImg8bit")] if name.endswith("_leftImg8bit") else name


def reference_segments(ref: Path) -> list[tuple[str, str, str, int, str]]:
    """(dataset, split, image key, segment id, to class) for every line of every segment list."""
    out = []
    base = ref / "relabeled_data"
    with open(base / "update_records.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        for dataset in DATASETS_OF[row["dataset"]]:
            for line in (base / row["segment_list"]).read_text("utf-8").splitlines():
                if line.strip():
                    stem = line.strip().rsplit(".", 1)[0]
                    name, sid = stem.rsplit("_", 1)
                    out.append((dataset, row["split"], _our_key(dataset, name), int(sid), row["relabeled_class"]))
    return out


def test_specs_are_the_import_of_the_reference(reference):
    files = relabel_import.render_reference(reference)
    on_disk = {rel: (SPECS / rel).read_bytes() for rel in load_relabel.find(SPECS).hashed}
    assert sorted(files) == sorted(on_disk), "run `unitax import-relabel ../shared/reference/mseg`"
    changed = [rel for rel in files if files[rel] != on_disk[rel]]
    assert not changed, changed[:5]


def test_compiled_tables_hold_every_reference_segment_once(reference, tax):
    segs = reference_segments(reference)
    assert len(segs) == 226_413 + CITYSCAPES_SEGMENTS
    assert len({s[:4] for s in segs}) == len(segs), "the reference moves some segment twice"
    by_dataset: dict[str, list] = {}
    for s in segs:
        by_dataset.setdefault(s[0], []).append(s)
    assert tax.relabel_datasets == tuple(sorted(by_dataset))
    for dataset, items in by_dataset.items():
        rl = tax.relabel(dataset)
        names = tax.names(dataset)
        ignore = tax.ignore_index(dataset)
        assert len(rl) == len(items)
        got = {}
        for split in rl.splits:
            for key in rl.keys(split):
                h = rl.segments(key, split)
                for sid, cls in zip(h.segment_ids.tolist(), h.classes.tolist(), strict=False):
                    got[(split, key, sid)] = cls
        want = {(sp, k, sid): (ignore if to == "unlabeled" else names.index(to)) for _, sp, k, sid, to in items}
        assert got == want, dataset


def test_records_match_the_reference_rows(reference):
    with open(reference / "relabeled_data" / "update_records.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    index = json.loads((GENERATED / "relabel.json").read_text())
    got = sorted((ds, r["alias"], r["split"], r["from"], r["to"])
                 for ds, d in index["datasets"].items() for r in d["records"])
    want = sorted((ds, r["dataset"], r["split"], r["orig_class"], r["relabeled_class"])
                  for r in rows for ds in DATASETS_OF[r["dataset"]])
    assert got == want and len(rows) == 381 and len(got) == 381 + 12


def test_compiled_records_equal_the_reference_inventory(reference):
    """Record for record: (dataset, split, from, to, segment count) of the compiled index against
    update_records.tsv and the line count of each record's segment list (381 records, 226,413
    segments, the two COCO-Panoptic val runway/pavement records included; the 12 Cityscapes records
    twice, for cityscapes-19-relabeled and cityscapes-34-relabeled)."""
    base = reference / "relabeled_data"
    with open(base / "update_records.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    want = sorted((ds, r["split"], r["orig_class"], r["relabeled_class"],
                   sum(1 for line in (base / r["segment_list"]).read_text("utf-8").splitlines() if line.strip()))
                  for r in rows for ds in DATASETS_OF[r["dataset"]])
    index = json.loads((GENERATED / "relabel.json").read_text())
    got = sorted((ds, r["split"], r["from"], r["to"], r["segments"])
                 for ds, d in index["datasets"].items() for r in d["records"])
    assert got == want
    assert len(got) == 381 + 12 and sum(r[-1] for r in got) == 226_413 + CITYSCAPES_SEGMENTS
    assert ("coco-panoptic-133-relabeled", "val", "sidewalk_pavement", "runway", 21) in got
    assert ("coco-panoptic-133-relabeled", "val", "sidewalk_pavement", "sidewalk_pavement", 1) in got


def _script_calls(script: Path) -> dict[str, int]:
    """--dataset_to_relabel value -> the first line of its (backslash-continued) command, read plainly."""
    calls, start = {}, None
    for n, line in enumerate(script.read_text("utf-8").splitlines(), 1):
        if "mseg_write_relabeled_segments.py" in line:
            start = n
        if start is not None and "--dataset_to_relabel" in line:
            calls[line.split("--dataset_to_relabel")[1].split()[0]] = start
            start = None
    return calls


def test_each_relabeled_space_says_which_records_it_applies_and_why(reference):
    """Every space MSeg's relabeling script relabels has a relabel spec whose applied_by names that
    script line, and whose records are exactly the reference rows of the record list the call applies,
    in the reference's order (cityscapes-34-relabeled included: it gets the Cityscapes records too)."""
    import yaml

    script = reference / "download_scripts" / "mseg_apply_relabeling.sh"
    calls = _script_calls(script)
    assert sorted(calls) == sorted(TASK_OF), calls
    with open(reference / "relabeled_data" / "update_records.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    specced = sorted(p.stem for p in (SPECS / "relabel").glob("*.yaml"))
    assert specced == sorted(space for space, _ in TASK_OF.values())
    for name, line in calls.items():
        space, records = TASK_OF[name]
        spec = yaml.safe_load((SPECS / "relabel" / f"{space}.yaml").read_text("utf-8"))
        assert spec["applied_by"] == {"script": "download_scripts/mseg_apply_relabeling.sh", "line": line,
                                      "dataset_to_relabel": name, "update_records": records}, space
        got = [(r.get("alias", space), r["split"], r["from"], r["to"], r["segments"]) for r in spec["records"]]
        want = [(r["dataset"], r["split"], r["orig_class"], r["relabeled_class"],
                 r["segment_list"].rsplit(".", 1)[0] + ".tsv") for r in rows if space in DATASETS_OF[r["dataset"]]]
        assert got == want, space


# ----- the compiled tables and the runtime ----------------------------------------------------


def test_tables_are_sorted_and_consistent(tax):
    for dataset in tax.relabel_datasets:
        rl = tax.relabel(dataset)
        rows = 0
        for split, (a, b) in sorted(rl.splits.items(), key=lambda kv: kv[1]):
            assert a == rows
            keys = rl._images[a:b]
            assert (keys[1:] > keys[:-1]).all(), (dataset, split)
            rows = b
        assert rows == len(rl._images)
        st_ = rl._starts.astype(np.int64)
        assert st_[0] == 0 and st_[-1] == len(rl) and (np.diff(st_) > 0).all()
        for i in range(len(rl._images)):
            seg = rl._segments[st_[i]:st_[i + 1]]
            assert (np.diff(seg.astype(np.int64)) > 0).all()
        assert rl._records.max() < len(rl.records)


def test_runtime_lookup(tax):
    rl = tax.relabel("cityscapes-19-relabeled")
    assert rl.aliases == ("cityscapes",)
    hit = rl.segments("hamburg/hamburg_000000_052122", "train")
    assert hit is not None and hit.segment_ids.tolist() == sorted(hit.segment_ids.tolist())
    assert rl.segments("hamburg/no_such_image", "train") is None
    assert [h.split for h in rl.find("hamburg/hamburg_000000_052122")] == ["train"]
    other = tax.relabel("idd-39-relabeled").sha256
    assert rl.sha256 == unitax.load().relabel("cityscapes-19-relabeled").sha256 != other
    with pytest.raises(unitax.UnknownDatasetError, match="has no relabel records of split 'test'"):
        rl.segments("x", "test")
    with pytest.raises(unitax.UnknownDatasetError, match="'cityscapes-19' has no relabel records; datasets with"):
        tax.relabel("cityscapes-19")
    # SUN RGB-D numbers its train and test images alike: the same key in two splits
    sun = tax.relabel("sunrgbd-37-relabeled")
    assert [h.split for h in sun.find("img-000152")] == ["train", "val"]


def test_a_tampered_relabel_table_is_refused(tmp_path):
    dst = tmp_path / "g"
    shutil.copytree(GENERATED, dst, ignore=shutil.ignore_patterns("__pycache__"))
    p = dst / "tables" / "relabel" / "bdd-relabeled.classes.npy"
    raw = bytearray(p.read_bytes())
    raw[-1] ^= 1
    p.write_bytes(bytes(raw))
    tax = unitax.load(dst)  # the main tables load; the relabel table is verified on first use
    tax.relabel("idd-39-relabeled")
    with pytest.raises(unitax.IntegrityError, match="bdd-relabeled.classes.npy: sha256 differs from the manifest"):
        tax.relabel("bdd-relabeled")


def test_relabel_segments_moves_exactly_the_listed_segments():
    rng = np.random.default_rng(1)
    seg = rng.integers(0, 40, size=(50, 60)).astype(np.uint32) * 1000 + 7
    label = rng.integers(0, 20, size=seg.shape).astype(np.uint8)
    before = label.copy()
    ids = np.array([7, 5007, 39007, 99007], np.uint32)  # the last is in no pixel
    classes = np.array([200, 201, 202, 203], np.uint8)
    missing = relabel_segments(label, seg, ids, classes)
    assert missing.tolist() == [99007]
    for s, c in zip(ids[:3], classes[:3], strict=False):
        assert (label[seg == s] == c).all()
    others = ~np.isin(seg, ids)
    assert (label[others] == before[others]).all()
    with pytest.raises(unitax.LabelError, match="does not match"):
        relabel_segments(label, seg[:, :10], ids, classes)


# ----- the segment file parser -------------------------------------------------------------------

_key = st.from_regex(r"[A-Za-z0-9_.-]{1,12}(/[A-Za-z0-9_.-]{1,12}){0,2}", fullmatch=True)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(_key, st.integers(0, 2**32 - 1)), max_size=40))
def test_parser_agrees_with_a_plain_reading(lines):
    raw = "".join(f"{k}\t{s}\n" for k, s in lines).encode()
    keys, ids = load_relabel.parse_segments(raw)
    assert keys == [k for k, _ in lines]
    assert ids.tolist() == [s for _, s in lines]


@pytest.mark.parametrize("text, line, message", [
    ("a\t1\nb 2\n", 2, "'b 2' is not '<image key>\\t<segment id>' (one tab)"),
    ("a\t1\nb\t2\t3\n", 2, "'b\\t2\\t3' is not '<image key>\\t<segment id>' (one tab)"),
    ("a\t1\nb\tx2\n", 2, "segment id 'x2' is not an integer in 0..4294967295"),
    ("a\t-1\n", 1, "segment id '-1' is not an integer in 0..4294967295"),
    ("a\t4294967296\n", 1, "segment id '4294967296' is not an integer in 0..4294967295"),
    ("a\t1\nb\t2", 2, "the last line has no newline (lines end with LF)"),
    ("a\t1\n\n", 2, "'' is not '<image key>\\t<segment id>' (one tab)"),
    ("a/\t1\n", 1, "image key 'a/' is not a relative path of letters, digits, '_', '.', '-'"),
    ("/a\t1\n", 1, "image key '/a' is not a relative path of letters, digits, '_', '.', '-'"),
    ("\t1\n", 1, "image key '' is not a relative path of letters, digits, '_', '.', '-'"),
    ("a\t1\r\n", 1, "segment id '1\\r' is not an integer in 0..4294967295"),
    ("é\t1\n", 1, "b'\\xc3\\xa9\\t1' holds non-ASCII bytes"),
])
def test_malformed_lines_are_named(text, line, message):
    keys, problems = load_relabel.parse_segments(text.encode())
    assert keys is None
    assert problems[0] == (line, message)


def test_a_block_of_files_parses_as_each_file_does():
    files = [b"k/a\t1\nk/bb\t22\n", b"", b"123456789012\t4294967295\n", b"x\t0000000007\n"]
    block = load_relabel.parse_block(b"".join(files))
    assert block is not None and block.keys.shape == (12, 4)
    for raw, row in zip([f for f in files if f], [0, 2, 3], strict=True):
        one = load_relabel.parse_block(raw)
        assert one is not None
        n = len(one.ids)
        assert (block.ids[row:row + n] == one.ids).all()
        assert (block.keys[:len(one.keys), row:row + n] == one.keys).all()
        assert not block.keys[len(one.keys):, row:row + n].any()
    assert block.ids.tolist() == [1, 22, 4294967295, 7]


# ----- the order of the segments (rules_relabel.sort_segments) -------------------------------------

_alphabet = st.sampled_from(["0123456789", "ab", "ABCxyz_.-/0189"])


@settings(max_examples=examples(150), deadline=None)
@given(st.data())
def test_the_segment_order_is_a_plain_sort(data):
    """Against Python's sort of (split, key bytes, id, record, line): one packed word (short
    keys of few bytes, small ids), several (long keys of many bytes), and rows that are the same
    segment (ties: record and line order)."""
    from unitax.compiler import rules_relabel

    n = data.draw(st.integers(1, 50))
    alphabet = data.draw(_alphabet)
    longest = data.draw(st.integers(1, 24))
    keys = data.draw(st.lists(st.text(alphabet, min_size=1, max_size=longest), min_size=n, max_size=n))
    top = data.draw(st.sampled_from([1, 9, 2**20, 2**32 - 1]))
    ids = data.draw(st.lists(st.integers(0, top), min_size=n, max_size=n))
    n_splits = data.draw(st.integers(1, 3))
    split = data.draw(st.lists(st.integers(0, n_splits - 1), min_size=n, max_size=n))
    record = sorted(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)))
    line = [1 + sum(1 for r in record[:i] if r == record[i]) for i in range(n)]
    width = max(map(len, keys))
    columns = np.zeros((width, n), np.uint8)
    for i, k in enumerate(keys):
        columns[:len(k), i] = list(k.encode())
    perm = data.draw(st.permutations(range(n)))  # rows in any order, as several files give them
    rows = np.array(perm)
    order, new_image, same = rules_relabel.sort_segments(
        np.ascontiguousarray(columns[:, rows]), np.array(ids, np.uint32)[rows], np.array(split)[rows],
        np.array(record)[rows], np.array(line)[rows], n_splits)
    want = sorted(range(n), key=lambda i: (split[i], keys[i].encode(), ids[i], record[i], line[i]))
    assert rows[order].tolist() == want
    segment = [(split[i], keys[i], ids[i]) for i in want]
    assert new_image.tolist() == [True] + [segment[i][:2] != segment[i - 1][:2] for i in range(1, n)]
    assert same.tolist() == [segment[i] == segment[i - 1] for i in range(1, n)]


# ----- validation: every rule, with file, line and path -------------------------------------------

GOOD = """dataset: cityscapes-19-relabeled
aliases: [cityscapes]
records:
  - {alias: cityscapes, split: train, from: rider_other, to: bicyclist, segments: a.tsv}
  - {split: val, from: rider_other, to: unlabeled, segments: sub/b.tsv}
"""


def _specs(tmp_path: Path, yaml_text: str = GOOD, files: dict[str, str] | None = None,
           name: str = "cityscapes-19-relabeled") -> Path:
    root = tmp_path / "taxonomy"
    d = root / "relabel"
    d.mkdir(parents=True)
    (d / f"{name}.yaml").write_text(yaml_text)
    files = {"a.tsv": "aachen/aachen_000000_000019\t3\n", "sub/b.tsv": "x/y\t4\nx/y\t5\n"} if files is None else files
    for rel, text in files.items():
        p = d / name / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def _problems(root: Path, model) -> list[str]:
    compiled, problems = build.check_relabel(root, model)
    assert compiled == [] or not any(p.severity == "error" for p in problems)
    return [str(p) for p in problems]


def test_a_small_valid_spec_compiles(tmp_path, model):
    root = _specs(tmp_path)
    compiled, problems = build.check_relabel(root, model)
    assert problems == []
    (r,) = compiled
    assert r.splits == {"train": (0, 1), "val": (1, 2)}
    assert r.images.tolist() == [b"aachen/aachen_000000_000019", b"x/y"]
    assert r.segments.tolist() == [3, 4, 5] and r.starts.tolist() == [0, 1, 3]
    names = model.universal.names
    assert [names[c] if c < 255 else "unlabeled" for c in r.classes] == ["bicyclist", "unlabeled", "unlabeled"]
    assert r.record_index.tolist() == [0, 1, 1]


def _where(root: Path, rel: str) -> str:
    return (root / "relabel" / rel).as_posix()


STRAY_A = ("cityscapes-19-relabeled/a.tsv $: no record names this segment file; delete it or add a record "
           "[stray-segment-file]")
STRAY_B = STRAY_A.replace("/a.tsv", "/sub/b.tsv")


@pytest.mark.parametrize("old, new, line, path, rule, message, more", [
    ("dataset: cityscapes-19-relabeled", "dataset: cityscapes-19-relabelled", 1, "$.dataset", "relabel-unknown-dataset",
     "'cityscapes-19-relabelled' is not a declared dataset; did you mean 'cityscapes-19-relabeled'?", []),
    ("alias: cityscapes,", "alias: cityscape,", 4, "$.records[0].alias", "unknown-alias",
     "record names dataset 'cityscape', which is neither cityscapes-19-relabeled nor one of its aliases "
     "(cityscapes-19-relabeled, cityscapes); did you mean 'cityscapes'?", []),
    ("to: bicyclist", "to: bicyclists", 4, "$.records[0].to", "relabel-unknown-class",
     "to 'bicyclists' is not a universal class; did you mean 'bicyclist'?", []),
    ("from: rider_other, to: unlabeled", "from: unlabeled, to: unlabeled", 5, "$.records[1].from",
     "relabel-unknown-class",
     "from 'unlabeled' is not a universal class", []),
    ("to: bicyclist", "to: bear", 4, "$.records[0].to", "class-not-in-dataset",
     "to 'bear' is a universal class but not a class of cityscapes-19-relabeled", []),
    ("aliases: [cityscapes]", "aliases: [cityscapes, cityscapes-34]", 2, "$.aliases[1]", "alias-conflict",
     "alias 'cityscapes-34' is the declared dataset 'cityscapes-34', which is not remapped into "
     "cityscapes-19-relabeled; it would name two datasets", []),
    ("segments: a.tsv}", "segments: ../a.tsv}", 4, "$.records[0].segments", "segment-file",
     "../a.tsv leads outside relabel/cityscapes-19-relabeled/", [STRAY_A]),
    ("segments: a.tsv}", "segments: c.tsv}", 4, "$.records[0].segments", "segment-file",
     "segment file {root}/relabel/cityscapes-19-relabeled/c.tsv does not exist", [STRAY_A]),
    ("segments: sub/b.tsv}", "segments: a.tsv}", 5, "$.records[1].segments", "segment-file",
     "a.tsv is also the segment file of record 0 of {root}/relabel/cityscapes-19-relabeled.yaml", [STRAY_B]),
    ("split: train,", "split: Train,", 4, "$.records[0].split", "schema-pattern",
     "'Train' does not match '^[a-z][a-z0-9_-]*$'", []),
    (", segments: a.tsv}", "}", 4, "$.records[0]", "missing-field", "missing required field 'segments'", []),
    ("aliases:", "alias:", 2, "$.alias", "unknown-field", "unknown field 'alias'; did you mean 'aliases'?", []),
])
def test_each_rule_names_file_line_and_path(tmp_path, model, old, new, line, path, rule, message, more):
    assert GOOD.count(old) == 1
    root = _specs(tmp_path, GOOD.replace(old, new))
    where = _where(root, 'cityscapes-19-relabeled.yaml')
    want = f"{where}:{line} {path}: {message.format(root=root.as_posix())} [{rule}]"
    assert sorted(_problems(root, model)) == sorted([want] + [f"{(root / 'relabel').as_posix()}/{m}" for m in more])


def test_an_alias_that_is_a_dataset_remapped_into_this_one_is_fine(tmp_path, model):
    root = _specs(tmp_path, GOOD.replace("aliases: [cityscapes]", "aliases: [cityscapes, cityscapes-19]"))
    assert _problems(root, model) == []


def test_file_name_and_an_alias_shared_by_two_files(tmp_path, model):
    """Two files may apply records of one source (alias): MSeg's Cityscapes records relabel two spaces."""
    root = _specs(tmp_path, name="misnamed")
    other = GOOD.replace("cityscapes-19-relabeled", "idd-39-relabeled").replace("to: bicyclist", "to: motorcyclist")
    (root / "relabel" / "idd-39-relabeled.yaml").write_text(other)
    shutil.copytree(root / "relabel" / "misnamed", root / "relabel" / "idd-39-relabeled")
    got = _problems(root, model)
    assert (f"{_where(root, 'misnamed.yaml')}:1 $.dataset: records of 'cityscapes-19-relabeled' are in misnamed.yaml; "
            "name the file cityscapes-19-relabeled.yaml [relabel-file-name]") in got
    assert not [p for p in got if "alias-conflict" in p], got
    assert len(got) == 1, got


@pytest.mark.parametrize("files, expect", [
    ({"a.tsv": "k\t1\nk2\tx\n", "sub/b.tsv": "x/y\t4\n"},
     ["cityscapes-19-relabeled/a.tsv:2 $: segment id 'x' is not an integer in 0..4294967295 [segment-syntax]"]),
    ({"a.tsv": "k\t1", "sub/b.tsv": "x/y\t4\n"},
     ["cityscapes-19-relabeled/a.tsv:1 $: the last line has no newline (lines end with LF) [segment-syntax]"]),
    ({"a.tsv": "", "sub/b.tsv": "x/y\t4\n"},
     ["cityscapes-19-relabeled.yaml:4 $.records[0].segments: a.tsv lists no segment [empty-segment-list]"]),
    ({"a.tsv": "k\t1\n", "sub/b.tsv": "x/y\t4\n", "stray.tsv": "k\t1\n"},
     ["cityscapes-19-relabeled/stray.tsv $: no record names this segment file; delete it or add a record "
      "[stray-segment-file]"]),
    ({"a.tsv": "k\t1\nj\t1\nk\t1\n", "sub/b.tsv": "k\t1\n"},  # twice in one file; the val one is another split
     ["cityscapes-19-relabeled/a.tsv:3 $: segment 1 of train image 'k' is also moved by "
      "{root}/relabel/cityscapes-19-relabeled/a.tsv:1 (rider_other -> bicyclist); "
      "a segment moves once [segment-twice]"]),
])
def test_segment_files_are_checked(tmp_path, model, files, expect):
    root = _specs(tmp_path, files=files)
    got = _problems(root, model)
    assert sorted(got) == sorted(f"{(root / 'relabel').as_posix()}/{e.format(root=root.as_posix())}" for e in expect)


def test_a_segment_moved_by_two_records_names_both(tmp_path, model):
    text = GOOD.replace("split: val", "split: train")
    root = _specs(tmp_path, text, files={"a.tsv": "k\t1\nk\t2\n", "sub/b.tsv": "q\t9\nk\t2\n"})
    assert _problems(root, model) == [
        f"{_where(root, 'cityscapes-19-relabeled/sub/b.tsv')}:2 $: segment 2 of train image 'k' is also moved by "
        f"{_where(root, 'cityscapes-19-relabeled/a.tsv')}:2 (rider_other -> bicyclist); a segment moves once "
        "[segment-twice]"]


def test_a_linked_segment_file_is_refused(tmp_path, model):
    root = _specs(tmp_path)
    outside = tmp_path / "outside.tsv"
    outside.write_text("k\t1\n")
    p = root / "relabel" / "cityscapes-19-relabeled" / "a.tsv"
    p.unlink()
    p.symlink_to(outside)
    assert _problems(root, model) == [
        f"{_where(root, 'cityscapes-19-relabeled.yaml')}:4 $.records[0].segments: segment file "
        f"{p.as_posix()} is a link (segment files must be regular files) [segment-file]"]


def test_unitax_check_reports_a_broken_segment_line(tmp_path):
    """Through the CLI on the whole taxonomy: the relabel stage is part of check and compile."""
    specs = tmp_path / "taxonomy"
    shutil.copytree(SPECS, specs)
    p = specs / "relabel" / "bdd-relabeled" / "bdd_rider" / "bdd_train_bdd_rider_to_None_of_these.tsv"
    lines = p.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("\t", " ")
    p.write_text("".join(lines))
    out = tmp_path / "generated"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))
    r = CliRunner().invoke(main, ["compile", "--specs", str(specs), "--out", str(out)])
    assert r.exit_code == 1
    errors = [line for line in r.stderr.splitlines() if ": warning: " not in line and ": accepted: " not in line]
    assert errors[0] == (f"{p.as_posix()}:3 $: '{lines[2].strip()}' is not '<image key>\\t<segment id>' "
                         "(one tab) [segment-syntax]")
    assert build.read_tree(out) == build.read_tree(GENERATED)


def test_without_relabel_folder_nothing_is_emitted(tmp_path, model):
    assert build.check_relabel(tmp_path, model) == ([], [])
    assert emit_relabel.render([]) == {}


def test_import_writes_the_folder_and_refuses_a_bad_reference(tmp_path, reference):
    ref = tmp_path / "ref"
    (ref / "relabeled_data" / "g").mkdir(parents=True)
    records = ref / "relabeled_data" / "update_records.tsv"
    records.write_text("dataset\tsplit\torig_class\trelabeled_class\tsegment_list\n"
                       "cityscapes\ttrain\trider_other\tbicyclist\tg/l.txt\n"
                       "kitti\ttrain\tcar\tbus\tg/l.txt\n")
    (ref / "relabeled_data" / "g" / "l.txt").write_text("seqaachen_aachen_000000_000019_leftImg8bit_3.jpg\nbad\n")
    with pytest.raises(relabel_import.SpecError) as e:
        relabel_import.render_reference(ref)
    got = [str(p) for p in e.value.problems]   # every problem at once: the missing script and the unknown dataset
    assert (f"{(ref / 'download_scripts/mseg_apply_relabeling.sh').as_posix()} $: MSeg's relabeling script is needed "
            f"to know which label spaces get which records (looked for download_scripts/mseg_apply_relabeling.sh in "
            f"{ref} and in {tmp_path}) [missing-file]") in got
    assert any("dataset 'kitti' is not one the importer knows" in p for p in got) and len(got) == 2
    (ref / "download_scripts").mkdir()
    (ref / "download_scripts" / "mseg_apply_relabeling.sh").write_text(
        "#!/bin/sh\n# relabel\npython -u x/mseg_write_relabeled_segments.py \\\n"
        "\t--num_processes 1 --dataset_to_relabel cityscapes-34\n"
        "python -u x/mseg_write_relabeled_segments.py --dataset_to_relabel kitti-19\n")
    with pytest.raises(relabel_import.SpecError) as e:
        relabel_import.render_reference(ref)
    script = (ref / "download_scripts/mseg_apply_relabeling.sh").as_posix()
    assert [str(p) for p in e.value.problems] == sorted([
        f"{script}:5 $: --dataset_to_relabel 'kitti-19' is not a dataset the importer knows "
        f"({', '.join(sorted(TASK_OF))}) [reference-format]",
        f"{records.as_posix()}:3 $: dataset 'kitti' is not one the importer knows "
        f"({', '.join(sorted(DATASETS_OF))}) [reference-format]",
        f"{(ref / 'relabeled_data' / 'g' / 'l.txt').as_posix()}:2 $: 'bad' is not '<image>_<segment id>.<ext>' "
        "[reference-format]"])
    records.write_text(records.read_text().rsplit("kitti", 1)[0])
    (ref / "relabeled_data" / "g" / "l.txt").write_text("seqaachen_aachen_000000_000019_leftImg8bit_3.jpg\n")
    (ref / "download_scripts" / "mseg_apply_relabeling.sh").write_text(
        "python -u x/mseg_write_relabeled_segments.py \\\n\t--num_processes 1 --dataset_to_relabel cityscapes-34\n")
    files = relabel_import.render_reference(ref)
    assert sorted(files) == ["relabel/cityscapes-34-relabeled.yaml", "relabel/cityscapes-34-relabeled/g/l.tsv"]
    assert files["relabel/cityscapes-34-relabeled/g/l.tsv"] == b"aachen/aachen_000000_000019\t3\n"
    spec = files["relabel/cityscapes-34-relabeled.yaml"]
    assert (b"applied_by: {script: download_scripts/mseg_apply_relabeling.sh, line: 1, dataset_to_relabel: "
            b"cityscapes-34, update_records: cityscapes_update_records}\n") in spec
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "relabel" / "old").mkdir(parents=True)
    relabel_import.write_specs(files, specs)
    assert sorted(p.relative_to(specs).as_posix() for p in specs.rglob("*") if p.is_file()) == sorted(files)
