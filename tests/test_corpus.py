"""The corpus of broken specs: every case under tests/specs/invalid/<rule-id>/<case>/ must be refused.

Each case is a ``case.yaml`` of edits over a copy of a closed subset of the real specs (BASE),
and the exact problems `unitax check` must print for it: file, line, JSON path, rule and
message (tests/specs/invalid/README.md describes the format). For every case this test asserts
that `unitax check` and `unitax compile` exit 1, print exactly the expected problems (no more,
no fewer) and a summary, raise nothing else, and that compile leaves the output folder
byte-identical, with no temporary build folder beside it.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.corpus import EDIT_KEYS, make_specs
from support.paths import GENERATED, SPECS

from unitax.compiler import build, load, registry
from unitax.tools.cli import main

CORPUS = Path(__file__).resolve().parent / "specs" / "invalid"
CASES = sorted(CORPUS.glob("*/*/case.yaml"))


CASE_KEYS = {"why", "files", "edits", "expect"}
EXPECT_KEYS = {"file", "line", "at", "path", "rule", "message", "contains"}


def case_id(p: Path) -> str:
    return p.parent.relative_to(CORPUS).as_posix()


def read_case(p: Path) -> dict:
    case = yaml.safe_load(p.read_text("utf-8"))
    assert isinstance(case, dict) and set(case) <= CASE_KEYS, f"{p}: keys must be among {sorted(CASE_KEYS)}"
    assert case.get("why") and case.get("edits") and case.get("expect"), f"{p}: needs why, edits and expect"
    for e in case["edits"]:
        assert set(e) <= EDIT_KEYS and "file" in e, f"{p}: bad edit {e}"
    for x in case["expect"]:
        assert set(x) <= EXPECT_KEYS and {"file", "path", "rule"} <= set(x), f"{p}: bad expectation {x}"
        assert ("line" in x) != ("at" in x), f"{p}: give either line or at, not both: {x}"
        assert ("message" in x) != ("contains" in x), f"{p}: give either message or contains: {x}"
    return case


def line_of(specs: Path, x: dict) -> int:
    """The expected line: given, or the one line of the (edited) file that holds ``at``."""
    if "line" in x:
        return x["line"]
    lines = (specs / x["file"]).read_bytes().decode("utf-8", "replace").split("\n")
    hits = [i for i, t in enumerate(lines, 1) if x["at"] in t]
    assert len(hits) == 1, f"{x['at']!r} is on lines {hits} of {x['file']}; make it unique"
    return hits[0]


def expected_lines(specs: Path, case: dict) -> list[tuple[str, str, list[str]]]:
    """(prefix, suffix, parts) for each expected problem line: ``<file>:<line> <path>: <message> [<rule>]``."""
    out = []
    for x in case["expect"]:
        shown = (specs / x["file"]).as_posix()
        line = line_of(specs, x)
        where = f"{shown}:{line}" if line else shown
        if "message" in x:
            parts = [x["message"].replace("{specs}", specs.as_posix())]
            out.append((f"{where} {x['path']}: {parts[0]} [{x['rule']}]", "", []))
        else:
            out.append((f"{where} {x['path']}: ", f" [{x['rule']}]", list(x["contains"])))
    return out


def matches(line: str, exp: tuple[str, str, list[str]]) -> bool:
    prefix, suffix, parts = exp
    if not suffix:
        return line == prefix
    return (line.startswith(prefix) and line.endswith(suffix)
            and all(s in line[len(prefix):-len(suffix)] for s in parts))


def assert_problems(printed: list[str], specs: Path, case: dict) -> None:
    expected = expected_lines(specs, case)
    left = list(printed)
    missing = []
    for exp in expected:
        hit = next((ln for ln in left if matches(ln, exp)), None)
        if hit is None:
            missing.append(exp[0] + " ... ".join([""] + exp[2]) + exp[1])
        else:
            left.remove(hit)
    assert not missing and not left, ("\nexpected but not printed:\n  " + "\n  ".join(missing)
                                      + "\nprinted but not expected:\n  " + "\n  ".join(left))


def run_cli(*args: str):
    r = CliRunner().invoke(main, list(args))
    # Only a clean exit is allowed: a traceback (any other exception) is a bug however it reads.
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info
    return r


@pytest.fixture(scope="module")
def base_ok(tmp_path_factory) -> None:
    """The base subset validates on its own, so each case's problems come from its edits alone."""
    specs = make_specs(tmp_path_factory.mktemp("base"), {"edits": []})
    model, problems = build.check_specs(specs)
    assert model is not None and problems == [], problems


