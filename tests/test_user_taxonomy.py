"""The user's taxonomy: taxonomy/ and generated/ of this checkout, whatever they hold (and the other
bundled taxonomies, taxonomies/<name>/ and builds/<name>/: the same invariants hold for each).

These are the only tests that read taxonomy/ and generated/ (marker ``live_taxonomy``; every
other test is a product test on fixture taxonomies, and fails if it reads them: tests/conftest.py).
They assert only what holds for any valid taxonomy, never a count or a name: the specs validate,
generated/ is what they compile to, the build loads and verifies, every table is total and in
range, back-maps invert the forward tables, round trips are exact where nothing is lost, dtypes
and ignore ids agree, and the docs have a page for every class and dataset. They pass on the
bundled MSeg taxonomy and on any valid edit of it (``make test-fork`` applies some in clones).

One test asks whether taxonomy/ is still the bundled MSeg taxonomy (the frozen copy the product
tests use): it skips where it is not, and fails instead in the project's CI (UNITAX_EXPECT_MSEG=1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from support import session
from support.mseg import EXPECT_ENV, SKIP_REASON, differences, expect_mseg
from support.paths import LIVE_SPECS, MSEG_SPECS, ROOT

import unitax
from unitax import bundled
from unitax.compiler import build
from unitax.compiler.emit.docs import slug
from unitax.tools.cli import main

pytestmark = pytest.mark.live_taxonomy


#: every bundled taxonomy of the checkout: (name, spec root, build) as runtime/bundled.py lists them
BUNDLED = [(b.name, ROOT.joinpath(*b.specs.split("/")), ROOT.joinpath(*b.build.split("/"))) for b in bundled.BUNDLED]


@pytest.fixture(scope="module", params=BUNDLED, ids=[b[0] for b in BUNDLED])
def where(request: pytest.FixtureRequest) -> tuple[str, Path, Path]:
    """(name, specs, build) of one bundled taxonomy of the checkout (MSeg's taxonomy/ and generated/, and
    each of taxonomies/<name>/ with builds/<name>/): the invariants below hold for each."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def live(where: tuple[str, Path, Path]) -> unitax.Taxonomy:
    return unitax.load(where[2])


def _forward(tax: unitax.Taxonomy) -> list[str]:
    """The datasets with a mapping into universal."""
    out = []
    for d in tax.datasets:
        try:
            tax.lut(d)
        except unitax.UnitaxError:
            continue
        out.append(d)
    return out


def _ignore(tax: unitax.Taxonomy) -> int:
    return tax.ignore_index("universal")


def test_the_live_specs_are_the_bundled_mseg_taxonomy():
    """taxonomy/ equals tests/fixtures/mseg-specs (refresh it with `python tests/support/freeze_mseg.py`)."""
    diff = differences(LIVE_SPECS, MSEG_SPECS)
    if not diff:
        return
    if expect_mseg():
        pytest.fail(f"{EXPECT_ENV}=1 but taxonomy/ differs from the frozen MSeg copy the product tests use "
                    f"({len(diff)} file(s): {', '.join(diff[:8])}{' ...' if len(diff) > 8 else ''}); if the change "
                    "to the bundled taxonomy is intended, run `python tests/support/freeze_mseg.py` and commit "
                    "the copy",
                    pytrace=False)
    pytest.skip(SKIP_REASON)


@pytest.mark.parametrize("name", [b[0] for b in BUNDLED if b[0] != "mseg"])
def test_the_live_specs_of_the_other_bundled_taxonomies_are_their_frozen_copies(name):
    """taxonomies/<name>/ equals tests/fixtures/<name>-specs (refresh: `python tests/support/freeze_mseg.py`)."""
    diff = differences(ROOT / "taxonomies" / name, session.frozen_specs(name))
    if not diff:
        return
    if expect_mseg():
        pytest.fail(f"{EXPECT_ENV}=1 but taxonomies/{name}/ differs from its frozen copy ({', '.join(diff[:8])}); "
                    "run `python tests/support/freeze_mseg.py` and commit the copy", pytrace=False)
    pytest.skip(f"taxonomies/{name}/ is no longer the bundled {name} taxonomy")


