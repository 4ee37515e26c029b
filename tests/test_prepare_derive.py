"""`unitax prepare --lists derive`: split lists built from the native files found, not MSeg's.

The synthetic download trees come from tests/fixtures/make_native.py:build_tree (a few samples of
MSeg's shipped lists per split). test_derive_rules_rewrite_every_mseg_line pins facts of the bundled
MSeg split lists (the shipped lists/mseg-lists.txt.xz); the others only compare two runs of prepare.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner

from unitax.tools.cli import main
from unitax.tools.data.prepare.derive import derive_lists
from unitax.tools.data.prepare.errors import PrepareError
from unitax.tools.data.prepare.lists import load_lists
from unitax.tools.data.prepare.plans import FAMILIES

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import make_native  # noqa: E402


def _run(*args: str):
    return CliRunner().invoke(main, ["prepare", *args])


def _outputs(root: Path) -> dict[str, str]:
    """Every file prepare wrote except its bookkeeping and the lists: path -> content (or link target)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.name.startswith(".unitax-") or "/list/" in f"/{rel}":
            continue
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _members(out: Path, fam) -> dict[str, set[str]]:
    """space -> the labelled lines of all its split lists (membership; splits, order and the
    label-less test lines of MSeg's lists aside: derive lists label files)."""
    return {s: {line for lf in (out / s / "list").glob("*.txt") for line in lf.read_text().splitlines()
                if " " in line}
            for s in [*fam.all_spaces, *fam.copies]}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_derive_rules_rewrite_every_mseg_line(name):
    """Bundled MSeg lists: for every labelled line of every split, the family's derive rule turns the
    native label file (found by one of its globs) back into that very line, in every label space."""
    fam = FAMILIES[name]
    lists = load_lists()
    n = 0
    for (space, split), lines in sorted(lists.items()):
        if space != fam.root:
            continue
        per = {s: lists[(s, split)] for s in [*fam.all_spaces, *fam.copies] if (s, split) in lists}
        for i, line in enumerate(lines):
            parts = line.split(" ")
            if len(parts) < 2:
                continue                                   # label-less test lines are not derived
            native = re.sub(fam.label_src[0], fam.label_src[1], parts[1])
            assert any(PurePosixPath(native).match(g) for g, _ in fam.derive.values()), native
            label = re.sub(fam.derive_label[0], fam.derive_label[1], native, count=1)
            image = re.sub(fam.derive_image[0], fam.derive_image[1], label, count=1)
            for s, ls in per.items():
                pat, rep = fam.derive_paths.get(s, (r"^", ""))
                assert f"{image} {re.sub(pat, rep, label, count=1)}" == ls[i], (s, split, i)
            n += 1
    assert n > 0


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_derive_then_verify_matches_the_mseg_list_run(name, tax, tmp_path):
    if name == "pascal-context":
        pytest.importorskip("scipy", reason="PASCAL-Context's .mat needs scipy: pip install -e '.[test]'")
    fam = FAMILIES[name]
    native = make_native.build_tree(name, tmp_path / "native", tax)
    mseg, derived = tmp_path / "mseg", tmp_path / "derived"
    r = _run(name, str(native), str(mseg), "--partial", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    r = _run(name, str(native), str(derived), "--lists", "derive", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    counts = {split: len((derived / fam.root / "list" / f"{split}.txt").read_text().splitlines())
              for split in fam.derive}
    assert sum(counts.values()) > 0
    assert ("note: split lists derived from the files in " + str(native / fam.bases[0]) + ": "
            + ", ".join(f"{s} {counts[s]}" for s in sorted(counts)) + " samples") in r.output
    assert "without" not in r.output                       # a full tree: nothing left out
    # the same samples, written at the same relative paths with the same bytes
    assert _members(derived, fam) == _members(mseg, fam)
    label_less = {line for s in fam.all_spaces for lf in (mseg / s / "list").glob("*.txt")
                  for line in lf.read_text().splitlines() if " " not in line}
    assert _outputs(derived) == {k: v for k, v in _outputs(mseg).items() if k not in label_less}
    v = _run("--verify", name, str(derived))
    assert v.exit_code == 0, v.output + v.stderr
    assert "compared with the derived lists" in v.output and v.output.strip().endswith("ok")
    # a derived list that lost a line no longer matches the lists derived again
    lf = derived / fam.root / "list" / f"{max(counts, key=counts.get)}.txt"
    lf.write_text("".join(line + "\n" for line in lf.read_text().splitlines()[1:]))
    v = _run("--verify", name, str(derived), str(native))
    assert v.exit_code == 1 and "the derived list has" in v.stderr


def test_stray_label_and_image_are_reported(tax, tmp_path):
    """A label without an image and an image without a label: counted in notes, left out of the lists."""
    fam = FAMILIES["ade20k"]
    native = make_native.build_tree("ade20k", tmp_path / "native", tax)
    base = native / fam.bases[0]
    label = sorted((base / "annotations/training").glob("*.png"))[0]
    shutil.copyfile(label, base / "annotations/training/ADE_train_99999999.png")        # no image
    image = sorted((base / "images/validation").glob("*.jpg"))[0]
    shutil.copyfile(image, base / "images/validation/ADE_val_99999999.jpg")             # no label
    out = tmp_path / "out"
    r = _run("ade20k", str(native), str(out), "--lists", "derive", "-j", "1", "--no-progress")
    assert r.exit_code == 0, r.output + r.stderr
    assert ("note: train: 1 label file(s) without an image, left out "
            "(first: annotations/training/ADE_train_99999999.png)") in r.output
    assert ("note: val: 1 image(s) without a label file, left out "
            "(first: images/validation/ADE_val_99999999.jpg)") in r.output
    lines = {x for m in _members(out, fam).values() for x in m}
    assert lines and not any("99999999" in x for x in lines)
    assert _run("--verify", "ade20k", str(out)).exit_code == 0


def test_derive_without_a_rule_is_refused(tmp_path):
    import dataclasses
    fam = dataclasses.replace(FAMILIES["camvid"], derive={})
    with pytest.raises(PrepareError, match="no rule to derive"):
        derive_lists(fam, tmp_path)


def test_a_file_named_unlike_the_labels_is_reported(tax, tmp_path):
    """SUN RGB-D's rule maps label38/<split>/00NNNNNN.png to image/<split>/img-NNNNNN.jpg; a file
    its glob finds but its rule does not know gets no image path: a note, not a line."""
    fam = FAMILIES["sunrgbd"]
    native = make_native.build_tree("sunrgbd", tmp_path / "native", tax)
    base = native / fam.bases[0]
    label = sorted((base / "label38/train").glob("*.png"))[0]
    shutil.copyfile(label, base / "label38/train/extra.png")
    lists, notes = derive_lists(fam, base)
    assert "train: 1 file(s) named unlike sunrgbd's labels, left out (first: label38/train/extra.png)" in notes
    assert lists[(fam.root, "train")] and not any("extra" in x for x in lists[(fam.root, "train")])