def test_corpus_is_large_and_each_folder_names_its_rule():
    assert len(CASES) >= 40, len(CASES)
    for p in CASES:
        rule = p.parent.parent.name
        case = read_case(p)
        assert registry.is_registered(rule), f"{case_id(p)}: {rule!r} is not a rule id of compiler/registry.py"
        assert rule in {x["rule"] for x in case["expect"]}, f"{case_id(p)}: expects no [{rule}] problem"


@pytest.fixture(scope="module")
def previous_build(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A copy of the committed build and its bytes: what every refused compile must leave as it was."""
    out = tmp_path_factory.mktemp("previous") / "generated"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))
    return out, build.read_tree(out)


@pytest.mark.parametrize("path", CASES, ids=[case_id(p) for p in CASES])
@pytest.mark.slow
def test_broken_spec_is_refused(path: Path, tmp_path: Path, base_ok, previous_build):
    case = read_case(path)
    specs = make_specs(tmp_path, case)
    out, before = previous_build
    n = len(case["expect"])

    r = run_cli("check", "--specs", str(specs), "--out", str(out))
    assert r.exit_code == 1, r.output
    printed = r.stderr.splitlines()
    assert printed[-1] == f"unitax: {n} error(s), 0 warning(s)", r.stderr  # check never writes: no promise
    assert_problems(printed[:-1], specs, case)
    assert r.stdout == ""

    r = run_cli("compile", "--specs", str(specs), "--out", str(out))
    assert r.exit_code == 1, r.output
    assert r.stderr.splitlines() == printed[:-1] + [f"{printed[-1]}; nothing was written"]  # the same report, and:
    assert build.read_tree(out) == before
    assert build.leftovers(out) == []


def test_the_console_script_exits_1_with_the_location(tmp_path):
    """One case through the installed `unitax` executable, as a user runs it."""
    case = read_case(CORPUS / "unknown-class" / "test-map-target-misspelled" / "case.yaml")
    specs = make_specs(tmp_path, case)
    exe = Path(sys.executable).with_name("unitax")
    r = subprocess.run([str(exe), "check", "--specs", str(specs), "--out", str(GENERATED)],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert_problems(r.stderr.splitlines()[:-1], specs, case)


# ----- bounded time and memory ------------------------------------------------------------------

MEMORY_CAP = 1 << 30  # address space for the child: the whole compiler needs ~150 MB


def _check_capped(specs: Path) -> subprocess.CompletedProcess:
    """`unitax check` in a child limited to MEMORY_CAP bytes of address space (a runaway parse fails)."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    code = "import sys; from unitax.tools.cli import main; sys.exit(main())"
    # The timeout only stops a hang from stalling the suite; it asserts nothing about speed.
    return subprocess.run([sys.executable, "-c", code, "check", "--specs", str(specs), "--no-stale"],
                          capture_output=True, text=True, preexec_fn=cap, timeout=300,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


def _one_file_specs(tmp_path: Path, rel: str, raw: bytes) -> Path:
    specs = make_specs(tmp_path, {"edits": []})
    (specs / rel).write_bytes(raw)
    return specs


@pytest.mark.slow
def test_alias_bomb_is_refused_within_a_memory_cap(tmp_path):
    # Nine levels of ten aliases: 10**9 strings if anything expanded it.
    lines = ['a0: &a0 "lol"'] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    specs = _one_file_specs(tmp_path, "datasets/camvid-11.yaml", ("\n".join(lines) + "\n").encode())
    r = _check_capped(specs)
    assert r.returncode == 1, r.stderr
    assert re.search(r"camvid-11\.yaml:2 \$\.a1\[0\]: anchors and aliases are not allowed in specs \[yaml-alias\]",
                     r.stderr), r.stderr


@pytest.mark.slow
def test_file_over_the_size_limit_is_refused_unread(tmp_path):
    raw = (SPECS / "universal.yaml").read_bytes()
    raw += b"# padding\n" * ((load.MAX_FILE_BYTES - len(raw)) // 10 + 1)
    specs = _one_file_specs(tmp_path, "universal.yaml", raw)
    r = _check_capped(specs)
    assert r.returncode == 1, r.stderr
    assert (f"{specs.as_posix()}/universal.yaml $: file is {len(raw)} bytes; specs are limited to "
            f"{load.MAX_FILE_BYTES} [file-too-large]") in r.stderr


@pytest.mark.slow
def test_largest_node_count_under_the_size_limit_is_refused_before_building_a_tree(tmp_path):
    # Just under 8 MiB of `0,`: 4 million scalars, ~1.2 GB as a node tree; counted first instead.
    n = (load.MAX_FILE_BYTES - 100) // 2
    raw = b"name: camvid-11\nclasses: [" + b"0," * n + b"]\n"
    specs = _one_file_specs(tmp_path, "datasets/camvid-11.yaml", raw)
    r = _check_capped(specs)
    assert r.returncode == 1, r.stderr
    assert (f"camvid-11.yaml:2 $: more than {load.MAX_NODES} YAML nodes; specs are limited to that "
            "[yaml-too-large]") in r.stderr


@pytest.mark.parametrize("raw, line, rule, message", [
    (b"name: x\nclasses: " + b"[" * 100 + b"]" * 100 + b"\n", 2, "yaml-too-deep", "nested more than 64 levels deep"),
    (b"name: x\nclasses:\n" + b"".join(b" " * i + b"- a:\n" for i in range(1, 2000, 2)), 34, "yaml-too-deep",
     "nested more than 64 levels deep"),
    # libyaml's own limit (1000 flow levels) is met while it reads ahead, before our count.
    (b"name: x\nclasses: " + b"[" * 5000 + b"]" * 5000 + b"\n", 2, "yaml-syntax",
     "YAML syntax error: while increasing flow level exceeded maximum nesting depth"),
], ids=["flow-100", "block-1000", "flow-5000"])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path, raw, line, rule, message):
    specs = _one_file_specs(tmp_path, "datasets/camvid-11.yaml", raw)
    r = run_cli("check", "--specs", str(specs), "--no-stale")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == f"{specs.as_posix()}/datasets/camvid-11.yaml:{line} $: {message} [{rule}]"


@pytest.mark.parametrize("tag, args", [
    ("!!python/object/apply:os.system", "['touch {marker}']"),
    ("!!python/object/apply:subprocess.call", "[['touch', '{marker}']]"),
    ("!!python/object/new:os.system", "['touch {marker}']"),
])
def test_python_tags_are_refused_and_never_run(tmp_path, tag, args):
    marker = tmp_path / "pwned"
    note = f"note: {tag} {args.replace('{marker}', str(marker))}\n"
    doc = (SPECS / "datasets" / "camvid-11.yaml").read_text().replace(
        "class_list_from: names-file\n", "class_list_from: names-file\n" + note)
    specs = _one_file_specs(tmp_path, "datasets/camvid-11.yaml", doc.encode())
    for command in ("check", "compile"):
        r = run_cli(command, "--specs", str(specs), "--out", str(tmp_path / "out"))
        assert r.exit_code == 1
        assert (f"{specs.as_posix()}/datasets/camvid-11.yaml:7 $.note: tag 'tag:yaml.org,2002:{tag[2:]}' "
                "is not allowed [yaml-tag]") in r.stderr.splitlines()
    assert not marker.exists(), "a YAML tag ran code"
    assert not (tmp_path / "out").exists()
