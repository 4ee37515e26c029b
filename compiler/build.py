"""Stage 7: run the pipeline — load, validate, model, tables, emit — and swap the output in atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from unitax.fileops.atomic import swap_folder
from unitax.fileops.walk import walk
from unitax.format import specs_digest

from . import accept, cache, load, outputs, perf, rules, schema
from .errors import BuildError, OutputRefused, Problem, SpecError  # noqa: F401  (OutputRefused: re-exported)
from .model import Model
from .outputs import TMP_PREFIX  # noqa: F401  (re-exported for callers and tests)

if TYPE_CHECKING:
    from .load_relabel import Sources
    from .relabel import DatasetRelabel

# The stages after the model (relabel records, analysis, tables and the emitters) are imported in
# render(), once the model exists: numpy, jinja2 and xlsxwriter (~0.2 s of a cold compile) are then
# imported by the processes that use them while the others work, instead of before anything starts.


def specs_hash(root: Path, relabel: Sources) -> tuple[str, list[str]]:
    """(sha256, the paths it covers): ``format.specs_digest`` over every spec and schema file
    (relative path and bytes; a schema as ``schemas/<name>``); of the relabel and segment files
    under relabel/ (``load_relabel.find``), the bytes the load stage read."""
    files, _ = load.spec_files(root)
    sdir = schema.schema_dir(root)
    items = [(rel, p) for rel, p in files] + [
        (f"schemas/{p.name}", p) for p in sorted(sdir.glob("*.schema.json"))
    ]
    odd = [p for _, p in items if not p.is_file()]  # a FIFO would block the read forever
    if odd:
        raise SpecError([Problem(p.as_posix(), 0, "$", "not-a-file", "is not a regular file") for p in odd])
    known = relabel.files
    blobs = [(rel, p.read_bytes()) for rel, p in items]
    blobs += [(rel, known[rel] if rel in known else (root / rel).read_bytes()) for rel in relabel.found.hashed]
    return specs_digest(blobs), sorted(rel for rel, _ in blobs)


def check_specs(root: Path, cache_dir: Path | None = None) -> tuple[Model | None, list[Problem]]:
    """Load and validate the specs under ``root``; returns (model or None, every problem).

    With ``cache_dir``, each file's parse and schema validation come from a content-addressed
    cache there when nothing that decides them changed (compiler/cache.py)."""
    model, problems, _ = _check(Path(root), cache_dir)
    return model, problems


def _check(root: Path, cache_dir: Path | None) -> tuple[Model | None, list[Problem], dict[str, load.Document]]:
    """check_specs, plus the documents read (by spec-relative path): the later stages locate their
    warnings and acceptances in these, instead of reading the files a second time."""
    checked, problems = cache.load_and_validate(root, cache_dir)
    valid: list[load.Document] = []
    broken: set[str] = set()
    for doc, probs in checked:
        if probs:
            problems += probs
            broken.add(Path(doc.rel).stem if doc.rel.startswith("datasets/") else "")
        else:
            valid.append(doc)
    for p in problems:  # files that did not parse at all
        rel = Path(p.file)
        if rel.parent.name == "datasets":
            broken.add(rel.stem)
        if rel.name == "universal.yaml":
            broken.add("universal")
        if rel.parent.name == "mappings":  # present but broken: not to be reported as missing
            broken.add(f"mappings/{rel.stem}")
    broken.discard("")
    model, more = rules.check(valid, broken)
    problems += more
    docs = {doc.rel: doc for doc, _ in checked}
    if any(p.severity == "error" for p in problems):
        return None, sorted(set(problems)), docs
    return model, sorted(set(problems)), docs


def check_relabel(root: Path, model: Model, sources: Sources | None = None
                  ) -> tuple[list[DatasetRelabel], list[Problem]]:
    """The relabel records under ``root/relabel`` through their stages: load (unless ``sources``
    holds what it made of them), rules (they need ``model``), tables.

    Returns the compiled records of each dataset (sorted by dataset) and every problem; when
    any problem is an error the compiled list is empty and the caller must stop."""
    from . import load_relabel, rules_relabel, tables  # numpy: see the note above specs_hash

    if sources is None:
        sources = cache.load_and_validate_relabel(Path(root))
    load_relabel.read_segments(sources)  # the segment files the records name, into sources
    checked, problems = rules_relabel.check(sources, model)
    return [tables.relabel_tables(c, model.universal) for c in checked], problems


@dataclass
class Result:
    """What a compile did."""

    model: Model
    files: dict[str, bytes]
    warnings: list[Problem]
    changed: bool


def render(root: Path, cache_dir: Path | None = None) -> tuple[Model, dict[str, bytes], list[Problem]]:
    """Validate and compile in memory; raises SpecError with every problem if the specs are invalid."""
    with perf.paused_gc():
        model, problems, docs = _check(Path(root), cache_dir)
        if model is None:
            raise SpecError(accept.apply(problems, docs, stale=False))
        # The docs site and the sheets need only the model: two forked children render them while
        # this process checks the relabel records, builds the tables and renders the coverage report
        # (which needs numpy, as the tables do: the docs child does not import it) and the colour
        # legends (perf.py).
        side_docs = perf.Background(_docs, model)
        side_sheets = perf.Background(_sheets, model)
        try:
            from . import analysis, tables, unions
            from .emit import coverage
            from .emit import docs as emit_docs
            from .emit import relabel as emit_relabel
            from .emit import tables as emit

            sources = cache.load_and_validate_relabel(root, cache_dir)  # relabel/: its rules need the model
            relabels, more = check_relabel(root, model, sources)
            if not any(p.severity == "error" for p in more):  # a broken relabel file is reported already
                more = more + unions.check(model, relabels)  # union mappings against the records they replace
            problems = sorted(set(problems + more))
            if any(p.severity == "error" for p in problems):
                raise SpecError(accept.apply(problems, docs, stale=False))
            problems = sorted(set(problems) | set(analysis.warnings(model, root, docs)))  # warnings only, never errors
            problems = accept.apply(problems, docs)  # those the specs accept, with a reason
            # everything of this process's own before waiting for the children
            files = {**emit.own_files(model, tables.build_tables(model)), **emit_relabel.render(relabels),
                     **coverage.render(model), **emit_docs.legends(model)}
            digest, hashed = specs_hash(root, sources)
            files.update(side_sheets.result())
            files.update(side_docs.result())
        finally:
            side_docs.close()
            side_sheets.close()
        files = emit.with_manifest(model, files, digest, hashed)
    return model, files, problems


def _docs(model: Model) -> dict[str, bytes]:
    """The docs site's pages (the caller renders the legends and the coverage report: it imports
    jinja2 for the latter anyway, and the pages are the longest of the three processes' work)."""
    from .emit import docs

    return docs.pages(model)


