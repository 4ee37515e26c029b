"""`unitax prepare` against MSeg's own preparation scripts, pixel for pixel (tests/goldens/mseg/).

For each family with goldens, the golden native tree (tests/fixtures/make_native.py:
build_golden_tree: overlapping, border-crossing, collinear, hidden, deleted and degenerate polygons;
ADE20K at sizes where OpenCV's nearest resize has ties) is prepared, and every label file of every
label space is compared with the one mseg-api's scripts wrote from the same tree
(tests/goldens/mseg/README.md says how they were made), under MSeg's polygon rule (the default) and
under the visible rule (`--relabel-polygons visible`; its goldens derived as the README says).
The trees use the bundled MSeg relabel records, hence the marker.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from unitax.tools.cli import main
from unitax.tools.data.prepare.plans import FAMILIES

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import make_native  # noqa: E402

GOLDENS = Path(__file__).parent / "goldens" / "mseg"
FAMILIES_WITH_GOLDENS = sorted(p.name for p in GOLDENS.iterdir() if (p / "mseg").is_dir())
pytestmark = pytest.mark.mseg_specs


def _goldens(family: str, rule: str) -> dict[str, Path]:
    """label path below OUT_ROOT -> golden file, for the rule (visible: its relabeled spaces, MSeg's others)."""
    out: dict[str, Path] = {}
    for which in ("mseg", rule):
        root = GOLDENS / family / which
        for p in sorted(root.rglob("*.png")) if root.is_dir() else []:
            rel = p.relative_to(root)
            out[Path(*rel.parts[1:]).as_posix()] = p   # drop the space folder
    return out


def compare(family: str, rule: str, tax, tmp_path: Path) -> dict[str, tuple[int, int]]:
    """Prepare the golden tree with ``rule``; per space: (pixels compared, pixels different)."""
    native = make_native.build_golden_tree(family, tmp_path / "native", tax)
    out = tmp_path / f"out-{rule}"
    r = CliRunner().invoke(main, ["prepare", family, str(native), str(out), "--partial", "-j", "1", "--no-progress",
                                  "--relabel-polygons", rule])
    assert r.exit_code == 0, r.output + r.stderr
    result: dict[str, tuple[int, int]] = {}
    for rel, golden in _goldens(family, rule).items():
        space = golden.relative_to(GOLDENS / family).parts[1]
        want = np.asarray(Image.open(golden))
        got = np.asarray(Image.open(out / rel))
        assert got.shape == want.shape, rel
        differ = got != want
        if differ.ndim == 3:   # coco-panoptic-inst-201: the panoptic RGB PNG as it is; a pixel differs in any channel
            differ = differ.any(axis=2)
        n, d = result.get(space, (0, 0))
        result[space] = (n + differ.size, d + int(differ.sum()))
    return result


@pytest.mark.parametrize("family", FAMILIES_WITH_GOLDENS)
@pytest.mark.parametrize("rule", ["mseg", "visible"])
def test_prepare_equals_mseg_scripts_pixel_for_pixel(family, rule, tax, tmp_path):
    if rule == "visible" and FAMILIES[family].segments != "polygons":
        pytest.skip("the visible rule is a polygon datasets' rule only")
    result = compare(family, rule, tax, tmp_path)
    fam = FAMILIES[family]
    assert sorted(result) == sorted([*fam.all_spaces, *fam.copies]), "goldens must cover every label space"
    assert all(n > 0 for n, _ in result.values())
    assert {s: d for s, (_, d) in result.items()} == {s: 0 for s in result}, result


def test_the_rules_differ_on_the_golden_trees():
    """The golden trees make MSeg's rule and the visible rule disagree (else the test above shows nothing)."""
    for family in FAMILIES_WITH_GOLDENS:
        if FAMILIES[family].segments != "polygons":
            continue
        mseg, visible = _goldens(family, "mseg"), _goldens(family, "visible")
        diff = sum(int((np.asarray(Image.open(mseg[rel])) != np.asarray(Image.open(visible[rel]))).sum())
                   for rel in visible)
        assert diff > 100, family


if __name__ == "__main__":   # the per-family, per-space table of the closing note
    import tempfile

    import unitax

    t = unitax.load()
    for fam_name in FAMILIES_WITH_GOLDENS:
        for rule_name in ("mseg", "visible") if FAMILIES[fam_name].segments == "polygons" else ("mseg",):
            with tempfile.TemporaryDirectory() as d:
                for sp, (n_px, d_px) in sorted(compare(fam_name, rule_name, t, Path(d)).items()):
                    print(f"{fam_name}\t{rule_name}\t{sp}\t{n_px}\t{d_px}")
