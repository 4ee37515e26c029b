"""The runtime works the same on every taxonomy (issue 23): names, ``to_universal``, ``class_sets``,
``partial_targets``, ``union_nll``, ``to_test``, ``from_universal``, the evaluators, every export format
and ``show``, on every label space of each taxonomy in :data:`TAXONOMIES`.

Each test loops over the spaces of one taxonomy and checks what the runtime gives against what the
build's own tables say (a class set, a test matrix, a back-map), so nothing here knows MSeg's spaces
or assumes one-to-one mappings: the twins (tests/support/twins.py) bring a union mapping, a uint16
source space remapped into a train space, a test space, and (gamma) a uint16 universal space.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from support import twins
from support.paths import GENERATED

import unitax
from unitax.tools.data import export, show

#: the taxonomies every test below runs on: name -> how to load it (once per test run). After the
#: taxonomies of issue 23 are merged, add ``"ut": lambda: unitax.load("ut"), "rvc": lambda: unitax.load("rvc")``.
TAXONOMIES: dict[str, Callable[[], unitax.Taxonomy]] = {
    "mseg": lambda: unitax.load(GENERATED),
    "alpha": lambda: unitax.load(twins.build("alpha")),
    "beta": lambda: unitax.load(twins.build("beta")),
    "gamma": lambda: unitax.load(twins.build("gamma")),  # beta with a universal space wider than a byte
    # the bundled UT and RVC taxonomies (in tests: their frozen copies, compiled once per session)
    "ut": lambda: unitax.load("ut"),
    "rvc": lambda: unitax.load("rvc"),
}

_LOADED: dict[str, unitax.Taxonomy] = {}


@pytest.fixture(params=sorted(TAXONOMIES))
def tax(request: pytest.FixtureRequest) -> unitax.Taxonomy:
    if request.param not in _LOADED:
        _LOADED[request.param] = TAXONOMIES[request.param]()
    return _LOADED[request.param]


def _has(tax: unitax.Taxonomy, key: str) -> bool:
    return key in tax._c.taxonomy["tables"]


def _all_ids(tax: unitax.Taxonomy, space: str) -> np.ndarray:
    """Every id of ``space`` and its ignore id, in the space's label dtype."""
    n, ignore = len(tax.names(space)), tax.ignore_index(space)
    return np.array([*range(n), ignore], dtype=np.uint8 if max(n - 1, ignore) <= 255 else np.uint16)


def test_every_space_has_names_colours_a_role_and_an_ignore_id(tax):
    for space in ("universal", *tax.datasets):
        n = len(tax.names(space))
        assert n > 0 and len(set(tax.names(space))) <= n
        assert tax.colors(space).shape == (n, 3) and tax.colors(space).dtype == np.uint8
        assert tax.ignore_index(space) in (255, 65535)
        assert tax.role(space) in ("universal", "train", "test", "source")
    assert set(tax.train_datasets) | set(tax.test_datasets) | set(tax.source_datasets) == set(tax.datasets)


def test_to_universal_and_partial_targets_follow_the_class_sets(tax):
    u_ignore = tax.ignore_index("universal")
    seen_union = False
    for space in tax.datasets:
        if not _has(tax, f"class_sets/{space}"):
            continue
        sets = tax.class_sets(space)
        assert sets.shape == (len(tax.names(space)), len(tax.universal_names)) and sets.dtype == np.bool_
        label = _all_ids(tax, space)
        u = tax.to_universal(label, space)
        sizes = sets.sum(axis=1)
        want = [int(np.flatnonzero(r)[0]) if k == 1 else u_ignore for r, k in zip(sets, sizes, strict=True)]
        assert u.tolist() == [*want, u_ignore], space
        assert tax.is_union(space) == bool((sizes > 1).any()), space
        seen_union |= tax.is_union(space)
        dense = tax.partial_targets(label, space)
        assert dense.shape == (len(label), len(tax.universal_names))
        assert (dense[:-1] == sets).all() and not dense[-1].any(), space
        pt = tax.partial_targets(label, space, compact=True)
        assert (pt.dense() == dense).all()
    if tax.path != GENERATED and "beta" in str(tax.path):
        assert seen_union  # the twin with a union mapping really had one


def test_source_spaces_reach_universal_through_their_remaps(tax):
    for space in tax.source_datasets:
        try:
            route = tax.route(space, "universal")
        except unitax.UnknownDatasetError:
            continue  # a source only remapped into test spaces
        lut = tax.chain_lut(route)
        label = _all_ids(tax, space)
        u = unitax.RemapLabels(space, "universal", path=tax.path)(label)
        assert (np.asarray(u) == lut[label]).all(), space
        assert int(np.asarray(u)[-1]) == tax.ignore_index("universal")


def test_union_nll_is_minus_log_the_probability_of_the_set(tax):
    torch = pytest.importorskip("torch")
    from unitax.torch import union_nll

    gen = torch.Generator().manual_seed(0)
    for space in tax.datasets:
        if not _has(tax, f"class_sets/{space}"):
            continue
        sets = tax.class_sets(space)
        label = torch.from_numpy(_all_ids(tax, space).astype(np.int64))
        logits = torch.randn(len(label), len(tax.universal_names), generator=gen, dtype=torch.float64)
        loss = union_nll(logits, label, space, reduction="none", taxonomy=tax)
        logp = torch.log_softmax(logits, dim=1).numpy()
        for i, row in enumerate(sets):
            want = -np.logaddexp.reduce(logp[i][row]) if row.any() else 0.0
            assert float(loss[i]) == pytest.approx(want, rel=1e-9, abs=1e-12), (space, i)
        assert float(loss[-1]) == 0.0  # the ignore id


