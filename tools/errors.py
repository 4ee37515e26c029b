"""The tools' errors: one hierarchy under ``ToolError``.

The compiler's errors derive from ``unitax.compiler.errors.CompilerError``, the runtime's from
``unitax.UnitaxError``; the command line (tools/cli.py) turns each into one line and an exit
status: 1 when problems were found (invalid specs, a stale build, files that failed), 2 when a
command cannot run as asked (bad arguments, a refused output, an unreadable input).
"""

from __future__ import annotations


class ToolError(Exception):
    """Base of every error the tools raise on purpose."""


class CommandError(ToolError):
    """A command cannot do what was asked: the message names the path or argument and why."""
