"""The one registry of rule ids (compiler/registry.py): every id the code emits is registered,
ids are unique, and every registered id is documented (a description, `unitax rules`, README).

The ids emitted are read statically from compiler/ and tools/: the rule argument of every
``Problem(...)``, ``Finding(...)``, ``_Fail(...)``, ``Reporter.add/at(...)`` and ``_bad(rule=...)``
call, and every ``rule = "..."`` assignment, through conditional expressions.
"""

from __future__ import annotations

import ast
import re

from click.testing import CliRunner
from support.paths import ROOT

from unitax.compiler import registry
from unitax.tools.cli import main

# call name -> index of the rule among the positional arguments
RULE_ARG = {"Problem": 3, "Finding": 2, "_Fail": 2, "add": 2, "at": 2, "Slip": 2}
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _strings(node: ast.AST) -> list[str]:
    """String constants a rule argument can be: a literal, either branch of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def emitted() -> dict[str, set[str]]:
    """rule id -> files that emit it (compiler/ and tools/)."""
    found: dict[str, set[str]] = {}
    for path in sorted([*(ROOT / "compiler").rglob("*.py"), *(ROOT / "tools").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            values: list[str] = []
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                i = RULE_ARG.get(name)
                if i is not None and len(node.args) > i:
                    values += _strings(node.args[i])
                values += [s for k in node.keywords if k.arg == "rule" for s in _strings(k.value)]
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "rule" for t in node.targets):
                values += _strings(node.value)
            elif isinstance(node, ast.FunctionDef):  # def _bad(..., rule: str = "reference-format")
                args = node.args.args[len(node.args.args) - len(node.args.defaults):]
                pairs = zip(args, node.args.defaults, strict=True)
                values += [s for a, d in pairs if a.arg == "rule" for s in _strings(d)]
            for v in values:
                if RULE_ID.match(v):
                    found.setdefault(v, set()).add(rel)
    return found


def test_every_rule_id_the_code_emits_is_registered():
    found = emitted()
    assert len(found) > 40  # the scan sees the stages' rules, not nothing
    assert {"yaml-syntax", "unknown-class", "relabel-unknown-class", "composition", "stale-output",
            "reference-format"} <= set(found)
    assert {r: sorted(f) for r, f in found.items() if not registry.is_registered(r)} == {}


def test_every_registered_rule_is_emitted_somewhere():
    found = set(emitted())
    unused = [r for r in registry.REGISTRY if r != registry.SCHEMA_FAMILY and r not in found]
    assert unused == []


def test_registry_entries_are_whole_and_ids_unique():
    ids = [r.id for r in registry.REGISTRY.values()]
    assert len(ids) == len(set(ids)) == len(registry._TABLE)
    for r in registry.REGISTRY.values():
        assert r.id == registry.SCHEMA_FAMILY or RULE_ID.match(r.id), r
        assert r.stage in registry.STAGES and r.severity in ("error", "warning", "either"), r
        assert r.description and "\n" not in r.description, r
    assert registry.lookup("schema-enum") is registry.REGISTRY[registry.SCHEMA_FAMILY]
    assert registry.lookup("schema-") is None and registry.lookup("no-such-rule") is None


def test_every_registered_rule_is_documented():
    r = CliRunner().invoke(main, ["rules"])
    assert r.exit_code == 0
    listed = [line.split()[0] for line in r.output.splitlines()]
    assert sorted(listed) == sorted(registry.REGISTRY)
    assert "`unitax rules`" in (ROOT / "README.md").read_text("utf-8")


def test_the_stages_accept_exactly_their_registered_rules():
    from unitax.compiler import analysis, rules, rules_relabel

    assert set(rules.RULES) == {r.id for r in registry.REGISTRY.values() if r.stage == "rules"}
    assert set(analysis.ANALYSIS_RULES) == {r.id for r in registry.REGISTRY.values() if r.stage == "analysis"}
    assert set(rules_relabel.RULES) == {r.id for r in registry.REGISTRY.values() if r.stage == "relabel"}


def test_tags_are_coloured_on_a_terminal_only(monkeypatch):
    import io

    from unitax.compiler.errors import Problem
    from unitax.tools import cli

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    p = Problem("a.yaml", 3, "$.x", "duplicate-color", "same colour", "warning")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(cli.sys, "stderr", io.StringIO())
    assert cli.problem_line(p) == str(p)  # piped: plain
    monkeypatch.setattr(cli.sys, "stderr", Tty())
    coloured = cli.problem_line(p)
    assert coloured != str(p) and "\x1b[" in coloured and "[duplicate-color]" in coloured
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli.problem_line(p) == str(p)
