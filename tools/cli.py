"""The `unitax` command line: a thin click layer over the compiler library (the only click user)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from . import importer
from ..compiler import analysis, build, outputs
from ..compiler.errors import BuildError, Problem, SpecError

SPECS = click.option("--specs", "specs", type=click.Path(path_type=Path), default=Path("taxonomy"),
                     show_default=True, help="Folder holding universal.yaml, datasets/ and mappings/.")
OUT = click.option("--out", "out", type=click.Path(path_type=Path), default=Path("generated"),
                   show_default=True, help="Folder of the compiled output.")


def _report(problems: list[Problem]) -> None:
    for p in problems:
        click.echo(str(p), err=True)


def _fail(problems: list[Problem]) -> None:
    _report(problems)
    n_err = sum(p.severity == "error" for p in problems)
    n_warn = len(problems) - n_err
    click.echo(f"unitax: {n_err} error(s), {n_warn} warning(s); nothing was written", err=True)
    sys.exit(1)


def os_error_line(e: BaseException) -> str | None:
    """One line naming the path for an OS error (or pathlib's symlink-loop RuntimeError); None if not one."""
    if isinstance(e, OSError) and not isinstance(e, BrokenPipeError):
        what = e.strerror or str(e)
        if e.filename is None:
            return what
        return f"{e.filename}: {what}" + (f" ({e.filename2})" if e.filename2 is not None else "")
    if isinstance(e, RuntimeError) and str(e).startswith("Symlink loop from "):
        return f"{str(e)[len('Symlink loop from '):].strip(chr(39))}: symbolic link loop"
    return None


class _Main(click.Group):
    """The command group; a file that cannot be read or written ends the command with one line
    naming it (exit 2), never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (OSError, RuntimeError) as e:
            line = os_error_line(e)
            if line is None:
                raise
            name = ctx.invoked_subcommand or ctx.info_name
            click.echo(f"unitax {name}: {line}", err=True)
            sys.exit(2)


def _refused(e: outputs.OutputRefused) -> None:
    click.echo(f"unitax: refused: {e}", err=True)
    sys.exit(2)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="unitax")
def main() -> None:
    """unitax: compile a multi-dataset segmentation taxonomy (YAML specs) into lookup tables."""


@main.command("check")
@SPECS
@OUT
@click.option("--stale/--no-stale", default=True, show_default=True,
              help="Also fail when the compiled output differs from what the specs compile to.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def check_cmd(specs: Path, out: Path, stale: bool, strict: bool) -> None:
    """Validate the specs (schema, then named rules) and check that OUT is up to date."""
    try:
        model, files, warnings = build.render(specs)
    except SpecError as e:
        _fail(e.problems)
        return
    _report(warnings)
    if strict and warnings:
        _fail(warnings)
    problems = []
    if stale and os.path.lexists(out) and not out.is_dir():
        problems.append(f"{out}: is not a folder (a build is a folder; `unitax compile --out` will not replace a file)")
    elif stale:
        for left in build.leftovers(out):
            problems.append(f"{left}: left by an interrupted compile (the previous {out} is intact); "
                            "run `unitax compile` to clean up")
        diffs = build.stale_files(files, out)
        if diffs:
            problems += [f"{out}/{d.split(': ', 1)[1]}: {d.split(': ', 1)[0]}" for d in diffs]
            problems.append(f"{out} is stale ({len(diffs)} file(s)): run `make compile` (unitax compile)")
    for p in problems:
        click.echo(p, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"ok: {len(model.universal.classes)} universal classes, {len(model.datasets)} datasets, "
               f"{len(model.mappings)} mappings; {len(warnings)} warning(s)"
               + (f"; {out} is up to date" if stale else ""))
    for line in analysis.notes(model):  # facts by design (lossy back-maps, coverage), not warnings
        click.echo(f"note: {line}")


@main.command("compile")
@SPECS
@OUT
@click.option("--naive", is_flag=True,
              help="Compile the naive baseline of the MSeg ablation instead: the union of the train datasets' "
                   "lower-cased class names, into OUT (default generated-naive; never generated/).")
@click.option("--cache-dir", "cache_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep each spec file's parse and schema check here, keyed by content hashes, and reuse them "
                   "while nothing that decides them changed (`make compile` uses .make/cache).")
def compile_cmd(specs: Path, out: Path, naive: bool, cache_dir: Path | None) -> None:
    """Validate the specs and write tables, class lists and manifest to OUT (atomically).

    OUT must be absent, an empty folder or a previous unitax build (its manifest, nothing else);
    anything else (a file, a link, the specs, a folder of other files) is refused and left as it is.
    """
    if naive:
        _compile_naive(specs, Path("generated-naive") if out == Path("generated") else out)
        return
    result = _build_or_exit(lambda s, o: build.compile_taxonomy(s, o, cache_dir), specs, out)
    _report(result.warnings)
    what = "wrote" if result.changed else "unchanged:"
    click.echo(f"{what} {out} ({len(result.files)} files: {len(result.model.datasets)} datasets, "
               f"{len(result.model.mappings)} mappings)")


def _build_or_exit(compile_fn: Any, specs: Path, out: Path) -> Any:
    """Run a compile; bad specs exit 1 with every problem, a failed write exits 2. OUT stays as it was."""
    try:
        return compile_fn(specs, out)
    except SpecError as e:
        _fail(e.problems)
    except outputs.OutputRefused as e:
        _refused(e)
    except BuildError as e:
        click.echo(f"unitax: build failed: {e}; {out} was left as it was", err=True)
        sys.exit(2)


def _compile_naive(specs: Path, out: Path) -> None:
    from . import naive

    try:
        outputs.check_build_out(out, specs)  # against the curated specs (the compile sees a temporary copy)
        if os.path.realpath(out) == os.path.realpath("generated") and os.path.isdir(out):
            raise outputs.OutputRefused(f"{out}: is where `unitax compile` writes the curated build; "
                                        "give the naive baseline a folder of its own (default generated-naive)")
    except outputs.OutputRefused as e:
        _refused(e)
    result, warned = _build_or_exit(naive.compile_naive, specs, out)
    if warned:
        click.echo("naive taxonomy: " + ", ".join(f"{n} [{rule}] warning(s)" for rule, n in warned.items()), err=True)
    what = "wrote" if result.changed else "unchanged:"
    u = result.model.universal
    click.echo(f"{what} {out} (naive baseline: {len(u.real_classes)} universal classes in {len(u.classes)} ids, "
               f"ignore {u.ignore}, from "
               f"{', '.join(d.name for d in result.model.datasets if d.role == 'train')}; {len(result.files)} files)")


@main.command("import-mseg")
@click.argument("reference", type=click.Path(exists=True, file_okay=False, path_type=Path))
@SPECS
@click.option("--keep-definitions/--no-keep-definitions", default=True, show_default=True,
              help="Keep the class definitions already written in SPECS/universal.yaml.")
@click.option("--definitions", "definitions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A YAML map of universal class name -> definition to write in (overrides kept ones).")
def import_cmd(reference: Path, specs: Path, keep_definitions: bool, definitions_file: Path | None) -> None:
    """Write specs from REFERENCE, a directory laid out like the MSeg reference data."""
    definitions = importer.existing_definitions(specs) if keep_definitions else {}
    if definitions_file is not None:
        try:
            definitions.update(importer.read_definitions(definitions_file))
        except SpecError as e:
            _fail(e.problems)
    try:
        files = importer.render_specs(reference, definitions)
    except SpecError as e:
        _fail(e.problems)
        return
    try:
        outputs.check_spec_import(specs, list(files))
    except outputs.OutputRefused as e:
        _refused(e)
    importer.write_specs(files, specs)
    _, problems = build.check_specs(specs)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        _report(errors)
        click.echo(f"unitax: imported specs do not validate ({len(errors)} error(s))", err=True)
        sys.exit(1)
    click.echo(f"wrote {len(files)} spec files to {specs}")


@main.command("import-relabel")
@click.argument("reference", type=click.Path(exists=True, file_okay=False, path_type=Path))
@SPECS
def import_relabel_cmd(reference: Path, specs: Path) -> None:
    """Write SPECS/relabel/ (relabel records and segment lists) from REFERENCE, laid out like the MSeg reference.

    SPECS/relabel/ is replaced only when it holds relabel specs and segment lists alone.
    """
    from ..compiler import relabel
    from . import relabel_import

    try:
        outputs.check_relabel_import(specs, relabel.RELABEL_DIR)
    except outputs.OutputRefused as e:
        _refused(e)
    try:
        files = relabel_import.render_reference(reference)
    except SpecError as e:
        _fail(e.problems)
        return
    relabel_import.write_specs(files, specs)
    try:
        build.render(specs)
    except SpecError as e:
        _report(e.errors)
        click.echo(f"unitax: imported specs do not validate ({len(e.errors)} error(s))", err=True)
        sys.exit(1)
    n = sum(rel.endswith(".tsv") for rel in files)
    click.echo(f"wrote {len(files) - n} relabel files and {n} segment lists to {specs}/{relabel.RELABEL_DIR}")


@main.command("evaluate")
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("gt_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-d", "--dataset", required=True,
              help="Label space of the ground truth: a test dataset, or any dataset with a mapping to universal.")
@click.option("--pred-space", type=click.Choice(["dataset", "universal"]), default="dataset", show_default=True,
              help="What the prediction PNGs hold: DATASET ids, or universal ids (mapped into DATASET first).")
@click.option("--compiled", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder written by `unitax compile` (default: the bundled taxonomy).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="A per-class table, or JSON.")
@click.option("--convention", type=click.Choice(["standard", "mseg"]), default="standard", show_default=True,
              help="standard: IoU NaN only where TP+FP+FN = 0, means skip NaN (Cityscapes, mmsegmentation); "
                   "mseg: mseg-semantic's I/(U+1e-10) averaged over all classes (absent ones count 0).")
def evaluate_cmd(pred_dir: Path, gt_dir: Path, dataset: str, pred_space: str, compiled: Path | None, fmt: str,
                 convention: str) -> None:
    """Score label PNGs in PRED_DIR against the ground-truth PNGs in GT_DIR (paired by relative path).

    Prints per-class IoU and accuracy, mIoU, frequency-weighted IoU, pixel accuracy and mean class
    accuracy, and the convention that produced them; ground-truth pixels equal to the dataset's
    ignore value are skipped.
    """
    import json

    import unitax

    try:
        ev = unitax.load(compiled).evaluator(dataset, convention=convention)
    except unitax.UnitaxError as e:
        raise click.ClickException(str(e)) from None
    from .remap_dir import _walk

    found, problems, _ = _walk(gt_dir, "*.png")  # symlinked folders followed once each
    if problems:
        raise click.ClickException("; ".join(f"{gt_dir / o.rel}: {o.reason}" for o in problems[:5])
                                   + (f" ... ({len(problems)} in all)" if len(problems) > 5 else ""))
    gts = [Path(r) for r in found]
    if not gts:
        raise click.ClickException(f"{gt_dir}: no .png files")
    lacking = [rel.as_posix() for rel in gts if not (pred_dir / rel).is_file()]
    if lacking:
        raise click.ClickException(f"{len(lacking)} ground-truth file(s) have no prediction in {pred_dir}: "
                                   + ", ".join(lacking[:10]) + (" ..." if len(lacking) > 10 else ""))
    from .labelio import LabelFileError, read_label

    for rel in gts:
        try:
            ev.update(read_label(pred_dir / rel), read_label(gt_dir / rel), pred_space=pred_space)
        except LabelFileError as e:
            raise click.ClickException(str(e)) from None
        except unitax.UnitaxError as e:
            raise click.ClickException(f"{pred_dir / rel} vs {gt_dir / rel}: {e}") from None
    result = ev.result()
    if fmt == "json":
        click.echo(json.dumps({"dataset": dataset, "images": len(gts), **result.as_dict()}, indent=1))
    else:
        click.echo(result.table(), nl=False)
        click.echo(f"{dataset}: {len(gts)} image(s)")


@main.command("remap-dir")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--from", "source", required=True, help="Label space of the files in SRC (a dataset, or universal).")
@click.option("--to", "target", required=True,
              help="Label space to write; reached through compiled tables, chained where needed.")
@click.option("--segments", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Segment/instance maps mirroring SRC (grey or 16-bit ids, or RGB = R + 256 G + 256^2 B); "
                   "applies the relabel records.")
@click.option("--relabel-dataset", help="Whose relabel records to apply (default: the last dataset with records "
                                        "on the chain).")
@click.option("--split", help="Split of every file, for the relabel records (default: found from the image key "
                              "or a folder named train/val/...).")
@click.option("-j", "--workers", type=click.IntRange(min=1), help="Local worker processes [default: all cores].")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on the Dask cluster whose scheduler listens at ADDRESS (tcp://host:8786) instead of locally; "
                   "its workers must see SRC and DST at the same paths.")
@click.option("--pattern", default="*.png", show_default=True, help="Names of the label files to take (glob).")
@click.option("--key-suffix", default=None, metavar="REGEX",
              help="Stripped from the end of a file name to get its image key [default: label/instance/camera "
                   "suffixes such as _gtFine_labelIds].")
@click.option("--output", type=click.Choice(["gray", "rgb"]), default="gray", show_default=True,
              help="Write label ids, or the target's colours.")
@click.option("--compress-level", type=click.IntRange(0, 9), default=6, show_default=True,
              help="zlib level of the PNGs written (1-3: faster, slightly larger files).")
@click.option("--overwrite", is_flag=True, help="Redo every file, also those an earlier run finished (only in a DST "
                                               "remap-dir wrote).")
@click.option("--partial", is_flag=True, help="SRC holds only part of the dataset: relabel records that match no file "
                                             "are reported, not an error.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress line on stderr.")
@click.option("--taxonomy", "compiled", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A compiled taxonomy folder [default: the bundled build].")
def remap_dir_cmd(src: Path, dst: Path, source: str, target: str, segments: Path | None,
                  relabel_dataset: str | None, split: str | None, workers: int | None, scheduler: str | None,
                  pattern: str, key_suffix: str | None, output: str, compress_level: int, overwrite: bool,
                  partial: bool, progress: bool, compiled: Path | None) -> None:
    """Rewrite the label images of SRC from one label space to another into DST (same tree).

    Resumable: outputs are written atomically and a rerun skips finished files. Bad files are
    reported and the rest go on; exit status 1 if any failed.
    """
    import unitax

    from . import remap_dir as rd

    try:
        tax = unitax.load(compiled)
        plan = rd.plan(tax, src, dst, source, target, segments=segments, relabel_dataset=relabel_dataset,
                       split=split, pattern=pattern, key_suffix=key_suffix or rd.DEFAULT_KEY_SUFFIX,
                       output=output, overwrite=overwrite, compress_level=compress_level, partial=partial)
    except (rd.RemapDirError, unitax.UnitaxError) as e:
        click.echo(f"unitax remap-dir: {e}", err=True)
        sys.exit(2)
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
    where = f"the Dask cluster at {scheduler}" if scheduler else f"{workers or os.cpu_count()} local worker(s)"
    click.echo(f"{' -> '.join(plan.route)}"
               + (f", relabel records of {plan.relabel_dataset}" if plan.relabel_dataset else "")
               + f": {plan.files} file(s), {len(plan.tasks)} to write, {plan.skipped} done before; on {where}",
               err=True)
    bar = rd.Progress(len(plan.tasks), enabled=progress)
    try:
        summary = rd.run(plan, workers=workers, scheduler=scheduler, progress=bar, overwrite=overwrite)
    except rd.RemapDirError as e:
        click.echo(f"unitax remap-dir: {e}", err=True)
        sys.exit(2)
    for o in sorted(summary.failed, key=lambda o: o.rel)[:50]:
        click.echo(f"{src / o.rel}: {o.reason}".replace("\n", "\\n"), err=True)
    if len(summary.failed) > 50:
        click.echo(f"... and {len(summary.failed) - 50} more (all in {dst / rd.FAILED})", err=True)
    rec = plan.records
    lost = False
    if rec is not None:
        lost = bool(rec["images_unmatched"]) and not rec["subset"]
        click.echo(f"relabel records of {rec['dataset']}: {rec['records_applied']} of {rec['records']} record(s), "
                   f"{rec['segments']} segment(s) of {rec['images']} image(s) matched files; "
                   f"{rec['records_unmatched']} record(s) and {rec['images_unmatched']} image(s) with records "
                   "matched no file"
                   + (" (a subset was asked for)" if rec["images_unmatched"] and rec["subset"] else ""), err=True)
        if lost:
            shown = ", ".join(f"{s}/{k}" for s, k in rec["unmatched_examples"])
            click.echo(f"unitax remap-dir: error: records of {rec['images_unmatched']} image(s) matched no file below "
                       f"{src} (e.g. {shown}); check the layout, or pass --split/--partial if SRC is a subset",
                       err=True)
    click.echo(f"remap-dir: {summary.files} file(s) in, {summary.written} written, {summary.skipped} skipped "
               f"(done before), {len(summary.failed)} failed"
               + (f", {plan.others} other file(s) not matching --pattern" if plan.others else "")
               + (", interrupted: rerun the same command to resume" if summary.interrupted else "")
               + f" ({summary.seconds:.1f} s)")
    if summary.interrupted:
        sys.exit(130)
    if summary.failed or lost:
        sys.exit(1)


@main.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--specs", "specs", type=click.Path(path_type=Path), default=Path("taxonomy"), show_default=True,
              help="The spec folder inside the git repository, for OLD or NEW given as git revisions.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True,
              help="A Markdown report for review, or JSON for tools.")
def diff_cmd(old: str, new: str, specs: Path, fmt: str) -> None:
    """Show what changed from OLD to NEW: classes added, removed, renamed, renumbered, split or merged,
    and every lookup-table entry that changed.

    OLD and NEW are spec folders or git revisions (e.g. `unitax diff HEAD~1 taxonomy`). Exit status:
    0, or 1 when an id of an existing class changed meaning (breaking for checkpoints and label
    files; for CI), 2 when a side cannot be read or does not validate.
    """
    from . import diff as taxdiff

    sides = []
    for which, spec in (("old", old), ("new", new)):
        try:
            sides.append(taxdiff.load_side(spec, specs))
        except taxdiff.DiffError as e:
            click.echo(f"unitax diff: {e}", err=True)
            sys.exit(2)
        except SpecError as e:
            _report(e.errors)
            click.echo(f"unitax diff: the {which} side ({spec}) does not validate", err=True)
            sys.exit(2)
    d = taxdiff.compare(*sides)
    click.echo(taxdiff.to_json(d) if fmt == "json" else taxdiff.to_markdown(d), nl=False)
    sys.exit(1 if d["breaking"] else 0)


from unitax.tools.export import export_cmd  # noqa: E402
main.add_command(export_cmd)
from unitax.tools.show import show_cmd  # noqa: E402
main.add_command(show_cmd)

if __name__ == "__main__":  # pragma: no cover
    main()
