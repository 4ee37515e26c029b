"""Every command that writes, run out of space (issue 20, class 3): on a full tmpfs (where we may
mount one, i.e. as root) and under ``RLIMIT_FSIZE`` (anywhere; SIGXFSZ ignored, so a write past the
limit fails with EFBIG as a full disk fails with ENOSPC).

Each scenario first makes the command's earlier output (or the files it would replace), then runs
the command again in a subprocess under the fault and asserts: a non-zero exit, one ``unitax``
line at the end of stderr and no traceback, every file that was there byte-identical afterwards
(a resumable job's own bookkeeping aside: its ledger may list fewer files, which only means they
are redone), and no temporary file or staging folder left (``TMP_MARK`` in no name).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from support.corpus import BASE
from support.faults import run_cli
from support.hostile import snapshot
from support.paths import GENERATED, ROOT, SPECS

from unitax.fileops.atomic import TMP_MARK
from unitax.tools.cli import main

pytestmark = pytest.mark.slow

FSIZE = 512          # bytes: RLIMIT_FSIZE of the faulted run
TMPFS = "64m"        # the tmpfs the scenario lives on, filled up before the faulted run
FILLER = "zz-filler"


def cli(*args: str, cwd: Path | None = None) -> None:
    """Run a command in process to make the earlier output; it must succeed."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    assert r.exit_code == 0, r.output


def base_specs(root: Path) -> Path:
    specs = root / "taxonomy"
    for rel in BASE:
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPECS / rel, specs / rel)
    return specs


def _edit_definition(specs: Path) -> None:
    p = specs / "universal.yaml"
    text = p.read_text("utf-8")
    p.write_text(text.replace("description: ", "description: Edited. ", 1), "utf-8")


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _labels(n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 34, (64, 80)).astype(np.uint8) for _ in range(n)]


# ----- the scenarios: setup (inputs and earlier output) and the faulted command line --------------------


def s_compile(root: Path) -> list[str]:
    specs = base_specs(root)
    cli("compile", "--specs", str(specs), "--out", str(root / "gen"), "--cache-dir", str(root / "cache"))
    _edit_definition(specs)  # so the rerun has something to write
    return ["compile", "--specs", "taxonomy", "--out", "gen", "--cache-dir", "cache"]


def s_compile_naive(root: Path) -> list[str]:
    specs = root / "taxonomy"  # the naive baseline needs the train datasets: all specs but the relabel records
    shutil.copytree(SPECS, specs, ignore=lambda d, names: ["relabel", "lists"] if Path(d) == SPECS else [])
    cli("compile", "--naive", "--specs", str(specs), "--out", str(root / "naive"))
    p = specs / "datasets" / "camvid-11.yaml"  # a test dataset's spec reaches the naive build as it is
    p.write_text(p.read_text("utf-8").replace("role: test\n", "role: test\nnote: edited\n", 1), "utf-8")
    return ["compile", "--naive", "--specs", "taxonomy", "--out", "naive"]


def _reference(root: Path, n: int) -> Path:
    """A master sheet laid out like MSeg's with ``n`` classes (specs larger than a few pages)."""
    ref = root / "ref"
    (ref / "class_remapping_files").mkdir(parents=True)
    (ref / "dataset_lists" / "ds-a").mkdir(parents=True)
    rows = ["Parent Category\tds-a\tuniversal\tWordNet 3.1 Synset\tDefn\tModification of WordNet Node\ttest-b"]
    rows += [f"thing\tc{i}\tc{i}\tthing.n.01\tclass {i}\tno\tc{i}" for i in range(n)] + ["\t\tunlabeled\t\t\t\t"]
    (ref / "class_remapping_files" / "MSeg_master.tsv").write_text("\n".join(rows) + "\n")
    (ref / "dataset_lists" / "ds-a" / "ds-a_names.txt").write_text("".join(f"c{i}\n" for i in range(n)))
    return ref


def s_import_mseg(root: Path) -> list[str]:
    ref = _reference(root, 200)
    cli("import-mseg", str(ref), "--specs", str(root / "specs"))
    p = ref / "class_remapping_files" / "MSeg_master.tsv"
    p.write_text(p.read_text().replace("class 7\t", "class seven\t"))
    (root / "specs" / "datasets" / "ds-a.yaml").rename(root / "specs" / "datasets" / "ds-old.yaml")  # a stale spec
    return ["import-mseg", "ref", "--specs", "specs"]


