"""`unitax examples` (pictures of every universal class from prepared trees) and `unitax docs --examples`.

Synthetic prepared trees (a space beside its -relabeled space, as `unitax prepare` lays them out)
run on the frozen MSeg build; one slow test prepares the real ADE20K and COCO samples and opens a
class page in Chromium."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from support.paths import ROOT, SPECS

from unitax.compiler import build
from unitax.compiler.emit import docs as emit_docs
from unitax.tools.cli import main

BASE, REL = "ade20k-150", "ade20k-150-relabeled"
H, W = 40, 48


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _tree(tax, root: Path, n: int = 6, moved: tuple[int, ...] = (0, 1), photos: bool = True) -> Path:
    """A prepared-looking tree: wall everywhere, sky along the top (cut by the border), a person blob
    (medium, not cut) that the relabeled space moves to bicyclist in the samples ``moved``."""
    a, b = tax.names(BASE), tax.names(REL)
    lines_a, lines_b = [], []
    for i in range(n):
        lab = np.full((H, W), a.index("wall"), np.uint8)
        lab[:8] = a.index("sky")
        lab[15:25, 10 + i: 20 + i] = a.index("person")
        rel = np.vectorize(lambda v: b.index(a[v]))(lab).astype(np.uint8)
        if i in moved:
            rel[15:25, 10 + i: 20 + i] = b.index("bicyclist")
        img, la, lb = f"images/training/s{i}.jpg", f"ann/training/s{i}.png", f"ann_rel/training/s{i}.png"
        for p, arr in ((la, lab), (lb, rel)):
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(root / p)
        if photos:
            (root / img).parent.mkdir(parents=True, exist_ok=True)
            yy, xx = np.mgrid[0:H, 0:W]
            rgb = np.stack([xx * 5, yy * 6, (xx + yy + 20 * i) % 256], -1).astype(np.uint8)
            Image.fromarray(rgb).save(root / img, quality=90)
        lines_a.append(f"{img} {la}")
        lines_b.append(f"{img} {lb}")
    for space, lines in ((BASE, lines_a), (REL, lines_b)):
        (root / space / "list").mkdir(parents=True, exist_ok=True)
        (root / space / "list" / "train.txt").write_text("".join(x + "\n" for x in lines))
    return root


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".unitax-remap")}


@pytest.fixture(scope="module")
def made(tax, tmp_path_factory):
    base = tmp_path_factory.mktemp("examples")
    tree = _tree(tax, base / "tree")
    out = base / "ex"
    r = _run("examples", str(tree), "-o", str(out), "-k", "2", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    return tree, out, r.output, json.loads((out / "index.json").read_text())


def test_every_class_present_gets_k_picks_from_distinct_samples(tax, made):
    tree, out, output, index = made
    lut = tax.lut(REL)
    b = tax.names(REL)
    want = {int(lut[b.index(n)]) for n in ("wall", "sky", "person", "bicyclist")}
    assert {int(k) for k in index["classes"]} == want
    for uid, c in index["classes"].items():
        assert c["name"] == tax.universal_names[int(uid)]
        assert len(c["picks"]) == 2
        assert len({p["source"] for p in c["picks"]}) == 2     # distinct samples while there are enough
        for p in c["picks"]:
            assert p["space"] == REL and p["photo"] is True and p["source"].startswith("tree/images/")
            assert (out / p["file"]).read_bytes()[:3] == b"\xff\xd8\xff"   # JPEG
    bicyclist = index["classes"][str(int(lut[b.index("bicyclist")]))]["picks"]
    assert sorted(p["source"] for p in bicyclist) == ["tree/images/training/s0.jpg", "tree/images/training/s1.jpg"]
    assert {p["from_class"] for p in bicyclist} == {"person"}   # what the relabel records moved them from
    assert "pictures:" in output and "of the 25.00 MB budget" in output


def test_picks_prefer_medium_regions_that_the_border_does_not_cut(tax, made):
    """The person blob (5 % of the image, inside) is tier 0; sky (cut by the top border) ranks later."""
    from unitax.tools.data.examples.pick import tier

    assert tier([0, 100, 10, 15, 20, 25, 0], H, W) == 0
    assert tier([0, 8 * W, 0, 0, W, 8, 1], H, W) == 2
    assert tier([0, 3, 10, 15, 11, 18, 0], H, W) == 1
    _, _, _, index = made
    person = index["classes"][str(int(tax.lut(REL)[tax.names(REL).index("person")]))]["picks"]
    for p in person:
        x0, y0, x1, y1 = p["box"]
        assert (y0, y1) == (15, 25) and x1 - x0 == 10


def test_relabel_moves_are_before_after_pairs(tax, made):
    _, out, _, index = made
    moves = {(m["before"], m["after"]): m for m in index["relabel"]}
    assert list(moves) == [("person", "bicyclist")]
    m = moves[("person", "bicyclist")]
    assert m["base"] == BASE and m["space"] == REL
    assert m["before_universal"] == int(tax.lut(BASE)[tax.names(BASE).index("person")])
    assert m["after_universal"] == int(tax.lut(REL)[tax.names(REL).index("bicyclist")])
    assert len(m["picks"]) == 2
    with Image.open(out / m["picks"][0]["file"]) as pair:
        assert pair.width > 2 * pair.height * 0.9   # two crops side by side


def test_union_classes_name_the_universal_set_they_allow(tax, made):
    _, _, _, index = made
    sets = tax.class_sets("ade20k-150-unions")
    rows = index["unions"]["ade20k-150-unions"]
    assert rows and all(r["allows"] == [int(u) for u in np.flatnonzero(sets[r["class_id"]])] for r in rows)
    assert all(len(r["allows"]) > 1 for r in rows)
    person = tax.names("ade20k-150-unions").index("person")
    if sets[person].sum() > 1:
        assert next(r for r in rows if r["class_id"] == person)["picks"]
    assert set(index["datasets"]) == {BASE, REL}


def test_a_second_run_gives_the_same_bytes_and_a_rerun_skips_everything(tax, made, tmp_path):
    tree, out, _, _ = made
    again = tmp_path / "again"
    r = _run("examples", str(tree), "-o", str(again), "-k", "2", "-j", "2", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    assert _files(again) == _files(out)
    r = _run("examples", str(tree), "-o", str(again), "-k", "2", "--no-progress")
    assert r.exit_code == 0 and "scan: 0 task(s) done, 1 already done" in r.output, r.output
    assert "render: 0 task(s) done" in r.output
    # a changed label is scanned and drawn again
    p = tree / "ann_rel/training/s3.png"
    os.utime(p, ns=(1, 1))
    r = _run("examples", str(tree), "-o", str(again), "-k", "2", "--no-progress")
    assert "scan: 1 task(s) done" in r.output, r.output
    assert _files(again) == _files(out)


def test_the_budget_drops_the_last_ranked_picks(tax, made, tmp_path):
    tree, out, _, full = made
    small = tmp_path / "small"
    budget = full["bytes"] // 2
    r = _run("examples", str(tree), "-o", str(small), "-k", "2", "--budget", str(budget / 1e6), "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    assert "budget: dropped" in r.output
    index = json.loads((small / "index.json").read_text())
    assert 0 < index["bytes"] <= budget and sum(index["dropped"].values()) > 0
    listed = {p["file"] for c in index["classes"].values() for p in c["picks"]}
    on_disk = {f for f in _files(small) if f.endswith(".jpg")}
    assert listed <= on_disk
    kept = sum(len(c["picks"]) for c in index["classes"].values())
    assert kept < sum(len(c["picks"]) for c in full["classes"].values())
    assert sum(os.path.getsize(small / f) for f in on_disk) <= budget   # the dropped files are gone


def test_no_images_draws_the_labels_and_says_so(tax, tmp_path):
    tree = _tree(tax, tmp_path / "t", n=2, photos=False)
    r = _run("examples", str(tree), "-o", str(tmp_path / "ex"), "--no-progress", "-j", "1")
    assert r.exit_code == 0, r.output + r.stderr
    index = json.loads((tmp_path / "ex/index.json").read_text())
    assert all(p["photo"] is False for c in index["classes"].values() for p in c["picks"])


def test_refusals(tax, tmp_path):
    tree = _tree(tax, tmp_path / "t", n=1)
    other = tmp_path / "other"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    r = _run("examples", str(tree), "-o", str(other), "--no-progress")
    assert r.exit_code == 2 and "not empty" in r.stderr and (other / "mine.txt").read_text() == "keep"
    r = _run("examples", str(tree), "-o", str(tree / "ex"), "--no-progress")
    assert r.exit_code == 2 and "overlap" in r.stderr
    (tree / REL / "list" / "train.txt").write_text("../../etc/passwd ann_rel/training/s0.png\n")
    r = _run("examples", str(tree), "-o", str(tmp_path / "x"), "--no-progress")
    assert r.exit_code == 2 and "'..'" in r.stderr and "train.txt, line 1" in r.stderr, r.stderr


# ----- unitax docs ---------------------------------------------------------------------------------


def _site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_docs_without_examples_are_the_compiled_docs(tmp_path):
    r = _run("docs", "--specs", str(SPECS), "-o", str(tmp_path / "site"))
    assert r.exit_code == 0, r.output + r.stderr
    model, _ = build.check_specs(SPECS)
    want = {k.removeprefix("docs/"): v for k, v in emit_docs.render(model).items()}
    got = _site_files(tmp_path / "site")
    assert got.pop(".unitax-docs")
    assert got == want


def test_docs_show_the_pictures_by_dataset_class(tax, made, tmp_path):
    _, out, _, index = made
    site = tmp_path / "site"
    r = _run("docs", "--specs", str(SPECS), "--examples", str(out), "-o", str(site))
    assert r.exit_code == 0, r.output + r.stderr
    model, _ = build.check_specs(SPECS)
    uid = int(tax.lut(REL)[tax.names(REL).index("person")])
    page = (site / "html" / emit_docs.Paths(model).cls(uid)).read_text()
    uname = model.universal.classes[uid].name
    for p in index["classes"][str(uid)]["picks"]:
        assert f'src="../examples/{p["file"]}"' in page
        assert (site / "html/examples" / p["file"]).read_bytes() == (out / p["file"]).read_bytes()
        assert p["from_space"] == BASE and p["from_class"] == "person"
        assert f'alt="{uname}: person of {BASE}, person of {REL} (train), from {p["source"]}"' in page
    # grouped by the class of the space before relabeling, linked to its row
    assert f'<a href="../dataset/{BASE}.html#id-{tax.names(BASE).index("person")}">person ({BASE})</a>' in page
    assert f"(as person in {REL})" in page
    bic = int(tax.lut(REL)[tax.names(REL).index("bicyclist")])
    for u in (uid, bic):   # the relabel pair shows on both classes' pages
        assert "person → bicyclist" in (site / "html" / emit_docs.Paths(model).cls(u)).read_text()
    assert "Label overlays" in (site / "html/dataset" / f"{BASE}.html").read_text()
    assert " allows {" in (site / "html/dataset/ade20k-150-unions.html").read_text()
    assert 'class="th"' in (site / "html/index.html").read_text()
    # a rerun replaces its own output; a folder of other files is refused
    r = _run("docs", "--specs", str(SPECS), "-o", str(site))
    assert r.exit_code == 0 and not (site / "html/examples").exists()
    r = _run("docs", "--specs", str(SPECS), "-o", str(tmp_path))
    assert r.exit_code == 2 and "refusing" in r.stderr


def test_a_hostile_index_is_refused_with_every_problem(tax, made, tmp_path):
    _, out, _, index = made
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    (tmp_path / "secret.jpg").write_bytes(b"\xff\xd8\xff secret")
    first = next(iter(index["classes"]))
    index["classes"][first]["picks"][0]["file"] = "../secret.jpg"
    index["classes"][first]["picks"][1]["class"] = "no-such-class"
    index["relabel"][0]["space"] = "no-such-space"
    (bad / "index.json").write_text(json.dumps(index))
    site = tmp_path / "site"
    r = _run("docs", "--specs", str(SPECS), "--examples", str(bad), "-o", str(site))
    assert r.exit_code == 2, r.output
    assert "3 problem(s)" in r.stderr and "'..' component" in r.stderr and "no-such-class" in r.stderr
    assert "no-such-space" in r.stderr and not site.exists()
    (bad / "index.json").write_text("[" * 100_000)
    r = _run("docs", "--specs", str(SPECS), "--examples", str(bad), "-o", str(site))
    assert r.exit_code == 2 and "Traceback" not in r.output + r.stderr


def test_docs_never_write_into_generated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _run("docs", "--specs", str(SPECS), "-o", "generated/site")
    assert r.exit_code == 2 and "generated/" in r.stderr and not (tmp_path / "generated").exists()


# ----- the real samples, in a browser ---------------------------------------------------------------


@pytest.mark.slow
def test_real_samples_in_chromium(reference, tax, tmp_path):
    """Prepare the real ADE20K and COCO samples, draw their examples twice (same bytes), build the docs,
    and look at the person page in Chromium: the pictures load, name class and source, and show."""
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(exe):
        pytest.skip("chromium is not installed: `make browser` (or `apt-get install chromium`) installs it")
    from support.cdp import Browser

    samples = reference / "samples"
    ade, coco = tmp_path / "ade", tmp_path / "coco"
    for args in (("ade20k", str(samples / "ADE20K_test_data"), str(ade)),
                 ("coco-panoptic", str(samples / "COCOPanoptic_test_data"), str(coco), "--images", "none")):
        r = _run("prepare", *args, "--partial", "-j", "1", "--no-progress")
        assert r.exit_code == 0, r.output + r.stderr
    runs = []
    for name in ("ex1", "ex2"):
        r = _run("examples", str(ade), str(coco), "-o", str(tmp_path / name), "--no-progress")
        assert r.exit_code == 0, r.output + r.stderr
        runs.append(_files(tmp_path / name))
    assert runs[0] == runs[1] and len(runs[0]) > 20
    index = json.loads((tmp_path / "ex1/index.json").read_text())
    assert index["relabel"], "the COCO sample's relabel records move segments"
    site, plain = tmp_path / "site", tmp_path / "plain"
    for args in (("--examples", str(tmp_path / "ex1"), "-o", str(site)), ("-o", str(plain))):
        r = _run("docs", "--specs", str(SPECS), *args)
        assert r.exit_code == 0, r.output + r.stderr
    model, _ = build.check_specs(SPECS)
    uid = model.universal.index["person"] if hasattr(model.universal, "index") else \
        next(c.id for c in model.universal.classes if c.name == "person")
    rel = emit_docs.Paths(model).cls(uid)
    with Browser(exe, tmp_path / "profile") as b:
        page = b.new_page()
        page.goto((plain / "html" / rel).as_uri())
        before = page.screenshot(tmp_path / "plain.png")
        page.goto((site / "html" / rel).as_uri())
        page.eval("Promise.all([...document.images].map(i => i.decode()))")
        imgs = page.eval("[...document.querySelectorAll('#examples ~ .exs img, .exs img')].map(i => "
                         "({w: i.naturalWidth, alt: i.alt, y: i.getBoundingClientRect().top}))")
        after = page.screenshot(tmp_path / "site.png")
        assert page.errors() == []
    assert imgs and all(i["w"] > 0 for i in imgs), imgs
    sources = {p["source"] for p in index["classes"][str(uid)]["picks"]}
    assert all(i["alt"].startswith("person: ") for i in imgs[: len(sources)])
    assert all(any(s in i["alt"] for s in sources) for i in imgs[: len(sources)])
    with Image.open(before) as im_a, Image.open(after) as im_z:
        a = np.asarray(im_a.convert("RGB")).astype(int)
        z = np.asarray(im_z.convert("RGB")).astype(int)
    top = int(min(i["y"] for i in imgs))
    assert 0 <= top < a.shape[0] - 40
    region = (slice(top, min(a.shape[0], top + 120)), slice(0, a.shape[1]))
    assert np.abs(a[region] - z[region]).sum(-1).astype(bool).mean() > 0.05   # the pictures are on screen
    # colourful pixels (not the page's greys and link blue) where the pictures are
    spread = z[region].max(-1) - z[region].min(-1)
    assert (spread > 40).mean() > 0.01
    assert ROOT.exists()


def test_a_broken_label_is_named_and_the_rest_drawn(tax, tmp_path):
    tree = _tree(tax, tmp_path / "t", n=3)
    bad = tree / "ann_rel/training/s1.png"
    bad.write_bytes(bad.read_bytes()[:60])   # cut off after its header
    r = _run("examples", str(tree), "-o", str(tmp_path / "ex"), "--no-progress", "-j", "1")
    assert r.exit_code == 1, r.output + r.stderr
    assert f"problem: {bad}: " in r.stderr and "Traceback" not in r.stderr
    index = json.loads((tmp_path / "ex/index.json").read_text())
    sources = {p["source"] for c in index["classes"].values() for p in c["picks"]}
    assert sources == {"t/images/training/s0.jpg", "t/images/training/s2.jpg"}


@pytest.mark.parametrize("family", ["ade20k", "cityscapes", "coco-panoptic"])
def test_trees_that_prepare_wrote(family, tax, tmp_path):
    """Synthetic downloads (tests/fixtures/make_native.py) through `unitax prepare`, then examples: every
    shown space of the family, and before/after pairs of the segments its relabel records moved."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import make_native

    from unitax.tools.data.prepare.plans import FAMILIES

    native = make_native.build_tree(family, tmp_path / "native", tax)
    out = tmp_path / "out"
    r = _run("prepare", family, str(native), str(out), "--partial", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    ex = tmp_path / "ex"
    r = _run("examples", str(out), "-o", str(ex), "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    index = json.loads((ex / "index.json").read_text())
    fam = FAMILIES[family]
    relabeled = sorted(s for s in fam.all_spaces if s.endswith("-relabeled"))
    assert sorted(line.split()[1] for line in r.output.splitlines() if line.startswith("space ")) == relabeled
    assert index["classes"] and {p["space"] for c in index["classes"].values() for p in c["picks"]} == set(relabeled)
    assert index["relabel"] and {m["space"] for m in index["relabel"]} <= set(relabeled)
    for m in index["relabel"]:
        assert m["before_universal"] != m["after_universal"]
        assert all((ex / p["file"]).is_file() for p in m["picks"])
    r = _run("docs", "--specs", str(SPECS), "--examples", str(ex), "-o", str(tmp_path / "site"))
    assert r.exit_code == 0, r.output + r.stderr   # moves from or into ignore ("unlabeled") included
    pages = "".join(p.read_text() for p in (tmp_path / "site/html/class").glob("*.html"))
    assert all(f'{m["before"]} → {m["after"]}' in pages for m in index["relabel"])


@pytest.mark.parametrize("seed", range(20))
def test_bounded_picks_equal_picks_from_every_candidate(seed):
    """Best keeps k samples (and every candidate only while fewer were seen), yet chooses as _take does
    from the whole list: the best k, distinct samples first."""
    from unitax.tools.data.examples.pick import Best, _take
    from unitax.tools.data.examples.scan import Sample

    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    best, every = Best(k), []
    for i in range(int(rng.integers(1, 9))):
        s = Sample(0, "train", f"i{i}.jpg", f"l{i}.png", None)
        n = int(rng.integers(1, 4))
        cands = [(int(rng.integers(0, 4)), f"{rng.integers(0, 1 << 30):08x}", s, [j]) for j in range(n)]
        best.add(cands)
        every += cands
    assert best.take() == _take(every, k)
