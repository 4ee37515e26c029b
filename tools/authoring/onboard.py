"""`unitax new-dataset`: a dataset spec and a draft mapping from a names file.

The draft proposes, for every class of the new dataset, the universal class it most likely
belongs to (tools/authoring/suggest.py: names, WordNet synsets, definitions and what the existing mappings
already send where), and records each proposal under ``draft:`` with its confidence and reason.
`unitax check` refuses every draft entry [draft-entry] until a person has checked that line and
deleted the entry, so nothing suggested reaches the tables unreviewed. For a train dataset the
mapping says ``unfed: {all_others: true, as_of: N}`` instead of listing every universal class the
dataset does not feed; a universal class added later is reported [unfed-stale].
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ...compiler import build, load
from ...compiler.errors import SpecError
from ...compiler.model import UNIVERSAL, Model
from ...fileops.datapath import bad_char, split_lines
from ..errors import ToolError
from . import specwriter
from .specwriter import Pairs
from .suggest import IGNORE_BELOW, Candidate, Suggester

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*\Z")  # \Z: `$` would also match before a final newline
#: the most classes a dataset can have: ids 0..65534 of uint16, 65535 being its ignore value
MAX_CLASSES = 65535
_BYTE = re.compile(r"[0-9]{1,3}")   # ASCII digits only: int() also reads Arabic-Indic and other digits


class OnboardError(ToolError):
    """A bad input of new-dataset: one line naming the file (and line); the command exits 2 (USAGE) with it."""


def _file_lines(path: Path) -> list[str]:
    """The lines of a names or colours file: split on ``\\n`` only (``str.splitlines`` would also split on
    U+2028 and other separators inside a line), trailing blank lines dropped."""
    try:
        lines = split_lines(path.read_bytes().decode("utf-8"))   # not read_text: it splits on a lone \r too
    except UnicodeDecodeError:
        raise OnboardError(f"{path}: is not UTF-8 text") from None
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def read_names(path: Path) -> list[str]:
    """One class name a line, in id order (trailing blank lines and white space dropped).

    A name holding a control or line-separating character (U+2028, U+0085, ...) is refused, and so is
    a file with more names than a dataset can have (:data:`MAX_CLASSES`), before any work is done."""
    lines = _file_lines(path)
    if len(lines) > MAX_CLASSES:
        raise OnboardError(f"{path}: holds {len(lines)} lines; a dataset has at most {MAX_CLASSES} classes "
                           f"(ids 0..{MAX_CLASSES - 1} of uint16, {MAX_CLASSES} is its ignore value)")
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, line in enumerate(lines, 1):
        n = line.strip()
        if not n:
            raise OnboardError(f"{path}:{i}: blank line: every line is one class (its id is the line number - 1)")
        why = bad_char(n)
        if why:
            raise OnboardError(f"{path}:{i}: class {ascii(n)} {why}; a class name is one line of text")
        if n.casefold() in seen:
            raise OnboardError(f"{path}:{i}: class {n!r} repeats line {seen[n.casefold()]}")
        seen[n.casefold()] = i
        names.append(n)
    if not names:
        raise OnboardError(f"{path}: holds no class names")
    return names


def read_colors(path: Path, count: int) -> list[tuple[int, int, int]]:
    """One ``R G B`` (or ``R,G,B``) a line, as many lines as there are names."""
    lines = _file_lines(path)
    out = []
    for i, line in enumerate(lines, 1):
        why = bad_char(line.replace("\t", " "))   # tabs may separate the numbers
        if why:
            raise OnboardError(f"{path}:{i}: {ascii(line)} {why}")
        parts = [p for p in re.split(r"[\s,;]+", line.strip().strip("[]()")) if p]
        if len(parts) != 3 or not all(_BYTE.fullmatch(p) and int(p) <= 255 for p in parts):
            raise OnboardError(f"{path}:{i}: {line.strip()!r} is not three numbers 0-255 (R G B, ASCII digits)")
        out.append((int(parts[0]), int(parts[1]), int(parts[2])))
    if len(out) != count:
        raise OnboardError(f"{path}: holds {len(out)} colours for {count} class names")
    return out


def _note(cands: list[Candidate]) -> str:
    if not cands or cands[0].score < IGNORE_BELOW:
        best = f"; best was {cands[0].name} ({cands[0].score:.2f})" if cands else ""
        return f"no universal class matched well: proposed ignore{best}"
    c = cands[0]
    rest = ", ".join(f"{x.name} ({x.score:.2f})" for x in cands[1:3])
    return f"{c.name}, confidence {c.score:.2f}: {c.reason}" + (f"; next: {rest}" if rest else "")


def render_dataset(name: str, role: str, names: list[str], colors: list[tuple[int, int, int]] | None) -> str:
    big = len(names) >= 255
    return specwriter.render("dataset", {
        "name": name, "role": role, "label_dtype": "uint16" if big else "uint8", "ignore": 65535 if big else 255,
        "class_list_from": "names-file",
        "classes": [{"id": i, "name": n, **({"color": list(colors[i])} if colors else {})}
                    for i, n in enumerate(names)],
    }, header=[f"Dataset {name}: class ids are the values stored in its label images.",
               "Written by `unitax new-dataset` from a names file (id = line number - 1)."])


def draft_to_universal(model: Model, name: str, names: list[str], sug: Suggester) -> str:
    """``<name>_to_universal.yaml``: every class mapped to its best suggestion (or ignored)."""
    mapped, ignored, draft = [], [], []
    for n in names:
        cands = sug.suggest(n, 3)
        if cands and cands[0].score >= IGNORE_BELOW:
            mapped.append((n, cands[0].name))
        else:
            ignored.append(n)
        draft.append((n, _note(cands)))
    return specwriter.render("mapping", {
        "source": name, "target": UNIVERSAL, "note": f"drafted by unitax new-dataset from {len(names)} class names",
        "map": Pairs(mapped), "ignore": ignored, "unfed": {"all_others": True, "as_of": len(model.universal.classes)},
        "draft": Pairs(draft),
    }, header=[f"{name} -> universal: a DRAFT written by `unitax new-dataset`. `unitax check` refuses each",
               "entry under draft: until a person has checked that class's line in map/ignore (fix it if the",
               "suggestion is wrong) and deleted the entry; delete the draft key when it is empty."],
        comments={"unfed": [
            "every universal class the map does not feed is unfed here, as of the universal classes then;",
            "a universal class added later is reported [unfed-stale] until decided"]})


def draft_from_universal(model: Model, name: str, names: list[str], sug: Suggester) -> str:
    """``universal_to_<name>.yaml``: each test class fed by its best universal class (a universal
    class wanted by two test classes feeds the one it matches best); every other universal class
    is ignored."""
    best: dict[str, tuple[float, str]] = {}
    notes = {}
    for n in names:
        cands = sug.suggest(n, 3)
        notes[n] = _note(cands)
        for c in cands[:1]:
            if c.score >= IGNORE_BELOW and (c.name not in best or best[c.name][0] < c.score):
                best[c.name] = (c.score, n)
    feeds = {u: n for u, (_, n) in best.items()}
    uni = model.universal
    mapped = [(c.name, feeds[c.name]) for c in uni.real_classes if c.name in feeds]
    ignored = [c.name for c in uni.real_classes if c.name not in feeds]
    unfed = [n for n in names if n not in feeds.values()]
    for n in unfed:
        if not notes[n].startswith("no universal"):
            notes[n] = f"left unfed: its best match feeds a better-matching class; {notes[n]}"
    return specwriter.render("mapping", {
        "source": UNIVERSAL, "target": name, "note": f"drafted by unitax new-dataset from {len(names)} class names",
        "map": Pairs(mapped), "ignore": ignored, "unfed": unfed, "draft": Pairs((n, notes[n]) for n in names),
    }, header=[f"universal -> {name}: a DRAFT written by `unitax new-dataset`. `unitax check` refuses each",
               f"entry under draft: until a person has checked what feeds that {name} class (map) and what",
               "is ignored, and deleted the entry; delete the draft key when it is empty."])


def new_dataset(specs: Path, name: str, names_file: Path, colors_file: Path | None, role: str) -> dict[Path, str]:
    """The files to write (path -> text); raises OnboardError for a bad input, SpecError for bad specs."""
    if not NAME.match(name) or name == UNIVERSAL:
        raise OnboardError(f"dataset name {name!r} must be lower case letters, digits, '.', '_' or '-' "
                           "(starting with a letter or digit), and not 'universal'")
    names = read_names(names_file)
    colors = read_colors(colors_file, len(names)) if colors_file is not None else None
    existing = existing_files(specs, name)
    if existing:  # before validating: a first run's draft mapping does not validate until reviewed
        raise OnboardError(f"dataset {name!r} is already declared ({', '.join(str(p) for p in existing)}); new-dataset "
                           "never replaces a file (to draft it again, move those files away first)")
    model, problems = build.check_specs(specs)
    if model is None:
        raise SpecError(problems)
    if name in model.spaces:
        raise OnboardError(f"dataset {name!r} is already declared in {specs}/datasets/{name}.yaml")
    sug = Suggester(model)
    dataset = specs / "datasets" / f"{name}.yaml"
    if role == "train":
        path, text = specs / "mappings" / f"{name}_to_{UNIVERSAL}.yaml", draft_to_universal(model, name, names, sug)
    else:
        path, text = specs / "mappings" / f"{UNIVERSAL}_to_{name}.yaml", draft_from_universal(model, name, names, sug)
    files = {dataset: render_dataset(name, role, names, colors), path: text}
    for p in files:
        if p.exists() or p.is_symlink():
            raise OnboardError(f"{p}: exists already; new-dataset never replaces a file (move it away first)")
    return files


def existing_files(specs: Path, name: str) -> list[Path]:
    """The spec files under ``specs`` that already name dataset ``name``: its dataset file and its
    mappings to or from universal (any spec extension, case or Unicode normalisation)."""
    wanted = {"datasets": {load.spec_key(f"{name}.yaml")},
              "mappings": {load.spec_key(f"{name}_to_{UNIVERSAL}.yaml"), load.spec_key(f"{UNIVERSAL}_to_{name}.yaml")}}
    found = []
    for sub, keys in wanted.items():
        try:
            entries = sorted(os.listdir(specs / sub))
        except OSError:
            continue
        found += [specs / sub / n for n in entries if load.is_spec_name(n) and load.spec_key(n) in keys]
    return found


def write_files(specs: Path, files: dict[Path, str]) -> None:
    """Write what :func:`new_dataset` made: both files or neither, never replacing one (a failed write
    leaves no half spec behind); an existing file is an OnboardError."""
    try:
        specwriter.write_specs(specs, {p.relative_to(specs).as_posix(): text for p, text in files.items()},
                               replace=False)
    except FileExistsError as e:
        raise OnboardError(f"{e.filename}: exists already; new-dataset never replaces a file") from None
