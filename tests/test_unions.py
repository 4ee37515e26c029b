"""Union mappings (issue 15): specs, rules, compiled class_sets, the relabel consistency check,
the numpy runtime (partial_targets, union_accuracy) and unitax.torch.union_nll."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from support.bundled import N_UNIVERSAL
from support.paths import GENERATED, SPECS
from support.union_city import UNION, UNIVERSAL, write_specs

import unitax
from unitax.compiler import build, unions
from unitax.errors import LabelError
from unitax.tools.authoring import union_import

# ----- a small taxonomy with a union mapping ----------------------------------------------------



def _specs(tmp_path: Path, mapping: str = UNION, extra: dict[str, str] | None = None) -> Path:
    return write_specs(tmp_path, mapping, extra)


def _errors(root: Path) -> list[str]:
    model, problems = build.check_specs(root)
    return [str(p) for p in problems if p.severity == "error"]


def test_a_union_mapping_compiles_to_sets_and_a_lookup_table(tmp_path):
    root = _specs(tmp_path)
    assert _errors(root) == []
    model, files, _ = build.render(root)
    out = tmp_path / "out"
    build.write_tree(files, out)
    tax = unitax.load(out)
    sets = tax.class_sets("city")
    u = {n: i for i, n in enumerate(tax.universal_names)}
    assert not sets.flags.writeable and sets.dtype == np.bool_ and sets.shape == (4, len(UNIVERSAL))
    assert [set(np.flatnonzero(r)) for r in sets] == [{u["road"]}, {u["car"]}, {u["dog"], u["cat"]}, set()]
    lut = tax.lut("city")  # the class for a set of one, ignore for a larger set and for ignored classes
    assert list(lut[:4]) == [u["road"], u["car"], 255, 255]
    assert tax.is_union("city") and not tax.is_union("other")
    csv = files["sheets/mappings/city_to_universal.csv"].decode()
    assert f'2,animal,255,"{{dog, cat}}",{u["dog"]} {u["cat"]}' in csv
    assert "city" not in files["sheets/master.tsv"].decode().splitlines()[0]  # MSeg's layout: one target a class


@pytest.mark.parametrize("old, new, rule, words", [
    ("kind: union\n", "", "union-in-one-to-one", "'vehicle' maps to a list"),
    ("[dog, cat]", "[]", "empty-set", "'animal' maps to an empty set"),
    ("[dog, cat]", "[dog, dgo]", "unknown-class", "did you mean 'dog'?"),
    ("[car]", "[car, dog]", "overlapping-sets", "overlap on {dog}"),
    ("  - person\n", "  - person\n  - dog\n", "fed-unfed", "'dog' is listed as unfed"),
    ("  - tree\n", "", "undecided-target", "'tree'"),
    ("  vehicle: [car]\n", "", "unmapped-class", "'vehicle'"),
])
def test_union_rules_name_file_line_and_rule(tmp_path, old, new, rule, words):
    assert old in UNION
    errors = _errors(_specs(tmp_path, UNION.replace(old, new)))
    hits = [e for e in errors if f"[{rule}]" in e]
    assert hits and words in hits[0] and "city_to_universal.yaml:" in hits[0], errors


def test_an_overlap_with_a_reason_is_accepted(tmp_path):
    text = UNION.replace("[car]", "[car, dog]") + "overlap_reason:\n  vehicle: dog sleds are labelled vehicle\n"
    assert _errors(_specs(tmp_path, text)) == []
    bad = UNION + "overlap_reason:\n  vehicel: why\n"
    assert any("[unknown-class]" in e and "did you mean 'vehicle'" in e for e in _errors(_specs(tmp_path, bad)))


def test_a_union_mapping_must_go_to_universal(tmp_path):
    text = "source: city\ntarget: other\nkind: union\nmap:\n  road: [road]\nignore: [vehicle, animal, sky]\nunfed: []\n"
    errors = _errors(_specs(tmp_path, extra={"mappings/city_to_other.yaml": text}))
    assert any("[union-target]" in e for e in errors), errors


# ----- the bundled taxonomy (these tests pin facts of the bundled MSeg taxonomy) ---------------


@pytest.fixture(scope="module")
def bundled(mseg_model):
    model = mseg_model
    relabels, _ = build.check_relabel(SPECS, model)
    return model, relabels


def test_one_to_one_class_sets_agree_with_the_lookup_tables(tax):
    checked = []
    for ds in tax.train_datasets:
        sets, lut = tax.class_sets(ds), tax.lut(ds)
        n = sets.shape[0]
        size = sets.sum(axis=1)
        single = size == 1
        assert (lut[:n][single] == sets[single].argmax(axis=1)).all(), ds
        assert (lut[:n][~single] == tax.ignore_index("universal")).all(), ds
        if not tax.is_union(ds):
            assert size.max() <= 1, ds
            checked.append(ds)
    # bundled fact: every MSeg mapping is one-to-one; only the two union variants are not
    assert sorted(set(tax.train_datasets) - set(checked)) == ["ade20k-150-unions", "coco-panoptic-133-unions"]


def test_union_variants_contain_every_relabel_target(bundled):
    model, relabels = bundled
    assert unions.check(model, relabels) == []
    union_maps = [m for m in model.mappings if m.form == "union"]
    assert {m.source for m in union_maps} >= {"ade20k-150-unions", "coco-panoptic-133-unions"}
    # take one class out of the largest set: the check names the record group and the class
    m = union_maps[0]
    s, ts = max(m.sets, key=lambda x: len(x[1]))
    broken = dataclasses.replace(m, sets=tuple((a, b[:-1] if a == s else b) for a, b in m.sets))
    probs = unions.check(dataclasses.replace(model, mappings=tuple(broken if x is m else x for x in model.mappings)),
                         relabels)
    name = model.spaces[m.source].classes[s].name
    assert probs and all(p.rule == "union-relabel" for p in probs)
    assert any(f"'{name}'" in p.message and model.universal.classes[ts[-1]].name in p.message for p in probs)
    assert all(p.line > 0 and p.file.endswith(f"{m.key}.yaml") for p in probs)


def test_the_union_specs_are_what_import_unions_writes():
    files = union_import.render_specs(SPECS, ["ade20k-150", "coco-panoptic-133"])
    for rel, text in files.items():
        assert (SPECS / rel).read_text(encoding="utf-8") == text, rel


def test_union_variants_leave_the_mseg_tables_alone(tax):
    # the one-to-one mapping of the base dataset and the union variant share singletons
    for base in ("ade20k-150", "coco-panoptic-133"):
        a, b = tax.class_sets(base), tax.class_sets(base + "-unions")
        assert a.shape == b.shape and (b | ~a).all()  # every MSeg target lies in the union


def test_class_pages_show_unions():
    text = (GENERATED / "docs" / "md" / "category" / "animal.md").read_text(encoding="utf-8")
    assert "`animal` ⊇ {" in text and "ade20k-150-unions" in text


# ----- numpy runtime ----------------------------------------------------------------------------

DS = "ade20k-150-unions"


def test_partial_targets_dense_and_compact(tax):
    rng = np.random.default_rng(0)
    sets = tax.class_sets(DS)
    label = rng.integers(0, sets.shape[0], (6, 9)).astype(np.uint8)
    label[0, :3] = 255
    dense = tax.partial_targets(label, DS)
    assert dense.shape == (6, 9, sets.shape[1]) and not dense[0, :3].any()
    ok = label != 255
    assert (dense[ok] == sets[label[ok]]).all()
    compact = tax.partial_targets(label, DS, compact=True)
    assert compact.index.shape == label.shape and (compact.dense() == dense).all()
    with pytest.raises(LabelError, match="outside"):
        tax.partial_targets(np.array([[200]], np.uint8), DS)


def test_union_accuracy_matches_a_plain_loop(tax):
    rng = np.random.default_rng(1)
    sets = tax.class_sets(DS)
    label = rng.integers(0, sets.shape[0], (20, 30)).astype(np.uint8)
    label[:2] = 255
    scores = rng.standard_normal((sets.shape[1], 20, 30)).astype(np.float32)
    pred = scores.argmax(axis=0)
    for y in np.unique(label[label != 255])[:5]:  # plant some hits
        k = np.flatnonzero(sets[y])
        if k.size:
            pred[label == y] = k[-1]
    score = tax.union_accuracy(pred, label, DS)
    correct = total = 0
    for p, y in zip(pred.ravel(), label.ravel(), strict=True):
        if y != 255 and sets[y].any():
            total += 1
            correct += bool(sets[y, p])
    assert score.total.sum() == total and score.correct.sum() == correct and score.accuracy == correct / total
    both = score + tax.union_accuracy(scores, label, DS, axis=0)
    assert both.total.sum() == 2 * total


# ----- torch ----------------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch", reason="torch is not installed (pip install 'unitax[torch]')")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_union_nll_is_cross_entropy_for_one_to_one_mappings(tax, reduction):
    torch = _torch()
    import torch.nn.functional as F

    import unitax.torch as ut

    ds = "ade20k-150"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, N_UNIVERSAL, 6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    label = torch.randint(0, len(tax.names(ds)), (2, 6, 5), generator=g)
    label[0, 0] = 255
    loss = ut.union_nll(x, label, ds, reduction=reduction, taxonomy=tax)
    (gx,) = torch.autograd.grad(loss.sum(), x)
    target = torch.from_numpy(tax.to_universal(label.numpy(), ds).astype(np.int64))
    ref = F.cross_entropy(x, target, ignore_index=255, reduction=reduction)
    (gr,) = torch.autograd.grad(ref.sum(), x)
    assert torch.allclose(loss, ref, atol=1e-12) and torch.allclose(gx, gr, atol=1e-12)


def test_union_nll_is_minus_log_of_the_set_probability(tax):
    torch = _torch()
    import unitax.torch as ut

    g = torch.Generator().manual_seed(1)
    sets = torch.from_numpy(np.array(tax.class_sets(DS)))
    x = (3 * torch.randn(3, N_UNIVERSAL, 4, 4, generator=g, dtype=torch.float64)).requires_grad_()
    label = torch.randint(0, sets.shape[0], (3, 4, 4), generator=g)
    label[1, 1, 1] = 255
    label[0, 0, 0] = 1  # ade20k `animal`: a set of 12
    loss = ut.union_nll(x, label, DS, taxonomy=tax)
    mask = sets[label.clamp(max=sets.shape[0] - 1)].movedim(-1, 1)  # (N, U, H, W)
    p = torch.softmax(x, 1)
    keep = (label != 255) & mask.any(1)
    per = -torch.log((p * mask).sum(1).where(keep, torch.ones(())))  # (no log(0) where ignored: its gradient is nan)
    ref = per[keep].mean()
    gx, = torch.autograd.grad(loss, x)
    gr, = torch.autograd.grad(ref, x)
    assert torch.allclose(loss, ref) and torch.allclose(gx, gr)
    small = torch.randn(1, N_UNIVERSAL, 2, 1, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: ut.union_nll(z, label[:1, :2, :1], DS, taxonomy=tax), (small,))


def test_union_nll_edge_cases(tax):
    torch = _torch()
    import unitax.torch as ut

    x = torch.randn(1, N_UNIVERSAL, 2, 2)
    assert torch.isnan(ut.union_nll(x, torch.full((1, 2, 2), 255), DS, taxonomy=tax))  # as cross_entropy
    big = torch.full((1, N_UNIVERSAL, 2, 2), -1e4)
    big[:, 8] = 1e4  # dog, inside `animal`'s set: a finite, ~0 loss
    assert float(ut.union_nll(big, torch.ones(1, 2, 2, dtype=torch.long), DS, taxonomy=tax)) < 1e-6
    with pytest.raises(LabelError):
        ut.union_nll(x, torch.full((1, 2, 2), 200), DS, taxonomy=tax)
    with pytest.raises(LabelError):
        ut.union_nll(x[:, :10], torch.zeros(1, 2, 2, dtype=torch.long), DS, taxonomy=tax)
    with pytest.raises(ValueError):
        ut.union_nll(x, torch.zeros(1, 2, 2, dtype=torch.long), DS, reduction="avg", taxonomy=tax)


def test_a_union_supervises_every_class_of_its_sets(tmp_path):
    from unitax.compiler import analysis

    model, _ = build.check_specs(_specs(tmp_path))
    u = {n: i for i, n in enumerate(UNIVERSAL)}
    sup = analysis.supervisors(model)
    assert sup[u["dog"]] == sup[u["cat"]] == ("city",) and sup[u["road"]] == ("city", "other")
    unsupervised = {f.message.split("'")[1] for f in analysis.findings(model) if f.rule == "unsupervised-class"}
    assert unsupervised == {"person", "sky", "tree"}  # dog and cat are supervised, through animal's set
