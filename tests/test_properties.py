"""Laws that hold for every valid taxonomy, checked on random ones (hypothesis).

A strategy draws a small taxonomy: universal classes, train/test/source datasets (uint8 or
uint16, with repeated names that become void ids), total mappings into and out of universal
and dataset -> dataset remaps. The spec files are written with the importer's own writers
(`render_universal`, `render_dataset`, `render_mapping`), compiled with
`unitax.compiler.build` and loaded with `unitax.load(path)`. The expected tables come from
the drawn dicts alone (an oracle independent of the compiler).

Laws: the importer's YAML reads back to exactly what was drawn (any text in names, notes and
definitions); compile succeeds and its output does not depend on the order of map entries,
ignore and unfed lists or on the order files were written in; dataset -> universal -> test
equals the composition of the drawn mappings and of the compiled tables; remaps equal the
drawn ones; the ignore value always maps to the target's ignore value (255 stays 255); every
value of the label dtype has a defined output.
"""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.examples import examples

import unitax
from unitax.compiler import build
from unitax.compiler.load import parse_yaml
from unitax.compiler.names import odd_characters, skeleton
from unitax.tools.authoring import importer


def _key(name: str) -> str:
    """What the name-clash rule compares: case, white space, Unicode forms and look-alikes folded."""
    return " ".join(name.casefold().split())


def _nfkc_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


# Class names: any text the schema and the suspicious-name rule allow (no surrounding white space,
# no control, format or zero-width characters, NFC, no look-alikes mixed into Latin), including
# YAML's troublemakers (no, 1e3, '- x', '#', ': ') and legitimate non-ASCII names.
TRICKY = ["no", "Yes", "off", "null", "~", "1e3", "0x10", "010", "1_0", "1:30", "0o17", "2020-01-01", "1.5", "- x",
          "#x", "a: b", "[x]", "{x}", "&a", "*a", "!t", "%", "@", "`", "'q'", '"q"', "x #y", "é", "Straße", "naïve",
          "вода", "日本"]
PLAIN = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs", "Mn", "Me"),
                      include_characters=" ")
NAME = st.one_of(st.sampled_from(TRICKY), st.text(PLAIN, min_size=1, max_size=10)).filter(
    lambda s: s == s.strip() and "\n" not in s and s != "" and odd_characters(s) is None)
TEXT = st.text(max_size=40)


def names(n_min: int, n_max: int):
    return st.lists(NAME, min_size=n_min, max_size=n_max, unique_by=(_key, _nfkc_key, skeleton))


@st.composite
def taxonomies(draw) -> dict:
    """A valid taxonomy as plain dicts: universal rows, spaces (importer.Space) and mappings (importer.MappingSpec)."""
    u_names = draw(names(1, 8))
    universal = []
    for n in u_names:
        row = {"name": n, "parent": draw(st.one_of(st.none(), NAME)),
               "synset": draw(st.one_of(st.none(), st.from_regex(r"[a-z_]{1,8}\.[nv]\.0[1-9]", fullmatch=True))),
               "wordnet_modified": draw(st.one_of(st.none(), st.booleans()))}
        if draw(st.booleans()):
            row["synset_note"] = draw(TEXT.filter(bool))
        universal.append(row)
    definitions = {n: draw(TEXT) for n in u_names}

    # At least one train and one test dataset, so that every example has a path to compose.
    roles = draw(st.permutations(["train", "test"] + draw(st.lists(st.sampled_from(["train", "test", "source"]),
                                                                    max_size=3))))
    spaces: dict[str, importer.Space] = {}
    for i, role in enumerate(roles):
        real = draw(names(1, 6))
        # Repeats of earlier names become void ids (the importer marks them `void: true`).
        order = real + draw(st.lists(st.sampled_from(real), max_size=2))
        order = draw(st.permutations(order)) if draw(st.booleans()) else order
        wide = draw(st.booleans()) and draw(st.booleans())
        colors = draw(st.one_of(st.none(), st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=len(order),
                                                     max_size=len(order))))
        spaces[f"d{i}"] = importer.Space(f"d{i}", role, order, colors, "uint16" if wide else "uint8",
                                         65535 if wide else 255, notes=draw(st.lists(TEXT.filter(bool), max_size=1)))

    def total(src: list[str], dst: list[str]):
        """A total mapping: each source class to a target class or ignored; unfed = targets no one feeds."""
        pairs, ignore = [], []
        for s in src:
            t = draw(st.one_of(st.none(), st.sampled_from(dst)))
            (ignore.append(s) if t is None else pairs.append((s, t)))
        fed = {t for _, t in pairs}
        return pairs, ignore, [t for t in dst if t not in fed]

    def real(s: importer.Space) -> list[str]:
        return list(dict.fromkeys(s.names))  # first occurrence of each name; repeats are void

    mappings = []
    for name, s in spaces.items():
        if s.role == "train":
            mappings.append(importer.MappingSpec(name, "universal", *total(real(s), u_names), draw(TEXT)))
        elif s.role == "test":
            mappings.append(importer.MappingSpec("universal", name, *total(u_names, real(s)), draw(TEXT)))
        else:  # a source remapped into each of some non-source datasets (so remaps never form a cycle)
            targets = [t for t in spaces if spaces[t].role != "source"]
            for t in draw(st.lists(st.sampled_from(targets), unique=True, max_size=2)) if targets else []:
                mappings.append(importer.MappingSpec(name, t, *total(real(s), real(spaces[t])), draw(TEXT)))
    return {"universal": universal, "definitions": definitions, "spaces": spaces, "mappings": mappings}


