"""Fuzz the spec loader and validator for a bounded time: nothing but SpecError may escape.

    .venv/bin/python tests/fuzz_specs.py [--seconds 60] [--seed N]     (or `make fuzz`)

A small consistent taxonomy (universal, a train, a test and a source dataset, their mappings)
is written to a temporary folder; each input replaces one of its files with a mutated version
and runs `unitax.compiler.build.render` on the folder, the whole path `unitax check` takes.
Inputs are drawn by hypothesis in three kinds:

* bytes: the file's text with YAML-significant tokens inserted, spans deleted, lines doubled
  or swapped, digits changed, invalid UTF-8, tabs, tags, anchors, NUL and BOM;
* structure: the file's data with keys dropped, renamed (typos) or added, values replaced by
  values of other types, list items doubled, swapped or removed, names and ids changed, then
  written as YAML (so the schema and the named rules see it, not only the parser);
* random: JSON-like documents built from the schemas' field names.

Every input must either compile or raise SpecError whose problems each name a spec file, a
line within it (or 0 for the file-level rules), a JSON path and a known rule. Anything else is
a failure: hypothesis shrinks it, the script prints it, saves it under $TMPDIR/unitax-fuzz-failures/ and
exits 1. At the end it replays a sample of inputs under a line tracer and prints which lines
of the loader, schema and rules stages the run reached, and how often each rule fired. The
budget covers the replay too, so `--seconds 60` ends within about a minute.
"""

from __future__ import annotations

import argparse
import collections
import inspect
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
from unitax.compiler import build, load, registry, rules, schema  # noqa: E402
from unitax.compiler.errors import SpecError  # noqa: E402
from unitax.tools.authoring import importer  # noqa: E402

FILE_LEVEL = {"file-too-large", "symlink-outside", "missing-file", "not-a-file", "duplicate-file", "not-a-folder",
              "symlink-loop", "unreadable", "stray-file"}
# the rule ids a spec folder without relabel records can meet (compiler/registry.py)
KNOWN = {r.id for r in registry.REGISTRY.values() if r.stage in ("load", "schema", "rules")} - {registry.SCHEMA_FAMILY}


def mini_taxonomy() -> dict[str, bytes]:
    """A small taxonomy that compiles, written with the importer's writers."""
    uni = [{"name": n, "parent": "thing", "synset": f"{n}.n.01", "wordnet_modified": False}
           for n in ("road", "car", "person", "sky", "tree")]
    defs = {u["name"]: f"A {u['name']}." for u in uni}
    files = {"universal.yaml": importer.render_universal(uni, defs)}
    sp = {
        "city": importer.Space("city", "train", ["road", "car", "walker", "sky", "car"],
                               [(1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12), (1, 2, 3)]),
        "city-raw": importer.Space("city-raw", "source", ["road", "auto", "bus", "sky", "void"]),
        "eval": importer.Space("eval", "test", ["Road", "Vehicle", "Human"], label_dtype="uint16", ignore=65535),
    }
    for s in sp.values():
        files[f"datasets/{s.name}.yaml"] = importer.render_dataset(s)
    maps = [
        importer.MappingSpec("city", "universal", [("road", "road"), ("car", "car"), ("walker", "person")], ["sky"],
                             ["sky", "tree"], "n"),
        importer.MappingSpec("universal", "eval", [("road", "Road"), ("car", "Vehicle"), ("person", "Human")],
                             ["sky", "tree"], [], "n"),
        importer.MappingSpec("city-raw", "city", [("road", "road"), ("auto", "car"), ("bus", "car")], ["sky", "void"],
                             ["walker", "sky"], "n"),
    ]
    for m in maps:
        files[f"mappings/{m.source}_to_{m.target}.yaml"] = importer.render_mapping(m)
    return {k: v.encode() for k, v in files.items()}


BASE = mini_taxonomy()
# Files the base lacks, each one step from a cross-file rule: a remap that closes a cycle, a
# self-mapping, a test dataset with no mapping, a mapping from a dataset nobody declares.
EXTRA = {
    "mappings/city_to_city-raw.yaml": importer.render_mapping(importer.MappingSpec(
        "city", "city-raw", [("road", "road"), ("car", "auto"), ("sky", "sky")], ["walker"], ["bus", "void"],
        "n")).encode(),
    "mappings/eval_to_eval.yaml": importer.render_mapping(importer.MappingSpec(
        "eval", "eval", [("Road", "Road")], ["Vehicle", "Human"], ["Vehicle", "Human"], "n")).encode(),
    "datasets/extra.yaml": BASE["datasets/eval.yaml"].replace(b"name: eval", b"name: extra"),
    "mappings/ghost_to_universal.yaml": BASE["mappings/city_to_universal.yaml"].replace(b"source: city",
                                                                                         b"source: ghost"),
}
ORIGINAL = {**BASE, **EXTRA}
NAMES = sorted(ORIGINAL)
DATA = {rel: yaml.safe_load(raw) for rel, raw in ORIGINAL.items()}
FIELDS = sorted({k for d in DATA.values() for k in d} | {"id", "name", "color", "void", "definition", "parent",
                                                           "synset", "wordnet_modified", "synset_note"})
