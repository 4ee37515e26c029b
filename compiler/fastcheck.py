"""A fast yes/no answer to "is this document valid against this schema?" for the JSON Schema
subset the spec schemas use, so that a valid spec file (nearly all of them, nearly always) costs
a tenth of a full jsonschema run; anything it is not sure of goes to jsonschema.

``compile_check(schema)`` turns an (already ``$ref``-inlined) schema into a Python function,
or returns None when the schema uses a keyword outside the subset below. The function returns
True only when jsonschema (Draft 2020-12, with unitax's integer type and ECMA-262 ``$``) would
report no error; False means "not sure": the caller then runs jsonschema, which finds and
explains every error. Being stricter than jsonschema would only cost speed; being laxer would
let an invalid spec through. On the package's schemas the two give the same verdict on every
document, and a compile the same problems with or without the fast check: tests/fuzz_fastcheck.py
checks both on generated and mutated documents (`make fuzz`; tests/test_cache.py on a fixed seed).
Skipping jsonschema (and its import) for valid specs saves about a fifth of a cold compile's CPU.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never constrain an instance.
_ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"}
_SUPPORTED = {"type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems",
              "maxItems", "uniqueItems", "items", "properties", "additionalProperties", "required", "propertyNames",
              "oneOf"}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": _is_number,
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


class _Unsupported(Exception):
    pass


def _scalar_key(x: Any) -> tuple[Any, ...]:
    """A key under which two scalars are equal exactly when jsonschema's ``equal`` says so."""
    if isinstance(x, bool):
        return ("b", x)
    if isinstance(x, (int, float)):
        return ("n", x)
    if isinstance(x, str):
        return ("s", x)
    if x is None:
        return ("z",)
    raise _Unsupported


def _identity(x: Any) -> Any:
    return x


def _bound(kind: type | tuple[type, ...], measure: Callable[[Any], Any], limit: Any, at_least: bool) -> Check:
    """``measure(x) >= limit`` (or ``<=``) for instances of ``kind`` (never bools); others pass."""
    def check(x: Any) -> bool:
        if not isinstance(x, kind) or isinstance(x, bool):
            return True
        return bool(measure(x) >= limit) if at_least else bool(measure(x) <= limit)
    return check


def compile_check(schema: Any) -> Check | None:
    """A function deciding validity against ``schema`` fast, or None if the schema is outside the subset."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _compile(schema: Any) -> Check:
    if schema is True or schema == {}:
        return lambda x: True
    if not isinstance(schema, dict):
        raise _Unsupported
    unknown = set(schema) - _SUPPORTED - _ANNOTATIONS
    if unknown:
        raise _Unsupported
    checks: list[Check] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not all(isinstance(n, str) and n in _TYPES for n in names):
            raise _Unsupported
        tests = [_TYPES[n] for n in names]
        checks.append(lambda x: any(t(x) for t in tests))
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list):
            raise _Unsupported
        allowed = frozenset(_scalar_key(v) for v in values)  # scalars only, else unsupported

        def one_of(x: Any) -> bool:
            try:
                return _scalar_key(x) in allowed
            except _Unsupported:
                return False  # a list or an object is equal to no scalar
        checks.append(one_of)
    if "const" in schema:
        wanted = _scalar_key(schema["const"])  # scalars only, else unsupported

        def same(x: Any) -> bool:
            try:
                return _scalar_key(x) == wanted
            except _Unsupported:
                return False  # a list or an object: let jsonschema compare
        checks.append(same)
    if "oneOf" in schema:
        checks.append(_one_of(schema["oneOf"]))
    if "pattern" in schema:
        rx = re.compile(re.sub(r"(?<!\\)\$", r"\\Z", schema["pattern"]))  # as schema._ecma
        checks.append(lambda x: not isinstance(x, str) or rx.search(x) is not None)
    for key, kind, at_least in (("minLength", str, True), ("maxLength", str, False), ("minItems", list, True),
                                ("maxItems", list, False)):
        if key in schema:
            checks.append(_bound(kind, len, schema[key], at_least))
    for key, at_least in (("minimum", True), ("maximum", False)):
        if key in schema:
            if not _is_number(schema[key]):
                raise _Unsupported
            checks.append(_bound((int, float), _identity, schema[key], at_least))
    if schema.get("uniqueItems") is True:
        def unique(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            try:
                keys = [_scalar_key(v) for v in x]
            except _Unsupported:
                return False  # lists or objects as items: let jsonschema compare them
            return len(set(keys)) == len(keys)
        checks.append(unique)
    elif schema.get("uniqueItems", False) is not False:
        raise _Unsupported
    if "items" in schema:
        item = _compile(schema["items"])
        checks.append(lambda x: not isinstance(x, list) or all(item(v) for v in x))
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise _Unsupported
    prop_checks = {k: _compile(v) for k, v in props.items()}
    extra = schema.get("additionalProperties", True)
    extra_check = None if extra is False else _compile(extra)
    required = schema.get("required", [])
    if not (isinstance(required, list) and all(isinstance(k, str) for k in required)):
        raise _Unsupported
    key_check = _compile(schema["propertyNames"]) if "propertyNames" in schema else None
    if prop_checks or extra is not True or required or key_check is not None:
        def obj(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for k in required:
                if k not in x:
                    return False
            for k, v in x.items():
                if key_check is not None and not key_check(k):
                    return False
                c = prop_checks.get(k)
                if c is not None:
                    if not c(v):
                        return False
                elif extra_check is None or not extra_check(v):
                    return False
            return True
        checks.append(obj)
    if len(checks) == 1:
        return checks[0]
    return lambda x: all(c(x) for c in checks)


def _branch_types(branch: Any) -> frozenset[str]:
    """The JSON types a ``oneOf`` branch admits, from its own ``type`` (unsupported without one)."""
    t = branch.get("type") if isinstance(branch, dict) else None
    names = t if isinstance(t, list) else [t]
    if not names or not all(isinstance(n, str) and n in _TYPES for n in names):
        raise _Unsupported
    out = set(names)
    if "number" in out:
        out.add("integer")  # an integer is a number too: they overlap
    return frozenset(out)


def _one_of(branches: Any) -> Check:
    """``oneOf`` whose branches admit pairwise disjoint types, so at most one can ever hold: the
    document is valid when one branch's (sound) check passes. Other ``oneOf``s are unsupported."""
    if not isinstance(branches, list) or not branches:
        raise _Unsupported
    kinds = [_branch_types(b) for b in branches]
    for i, a in enumerate(kinds):
        if any(a & b for b in kinds[i + 1:]):
            raise _Unsupported
    checks = [_compile(b) for b in branches]
    return lambda x: any(c(x) for c in checks)
