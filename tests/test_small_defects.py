"""Smaller defects a new user met (issue 19, item 5): a script run beside the clone, an unknown
``--space``, ``new-dataset`` on a name that exists, the colours of a dataset without its own.

(The stale-build warning and `unitax check` on a stale build: tests/test_stale_build.py.)
Each test uses a small taxonomy of its own under a temporary folder, not the bundled one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from support.paths import ROOT

import unitax
from unitax.compiler import build
from unitax.pictures import voc_colormap
from unitax.tools.authoring import importer
from unitax.tools.cli import main

UNIVERSAL = ("road", "car", "person", "sky")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """(specs, compiled) of a 4-class taxonomy with a train dataset ``city`` (own colours) and a test
    dataset ``town`` (none)."""
    tmp = tmp_path_factory.mktemp("small")
    specs = tmp / "specs"
    uni = [{"name": n, "parent": "thing", "synset": f"{n}.n.01", "wordnet_modified": False} for n in UNIVERSAL]
    files = {
        "universal.yaml": importer.render_universal(uni, {n: f"A {n}." for n in UNIVERSAL}),
        "datasets/city.yaml": importer.render_dataset(importer.Space(
            "city", "train", list(UNIVERSAL), colors=[(128, 64, 128), (0, 0, 142), (220, 20, 60), (70, 130, 180)])),
        "mappings/city_to_universal.yaml": importer.render_mapping(importer.MappingSpec(
            "city", "universal", [(n, n) for n in UNIVERSAL], [], [], "one to one")),
        "datasets/town.yaml": importer.render_dataset(importer.Space("town", "test", ["street", "vehicle"])),
        "mappings/universal_to_town.yaml": importer.render_mapping(importer.MappingSpec(
            "universal", "town", [("road", "street"), ("car", "vehicle")], ["person", "sky"], [], "test")),
    }
    for rel, text in files.items():
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        (specs / rel).write_text(text, encoding="utf-8")
    build.compile_taxonomy(specs, tmp / "out")
    return specs, tmp / "out"


def cli(*argv: str):
    return CliRunner().invoke(main, list(argv))


# ----- a script run from the folder that holds the clone ----------------------------------------


def test_a_script_beside_a_clone_named_unitax_imports_the_package(tmp_path):
    """The folder holding the clone comes first on sys.path; the clone (named unitax) must not be
    imported as an empty namespace package."""
    (tmp_path / "unitax").symlink_to(ROOT, target_is_directory=True)
    (tmp_path / "script.py").write_text(
        "import unitax\n"
        "from unitax.tools.cli import main\n"
        "import unitax.compiler.build\n"
        "print(unitax.__file__)\n"
        "print(len(unitax.load().universal_names))\n", encoding="utf-8")
    env = {**os.environ, "UNITAX_NO_STALE_WARNING": "1"}
    r = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    file, n = r.stdout.split()
    assert Path(file).resolve() == ROOT / "runtime" / "__init__.py" and int(n) == len(unitax.load().universal_names)


# ----- an unknown --space ------------------------------------------------------------------------


def test_an_unknown_space_names_the_option_and_a_close_name(small, tmp_path):
    _, out = small
    label = tmp_path / "label.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(label)
    r = cli("show", str(label), "--space", "cty", "--compiled", str(out), "-o", str(tmp_path / "o.png"))
    assert r.exit_code == 2, r.output
    assert "unitax show: --space 'cty': unknown dataset 'cty'" in r.output and "did you mean 'city'?" in r.output
    assert str(label) not in r.output and not (tmp_path / "o.png").exists()
    r = cli("export", "huggingface", "--space", "twon", "--compiled", str(out), "-o", str(tmp_path / "x.json"))
    assert r.exit_code == 2 and "--space 'twon'" in r.output and "did you mean 'town'?" in r.output, r.output
    with pytest.raises(unitax.UnknownDatasetError, match="did you mean 'universal'"):
        unitax.load(out).names("univrsal")
    with pytest.raises(unitax.UnknownDatasetError) as info:
        unitax.load(out).names("zzz")
    assert "did you mean" not in str(info.value)  # nothing close: no guess


# ----- new-dataset on a name that exists ---------------------------------------------------------


def test_new_dataset_on_a_name_that_exists_says_so(small, tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(small[0], specs)
    names = tmp_path / "names.txt"
    names.write_text("road\ncar\n")
    r = cli("new-dataset", "village", "--names", str(names), "--specs", str(specs))
    assert r.exit_code == 0, r.output
    drafted = {p: p.read_bytes() for p in specs.rglob("*village*")}
    assert len(drafted) == 2
    # again: the first run's draft does not validate yet; the answer is that the dataset exists
    r = cli("new-dataset", "village", "--names", str(names), "--specs", str(specs))
    assert r.exit_code == 2, r.output
    assert (f"unitax new-dataset: dataset 'village' is already declared ({specs}/datasets/village.yaml, "
            f"{specs}/mappings/village_to_universal.yaml)") in r.output and "[draft-entry]" not in r.output
    r = cli("new-dataset", "town", "--names", str(names), "--specs", str(specs), "--role", "test")
    assert r.exit_code == 2 and "dataset 'town' is already declared" in r.output, r.output
    assert {p: p.read_bytes() for p in specs.rglob("*village*")} == drafted


# ----- the colours of a dataset without its own ----------------------------------------------------


def test_colors_are_those_unitax_draws_with(small):
    tax = unitax.load(small[1])
    assert tax.own_colors("town") is None
    assert np.array_equal(tax.colors("town"), voc_colormap(2))
    assert np.array_equal(tax.colorize(np.array([0, 1], np.uint8), "town"), tax.colors("town"))
    assert tax.colors("city").tolist() == [[128, 64, 128], [0, 0, 142], [220, 20, 60], [70, 130, 180]]
    assert np.array_equal(tax.own_colors("city"), tax.colors("city"))
