"""The compiled fingerprint of the universal classes, its check, and moving a checkpoint's rows."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from support.bundled import N_UNIVERSAL
from support.paths import GENERATED

import unitax
from unitax.compiler import analysis
from unitax.compiler.emit import tables as emit


def test_fingerprint_is_the_sha256_of_ids_and_names(tax):
    text = "".join(f"{i}\t{n}\n" for i, n in enumerate(tax.universal_names))
    want = hashlib.sha256(text.encode()).hexdigest()
    assert tax.fingerprint == want == unitax.names_fingerprint(tax.universal_names)
    assert json.loads((GENERATED / "taxonomy.json").read_text("utf-8"))["fingerprint"] == want
    tax.check_fingerprint(want)  # no exception


def test_fingerprint_follows_ids_and_names_only(mseg_model):
    u = mseg_model.universal
    fp = analysis.fingerprint(u)
    assert fp == unitax.names_fingerprint(u.names)
    swapped = list(u.names)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert unitax.names_fingerprint(swapped) != fp
    renamed = list(u.names)
    renamed[5] = "suitcase-or-case"
    assert unitax.names_fingerprint(renamed) != fp


def test_check_fingerprint_names_what_moved(tax):
    old = list(tax.universal_names)
    old[0], old[1] = old[1], old[0]  # a checkpoint whose first two classes were the other way round
    old[7] = "kitty"
    with pytest.raises(unitax.FingerprintError, match=r"2 class\(es\) moved, 1 gone \(kitty\), 1 new \(cat\)"):
        tax.check_fingerprint(unitax.names_fingerprint(old), names=old)
    with pytest.raises(unitax.FingerprintError, match="reorder_rows"):
        tax.check_fingerprint("0" * 64)
    assert issubclass(unitax.FingerprintError, unitax.UnitaxError)


def test_a_compiled_fingerprint_that_disagrees_with_the_names_is_refused(tmp_path):
    dst = tmp_path / "gen"
    shutil.copytree(GENERATED, dst, ignore=shutil.ignore_patterns("__pycache__"))
    t = json.loads((dst / "taxonomy.json").read_text("utf-8"))
    t["fingerprint"] = "f" * 64
    data = emit.json_bytes(t)
    (dst / "taxonomy.json").write_bytes(data)
    m = json.loads((dst / "manifest.json").read_text("utf-8"))  # re-sign, as a careless tool would
    m["files"]["taxonomy.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (dst / "manifest.json").write_bytes(emit.json_bytes(m))
    tax = unitax.load(dst)
    with pytest.raises(unitax.IntegrityError, match="fingerprint"):
        _ = tax.fingerprint  # the property reads and verifies taxonomy.json


def test_reorder_rows_moves_renames_and_fills():
    old = ["a", "b", "c", "d"]
    w = np.arange(8, dtype=np.float32).reshape(4, 2)  # rows: a=[0,1], b=[2,3], c=[4,5], d=[6,7]
    new = ["d", "a", "c", "b"]
    r = unitax.reorder_rows(w, old, new)
    assert r.tolist() == [[6, 7], [0, 1], [4, 5], [2, 3]] and r.dtype == np.float32
    assert unitax.reorder_rows(r, new, old).tolist() == w.tolist()  # and back
    r = unitax.reorder_rows(w, old, ["a", "bee", "e"], renamed={"b": "bee"}, missing="zeros")
    assert r.tolist() == [[0, 1], [2, 3], [0, 0]]
    r = unitax.reorder_rows(w, old, ["e", "c"], missing="mean")
    assert r.tolist() == [[3, 4], [4, 5]]
    bias_t = np.arange(12).reshape(3, 4)  # classes on axis 1
    assert unitax.reorder_rows(bias_t, old, ["b", "a"], axis=1).tolist() == [[1, 0], [5, 4], [9, 8]]
    with pytest.raises(unitax.LabelError, match="no old row: e"):
        unitax.reorder_rows(w, old, ["a", "e"])
    with pytest.raises(unitax.LabelError, match="expected 3 old classes"):
        unitax.reorder_rows(w, old[:3], old)
    with pytest.raises(ValueError, match="missing"):
        unitax.reorder_rows(w, old, old, missing="random")


def test_reorder_rows_on_the_universal_head(tax):
    """A head of one row per universal class, old order reversed: reordering recovers the row of every class by name."""
    names = list(tax.universal_names)
    old = names[::-1]
    head = np.array([[names.index(n)] * 3 for n in old], dtype=np.float64)
    fixed = unitax.reorder_rows(head, old, names)
    assert fixed[:, 0].tolist() == list(range(N_UNIVERSAL))
    tax.check_fingerprint(unitax.names_fingerprint(names))
