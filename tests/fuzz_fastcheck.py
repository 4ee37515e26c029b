"""Differential fuzz of the fast schema check (compiler/fastcheck.py) against jsonschema.

    .venv/bin/python tests/fuzz_fastcheck.py [--seconds 60] [--seed N]     (or `make fuzz`)

Documents (plain data as compiler/load.py makes it: string keys; dict, list, str, int, float, bool,
None) are drawn for each of the package's schemas (universal, dataset, mapping, relabel) in
two ways: generated from the (``$ref``-inlined) schema itself, each node valid by construction or
a near miss (a bound crossed by one, a bool for an int, ``6.0`` for ``6``, a trailing newline or
blank, a missing required key, an unknown key, a repeated item, a value of another type), and
the bundled MSeg spec files (long lists and maps cut to a sample) with up to three such
mutations. Each document goes through both validators, and must get:

* the same verdict: the fast check says valid exactly when jsonschema finds no error;
* the same problems: ``schema.validate_structure`` (what a compile runs) with the fast check and
  with it turned off returns the same list of Problems.

tests/test_cache.py runs it on a fixed seed; a failure prints the schema and the document and
exits 1.
"""

from __future__ import annotations

import argparse
import collections
import copy
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
from unitax.compiler import fastcheck, load, schema  # noqa: E402

SPECS = ROOT / "tests" / "fixtures" / "mseg-specs"  # the frozen MSeg copy the product tests own (tests/README.md)
KINDS = ("universal", "dataset", "mapping", "relabel")

# Values of every JSON type and the edge cases between them (as the YAML loader can produce them).
ODD = [None, True, False, 0, 1, -1, 2, 6.0, 1.5, -0.0, 255, 256, 65535, 65536, 2**40, float("inf"), float("nan"),
       "", " ", "x", " x", "x ", "x\n", "\nx", "a\tb", "car", "Car", "CAR", "road-1", "a.b", "a_b", "é", "a b",
       "car.n.01", "car.n.1", "Car.n.01", "x/y.v.02", "seg/a.tsv", "a//b.tsv", "/a.tsv", "a.tsv\n", "uint8",
       "uint16", "int8", "train", "test", "source", "x" * 300, [], {}, [1], ["a"], ["a", "a"], [1, 1.0],
       [True, 1], [[1], [1]], [0, 0, 0], [255, 255, 255], [256, 0, 0], [0, 0], [0, 0, 0, 0], {"x": 1}, {"name": "x"}]
STRINGS = [v for v in ODD if isinstance(v, str)]
NAMES = ["car", "road", "person", "sky", "wall", "other", "a", "b-c", "d_e", "f.g", "0x", "unlabeled", "Car",
         "", "x ", "extra", "nmae", "colour", "id_", "note"]


def _string(s: dict[str, Any], rng: random.Random) -> str:
    pool = STRINGS + NAMES
    if rng.random() < 0.5:
        chars = "abcz09._-/ \n\tA'é"
        return "".join(rng.choice(chars) for _ in range(rng.randrange(0, 12)))
    return rng.choice(pool)


def _number(s: dict[str, Any], rng: random.Random, integer: bool) -> Any:
    lo, hi = s.get("minimum"), s.get("maximum")
    near = [v for b in (lo, hi) if b is not None for v in (b - 1, b, b + 1)]
    pool = near + [0, 1, 2, 37, 255, 65535, 70000]
    v = rng.choice(pool)
    r = rng.random()
    if r < 0.08:
        return float(v)  # 6.0 for 6: an integer in JSON Schema, not to unitax
    if r < 0.12:
        return bool(v % 2)  # a bool: never an integer
    if r < 0.16 and not integer:
        return v + 0.5
    return v


