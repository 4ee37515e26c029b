"""Stage 1: read spec files into plain data plus a source map (JSON path -> line).

YAML is parsed with PyYAML's safe composer only (no object construction from tags), and
the node tree is turned into plain data here so that the things PyYAML silently accepts
are refused instead: duplicate keys (PyYAML keeps the last one), anchors and aliases
(which also defuses "billion laughs" documents), tags other than the standard scalar ones,
non-UTF-8 bytes, tabs in indentation, oversized files, documents of too many nodes or nested too
deep (counted on the event stream before any tree is built) and symlinks that leave the spec root.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

try:  # libyaml's parser is ~10x faster; the composed nodes are the same.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 8 * 1024 * 1024
# A uint16 dataset of 65,535 classes with colours is ~720,000 nodes; an 8 MiB file of `0,`
# would be 4 million, whose node tree takes ~1.2 GB and ~25 s to build, so count first.
MAX_NODES = 1_000_000
MAX_DEPTH = 64  # specs nest 4 deep; the converter recurses once per level

JsonPath = tuple[str | int, ...]
_ODD_BREAK = re.compile("[\x85\u2028\u2029]|\r(?!\n)")  # NEL, LS, PS, a CR alone

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


def format_path(path: JsonPath) -> str:
    """Render a path tuple as a JSON path: ``("map", "tv", 0)`` -> ``$.map.tv[0]``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and all(c.isalnum() or c in "_-" for c in part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


@dataclass
class Document:
    """One parsed spec file."""

    file: str  # path as shown in messages (the spec root as given, joined with rel)
    rel: str  # path relative to the spec root, '/'-separated
    data: Any
    lines: dict[JsonPath, int]
    raw: bytes

    def line(self, path: JsonPath) -> int:
        """Line of the deepest node along ``path`` that has one (1-based)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class _Fail(Exception):
    def __init__(self, line: int, path: JsonPath, rule: str, message: str):
        self.line, self.path, self.rule, self.message = line, path, rule, message


class _Converter:
    def __init__(self, loader: Any):
        self.loader = loader
        self.seen: set[int] = set()
        self.lines: dict[JsonPath, int] = {}
        self.alias_line = 0  # line of the first alias, from _scan (a composed alias is its anchor's node)

    def convert(self, node: yaml.Node, path: JsonPath) -> Any:
        line = node.start_mark.line + 1
        if id(node) in self.seen:
            raise _Fail(self.alias_line or line, path, "yaml-alias", "anchors and aliases are not allowed in specs")
        self.seen.add(id(node))
        if len(self.seen) > MAX_NODES:
            raise _Fail(line, path, "yaml-too-large", f"more than {MAX_NODES} YAML nodes")
        self.lines.setdefault(path, line)
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise _Fail(line, path, "yaml-tag", f"tag {node.tag!r} is not allowed")
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                kline = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode) or id(key_node) in self.seen:
                    raise _Fail(kline, path, "yaml-key", "mapping keys must be plain scalars")
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Fail(kline, path, "yaml-alias", "merge keys ('<<') are not allowed in specs")
                self.scalar(key_node, path, key=True)  # refuses tags
                # Keys are names: keep the text as written, so a class called `no` or `1`
                # stays the string it is instead of YAML 1.1's False or 1.
                key = key_node.value
                if key in out:
                    first = self.lines.get(path + (key,), 0)
                    raise _Fail(kline, path + (key,), "duplicate-key",
                                f"duplicate key {key!r} (first at line {first}); YAML would silently keep the last one")
                self.lines[path + (key,)] = kline
                out[key] = self.convert(value_node, path + (key,))
                self.lines[path + (key,)] = kline
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise _Fail(line, path, "yaml-tag", f"tag {node.tag!r} is not allowed")
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node: yaml.ScalarNode, path: JsonPath, key: bool = False) -> Any:
        line = node.start_mark.line + 1
        if not node.style and not key and node.tag in _YAML11_ONLY_TAGS:  # a date, '='
            raise _Fail(line, path, "yaml11", f"{node.value!r} is a {_YAML11_ONLY_TAGS[node.tag]} in YAML 1.1 "
                        "(PyYAML) but a string in YAML 1.2: quote it")
        if node.tag not in _SCALAR_TAGS:
            raise _Fail(line, path, "yaml-tag",
                        f"tag {node.tag!r} is not allowed (specs hold plain data only)")
        value = self.loader.construct_object(node, deep=False)
        if not node.style and not key:  # plain (libyaml: "", PyYAML: None); keys keep their text, so they read the same in both
            why = yaml11_only(node.value, value)
            if why:
                raise _Fail(line, path, "yaml11", why)
        return value


# Plain scalars that YAML 1.1 (PyYAML) and YAML 1.2 read differently. Specs are read as YAML 1.1
# by PyYAML and as 1.2 by most other tools (ruamel, yq, editors' schemas), so a spec must not
# depend on which one reads it: these forms are refused, with both readings in the message.
_INT_OK = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+")  # the same in 1.1 and 1.2
_FLOAT_OK = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_BOOL_OK = {"true", "True", "TRUE", "false", "False", "FALSE"}
_YAML11_ONLY_TAGS = {"tag:yaml.org,2002:timestamp": "date", "tag:yaml.org,2002:value": "value key"}


def yaml11_only(text: str, value: Any) -> str | None:
    """Why the plain scalar ``text`` (read by PyYAML as ``value``) means something else in YAML 1.2, or None."""
    if isinstance(value, bool):
        if text in _BOOL_OK:
            return None
        return (f"{text!r} is the boolean {str(value).lower()} in YAML 1.1 (PyYAML) but a string in YAML 1.2: "
                f"write {str(value).lower()}, or quote it if it is a name")
    if isinstance(value, int):
        if _INT_OK.fullmatch(text):
            return None
        if re.fullmatch(r"[-+]?[0-9]+", text):  # leading zeros: octal in 1.1, decimal in 1.2
            if int(text) == value:  # 00, 07: the same number either way
                return None
            other = f"{int(text)} in YAML 1.2"
        else:  # 1_000, 0b101, 1:30 (base 60), 0o17 ...
            other = "a string in YAML 1.2"
        return (f"{text!r} is the integer {value} in YAML 1.1 (PyYAML) but {other}: "
                f"write {value}, or quote it if it is a name")
    if isinstance(value, float):
        if _FLOAT_OK.fullmatch(text):
            return None
        return (f"{text!r} is the number {value!r} in YAML 1.1 (PyYAML) but a string in YAML 1.2: "
                "write it without '_' or ':', or quote it if it is a name")
    if isinstance(value, str) and _STR11_NUM12.fullmatch(text):
        return (f"{text!r} is a string in YAML 1.1 (PyYAML) but a number in YAML 1.2: quote it if it is a name, "
                "write the number in decimal otherwise")
    return None


_STR11_NUM12 = re.compile(r"[-+]?0o[0-7]+|[-+]?[0-9]+[eE][-+]?[0-9]+")  # 0o17, 1e3: numbers only in YAML 1.2


def _scan(text: str) -> int:
    """Stream the parser's events once, in constant memory, and refuse a document with more
    than MAX_NODES nodes or nested deeper than MAX_DEPTH before any node tree is built, and
    any alias (as a value or as a mapping key) at its own line and JSON path.

    Returns 0 (kept for callers that expected the line of the first alias).
    """
    loader = _Loader(text)
    # One frame per open collection: [is_mapping, path, next index or key-expected flag, last key].
    stack: list[list[Any]] = []
    try:
        nodes = 0
        while loader.check_event():
            ev = loader.get_event()
            node_event = isinstance(ev, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent))
            path: JsonPath = ()
            is_key = False
            if node_event and stack:
                top = stack[-1]
                if top[0]:  # a mapping: keys and values alternate
                    is_key = top[2]
                    path = top[1] if is_key else top[1] + (top[3],)
                    if is_key:
                        top[3] = ev.value if isinstance(ev, yaml.ScalarEvent) else "?"
                    top[2] = not top[2]
                else:
                    path = top[1] + (top[2],)
                    top[2] += 1
            if isinstance(ev, yaml.AliasEvent):
                where = f" (alias *{ev.anchor} used as a mapping key)" if is_key else ""
                raise _Fail(ev.start_mark.line + 1, path, "yaml-alias",
                            f"anchors and aliases are not allowed in specs{where}")
            if node_event:
                nodes += 1
                if nodes > MAX_NODES:
                    raise _Fail(ev.start_mark.line + 1, (), "yaml-too-large",
                                f"more than {MAX_NODES} YAML nodes; specs are limited to that")
            if isinstance(ev, yaml.CollectionStartEvent):
                if len(stack) + 1 > MAX_DEPTH:
                    raise _Fail(ev.start_mark.line + 1, (), "yaml-too-deep",
                                f"nested more than {MAX_DEPTH} levels deep")
                mapping = isinstance(ev, yaml.MappingStartEvent)
                stack.append([mapping, path, True if mapping else 0, None])
            elif isinstance(ev, yaml.CollectionEndEvent):
                stack.pop()
    finally:
        loader.dispose()
    return 0


def parse_yaml(raw: bytes, file: str, rel: str | None = None) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document from bytes; returns (document, problems).

    Args:
        raw: the file's bytes.
        file: the path shown in messages.
        rel: the path relative to the spec root (defaults to ``file``).
    """
    if len(raw) > MAX_FILE_BYTES:
        return None, [Problem(file, 0, "$", "file-too-large",
                              f"file is {len(raw)} bytes; specs are limited to {MAX_FILE_BYTES}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        return None, [Problem(file, line, "$", "encoding",
                              f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})")]
    if text.startswith("\ufeff"):
        text = text[1:]
    odd = _ODD_BREAK.search(text)
    if odd:  # YAML counts these as line breaks (and folds them inside strings); editors do not
        return None, [Problem(file, text.count("\n", 0, odd.start()) + 1, "$", "encoding",
                              f"unusual line break U+{ord(odd.group()[0]):04X}: YAML reads a new line here that "
                              f"editors do not show; inside a double-quoted string write \\u{ord(odd.group()[0]):04x}")]
    for n, line_text in enumerate(text.split("\n"), 1):
        stripped = line_text.lstrip(" ")
        if stripped.startswith("\t"):
            return None, [Problem(file, n, "$", "yaml-tab", "tab used for indentation; use spaces")]
    if not text.strip():
        return None, [Problem(file, 1, "$", "empty-file", "file is empty")]
    last = text.count("\n") + 1  # libyaml puts end-of-stream marks one line past the last
    loader = _Loader(text)
    try:
        alias_line = _scan(text)
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(file, 1, "$", "empty-file", "file holds no YAML document")]
        conv = _Converter(loader)
        conv.alias_line = alias_line
        data = conv.convert(node, ())
    except _Fail as f:
        return None, [Problem(file, min(f.line, last), format_path(f.path), f.rule, f.message)]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = min(mark.line + 1, last) if mark else 1
        msg = " ".join(str(x) for x in (e.context, e.problem) if x)
        return None, [Problem(file, line, "$", "yaml-syntax", f"YAML syntax error: {msg}")]
    except yaml.YAMLError as e:
        return None, [Problem(file, 1, "$", "yaml-syntax", f"YAML error: {e}")]
    finally:
        loader.dispose()
    return Document(file, rel or file, data, {k: min(v, last) for k, v in conv.lines.items()}, raw), []


