"""The data-tool commands (on the runtime): evaluate, remap-dir, show, export, import-lists, compare
(``prepare`` is in tools/data/prepare/command.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..cli import INTERRUPTED, PROBLEMS, USAGE, exit_with
from ..errors import CommandError, known_space
from .options import COMPILED, PROGRESS, WORKERS, compress_level_option, scheduler_option


def export_formats() -> list[str]:
    """The formats `unitax export` writes (read from tools/data/export.py when the command is built)."""
    from ..data.export import FORMATS

    return list(FORMATS)


@click.command("evaluate")
@click.argument("pred_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("gt_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-d", "--dataset", required=True,
              help="Label space of the ground truth: a test dataset, or any dataset with a mapping to universal.")
@click.option("--pred-space", type=click.Choice(["dataset", "universal"]), default="dataset", show_default=True,
              help="What the prediction PNGs hold: DATASET ids, or universal ids (mapped into DATASET first).")
@COMPILED
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="A per-class table, or JSON.")
@click.option("--convention", type=click.Choice(["standard", "mseg"]), default="standard", show_default=True,
              help="standard: IoU NaN only where TP+FP+FN = 0, means skip NaN (Cityscapes, mmsegmentation); "
                   "mseg: mseg-semantic's I/(U+1e-10) averaged over all classes (absent ones count 0).")
@click.option("--confusion-png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the row-normalised confusion matrix (classes present, names on both axes) as a PNG "
                   "(refused if the file exists, unless --force).")
@click.option("--force", is_flag=True, help="Replace an existing --confusion-png file.")
def evaluate_cmd(pred_dir: Path, gt_dir: Path, dataset: str, pred_space: str, compiled: Path | str | None, fmt: str,
                 convention: str, confusion_png: Path | None, force: bool) -> None:
    """Score label PNGs in PRED_DIR against the ground-truth PNGs in GT_DIR (paired by relative path).

    Prints per-class IoU and accuracy, mIoU, frequency-weighted IoU, pixel accuracy and mean class
    accuracy, and the convention that produced them; ground-truth pixels equal to the dataset's
    ignore value are skipped.
    """
    import json

    from ..data.evaluate import check_picture_target, evaluate_dirs

    if confusion_png is not None:
        check_picture_target(confusion_png, force)
    result, n = evaluate_dirs(compiled, pred_dir, gt_dir, dataset, pred_space, convention)
    if fmt == "json":
        click.echo(json.dumps({"dataset": dataset, "images": n, **result.as_dict()}, indent=1))
    else:
        click.echo(result.table(), nl=False)
        click.echo(f"{dataset}: {n} image(s); predictions read as "
                   f"{dataset if pred_space == 'dataset' else 'universal'} labels (--pred-space {pred_space})")
    if confusion_png is not None:
        from ..data.show import confusion_picture

        confusion_picture(result.confusion, result.names, confusion_png, title=f"{dataset} ({convention})")
        click.echo(f"wrote {confusion_png}", err=fmt == "json")


@click.command("remap-dir")
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
@WORKERS
@scheduler_option("Run on the Dask cluster whose scheduler listens at ADDRESS (tcp://host:8786) instead of locally; "
                  "its workers must see SRC and DST at the same paths.")
@click.option("--pattern", default="*.png", show_default=True, help="Names of the label files to take (glob).")
@click.option("--key-suffix", default=None, metavar="REGEX",
              help="Stripped from the end of a file name to get its image key [default: label/instance/camera "
                   "suffixes such as _gtFine_labelIds].")
@click.option("--output", type=click.Choice(["gray", "rgb"]), default="gray", show_default=True,
              help="Write label ids, or the target's colours.")
@compress_level_option("zlib level of the PNGs written (1-3: faster, slightly larger files).")
@click.option("--overwrite", is_flag=True, help="Redo every file, also those an earlier run finished (only in a DST "
                                               "remap-dir wrote).")
@click.option("--partial", is_flag=True, help="SRC holds only part of the dataset: relabel records that match no file "
                                             "are reported, not an error.")
@PROGRESS
@COMPILED
def remap_dir_cmd(src: Path, dst: Path, source: str, target: str, segments: Path | None,
                  relabel_dataset: str | None, split: str | None, workers: int | None, scheduler: str | None,
                  pattern: str, key_suffix: str | None, output: str, compress_level: int, overwrite: bool,
                  partial: bool, progress: bool, compiled: Path | str | None) -> None:
    """Rewrite the label images of SRC from one label space to another into DST (same tree).

    Resumable: outputs are written atomically and a rerun skips finished files. Bad files are
    reported and the rest go on; exit status 1 if any failed.
    """
    import unitax

    from ..data import remap_dir as rd
    from ..data.batch import FAILED, BatchError, Progress
    from ..data.records import DEFAULT_KEY_SUFFIX

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


@click.command("show")
@click.argument("label_png", metavar="LABEL.png", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--space", required=True, help="The label space of LABEL.png: universal or a compiled dataset.")
@click.option("--image", "image_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An RGB photo of the same size: draw the label over it.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Weight of the label colours in the overlay.")
@COMPILED
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PNG to write.")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
def show_cmd(label_png: Path, space: str, image_path: Path | None, alpha: float, compiled: Path | str | None,
             output: Path, force: bool) -> None:
    """Draw LABEL.png in SPACE's colours (over --image if given) with a legend of the classes present.

    Ignored pixels are black (left as the photo with --image). Tiny labels are enlarged.
    """
    from ..data.show import draw_file

    width, height = draw_file(label_png, space, output, image_path=image_path, alpha=alpha, compiled=compiled,
                              force=force)
    click.echo(f"wrote {output} ({width} x {height})")


# ----- confusion matrix ---------------------------------------------------------------------


@click.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(list(export_formats())))
@click.option("--space", default="universal", show_default=True,
              help="The label space: universal or any compiled dataset.")
@COMPILED
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write.")
@click.option("--force", is_flag=True, help="Replace a different file an earlier `unitax export` wrote.")
def export_cmd(fmt: str, space: str, compiled: Path | str | None, output: Path, force: bool) -> None:
    """Write SPACE's classes, colours and mapping for a training framework (FORMAT) to OUTPUT.

    \b
    huggingface     id2label / label2id / num_labels / semantic_loss_ignore_index (JSON)
    mmsegmentation  METAINFO (classes, palette), label_map, register() (Python)
    detectron2      stuff_classes, stuff_colors, stuff_dataset_id_to_contiguous_id, ignore_label, register()
    cityscapes      a cityscapesScripts labels.py table (Label namedtuples)

    The same build and arguments always give the same bytes. An existing OUTPUT is replaced only
    when an earlier export wrote it, and then only with --force.
    """
    import unitax

    from ..data.export import ExportError, render, write

    tax = unitax.load(compiled)
    known_space(tax, space)
    try:
        data = render(tax, fmt, space)
        what = write(output, data, force=force)
    except ExportError as e:
        raise CommandError(str(e)) from None
    click.echo(f"{what} {output} ({fmt}, {space}: {len(tax.names(space))} classes)")


@click.command("import-lists")
@click.argument("reference", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--specs", "specs", type=click.Path(path_type=Path), default=None,
              help="Write to SPECS/lists/ (default: the package's own, tools/data/prepare/data/lists/).")
def import_lists_cmd(reference: Path, specs: Path | None) -> None:
    """Write the shipped split lists (or SPECS/lists/) from REFERENCE's dataset_lists/*/list/*.txt(.gz)."""
    from ..data.prepare.lists import LISTS_DIR, default_specs, import_lists, load_lists

    sizes = import_lists(reference, specs)   # a ListsError (a ToolError) reaches tools/cli: one line, exit 2
    n = len(load_lists(specs))
    click.echo(f"wrote {n} split lists to {specs if specs is not None else default_specs()}/{LISTS_DIR} ("
               + ", ".join(f"{k} {v:,} B" for k, v in sizes.items()) + ")")


