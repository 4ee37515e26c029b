"""`make test-fork`: a user's edits of the taxonomy, each in a fresh clone, must leave a passing project.

Each edit is applied to its own `git clone` of this repository (the committed state) in a
temporary folder, the way the README tells a user to: the README's own walkthroughs are run
from its code blocks (so this breaks when the README does), the rest with `unitax` commands
or small edits of the YAML. Then every clone runs `make compile`, `unitax check --strict`
and the tests of the user's taxonomy (``pytest -m "live_taxonomy and not slow"``, the fast
suite's generic part: every other test is a product test on the frozen MSeg copy, which no
edit of taxonomy/ can reach). Each must pass.

The clones share this checkout's virtual environment: ``.venv`` in a clone is a link to it
(its ``pyproject.toml`` dated back so make does not reinstall), and ``PYTHONPATH`` points at a
package tree of the clone (support/session.package_tree), so ``.venv/bin/unitax`` and pytest
import the clone's code and the clone's generated/ instead of this checkout's.

Usage: ``python tests/fork.py [EDIT ...] [--jobs N] [--keep] [--fast]`` (default: every edit, 2 at
once; ``--fast``: the whole fast suite in each clone, product tests too, instead of the generic part).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.edits import confirm_drafts  # noqa: E402
from support.mseg import EXPECT_ENV, SKIP_REASON  # noqa: E402
from support.session import package_tree  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


class StepFailed(Exception):
    """A step of a clone failed: its command and output."""


def readme_blocks(section: str) -> list[str]:
    """The ```sh code blocks of the README section titled ``section``, in order."""
    text = README.read_text("utf-8")
    m = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, re.M | re.S)
    if not m:
        raise StepFailed(f"README.md has no section '## {section}'")
    blocks = re.findall(r"^```sh\n(.*?)^```", m.group(1), re.M | re.S)
    if not blocks:
        raise StepFailed(f"README.md section '{section}' has no ```sh block")
    return blocks


def commands(block: str) -> list[str]:
    """The commands of a code block: its lines without comments and output (``# ...``), continuations joined."""
    out: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


