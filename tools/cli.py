"""The `unitax` command line: the command group, the exit statuses and the one way a command ends.

The commands themselves are in tools/commands/ (and tools/data/prepare/command.py), each registered
below in :data:`COMMANDS`; the library they call never exits, it raises, and :class:`_Main`
turns what it raises into one line and an exit status.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from ..compiler import outputs
from ..compiler.errors import CompilerError, Problem, SpecError
from ..errors import UnitaxError
from .errors import ToolError

#: exit statuses: problems found (invalid specs, a stale build, files that failed, a breaking diff)
PROBLEMS = 1
#: a command that cannot run as asked: bad arguments, a refused output, an unreadable input
USAGE = 2
#: a long run (remap-dir, prepare) stopped by Ctrl-C, finished files kept: as a shell reports SIGINT
INTERRUPTED = 130

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


def report(problems: list[Problem]) -> None:
    """Each problem as its line on stderr."""
    for p in problems:
        click.echo(problem_line(p), err=True)


def exit_with(code: int, *lines: str) -> NoReturn:
    """The one way a command ends early: ``lines`` on stderr, then exit ``code`` (PROBLEMS, USAGE or
    INTERRUPTED). Every command exits through here, its own errors included (a ToolError raised in a
    command reaches :class:`_Main`, which calls this)."""
    for line in lines:
        click.echo(line, err=True)
    sys.exit(code)


def fail(problems: list[Problem], nothing_written: bool = True) -> NoReturn:
    """Report every problem and exit PROBLEMS (1), with a count of errors and warnings."""
    report(problems)
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


#: every command: name -> (module, attribute). Imported on first use, so that `unitax compile` does not
#: pay for PIL and the rest; `unitax --help` imports them all to list them.
COMMANDS = {
    # spec authoring (on the compiler)
    "add-class": ("unitax.tools.commands.authoring", "add_class_cmd"),
    "check": ("unitax.tools.commands.authoring", "check_cmd"),
    "compile": ("unitax.tools.commands.authoring", "compile_cmd"),
    "diff": ("unitax.tools.commands.authoring", "diff_cmd"),
    "import-mseg": ("unitax.tools.commands.authoring", "import_cmd"),
    "import-relabel": ("unitax.tools.commands.authoring", "import_relabel_cmd"),
    "import-rvc": ("unitax.tools.commands.authoring", "import_rvc_cmd"),
    "import-unions": ("unitax.tools.commands.authoring", "import_unions_cmd"),
    "import-ut": ("unitax.tools.commands.authoring", "import_ut_cmd"),
    "new-dataset": ("unitax.tools.commands.authoring", "new_dataset_cmd"),
    "rules": ("unitax.tools.commands.authoring", "rules_cmd"),
    # data tools (on the runtime)
    "compare": ("unitax.tools.commands.data", "compare_cmd"),
    "docs": ("unitax.tools.commands.examples", "docs_cmd"),
    "evaluate": ("unitax.tools.commands.data", "evaluate_cmd"),
    "examples": ("unitax.tools.commands.examples", "examples_cmd"),
    "export": ("unitax.tools.commands.data", "export_cmd"),
    "import-lists": ("unitax.tools.commands.data", "import_lists_cmd"),
    "prepare": ("unitax.tools.data.prepare.command", "prepare_cmd"),
    "remap-dir": ("unitax.tools.commands.data", "remap_dir_cmd"),
    "show": ("unitax.tools.commands.data", "show_cmd"),
}


class _Main(click.Group):
    """The command group; every error a command raises on purpose (the tools' ToolError, the
    compiler's, the runtime's UnitaxError) and a file that cannot be read or written end the
    command with one line naming it (exit 2), never a traceback; invalid specs exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            module, attr = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpecError as e:
            fail(e.problems)
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


if __name__ == "__main__":  # pragma: no cover
    main()
