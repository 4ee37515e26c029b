"""The runtime API on the bundled build: usage example, errors, imports, installed copy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.bundled import N_UNIVERSAL
from support.paths import GENERATED, LIVE_GENERATED, LIVE_SPECS, ROOT

import unitax


def test_usage_example_from_the_readme(tax):
    rng = np.random.default_rng(0)
    label = rng.integers(0, 150, size=(64, 80), dtype=np.uint8)
    label[0, :5] = 255
    u = tax.to_universal(label, "ade20k-150")
    assert u.shape == label.shape and u.dtype == np.uint8
    assert (u == tax.lut("ade20k-150")[label]).all()
    assert (u[0, :5] == 255).all()
    probs = rng.random((N_UNIVERSAL, 8, 9), dtype=np.float32)
    p = tax.to_test(probs, "camvid-11", axis=0)
    assert p.shape == (11, 8, 9)
    np.testing.assert_allclose(p, np.einsum("tu,uhw->thw", tax.matrix("camvid-11").astype(np.float32), probs),
                               rtol=1e-5)


def test_any_integer_dtype(tax):
    label = np.array([[0, 1, 2], [255, 3, 4]])
    want = tax.lut("cityscapes-19")[label]
    for dt in (np.uint8, np.uint16, np.int16, np.int32, np.int64, np.uint32):
        assert (tax.to_universal(label.astype(dt), "cityscapes-19") == want).all(), dt


def test_out_of_range_values_are_named(tax):
    label = np.array([0, 19, 200, 255, 19], dtype=np.uint8)
    with pytest.raises(unitax.LabelError, match=r"outside cityscapes-19's ids 0\.\.18 .*: 19, 200"):
        tax.to_universal(label, "cityscapes-19")
    out = tax.to_universal(label, "cityscapes-19", out_of_range="ignore")
    assert out.tolist() == [tax.lut("cityscapes-19")[0], 255, 255, 255, 255]
    with pytest.raises(unitax.LabelError, match="-1"):
        tax.to_universal(np.array([-1, 0]), "cityscapes-19")
    with pytest.raises(unitax.LabelError, match="integer"):
        tax.to_universal(np.zeros(3, dtype=np.float32), "cityscapes-19")


def test_unknown_dataset_lists_the_known_ones(tax):
    with pytest.raises(unitax.UnknownDatasetError, match="unknown dataset 'ade20k'; known: .*ade20k-150"):
        tax.to_universal(np.zeros(2, np.uint8), "ade20k")
    with pytest.raises(KeyError):
        tax.names("nope")
    with pytest.raises(unitax.UnknownDatasetError, match="no compiled remap"):
        tax.remap(np.zeros(2, np.uint8), "ade20k-150", "camvid-11")


def test_wide_label_space(tax):
    # pascal-context-460 has 460 classes: uint16 labels, ignore 65535, id 255 is a class
    assert tax.ignore_index("pascal-context-460") == 65535
    names = tax.names("pascal-context-460")
    label = np.array([0, 255, 459, 65535], dtype=np.uint16)
    out = tax.remap(label, "pascal-context-460", "pascal-context-60")
    lut = tax.remap_lut("pascal-context-460", "pascal-context-60")
    assert out.tolist() == [lut[0], lut[255], lut[459], 255]
    assert len(names) == 460 and names[255] == "money"  # a real class at id 255


def test_remap_and_test_labels(tax):
    label = np.arange(34, dtype=np.uint8).reshape(2, 17)
    cs19 = tax.remap(label, "cityscapes-34", "cityscapes-19")
    assert cs19[0, 7] == tax.names("cityscapes-19").index("road")
    u = np.array([tax.universal_names.index("bicyclist"), 255], dtype=np.uint8)
    assert tax.to_test_labels(u, "camvid-11").tolist() == [tax.names("camvid-11").index("Bicyclist"), 255]


def test_runtime_imports_numpy_only():
    code = ("import sys, unitax; unitax.load(); "
            "bad = sorted(m for m in ('yaml', 'jinja2', 'click', 'torch', 'pandas', 'jsonschema', 'unitax.compiler') "
            "if m in sys.modules); print(bad)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_load_imports_what_it_reads_with_and_no_more():
    """`unitax.load()` pays for reading and verifying a build only: the kernels (and their thread
    pool), the evaluator and the pictures come with the first call that needs them (issue 24: the
    runtime's start; `make bench` measures it against `import numpy`)."""
    code = ("import sys, unitax; tax = unitax.load(); "
            "late = ('unitax.kernels', 'concurrent.futures', 'unitax.evaluate', 'unitax.pictures', 'unitax.unions'); "
            "print(sorted(m for m in late if m in sys.modules)); "
            "import numpy as np; tax.to_universal(np.zeros(4, np.uint8), 'ade20k-150'); "
            "print('unitax.kernels' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split("\n")[:2] == ["[]", "True"]


def test_tables_are_read_only(tax):
    with pytest.raises(ValueError):
        tax.lut("bdd")[0] = 3


def test_load_from_a_path_and_integrity(tmp_path):
    import shutil

    dst = tmp_path / "build"
    shutil.copytree(GENERATED, dst)
    assert unitax.load(dst).universal_names == unitax.load().universal_names
    (dst / "tables" / "to_universal" / "bdd.npy").write_bytes(
        (dst / "tables" / "to_universal" / "bdd.npy").read_bytes()[:-1] + b"\x07")
    with pytest.raises(unitax.IntegrityError, match=r"bdd\.npy: sha256 differs"):
        unitax.load(dst)
    m = json.loads((dst / "manifest.json").read_text())
    m["format_version"] = 99
    (dst / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(unitax.IntegrityError, match="format version 99.*upgrade"):
        unitax.load(dst)


@pytest.mark.slow
@pytest.mark.xdist_group("builds-the-checkout")  # pip builds in the checkout (build/, *.egg-info): one at a time
@pytest.mark.live_taxonomy  # installs this checkout: its bundled build is the user's generated/
def test_non_editable_install_loads_the_bundled_build(tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                        str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    code = "import unitax; t = unitax.load(); print(unitax.__file__); print(len(t.universal_names), len(t.datasets))"
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         check=True).stdout.split()
    assert Path(out[0]).is_relative_to(target)
    live = unitax.load(LIVE_GENERATED)
    assert out[1:] == [str(len(live.universal_names)), str(len(live.datasets))]  # the bundled build: generated/


def _setuptools_builds_us() -> bool:
    """Whether this environment's setuptools can build the wheel without build isolation (no index)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("setuptools").split(".")[0]) >= 77
    except (PackageNotFoundError, ValueError):
        return False


@pytest.mark.slow
@pytest.mark.xdist_group("builds-the-checkout")  # pip builds in the checkout: one at a time
@pytest.mark.live_taxonomy  # builds this checkout's wheel, with the user's taxonomy/ and generated/
def test_wheel_in_a_fresh_venv_checks_and_compiles_a_users_own_taxonomy(tmp_path):
    """`pip install` the wheel into a new venv, then `unitax check` and `unitax compile` a spec folder
    without schemas/ of its own: the JSON Schemas and templates come from the installed package,
    and the build is byte for byte the committed one."""
    import shutil
    import sysconfig

    wheels = tmp_path / "wheels"
    cmd = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(wheels), str(ROOT)]
    r = subprocess.run(cmd + (["--no-build-isolation"] if _setuptools_builds_us() else []),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    banners = [ln for ln in (r.stdout + r.stderr).splitlines()
               if "DeprecationWarning" in ln or "BuildBackendWarning" in ln]
    assert not banners, banners  # no setuptools deprecation banners (license, packages)
    (wheel,) = wheels.glob("unitax-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps",
                        "--no-index", str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    # The dependencies come from this environment's site-packages, as a plain path (its .pth files,
    # among them this checkout's editable install, are not run): no network needed.
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    specs = tmp_path / "my-taxonomy"
    shutil.copytree(LIVE_SPECS, specs)
    assert not (specs / "schemas").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = subprocess.run([str(py), "-c", "import unitax.compiler.schema as s; print(s.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout.strip()
    assert Path(where).is_relative_to(site), where
    # every bundled taxonomy loads by name from the installed package (no checkout beside it)
    code = ("import json, unitax; print(json.dumps({n: [unitax.load(n).fingerprint, len(unitax.load(n).datasets)] "
            "for n in unitax.taxonomies()}))")
    loaded = json.loads(subprocess.run([str(py), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                                       check=True).stdout)
    from unitax import bundled
    want = {b.name: unitax.load(ROOT.joinpath(*b.build.split("/"))) for b in bundled.BUNDLED}
    assert loaded == {n: [t.fingerprint, len(t.datasets)] for n, t in want.items()}
    assert set(loaded) == {"mseg", "rvc", "ut"}
    unitax_exe = str(venv / "bin" / "unitax")
    committed = tmp_path / "committed"
    shutil.copytree(LIVE_GENERATED, committed, ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run([unitax_exe, "check", "--specs", str(specs), "--out", str(committed)],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    n = len(unitax.load(LIVE_GENERATED).universal_names)
    assert f"ok: {n} universal classes" in r.stdout and "is up to date" in r.stdout, r.stdout
    r = subprocess.run([unitax_exe, "compile", "--specs", str(specs), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    for rel in ("manifest.json", "docs/html/index.html", "sheets/master.tsv"):
        assert (tmp_path / "out" / rel).read_bytes() == (LIVE_GENERATED / rel).read_bytes(), rel
    r = subprocess.run([unitax_exe, "check", "--specs", str(specs), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0 and "up to date" in r.stdout, r.stdout + r.stderr[-2000:]


def test_bundled_taxonomies_load_by_name_and_paths_still_work(tmp_path, monkeypatch):
    from support import session

    assert unitax.taxonomies() == ("mseg", "rvc", "ut")
    for name in unitax.taxonomies():
        by_name = unitax.load(name)
        assert by_name.path == session.build_of(name)   # the frozen build compiled for this run
        assert by_name.fingerprint == unitax.load(session.build_of(name)).fingerprint
    assert unitax.load("mseg").fingerprint == unitax.load().fingerprint
    assert unitax.load("ut").ignore_index("universal") == 65535 and unitax.load("rvc").ignore_index("universal") == 255
    with pytest.raises(unitax.UnitaxError, match="'uu' is not a bundled taxonomy.*mseg, rvc, ut"):
        unitax.load("uu")
    # a folder named like a bundled taxonomy is loaded by giving it as a path
    import shutil

    shutil.copytree(session.build_of("rvc"), tmp_path / "ut")
    monkeypatch.chdir(tmp_path)
    assert len(unitax.load(Path("ut")).universal_names) == 255 and len(unitax.load("./ut").universal_names) == 255
    assert len(unitax.load("ut").universal_names) == 259
