"""The options several commands share, each declared once here with one meaning.

- ``--specs``: the spec folder (universal.yaml, datasets/, mappings/), default ``taxonomy``;
- ``--compiled``: the compiled folder. Commands that write or check it (``compile``, ``check``:
  :data:`OUT`, default ``generated``, hidden alias ``--out``) and commands that read a build
  (:data:`COMPILED`: a bundled taxonomy's name or an existing folder, default the bundled MSeg
  build; hidden alias ``--taxonomy``, which remap-dir took before) name the same thing;
- ``-j/--workers``: local worker processes (hidden alias ``--jobs``, prepare's older name);
- ``--scheduler``, ``--compress-level``, ``--progress/--no-progress``, ``--overwrite``,
  ``--partial`` of the long runs (remap-dir, prepare), whose help says what each does there.

A hidden alias stays accepted so that no command line breaks; ``--help`` shows the first name only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from click.decorators import FC


class AliasedOption(click.Option):
    """An option whose short names and first long name are shown in --help; the later long names are
    hidden aliases that keep older command lines working."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        opts = self.opts
        longs = [o for o in opts if o.startswith("--")]
        self.opts = [o for o in opts if not o.startswith("--")] + longs[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


SPECS_HELP = "Folder holding universal.yaml, datasets/ and mappings/."


def specs_option(help: str = SPECS_HELP, folder_only: bool = False,
                 default: Path = Path("taxonomy")) -> Callable[[FC], FC]:
    """``--specs``: the spec folder (default ``taxonomy``, the bundled MSeg taxonomy's; the UT and RVC
    importers default to theirs); ``folder_only``: a file is refused by click."""
    kind = click.Path(file_okay=False, path_type=Path) if folder_only else click.Path(path_type=Path)
    return click.option("--specs", "specs", type=kind, default=default, show_default=True, help=help)


SPECS = specs_option()

#: the compiled folder a command writes or checks (compile, check)
OUT = click.option("--compiled", "--out", "out", cls=AliasedOption, type=click.Path(path_type=Path),
                   default=Path("generated"), show_default=True, help="The compiled folder to write or check.")

def _build_ref(ctx: click.Context, param: click.Parameter, value: str | None) -> str | Path | None:
    """A compiled taxonomy a command reads: a bundled taxonomy's name (``mseg``, ``ut``, ``rvc``: kept as
    the name, which ``unitax.load`` resolves) or an existing folder (a :class:`Path`), as ``unitax.load``
    takes them."""
    if value is None:
        return None
    from ...bundled import taxonomies  # stdlib only

    if value in taxonomies():
        return value
    if not Path(value).is_dir():
        raise click.BadParameter(f"{value!r} is neither a bundled taxonomy ({', '.join(taxonomies())}) nor a folder",
                                 ctx, param)
    return Path(value)


#: the compiled taxonomy a command reads (evaluate, remap-dir, show, export, examples)
COMPILED = click.option("--compiled", "--taxonomy", "compiled", cls=AliasedOption, metavar="NAME|FOLDER",
                        callback=_build_ref, default=None,
                        help="A bundled taxonomy's name (mseg, ut, rvc) or a folder written by `unitax compile` "
                             "(default: the bundled MSeg taxonomy).")

WORKERS = click.option("-j", "--workers", "--jobs", "workers", cls=AliasedOption, type=click.IntRange(min=1),
                       default=None, help="Local worker processes [default: all cores].")


def scheduler_option(help: str) -> Callable[[FC], FC]:
    return click.option("--scheduler", metavar="ADDRESS", default=None, help=help)


def compress_level_option(help: str) -> Callable[[FC], FC]:
    return click.option("--compress-level", type=click.IntRange(0, 9), default=6, show_default=True, help=help)


PROGRESS = click.option("--progress/--no-progress", default=True, show_default=True,
                        help="Show a progress line on stderr.")
