"""`unitax new-dataset` (draft mappings the checker refuses until confirmed), `unfed: {all_others}`
with [unfed-stale], and `accept:` entries with [accept-stale]. Each runs on a copy of the specs;
the suggester's facts hold for any valid taxonomy (a universal class's own name suggests it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.paths import SPECS

from unitax.compiler import build
from unitax.tools.authoring.suggest import Suggester, fold, tokens
from unitax.tools.cli import main


@pytest.fixture(scope="module")
def model(mseg_model):
    return mseg_model


@pytest.fixture
def specs(tmp_path):
    out = tmp_path / "taxonomy"
    shutil.copytree(SPECS, out)
    return out


def _check(specs: Path):
    return CliRunner().invoke(main, ["check", "--specs", str(specs), "--no-stale"])


def _new(specs: Path, name: str, names: Path, *more: str):
    return CliRunner().invoke(main, ["new-dataset", name, "--names", str(names), "--specs", str(specs), *more])


def _confirm(path: Path) -> None:
    """What a reviewer does once every line is checked: delete the draft entries."""
    text = path.read_text()
    path.write_text(text[: text.index("\ndraft:") + 1])


def test_folding():
    assert tokens("TrafficLight") == ("traffic", "light")
    assert fold("wall-other-merged") == "wall" and fold("Shelves") == "shelf" and fold("glasses") == "glass"
    assert fold("Column_Pole") == "column pole"


def test_every_universal_name_suggests_itself_first(model):
    sug = Suggester(model)
    for c in model.universal.real_classes:
        top = [x.name for x in sug.score(c.name) if x.score == 1.0]
        assert c.name in top, c.name  # first, or tied first with a class another dataset names so


def test_new_train_dataset_is_a_draft_until_confirmed(specs, tmp_path, model):
    names = tmp_path / "names.txt"
    names.write_text("road\nsidewalks\ncars\nzzqx\n")
    r = CliRunner().invoke(main, ["new-dataset", "mycity", "--names", str(names), "--specs", str(specs)])
    assert r.exit_code == 0, r.output
    mapping = specs / "mappings" / "mycity_to_universal.yaml"
    text = mapping.read_text()
    assert "  road: road\n" in text and "  cars: car\n" in text and "  - zzqx\n" in text  # ignored: no match
    assert f"  as_of: {len(model.universal.classes)}\n" in text
    r = _check(specs)
    assert r.exit_code == 1
    drafts = [line for line in r.output.splitlines() if line.endswith("[draft-entry]")]
    assert len(drafts) == 4 and all("mycity_to_universal.yaml:" in d for d in drafts)
    assert any("$.draft.road: 'road' maps to 'road': an unconfirmed draft suggestion" in d for d in drafts)
    assert "[undecided-target]" not in r.output  # all_others: no 189 names to list
    _confirm(mapping)
    r = _check(specs)
    assert r.exit_code == 0, r.output
    # never replaces a file
    r = CliRunner().invoke(main, ["new-dataset", "mycity", "--names", str(names), "--specs", str(specs)])
    assert r.exit_code == 2 and "already declared" in r.output


def test_new_universal_class_after_all_others_is_reported(specs, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("road\ncar\n")
    assert _new(specs, "mycity", names).exit_code == 0
    _confirm(specs / "mappings" / "mycity_to_universal.yaml")
    m, _ = build.check_specs(specs)
    n = len(m.universal.classes)
    # a new universal class: every other mapping must decide it (undecided-target), ours says unfed-stale
    uni = specs / "universal.yaml"
    data = yaml.safe_load(uni.read_text())  # whatever layout the file has (a user's may differ from MSeg's)
    data["classes"].append({"id": n, "name": "snowman", "parent": "outdoor", "synset": "snowman.n.01",
                            "wordnet_modified": False, "color": [1, 2, 3], "definition": "A figure of snow."})
    uni.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    r = _check(specs)
    stale = [line for line in r.output.splitlines() if line.endswith("[unfed-stale]")]
    assert len(stale) == 1 and "mycity_to_universal.yaml" in stale[0] and "'snowman'" in stale[0]
    assert f"set as_of to {n + 1}" in stale[0]


def test_new_test_dataset_draft(specs, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("road\ncars\n")
    r = _new(specs, "mytest", names, "--role", "test")
    assert r.exit_code == 0, r.output
    mapping = specs / "mappings" / "universal_to_mytest.yaml"
    assert "  road: road\n" in mapping.read_text() and "  car: cars\n" in mapping.read_text()
    r = _check(specs)
    assert r.output.count("[draft-entry]") == 2 and "'cars' is fed by 'car'" in r.output
    _confirm(mapping)
    assert _check(specs).exit_code == 0


def test_invalid_specs_exit_1_and_nothing_is_written(specs, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("road\n")
    uni = specs / "universal.yaml"
    uni.write_text(uni.read_text() + "\nnot_a_key: 1\n")
    r = _new(specs, "mycity", names)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.stderr.endswith(f"unitax new-dataset: the specs in {specs} do not validate; fix them first\n")
    assert "universal.yaml" in r.stderr
    assert not (specs / "datasets" / "mycity.yaml").exists()


@pytest.mark.parametrize("text, message", [
    ("road\n\ncar\n", "names.txt:2: blank line"),
    ("road\nRoad\n", "names.txt:2: class 'Road' repeats line 1"),
])
def test_bad_names_file(specs, tmp_path, text, message):
    names = tmp_path / "names.txt"
    names.write_text(text)
    r = CliRunner().invoke(main, ["new-dataset", "mycity", "--names", str(names), "--specs", str(specs)])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not (specs / "datasets" / "mycity.yaml").exists()


def test_bad_colors_file(specs, tmp_path):
    names, colors = tmp_path / "names.txt", tmp_path / "colors.txt"
    names.write_text("road\ncar\n")
    colors.write_text("1 2 3\n4 5 256\n")
    r = CliRunner().invoke(main, ["new-dataset", "mycity", "--names", str(names), "--colors", str(colors),
                                  "--specs", str(specs)])
    assert r.exit_code == 2 and "colors.txt:2:" in r.output
    colors.write_text("1 2 3\n4,5,6\n")
    r = CliRunner().invoke(main, ["new-dataset", "mycity", "--names", str(names), "--colors", str(colors),
                                  "--specs", str(specs)])
    assert r.exit_code == 0 and "color: [4, 5, 6]" in (specs / "datasets" / "mycity.yaml").read_text()


def test_stale_acceptance_is_reported(specs, tmp_path):
    """An accept entry that excuses no warning is a warning itself (and fails --strict)."""
    names = tmp_path / "names.txt"
    names.write_text("road\ncar\n")
    assert _new(specs, "mycity", names).exit_code == 0
    mapping = specs / "mappings" / "mycity_to_universal.yaml"
    _confirm(mapping)
    mapping.write_text(mapping.read_text() + "accept:\n  - {rule: composition, class: road, reason: \"why not\"}\n")
    r = CliRunner().invoke(main, ["check", "--specs", str(specs), "--no-stale", "--strict"])
    assert r.exit_code == 1 and "$.accept[0]: warning: accepts [composition] for 'road'" in r.output
    assert "[accept-stale]" in r.output


# ----- runtime polish: stale bundled build, the space integer predictions are read in -------------


def test_stale_build_warns_once_in_a_checkout_only(tmp_path):
    import os
    import time
    import warnings

    from unitax.taxonomy import StaleBuildWarning, warn_if_stale

    gen = tmp_path / "generated"
    gen.mkdir()
    (gen / "manifest.json").write_text("{}")
    os.utime(gen / "manifest.json", (time.time() - 100, time.time() - 100))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_stale(gen)  # no taxonomy/ beside it: an installed build, never a warning
    (tmp_path / "taxonomy" / "datasets").mkdir(parents=True)
    (tmp_path / "taxonomy" / "universal.yaml").write_text("x")
    (tmp_path / "taxonomy" / "datasets" / "d.yaml").write_text("x")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        warn_if_stale(gen)
        warn_if_stale(gen)
    assert len(w) == 1 and issubclass(w[0].category, StaleBuildWarning)
    assert "d.yaml" in str(w[0].message) or "universal.yaml" in str(w[0].message)


def test_integer_predictions_out_of_range_name_their_space():
    import numpy as np

    import unitax

    tax = unitax.load()
    ds = next(n for n in tax.datasets if tax.role(n) == "test")
    n = len(tax.names(ds))
    ev = tax.evaluator(ds)
    gt = np.zeros((2, 2), np.uint8)
    with pytest.raises(unitax.LabelError, match=rf"read as {ds} labels.*pred_space='universal'"):
        ev.update(np.full((2, 2), n, np.uint8), gt)
    big = len(tax.names("universal"))
    if big < 255:
        with pytest.raises(unitax.LabelError, match=r"read as universal labels.*pred_space='dataset'"):
            ev.update(np.full((2, 2), big, np.uint8), gt, pred_space="universal")


@pytest.mark.parametrize("name", ["mycity\n", "My city", "universal", "_city"])
def test_a_bad_dataset_name_writes_nothing(specs, tmp_path, name):
    """A name with a final newline too (a `$` in the name pattern matched before it, and new-dataset
    wrote datasets/'mycity\\n'.yaml)."""
    names = tmp_path / "names.txt"
    names.write_text("road\n")
    def listing() -> list[str]:
        return sorted(p.name for sub in ("datasets", "mappings") for p in (specs / sub).iterdir())

    before = listing()
    r = _new(specs, name, names)
    assert r.exit_code == 2 and f"dataset name {name!r} must be lower case letters" in r.output, r.output
    assert listing() == before
