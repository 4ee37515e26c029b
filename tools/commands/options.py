"""The options several commands share, each declared once here with one meaning.

- ``--specs``: the spec folder (universal.yaml, datasets/, mappings/), default ``taxonomy``;
- ``--compiled``: the compiled folder. Commands that write or check it (``compile``, ``check``:
  :data:`OUT`, default ``generated``, hidden alias ``--out``) and commands that read a build
  (:data:`COMPILED`: must exist, default the bundled build; hidden alias ``--taxonomy``, which
  remap-dir took before) name the same thing;
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

#: the compiled folder a command reads (evaluate, remap-dir, show, export)
COMPILED = click.option("--compiled", "--taxonomy", "compiled", cls=AliasedOption,
                        type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                        help="A folder written by `unitax compile` (default: the bundled taxonomy).")

WORKERS = click.option("-j", "--workers", "--jobs", "workers", cls=AliasedOption, type=click.IntRange(min=1),
                       default=None, help="Local worker processes [default: all cores].")


def scheduler_option(help: str) -> Callable[[FC], FC]:
    return click.option("--scheduler", metavar="ADDRESS", default=None, help=help)


def compress_level_option(help: str) -> Callable[[FC], FC]:
    return click.option("--compress-level", type=click.IntRange(0, 9), default=6, show_default=True, help=help)


PROGRESS = click.option("--progress/--no-progress", default=True, show_default=True,
                        help="Show a progress line on stderr.")