CLASS_NAMES = sorted({c["name"] for d in DATA.values() for c in d.get("classes", [])})
WORDS = CLASS_NAMES + ["universal", "city", "city-raw", "eval", "extra", "Universal", "train", "test", "source",
                       "uint8", "uint16", "unlabeled", "ROAD", "road ", " road", "Road", "wal ker", "WALKER",
                       "c\u0430r", "car\u200b", "ro\u0061\u0301d", "\uff52oad", "sky\n", "010", "1_0", "yes"]

TOKENS = [": ", "- ", "\n", "  ", "\t", "&a ", "*a", "!!python/object/apply:os.system ['true'] ", "!t ", "!!binary ",
          "!!set ", "!!int ", "!!float ", "!!bool ", "!!str ", "!!null ",
          "{", "}", "[", "]", "'", '"', "#", "---\n", "...\n", "<<: ", "? ", "|", ">", "%YAML 1.1\n", ",",
          "no", "yes", "1e3", "-1", "0", "255", "256", "65535", "65536", "0.5", "6.0", "null", "~", "true", ".inf",
          ".nan", "0x1F", "0o17", "2001-01-01", "=", "\\", "\u2028", "\x85", "\ufeff", "\x00", "\x7f", "é", "🙂",
          "universal", "train", "test", "source", "uint8", "uint16", "ignore", "unfed", "map", "classes", "name",
          "defintion", "colour", "unlabeled", " ", "a" * 300, "? [a]: b\n", "[x]: y\n", "[" * 70, "\t- ",
          "\n\t", "&x [1, *x]", "<<: {a: 1}\n"] + WORDS


def structural(draw, data):
    """Apply a few structural mutations to a deep copy of ``data``."""
    data = json.loads(json.dumps(data))
    values = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=True),
                       st.sampled_from(WORDS + FIELDS + ["", " x", "x ", "A"]), st.text(max_size=8),
                       st.just([]), st.just({}), st.lists(st.integers(-1, 300), max_size=4))
    for _ in range(draw(st.integers(1, 4))):
        # walk to a random container
        node = data
        for _ in range(draw(st.integers(0, 3))):
            kids = (list(node.items()) if isinstance(node, dict)
                    else list(enumerate(node)) if isinstance(node, list) else [])
            kids = [(k, v) for k, v in kids if isinstance(v, (dict, list))]
            if not kids:
                break
            _, node = draw(st.sampled_from(kids))
        op = draw(st.sampled_from(["drop", "set", "rename", "add", "dup", "swap", "bump"]))
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            if op == "drop":
                del node[key]
            elif op == "rename":
                node[draw(st.sampled_from(FIELDS + WORDS + [key + "s", key[:-1] or "k", key.upper()]))] = node.pop(key)
            elif op == "add":
                node[draw(st.sampled_from(FIELDS + WORDS))] = draw(values)
            elif op == "bump" and isinstance(node[key], int) and not isinstance(node[key], bool):
                node[key] += draw(st.sampled_from([-1, 1, 255, 65535]))
            else:
                node[key] = draw(values)
        elif isinstance(node, list) and node:
            i = draw(st.integers(0, len(node) - 1))
            if op == "drop":
                del node[i]
            elif op == "dup":
                node.insert(i, json.loads(json.dumps(node[i])))
            elif op == "swap":
                j = draw(st.integers(0, len(node) - 1))
                node[i], node[j] = node[j], node[i]
            else:
                node[i] = draw(values)
    return data


