"""Stage 2: structural validation with JSON Schema (Draft 2020-12).

The schemas ship in the package (``compiler/schemas/``, read with ``importlib.resources``), so
a spec folder needs none of its own; a ``schemas/`` beside the specs overrides them. Each
``ValidationError`` becomes a Problem with the line of the offending node; unknown fields get a
did-you-mean.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import fastcheck
from .errors import Problem
from .load import Document, format_path

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from referencing import Registry

# jsonschema (and referencing) are imported only when a document needs them: one the fast check
# (fastcheck.py) cannot call valid, or a spec folder with schemas of its own. A compile of valid
# specs against the package's schemas never imports them (about a tenth of a cold compile).


@lru_cache(maxsize=64)
def _ecma(pattern: str) -> re.Pattern[str]:
    """A schema pattern with ECMA-262's ``$`` (end of input) instead of Python's (end of input or
    before a final newline), so ``^\\S(.*\\S)?$`` does not accept ``'car\\n'``."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def _pattern(validator: object, pattern: str, instance: object, schema: object) -> Iterator[ValidationError]:  # noqa: ARG001, E501
    from jsonschema import ValidationError

    if isinstance(instance, str) and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@lru_cache(maxsize=1)
def draft202012() -> Any:
    """jsonschema's Draft 2020-12 validator class, as unitax reads schemas.

    JSON Schema counts 6.0 as an integer; a spec id of 6.0 would then reach the tables as a float
    index. Specs are YAML, where 6 and 6.0 are distinct, so integers are Python ints (not bools).
    A ``pattern``'s ``$`` is ECMA-262's (end of input)."""
    from jsonschema import Draft202012Validator as _Draft202012
    from jsonschema import validators

    return validators.extend(_Draft202012, type_checker=_Draft202012.TYPE_CHECKER.redefine(
        "integer", lambda _checker, x: isinstance(x, int) and not isinstance(x, bool)),
        validators={"pattern": _pattern})


#: a validator of the class draft202012() returns, or a LazyValidator (a variable, not a type, to mypy)
SchemaValidator = Any

SCHEMA_NAMES = ("universal", "dataset", "mapping")
# package data of unitax.compiler: installed with it by `pip install`
REPO_SCHEMAS = Path(str(resources.files(__package__).joinpath("schemas")))


def schema_dir(root: Path) -> Path:
    """The schemas for a spec root: its own ``schemas/`` if it has one, else the package's."""
    own = root / "schemas"
    return own if (own / "mapping.schema.json").is_file() else REPO_SCHEMAS


def validators_for(root: Path) -> dict[str, SchemaValidator]:
    """The validators of the schemas a spec root answers to, by schema name; built once per
    distinct schema content (an edited schema is read again, even within one process)."""
    directory = Path(str(schema_dir(Path(root))))
    return _validators(tuple((n, (directory / f"{n}.schema.json").read_bytes()) for n in SCHEMA_NAMES))


class LazyValidator:
    """A validator of the class above, built (importing jsonschema) on first use: ``schema`` (the
    ``$ref``-inlined schema) is all the fast check needs."""

    def __init__(self, schema: Any, make: Callable[[], Any]) -> None:
        self.schema = schema
        self._make = make
        self._real: Any = None

    def validator(self) -> Any:
        """The jsonschema validator itself."""
        if self._real is None:
            self._real = self._make()
        return self._real

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        return cast(Iterator["ValidationError"], self.validator().iter_errors(instance))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.validator(), name)


