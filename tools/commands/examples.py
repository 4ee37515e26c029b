"""The ``unitax examples`` and ``unitax docs`` click commands (registered in tools/cli.py)."""
from __future__ import annotations

from pathlib import Path

import click

from ..cli import INTERRUPTED, PROBLEMS, USAGE, exit_with, fail
from .options import COMPILED, PROGRESS, SPECS, WORKERS


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


@click.command("examples")
@click.argument("trees", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="The examples folder to write (absent, empty, or an earlier examples job's).")
@click.option("-k", "--per-class", "per_class", type=click.IntRange(min=1), default=3, show_default=True,
              help="Pictures per universal class and dataset space (and per relabel move, union class, dataset).")
@click.option("--budget", "budget_mb", type=click.FloatRange(min=0), default=25.0, show_default=True,
              help="Most megabytes (10^6 bytes) of pictures; over it, the last-ranked picks are dropped.")
@click.option("--overlays", is_flag=True, help="Also the whole image with its label overlay for every class pick "
                                               "(linked from its thumbnail).")
@click.option("--space", "spaces", multiple=True, help="Show only this label space (repeatable; default: every "
                                                      "space of the trees that maps to universal).")
@COMPILED
@WORKERS
@click.option("--overwrite", is_flag=True, help="Redo everything an earlier examples job in OUT finished.")
@PROGRESS
def examples_cmd(trees: tuple[Path, ...], out: Path, per_class: int, budget_mb: float, overlays: bool,
                 spaces: tuple[str, ...], compiled: Path | str | None, workers: int | None, overwrite: bool,
                 progress: bool) -> None:
    """Pictures of every universal class from prepared trees: `unitax examples TREE... -o DIR`.

    TREE is an OUT_ROOT of `unitax prepare` (or a folder laid out so: <space>/list/<split>.txt of
    `<image> <label>` lines). For every universal class, up to K crops per dataset space that feeds it
    (the class outlined, the rest dimmed), picked deterministically; before/after pairs of the
    segments relabel records moved; pictures of union classes and label overlays per dataset; all
    within the size budget. `unitax docs --examples DIR -o SITE` shows them.

    Exit status: 1 when samples could not be read or the budget cannot be met; 2 when it cannot run as
    asked; 130 when interrupted (run it again to resume).
    """
    import unitax

    from ..data.examples import engine
    from ..data.examples.scan import ExamplesError

    tax = unitax.load(compiled)  # by name or folder; its errors: one line, exit 2 (see tools/cli._Main)
    try:
        r = engine.run(tax, list(trees), out, per_class=per_class, budget=int(budget_mb * 1e6), overlays=overlays,
                       spaces=spaces, workers=workers, progress=progress, overwrite=overwrite)
    except ExamplesError as e:
        exit_with(USAGE, f"unitax examples: {e}")
    for n in r.notes:
        click.echo(f"note: {n}")
    for s in r.shown:
        extra = [f"relabel pairs against {s.base}"] if s.base else []
        extra += [f"union classes of {u}" for u in s.unions]
        click.echo(f"space {s.space}" + (f" ({'; '.join(extra)})" if extra else ""))
    for name, phase in (("scan", r.scan), ("render", r.render)):
        if phase is not None:
            click.echo(f"{name}: {phase.written} task(s) done, {phase.skipped} already done, {len(phase.failed)} "
                       f"failed ({phase.seconds:.1f} s)")
            for o in phase.failed[:10]:
                click.echo(f"failed: {o.rel}: {o.reason}", err=True)
    if r.interrupted:
        exit_with(INTERRUPTED, "interrupted; run the same command again to resume")
    if any(phase is not None and phase.failed for phase in (r.scan, r.render)):
        exit_with(PROBLEMS)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(r.pictures.items()))
    click.echo(f"pictures: {kinds or 'none'}; {_mb(r.bytes)} of the {_mb(r.budget)} budget ({r.seconds:.1f} s)")
    if r.dropped:
        click.echo(f"budget: dropped {sum(r.dropped.values())} pick(s) ({_mb(r.dropped_bytes)}), last-ranked first: "
                   + ", ".join(f"{n} {k}" for k, n in sorted(r.dropped.items())))
    for p in r.problems:
        click.echo(f"problem: {p}", err=True)
    if r.problems:
        exit_with(PROBLEMS)
    if r.bytes > r.budget:
        exit_with(PROBLEMS, f"unitax examples: {_mb(r.bytes)} still exceed the budget")


@click.command("docs")
@SPECS
@click.option("--examples", "examples", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="An examples folder (`unitax examples`): its pictures go on the class and dataset pages.")
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="The docs folder to write (absent, empty, or an earlier `unitax docs` output; never generated/).")
def docs_cmd(specs: Path, examples: Path | None, out: Path) -> None:
    """Write the docs site of the specs, with pictures from an examples folder: `unitax docs --examples DIR -o SITE`.

    The same pages `unitax compile` writes to generated/docs/ (which stays spec-only and byte-reproducible),
    plus the pictures; open SITE/html/index.html. Exit status: 1 for invalid specs, 2 for an index or
    folder it refuses (every problem listed).
    """
    import os

    from ...compiler import build
    from ..data.examples.scan import ExamplesError
    from ..data.examples.site import write_site

    if os.path.realpath(out).startswith(os.path.realpath("generated") + os.sep) or \
            os.path.realpath(out) == os.path.realpath("generated"):
        exit_with(USAGE, "unitax docs: refused: generated/ is the compile's; give the site a folder of its own")
    model, problems = build.check_specs(specs)
    if model is None:
        fail(problems)
    try:
        n = write_site(model, out, examples)
    except ExamplesError as e:
        exit_with(USAGE, f"unitax docs: {e}")
    click.echo(f"wrote {out} ({n} files){'' if examples is None else f', pictures from {examples}'}; "
               f"open {out / 'html' / 'index.html'}")