def generate(s: Any, rng: random.Random, depth: int = 0, budget: list[int] | None = None) -> Any:
    """A document for schema ``s``: valid by construction at most nodes, a near miss at some. About
    ``budget`` nodes at most: once it is spent, objects get only their required keys, arrays and
    maps their fewest entries."""
    budget = budget if budget is not None else [60]
    budget[0] -= 1
    if rng.random() < 0.04 or depth > 8 or s is True or s == {}:
        return copy.deepcopy(rng.choice(ODD))
    if not isinstance(s, dict):
        return None
    if "oneOf" in s:
        return generate(rng.choice(s["oneOf"]), rng, depth + 1, budget)
    if "const" in s:
        return s["const"] if rng.random() < 0.9 else copy.deepcopy(rng.choice(ODD))
    if "enum" in s:
        v = rng.choice(s["enum"])
        if rng.random() < 0.1:
            near = [str(v).upper(), f"{v} ", f"{v}\n", 1, True, None] if isinstance(v, str) else ODD
            v = rng.choice(near)
        return v
    types = s.get("type", "object")
    t = rng.choice(types) if isinstance(types, list) else types
    if t == "object":
        return _object(s, rng, depth, budget)
    if t == "array":
        return _array(s, rng, depth, budget)
    if t == "string":
        return _string(s, rng)
    if t in ("integer", "number"):
        return _number(s, rng, t == "integer")
    if t == "boolean":
        return rng.choice([True, False, True, 0, 1])
    return None


def _object(s: dict[str, Any], rng: random.Random, depth: int, budget: list[int]) -> dict[Any, Any]:
    props = s.get("properties", {})
    out: dict[Any, Any] = {}
    for k, sub in props.items():
        if k in s.get("required", []) or (budget[0] > 0 and rng.random() < 0.5):
            out[k] = generate(sub, rng, depth + 1, budget)
    extra = s.get("additionalProperties", True)
    if isinstance(extra, dict):  # a map (class name -> value): its keys checked by propertyNames
        for _ in range(rng.randrange(0, 4) if budget[0] > 0 else 0):
            out[rng.choice(NAMES + STRINGS[:20]) if rng.random() < 0.7 else _string({}, rng)] = \
                generate(extra, rng, depth + 1, budget)
    r = rng.random()
    if r < 0.05 and out:
        del out[rng.choice(list(out))]  # perhaps a required key
    elif r < 0.1:
        out[rng.choice(["extra", "nmae", "colour", "1", "Name", ""])] = copy.deepcopy(rng.choice(ODD))
    return out


def _array(s: dict[str, Any], rng: random.Random, depth: int, budget: list[int]) -> list[Any]:
    lo = s.get("minItems", 0)
    hi = s.get("maxItems", lo + 4)
    n = rng.randrange(lo, min(hi, lo + 4) + 1) if budget[0] > 0 else lo
    r = rng.random()
    if r < 0.05:
        n = max(0, lo - 1)
    elif r < 0.1 and hi < lo + 8:
        n = hi + 1
    items = [generate(s.get("items", True), rng, depth + 1, budget) for _ in range(n)]
    if s.get("uniqueItems") and rng.random() < 0.8:  # mostly distinct, as a valid list would be
        seen: list[Any] = []
        for v in items:
            if not any(_same(v, w) for w in seen):
                seen.append(v)
        items = seen
    if items and rng.random() < 0.06:
        items.append(copy.deepcopy(rng.choice(items)))
    return items


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


def shrink(data: Any, rng: random.Random) -> Any:
    """A sample of a real spec's data: long lists and maps cut to a few entries (in order), so that
    each document is small and the run tries many (a spec object has fewer keys than this)."""
    if isinstance(data, list):
        keep = sorted(rng.sample(range(len(data)), 5)) if len(data) > 5 else range(len(data))
        return [shrink(data[i], rng) for i in keep]
    if isinstance(data, dict):
        keys = list(data)
        if len(keys) > 12:
            keys = [keys[i] for i in sorted(rng.sample(range(len(keys)), 8))]
        return {k: shrink(data[k], rng) for k in keys}
    return data