@lru_cache(maxsize=8)
def _validators(texts: tuple[tuple[str, bytes], ...]) -> dict[str, SchemaValidator]:
    schemas = {n: json.loads(text.decode("utf-8")) for n, text in texts}
    if texts == _package_texts():  # checked against the meta-schema by tests/test_cache.py
        try:
            by_id = {s["$id"]: s for s in schemas.values()}
            inlined = {n: _inline_local(s, s["$id"], by_id) for n, s in schemas.items()}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            pass  # a $ref this reader does not follow: referencing's below
        else:
            return {n: LazyValidator(inlined[n], functools.partial(_full, inlined[n], texts)) for n in schemas}
    registry = _registry(texts)
    for s in schemas.values():
        draft202012().check_schema(s)
    # Resolving $ref for each of ~20,000 nodes dominated compile time (~1 s); the schemas
    # have no recursive refs, so inline them once and validate against the inlined copies.
    return {n: draft202012()(_inline(s, s["$id"], registry), registry=registry) for n, s in schemas.items()}


def _full(inlined: Any, texts: tuple[tuple[str, bytes], ...]) -> Any:
    return draft202012()(inlined, registry=_registry(texts))


@lru_cache(maxsize=1)
def _package_texts() -> tuple[tuple[str, bytes], ...]:
    return tuple((n, (REPO_SCHEMAS / f"{n}.schema.json").read_bytes()) for n in SCHEMA_NAMES)


@lru_cache(maxsize=8)
def _registry(texts: tuple[tuple[str, bytes], ...]) -> Registry:
    from referencing import Registry, Resource

    schemas = [json.loads(text.decode("utf-8")) for _, text in texts]
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)