def s_import_unions(root: Path) -> list[str]:
    shutil.copytree(SPECS, root / "taxonomy")
    return ["import-unions", "ade20k-150", "coco-panoptic-133", "--specs", "taxonomy"]


def s_import_relabel(root: Path) -> list[str]:
    ref = root / "ref"
    (ref / "relabeled_data" / "g").mkdir(parents=True)
    (ref / "relabeled_data" / "update_records.tsv").write_text(
        "dataset\tsplit\torig_class\trelabeled_class\tsegment_list\n"
        "cityscapes\ttrain\trider_other\tbicyclist\tg/l.txt\n")
    (ref / "relabeled_data" / "g" / "l.txt").write_text(
        "".join(f"seqaachen_aachen_{i:06d}_000019_leftImg8bit_3.jpg\n" for i in range(400)))
    # which space gets the records: MSeg's relabeling script, one call
    (ref / "download_scripts").mkdir()
    (ref / "download_scripts" / "mseg_apply_relabeling.sh").write_text(
        "python -u x/mseg_write_relabeled_segments.py --dataset_to_relabel cityscapes-19\n")
    specs = base_specs(root)
    shutil.copytree(SPECS / "relabel" / "cityscapes-19-relabeled", specs / "relabel" / "cityscapes-19-relabeled")
    rel = "relabel/cityscapes-19-relabeled.yaml"
    shutil.copyfile(SPECS / rel, specs / rel)
    return ["import-relabel", "ref", "--specs", "taxonomy"]


def s_new_dataset(root: Path) -> list[str]:
    base_specs(root)
    (root / "names.txt").write_text("".join(f"thing {i}\n" for i in range(60)) + "road\nsidewalk\ncar\n")
    return ["new-dataset", "mycity", "--names", "names.txt", "--specs", "taxonomy"]


def s_import_lists(root: Path) -> list[str]:
    for split in ("train", "val"):
        p = root / "ref" / "dataset_lists" / "ds-a" / "list" / f"{split}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(f"img/{split}/{i:05d}.jpg lab/{split}/{i:05d}.png\n" for i in range(300)))
    cli("import-lists", str(root / "ref"), "--specs", str(root / "specs"))
    p = root / "ref" / "dataset_lists" / "ds-a" / "list" / "train.txt"
    p.write_text(p.read_text() + "img/extra.jpg lab/extra.png\n")
    return ["import-lists", "ref", "--specs", "specs"]


def s_export(root: Path) -> list[str]:
    cli("export", "mmsegmentation", "--space", "ade20k-150", "-o", str(root / "ade.py"))
    return ["export", "mmsegmentation", "--space", "coco-panoptic-133", "-o", "ade.py", "--force"]


def s_compare(root: Path) -> list[str]:
    cli("compare", str(GENERATED), str(GENERATED), "-o", str(root / "cmp"))
    return ["compare", "mseg", str(GENERATED), "-o", "cmp"]  # other names: every file changes


def s_show(root: Path) -> list[str]:
    _png(root / "label.png", _labels(1)[0])
    cli("show", str(root / "label.png"), "--space", "cityscapes-34", "-o", str(root / "look.png"))
    return ["show", "label.png", "--space", "cityscapes-34", "-o", "look.png", "--force"]


def s_evaluate(root: Path) -> list[str]:
    a, b = _labels(2)
    _png(root / "pred" / "x.png", a % 19)
    _png(root / "gt" / "x.png", b % 19)
    cli("evaluate", str(root / "pred"), str(root / "gt"), "-d", "cityscapes-19",
        "--confusion-png", str(root / "conf.png"))
    return ["evaluate", "pred", "gt", "-d", "cityscapes-19", "--confusion-png", "conf.png", "--force"]


def s_remap_dir(root: Path) -> list[str]:
    for i, arr in enumerate(_labels(3)):
        _png(root / "src" / f"a{i}_gtFine_labelIds.png", arr)
    cli("remap-dir", str(root / "src"), str(root / "dst"), "--from", "cityscapes-34", "--to", "cityscapes-19",
        "-j", "1", "--no-progress")
    return ["remap-dir", "src", "dst", "--from", "cityscapes-34", "--to", "cityscapes-19", "-j", "1",
            "--no-progress", "--overwrite"]


