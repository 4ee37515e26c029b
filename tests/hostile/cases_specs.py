"""Hostile spec folders that the case.yaml corpus (tests/specs/invalid) cannot express: the spec
root or its folders of the wrong kind, symlink loops, FIFOs, sparse and unreadable files, stray
files, names differing only by Unicode normalisation, and misuse of `unitax check`/`compile`.

Each case builds a copy of the small closed subset of the real specs that test_corpus.py uses
(BASE) under ``<case>/taxonomy`` and changes it; every command must end with one-line problems
(never a traceback), each naming the file, and without a cascade of follow-on errors.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from support.corpus import BASE
from support.hostile import Case
from support.paths import SPECS

T = "{tmp}/taxonomy"


def base(root: Path) -> Path:
    specs = root / "taxonomy"
    for rel in BASE:
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPECS / rel, specs / rel)
    return specs


def with_base(change: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        change(base(root))
    return setup


def check(*extra: str) -> Callable[[Path], list[str]]:
    return lambda root: ["check", "--specs", str(root / "taxonomy"), "--no-stale", *extra]


def compile_(root: Path) -> list[str]:
    return ["compile", "--specs", str(root / "taxonomy"), "--out", str(root / "out")]


def as_root() -> str | None:
    return "runs as root, which reads any file" if os.geteuid() == 0 else None


def _replace_folder_with_file(sub: str) -> Callable[[Path], None]:
    def change(specs: Path) -> None:
        shutil.rmtree(specs / sub)
        (specs / sub).write_text("not a folder\n")
    return change


def _empty(sub: str) -> Callable[[Path], None]:
    def change(specs: Path) -> None:
        shutil.rmtree(specs / sub)
        (specs / sub).mkdir()
    return change


def _link(rel: str, target: str) -> Callable[[Path], None]:
    def change(specs: Path) -> None:
        p = specs / rel
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
        p.symlink_to(target)
    return change


def _fifo(rel: str) -> Callable[[Path], None]:
    return lambda specs: os.mkfifo(specs / rel)


def _sparse(specs: Path) -> None:
    with open(specs / "datasets" / "huge.yaml", "wb") as f:
        f.truncate(3 << 30)  # 3 GiB of holes: refused from stat, never read


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def change(specs: Path) -> None:
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        (specs / rel).write_text(text, "utf-8")
    return change


def _copy(src: str, dst: str) -> Callable[[Path], None]:
    return lambda specs: shutil.copyfile(specs / src, specs / dst)


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def change(specs: Path) -> None:
        text = (specs / rel).read_text("utf-8")
        assert text.count(old) == 1, (rel, old)
        (specs / rel).write_text(text.replace(old, new), "utf-8")
    return change


def _all(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(specs: Path) -> None:
        for c in changes:
            c(specs)
    return change


def _unreadable(specs: Path) -> None:
    (specs / "datasets" / "cityscapes-19.yaml").chmod(0)


def _relabel(specs: Path) -> None:
    (specs / "relabel" / "cityscapes-19").mkdir(parents=True)
    (specs / "relabel" / "cityscapes-19" / "a.tsv").write_text("aachen_000000_000019\t7\n")
    (specs / "relabel" / "cityscapes-19.yaml").write_text(
        "dataset: cityscapes-19\nrecords:\n  - {split: train, from: car, to: truck, segments: a.tsv}\n")


ONE = "unitax: 1 error(s)"
DUP = "(file names that differ only by .yml/.yaml, case or Unicode normalisation name one spec); keep one file"

CASES = [
    # ----- the spec root and its folders of the wrong kind: one problem, no cascade -----------------
    Case("specs/root-is-a-file", "message",
         setup=lambda root: (root / "taxonomy").write_text("name: x\n"), argv=check(),
         expect=(f"{T} $: is a file, not a folder; it must be the folder of universal.yaml, datasets/ and "
                 "mappings/ [not-a-folder]", ONE)),
    Case("specs/root-missing", "message", setup=lambda root: None, argv=check(),
         expect=(f"{T} $: spec folder does not exist (it holds universal.yaml, datasets/ and mappings/) "
                 "[missing-file]", ONE)),
    Case("specs/root-default-in-wrong-cwd", "message", setup=lambda root: (root / "elsewhere").mkdir(),
         argv=lambda root: ["check", "--no-stale"], cwd="elsewhere",
         expect=("taxonomy $: spec folder does not exist", ONE)),
    Case("specs/root-symlink-loop", "traceback", setup=lambda root: (root / "taxonomy").symlink_to("taxonomy"),
         argv=check(), expect=(f"{T} $: is a symlink loop (too many levels of symbolic links) [symlink-loop]", ONE)),
    Case("specs/root-is-a-fifo", "special-file", setup=lambda root: os.mkfifo(root / "taxonomy"), argv=check(),
         expect=(f"{T} $: is a FIFO, not a folder", ONE)),
    Case("specs/datasets-is-a-file", "message", setup=with_base(_replace_folder_with_file("datasets")),
         argv=check(), expect=(f"{T}/datasets $: is a file, not a folder; it must be the folder of dataset specs "
                               "(<dataset>.yaml) [not-a-folder]", ONE)),
    Case("specs/mappings-is-a-file", "message", setup=with_base(_replace_folder_with_file("mappings")),
         argv=check(), expect=(f"{T}/mappings $: is a file, not a folder; it must be the folder of mapping specs "
                               "(<source>_to_<target>.yaml) [not-a-folder]", ONE)),
    Case("specs/datasets-empty", "message", setup=with_base(_empty("datasets")), argv=check(),
         expect=(f"{T}/datasets $: holds no dataset spec (<dataset>.yaml) [missing-file]", ONE)),
    Case("specs/datasets-missing", "message", setup=with_base(lambda s: shutil.rmtree(s / "datasets")),
         argv=check(), expect=(f"{T}/datasets $: required spec folder is missing (dataset specs (<dataset>.yaml)) "
                               "[missing-file]", ONE)),
    Case("specs/datasets-link-outside", "symlink-tree",
         setup=lambda root: (shutil.copytree(SPECS / "datasets", root / "outside"),
                             _link("datasets", "../outside")(base(root))),
         argv=check(), expect=(f"{T}/datasets $: is a link to ../outside, outside the spec folder [symlink-outside]",
                               ONE)),
    Case("specs/datasets-symlink-loop", "traceback", setup=with_base(_link("datasets", "datasets")), argv=check(),
         expect=(f"{T}/datasets $: is a symlink loop (too many levels of symbolic links) [symlink-loop]", ONE)),
    Case("specs/mappings-empty", "message", setup=with_base(_empty("mappings")), argv=check(),
         expect=(f"{T}/mappings $: holds no mapping spec, but 3 train/test dataset(s) need one to or from universal "
                 "(camvid-11, cityscapes-19, cityscapes-34) [missing-mapping]", ONE)),
    Case("specs/mappings-missing", "message", setup=with_base(lambda s: shutil.rmtree(s / "mappings")), argv=check(),
         expect=(f"{T}/mappings $: holds no mapping spec, but 3 train/test dataset(s) need one", ONE)),
    Case("specs/universal-is-a-folder", "special-file",
         setup=with_base(lambda s: ((s / "universal.yaml").unlink(), (s / "universal.yaml").mkdir())),
         argv=check(), expect=(f"{T}/universal.yaml $: is not a regular file (a folder) [not-a-file]", ONE)),
    # ----- special and odd files inside the folders ------------------------------------------------------
    Case("specs/dataset-symlink-loop", "traceback", setup=with_base(_link("datasets/kitti-19.yaml", "kitti-19.yaml")),
         argv=check(), expect=(f"{T}/datasets/kitti-19.yaml $: is a symlink loop", ONE)),
    Case("specs/dataset-is-a-fifo", "special-file", setup=with_base(_fifo("datasets/kitti-19.yaml")), argv=check(),
         expect=(f"{T}/datasets/kitti-19.yaml $: is not a regular file (a FIFO) [not-a-file]", ONE)),
    Case("specs/mapping-is-a-fifo", "special-file", setup=with_base(_fifo("mappings/kitti-19_to_universal.yaml")),
         argv=compile_, expect=(f"{T}/mappings/kitti-19_to_universal.yaml $: is not a regular file (a FIFO)", ONE)),
    Case("specs/dataset-links-to-dev-zero", "special-file",
         setup=with_base(_link("datasets/kitti-19.yaml", "/dev/zero")),
         argv=check(), expect=(f"{T}/datasets/kitti-19.yaml $: is a link to /dev/zero, outside the spec folder", ONE)),
    Case("specs/sparse-3gib-dataset", "file-content", setup=with_base(_sparse), argv=check(),
         outputs=("taxonomy/datasets/huge.yaml",),
         expect=(f"{T}/datasets/huge.yaml $: file is {3 << 30} bytes; specs are limited to 8388608 [file-too-large]",
                 ONE)),
    Case("specs/unreadable-dataset", "traceback", setup=with_base(_unreadable), argv=check(), skip_if=as_root,
         expect=(f"{T}/datasets/cityscapes-19.yaml $: cannot be read: Permission denied [unreadable]",)),
    # ----- two files for one spec -------------------------------------------------------------------------
    Case("specs/dataset-nfd-beside-nfc", "duplicate-spec",
         setup=with_base(_all(_copy("datasets/camvid-11.yaml", "datasets/caf\u00e9.yaml"),
                              _copy("datasets/camvid-11.yaml", "datasets/cafe\u0301.yaml"))),
         argv=check(), expect=(f"{T}/datasets/cafe\u0301.yaml $: names the same dataset as datasets/'caf\\xe9.yaml' "
                               f"{DUP} [duplicate-file]",)),
    Case("specs/mapping-yml-beside-yaml-compile", "duplicate-spec",
         setup=with_base(_copy("mappings/camvid-32_to_camvid-11.yaml", "mappings/camvid-32_to_camvid-11.yml")),
         argv=compile_, expect=(f"{T}/mappings/camvid-32_to_camvid-11.yml $: names the same mapping as "
                                f"mappings/camvid-32_to_camvid-11.yaml {DUP} [duplicate-file]", ONE)),
    Case("specs/relabel-yml-beside-yaml", "duplicate-spec",
         setup=with_base(_all(_relabel, _copy("relabel/cityscapes-19.yaml", "relabel/cityscapes-19.yml"))),
         argv=check(), expect=(f"{T}/relabel/cityscapes-19.yml $: names the same relabel records as "
                               f"relabel/cityscapes-19.yaml {DUP} [duplicate-file]", ONE)),
    Case("specs/relabel-case-twice", "duplicate-spec",
         setup=with_base(_all(_relabel, _copy("relabel/cityscapes-19.yaml", "relabel/Cityscapes-19.yaml"))),
         argv=check(), expect=(f"{T}/relabel/Cityscapes-19.yaml $: names the same relabel records as "
                               f"relabel/cityscapes-19.yaml {DUP} [duplicate-file]", ONE)),
    Case("specs/relabel-segment-file-sparse", "file-content",
         setup=with_base(_all(_relabel, lambda s: os.truncate(s / "relabel" / "cityscapes-19" / "a.tsv", 3 << 30))),
         argv=check(), outputs=("taxonomy/relabel/cityscapes-19/a.tsv",),
         expect=(f"{T}/relabel/cityscapes-19/a.tsv $: file is {3 << 30} bytes; specs are limited to 8388608 "
                 "[file-too-large]", ONE)),
    # ----- stray files: read by nobody, warned about once per folder -------------------------------------
    Case("specs/relabel-stray-files-warned", "data-loss",
         setup=with_base(_all(_relabel, _write("relabel/notes.txt", "x\n"),
                              _write("relabel/cityscapes-19/a.csv", "x\n"))),
         argv=check(), exit_code=0,
         expect=(f"{T}/relabel $: warning: 2 file(s) that are neither relabel files (<dataset>.yaml) nor segment files "
                 "(<dataset>/*.tsv) are not read: relabel/cityscapes-19/a.csv, relabel/notes.txt [stray-file]",)),
    Case("specs/stray-files-warned", "data-loss",
         setup=with_base(_all(_write("datasets/README.md", "notes\n"), _write("datasets/kitti-19.yaml~", "x\n"))),
         argv=check(), exit_code=0,
         expect=(f"{T}/datasets $: warning: 2 file(s) without a .yaml/.yml extension are not read: README.md, "
                 "kitti-19.yaml~ [stray-file]",)),
    Case("specs/stray-fifo-not-opened", "special-file", setup=with_base(_fifo("mappings/pipe.json")), argv=check(),
         exit_code=0, expect=("are not read: pipe.json [stray-file]",)),
    Case("specs/stray-files-fail-strict", "data-loss", setup=with_base(_write("mappings/old.json", "{}\n")),
         argv=check("--strict"), expect=("[stray-file]", "unitax: 0 error(s)")),
    # ----- colours, YAML 1.1 and names through the CLI ---------------------------------------------------
    Case("specs/dataset-colour-clash-warned", "colour-clash",
         setup=with_base(_edit("datasets/cityscapes-19.yaml", "name: wall, color: [102, 102, 156]",
                               "name: wall, color: [70, 70, 70]")),
         argv=check(), exit_code=0,
         expect=("cityscapes-19.yaml:11 $.classes[3].color: warning: class 'wall' has colour [70, 70, 70], already "
                 "used by 'building': RGB label images cannot tell these cityscapes-19 classes apart (ambiguous "
                 "colour) [duplicate-color]",)),
    Case("specs/yaml11-octal-id-compile", "yaml11",
         setup=with_base(_edit("datasets/camvid-11.yaml", "{id: 10, name: Bicyclist}", "{id: 010, name: Bicyclist}")),
         argv=compile_, expect=("'010' is the integer 8 in YAML 1.1 (PyYAML) but 10 in YAML 1.2", "[yaml11]", ONE)),
    Case("specs/alias-as-map-key", "alias-key",
         setup=with_base(_edit("mappings/camvid-32_to_camvid-11.yaml", "  Car: Car\n  Column_Pole: Column_Pole\n",
                               "  &c Car: Car\n  *c : Column_Pole\n")),
         argv=check(), expect=("camvid-32_to_camvid-11.yaml:10 $.map: anchors and aliases are not allowed in specs "
                               "(alias *c used as a mapping key) [yaml-alias]", ONE)),
    Case("specs/cyrillic-name-shown-escaped", "suspicious-name",
         setup=with_base(_edit("datasets/cityscapes-19.yaml", "name: car,", "name: \"c\\u0430r\",")),
         argv=check(), expect=("class name 'c\\u0430r' mixes Latin letters with look-alikes from another script: "
                               "U+0430 CYRILLIC SMALL LETTER A (looks like 'a') [suspicious-name]", ONE)),
    # ----- misuse of the commands ---------------------------------------------------------------------
    Case("specs/compile-specs-a-file-writes-nothing", "message",
         setup=lambda root: (root / "specs.yaml").write_text("name: x\n"),
         argv=lambda root: ["compile", "--specs", str(root / "specs.yaml"), "--out", str(root / "out")],
         expect=("{tmp}/specs.yaml $: is a file, not a folder", "nothing was written")),
    Case("specs/check-unknown-option", "message", setup=lambda root: None,
         argv=lambda root: ["check", "--spec", str(root)], exit_code=2, expect=("No such option '--spec'",)),
    Case("specs/compile-extra-argument", "message", setup=lambda root: None,
         argv=lambda root: ["compile", str(root)], exit_code=2, expect=("Got unexpected extra argument",)),
]