@click.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of text.")
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as one HTML page (replaces only a page `unitax compare` wrote).")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the translation tables of both directions with the reports (report.txt, "
                   "report.json, index.html) into this folder, as one set (an absent or empty folder, or one "
                   "`unitax compare -o` wrote).")
def compare_cmd(a: str, b: str, as_json: bool, html: Path | None, output: Path | None) -> None:
    """How the universal classes of taxonomies A and B relate, through the label spaces both share.

    A and B are build folders (`unitax compile --out`) or taxonomy names (`mseg`, the bundled one).
    Each universal class of A is equal to, split into, merged into, overlapping or absent from B's,
    and the reverse; the counts come first. Exit 1 when a label space shares a name but not its
    classes (it is left out and named), or when no space is shared.
    """
    from ..data import compare as cmp

    name_a, tax_a = cmp.open_taxonomy(a)
    name_b, tax_b = cmp.open_taxonomy(b)
    c = cmp.compare(name_a, tax_a, name_b, tax_b)
    click.echo(cmp.json_text(c) if as_json else cmp.text_report(c), nl=False)
    if html is not None:
        cmp.write_page(html, c)
        click.echo(f"wrote {html}", err=True)
    if output is not None:
        n = cmp.write_folder(output, c)
        click.echo(f"wrote {n} files to {output}", err=True)
    if cmp.has_problems(c):
        exit_with(PROBLEMS, f"unitax compare: {len(c.shared.refused)} shared label space(s) differ or "
                  "correspondence(s) do not hold" if c.shared.refused
                  else "unitax compare: no label space is shared (or corresponds) and led into universal by both")
