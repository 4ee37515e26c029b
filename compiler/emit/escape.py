"""Spec text is untrusted: the one place that escapes it for the output it lands in.

Class names, definitions, notes and parents are whatever a spec author (or an imported sheet)
wrote, so every emitter puts them through one of these before they reach a reader:

- HTML and SVG: jinja2's autoescape (``docs.environment``) turns ``<>&"'`` into entities; the
  templates never mark spec text safe.
- Markdown prose (:func:`md_text`): every character with a meaning in CommonMark or GitHub's
  Markdown inline (``\\ ` * _ [ ] < > | & ~``) is backslash-escaped, line breaks become spaces (a
  definition cannot start a heading, list or table row), blanks around it go, and a block marker
  at the start is escaped.
- Markdown code spans (:func:`md_code`): a backtick fence longer than any run of backticks in the
  text, so the text cannot close the span it is put in.
- TSV/CSV cells (:func:`sheet_cell`): a cell starting with ``=``, ``+``, ``-``, ``@``, tab or
  carriage return is read as a formula by spreadsheet programs; as OWASP recommends
  (https://owasp.org/www-community/attacks/CSV_Injection) it gets a leading single quote, which
  they show as text and do not display. The XLSX workbook needs none of this: every cell is
  written as a string (XlsxWriter's ``strings_to_formulas`` is off).

Standard library only: the tools write TSV files too (remap-dir's failures TSV) and import this.
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x85\u2028\u2029]")
_BLOCK_START = re.compile(r"^(?:[#>+=-]|\d+(?=[.)]))")


def md_text(s: str) -> str:
    """Prose for Markdown: characters with a meaning there escaped, on one line, without the
    blanks around it (a tab or four spaces at the start of a line would begin a code block)."""
    s = _MD_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", s).strip(" \t"))
    m = _BLOCK_START.match(s)
    if m is None:
        return s
    if m.group(0)[0].isdigit():  # "1." / "1)" would start an ordered list: escape the dot
        return s[: m.end()] + "\\" + s[m.end():]
    return "\\" + s


def md_code(s: str) -> str:
    """Text as a Markdown code span, safe inside a table cell: fenced by one backtick more than
    its longest run of backticks (padded with spaces when it holds any), ``|`` escaped for tables."""
    s = _LINE_BREAKS.sub(" ", s).replace("|", "\\|")
    runs = [len(r) for r in re.findall(r"`+", s)]
    if not runs:
        return f"`{s}`"
    fence = "`" * (max(runs) + 1)
    return f"{fence} {s} {fence}"


#: the first characters that make a spreadsheet read a cell as a formula (OWASP)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(s: str) -> bool:
    """Starts with a formula character, after any single quotes (so quoting round-trips)."""
    return s.lstrip("'").startswith(FORMULA_START)


def sheet_cell(s: str) -> str:
    """A TSV/CSV cell that no spreadsheet runs: a leading ``'`` before text that starts with a
    formula character (also before text that is already quotes then one, so :func:`sheet_value`
    gives the text back exactly). Numbers are never written through here (ids are never negative)."""
    return "'" + s if _formula_like(s) else s


def sheet_value(s: str) -> str:
    """The text :func:`sheet_cell` was given, from the cell it wrote (a cell it did not change is
    returned as it is)."""
    return s[1:] if s.startswith("'") and _formula_like(s) else s