def _inline_local(node: object, base: str, by_id: dict[str, Any]) -> object:
    """``_inline`` for ``$ref``s of the form ``URI#/json/pointer`` into the schemas ``by_id``
    (all the package's schemas use), without importing referencing."""
    if isinstance(node, list):
        return [_inline_local(x, base, by_id) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        uri, _, fragment = node["$ref"].partition("#")
        uri = uri or base
        target = by_id[uri]
        for part in fragment.split("/")[1:] if fragment else ():
            part = part.replace("~1", "/").replace("~0", "~")
            target = target[int(part)] if isinstance(target, list) else target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        resolved = _inline_local(target, uri, by_id)
        return {**cast(dict[str, Any], resolved), **rest} if rest else resolved
    return {k: (_inline_local(v, base, by_id) if k != "$defs" else v) for k, v in node.items()}


def _inline(node: object, base: str, registry: Registry) -> object:
    """A copy of a schema with every (non-recursive) ``$ref`` replaced by its target."""
    if isinstance(node, list):
        return [_inline(x, base, registry) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        uri, _, fragment = node["$ref"].partition("#")
        uri = uri or base
        target = registry.resolver(base_uri=uri).lookup(f"{uri}#{fragment}").contents
        rest = {k: v for k, v in node.items() if k != "$ref"}
        resolved = _inline(target, uri, registry)
        return {**cast(dict[str, Any], resolved), **rest} if rest else resolved
    return {k: (_inline(v, base, registry) if k != "$defs" else v) for k, v in node.items()}


def kind_of(doc: Document) -> str:
    """Which schema a spec file answers to, from where it lives."""
    if doc.rel == "universal.yaml":
        return "universal"
    if doc.rel.startswith("relabel/"):
        return "relabel"
    return "dataset" if doc.rel.startswith("datasets/") else "mapping"


#: the schema of relabel files; a spec folder's own ``schemas/`` may hold one without the others
RELABEL_SCHEMA = "relabel.schema.json"


@lru_cache(maxsize=4)
def _relabel_validator(schema_path: str, text: bytes) -> SchemaValidator:
    s = json.loads(text.decode("utf-8"))
    if Path(schema_path) == REPO_SCHEMAS / RELABEL_SCHEMA:
        return LazyValidator(s, lambda: draft202012()(s))  # the package's: checked by tests/test_cache.py
    draft202012().check_schema(s)
    return draft202012()(s)


def relabel_validator(root: Path) -> SchemaValidator:
    """The validator of relabel files under ``root``: its own ``schemas/relabel.schema.json``, else the
    package's; built once per distinct schema content (an edited schema is read again)."""
    own = Path(root) / "schemas" / RELABEL_SCHEMA
    path = own if own.is_file() else REPO_SCHEMAS / RELABEL_SCHEMA
    return _relabel_validator(str(path), path.read_bytes())


def _short(value: object, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_repeat(items: object) -> tuple[int, int] | None:
    """(first index, repeat index) of the first item of a list that repeats an earlier one."""
    seen: dict[str, int] = {}
    for j, item in enumerate(items if isinstance(items, list) else ()):
        key = json.dumps(item, sort_keys=True)
        if key in seen:
            return seen[key], j
        seen[key] = j
    return None


# validator id -> (the validator, kept alive so that its id is not reused; its fast check or None)
_FAST: dict[int, tuple[object, Callable[[Any], bool] | None]] = {}


def _fast_check(validator: Any) -> Callable[[Any], bool] | None:
    entry = _FAST.get(id(validator))
    if entry is None or entry[0] is not validator:
        entry = (validator, fastcheck.compile_check(getattr(validator, "schema", None)))
        _FAST[id(validator)] = entry
    return entry[1]


def validate_structure(doc: Document, root: Path, validator: SchemaValidator | None = None) -> list[Problem]:
    """Validate one document against its schema (or ``validator``); returns problems (empty when valid).

    A document the fast check (fastcheck.py) finds valid is valid; any other goes to jsonschema."""
    if validator is None:
        kind = kind_of(doc)
        validator = relabel_validator(root) if kind == "relabel" else validators_for(root)[kind]
    fast = _fast_check(validator)
    if fast is not None and fast(doc.data):
        return []
    problems = []
    for err in validator.iter_errors(doc.data):
        if err.validator == "oneOf" and err.context:  # e.g. unfed: a list, or {all_others, as_of}
            fits = [e for e in err.context if e.validator != "type" or e.relative_path]  # the branch of its type
            if fits:
                err = max(fits, key=lambda e: len(e.absolute_path))
        path = tuple(err.absolute_path)
        if "propertyNames" in err.schema_path and isinstance(err.instance, str):
            path += (err.instance,)  # a bad key: point at the key's own line
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = list(err.schema.get("properties", {}))
            for key in err.instance:
                if key in allowed:
                    continue
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
                kp = path + (key,)
                problems.append(Problem(doc.file, doc.line(kp), format_path(kp), "unknown-field",
                                        f"unknown field {key!r}{hint}"))
            continue
        if err.validator == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            for key in missing:
                problems.append(Problem(doc.file, doc.line(path), format_path(path), "missing-field",
                                        f"missing required field {key!r}"))
            continue
        if err.validator == "type":
            msg = f"{_short(err.instance)} is not of type {err.validator_value!r}"
            if isinstance(err.instance, bool) and "string" in str(err.validator_value):
                msg += " (YAML reads true/false as booleans: quote it)"
        elif err.validator == "pattern" and isinstance(err.instance, str) and err.instance != err.instance.strip():
            msg = f"{err.instance!r} has leading or trailing white space"
        elif err.validator == "const":
            msg = f"{_short(err.instance)} must be {json.dumps(err.validator_value)}"
        elif err.validator == "oneOf" and all(isinstance(b, dict) and "type" in b for b in err.validator_value):
            forms = " or ".join(str(b["type"]) for b in err.validator_value)
            msg = f"{_short(err.instance)} is none of the allowed forms ({forms})"
        elif err.validator in ("enum", "const"):
            msg = f"{_short(err.instance)} is not one of {err.validator_value!r}"
        elif err.validator == "uniqueItems" and (repeat := _first_repeat(err.instance)):
            i, j = repeat
            path += (j,)
            msg = f"{_short(err.instance[j])} is listed twice (first at {format_path(path[:-1] + (i,))})"
        else:
            msg = (err.message if len(err.message) < 200
                   else f"{_short(err.instance)}: fails {err.validator!r} = {_short(err.validator_value)}")
        problems.append(Problem(doc.file, doc.line(path), format_path(path), f"schema-{err.validator}", msg))
    return problems
