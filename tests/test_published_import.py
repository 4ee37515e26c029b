"""import-ut and import-rvc (issue 23): the bundled specs are exactly what they write from the published
files; the published files are read as data, never run; slips are written as published, listed with the
published file and line, and reported by `unitax check` with the spec's file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.mseg import differences
from support.paths import MSEG_SPECS, RVC_REFERENCE, RVC_SPECS, UT_REFERENCE, UT_SPECS

from unitax.compiler import build
from unitax.tools.cli import main


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def ut_ref() -> Path:
    if not (UT_REFERENCE / "taxonomies" / "universal_classes.py").is_file():
        pytest.skip(f"UT's published taxonomy not found at {UT_REFERENCE} (outside the repo; absent in a user's clone)")
    return UT_REFERENCE


@pytest.fixture(scope="module")
def rvc_ref() -> Path:
    if not (RVC_REFERENCE / "ss_mapping_uint8_mseg.tsv").is_file():
        pytest.skip(f"RVC's published taxonomy not found at {RVC_REFERENCE} (outside the repo; absent in a user's "
                    "clone)")
    return RVC_REFERENCE


def test_import_rvc_writes_the_bundled_specs_and_lists_the_slips(rvc_ref, tmp_path):
    specs = tmp_path / "rvc"
    shutil.copytree(RVC_SPECS, specs)   # re-import over the bundled specs: the accept blocks are kept
    code, out = _run("import-rvc", str(rvc_ref), "--specs", str(specs), "--shared", str(MSEG_SPECS))
    assert code == 0, out
    assert differences(specs, RVC_SPECS) == []
    assert "slip: ss_mapping_uint8_mseg.tsv:208: column 'wilddash2-rvc-39' names 'street-light'" in out
    assert "11 slip(s) in RVC's sheet" in out
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    code, out = _run("import-rvc", str(rvc_ref / "ss_mapping_uint8_mseg.tsv"), "--specs", str(fresh),
                     "--shared", str(MSEG_SPECS))
    assert code == 0, out
    model, problems = build.check_specs(fresh)
    assert model is not None
    slips = sorted(p.rule for p in problems if p.rule in ("unlisted-class", "stray-entry"))
    assert slips == ["stray-entry"] + ["unlisted-class"] * 10   # without the bundled accept entries: all open
    assert all(p.severity == "warning" for p in problems if p.rule in ("unlisted-class", "stray-entry"))


def test_import_ut_writes_the_bundled_specs_and_lists_the_slips(ut_ref, rvc_ref, tmp_path):
    specs = tmp_path / "ut"
    shutil.copytree(UT_SPECS, specs)
    code, out = _run("import-ut", str(ut_ref), "--specs", str(specs), "--shared", str(MSEG_SPECS),
                     "--shared", str(RVC_SPECS), "--label-definitions", str(RVC_REFERENCE / "label_definitions"))
    assert code == 0, out
    assert differences(specs, UT_SPECS) == []  # the same_classes_as declared by hand kept as well
    assert "slip: taxonomies/wd.py:92: mapping['terrain'] names 'field' twice [duplicate-in-set]" in out
    said = [line for line in out.splitlines() if line.startswith("same classes: ")]
    assert "same classes: ut-ade20k-151: the same classes as ade20k-151 by id" in said
    assert ("same classes: ut-coco-panoptic-134: the same classes as coco-panoptic-133 by name (unpaired: ignore)"
            in said)
    assert [line.split(":")[1].strip() for line in said if "kept the declaration" in line] == [
        "ut-camvid-12", "ut-wilddash2-39"]


UT_CAMVID = """class_to_index = {
    'road': 0,
    'car': 1,
    'sky': 2,
    'ignore': 3,
}
class_to_eval = {k: k != 'ignore' for k, v in class_to_index.items()}
mapping = {
    'road': ['road', 'crosswalk'],
    'car': ['car', 'van', 'van'],
    'skye': ['sky'],
    'ignore': ['ignore'],
}
"""
UT_UNIVERSAL = "class_to_index = {'road': 0, 'crosswalk': 1, 'car': 2, 'van': 3, 'sky': 4, 'ignore': 5}\n"


def _ut(tmp_path: Path, camvid: str = UT_CAMVID) -> Path:
    ref = tmp_path / "ut" / "taxonomies"
    ref.mkdir(parents=True)
    (ref / "universal_classes.py").write_text(UT_UNIVERSAL)
    (ref / "camvid.py").write_text(camvid)
    return ref.parent


def test_ut_slips_are_written_as_published_and_reported_with_lines(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    code, out = _run("import-ut", str(_ut(tmp_path)), "--specs", str(specs), "--shared", str(MSEG_SPECS))
    assert code == 0, out
    assert "taxonomies/camvid.py:10: mapping['car'] names 'van' twice [duplicate-in-set]" in out
    assert "taxonomies/camvid.py:11: mapping names 'skye', which is not in class_to_index [stray-entry]" in out
    assert "taxonomies/camvid.py:4: class 'sky' is in class_to_index but not in mapping [unlisted-class]" in out
    text = (specs / "mappings" / "ut-camvid-4_to_universal.yaml").read_text()
    assert "kind: union" in text and "unlisted:\n  - sky\n" in text and "stray:\n  skye: sky\n" in text
    assert "unscored:\n  - ignore\n" in (specs / "datasets" / "ut-camvid-4.yaml").read_text()
    code, out = _run("check", "--specs", str(specs), "--no-stale")
    assert code == 0, out   # warnings: the taxonomy compiles
    for rule, where in (("duplicate-in-set", "$.map.car[2]"), ("stray-entry", "$.stray.skye"),
                        ("unlisted-class", "$.unlisted[0]")):
        assert any("ut-camvid-4_to_universal.yaml:" in line and where in line and f"[{rule}]" in line
                   for line in out.splitlines()), (rule, out)


@pytest.mark.parametrize("camvid, words", [
    ("import os\n" + UT_CAMVID, "only assignments"),
    (UT_CAMVID.replace("'road': 0,", "'road': __import__('os').getpid(),"), "class_to_index is not a literal"),
    (UT_CAMVID.replace("k != 'ignore'", "print(k)"), "class_to_eval is not a literal"),
    (UT_CAMVID + "mapping = open('/etc/passwd').read()\n", "mapping is not a literal"),
])
def test_ut_files_are_data_never_run(tmp_path, camvid, words):
    specs = tmp_path / "specs"
    specs.mkdir()
    code, out = _run("import-ut", str(_ut(tmp_path, camvid)), "--specs", str(specs), "--shared", str(MSEG_SPECS))
    assert code == 1 and "camvid.py:" in out and words in out, out
    assert not any(specs.iterdir())


def test_rvc_sheet_slips_and_a_class_in_two_rows(tmp_path):
    """A class named in two rows makes its column a union mapping; the unlabeled filler is a blank; a name
    the dataset lacks is stray, a class never named unlisted, a class both mapped and ignored an error."""
    from unitax.tools.authoring import importer

    shared = tmp_path / "shared"
    (shared / "datasets").mkdir(parents=True)
    (shared / "datasets" / "city.yaml").write_text(importer.render_dataset(importer.Space(
        "city", "train", ["unlabeled", "road", "car", "bus", "tree", "sky"])))
    sheet = tmp_path / "ss_mapping_uint8_mseg.tsv"
    sheet.write_text("universal\tcity\nroad\troad\nvehicle\t{car, bus}\nbus\tbus\nplant\ttreee\nsky\tunlabeled\n"
                     "unlabeled\t{unlabeled, sky}\n")
    specs = tmp_path / "specs"
    specs.mkdir()
    code, out = _run("import-rvc", str(sheet), "--specs", str(specs), "--shared", str(shared))
    assert code == 0, out
    assert "ss_mapping_uint8_mseg.tsv:5: column 'city' names 'treee' (row 'plant'), which is not a class of city" in out
    assert "column 'city' never names city class 'tree' [unlisted-class]" in out
    text = (specs / "mappings" / "city_to_universal.yaml").read_text()
    assert "kind: union" in text and "bus: [vehicle, bus]" in text and "car: vehicle" in text
    assert "stray:\n  treee: plant\n" in text and "unlisted:\n  - tree\n" in text
    assert "ignore:\n  - unlabeled\n  - sky\n" in text and "  sky:" not in text.split("ignore:")[0]
    model, problems = build.check_specs(specs)
    assert model is not None, [str(p) for p in problems]
    both = tmp_path / "both.tsv"
    both.write_text("universal\tcity\nroad\troad\nsky\tsky\nunlabeled\t{unlabeled, sky}\n")
    code, out = _run("import-rvc", str(both), "--specs", str(tmp_path / "s2"), "--shared", str(shared))
    assert code == 0 and "column 'city' both maps and ignores 'sky' [mapped-twice]" in out
    model, problems = build.check_specs(tmp_path / "s2")
    assert model is None and any(p.rule == "mapped-twice" and "'sky'" in p.message for p in problems)


def test_an_import_never_replaces_another_taxonomys_specs(tmp_path):
    """import-rvc into a copy of MSeg's specs (universal.yaml `name: mseg-universal`) is refused, exit 2,
    and the folder is left as it was; into its own earlier output it replaces as before."""
    from unitax.tools.authoring import importer

    shared = tmp_path / "shared"
    (shared / "datasets").mkdir(parents=True)
    (shared / "datasets" / "city.yaml").write_text(importer.render_dataset(importer.Space(
        "city", "train", ["unlabeled", "road", "sky"])))
    sheet = tmp_path / "ss_mapping_uint8_mseg.tsv"
    sheet.write_text("universal\tcity\nroad\troad\nsky\tsky\nunlabeled\tunlabeled\n")
    mine = tmp_path / "mseg"
    shutil.copytree(MSEG_SPECS, mine)
    before = {p.relative_to(mine): p.read_bytes() for p in sorted(mine.rglob("*")) if p.is_file()}
    code, out = _run("import-rvc", str(sheet), "--specs", str(mine), "--shared", str(shared))
    assert code == 2 and f"{mine / 'universal.yaml'}: holds the taxonomy 'mseg-universal', not 'rvc-universal'" in out
    assert {p.relative_to(mine): p.read_bytes() for p in sorted(mine.rglob("*")) if p.is_file()} == before
    own = tmp_path / "rvc"
    for _ in range(2):  # the second import replaces the first's specs
        code, out = _run("import-rvc", str(sheet), "--specs", str(own), "--shared", str(shared))
        assert code == 0, out
    assert (own / "universal.yaml").read_text().count("name: rvc-universal") == 1