class Clone:
    """One clone of the repository, with the shared venv and its own package tree."""

    def __init__(self, name: str, tmp: Path, marker: str = "live_taxonomy and not slow") -> None:
        self.name = name
        self.marker = marker
        self.dir = tmp / name / "unitax"
        self.log: list[str] = []
        self.times: dict[str, float] = {}
        run(["git", "clone", "-q", str(ROOT), str(self.dir)], tmp, os.environ.copy(), self.log)
        (self.dir / ".venv").symlink_to(ROOT / ".venv")
        os.utime(self.dir / "pyproject.toml", (0, 0))  # older than the shared venv's stamps: no reinstall
        tree = package_tree(self.dir, tmp / name / "pkg", self.dir / "generated")
        self.env = {k: v for k, v in os.environ.items() if k not in (EXPECT_ENV, "PYTHONPATH", "VIRTUAL_ENV")}
        self.env["PYTHONPATH"] = str(tree)
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"  # the clone's sources are linked from the tree, not this checkout's

    @property
    def specs(self) -> Path:
        return self.dir / "taxonomy"

    def sh(self, command: str, timeout: float = 900) -> str:
        if command == "make test":  # the README's last step: the tests of the user's taxonomy (module docstring)
            return self.generic_tests()
        return run(["bash", "-c", command], self.dir, self.env, self.log, timeout)

    def unitax(self, *args: str) -> str:
        return run([str(self.dir / ".venv" / "bin" / "unitax"), *args], self.dir, self.env, self.log)

    def generic_tests(self) -> str:
        out = run([str(self.dir / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                   "-m", self.marker], self.dir, self.env, self.log, timeout=3600)
        if "passed" not in out:
            raise StepFailed(f"{self.name}: the generic tests ran nothing:\n{out[-3000:]}")
        return out

    def timed(self, what: str, step: Callable[[], object]) -> None:
        t = time.monotonic()
        step()
        self.times[what] = time.monotonic() - t


def run(argv: list[str], cwd: Path, env: dict[str, str], log: list[str], timeout: float = 900) -> str:
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = r.stdout + r.stderr
    log.append(f"$ {' '.join(argv)}\n{out}")
    if r.returncode != 0:
        raise StepFailed(f"`{' '.join(argv)}` in {cwd} exited {r.returncode}:\n{out[-6000:]}")
    return out


# ----- the edits ---------------------------------------------------------------------------------


def readme_new_dataset(c: Clone) -> None:
    """README "Add your own dataset", verbatim: its first block, the review it describes (every
    suggestion kept: the draft entries deleted), then its last block."""
    blocks = readme_blocks("Add your own dataset")
    for cmd in commands(blocks[0]):
        c.sh(cmd)
    if not confirm_drafts(c.specs):
        raise StepFailed("the README's first block wrote no draft mapping")
    for cmd in commands(blocks[-1]):
        c.sh(cmd)


def definition_text(c: Clone) -> None:
    p = c.specs / "universal.yaml"
    text = p.read_text("utf-8")
    new = text.replace("A window covering of slats", "A window covering made of slats", 1)
    if new == text:
        raise StepFailed("the definition to edit is not in universal.yaml")
    p.write_text(new, "utf-8")


def two_new_classes(c: Clone) -> None:
    c.unitax("add-class", "snowman", "--parent", "outdoor", "--definition", "A figure of packed snow.")
    c.unitax("add-class", "hoverboard", "--parent", "vehicle", "--definition", "A self-balancing board on wheels.")
    confirm_drafts(c.specs)
    with open(c.specs / "universal.yaml", "a", encoding="utf-8") as f:
        f.write("accept:\n")
        for name in ("snowman", "hoverboard"):
            f.write(f"  - {{rule: unsupervised-class, class: {name}, reason: no dataset labels it yet}}\n"
                    f"  - {{rule: unused-class, class: {name}, reason: no test dataset has it}}\n")


def split_a_class(c: Clone) -> None:
    """README "Edit the taxonomy": its add-class block (moped split from motorcycle), then ADE's minibike moved."""
    for cmd in commands(readme_blocks("Edit the taxonomy")[-1]):
        c.sh(cmd)
    p = c.specs / "mappings" / "ade20k-150_to_universal.yaml"
    text = p.read_text("utf-8")
    text = text.replace("  minibike: motorcycle\n", "  minibike: moped\n", 1)
    text = text.replace("  - moped\n", "  - motorcycle\n", 1)  # nothing else of ADE's feeds motorcycle
    p.write_text(text, "utf-8")
    confirm_drafts(c.specs)
    # ade20k-150-relabeled still sends minibike to motorcycle [remap-conflict]: accepted, as the README says
    with open(c.specs / "mappings" / "ade20k-150_to_ade20k-150-relabeled.yaml", "a", encoding="utf-8") as f:
        f.write("accept:\n  - {rule: remap-conflict, class: minibike, reason: the relabeled ADE predates moped}\n")


def rename_a_dataset_class(c: Clone) -> None:
    """camvid-11's 'Bicyclist' becomes 'Cyclist' (its dataset file and the two mappings into it).

    (Renaming a class of a dataset that shares its label set with another, as kitti-19 does with
    cityscapes-19, is a [composition] warning to accept, not a pass under --strict.)"""
    edits = {"datasets/camvid-11.yaml": ("name: Bicyclist}", "name: Cyclist}", 1),
             "mappings/universal_to_camvid-11.yaml": (": Bicyclist\n", ": Cyclist\n", 2),
             "mappings/camvid-32_to_camvid-11.yaml": ("  Bicyclist: Bicyclist\n", "  Bicyclist: Cyclist\n", 1)}
    for rel, (old, new, n) in edits.items():
        p = c.specs / rel
        text = p.read_text("utf-8")
        if text.count(old) != n:
            raise StepFailed(f"{rel}: {old!r} is not there {n} time(s)")
        p.write_text(text.replace(old, new), "utf-8")


def remove_a_test_dataset(c: Clone) -> None:
    """wilddash-19 goes, with its source wilddash-34 and the mappings of both."""
    for rel in ("datasets/wilddash-19.yaml", "datasets/wilddash-34.yaml", "mappings/universal_to_wilddash-19.yaml",
                "mappings/wilddash-34_to_wilddash-19.yaml"):
        (c.specs / rel).unlink()


def union_mapping(c: Clone) -> None:
    """A new 3-class train dataset whose 'vehicle' is the union of car, bus and truck."""
    (c.specs / "datasets" / "mycity-unions.yaml").write_text(
        "name: mycity-unions\nrole: train\nlabel_dtype: uint8\nignore: 255\nclasses:\n"
        "  - {id: 0, name: road}\n  - {id: 1, name: vehicle}\n  - {id: 2, name: sky}\n", "utf-8")
    names = re.findall(r"^    name: (.+)$", (c.specs / "universal.yaml").read_text("utf-8"), re.M)
    fed = {"road", "car", "bus", "truck", "sky"}
    (c.specs / "mappings" / "mycity-unions_to_universal.yaml").write_text(
        "source: mycity-unions\ntarget: universal\nkind: union\nmap:\n  road: road\n  vehicle: [car, bus, truck]\n"
        "  sky: sky\nignore: []\nunfed:\n" + "".join(f"  - {n}\n" for n in names if n not in fed), "utf-8")


EDITS: dict[str, Callable[[Clone], None]] = {
    "readme-new-dataset": readme_new_dataset,
    "definition-text": definition_text,
    "two-new-classes": two_new_classes,
    "split-a-class": split_a_class,
    "rename-a-dataset-class": rename_a_dataset_class,
    "remove-a-test-dataset": remove_a_test_dataset,
    "union-mapping": union_mapping,
}


def fork(name: str, tmp: Path, marker: str = "live_taxonomy and not slow") -> Clone:
    """Clone, edit, compile, check strictly, run the generic tests (``marker``); raises StepFailed."""
    c = Clone(name, tmp, marker)
    c.timed("edit", lambda: EDITS[name](c))
    c.timed("make compile", lambda: c.sh("make compile"))
    c.timed("check --strict", lambda: c.unitax("check", "--strict"))
    out = ""

    def tests() -> None:
        nonlocal out
        out = c.generic_tests()
    c.timed("generic tests", tests)
    if SKIP_REASON not in out:  # every edit changes taxonomy/: the fidelity test must notice, and skip
        raise StepFailed(f"{name}: the live-specs fidelity test did not skip ({SKIP_REASON!r}):\n{out[-3000:]}")
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("edits", nargs="*", metavar="EDIT", help=f"the edits to try (default all: {', '.join(EDITS)})")
    ap.add_argument("--jobs", type=int, default=2, help="clones worked on at once (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the clones (their folder is printed)")
    ap.add_argument("--fast", action="store_true", help="run the whole fast suite in each clone (slower)")
    args = ap.parse_args()
    if not (ROOT / ".venv" / "bin" / "python").exists():
        print("test-fork: no .venv in the checkout (run `make .venv/.installed-test` first)", file=sys.stderr)
        return 2
    names = args.edits or list(EDITS)
    unknown = [n for n in names if n not in EDITS]
    if unknown:
        print(f"test-fork: unknown edit(s) {', '.join(unknown)}; the edits are {', '.join(EDITS)}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="unitax-fork-"))
    start = time.monotonic()
    failed = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            marker = "not slow" if args.fast else "live_taxonomy and not slow"
            futures = {n: pool.submit(fork, n, tmp, marker) for n in names}
            for n, f in futures.items():
                try:
                    c = f.result()
                    steps = ", ".join(f"{k} {v:.1f}s" for k, v in c.times.items())
                    print(f"ok   {n}: {steps}")
                except (StepFailed, subprocess.TimeoutExpired) as e:
                    failed.append(n)
                    print(f"FAIL {n}: {e}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"clones kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"test-fork: {len(names) - len(failed)} of {len(names)} edits pass ({time.monotonic() - start:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
