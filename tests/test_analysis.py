"""What `unitax check` reports about the taxonomy beyond errors: composition of same-label-set
train/test pairs, unsupervised and unused universal classes, remap conflicts (warnings, with
file:line), and the notes on lossy back-maps and coverage; plus the coverage report files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.paths import GENERATED, SPECS

from unitax.compiler import analysis, build
from unitax.compiler.emit import coverage as emit_coverage
from unitax.tools.cli import main


@pytest.fixture(scope="module")
def model(mseg_model):
    return mseg_model


def subset(tmp: Path, *rels: str) -> Path:
    """A copy of some real spec files under ``tmp/taxonomy``."""
    root = tmp / "taxonomy"
    for rel in ("universal.yaml",) + rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPECS / rel, root / rel)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), "utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(i for i, t in enumerate(path.read_text("utf-8").splitlines(), 1) if needle in t)


# ----- the MSeg taxonomy itself --------------------------------------------------------------


def test_same_label_set_pairs_of_mseg(model):
    pairs = {(a, b) for a, b, _ in analysis.same_label_set_pairs(model)}
    assert pairs == {
        ("bdd", "kitti-19"), ("bdd", "wilddash-19"), ("cityscapes-19", "kitti-19"), ("cityscapes-19", "wilddash-19"),
        ("nyudepthv2-37", "test-nyudepthv2-37"), ("scannet-37", "test-nyudepthv2-37"),
        ("sunrgbd-37", "test-nyudepthv2-37"),
    }
    routes = analysis.composition(model)
    assert len(routes) == 19 * 4 + 38 + 37 + 37
    # the driving pairs compose to the identity, class by class
    for r in routes:
        if r.test in ("kitti-19", "wilddash-19"):
            assert r.ok and r.arrives == r.expected is not None, r


def test_mseg_warnings_are_exactly_two_composition_anomalies(model):
    """Real findings: NYUv2-37 and ScanNet-37 ignore 'table' on the way into universal, while
    universal 'table' is evaluated as test-nyudepthv2-37 'table'."""
    ws = analysis.warnings(model, SPECS)
    for w in ws:
        assert w.severity == "warning" and w.rule in analysis.ANALYSIS_RULES
    shown = [(Path(w.file).name, w.line, w.path, w.rule) for w in ws]
    nyu = SPECS / "mappings" / "nyudepthv2-37_to_universal.yaml"
    scannet = SPECS / "mappings" / "scannet-37_to_universal.yaml"
    assert shown == [
        (nyu.name, line_of(nyu, "  - table"), "$.ignore[0]", "composition"),
        (scannet.name, line_of(scannet, "  - table"), "$.ignore[0]", "composition"),
    ]
    assert ws[0].message == ("nyudepthv2-37 'table' -> ignore, but test-nyudepthv2-37 has class 'table' "
                             "(same label set: 97% of names shared)")


def test_mseg_supervision_and_use(model):
    sup = analysis.supervisors(model)
    assert all(sup) and len(sup) == 194  # every universal class has a train dataset
    assert all(analysis.consumers(model))  # and some test mapping reads it (VOC maps all to background)
    cov = analysis.coverage(model)
    assert cov.catch_all == {"camvid-11": (), "kitti-19": (), "pascal-context-60": (1,), "scannet-20": (),
                             "test-nyudepthv2-37": (), "voc2012": (0,), "wilddash-19": ()}
    assert int(cov.evaluated().sum()) == 125
    share = cov.test_share()
    assert share["voc2012"] == (194 - 167, 194) and share["camvid-11"] == (12, 12)


def test_check_prints_warnings_and_notes_but_passes(model):
    r = CliRunner().invoke(main, ["check", "--specs", str(SPECS), "--out", str(GENERATED)])
    assert r.exit_code == 0, r.output
    assert r.stderr.count("[composition]") == 2
    # ade20k-150 and its union variant (the same class list): awning and curtain are both (140, 140, 140)
    assert r.stderr.count("[duplicate-color]") == 2
    # all four are accepted in the specs (accept: with a reason) and still shown, as accepted
    assert r.stderr.count(": accepted: ") == 4 and "0 warning(s), 4 accepted" in r.stdout
    notes = [line for line in r.stdout.splitlines() if line.startswith("note: ")]
    assert notes[0].startswith("note: back-maps: 11 of 20 lossless; lossy: ade20k-150 (38 classes merged into 14, "
                               "9 dropped)")
    assert "7 same-label-set pair(s)" in notes[1] and "188 class routes, 2 not the identity" in notes[1]
    assert "125 of 194 universal classes are evaluated" in notes[2] and "69 feed only catch-all" in notes[2]
    r = CliRunner().invoke(main, ["check", "--specs", str(SPECS), "--out", str(GENERATED), "--strict"])
    assert r.exit_code == 0, r.output  # accepted warnings do not fail --strict


# ----- each warning on an edited copy -----------------------------------------------------------


def test_composition_warning_names_the_route_and_the_line(tmp_path):
    root = subset(tmp_path, "datasets/cityscapes-19.yaml", "datasets/kitti-19.yaml",
                  "mappings/cityscapes-19_to_universal.yaml", "mappings/universal_to_kitti-19.yaml")
    m, problems = build.check_specs(root)
    assert m is not None and problems == []
    assert [w for w in analysis.warnings(m, root) if w.rule == "composition"] == []
    f = root / "mappings" / "cityscapes-19_to_universal.yaml"
    edit(f, "  car: car\n", "  car: truck\n")
    edit(f, "unfed:\n", "unfed:\n  - car\n")  # universal car is fed by nothing now
    m, problems = build.check_specs(root)
    assert problems == []
    ws = [w for w in analysis.warnings(m, root) if w.rule == "composition"]
    assert [(w.file, w.line, w.path) for w in ws] == [(f.as_posix(), line_of(f, "  car: truck"), "$.map.car")]
    assert ws[0].message == ("cityscapes-19 'car' -> universal 'truck' -> kitti-19 'truck', but kitti-19 has class "
                             "'car' (same label set: 100% of names shared)")


def test_unsupervised_and_unused_classes(tmp_path):
    root = subset(tmp_path, "datasets/cityscapes-19.yaml", "datasets/camvid-11.yaml",
                  "mappings/cityscapes-19_to_universal.yaml", "mappings/universal_to_camvid-11.yaml")
    m, _ = build.check_specs(root)
    ws = analysis.warnings(m, root)
    unsup = [w for w in ws if w.rule == "unsupervised-class"]
    unused = [w for w in ws if w.rule == "unused-class"]
    assert len(unsup) == 194 - 19  # cityscapes-19 supervises 19 universal classes
    assert len(unused) == 194 - 12  # camvid-11's mapping reads 12
    u = root / "universal.yaml"
    w = next(w for w in unsup if "'backpack'" in w.message)
    assert (w.file, w.line, w.path) == (u.as_posix(), line_of(u, "name: backpack"), "$.classes[0].name")
    assert w.message == "universal class 'backpack' (id 0) is supervised by no train dataset"
    assert not any("'road'" in w.message for w in unsup + unused)


def test_a_class_fed_only_by_a_source_dataset_says_so(tmp_path):
    root = subset(tmp_path, "datasets/cityscapes-19.yaml", "datasets/scannet-37.yaml", "datasets/camvid-11.yaml",
                  "mappings/cityscapes-19_to_universal.yaml", "mappings/scannet-37_to_universal.yaml",
                  "mappings/universal_to_camvid-11.yaml")
    m, _ = build.check_specs(root)
    w = next(w for w in analysis.warnings(m, root) if "'bathtub'" in w.message and w.rule == "unsupervised-class")
    assert w.message.endswith("(only scannet-37, which is not train data)")


def test_remap_conflict(tmp_path):
    root = subset(tmp_path, "datasets/cityscapes-19.yaml", "datasets/cityscapes-34.yaml",
                  "mappings/cityscapes-19_to_universal.yaml", "mappings/cityscapes-34_to_universal.yaml",
                  "mappings/cityscapes-34_to_cityscapes-19.yaml")
    m, _ = build.check_specs(root)
    assert analysis.remap_conflicts(m) == []
    f = root / "mappings" / "cityscapes-34_to_cityscapes-19.yaml"
    edit(f, "  car: car\n", "  car: truck\n")
    edit(f, "unfed: []\n", "unfed: [car]\n")
    m, problems = build.check_specs(root)
    assert problems == []
    ws = [w for w in analysis.warnings(m, root) if w.rule == "remap-conflict"]
    assert [(w.line, w.path) for w in ws] == [(line_of(f, "  car: truck"), "$.map.car")]
    assert ws[0].message == ("cityscapes-34 'car' maps to universal 'car', "
                             "but through cityscapes-19 'truck' it reaches 'truck'")


def test_warnings_never_fail_compile(tmp_path):
    root = subset(tmp_path, "datasets/cityscapes-19.yaml", "datasets/camvid-11.yaml",
                  "mappings/cityscapes-19_to_universal.yaml", "mappings/universal_to_camvid-11.yaml")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["compile", "--specs", str(root), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "[unsupervised-class]" in r.stderr and (out / "docs" / "coverage.svg").is_file()


# ----- the coverage report --------------------------------------------------------------------------


def test_coverage_files_are_generated_and_consistent(model):
    files = emit_coverage.render(model)
    assert set(files) == {"docs/html/coverage.html", "docs/coverage.svg"}
    for rel, data in files.items():
        assert (GENERATED / rel).read_bytes() == data
    html = files["docs/html/coverage.html"].decode()
    rows = re.findall(r'<tr id="u(\d+)">', html)
    assert rows == [str(i) for i in range(194)]
    assert html.count("<th") > 16 + 7 and "voc2012" in html and "ade20k-150" in html
    row_car = html[html.index('<tr id="u176">'):].split("</tr>", 1)[0]
    assert 'href="class/176-car.html"' in row_car and ">car<" in row_car
    svg = files["docs/coverage.svg"].decode()
    cov = analysis.coverage(model)
    n_blue = int((cov.supervised > 0).sum())
    n_green = int((cov.consumed >= 0).sum())
    cells = re.findall(r'<rect x="\d+" y="\d+" width="10" height="9" fill="(#[0-9a-f]+)"/>', svg)
    assert cells.count(emit_coverage.SUPERVISED) == n_blue
    assert cells.count(emit_coverage.CONSUMED) + cells.count(emit_coverage.CATCH_ALL) == n_green
    assert cells.count(emit_coverage.CATCH_ALL) == 94 + 167 and len(cells) == n_blue + n_green
    assert svg.startswith("<svg") and svg.endswith("</svg>\n")


def test_composition_routes_in_the_page(model):
    html = emit_coverage.render(model)["docs/html/coverage.html"].decode()
    section = html[html.index('id="composition"'):html.index('id="matrix"')]
    assert section.count("<tr><td") == 188 and section.count("NOT THE IDENTITY") == 2
    assert "7 pair(s), 188 class routes, 2 not the identity" in section
    assert ("<td>table</td><td>(ignored)</td><td class=\"ds\">test-nyudepthv2-37</td><td>(ignored)</td>"
            "<td>table</td>") in section


def test_per_test_dataset_share_in_the_page(model):
    html = emit_coverage.render(model)["docs/html/coverage.html"].decode()
    voc = html[html.index('href="dataset/voc2012.html"'):].split("</tr>", 1)[0]
    assert "194 (100%)" in voc and "27 (14%)" in voc and "background" in voc