def _sheets(model: Model) -> dict[str, bytes]:
    """The spreadsheets (sheets/)."""
    from .emit import sheets

    return sheets.render(model)


def read_tree(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` as relative path -> bytes (empty if ``out`` does not exist).

    Like ``sorted(out.rglob("*"))`` filtered by ``is_file()``: links to files are read, linked
    folders are not entered, ``__pycache__`` folders are left out."""
    if not os.path.isdir(out):
        return {}
    found: list[tuple[str, str]] = []
    for e in walk(out, prune={"__pycache__"}):   # links are not followed into folders
        if e.error is not None:
            raise e.error
        if not e.folder and os.path.basename(e.path) != "__pycache__" and os.path.isfile(e.path):
            found.append((e.rel, e.path))   # a file, or a link to one
    out_files = {}
    for rel, path in sorted(found, key=lambda f: f[0].split("/")):  # the order of sorted Paths
        with open(path, "rb") as f:
            out_files[rel] = f.read()
    return out_files


def stale_files(expected: dict[str, bytes], out: Path) -> list[Problem]:
    """Files of ``out`` that differ from ``expected`` (changed, missing or extra), one Problem each."""
    actual = read_tree(out)
    diffs = []
    for rel in sorted(set(expected) | set(actual)):
        what = ("missing" if rel not in actual else "extra" if rel not in expected
                else "changed" if actual[rel] != expected[rel] else None)
        if what is not None:
            diffs.append(Problem(f"{Path(out).as_posix()}/{rel}", 0, "", "stale-output", what))
    return diffs


def output_problems(expected: dict[str, bytes], out: Path) -> list[Problem]:
    """Why ``out`` is not the build of ``expected``: not a folder, leftovers of an interrupted
    compile, stale files (each, then one line for the folder); empty when it is up to date."""
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        return [Problem(str(out), 0, "", "output-not-a-folder",
                        "is not a folder (a build is a folder; `unitax compile` will not replace a file)")]
    problems = [Problem(str(left), 0, "", "interrupted-compile",
                        f"left by an interrupted compile (the previous {out} is intact); "
                        "run `unitax compile` to clean up")
                for left in leftovers(out)]
    diffs = stale_files(expected, out)
    if diffs:
        problems += stale_folders(diffs, out) + [
            Problem(str(out), 0, "", "stale-output", f"is stale ({len(diffs)} file(s)): run `make compile` "
                    "(unitax compile)")]
    return problems


def stale_folders(diffs: list[Problem], out: Path) -> list[Problem]:
    """The per-file problems of :func:`stale_files` summarised in one Problem per folder: how many
    files changed, are missing or extra there, and the first few names."""
    base = f"{Path(out).as_posix()}/"
    by_folder: dict[str, dict[str, list[str]]] = {}
    for d in diffs:
        rel = d.file[len(base):] if d.file.startswith(base) else d.file
        folder, _, name = rel.rpartition("/")
        by_folder.setdefault(folder, {}).setdefault(d.message, []).append(name)
    shown = 5
    out_problems = []
    for folder, kinds in sorted(by_folder.items()):
        parts = []
        for kind in ("changed", "missing", "extra"):
            names = kinds.get(kind, [])
            if names:
                more = f" and {len(names) - shown} more" if len(names) > shown else ""
                parts.append(f"{len(names)} file(s) {kind} ({', '.join(names[:shown])}{more})")
        out_problems.append(Problem(f"{base}{folder}/" if folder else base, 0, "", "stale-output",
                                    "; ".join(parts)))
    return out_problems


def leftovers(out: Path) -> list[Path]:
    """Temporary build folders left beside ``out`` by an interrupted compile (exactly the names
    unitax gives them and only build files inside: a folder of the user's is never one)."""
    return outputs.leftovers(Path(out))


def remove_leftovers(out: Path) -> None:
    """Remove what interrupted compiles left beside ``out`` (call it with the lock of ``out``
    held: ``outputs.build_lock``; folders of compiles still running are never removed).

    Where a compile was killed between the two renames of the fallback swap, ``out`` is missing
    and the previous tree is whole in a ``*-old`` folder: that one is put back first.
    """
    aside = [p for p in leftovers(out) if p.name.endswith("-old") and outputs.why_not_a_build(p) is None]
    if aside and not os.path.lexists(out):
        os.rename(aside[0], out)
    for old in leftovers(out):
        shutil.rmtree(old, ignore_errors=True)


def write_tree(files: dict[str, bytes], out: Path) -> None:
    """Write ``files`` (relative path -> bytes) under the folder ``out``, which must be new: each
    folder made once, each file created exclusively (a file already there is an error, never
    overwritten)."""
    out = Path(out)
    for folder in sorted({os.path.dirname(rel) for rel in files}):
        os.makedirs(out / folder, exist_ok=True)
    base = os.fspath(out)
    for rel, data in sorted(files.items()):
        _write_new(os.path.join(base, rel), data)


def _write_new(path: str, data: bytes) -> None:
    """Create the file ``path`` (it must not exist) holding ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def swap_in(files: dict[str, bytes], out: Path) -> None:
    """Write ``files`` to a temporary folder beside ``out``, verify them, then swap it in.

    At no moment is ``out`` half-written: either the previous tree or the new one is there.
    A compile killed before the swap leaves a ``.unitax-build-*`` folder, which the next
    compile removes and ``unitax check`` reports. Compiles into one ``out`` take turns
    (``outputs.build_lock``), so that none removes the folder another is writing.
    """
    out = Path(out)
    with _locked(out):
        _swap_in(files, out)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold the lock of ``out`` (its parent made first); an OS error inside is a BuildError."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with outputs.build_lock(out):
            yield
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        raise BuildError(f"{where}{e.strerror or e}") from None


def _swap_in(files: dict[str, bytes], out: Path) -> None:
    """swap_in, with the lock of ``out`` held."""
    outputs.check_build_out(out)  # again under the lock: another compile may have changed out
    remove_leftovers(out)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{out.name}-", suffix=outputs.tmp_suffix(), dir=out.parent))
    try:
        write_tree(files, tmp)
        if read_tree(tmp) != files:
            raise BuildError(f"verification of {tmp} failed: written files differ from the build")
        old = swap_folder(tmp, out, tmp.with_name(tmp.name + "-old"))
        if old is None:
            return
        tmp = Path(old)   # the previous tree, removed below
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def compile_taxonomy(root: Path, out: Path, cache_dir: Path | None = None) -> Result:
    """Compile the specs under ``root`` into ``out``; raises SpecError and leaves ``out`` untouched on bad specs.

    When the output would be byte-identical to what ``out`` holds, nothing is written (but
    folders left by an interrupted compile are still removed, so `unitax check` passes again).
    Raises OutputRefused, before reading the specs, when ``out`` is not a folder a build may
    replace (outputs.check_build_out: absent, empty or a previous build; not the specs).
    ``cache_dir``: where to keep the per-file parse/validation cache (none when None).
    """
    out = Path(out)
    outputs.check_build_out(out, Path(root))
    model, files, warnings = render(Path(root), cache_dir)
    with _locked(out):  # one compile at a time cleans up, compares and swaps
        remove_leftovers(out)
        changed = read_tree(out) != files
        if changed:
            _swap_in(files, out)
        else:
            _refresh(out)
    return Result(model, files, warnings, changed)


def _refresh(out: Path) -> None:
    """Give the manifest of an up-to-date ``out`` the current time: the runtime's stale check
    (``unitax.stale.warn_if_stale``) then reads no spec until one is modified again (after a
    ``touch`` or a ``git checkout`` it hashes them on every load to see they are unchanged)."""
    try:
        os.utime(out / outputs.MANIFEST)
    except OSError:
        pass  # a read-only build: the check stays correct, only slower