def semantic(draw, data):
    """One change that keeps the shape but breaks a named rule (ids, names, map/ignore/unfed)."""
    data = json.loads(json.dumps(data))
    classes = data.get("classes") if isinstance(data.get("classes"), list) else []
    choices = ["dataset-name", "ignore-id"] if "role" in data else []
    choices += ["class-name", "class-id"] if classes else []
    choices += ["map-add", "ignore-add", "unfed-add", "map-drop", "ignore-mapped", "unfed-fed"] if "map" in data else []
    what = draw(st.sampled_from(choices))
    if what == "dataset-name":
        data["name"] = draw(st.sampled_from(["eval", "city", "city-raw", "extra", "universal", "ghost"]))
    elif what == "ignore-id":
        data["ignore"] = draw(st.sampled_from([255, 65535]))
    elif what == "class-name":
        c = draw(st.sampled_from(classes))
        n = c["name"]
        c["name"] = draw(st.sampled_from([n.upper(), n.title(), n.replace("a", "a  ", 1), n + "s", n[:-1] or n]
                                         + WORDS))
    elif what == "class-id":
        c = draw(st.sampled_from(classes))
        c["id"] = draw(st.sampled_from([255, 256, 65535, 65536, 0, len(classes), c["id"] + 1]))
    elif what == "map-add":
        data["map"][draw(st.sampled_from(WORDS))] = draw(st.sampled_from(WORDS))
    elif what == "map-drop" and data["map"]:
        del data["map"][draw(st.sampled_from(sorted(data["map"])))]
    elif what == "ignore-mapped" and data["map"]:
        data["ignore"].append(draw(st.sampled_from(sorted(data["map"]))))
    elif what == "unfed-fed" and data["map"]:
        data["unfed"].append(draw(st.sampled_from(sorted(set(data["map"].values())))))
    elif what in ("ignore-add", "unfed-add"):
        data[what.split("-")[0]].append(draw(st.sampled_from(WORDS)))
    return data


@st.composite
def inputs(draw) -> tuple[str, str, bytes]:
    rel = draw(st.sampled_from(NAMES))
    kind = draw(st.sampled_from(["bytes", "bytes", "structure", "structure", "random"]))
    if kind == "bytes":
        text = ORIGINAL[rel].decode()
        for _ in range(draw(st.integers(0 if rel in EXTRA else 1, 5))):
            pos = draw(st.integers(0, len(text)))
            op = draw(st.sampled_from(["insert", "insert", "delete", "dupline", "swaplines", "digit", "tab", "cut"]))
            if op == "insert":
                text = text[:pos] + draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4))) + text[pos:]
            elif op == "delete":
                text = text[:pos] + text[pos + draw(st.integers(1, 40)):]
            elif op in ("dupline", "swaplines"):
                lines = text.split("\n")
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                if op == "dupline":
                    lines.insert(i, lines[j])
                else:
                    lines[i], lines[j] = lines[j], lines[i]
                text = "\n".join(lines)
            elif op == "tab":  # indent a line with a tab
                lines = text.split("\n")
                i = draw(st.integers(0, len(lines) - 1))
                lines[i] = "\t" + lines[i].lstrip(" ")
                text = "\n".join(lines)
            elif op == "cut":  # keep only a prefix (possibly nothing, or only a comment)
                text = text[:pos] if draw(st.booleans()) else "# " + text[:pos].replace("\n", " ")
            else:
                digits = [k for k, c in enumerate(text) if c.isdigit()]
                if digits:
                    k = draw(st.sampled_from(digits))
                    text = text[:k] + draw(st.sampled_from("0123456789")) + text[k + 1:]
        raw = text.encode("utf-8", "surrogatepass")
        if draw(st.integers(0, 9)) == 0:  # a stray non-UTF-8 byte
            k = draw(st.integers(0, len(raw)))
            raw = raw[:k] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\x80"])) + raw[k:]
        return rel, kind, raw
    if kind == "structure":
        data = semantic(draw, DATA[rel]) if draw(st.booleans()) else structural(draw, DATA[rel])
    else:
        leaf = st.one_of(st.none(), st.booleans(), st.integers(-1, 300), st.sampled_from(CLASS_NAMES),
                         st.text(max_size=6))
        data = draw(st.recursive(leaf, lambda kids: st.one_of(
            st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(FIELDS + CLASS_NAMES), kids, max_size=5)),
            max_leaves=20))
    flow = draw(st.booleans())
    return rel, kind, yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=flow).encode()


class Run:
    """The temporary taxonomy and what the run saw."""

    def __init__(self, folder: Path):
        self.root = folder / "taxonomy"
        for rel, raw in BASE.items():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_bytes(raw)
        self.count = 0
        self.outcomes: collections.Counter = collections.Counter()
        self.rules: collections.Counter = collections.Counter()
        self.sample: list[tuple[str, bytes]] = []
        self.rng = random.Random(0)

    def check(self, rel: str, raw: bytes) -> list:
        """Run the pipeline on the taxonomy with ``rel`` replaced by ``raw``; returns the problems."""
        p = self.root / rel
        p.write_bytes(raw)
        try:
            try:
                build.render(self.root)
                return []
            except SpecError as e:
                return e.problems
        finally:
            if rel in BASE:
                p.write_bytes(BASE[rel])
            else:
                p.unlink()

    def record(self, rel: str, kind: str, raw: bytes, problems: list) -> None:
        self.count += 1
        files = {(self.root / r).as_posix() for r in BASE} | {(self.root / rel).as_posix()}
        nlines = raw.count(b"\n") + 1
        for p in problems:
            assert p.file in files, f"problem names no spec file: {p}"
            assert registry.is_registered(p.rule), f"unknown rule: {p}"
            assert p.path.startswith("$") and p.message, f"no path or message: {p}"
            assert (p.line == 0) == (p.rule in FILE_LEVEL), f"line {p.line} for rule {p.rule}: {p}"
            other = (raw if p.file == (self.root / rel).as_posix()
                     else BASE[Path(p.file).relative_to(self.root).as_posix()])
            assert p.line <= other.count(b"\n") + 1, f"line {p.line} beyond the file's {nlines} lines: {p}"
            self.rules[p.rule] += 1
        errors = [p for p in problems if p.severity == "error"]
        self.outcomes[f"{kind}: " + ("compiled" if not errors else "refused")] += 1
        if len(self.sample) < 150:
            self.sample.append((rel, raw))
        elif self.rng.random() < 150 / self.count:
            self.sample[self.rng.randrange(150)] = (rel, raw)


