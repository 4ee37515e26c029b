"""The spec-authoring commands (on the compiler): check, compile, import-mseg, import-ut, import-rvc,
import-unions, import-relabel, new-dataset, add-class, diff, rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ...compiler import build, outputs, registry
from ...compiler.errors import BuildError, SpecError
from ..cli import PROBLEMS, USAGE, encodable, exit_with, fail, problem_line, report
from .options import OUT, SPECS, specs_option


@click.command("check")
@SPECS
@OUT
@click.option("--stale/--no-stale", default=True, show_default=True,
              help="Also fail when the compiled output differs from what the specs compile to.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--bundled", is_flag=True,
              help="Check every bundled taxonomy of this checkout instead (MSeg's taxonomy/ against generated/, "
                   "taxonomies/<name>/ against builds/<name>/: unitax.bundled lists them), and that the label "
                   "spaces they share are the same (names and ids); `make check` runs this.")
def check_cmd(specs: Path, out: Path, stale: bool, strict: bool, bundled: bool) -> None:
    """Validate the specs (schema, then named rules) and check that the compiled folder is up to date."""
    if bundled:
        _each_bundled(lambda s, o: _check_one(s, o, stale, strict), shared_check=True)
        return
    _check_one(specs, out, stale, strict)
    cross = _same_classes_outside(specs)
    for line in cross:
        click.echo(line, err=True)
    if cross:
        exit_with(PROBLEMS, f"unitax: {len(cross)} same_classes_as problem(s) against the bundled taxonomies")


def _same_classes_outside(specs: Path) -> list[str]:
    """The [same-classes] problems of the ``same_classes_as`` of ``specs`` that name a space outside it,
    checked against the bundled taxonomies' spec roots found from the working folder (a checkout;
    none where they are not there: an installed package ships builds, not specs)."""
    from ...bundled import BUNDLED

    if not same_classes_problems([specs]):  # alone, a root reports each space it names outside itself
        return []
    mine = specs.resolve()
    others = [p for b in BUNDLED if (p := Path(*b.specs.split("/"))).is_dir() and p.resolve() != mine]
    if not others:
        return []
    prefix = str(specs / "datasets") + os.sep
    return [line for line in same_classes_problems([specs, *others]) if line.startswith(prefix)]


def _each_bundled(run: Any, shared_check: bool = False) -> None:
    """Run ``run(specs, out)`` for every bundled taxonomy (a heading line each); exit 1 at the end when
    any failed (each failure printed), or when two declare one label space differently."""
    from ...bundled import BUNDLED

    failed = []
    for b in BUNDLED:
        specs, out = Path(*b.specs.split("/")), Path(*b.build.split("/"))
        click.echo(f"== {b.name}: {specs} -> {out}")
        try:
            run(specs, out)
        except SystemExit as e:
            if e.code:
                failed.append(b.name)
    if shared_check:
        roots = [Path(*b.specs.split("/")) for b in BUNDLED]
        problems = shared_space_problems(roots) + same_classes_problems(roots)
        for line in problems:
            click.echo(line, err=True)
        if problems:
            failed.append("shared label spaces")  # [shared-space] and [same-classes] across taxonomies
    if failed:
        exit_with(PROBLEMS, f"unitax: failed: {', '.join(failed)}")


def shared_space_problems(roots: list[Path]) -> list[str]:
    """One line per label space that two spec roots both declare with other class names or ids
    (``file:line: ... [shared-space]``); a root that does not load is passed over (its own check says why)."""
    from ..authoring.published import shared_spaces

    rule = "shared-space"
    first: dict[str, tuple[Path, list[tuple[Any, Any, bool]]]] = {}
    out = []
    for root in roots:
        try:
            specs = shared_spaces([root])
        except (SpecError, OSError):
            continue
        for name, spec in sorted(specs.items()):
            classes = [(c.get("id"), c.get("name"), bool(c.get("void")))
                       for c in spec["classes"] if isinstance(c, dict)]
            classes.append(("label_dtype/ignore", f"{spec.get('label_dtype')}/{spec.get('ignore')}", False))
            if name not in first:
                first[name] = (root, classes)
            elif first[name][1] != classes:
                other = first[name][0]
                pairs = zip(first[name][1], classes, strict=False)
                diff = next((f"id {a[0]}: {a[1]!r} there, {b[1]!r} here" for a, b in pairs if a != b),
                            f"{len(first[name][1])} classes there, {len(classes)} here")
                out.append(f"{root / 'datasets' / (name + '.yaml')}:1: label space {name!r} differs from "
                           f"{other / 'datasets' / (name + '.yaml')} ({diff}); a name is one label space in "
                           f"every bundled taxonomy [{rule}]")
    return out


def same_classes_problems(roots: list[Path]) -> list[str]:
    """One line per problem of a ``same_classes_as`` whose other space is not in its own spec root
    (``file:line: ... [same-classes]``): the space must be declared by another bundled taxonomy and pair
    with this one as declared (compiler/correspond.py). Inside one root the compiler checks it; a root
    or file that does not load is passed over (its own check says why)."""
    from ...compiler import correspond
    from ..authoring.published import dataset_docs

    rule = "same-classes"
    docs: dict[Path, dict[str, Any]] = {root: dataset_docs(root) for root in roots}

    def by_id(d: dict[str, Any]) -> list[str | None]:
        classes = [c for c in d["classes"] if isinstance(c, dict) and isinstance(c.get("id"), int)]
        out: list[str | None] = [None] * (max((c["id"] for c in classes), default=-1) + 1)
        for c in classes:
            if not c.get("void") and c["id"] < 65536:
                out[c["id"]] = str(c.get("name"))
        return out

    out = []
    for root in roots:
        for name, doc in sorted(docs[root].items()):
            decl = doc.data.get(correspond.KEY)
            if not (isinstance(decl, dict) and isinstance(decl.get("space"), str) and decl.get("by") in correspond.BY
                    and isinstance(decl.get("unpaired", []), list)):
                continue  # none, or not schema-valid (the root's own check says so)
            same = correspond.SameClasses.from_data(decl)
            if same.space in docs[root]:
                continue  # the compiler checks it inside the root
            other = next(((r, docs[r][same.space]) for r in roots if r != root and same.space in docs[r]), None)
            if other is None:
                out.append(f"{doc.file}:{doc.line((correspond.KEY, 'space'))}: same_classes_as names "
                           f"{same.space!r}, which no bundled taxonomy declares [{rule}]")
                continue
            _, problems = correspond.pair(name, by_id(doc.data), same, by_id(other[1].data))
            for where, message in problems:
                out.append(f"{doc.file}:{doc.line(where)}: {message} (against {other[1].file}) [{rule}]")
    return out


def _check_one(specs: Path, out: Path, stale: bool, strict: bool) -> None:
    try:
        model, files, warnings = build.render(specs)
    except SpecError as e:
        fail(e.problems, nothing_written=False)  # check never writes
    open_warnings = [w for w in warnings if w.severity == "warning"]  # not those the specs accept
    if strict and open_warnings:
        fail(warnings, nothing_written=False)
    problems = build.output_problems(files, out) if stale else []
    if problems:  # the count covers the warnings printed with them
        fail(warnings + problems, nothing_written=False)
    report(warnings)
    click.echo(f"ok: {len(model.universal.classes)} universal classes, {len(model.datasets)} datasets, "
               f"{len(model.mappings)} mappings; {len(open_warnings)} warning(s)"
               + (f", {len(warnings) - len(open_warnings)} accepted" if len(warnings) > len(open_warnings) else "")
               + (f"; {out} is up to date" if stale else ""))
    from ...compiler import analysis  # numpy: only `check` prints these

    for line in analysis.notes(model):  # facts by design (lossy back-maps, coverage), not warnings
        click.echo(f"note: {line}")


@click.command("compile")
@SPECS
@OUT
@click.option("--naive", is_flag=True,
              help="Compile the naive baseline of the MSeg ablation instead: the union of the train datasets' "
                   "lower-cased class names, into OUT (default generated-naive; never generated/).")
@click.option("--cache-dir", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep each spec file's parse and schema check here, keyed by content hashes, and reuse them "
                   "while nothing that decides them changed (`make compile` uses .make/cache).")
@click.option("--bundled", is_flag=True,
              help="Compile every bundled taxonomy of this checkout instead (taxonomy/ -> generated/, "
                   "taxonomies/<name>/ -> builds/<name>/: unitax.bundled lists them); `make compile` runs this.")
def compile_cmd(specs: Path, out: Path, naive: bool, cache_dir: Path | None, bundled: bool) -> None:
    """Validate the specs and write tables, class lists and manifest to the compiled folder (atomically).

    The compiled folder must be absent, an empty folder or a previous unitax build (its manifest, nothing else);
    anything else (a file, a link, the specs, a folder of other files) is refused and left as it is.
    """
    if bundled:
        if naive:
            exit_with(USAGE, "unitax: --bundled and --naive do not go together")
        _each_bundled(lambda s, o: _compile_one(s, o, cache_dir))
        return
    if naive:
        _compile_naive(specs, Path("generated-naive") if out == Path("generated") else out)
        return
    _compile_one(specs, out, cache_dir)


def _compile_one(specs: Path, out: Path, cache_dir: Path | None) -> None:
    result = _build_or_exit(lambda s, o: build.compile_taxonomy(s, o, cache_dir), specs, out)
    report(result.warnings)
    what = "wrote" if result.changed else "unchanged:"
    click.echo(f"{what} {out} ({len(result.files)} files: {len(result.model.datasets)} datasets, "
               f"{len(result.model.mappings)} mappings)")


def _build_or_exit(compile_fn: Any, specs: Path, out: Path) -> Any:
    """Run a compile; bad specs exit 1 with every problem, a failed write exits 2. OUT stays as it was."""
    try:
        return compile_fn(specs, out)
    except BuildError as e:
        exit_with(USAGE, f"unitax: build failed: {e}; {out} was left as it was")


def _compile_naive(specs: Path, out: Path) -> None:
    from ..authoring import naive

    try:
        outputs.check_build_out(out, specs)  # against the curated specs (the compile sees a temporary copy)
        if os.path.realpath(out) == os.path.realpath("generated") and os.path.isdir(out):
            raise outputs.OutputRefused(f"{out}: is where `unitax compile` writes the curated build; "
                                        "give the naive baseline a folder of its own (default generated-naive)")
    except outputs.OutputRefused as e:
        exit_with(USAGE, f"unitax: refused: {e}")
    result, warned = _build_or_exit(naive.compile_naive, specs, out)
    if warned:
        click.echo("naive taxonomy: " + ", ".join(f"{n} [{rule}] warning(s)" for rule, n in warned.items()), err=True)
    what = "wrote" if result.changed else "unchanged:"
    u = result.model.universal
    click.echo(f"{what} {out} (naive baseline: {len(u.real_classes)} universal classes in {len(u.classes)} ids, "
               f"ignore {u.ignore}, from "
               f"{', '.join(d.name for d in result.model.datasets if d.role == 'train')}; {len(result.files)} files)")


@click.command("import-mseg")
@click.argument("reference", type=click.Path(exists=True, file_okay=False, path_type=Path))
@SPECS
@click.option("--keep-definitions/--no-keep-definitions", default=True, show_default=True,
              help="Keep the class definitions already written in SPECS/universal.yaml.")
@click.option("--definitions", "definitions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A YAML map of universal class name -> definition to write in (overrides kept ones).")
def import_cmd(reference: Path, specs: Path, keep_definitions: bool, definitions_file: Path | None) -> None:
    """Write specs from REFERENCE, a directory laid out like the MSeg reference data."""
    from ..authoring import importer

    definitions = importer.existing_definitions(specs) if keep_definitions else {}
    if definitions_file is not None:
        definitions.update(importer.read_definitions(definitions_file))
    files = importer.render_specs(reference, definitions)
    outputs.check_spec_import(specs, files)
    importer.write_specs(files, specs)
    _, problems = build.check_specs(specs)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        report(errors)
        exit_with(PROBLEMS, f"unitax: imported specs do not validate ({len(errors)} error(s))")
    click.echo(f"wrote {len(files)} spec files to {specs}")


def _print_slips(slips: list[Any], what: str) -> None:
    """The slips an importer found in the published data, one line each (stderr), and their count."""
    for s in slips:
        click.echo(f"slip: {s}", err=True)
    click.echo(f"{len(slips)} slip(s) in {what}, written as published: `unitax check` reports each in the specs"
               + (" (accept one with the reason where its authors meant it)" if slips else ""))


def _shared_roots(shared: tuple[Path, ...]) -> dict[str, Any]:
    from ..authoring import published

    try:
        return published.shared_spaces(shared)
    except SpecError as e:
        exit_with(USAGE, "\n".join(problem_line(p) for p in e.problems))


@click.command("import-ut")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@specs_option("Folder to write universal.yaml, datasets/ and mappings/ into.", folder_only=True,
              default=Path("taxonomies/ut"))
@click.option("--shared", "shared", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=(Path("taxonomy"), Path("taxonomies/rvc")), show_default=True,
              help="Spec roots whose label spaces are shared: a UT dataset with exactly the classes of one of "
                   "their spaces is that space (e.g. cityscapes-34). Repeat for several; the first wins a name.")
@click.option("--label-definitions", "definitions", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="RVC's label_definitions/ (segmentation/ of rvc_devkit): a UT dataset whose classes "
                                 "are exactly those of a label config there (Mapillary Vistas v1.2) takes its colours.")
def import_ut_cmd(source: Path, specs: Path, shared: tuple[Path, ...], definitions: Path | None) -> None:
    """Write specs from SOURCE, the universal taxonomy of Bevandić et al. (WACV 2022): a checkout of
    github.com/UNIZG-FER-D307/universal_taxonomies or its taxonomies/ folder. Its .py files are read as data
    (never imported or run); every mapping becomes a union mapping. Slips of the published data are
    written as published and listed."""
    from ..authoring import published, ut_import

    notes: list[str] = []
    try:
        files, slips = ut_import.render_specs(source, _shared_roots(shared), definitions, notes,
                                              published.kept_same_classes(specs))
    except SpecError as e:
        fail(e.problems)
    outputs.check_spec_import(specs, files)
    published.write(files, specs)
    click.echo(f"wrote {specs}: {len(files)} spec files")
    for line in notes:
        click.echo(f"same classes: {line}")
    _print_slips(slips, "UT's files")


@click.command("import-rvc")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@specs_option("Folder to write universal.yaml, datasets/ and mappings/ into.", folder_only=True,
              default=Path("taxonomies/rvc"))
@click.option("--shared", "shared", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=(Path("taxonomy"),), show_default=True,
              help="Spec roots whose label spaces the sheet's columns name (MSeg's: ade20k-151, cityscapes-34, ...).")
@click.option("--label-definitions", "definitions", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="RVC's label_definitions/ (default: the one beside the sheet), for the class "
                                 "lists of viper-rvc-32 and wilddash2-rvc-39.")
def import_rvc_cmd(source: Path, specs: Path, shared: tuple[Path, ...], definitions: Path | None) -> None:
    """Write specs from SOURCE, the Robust Vision Challenge 2022 segmentation taxonomy: its sheet
    ss_mapping_uint8_mseg.tsv, or the folder holding it (segmentation/ of github.com/ozendelait/rvc_devkit).
    Slips of the published data are written as published and listed."""
    from ..authoring import published, rvc_import

    try:
        files, slips = rvc_import.render_specs(source, _shared_roots(shared), definitions)
    except SpecError as e:
        fail(e.problems)
    outputs.check_spec_import(specs, files)
    published.write(files, specs)
    click.echo(f"wrote {specs}: {len(files)} spec files")
    _print_slips(slips, "RVC's sheet")


@click.command("import-unions")
@click.argument("datasets", nargs=-1, required=True)
@SPECS
def import_unions_cmd(datasets: tuple[str, ...], specs: Path) -> None:
    """Write SPECS/datasets/<D>-unions.yaml and SPECS/mappings/<D>-unions_to_universal.yaml for each train
    dataset D: D's classes as unions of universal classes, derived from the relabel records of D-relabeled.

    Only those files are written; the specs must validate before and after.
    """
    from ..authoring import union_import

    try:
        files = union_import.render_specs(specs, list(datasets))
    except SpecError as e:
        fail(e.problems)
    outputs.check_spec_import(specs, list(files))  # replaces only spec files of their kind (else refused, exit 2)
    union_import.write_specs(files, specs)
    try:
        build.render(specs)
    except SpecError as e:
        report(e.errors)
        exit_with(PROBLEMS, f"unitax: the union specs do not validate ({len(e.errors)} error(s))")
    click.echo(f"wrote {len(files)} spec files to {specs}")


@click.command("import-relabel")
@click.argument("reference", type=click.Path(exists=True, file_okay=False, path_type=Path))
@SPECS
def import_relabel_cmd(reference: Path, specs: Path) -> None:
    """Write SPECS/relabel/ (relabel records and segment lists) from REFERENCE, laid out like the MSeg reference.

    SPECS/relabel/ is replaced only when it holds relabel specs and segment lists alone.
    """
    from ...compiler import relabel
    from ..authoring import relabel_import

    outputs.check_relabel_import(specs, relabel.RELABEL_DIR)
    files = relabel_import.render_reference(reference)
    relabel_import.write_specs(files, specs)
    try:
        build.render(specs)
    except SpecError as e:
        report(e.errors)
        exit_with(PROBLEMS, f"unitax: imported specs do not validate ({len(e.errors)} error(s))")
    n = sum(rel.endswith(".tsv") for rel in files)
    click.echo(f"wrote {len(files) - n} relabel files and {n} segment lists to {specs}/{relabel.RELABEL_DIR}")


@click.command("rules")
def rules_cmd() -> None:
    """List every rule id a problem can name: id, stage, severity (error, warning, either), what it checks."""
    click.echo(registry.table())


@click.command("diff")
@click.argument("old")
@click.argument("new")
@specs_option(help="The spec folder inside the git repository, for OLD or NEW given as git revisions.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True,
              help="A Markdown report for review, or JSON for tools.")
def diff_cmd(old: str, new: str, specs: Path, fmt: str) -> None:
    """Show what changed from OLD to NEW: classes added, removed, renamed, renumbered, split or merged,
    and every lookup-table entry that changed.

    OLD and NEW are spec folders or git revisions (e.g. `unitax diff HEAD~1 taxonomy`). Exit status:
    0, or 1 when an id of an existing class changed meaning (breaking for checkpoints and label
    files; for CI), 2 when a side cannot be read or does not validate.
    """
    from ..authoring import diff as taxdiff

    sides = []
    for which, spec in (("old", old), ("new", new)):
        try:
            sides.append(taxdiff.load_side(spec, specs))
        except SpecError as e:
            report(e.errors)
            exit_with(USAGE, f"unitax diff: the {which} side ({spec}) does not validate")
    d = taxdiff.compare(*sides)
    text = taxdiff.to_json(d) if fmt == "json" else taxdiff.to_markdown(d)
    if not encodable("\u2192"):   # e.g. an ISO-8859-1 terminal: the report's arrows in ASCII
        text = text.replace("\u2192", "->")
    click.echo(text, nl=False)
    if d["breaking"]:
        exit_with(PROBLEMS)


@click.command("new-dataset")
@click.argument("name")
@click.option("--names", "names_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The class names, one a line in id order (line 1 is id 0).")
@click.option("--colors", "colors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Optional colours, one 'R G B' a line, in the same order.")
@click.option("--role", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="train: draft a mapping into universal; test: draft one from universal into it.")
@specs_option(folder_only=True)
def new_dataset_cmd(name: str, names_file: Path, colors_file: Path | None, role: str, specs: Path) -> None:
    """Write SPECS/datasets/NAME.yaml and a draft mapping to (train) or from (test) universal.

    Every class gets the universal class it most likely belongs to, with a confidence and the
    reason, under `draft:`; `unitax check` refuses each draft entry until you have checked that
    line and deleted the entry. Then `make compile` and `make test`.
    """
    from ..authoring import onboard

    try:   # an OnboardError (a bad input) reaches tools/cli: one line, exit 2
        files = onboard.new_dataset(specs, name, names_file, colors_file, role)
    except SpecError as e:
        exit_with(PROBLEMS, *map(problem_line, e.errors),
                  f"unitax new-dataset: the specs in {specs} do not validate; fix them first")
    onboard.write_files(specs, files)
    for path in files:
        click.echo(f"wrote {path}")
    mapping = list(files)[1]
    click.echo(f"next: review every entry under draft: in {mapping} (fix the map/ignore line if the suggestion "
               "is wrong, then delete the entry), then `unitax check` and `make compile`")


@click.command("add-class")
@click.argument("name")
@click.option("--parent", required=True, help="The parent category (the `parent` of similar classes).")
@click.option("--definition", required=True, help="What the class includes, and what its neighbours keep.")
@click.option("--split-from", "split_from", default=None,
              help="An existing universal class this one takes part of: mappings out of universal treat the new "
                   "class as they treat it, and its feeders are drafted for review.")
@click.option("--synset", default=None, help="Its WordNet synset (lemma.pos.nn), if any.")
@specs_option(folder_only=True)
def add_class_cmd(name: str, parent: str, definition: str, split_from: str | None, synset: str | None,
                  specs: Path) -> None:
    """Append universal class NAME (the next id and a free colour) and draft its decision in every mapping.

    Each mapping into universal lists NAME as unfed (with --split-from, the classes feeding the old
    class are drafted for review); each mapping out of universal ignores it (with --split-from, it
    feeds what the old class feeds). `unitax check` refuses every draft entry until you have
    checked that line and deleted the entry; mappings with `unfed: {all_others: true}` are reported
    [unfed-stale] instead. Then `make compile` and `make test`.
    """
    from ..authoring.add_class import add_class

    try:   # an AddClassError (a bad input) reaches tools/cli: one line, exit 2
        written = add_class(specs, name, parent, definition, split_from, synset)
    except SpecError as e:
        exit_with(PROBLEMS, *map(problem_line, e.errors),
                  f"unitax add-class: the specs in {specs} do not validate; fix them first")
    drafted = len(written) - 1
    click.echo(f"wrote {specs / 'universal.yaml'} ({name}) and drafted {drafted} mapping(s)")
    click.echo("next: `unitax check` lists each draft entry [draft-entry] and each mapping with unfed all_others "
               "[unfed-stale]; decide each, delete the draft entries, then `make compile`")