def mutate(data: Any, rng: random.Random) -> Any:
    """``data`` with one node dropped, renamed, repeated or replaced by another value."""
    data = copy.deepcopy(data)
    paths = _paths(data)[1:]
    if not paths:
        return copy.deepcopy(rng.choice(ODD))
    path = rng.choice(paths)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.randrange(5)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(["colour", "nmae", "extra", f"{last}_", "7"])] = parent[last]
    elif action == 2 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif action == 3 and isinstance(parent[last], (int, float, str)) and not isinstance(parent[last], bool):
        v = parent[last]
        parent[last] = (v + rng.choice([-1, 1, 0.0]) if not isinstance(v, str)
                        else rng.choice([v + " ", v + "\n", v.upper(), v[:-1], "", v + "x"]))
    else:
        parent[last] = copy.deepcopy(rng.choice(ODD))
    return data


def validators() -> dict[str, Any]:
    vs = dict(schema.validators_for(SPECS))
    vs["relabel"] = schema.relabel_validator(SPECS)
    return vs


def real_documents() -> dict[str, list[Any]]:
    """The bundled spec files' data by schema kind (a sample of the relabel files)."""
    files, _ = load.spec_files(SPECS)
    relabel = sorted((SPECS / "relabel").rglob("*.yaml"))[:12] if (SPECS / "relabel").is_dir() else []
    out: dict[str, list[Any]] = {k: [] for k in KINDS}
    for rel, p in files + [(f"relabel/{p.relative_to(SPECS / 'relabel').as_posix()}", p) for p in relabel]:
        doc, _ = load.parse_yaml(p.read_bytes(), rel, rel)
        if doc is not None:
            out[schema.kind_of(doc)].append(doc.data)
    return out


def compare(kind: str, validator: Any, check: Any, data: Any) -> tuple[bool, str | None]:
    """(jsonschema's verdict, None if both validators agree in verdict and problems, else why not)."""
    full = next(iter(validator.iter_errors(data)), None) is None
    fast = check(data)
    if fast != full:
        return full, f"verdict: fast check {fast}, jsonschema {full}"
    rel = "universal.yaml" if kind == "universal" else f"{kind}s/x.yaml" if kind != "relabel" else "relabel/x.yaml"
    doc = load.Document(rel, rel, data, {}, b"")
    with_fast = schema.validate_structure(doc, SPECS, validator)
    saved = schema._fast_check
    schema._fast_check = lambda _v: None  # jsonschema alone
    try:
        without = schema.validate_structure(doc, SPECS, validator)
    finally:
        schema._fast_check = saved
    if with_fast != without:
        return full, f"problems: {with_fast} != {without}"
    return full, None


def run(seed: int, count: int | None = None, seconds: float | None = None) -> collections.Counter[str]:
    """Draw documents until ``count`` or ``seconds``; raises AssertionError on the first difference.
    Returns how many valid and invalid documents of each kind went through."""
    rng = random.Random(seed)
    vs = validators()
    checks = {k: fastcheck.compile_check(v.schema) for k, v in vs.items()}
    for k, c in checks.items():
        assert c is not None, f"the {k} schema left the fast subset: nothing to compare"
    real = real_documents()
    seen: collections.Counter[str] = collections.Counter()
    end = time.monotonic() + seconds if seconds is not None else None
    n = 0
    while (count is None or n < count) and (end is None or time.monotonic() < end):
        n += 1
        kind = KINDS[n % len(KINDS)]
        if rng.random() < 0.5 and real[kind]:
            data = shrink(rng.choice(real[kind]), rng)
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                data = mutate(data, rng)
        else:
            data = generate(vs[kind].schema, rng)
        full, why = compare(kind, vs[kind], checks[kind], data)
        if why is not None:
            raise AssertionError(f"{kind} (seed {seed}, document {n}): {why}\n{data!r}"[:4000])
        seen[f"{kind} {'valid' if full else 'invalid'}"] += 1
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(2**32)
    try:
        seen = run(seed, seconds=a.seconds)
    except AssertionError as e:
        print(f"DIFFERENCE: {e}", file=sys.stderr)
        return 1
    print(f"seed {seed}: {sum(seen.values())} documents, fast check and jsonschema agree on all: "
          + ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