def spec_files(tx: dict) -> dict[str, str]:
    files = {"universal.yaml": importer.render_universal(tx["universal"], tx["definitions"])}
    for name, s in tx["spaces"].items():
        files[f"datasets/{name}.yaml"] = importer.render_dataset(s)
    for m in tx["mappings"]:
        files[f"mappings/{m.source}_to_{m.target}.yaml"] = importer.render_mapping(m)
    return files


def write(files: dict[str, str], root: Path, order: list[str]) -> Path:
    for rel in order:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(files[rel], encoding="utf-8", newline="\n")
    return root


def shuffled(tx: dict, rnd: random.Random) -> dict:
    """The same taxonomy with map entries, ignore and unfed lists in another order."""
    ms = []
    for m in tx["mappings"]:
        pairs, ignore, unfed = list(m.pairs), list(m.ignore), list(m.unfed)
        for xs in (pairs, ignore, unfed):
            rnd.shuffle(xs)
        ms.append(importer.MappingSpec(m.source, m.target, pairs, ignore, unfed, m.note))
    return {**tx, "mappings": ms}


def ids(s: importer.Space) -> dict[str, int]:
    """Class name -> id of the first (real) class with that name."""
    out: dict[str, int] = {}
    for i, n in enumerate(s.names):
        out.setdefault(n, i)
    return out


def oracle(m: importer.MappingSpec, src_ids: dict[str, int], dst_ids: dict[str, int], length: int,
           ignore: int) -> np.ndarray:
    """The table a mapping means, from the drawn dicts alone."""
    lut = np.full(length, ignore, dtype=np.int64)
    for s, t in m.pairs:
        lut[src_ids[s]] = dst_ids[t]
    return lut


# Each compiling example writes and compiles a taxonomy (~0.3 s with docs and sheets); the
# read-back law needs no compile and runs many more.
SETTINGS = settings(max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])


@settings(SETTINGS, max_examples=examples(100))
@given(tx=taxonomies())
def test_importer_output_reads_back_as_drawn(tx):
    files = spec_files(tx)
    for rel, text in files.items():
        doc, problems = parse_yaml(text.encode("utf-8"), rel)
        assert problems == [], (rel, problems, text)
        d = doc.data
        if rel == "universal.yaml":
            assert [c["name"] for c in d["classes"]] == [u["name"] for u in tx["universal"]]
            assert [c["id"] for c in d["classes"]] == list(range(len(tx["universal"])))
            for c, u in zip(d["classes"], tx["universal"], strict=False):
                assert (c["parent"], c["synset"], c["wordnet_modified"]) == (u["parent"], u["synset"],
                                                                              u["wordnet_modified"])
                assert c.get("synset_note") == u.get("synset_note")
                assert c["definition"] == tx["definitions"][u["name"]]
        elif rel.startswith("datasets/"):
            s = tx["spaces"][d["name"]]
            assert [c["name"] for c in d["classes"]] == s.names
            assert [c.get("void", False) for c in d["classes"]] == [n in s.names[:i] for i, n in enumerate(s.names)]
            assert (d["role"], d["label_dtype"], d["ignore"]) == (s.role, s.label_dtype, s.ignore)
            assert d.get("note") == ("; ".join(s.notes) if s.notes else None)
            if s.colors:
                assert [tuple(c["color"]) for c in d["classes"]] == s.colors
        else:
            m = next(m for m in tx["mappings"] if rel == f"mappings/{m.source}_to_{m.target}.yaml")
            assert list(d["map"].items()) == m.pairs
            assert (d["ignore"], d["unfed"], d["note"]) == (m.ignore, m.unfed, m.note)


