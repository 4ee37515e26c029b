"""`unitax compare A B` (issue 23): relations between two taxonomies' universal classes through the
label spaces they share, the reports (text, JSON, HTML), and the translation tables with their
runtime (:mod:`unitax.translate`), on the twins of tests/support/twins.py and on random relations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from support import injection, twins
from support.paths import GENERATED

import unitax
from unitax import translate
from unitax.compiler import build
from unitax.tools.cli import main
from unitax.tools.data import compare as cmp


@pytest.fixture(scope="module")
def pair() -> cmp.Comparison:
    return cmp.compare("alpha", unitax.load(twins.build("alpha")), "beta", unitax.load(twins.build("beta")))


def _by_relation(rels: tuple[cmp.Relation, ...]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {k: set() for k in cmp.RELATIONS}
    for r in rels:
        out[r.relation].add(r.name)
    return out


# ----- the relations on the twins ----------------------------------------------------------------


def test_every_relation_is_found_as_the_twins_were_designed(pair):
    assert _by_relation(pair.a_to_b) == twins.EXPECTED[("alpha", "beta")]
    assert _by_relation(pair.b_to_a) == twins.EXPECTED[("beta", "alpha")]
    assert cmp.counts(pair.a_to_b) == {"equal": 3, "split": 3, "merged": 3, "overlapping": 1, "absent": 2}
    assert cmp.counts(pair.b_to_a) == {"equal": 3, "split": 1, "merged": 7, "overlapping": 1, "absent": 1}
    rel = {r.name: r for r in pair.a_to_b}
    b = pair.b.names
    assert [b[i] for i in rel["person"].partners] == ["pedestrian", "rider"]
    assert [b[i] for i in rel["animal"].partners] == ["dog", "cat"]  # through beta's union mapping
    assert rel["car"].note == "with truck"
    assert rel["plant"].note == "with part of tree"
    assert rel["tree"].note == "small_plant also holds indoor:plant"
    assert rel["sky"].note.startswith("beta ignores every shared dataset class that feeds it (street:sky")
    assert rel["thing"].note == "no shared label space feeds it" and rel["thing"].feeders == ()


def test_shared_spaces_are_checked_and_led_into_universal_by_both(pair):
    sh = pair.shared
    assert sh.compared == (("indoor", 5, "mapping", "mapping"), ("street", 8, "mapping", "mapping"),
                           ("street-raw", 9, "via street", "via street"))
    assert sh.refused == (("clash", "class 1 is 'b' in alpha, 'c' in beta"),)
    assert sh.skipped == (("eval", "a test space (universal maps into it) in both"),)
    assert sh.only_a == ("alpha-only",) and sh.only_b == ("beta-only",)
    assert len(sh.feeders) == sh.rows_a.shape[0] == sh.rows_b.shape[0] == 5 + 8 + 9
    assert cmp.has_problems(pair)  # the clash


def test_a_space_through_remaps_takes_the_set_of_its_image():
    tax = unitax.load(twins.build("beta"))
    sets, how = cmp.space_sets(tax, "street-raw")
    assert how == "via street"
    assert not sets[0].any()  # unlabeled: ignored by the remap
    assert (sets[1:] == tax.class_sets("street")).all()
    assert cmp.space_sets(tax, "eval") is None


def test_spaces_that_differ_in_ignore_id_or_length_are_refused():
    mseg = unitax.load(GENERATED)
    alpha = unitax.load(twins.build("alpha"))
    assert cmp._difference(mseg, mseg, "ade20k-150", "x", "y") is None

    class Fake:
        def __init__(self, names: tuple[str, ...], ignore: int):
            self._n, self._i = names, ignore

        def names(self, space: str) -> tuple[str, ...]:
            return self._n

        def ignore_index(self, space: str) -> int:
            return self._i

    assert cmp._difference(Fake(("a",), 255), Fake(("a", "b"), 255), "s", "x", "y") == "1 classes in x, 2 in y"
    assert cmp._difference(Fake(("a",), 255), Fake(("a",), 65535), "s", "x", "y") == "ignore id 255 in x, 65535 in y"
    c = cmp.compare("mseg", mseg, "alpha", alpha)
    assert c.shared.compared == () and cmp.has_problems(c)
    assert {r.relation for r in c.a_to_b} == {"absent"}


# ----- the command ------------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["compare", *args])
    return r.exit_code, r.stdout, r.stderr


def test_the_text_report_gives_the_counts_first_and_exits_1_on_a_clash():
    code, out, err = _run(str(twins.build("alpha")), str(twins.build("beta")))
    assert code == 1 and "1 shared label space(s) differ" in err
    lines = out.splitlines()
    assert lines[0] == "unitax compare: alpha (12 universal classes) and beta (13)"
    assert "alpha -> beta: 3 equal, 3 split, 3 merged, 1 overlapping, 2 absent (1 unseen in shared spaces, " \
           "1 ignored by beta)" in lines
    assert "beta -> alpha: 3 equal, 1 split, 7 merged, 1 overlapping, 1 absent (1 unseen in shared spaces, " \
           "0 ignored by alpha)" in lines
    assert "not compared 1: a test space (universal maps into it) in both: eval" in lines
    assert "  split        person -> {pedestrian, rider}" in lines
    assert "  merged       car -> vehicle (with truck)" in lines
    assert "  overlapping  tree ~ tall_plant, small_plant (small_plant also holds indoor:plant)" in lines
    assert "translatable: alpha -> beta 9 of 12 classes (6 to one class, 3 to a set); " \
           "beta -> alpha 11 of 13 classes (10 to one class, 1 to a set)" in lines


def test_json_has_what_the_text_says():
    code, out, _ = _run("--json", str(twins.build("alpha")), str(twins.build("beta")))
    doc = json.loads(out)
    assert code == 1 and doc["unitax"] == "compare"
    assert doc["counts"]["a_to_b"] == {"equal": 3, "split": 3, "merged": 3, "overlapping": 1, "absent": 2}
    assert doc["absent_unseen"] == {"a_to_b": 1, "b_to_a": 1}
    assert doc["spaces"]["refused"] == [{"space": "clash", "why": "class 1 is 'b' in alpha, 'c' in beta"}]
    assert doc["translation"]["a_to_b"]["untranslatable"].keys() == {"tree", "sky", "thing"}
    person = next(r for r in doc["a_to_b"] if r["class"] == "person")
    assert person["relation"] == "split" and person["partners"] == ["pedestrian", "rider"]
    assert person["feeders"] == ["street:pedestrian", "street:rider", "street-raw:pedestrian", "street-raw:rider"]


def test_taxonomies_by_name_or_folder_and_a_clear_error_for_neither(tmp_path):
    code, out, _ = _run("mseg", str(GENERATED))
    assert code == 0, out
    assert out.splitlines()[0] == "unitax compare: mseg (194 universal classes) and generated (194)"
    code, _, err = _run("no-such-taxonomy", "mseg")
    assert code == 2 and "'no-such-taxonomy' is neither a build folder nor a taxonomy" in err
    assert cmp.open_taxonomy(str(GENERATED))[0] == "generated"


def test_the_same_build_twice_is_equal_class_for_class_its_unions_agreeing():
    c = cmp.compare("x", unitax.load(GENERATED), "x", unitax.load(GENERATED))
    assert (c.a.name, c.b.name) == ("x (A)", "x (B)")
    assert all(r.relation == "equal" and r.partners == (r.id,) for r in c.a_to_b + c.b_to_a)
    assert c.unions_in_both > 0 and c.unions_agreed == c.unions_in_both  # ade20k-150-unions, coco-...-unions
    assert c.tables("a_to_b").ids == {i: i for i in range(len(c.a.names))}


def test_unions_on_both_sides_agree_only_as_the_same_union_of_equal_classes():
    feeders = ["s:dog", "s:cat", "s:animal"]
    one_hot = np.array([[1, 0, 0], [0, 1, 0]], dtype=bool)  # dog, cat (and a third class, bird)
    same = np.vstack([one_hot, [[1, 1, 0]]])                # animal -> {dog, cat} in both
    other = np.vstack([one_hot, [[0, 1, 1]]])               # animal -> {cat, bird} in B
    ra, rb, names, both, agreed = cmp.agree_unions(same, same, feeders)
    assert (both, agreed) == (1, 1) and names == ("s:dog", "s:cat", "s:animal", "s:animal")
    rel = cmp.relate(["dog", "cat", "bird"], ["dog", "cat", "bird"], ra, rb, names, "A", "B")
    assert [r.relation for r in rel] == ["equal", "equal", "absent"]
    ra, rb, names, both, agreed = cmp.agree_unions(same, other, feeders)
    assert (both, agreed) == (1, 0) and (ra == same).all() and (rb == other).all()
    rel = cmp.relate(["dog", "cat", "bird"], ["dog", "cat", "bird"], ra, rb, names, "A", "B")
    assert [r.relation for r in rel] == ["overlapping", "overlapping", "absent"]


def test_the_folder_holds_tables_the_runtime_reads(tmp_path):
    out = tmp_path / "cmp"
    code, _, err = _run(str(twins.build("alpha")), str(twins.build("beta")), "-o", str(out))
    assert code == 1 and f"wrote 8 files to {out}" in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a_to_b/ids.npy", "a_to_b/sets.npy", "b_to_a/ids.npy", "b_to_a/sets.npy", "index.html", "report.json",
        "report.txt", "translation.json"]
    alpha, beta = unitax.load(twins.build("alpha")), unitax.load(twins.build("beta"))
    ab = translate.load(out, "alpha", "beta")
    ba = translate.load(out, "beta", "alpha")
    ab.check(alpha, beta)
    ba.check(beta, alpha)
    with pytest.raises(unitax.FingerprintError):
        ab.check(beta)
    a, b = {n: i for i, n in enumerate(alpha.universal_names)}, {n: i for i, n in enumerate(beta.universal_names)}
    want = {"road": "road", "car": "vehicle", "truck": "vehicle", "plant": "small_plant", "floor": "floor",
            "lamp": "lamp"}
    got = ab.labels(np.arange(len(a) + 1, dtype=np.uint8)[:-1].tolist() + [255])
    assert {alpha.universal_names[i]: beta.universal_names[int(g)] for i, g in enumerate(got[:-1]) if g != 255} == want
    assert int(got[-1]) == 255
    sets = ab.label_sets(np.array([a["person"], a["animal"], a["tree"], 255]))
    assert [set(np.flatnonzero(s)) for s in sets] == [{b["pedestrian"], b["rider"]}, {b["dog"], b["cat"]}, set(), set()]
    assert ab.untranslatable.keys() == {"tree", "sky", "thing"}
    assert ab.untranslatable["thing"] == "absent: no shared label space feeds it"
    assert ab.untranslatable["tree"].startswith("overlapping tall_plant, small_plant: small_plant also holds")
    assert ba.labels(np.array([b["dog"], b["cat"], b["vehicle"]])).tolist() == [a["animal"], a["animal"], 255]
    with pytest.raises(unitax.LabelError, match="outside alpha's universal ids"):
        ab.labels(np.array([12]))
    with pytest.raises(unitax.UnknownDatasetError, match="translates between 'alpha' and 'beta'"):
        translate.load(out, "alpha", "gamma")


def test_a_universal_space_wider_than_a_byte_translates_in_uint16(tmp_path):
    alpha, gamma = unitax.load(twins.build("alpha")), unitax.load(twins.build("gamma"))
    c = cmp.compare("alpha", alpha, "gamma", gamma)
    beta = unitax.load(twins.build("beta"))
    assert cmp.counts(c.a_to_b) == cmp.counts(cmp.compare("alpha", alpha, "beta", beta).a_to_b)
    assert cmp.counts(c.b_to_a)["absent"] == 1 + 290  # other, and the extra classes nothing feeds
    cmp.write_folder(tmp_path / "t", c)
    ag, ga = translate.load(tmp_path / "t", "alpha", "gamma"), translate.load(tmp_path / "t", "gamma", "alpha")
    assert ag.ids.dtype == np.uint16 and ag.ids.shape == (256,) and ag.target_ignore == 65535
    assert ga.ids.dtype == np.uint8 and ga.ids.shape == (65536,) and ga.source_ignore == 65535
    g = {n: i for i, n in enumerate(gamma.universal_names)}
    a = {n: i for i, n in enumerate(alpha.universal_names)}
    got = ga.labels(np.array([g["dog"], g["extra_289"], 65535], dtype=np.uint16))
    assert got.tolist() == [a["animal"], 255, 255]
    assert ag.labels(np.array([a["car"], a["sky"], 255], dtype=np.uint8)).tolist() == [g["vehicle"], 65535, 65535]


#: pairs of taxonomies whose translations must keep the laws on every shared dataset class (those of the
#: spaces shared by name and of the corresponding ones: delta's street and indoor, UT's variants).
PAIRS = {
    "alpha-beta": (lambda: unitax.load(twins.build("alpha")), lambda: unitax.load(twins.build("beta"))),
    "alpha-delta": (lambda: unitax.load(twins.build("alpha")), lambda: unitax.load(twins.build("delta"))),
    "delta-alpha": (lambda: unitax.load(twins.build("delta")), lambda: unitax.load(twins.build("alpha"))),
    "mseg-mseg": (lambda: unitax.load(GENERATED), lambda: unitax.load(GENERATED)),
    "mseg-ut": (lambda: unitax.load("mseg"), lambda: unitax.load("ut")),
    "mseg-rvc": (lambda: unitax.load("mseg"), lambda: unitax.load("rvc")),
    "ut-rvc": (lambda: unitax.load("ut"), lambda: unitax.load("rvc")),
}


@pytest.mark.parametrize("pair_name", sorted(PAIRS))
def test_translated_dataset_labels_are_what_the_other_taxonomy_makes_of_them(pair_name):
    """Through every shared dataset class, both ways: a label that translates to one class is the other
    taxonomy's label of that pixel, and a label's set holds every class the other may give the pixel (a
    union both make alike counts as one dataset class per pair of its classes: cmp.agree_unions)."""
    load_a, load_b = PAIRS[pair_name]
    tax_a, tax_b = load_a(), load_b()
    c = cmp.compare("a", tax_a, "b", tax_b)
    rows_a, rows_b, feeders, _, _ = cmp.agree_unions(c.shared.rows_a, c.shared.rows_b, c.shared.feeders)
    checked = 0
    for direction, rows_s, rows_d in (("a_to_b", rows_a, rows_b), ("b_to_a", rows_b, rows_a)):
        t = c.tables(direction)
        for x in range(len(rows_s)):
            dst = np.flatnonzero(rows_d[x]).tolist()
            for u in np.flatnonzero(rows_s[x]).tolist():
                if u in t.ids:
                    assert dst == [t.ids[u]], (direction, feeders[x])
                    checked += 1
                if t.sets[u].any():
                    assert set(dst) <= set(np.flatnonzero(t.sets[u]).tolist()), (direction, feeders[x])
    assert checked > 0


def test_outputs_are_deterministic_and_only_ours_are_replaced(tmp_path):
    a, b = str(twins.build("alpha")), str(twins.build("beta"))
    for d in ("one", "two"):
        _run(a, b, "-o", str(tmp_path / d), "--html", str(tmp_path / f"{d}.html"))
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert one == two and (tmp_path / "one.html").read_bytes() == (tmp_path / "two.html").read_bytes()
    assert (tmp_path / "one.html").read_bytes() == one[next(k for k in one if k.name == "index.html")]
    code, _, _ = _run(a, b, "-o", str(tmp_path / "one"), "--html", str(tmp_path / "one.html"))  # ours: replaced
    assert code == 1 and (tmp_path / "one" / "translation.json").is_file()
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    code, _, err = _run(a, b, "-o", str(foreign))
    assert code == 2 and "a folder `unitax compare` did not write" in err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    page = tmp_path / "page.html"
    page.write_text("<p>someone's page</p>\n")
    code, _, err = _run(a, b, "--html", str(page))
    assert code == 2 and "was not written by `unitax compare`" in err
    assert page.read_text() == "<p>someone's page</p>\n"


_Tags = injection.PageText


def _page(build_dir) -> _Tags:
    tax = unitax.load(build_dir)
    p = _Tags()
    p.feed(cmp.html_page(cmp.compare("a", tax, "b", tax)))
    return p


def test_the_page_holds_only_what_the_template_puts_there(tmp_path):
    """The hostile golden taxonomy (names, parents, notes that are markup) gives the page the benign one
    gives, element for element and attribute for attribute; its names are text, whole."""
    build.compile_taxonomy(injection.GOLDEN_SPECS, tmp_path / "benign")
    build.compile_taxonomy(injection.hostile_specs(tmp_path / "specs"), tmp_path / "hostile")
    benign, hostile = _page(tmp_path / "benign"), _page(tmp_path / "hostile")
    assert benign.tags.count("tr") > 10  # rows of classes and spaces, not an empty page
    assert hostile.tags == benign.tags and "script" not in " ".join(hostile.tags)
    assert injection.NAME in hostile.text


def test_the_page_escapes_a_name_that_closes_its_cell(tmp_path):
    hostile = "lamp</td><script>alert(1)</script>&amp;"
    specs = twins.write_specs("alpha", tmp_path / "specs", {"lamp": hostile})
    build.compile_taxonomy(specs, tmp_path / "evil")
    page = tmp_path / "page.html"
    code, out, _ = _run(str(tmp_path / "evil"), str(twins.build("beta")), "--html", str(page))
    html = page.read_text()
    assert code == 1 and f"{hostile} = lamp" in out  # the text report shows the name as it is
    assert "<script>" not in html and "&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;" in html
    p = _Tags()
    p.feed(html)
    assert hostile in p.text and "script" not in p.tags


# ----- the laws, on random relations ------------------------------------------------------------


@st.composite
def relations(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Two sides' sets for the same shared dataset classes: each row one class, a union, or none."""
    n = draw(st.integers(1, 12))
    ua, ub = draw(st.integers(1, 7)), draw(st.integers(1, 7))

    def side(u: int, unions: bool) -> np.ndarray:
        rows = np.zeros((n, u), dtype=np.bool_)
        for i in range(n):
            k = draw(st.integers(0, min(u, 3) if unions else 1))
            rows[i, draw(st.lists(st.integers(0, u - 1), min_size=k, max_size=k, unique=True))] = True
        return rows

    return side(ua, draw(st.booleans())), side(ub, draw(st.booleans()))


