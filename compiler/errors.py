"""Stage 0: the compiler's errors (one hierarchy under ``CompilerError``) and the Problem records they carry."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the specs, with where it is.

    Attributes:
        file: path of the spec file, relative to the spec root where possible.
        line: 1-based line number, or 0 when the problem has no line (a missing file).
        path: JSON path inside the document (``$.classes[3].name``), ``$`` for the whole file,
            ``""`` for a file that is not a spec (a compiled file: ``file: message``).
        rule: the id of the rule that found it (``unknown-class``, ``yaml-syntax``, ...), one of
            compiler/registry.py.
        message: what is wrong, naming the class or key, with a hint where one helps.
        severity: ``error`` or ``warning``.
    """

    file: str
    line: int
    path: str
    rule: str
    message: str
    severity: str = field(default="error")

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        tag = "" if self.severity == "error" else f"{self.severity}: "
        if self.path:
            where = f"{where} {self.path}"
        return f"{where}: {tag}{self.message} [{self.rule}]"


class CompilerError(Exception):
    """Base of every error the compiler raises on purpose."""


class SpecError(CompilerError):
    """The specs are invalid; carries every problem found in one run."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class BuildError(CompilerError):
    """Writing or swapping generated output failed (not a spec problem)."""


class OutputRefused(CompilerError):
    """unitax will not write here: the message names the path and the reason."""