def _tree_without_spec_hash(out: Path) -> dict[str, bytes]:
    tree = build.read_tree(out)
    manifest = json.loads(tree.pop("manifest.json"))
    manifest.pop("specs_sha256")
    manifest["files"].pop("manifest.json", None)
    tree["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return tree


@SETTINGS
@given(tx=taxonomies(), seed=st.integers(0, 2**32 - 1))
def test_compile_succeeds_and_does_not_depend_on_order(tx, seed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("order")
    rnd = random.Random(seed)
    files = spec_files(tx)
    a = write(files, tmp / "a", sorted(files))
    other = spec_files(shuffled(tx, rnd))
    b = write(other, tmp / "b", rnd.sample(sorted(other), len(other)))
    ra = build.compile_taxonomy(a, tmp / "out-a")
    build.compile_taxonomy(b, tmp / "out-b")
    assert [w for w in ra.warnings if w.severity == "error"] == []
    assert _tree_without_spec_hash(tmp / "out-a") == _tree_without_spec_hash(tmp / "out-b")
    again = build.compile_taxonomy(a, tmp / "out-a")
    assert not again.changed  # deterministic: a second compile of the same files writes nothing


@SETTINGS
@given(tx=taxonomies())
def test_remaps_compose_as_drawn_and_every_value_has_an_output(tx, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("laws")
    files = spec_files(tx)
    build.compile_taxonomy(write(files, tmp / "specs", sorted(files)), tmp / "out")
    tax = unitax.load(tmp / "out")
    spaces = tx["spaces"]
    u_ids = {u["name"]: i for i, u in enumerate(tx["universal"])}
    n_u = len(u_ids)
    to_u = {m.source: m for m in tx["mappings"] if m.target == "universal"}
    from_u = {m.target: m for m in tx["mappings"] if m.source == "universal"}
    assert set(tax.train_datasets) == set(to_u) and set(tax.test_datasets) == set(from_u)
    n_remaps = sum('universal' not in (m.source, m.target) for m in tx['mappings'])
    event(f"{len(to_u)} train, {len(from_u)} test, {n_remaps} "
          f"remaps; uint16: {any(s.label_dtype == 'uint16' for s in spaces.values())}; "
          f"void: {any(len(set(s.names)) < len(s.names) for s in spaces.values())}")

    def values(s: importer.Space) -> np.ndarray:
        """Every value of a uint8 label; for uint16 the low values, the ignore value and some large ones."""
        if s.label_dtype == "uint8":
            return np.arange(256, dtype=np.uint8)
        return np.r_[np.arange(300), [1000, 40000, 65534, 65535]].astype(np.uint16)

    for a, m in to_u.items():
        s = spaces[a]
        want = oracle(m, ids(s), u_ids, 65536 if s.label_dtype == "uint16" else 256, 255)
        lut = tax.lut(a)
        assert lut.shape == want.shape and (lut == want).all()  # a defined output for every value
        assert lut[s.ignore] == 255  # ignore stays ignore
        x = values(s)
        got = tax.to_universal(x, a, out_of_range="ignore")
        valid = np.isin(x, [ids(s)[n] for n in dict.fromkeys(s.names)] + [s.ignore])
        assert (got == want[x]).all()  # the table already sends unused ids to ignore
        assert set(np.unique(got)) <= set(range(n_u)) | {255}
        if not valid.all():
            try:
                tax.to_universal(x, a)
                raise AssertionError("values outside the dataset's ids went through")
            except unitax.LabelError:
                pass
        for t, mt in from_u.items():  # dataset -> universal -> test equals both compositions
            composed = oracle(mt, u_ids, ids(spaces[t]), 256, spaces[t].ignore)[want[x]]
            assert (tax.to_test_labels(got, t) == composed).all()
            assert (tax.test_lut(t)[tax.lut(a)[x]] == composed).all()

    for t, mt in from_u.items():
        want = oracle(mt, u_ids, ids(spaces[t]), 256, spaces[t].ignore)
        assert (tax.test_lut(t) == want).all() and tax.test_lut(t)[255] == spaces[t].ignore
        m = tax.matrix(t)  # one column per universal class, at most one 1 each
        assert m.shape == (len(spaces[t].names), n_u) and (m.sum(0) <= 1).all()
        for u in range(n_u):
            assert (m[:, u].argmax() if m[:, u].any() else spaces[t].ignore) == want[u]

    for mr in (m for m in tx["mappings"] if "universal" not in (m.source, m.target)):
        s, d = spaces[mr.source], spaces[mr.target]
        want = oracle(mr, ids(s), ids(d), 65536 if s.label_dtype == "uint16" else 256, d.ignore)
        assert (tax.remap_lut(mr.source, mr.target) == want).all()
        assert tax.remap_lut(mr.source, mr.target)[s.ignore] == d.ignore
        x = values(s)
        valid = np.isin(x, [ids(s)[n] for n in dict.fromkeys(s.names)] + [s.ignore])
        got = tax.remap(x, mr.source, mr.target, out_of_range="ignore")
        assert (got == want[x]).all()
        if not valid.all():
            try:
                tax.remap(x, mr.source, mr.target)
                raise AssertionError("values outside the dataset's ids went through")
            except unitax.LabelError:
                pass
        if mr.target in to_u:  # source -> dataset -> universal agrees with the drawn mappings
            back = oracle(to_u[mr.target], ids(d), u_ids, 65536 if d.label_dtype == "uint16" else 256, 255)
            assert (tax.to_universal(got, mr.target) == back[want[x]]).all()


def test_the_fuzz_harness_runs(tmp_path):
    """`make fuzz` stays runnable: a few of its inputs through its own checks (the minute-long run is `make fuzz`)."""
    import fuzz_specs

    run = fuzz_specs.Run(tmp_path)
    assert run.check(fuzz_specs.NAMES[0], fuzz_specs.BASE[fuzz_specs.NAMES[0]]) == []

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(fuzz_specs.inputs())
    def one(case):
        rel, kind, raw = case
        run.record(rel, kind, raw, run.check(rel, raw))

    one()
    assert run.count >= 25 and sum(run.outcomes.values()) == run.count