def spec_files(root: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """All spec files under ``root`` (universal.yaml, datasets/*.yaml, mappings/*.yaml), sorted.

    Refuses files whose real path leaves ``root`` (symlinks pointing outside).
    """
    problems: list[Problem] = []
    out: list[tuple[str, Path]] = []
    real_root = root.resolve()
    candidates = [root / "universal.yaml"]
    for sub in ("datasets", "mappings"):
        d = root / sub
        if d.is_dir():
            candidates += sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml"))
    for p in candidates:
        rel = p.relative_to(root).as_posix()
        shown = p.as_posix()
        if not p.exists() and not p.is_symlink():
            problems.append(Problem(shown, 0, "$", "missing-file", "required spec file is missing"))
            continue
        real = p.resolve()
        if not real.is_relative_to(real_root) or not real.exists():
            problems.append(Problem(shown, 0, "$", "symlink-outside",
                                    f"is a link to {os.readlink(p) if p.is_symlink() else real}, outside the spec folder"))
            continue
        if not real.is_file():
            problems.append(Problem(shown, 0, "$", "not-a-file", "is not a regular file"))
            continue
        out.append((rel, p))
    return out, problems


def load_specs(root: Path) -> tuple[list[Document], list[Problem]]:
    """Read and parse every spec file under ``root``; returns documents and all problems."""
    files, problems = spec_files(root)
    docs: list[Document] = []
    for rel, p in files:
        raw = p.read_bytes()
        doc, probs = parse_yaml(raw, p.as_posix(), rel)
        problems += probs
        if doc is not None:
            docs.append(doc)
    return docs, problems