def s_prepare(root: Path) -> list[str]:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    try:
        import make_native
    finally:
        sys.path.pop(0)
    import unitax

    make_native.build_tree("voc2012", root / "native", unitax.load())
    cli("prepare", "voc2012", str(root / "native"), str(root / "out"), "--partial", "-j", "1", "--no-progress")
    return ["prepare", "voc2012", "native", "out", "--partial", "-j", "1", "--no-progress", "--overwrite"]


@dataclass(frozen=True)
class Scenario:
    setup: Callable[[Path], list[str]]
    #: files the command keeps as bookkeeping of a resumable job (may change; never outputs)
    bookkeeping: tuple[str, ...] = ()
    #: a job that reports each file it could not write on a line of its own (then its summary on stdout)
    job: str = ""


JOB = (".unitax-remap-ledger.jsonl", ".unitax-remap-failed.tsv", ".unitax-remap.lock", ".unitax-remap.json")

SCENARIOS = {
    "compile": Scenario(s_compile),
    "compile-naive": Scenario(s_compile_naive),
    "import-mseg": Scenario(s_import_mseg),
    "import-unions": Scenario(s_import_unions),
    "import-relabel": Scenario(s_import_relabel),
    "new-dataset": Scenario(s_new_dataset),
    "import-lists": Scenario(s_import_lists),
    "export": Scenario(s_export),
    "compare": Scenario(s_compare),
    "show": Scenario(s_show),
    "evaluate": Scenario(s_evaluate),
    "remap-dir": Scenario(s_remap_dir, tuple(f"dst/{b}" for b in JOB), "remap-dir:"),
    "prepare": Scenario(s_prepare, tuple(f"out/{b}" for b in JOB), "prepare"),
}


# ----- the faults --------------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(where: Path) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (skips where mounting is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root: the RLIMIT_FSIZE variant runs instead")
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS}", "tmpfs", str(where)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(root: Path) -> None:
    """Write a filler file until the file system is full."""
    with open(root / FILLER, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break


def leftovers(root: Path) -> list[str]:
    """Temporary files and folders left behind (not the build's lock file, which is kept by design:
    compiler/outputs.lock_path)."""
    from unitax.compiler.outputs import lock_path

    locks = {p for p in root.rglob("*.lock") if p == lock_path(p.parent / p.name[len(".unitax-build-"):-5])}
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p not in locks and (
        TMP_MARK in p.name or p.name.startswith(".unitax-build-")))


@pytest.mark.parametrize("fault", ["tmpfs", "fsize"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_full_disk_loses_nothing(name: str, fault: str, tmp_path: Path) -> None:
    sc = SCENARIOS[name]
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(tmpfs(tmp_path / "fs")) if fault == "tmpfs" else tmp_path / "fs"
        root.mkdir(exist_ok=True)
        argv = sc.setup(root)
        before = snapshot(root, sc.bookkeeping)
        if fault == "tmpfs":
            fill(root)
        r = run_cli(argv, root, fsize=FSIZE if fault == "fsize" else None)
        err = r.stderr
        assert r.returncode != 0, f"exit 0 under a full disk:\n{r.stdout}\n{err}"
        assert "Traceback" not in err and "Traceback" not in r.stdout, err
        full = ("No space left on device", "File too large")
        lines = err.strip().splitlines()
        if lines and lines[-1].startswith("unitax"):  # one line, naming the fault
            assert any(s in lines[-1] for s in full), err
        else:  # a job: a line per file it could not write, its summary last on stdout
            assert sc.job and r.stdout.strip().splitlines()[-1].startswith(sc.job), (r.stdout, err)
            failed = [line for line in lines if ": cannot write " in line]
            assert failed and all(line.endswith(full) for line in failed), err
        if fault == "tmpfs":
            (root / FILLER).unlink()
        after = snapshot(root, sc.bookkeeping)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, f"changed by the failed run: {changed}\n{err}"
        assert not leftovers(root), leftovers(root)
