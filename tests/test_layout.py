"""The three rooms and the rule of imports, read statically from every module's import statements.

- ``compiler/`` (``unitax.compiler``, the pipeline) imports neither the tools nor the runtime, with
  two exceptions, both leaves (nothing else of unitax): ``unitax.format`` (runtime/format.py, numpy
  and the standard library), the build-format contract between writer and reader (format version,
  label dtype of an ignore value, table index entries), and ``unitax.fileops`` (runtime/fileops/,
  the standard library alone), the one home of low-level file work (bounded reads, atomic writes
  and folder swaps, tree walks, paths from data, bounded JSON). Importing them is what keeps the
  rooms from holding diverging copies;
- ``runtime/`` (``unitax``) imports neither the compiler nor the tools, nor yaml/jinja2/click
  (nor the compiler's other dependencies): it needs numpy and the standard library;
- ``tools/`` (``unitax.tools``) sits on top and may import both.

Lazy imports inside functions count too. (tests/test_runtime.py checks the same for the runtime
at run time: what ``import unitax; unitax.load()`` puts in ``sys.modules``.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.paths import ROOT

ROOMS = {"compiler": "unitax.compiler", "tools": "unitax.tools", "runtime": "unitax"}
#: the one runtime module the compiler may import (see the module docstring) ...
CONTRACT = "unitax.format"
#: ... and the leaf of file work, a package the three rooms share
FILEOPS = "unitax.fileops"
COMPILER_DEPS = {"yaml", "jinja2", "click", "jsonschema", "referencing", "xlsxwriter"}


def module_name(path: Path) -> tuple[str, bool]:
    """(dotted module name, is a package's __init__) of a file under one of the rooms."""
    rel = path.relative_to(ROOT)
    parts = [ROOMS[rel.parts[0]], *rel.parts[1:-1]]
    if path.name != "__init__.py":
        parts.append(path.stem)
    return ".".join(parts), path.name == "__init__.py"


def imports(path: Path) -> set[str]:
    """Every module a file imports, absolute; ``from p import n`` counts as ``p`` and ``p.n``."""
    name, is_pkg = module_name(path)
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def room_imports(room: str) -> dict[str, set[str]]:
    return {p.relative_to(ROOT).as_posix(): imports(p) for p in sorted((ROOT / room).rglob("*.py"))}


def under(mod: str, pkg: str) -> bool:
    return mod == pkg or mod.startswith(pkg + ".")


def is_runtime(mod: str) -> bool:
    """A module of the runtime: ``unitax`` itself or ``unitax.x`` outside compiler/tools/generated."""
    return under(mod, "unitax") and not any(
        under(mod, p) for p in ("unitax.compiler", "unitax.tools", "unitax.generated"))


def test_relative_imports_resolve():
    got = imports(ROOT / "compiler" / "emit" / "coverage.py")
    assert {"unitax.compiler.analysis", "unitax.compiler.emit.docs", "unitax.compiler.model"} <= got
    assert {"unitax.kernels", "unitax.errors"} <= imports(ROOT / "runtime" / "label_paths.py")
    assert {"unitax.kernels.blocks"} <= imports(ROOT / "runtime" / "kernels" / "scores.py")


def test_the_compiler_imports_neither_tools_nor_runtime():
    rooms = room_imports("compiler")
    assert len(rooms) > 10
    bad = {f: sorted(m for m in mods if under(m, "unitax.tools")
                     or (is_runtime(m) and not under(m, CONTRACT) and not under(m, FILEOPS)))
           for f, mods in rooms.items()}
    assert {f: m for f, m in bad.items() if m} == {}


def test_the_format_contract_is_a_leaf():
    """unitax.format, which the compiler may import, imports nothing but numpy and the standard library."""
    mods = imports(ROOT / "runtime" / "format.py")
    assert not [m for m in mods if under(m, "unitax") or m.split(".")[0] in COMPILER_DEPS]
    assert any(CONTRACT in mods for mods in room_imports("compiler").values())


def test_fileops_is_a_stdlib_leaf_the_three_rooms_use():
    """unitax.fileops imports the standard library and itself alone, and each room uses it."""
    import sys

    mods = {f: m for f, m in room_imports("runtime").items() if f.startswith("runtime/fileops/")}
    assert len(mods) >= 5
    bad = {f: sorted(m for m in ms if m != "__future__" and not under(m, FILEOPS)
                     and m.split(".")[0] not in sys.stdlib_module_names) for f, ms in mods.items()}
    assert {f: m for f, m in bad.items() if m} == {}
    for room in ("compiler", "tools", "runtime"):
        users = [f for f, ms in room_imports(room).items()
                 if not f.startswith("runtime/fileops/") and any(under(m, FILEOPS) for m in ms)]
        assert users, f"no module of {room}/ uses {FILEOPS}"


@pytest.mark.parametrize("forbidden", ["compiler", "tools", "deps"])
def test_the_runtime_imports_numpy_and_the_standard_library_only(forbidden):
    rooms = room_imports("runtime")
    assert len(rooms) > 5
    if forbidden == "deps":
        bad = {f: sorted(m for m in mods if m.split(".")[0] in COMPILER_DEPS) for f, mods in rooms.items()}
    else:
        bad = {f: sorted(m for m in mods if under(m, ROOMS[forbidden])) for f, mods in rooms.items()}
    assert {f: m for f, m in bad.items() if m} == {}


def test_tools_may_import_both_and_nothing_else_imports_the_tools():
    tools = set().union(*room_imports("tools").values())
    assert any(under(m, "unitax.compiler") for m in tools) and any(is_runtime(m) for m in tools)
    for room in ("compiler", "runtime"):
        assert not [f for f, mods in room_imports(room).items() if any(under(m, "unitax.tools") for m in mods)]


#: the click layer of tools/: the command group and the commands (tools/data/prepare/command.py: prepare's)
CLICK_LAYER = ("tools/cli.py", "tools/commands/", "tools/data/prepare/command.py")


def test_only_the_click_layer_uses_click_or_the_cli():
    """The library in tools/ raises (ToolError and its kinds) and never exits: click and the CLI's
    exit (tools/cli.exit_with) are the click layer's alone."""
    rooms = room_imports("tools")
    layer = [f for f in rooms if f.startswith(CLICK_LAYER)]
    assert "tools/cli.py" in layer and any(f.startswith("tools/commands/") for f in layer)
    bad = {f: sorted(m for m in mods if under(m, "click") or under(m, "unitax.tools.cli")
                     or under(m, "unitax.tools.commands"))
           for f, mods in rooms.items() if not f.startswith(CLICK_LAYER)}
    assert {f: m for f, m in bad.items() if m} == {}


#: the rooms of tools/ (README, Layout): spec authoring works on the compiler, the data tools on the
#: runtime; the low-level leaf (unitax.fileops) and tools/errors.py serve both
AUTHORING = "unitax.tools.authoring"
DATA_TOOLS = "unitax.tools.data"


def test_spec_authoring_works_on_the_compiler():
    """tools/authoring/ imports the compiler and the leaves: of the runtime only the format
    contract and the file leaf (unitax.fileops), and never a data tool."""
    rooms = {f: mods for f, mods in room_imports("tools").items() if f.startswith("tools/authoring/")}
    assert len(rooms) > 5
    bad = {f: sorted(m for m in mods if (is_runtime(m) and not under(m, CONTRACT) and not under(m, FILEOPS))
                     or under(m, DATA_TOOLS)) for f, mods in rooms.items()}
    assert {f: m for f, m in bad.items() if m} == {}


def test_tools_top_level_holds_only_the_shared_modules():
    """Every module of tools/ lives in a room (authoring/, data/, commands/); at the top level only
    the package, the CLI group and the shared errors."""
    top = sorted(p.name for p in (ROOT / "tools").iterdir()
                 if not p.name.startswith((".", "__pycache__")))
    assert top == ["__init__.py", "authoring", "cli.py", "commands", "data", "errors.py"]


def test_the_data_tools_do_not_import_spec_authoring():
    rooms = room_imports("tools")
    bad = {f: sorted(m for m in mods if under(m, AUTHORING)) for f, mods in rooms.items()
           if not f.startswith(("tools/authoring/", *CLICK_LAYER))}
    assert {f: m for f, m in bad.items() if m} == {}


def test_every_package_folder_is_in_the_wheel():
    """pyproject's `packages` (setuptools finds none by itself here) names every folder of the checkout
    that holds an __init__.py under the mapped roots (tools/data/examples was once left out: `unitax
    examples` failed with ModuleNotFoundError after `pip install .`)."""
    import tomllib

    from unitax.bundled import BUNDLED

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    builds = {"unitax.builds", *(b.package for b in BUNDLED)}   # the builds: one package each, by the registry
    found = set(builds)
    for package, folder in conf["package-dir"].items():
        if package in builds:
            continue   # the builds are data (a product test never lists the user's generated/ or builds/)
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "__pycache__" not in rel.parts:
                found.add(".".join([package, *rel.parts]))
    assert sorted(found - set(conf["packages"])) == []
    assert sorted(set(conf["packages"]) - found) == []
