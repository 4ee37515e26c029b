"""The click layer of the `unitax` command: each command a ``@click.command`` in the module of its
room (``authoring``: the spec-authoring commands, on the compiler; ``data``: the data tools, on the
runtime; ``prepare`` keeps its command in tools/data/prepare/command.py), registered by name in
tools/cli.COMMANDS and imported on first use; the options they share in ``options``.

A command parses its arguments, calls the library (tools/*.py, the compiler, the runtime) and
prints; the library raises (a ToolError, a SpecError, a UnitaxError) and never exits: tools/cli
turns those into one line and an exit status.
"""
