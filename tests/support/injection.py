"""A hostile fixture taxonomy for the docs and sheets emitters, and what a reader's renderer makes of them.

:func:`hostile_specs` writes the golden fixture taxonomy (tests/goldens/specs) with its names,
definitions, parents and notes replaced by text that tries to break out of where it is put:
backticks that would close a Markdown code span, raw HTML with event handlers, Markdown block
markers after a line break, ``javascript:`` links, and spreadsheet formulas (``=``, ``+``, ``-``,
``@``). The specs stay valid: ``check`` accepts such names (they are escaped, not refused).

:func:`md_elements` renders Markdown as a code host does (CommonMark with tables, raw HTML on) and
returns every element and attribute name it produced, so a test can compare them with those the
same templates produce for the harmless golden fixture.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

from support.paths import ROOT

GOLDEN_SPECS = ROOT / "tests" / "goldens" / "specs"

#: a universal class name: closes a code span fenced by one backtick or by two, either way followed by live HTML
NAME = "x`<img src=x onerror=alert(1)>``<img src=y onerror=alert(2)>``z"
#: dataset class names that are formulas in a spreadsheet
FORMULA = "=cmd|' /C calc'!A0"
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
PLUS = "+1+cmd|' /C calc'!A0"
MINUS = "-2+3"
#: prose: line breaks that would start blocks, raw HTML, a link, a formula at the start
DEFINITION = ("=HYPERLINK(\"http://x.example\")\n\n# heading\n- item\n| a | b |\n<script>alert(1)</script> "
              "[x](javascript:alert(1)) ![i](x.png) `` ` & &amp; ~~struck~~")
PARENT = "<b>p</b>``` ` -x"
NOTE = "<iframe src=javascript:alert(1)></iframe> [a](javascript:alert(2)) **bold**"
SYNSET_NOTE = "@car.n.01"
MODIFIED_NOTE = "-[maybe] <u>split</u>"

#: every text above that is a whole cell of the sheets or a whole name on the pages
NAMES = (NAME, FORMULA, AT, PLUS, MINUS)


def _q(s: str) -> str:
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def hostile_specs(root: Path) -> Path:
    """The golden fixture with hostile text, written to ``root`` (returned)."""
    shutil.copytree(GOLDEN_SPECS, root)

    def edit(rel: str, *pairs: tuple[str, str]) -> None:
        p = root / rel
        text = p.read_text("utf-8")
        for old, new in pairs:
            assert old in text, (rel, old)
            text = text.replace(old, new)
        p.write_text(text, "utf-8")

    sign = 'sign <"A&B"> | x'
    edit("universal.yaml", (f"name: {sign}", f"name: {_q(NAME)}"),
         ('definition: "A paved way for vehicles. Pavements beside it go to sidewalk."',
          f"definition: {_q(DEFINITION)}"),
         ("parent: vehicle", f"parent: {_q(PARENT)}"),
         ('synset_note: "car.n.01, auto.n.01"', f"synset_note: {_q(SYNSET_NOTE)}"),
         ('wordnet_modified_note: "[maybe split]"', f"wordnet_modified_note: {_q(MODIFIED_NOTE)}"),
         ("description: A toy taxonomy for golden tests <not MSeg> & friends.", f"description: {_q(NOTE)}"))
    edit("datasets/toy-city.yaml", ("name: car,", f"name: {_q(FORMULA)},"), ("name: curb,", f"name: {_q(MINUS)},"))
    edit("datasets/toy-raw.yaml", ('note: "the raw release of toy-city; id 2 is never used"', f"note: {_q(NOTE)}"))
    edit("datasets/toy-eval.yaml", ("name: Vehicle}", f"name: {_q(AT)}}}"), ("name: Other}", f"name: {_q(PLUS)}}}"))
    edit("mappings/toy-city_to_universal.yaml", (f"- {sign}", f"- {_q(NAME)}"), ("  car: car", f"  {_q(FORMULA)}: car"),
         ("  curb: sidewalk", f"  {_q(MINUS)}: sidewalk"))
    edit("mappings/toy-raw_to_toy-city.yaml", ("automobile: car", f"automobile: {_q(FORMULA)}"),
         ("  - curb", f"  - {_q(MINUS)}"))
    edit("mappings/universal_to_toy-eval.yaml", (f"- {sign}", f"- {_q(NAME)}"), ("car: Vehicle", f"car: {_q(AT)}"),
         ("sidewalk: flat", f"sidewalk: {_q(PLUS)}"), ("unfed:\n  - Other", "unfed: []"))
    return root


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: set[tuple[str, str]] = set()
        self.urls: list[str] = []
        self.code: list[str] = []
        self._in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.add((tag, ""))
        self.found.update((tag, a) for a, _ in attrs)
        self.urls += [v or "" for a, v in attrs if a in ("href", "src")]
        if tag == "code":
            self._in_code += 1
            self.code.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.code[-1] += data


class PageText(HTMLParser):
    """What a browser makes of an HTML page: every start tag with its attribute names, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag + "".join(f" {a}" for a, _ in attrs))

    def handle_data(self, data: str) -> None:
        self.text += data


def md_elements(text: str) -> tuple[set[tuple[str, str]], list[str], list[str], list[str]]:
    """Markdown rendered as a code host does: (element and attribute names as (tag, attr) pairs,
    ``(tag, "")`` for the element itself; every href/src; the text of every code span; the raw
    HTML the Markdown held, which a code host would pass on)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    raw = [t.content for t in md.parse(text) if t.type == "html_block"]
    raw += [c.content for t in md.parse(text) if t.children for c in t.children if c.type == "html_inline"]
    p = _Elements()
    p.feed(md.render(text))
    return p.found, p.urls, p.code, raw


def sheet_cells(files: dict[str, bytes]) -> dict[str, list[list[str]]]:
    """Every TSV/CSV file of a render as rows of cells, as written (no quote removed)."""
    out = {}
    for rel, data in files.items():
        if rel.endswith((".tsv", ".csv")):
            delim = "\t" if rel.endswith(".tsv") else ","
            out[rel] = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delim))
    return out