def line_coverage(run: Run) -> dict[str, tuple[int, int]]:
    """Replay the sample under a line tracer: (lines reached, lines with code) per compiler stage."""
    targets = {Path(m.__file__).resolve(): m for m in (load, schema, rules)}
    lines: dict[Path, set[int]] = {p: set() for p in targets}
    codes: dict[Path, set[int]] = {}
    for p in targets:  # the lines of function bodies (module and class bodies run at import)
        todo = [compile(p.read_text(), str(p), "exec")]
        found: set[int] = set()
        while todo:
            co = todo.pop()
            if co.co_flags & inspect.CO_NEWLOCALS:
                found |= {ln for _, _, ln in co.co_lines() if ln is not None and ln != co.co_firstlineno}
            todo += [c for c in co.co_consts if hasattr(c, "co_lines")]
        codes[p] = found
    names = {str(p): p for p in targets}

    def tracer(frame, event, arg):
        p = names.get(frame.f_code.co_filename)
        if p is None:
            return None
        if event == "line":
            lines[p].add(frame.f_lineno)
        return tracer

    sys.settrace(tracer)
    try:
        for rel, raw in run.sample:
            run.check(rel, raw)
    finally:
        sys.settrace(None)
    return {p.name: (len(lines[p] & codes[p]), len(codes[p])) for p in targets}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="wall-clock budget, the closing coverage replay included (default 60)")
    ap.add_argument("--seed", type=int, default=None, help="seed for a reproducible run")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="unitax-fuzz-", dir=shm) as tmp:
        run = Run(Path(tmp))
        assert run.check(NAMES[0], BASE[NAMES[0]]) == [], "the fuzz base taxonomy does not compile"

        @settings(max_examples=50, deadline=None, database=None, derandomize=False, print_blob=True,
                  suppress_health_check=list(HealthCheck))
        @given(inputs())
        def one(case):
            rel, kind, raw = case
            run.record(rel, kind, raw, run.check(rel, raw))

        start = time.monotonic()
        batches, batch_s = 0, 0.0
        fuzz_until = args.seconds * 0.85  # the rest is for the coverage replay
        while time.monotonic() - start + batch_s < fuzz_until:
            t0 = time.monotonic()
            try:
                one._hypothesis_internal_use_seed = rng.getrandbits(64)  # a fresh batch each round
                one()
            except Exception:
                out = Path(tempfile.gettempdir()) / "unitax-fuzz-failures"
                out.mkdir(exist_ok=True)
                (out / f"failure-{int(time.time())}.txt").write_text(traceback.format_exc())
                traceback.print_exc()
                print(f"\nfuzz: FAILED after {run.count} inputs; the shrunk input is above (saved under {out})")
                return 1
            batches += 1
            batch_s = max(batch_s, time.monotonic() - t0)
        elapsed = time.monotonic() - start
        print(f"fuzz: {run.count} inputs in {elapsed:.0f} s ({batches} hypothesis batches); nothing but SpecError "
              "escaped, and every problem named a spec file, a line within it, a JSON path and a known rule")
        for k, v in sorted(run.outcomes.items()):
            print(f"  {k:22s} {v}")
        print("  problems by rule: " + ", ".join(f"{r} {n}" for r, n in run.rules.most_common()))
        # file-level rules need the file system (links, folders, 8 MiB): the corpus covers those
        never = sorted(KNOWN - set(run.rules) - FILE_LEVEL - {"yaml-too-large"})
        print("  rules never reached: " + (", ".join(never) or "none"))
        cov = line_coverage(run)
        print(f"  function lines reached by a replay of {len(run.sample)} sampled inputs: "
              + ", ".join(f"{f} {a}/{b} ({100 * a / b:.0f}%)" for f, (a, b) in cov.items())
              + f"; {time.monotonic() - start:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