def test_check_passes_on_the_users_specs_and_build(where):
    """The specs validate and the build is exactly what they compile to (`make compile` after an edit)."""
    _, specs, out = where
    r = CliRunner().invoke(main, ["check", "--specs", str(specs), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "is up to date" in r.output


def test_the_bundled_taxonomies_declare_each_shared_label_space_alike():
    """A label space name is one space (names, ids) in every bundled taxonomy (`unitax check --bundled`)."""
    from unitax.tools.commands.authoring import shared_space_problems

    assert shared_space_problems([specs for _, specs, _ in BUNDLED]) == []


def test_generated_is_byte_identical_to_a_fresh_compile(where):
    _, specs, out = where
    _, files, _ = build.render(specs)
    assert files == build.read_tree(out), f"{out} is stale: run make compile"


def test_the_build_loads_and_matches_the_specs(live, where):
    model, problems = build.check_specs(where[1])
    assert model is not None, [str(p) for p in problems]
    assert live.universal_names == tuple(model.universal.names)
    assert set(live.datasets) == set(model.spaces) - {"universal"}
    assert live.fingerprint == unitax.names_fingerprint(live.universal_names)
    assert len(set(live.universal_names)) == len(live.universal_names)


def test_every_dataset_table_is_total_and_in_range(live):
    n, ignore = len(live.universal_names), _ignore(live)
    for d in _forward(live):
        lut, k = live.lut(d), len(live.names(d))
        assert not lut.flags.writeable, d
        assert ((lut[:k] < n) | (lut[:k] == ignore)).all(), d  # every class: a universal class or ignore
        assert (lut[k:] == ignore).all(), d  # beyond the dataset's ids: ignore, never 0
    for t in live.test_datasets:
        m, k = live.matrix(t), len(live.names(t))
        assert m.shape == (k, n) and set(np.unique(m)) <= {0, 1}, t
        assert (m.sum(axis=0) <= 1).all(), t  # a universal class counts as at most one test class
        tl = live.test_lut(t)
        for u in range(n):
            fed = np.flatnonzero(m[:, u])
            assert tl[u] == (fed[0] if fed.size else live.ignore_index(t)), (t, live.universal_names[u])
    for src, dst in live.remaps:
        r, k = live.remap_lut(src, dst), len(live.names(src))
        assert ((r[:k] < len(live.names(dst))) | (r[:k] == live.ignore_index(dst))).all(), (src, dst)


def test_labels_convert_in_every_dtype_and_ignore_stays_ignore(live):
    for d in _forward(live):
        k, ign = len(live.names(d)), live.ignore_index(d)
        assert ign in (255, 65535) and k <= ign, d
        dtype = np.uint8 if ign == 255 else np.uint16
        label = np.array([*range(k), ign], dtype=dtype)
        out = live.to_universal(label, d)
        assert out[-1] == _ignore(live), d
        assert (out[:-1] == live.lut(d)[:k]).all(), d


def test_back_maps_invert_the_forward_tables_and_round_trips_are_exact_where_nothing_is_lost(live):
    n = len(live.universal_names)
    for d in _forward(live):
        sets, k, back = live.class_sets(d), len(live.names(d)), live.back_map(d)
        for u in range(n):  # the lowest class whose set holds u (its one class, for one-to-one mappings)
            srcs = np.flatnonzero(sets[:, u])
            assert back[u] == (srcs[0] if srcs.size else live.ignore_index(d)), (d, live.universal_names[u])
        info = live.back_map_info(d)
        labels = np.arange(k, dtype=np.uint8 if live.ignore_index(d) == 255 else np.uint16)
        trip = live.from_universal(live.to_universal(labels, d), d)
        if info["lossless"] and not live.is_union(d):  # a union class (a set) has no single universal id
            assert (trip == labels).all(), d


def test_scores_and_labels_agree_for_every_test_dataset(live):
    n = len(live.universal_names)
    one_hot = np.eye(n, dtype=np.float32)  # (n, n): universal class u certain at pixel u
    for t in live.test_datasets:
        scores = live.to_test(one_hot, t, axis=0)
        labels = live.to_test_labels(np.arange(n, dtype=np.uint16), t)
        fed = live.matrix(t).sum(axis=0) > 0
        assert (labels[fed] == scores.argmax(axis=0)[fed]).all(), t
        assert (labels[~fed] == live.ignore_index(t)).all(), t


def test_docs_have_a_page_for_every_class_and_dataset(live, where):
    html = where[2] / "docs" / "html"
    assert (html / "index.html").is_file()
    for i, name in enumerate(live.universal_names):
        assert (html / "class" / f"{i}-{slug(name)}.html").is_file(), name
    for d in live.datasets:
        assert (html / "dataset" / f"{d}.html").is_file(), d