def test_to_test_sums_the_matrix_and_labels_agree(tax):
    rng = np.random.default_rng(0)
    n_u = len(tax.universal_names)
    for test in tax.test_datasets:
        m = tax.matrix(test).astype(np.float64)
        probs = rng.dirichlet(np.ones(n_u), size=7).T  # (U, 7)
        out = tax.to_test(probs, test, axis=0)
        assert np.allclose(out, m @ probs), test
        labels = tax.to_test_labels(probs, test, axis=0)
        assert (labels == np.argmax(m @ probs, axis=0)).all(), test
        ids = np.arange(n_u, dtype=np.uint8 if n_u <= 255 else np.uint16)
        got = tax.to_test_labels(ids, test)
        assert (got == tax.test_lut(test)[ids]).all()
        ignore = tax.ignore_index(test)
        for u in range(n_u):  # a universal class counts as the test class whose row holds it, or nowhere
            rows = np.flatnonzero(m[:, u])
            assert int(got[u]) == (int(rows[0]) if rows.size else ignore), (test, u)


def test_from_universal_gives_back_every_class_that_survives(tax):
    for space in tax.datasets:
        if not _has(tax, f"back_map/{space}"):
            continue
        sets = tax.class_sets(space)
        back = tax.back_map(space)
        info = tax.back_map_info(space)
        merged = {n for names in info["merged"].values() for n in names}
        for c, row in enumerate(sets):
            members = np.flatnonzero(row)
            ids = np.asarray(members, dtype=np.uint16)
            got = tax.from_universal(ids, space)
            assert (got == back[ids]).all(), space
            # into a class whose set holds it
            assert all(sets[int(g), int(u)] for g, u in zip(got, members, strict=True)), (space, c)
            if members.size:  # a class fed into universal comes back, unless it shares its classes with another
                assert c in got.tolist() or tax.names(space)[c] in merged, (space, c)


def test_an_evaluator_scores_every_space_mapped_to_or_from_universal(tax):
    for space in tax.datasets:
        mapped = _has(tax, f"back_map/{space}") or _has(tax, f"matrix/{space}")
        if not mapped:
            with pytest.raises(unitax.UnknownDatasetError):
                tax.evaluator(space)
            continue
        gt = _all_ids(tax, space)
        ev = tax.evaluator(space)
        ev.update(gt, gt, pred_space="dataset")
        r = ev.result()
        n = len(tax.names(space))
        assert r.as_dict()["miou"] == pytest.approx(1.0), space
        assert int(r.confusion.sum()) == n and (np.diag(r.confusion) == 1).all()
        # universal scores: one-hot on a universal class that leads back to each class, scored in the space
        back = tax.back_map(space) if _has(tax, f"back_map/{space}") else tax.test_lut(space)
        n_u = len(tax.universal_names)
        reach = {int(back[u]): u for u in range(n_u - 1, -1, -1) if int(back[u]) < n}
        if not reach:
            continue
        classes = np.array(sorted(reach), dtype=gt.dtype)
        probs = np.zeros((n_u, len(classes)))
        probs[[reach[int(c)] for c in classes], np.arange(len(classes))] = 1.0
        ev2 = tax.evaluator(space)
        ev2.update(probs, classes, axis=0)
        assert ev2.result().as_dict()["pixel_accuracy"] == pytest.approx(1.0), space


@pytest.mark.parametrize("fmt", sorted(export.FORMATS))
def test_every_export_renders_for_every_space(tax, fmt):
    for space in ("universal", *tax.datasets):
        data = export.render(tax, fmt, space)
        assert data == export.render(tax, fmt, space)  # the same bytes again
        if fmt == "huggingface":
            doc = json.loads(data)
            n = len(doc["id2label"])
            assert doc["num_labels"] == n and n in (len(tax.names(space)), len(tax.universal_names))
        else:
            compile(data.decode(), f"<{fmt} {space}>", "exec")
    cats = export.categories(tax, "universal")
    assert len(cats) == len(tax.universal_names)
    for space in tax.datasets:  # a class fed into universal is never 'void' (union classes included)
        if _has(tax, f"class_sets/{space}"):
            sets = tax.class_sets(space)
            for c, cat in enumerate(export.categories(tax, space)):
                assert (cat == "void") == (not sets[c].any()), (space, c)


def test_show_draws_every_space(tax):
    for space in ("universal", *tax.datasets):
        ids = _all_ids(tax, space)[-41:]  # up to 40 classes and the ignore id: the legend stays small
        label = np.resize(ids, (8, len(ids)))
        pic = show.show_picture(tax, label, space)
        k = -(-256 // max(label.shape))  # tiny labels are blown up by a whole factor
        drawn = np.asarray(pic)[: label.shape[0] * k: k, : label.shape[1] * k: k]
        assert pic.mode == "RGB" and (drawn == tax.colorize(label, space)).all(), space
