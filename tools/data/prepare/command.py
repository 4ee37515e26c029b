"""The ``unitax prepare`` click command (registered in tools/cli.py)."""
from __future__ import annotations

from pathlib import Path

import click

from ...cli import INTERRUPTED, PROBLEMS, USAGE, exit_with
from ...commands.options import PROGRESS, WORKERS, compress_level_option, scheduler_option


@click.command("prepare")
@click.argument("args", nargs=-1)
@click.option("--list", "list_", is_flag=True, help="Print, per dataset, what to download and the folder it expects.")
@click.option("--verify", is_flag=True, help="Check a prepared OUT_ROOT: `unitax prepare --verify DATASET OUT_ROOT "
                                            "[NATIVE_ROOT]` (with NATIVE_ROOT, every moved segment pixel by pixel).")
@click.option("--images", type=click.Choice(["link", "copy", "none"]), default="link", show_default=True,
              help="Images: symlinked, copied, or left in NATIVE_ROOT.")
@WORKERS
@scheduler_option("Run on the Dask cluster whose scheduler listens at ADDRESS instead of locally.")
@click.option("--partial", is_flag=True, help="NATIVE_ROOT holds part of the dataset: prepare what is there "
                                               "(lists keep those samples) instead of failing on what is missing.")
@click.option("--lists", "list_source", type=click.Choice(["mseg", "derive"]), default="mseg", show_default=True,
              help="Which samples, in which order: MSeg's shipped split lists, or lists derived from the native "
                   "files found (per split folder of the family, sorted by path; for another version or subset).")
@click.option("--relabel-polygons", type=click.Choice(["mseg", "visible"]), default="mseg", show_default=True,
              help="Polygon datasets (Cityscapes, IDD): a relabel record repaints the segment's whole polygon in "
                   "record order, over what is drawn later (mseg: MSeg's rule), or only its visible pixels.")
@click.option("--overwrite", is_flag=True, help="Redo every file of an earlier prepare job in OUT_ROOT.")
@compress_level_option("zlib level of the label PNGs (1: about 3x faster writes, larger files).")
@PROGRESS
def prepare_cmd(args: tuple[str, ...], list_: bool, verify: bool, images: str, workers: int | None,
                scheduler: str | None, partial: bool, list_source: str, relabel_polygons: str, overwrite: bool,
                compress_level: int, progress: bool) -> None:
    """Prepare one MSeg dataset from its download: `unitax prepare DATASET NATIVE_ROOT OUT_ROOT`.

    Writes under OUT_ROOT every label space MSeg derives from DATASET at the paths of MSeg's split
    lists, the images (--images), and OUT_ROOT/<space>/list/<split>.txt. NATIVE_ROOT is only read.
    With --lists derive, the lists are built from the files found (another version or subset).

    Exit status: 1 when files failed or --verify found problems; 2 when prepare cannot run as asked
    (bad arguments, an unknown dataset or release, an OUT_ROOT it refuses); 130 when interrupted.
    """
    from .plans import FAMILIES, describe

    if list_:
        for fam in FAMILIES.values():
            click.echo(describe(fam))
        return
    import unitax

    from ..batch import FAILED, BatchError, Progress
    from . import engine
    from .errors import PrepareError
    from .lists import ListsError
    from .verify import verify as verify_out

    tax = unitax.load()
    if verify:
        if len(args) not in (2, 3):
            exit_with(USAGE, "unitax prepare: --verify takes DATASET OUT_ROOT [NATIVE_ROOT]")
        try:
            checks, general = verify_out(tax, args[0], Path(args[1]),
                                            native=Path(args[2]) if len(args) == 3 else None)
        except PrepareError as e:
            exit_with(USAGE, f"unitax prepare: {e}")
        ref = checks[0].source if checks else "MSeg"
        if ref != "MSeg":
            click.echo(f"lines compared with the {ref} lists (the run used --lists derive), not MSeg's")
        click.echo(f"{'space':32} {'split':16} {'lines':>7} {ref:>7} {'labels':>7}  problems")
        for c in checks:
            click.echo(f"{c.space:32} {c.split:16} {c.lines:7} {c.mseg:7} {c.labels:7}  {len(c.problems)}")
        problems = general + [p for c in checks for p in c.problems]
        for p in problems:
            click.echo(f"problem: {p}", err=True)
        if problems:
            exit_with(PROBLEMS)
        click.echo("ok")
        return
    if len(args) != 3:
        exit_with(USAGE, "unitax prepare: give DATASET NATIVE_ROOT OUT_ROOT (or --list, or --verify DATASET OUT_ROOT)")
    dataset, native, out = args[0], Path(args[1]), Path(args[2])
    try:
        plan = engine.plan(tax, dataset, native, out, images=images, partial=partial, overwrite=overwrite,
                           compress_level=compress_level, derive=list_source == "derive",
                           relabel_polygons=relabel_polygons)
    except (PrepareError, ListsError, BatchError) as e:
        exit_with(USAGE, f"unitax prepare: {e}")
    for n in plan.notes:
        click.echo(f"note: {n}")
    bar = Progress(len(plan.tasks), enabled=progress, name=f"prepare {dataset}")
    try:
        s = engine.run(plan, workers=workers, scheduler=scheduler, progress=bar, overwrite=overwrite)
    except BatchError as e:
        exit_with(USAGE, f"unitax prepare: {e}")
    which = "the derived" if list_source == "derive" else "MSeg's"
    click.echo(f"{dataset}: {s.written} samples written, {s.skipped} already done, {len(s.failed)} failed "
               f"({plan.files} in {which} lists; {s.seconds:.1f} s)")
    miss = sum(v for k, v in plan.missing.items() if not k.endswith("(images)"))
    if miss:
        per = ", ".join(f"{k} {v} of {plan.expected.get(k, v)}" for k, v in sorted(plan.missing.items()))
        click.echo(f"{'partial' if partial else 'partial download'}: label sources missing: {per}")
    if plan.written:
        click.echo("label files written: " + ", ".join(f"{space} {n}" for space, n in sorted(plan.written.items())))
    for space, r in plan.records.items():
        click.echo(f"relabel {space}: {r.records_applied} of {r.records} records applied, {r.segments} "
                   f"segments of {r.images} images; {r.records_unmatched} records and {r.images_unmatched} "
                   "images unmatched by the files prepared")
        st = plan.painted.get(space)
        if st and plan.family.segments == "polygons":
            if relabel_polygons == "mseg":
                click.echo(f"relabel {space}: MSeg's polygon rule repainted {st.repainted} pixel(s) of other "
                           f"classes outside the moved segments' visible areas (occluders drawn later) in "
                           f"{st.samples} sample(s) written; {st.empty} polygon(s) covered no pixel")
            else:
                click.echo(f"relabel {space}: {st.hidden} of {st.segments} segment(s) were "
                           f"completely hidden (nothing moved; --relabel-polygons visible)")
    if s.failed:
        click.echo(f"failures: {len(s.failed)} sample(s), each with its reason in {out / FAILED}"
                   + (" (--partial prepares what is there; these are there and were refused)" if partial else ""),
                   err=True)
        for kind, count, first in engine.failure_kinds(s.failed):
            click.echo(f"failures by reason: {count} x {kind} (first: {first.rel}: {first.reason})", err=True)
        for o in s.failed[:10]:
            click.echo(f"failed: {o.rel}: {o.reason}", err=True)
    if s.interrupted:
        click.echo("interrupted; run the same command again to resume", err=True)
        exit_with(INTERRUPTED)
    if s.failed:
        exit_with(PROBLEMS)
