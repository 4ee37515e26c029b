"""The tools' errors: one hierarchy under ``ToolError``.

The compiler's errors derive from ``unitax.compiler.errors.CompilerError``, the runtime's from
``unitax.UnitaxError``; the command line (tools/cli.py) turns each into one line and an exit
status: 1 when problems were found (invalid specs, a stale build, files that failed), 2 when a
command cannot run as asked (bad arguments, a refused output, an unreadable input).
"""

from __future__ import annotations

from typing import Any


class ToolError(Exception):
    """Base of every error the tools raise on purpose."""


class CommandError(ToolError):
    """A command cannot do what was asked: the message names the path or argument and why."""


def known_space(tax: Any, space: str, option: str = "--space") -> str:
    """``space`` where the loaded taxonomy ``tax`` has that label space, else a CommandError that
    names the option (not a file the command was about to read) with the runtime's did-you-mean."""
    from ..errors import UnknownDatasetError

    try:
        tax.names(space)
    except UnknownDatasetError as e:
        raise CommandError(f"{option} {space!r}: {e}") from None
    return space
