"""The `unitax` command line: a thin click layer over the compiler library (the only click user)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ..compiler import build, outputs, registry
from ..compiler.errors import BuildError, CompilerError, Problem, SpecError
from ..errors import UnitaxError
from .errors import CommandError, ToolError

#: exit statuses: problems found (invalid specs, a stale build, files that failed, a breaking diff)
PROBLEMS = 1
#: a command that cannot run as asked: bad arguments, a refused output, an unreadable input
USAGE = 2
#: a long run (remap-dir, prepare) stopped by Ctrl-C, finished files kept: as a shell reports SIGINT
INTERRUPTED = 130

SPECS = click.option("--specs", "specs", type=click.Path(path_type=Path), default=Path("taxonomy"),
                     show_default=True, help="Folder holding universal.yaml, datasets/ and mappings/.")


class AliasedOption(click.Option):
    """An option whose first name is the one shown in --help; the later names are hidden aliases
    that keep older command lines working."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        opts = self.opts
        self.opts = opts[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


#: the compiled folder: ``--compiled`` in every command (``--out`` of check/compile and
#: ``--taxonomy`` of remap-dir are hidden aliases)
OUT = click.option("--compiled", "--out", "out", cls=AliasedOption, type=click.Path(path_type=Path),
                   default=Path("generated"), show_default=True, help="The compiled folder to write or check.")


def colour() -> bool:
    """Whether to colour stderr: on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and sys.stderr.isatty()


def _tag(text: str, severity: str) -> str:
    return click.style(text, fg="red" if severity == "error" else "yellow", bold=True) if colour() else text


def problem_line(p: Problem) -> str:
    """A Problem as its one line, the severity and rule id coloured on a terminal."""
    line = str(p)
    if not colour():
        return line
    tag = f"[{p.rule}]"
    line = line[: -len(tag)] + _tag(tag, p.severity)
    return line.replace(f"{p.severity}: ", _tag(f"{p.severity}: ", p.severity), 1) if p.severity != "error" else line


def _report(problems: list[Problem]) -> None:
    for p in problems:
        click.echo(problem_line(p), err=True)


def exit_with(code: int, *lines: str) -> NoReturn:
    """The one way a command ends early: ``lines`` on stderr, then exit ``code`` (PROBLEMS, USAGE or
    INTERRUPTED). Every command exits through here, its own errors included (a ToolError raised in a
    command reaches :class:`_Main`, which calls this)."""
    for line in lines:
        click.echo(line, err=True)
    sys.exit(code)


def _fail(problems: list[Problem], nothing_written: bool = True) -> NoReturn:
    """Report every problem and exit PROBLEMS (1), with a count of errors and warnings."""
    _report(problems)
    n_err = sum(p.severity == "error" for p in problems)
    n_warn = sum(p.severity == "warning" for p in problems)  # accepted ones are not counted
    exit_with(PROBLEMS, _tag("unitax:", "error") + f" {n_err} error(s), {n_warn} warning(s)"
              + ("; nothing was written" if nothing_written else ""))


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


#: commands that live in their own modules: name -> (module, attribute: the command, or a function
#: making it). Imported on first use, so that `unitax compile` does not pay for PIL and the rest;
#: `unitax --help` imports them all to list them.
LAZY_COMMANDS = {
    "add-class": ("unitax.tools.add_class", "add_class_cmd"),
    "export": ("unitax.tools.export", "export_cmd"),
    "import-lists": ("unitax.tools.prepare.lists", "import_lists_command"),
    "new-dataset": ("unitax.tools.onboard", "new_dataset_cmd"),
    "prepare": ("unitax.tools.prepare.command", "prepare_cmd"),
    "show": ("unitax.tools.show", "show_cmd"),
}


class _Main(click.Group):
    """The command group; every error a command raises on purpose (the tools' ToolError, the
    compiler's, the runtime's UnitaxError) and a file that cannot be read or written end the
    command with one line naming it (exit 2), never a traceback; invalid specs exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            import importlib

            module, attr = LAZY_COMMANDS[cmd_name]
            cmd = getattr(importlib.import_module(module), attr)
            self.add_command(cmd if isinstance(cmd, click.Command) else cmd(), cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpecError as e:
            _fail(e.problems)
        except outputs.OutputRefused as e:
            exit_with(USAGE, f"unitax: refused: {e}")
        except (ToolError, CompilerError, UnitaxError) as e:
            exit_with(USAGE, f"unitax {ctx.invoked_subcommand or ctx.info_name}: {e}")
        except (OSError, RuntimeError) as e:
            line = os_error_line(e)
            if line is None:
                raise
            exit_with(USAGE, f"unitax {ctx.invoked_subcommand or ctx.info_name}: {line}")


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="unitax")
def main() -> None:
    """unitax: compile a multi-dataset segmentation taxonomy (YAML specs) into lookup tables."""
    _tolerant_streams()


def _tolerant_streams() -> None:
    """Text a terminal's encoding cannot show (a class name or an arrow under an ISO-8859-1 locale, a
    file name that is not UTF-8) is written escaped (``\\u2192``), never a UnicodeEncodeError."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):   # a stream that cannot change (closed, or already written)
                pass


def encodable(text: str) -> bool:
    """Whether standard output's encoding can write ``text`` as it is."""
    import sys

    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


@main.command("check")
@SPECS
@OUT
@click.option("--stale/--no-stale", default=True, show_default=True,
              help="Also fail when the compiled output differs from what the specs compile to.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def check_cmd(specs: Path, out: Path, stale: bool, strict: bool) -> None:
    """Validate the specs (schema, then named rules) and check that the compiled folder is up to date."""
    try:
        model, files, warnings = build.render(specs)
    except SpecError as e:
        _fail(e.problems, nothing_written=False)  # check never writes
    open_warnings = [w for w in warnings if w.severity == "warning"]  # not those the specs accept
    if strict and open_warnings:
        _fail(warnings, nothing_written=False)
    problems = build.output_problems(files, out) if stale else []
    if problems:  # the count covers the warnings printed with them
        _fail(warnings + problems, nothing_written=False)
    _report(warnings)
    click.echo(f"ok: {len(model.universal.classes)} universal classes, {len(model.datasets)} datasets, "
               f"{len(model.mappings)} mappings; {len(open_warnings)} warning(s)"
               + (f", {len(warnings) - len(open_warnings)} accepted" if len(warnings) > len(open_warnings) else "")
               + (f"; {out} is up to date" if stale else ""))
    from ..compiler import analysis  # numpy: only `check` prints these

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
    """Validate the specs and write tables, class lists and manifest to the compiled folder (atomically).

    The compiled folder must be absent, an empty folder or a previous unitax build (its manifest, nothing else);
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
    except BuildError as e:
        exit_with(USAGE, f"unitax: build failed: {e}; {out} was left as it was")


def _compile_naive(specs: Path, out: Path) -> None:
    from . import naive

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


@main.command("import-mseg")
@click.argument("reference", type=click.Path(exists=True, file_okay=False, path_type=Path))
@SPECS
@click.option("--keep-definitions/--no-keep-definitions", default=True, show_default=True,
              help="Keep the class definitions already written in SPECS/universal.yaml.")
@click.option("--definitions", "definitions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A YAML map of universal class name -> definition to write in (overrides kept ones).")
def import_cmd(reference: Path, specs: Path, keep_definitions: bool, definitions_file: Path | None) -> None:
    """Write specs from REFERENCE, a directory laid out like the MSeg reference data."""
    from . import importer

    definitions = importer.existing_definitions(specs) if keep_definitions else {}
    if definitions_file is not None:
        definitions.update(importer.read_definitions(definitions_file))
    files = importer.render_specs(reference, definitions)
    outputs.check_spec_import(specs, list(files))
    importer.write_specs(files, specs)
    _, problems = build.check_specs(specs)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        _report(errors)
        exit_with(PROBLEMS, f"unitax: imported specs do not validate ({len(errors)} error(s))")
    click.echo(f"wrote {len(files)} spec files to {specs}")


@main.command("import-unions")
@click.argument("datasets", nargs=-1, required=True)
@SPECS
def import_unions_cmd(datasets: tuple[str, ...], specs: Path) -> None:
    """Write SPECS/datasets/<D>-unions.yaml and SPECS/mappings/<D>-unions_to_universal.yaml for each train
    dataset D: D's classes as unions of universal classes, derived from the relabel records of D-relabeled.

    Only those files are written; the specs must validate before and after.
    """
    from . import union_import

    try:
        files = union_import.render_specs(specs, list(datasets))
    except SpecError as e:
        _fail(e.problems)
    outputs.check_spec_import(specs, list(files))  # replaces only spec files of their kind (else refused, exit 2)
    union_import.write_specs(files, specs)
    try:
        build.render(specs)
    except SpecError as e:
        _report(e.errors)
        exit_with(PROBLEMS, f"unitax: the union specs do not validate ({len(e.errors)} error(s))")
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

    outputs.check_relabel_import(specs, relabel.RELABEL_DIR)
    files = relabel_import.render_reference(reference)
    relabel_import.write_specs(files, specs)
    try:
        build.render(specs)
    except SpecError as e:
        _report(e.errors)
        exit_with(PROBLEMS, f"unitax: imported specs do not validate ({len(e.errors)} error(s))")
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
@click.option("--confusion-png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the row-normalised confusion matrix (classes present, names on both axes) as a PNG "
                   "(refused if the file exists, unless --force).")
@click.option("--force", is_flag=True, help="Replace an existing --confusion-png file.")
def evaluate_cmd(pred_dir: Path, gt_dir: Path, dataset: str, pred_space: str, compiled: Path | None, fmt: str,
                 convention: str, confusion_png: Path | None, force: bool) -> None:
    """Score label PNGs in PRED_DIR against the ground-truth PNGs in GT_DIR (paired by relative path).

    Prints per-class IoU and accuracy, mIoU, frequency-weighted IoU, pixel accuracy and mean class
    accuracy, and the convention that produced them; ground-truth pixels equal to the dataset's
    ignore value are skipped.
    """
    import json

    import unitax

    if confusion_png is not None and (os.path.islink(confusion_png) or (confusion_png.exists()
                                                                       and (not force or not confusion_png.is_file()))):
        raise CommandError(f"{confusion_png}: exists; pass --force to replace it" if confusion_png.is_file()
                           and not os.path.islink(confusion_png) else f"{confusion_png}: is not a regular file")
    ev = unitax.load(compiled).evaluator(dataset, convention=convention)
    from .batch import walk

    walked = walk(gt_dir, "*.png")  # symlinked folders followed once each
    found, problems = walked.files, walked.problems
    if problems:
        raise CommandError("; ".join(f"{gt_dir / o.rel}: {o.reason}" for o in problems[:5])
                                   + (f" ... ({len(problems)} in all)" if len(problems) > 5 else ""))
    gts = [Path(r) for r in found]
    if not gts:
        raise CommandError(f"{gt_dir}: no .png files")
    lacking = [rel.as_posix() for rel in gts if not (pred_dir / rel).is_file()]
    if lacking:
        raise CommandError(f"{len(lacking)} ground-truth file(s) have no prediction in {pred_dir}: "
                                   + ", ".join(lacking[:10]) + (" ..." if len(lacking) > 10 else ""))
    from .labelio import read_label

    for rel in gts:
        try:
            ev.update(read_label(pred_dir / rel), read_label(gt_dir / rel), pred_space=pred_space)
        except unitax.UnitaxError as e:
            raise CommandError(f"{pred_dir / rel} vs {gt_dir / rel}: {e}") from None
    result = ev.result()
    if fmt == "json":
        click.echo(json.dumps({"dataset": dataset, "images": len(gts), **result.as_dict()}, indent=1))
    else:
        click.echo(result.table(), nl=False)
        click.echo(f"{dataset}: {len(gts)} image(s); predictions read as "
                   f"{dataset if pred_space == 'dataset' else 'universal'} labels (--pred-space {pred_space})")
    if confusion_png is not None:
        from .show import confusion_picture

        confusion_picture(result.confusion, result.names, confusion_png, title=f"{dataset} ({convention})")
        click.echo(f"wrote {confusion_png}", err=fmt == "json")


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
@click.option("--compiled", "--taxonomy", "compiled", cls=AliasedOption,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder written by `unitax compile` (default: the bundled taxonomy).")
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
    from .batch import FAILED, BatchError, Progress
    from .records import DEFAULT_KEY_SUFFIX

    tax = unitax.load(compiled)  # its errors and RemapDirError: one line, exit 2 (see _Main)
    plan = rd.plan(tax, src, dst, source, target, segments=segments, relabel_dataset=relabel_dataset,
                   split=split, pattern=pattern, key_suffix=key_suffix or DEFAULT_KEY_SUFFIX,
                   output=output, overwrite=overwrite, compress_level=compress_level, partial=partial)
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
    where = f"the Dask cluster at {scheduler}" if scheduler else f"{workers or os.cpu_count()} local worker(s)"
    click.echo(f"{' -> '.join(plan.route)}"
               + (f", relabel records of {plan.relabel_dataset}" if plan.relabel_dataset else "")
               + f": {plan.files} file(s), {len(plan.tasks)} to write, {plan.skipped} done before; on {where}",
               err=True)
    bar = Progress(len(plan.tasks), enabled=progress)
    try:
        summary = rd.run(plan, workers=workers, scheduler=scheduler, progress=bar, overwrite=overwrite)
    except BatchError as e:
        exit_with(USAGE, f"unitax remap-dir: {e}")
    for o in sorted(summary.failed, key=lambda o: o.rel)[:50]:
        click.echo(f"{src / o.rel}: {o.reason}".replace("\n", "\\n"), err=True)
    if len(summary.failed) > 50:
        click.echo(f"... and {len(summary.failed) - 50} more (all in {dst / FAILED})", err=True)
    rec = plan.records
    lost = False
    if rec is not None:
        lost = bool(rec.images_unmatched) and not rec.subset
        click.echo(f"relabel records of {rec.dataset}: {rec.records_applied} of {rec.records} record(s), "
                   f"{rec.segments} segment(s) of {rec.images} image(s) matched files; "
                   f"{rec.records_unmatched} record(s) and {rec.images_unmatched} image(s) with records "
                   "matched no file"
                   + (" (a subset was asked for)" if rec.images_unmatched and rec.subset else ""), err=True)
        if lost:
            shown = ", ".join(f"{s}/{k}" for s, k in rec.unmatched_examples)
            click.echo(f"unitax remap-dir: error: records of {rec.images_unmatched} image(s) matched no file below "
                       f"{src} (e.g. {shown}); check the layout, or pass --split/--partial if SRC is a subset",
                       err=True)
    click.echo(f"remap-dir: {summary.files} file(s) in, {summary.written} written, {summary.skipped} skipped "
               f"(done before), {len(summary.failed)} failed"
               + (f", {plan.others} other file(s) not matching --pattern" if plan.others else "")
               + (", interrupted: rerun the same command to resume" if summary.interrupted else "")
               + f" ({summary.seconds:.1f} s)")
    if summary.interrupted:
        exit_with(INTERRUPTED)
    if summary.failed or lost:
        exit_with(PROBLEMS)


@main.command("rules")
def rules_cmd() -> None:
    """List every rule id a problem can name: id, stage, severity (error, warning, either), what it checks."""
    click.echo(registry.table())


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
        except SpecError as e:
            _report(e.errors)
            exit_with(USAGE, f"unitax diff: the {which} side ({spec}) does not validate")
    d = taxdiff.compare(*sides)
    text = taxdiff.to_json(d) if fmt == "json" else taxdiff.to_markdown(d)
    if not encodable("\u2192"):   # e.g. an ISO-8859-1 terminal: the report's arrows in ASCII
        text = text.replace("\u2192", "->")
    click.echo(text, nl=False)
    if d["breaking"]:
        exit_with(PROBLEMS)


if __name__ == "__main__":  # pragma: no cover
    main()