def _relate_both(ra: np.ndarray, rb: np.ndarray) -> tuple[tuple[cmp.Relation, ...], tuple[cmp.Relation, ...]]:
    """Both directions, as :func:`cmp.compare` does: unions that agree resolved first (``ra``, ``rb`` are
    then what the laws hold for: call it on the output of :func:`cmp.agree_unions`)."""
    names_a = [f"a{i}" for i in range(ra.shape[1])]
    names_b = [f"b{i}" for i in range(rb.shape[1])]
    feeders = [f"s:{i}" for i in range(ra.shape[0])]
    return (cmp.relate(names_a, names_b, ra, rb, feeders, "A", "B"),
            cmp.relate(names_b, names_a, rb, ra, feeders, "B", "A"))


def _resolved(rel: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ra, rb = rel
    xa, xb, names, both, agreed = cmp.agree_unions(ra, rb, [f"s:{i}" for i in range(ra.shape[0])])
    assert len(names) == len(xa) == len(xb) and agreed <= both
    if not both:  # nothing to resolve: the rows as they were
        assert (xa == ra).all() and (xb == rb).all()
    return xa, xb


def _translation(rels: tuple[cmp.Relation, ...], n_target: int) -> translate.Translation:
    t = cmp.translation(rels, n_target, [f"t{i}" for i in range(n_target)])
    n = len(rels)
    return translate.Translation("A", "B", tuple(f"a{i}" for i in range(n)), tuple(f"b{i}" for i in range(n_target)),
                                 255, 255, translate.ids_table(t.ids, n, 255, 255), t.sets, t.untranslatable, "", "")


@given(relations())
def test_a_translation_never_invents_a_class_and_loses_none_it_keeps(rel):
    ra, rb = _resolved(rel)
    ab, _ = _relate_both(ra, rb)
    t = cmp.translation(ab, rb.shape[1], [f"b{i}" for i in range(rb.shape[1])])
    for r in ab:
        targets = set(np.flatnonzero(t.sets[r.id]))
        assert (r.id in t.ids) == (r.relation in ("equal", "merged"))
        assert bool(targets) == (r.relation in ("equal", "merged", "split"))
        assert (r.name in t.untranslatable) == (not targets)
        for b in targets:  # never invented: some shared dataset class may feed both
            assert (ra[:, r.id] & rb[:, b]).any()
        for x in np.flatnonzero(ra[:, r.id]):
            if r.id in t.ids:  # exact: every dataset class that may be it is that one class there
                assert np.flatnonzero(rb[x]).tolist() == [t.ids[r.id]]
            if targets:  # none lost: whatever the other side makes of its dataset classes is in the set
                assert set(np.flatnonzero(rb[x])) <= targets


@given(relations())
def test_relations_are_one_each_and_dual_for_one_to_one_sides(rel):
    ra, rb = _resolved(rel)
    ab, ba = _relate_both(ra, rb)
    assert sum(cmp.counts(ab).values()) == ra.shape[1] and sum(cmp.counts(ba).values()) == rb.shape[1]
    for r in ab:
        assert (r.relation == "absent") == (not r.partners)
        if r.relation == "equal":  # equal both ways, and the equal class translates back exactly
            back = ba[r.partners[0]]
            assert back.relation == "equal" and back.partners == (r.id,)
    if (ra.sum(axis=1) <= 1).all() and (rb.sum(axis=1) <= 1).all():
        for r in ab:
            if r.relation == "split":
                assert all(ba[b].relation in ("merged", "equal") and ba[b].partners == (r.id,) for b in r.partners)
            if r.relation == "merged":
                assert ba[r.partners[0]].relation in ("split", "overlapping")


@given(relations(), st.integers(0, 2**32 - 1))
def test_scores_keep_the_total_of_what_translates_and_agree_with_labels(rel, seed):
    ra, rb = _resolved(rel)
    ab, ba = _relate_both(ra, rb)
    tr = _translation(ab, rb.shape[1])
    n = ra.shape[1]
    probs = np.random.default_rng(seed).dirichlet(np.ones(n), size=5).T  # (n_a, 5)
    out = tr.scores(probs, axis=0)
    kept = tr.ids[:n] != 255
    assert out.shape == (rb.shape[1], 5)
    assert np.allclose(out.sum(axis=0), probs[kept].sum(axis=0))
    assert np.allclose(tr.scores(np.log(probs), axis=0, from_logits=True), out)
    one_hot = np.eye(n)  # a class that translates: its whole score lands on its label
    for a in range(n):
        label = int(tr.labels(np.array([a]))[0])
        if label != 255:
            assert tr.scores(one_hot[:, a], axis=0)[label] == 1.0
        else:
            assert tr.scores(one_hot[:, a], axis=0).sum() == 0.0
    back = _translation(ba, n)
    for r in ab:  # equal classes round-trip exactly
        if r.relation == "equal":
            assert int(back.labels(tr.labels(np.array([r.id])))[0]) == r.id
