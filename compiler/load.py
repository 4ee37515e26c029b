"""Stage 1: read spec files into plain data plus a source map (JSON path -> line).

YAML is parsed with PyYAML's safe composer only (no object construction from tags), and
the node tree is turned into plain data here so that the things PyYAML silently accepts
are refused instead: duplicate keys (PyYAML keeps the last one), anchors and aliases
(which also defuses "billion laughs" documents), tags other than the standard scalar ones,
non-UTF-8 bytes, tabs in indentation, oversized files, documents of too many nodes or nested too
deep (counted on the event stream before any tree is built) and symlinks that leave the spec root.
Plain scalars that YAML 1.1 (PyYAML) and YAML 1.2 read differently (``010``, ``1_0``, ``0b1``,
``1:30``, ``yes``/``no``/``on``/``off``, dates; ``0o17`` and ``1e3`` the other way) are refused as
``yaml11``. Spec files are found with stat alone and read bounded and non-blocking: two files for
one spec (``.yml``/``.yaml``, case, Unicode normalisation), symlink loops, special and unreadable
files, and a root or datasets/ / mappings/ of the wrong kind are each one Problem, never a traceback.
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

from unitax.fileops.read import NotRegularFile, TooLarge, describe, read_regular

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
_TAB_INDENT = re.compile(r"^ *\t", re.M)  # a line whose indentation (spaces) ends in a tab
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


def _event_line(ev: Any) -> int:
    """The 1-based line where a YAML event starts (1 when the event has no mark)."""
    mark = getattr(ev, "start_mark", None)
    return mark.line + 1 if mark is not None else 1


class _Fail(Exception):
    def __init__(self, line: int, path: JsonPath, rule: str, message: str):
        self.line, self.path, self.rule, self.message = line, path, rule, message


class _Converter:
    """The composed node tree -> plain data and the line map, refusing what specs must not hold.

    Runs after ``_scan`` (or its proof ``_scan_would_pass``), so the tree holds no alias and is
    within MAX_NODES and MAX_DEPTH. Strings and decimal integers, nearly every scalar of a spec,
    are read directly; any other scalar goes through PyYAML's own constructor."""

    def __init__(self, loader: Any):
        self.loader = loader
        self.lines: dict[JsonPath, int] = {}

    def convert(self, node: yaml.Node, path: JsonPath) -> Any:
        line = node.start_mark.line + 1
        self.lines.setdefault(path, line)
        kind = type(node)
        if kind is yaml.ScalarNode:
            return self.scalar(node, path)  # type: ignore[arg-type]
        if kind is yaml.MappingNode:
            if node.tag != _MAP_TAG:
                raise _Fail(line, path, "yaml-tag", f"tag {node.tag!r} is not allowed")
            out: dict[str, Any] = {}
            lines = self.lines
            for key_node, value_node in node.value:
                kline = key_node.start_mark.line + 1
                if type(key_node) is not yaml.ScalarNode:
                    raise _Fail(kline, path, "yaml-key", "mapping keys must be plain scalars")
                if key_node.tag != _STR_TAG:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        raise _Fail(kline, path, "yaml-alias", "merge keys ('<<') are not allowed in specs")
                    self.scalar(key_node, path, key=True)  # refuses tags
                # Keys are names: keep the text as written, so a class called `no` or `1`
                # stays the string it is instead of YAML 1.1's False or 1.
                key = key_node.value
                sub = (*path, key)
                if key in out:
                    first = lines.get(sub, 0)
                    raise _Fail(kline, sub, "duplicate-key",
                                f"duplicate key {key!r} (first at line {first}); YAML would silently keep the last one")
                lines[sub] = kline
                out[key] = self.convert(value_node, sub)
                lines[sub] = kline
            return out
        if kind is yaml.SequenceNode:
            if node.tag != _SEQ_TAG:
                raise _Fail(line, path, "yaml-tag", f"tag {node.tag!r} is not allowed")
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        raise _Fail(line, path, "yaml-tag", f"node {kind.__name__} is not allowed")  # pragma: no cover

    def scalar(self, node: yaml.ScalarNode, path: JsonPath, key: bool = False) -> Any:
        tag, text = node.tag, node.value
        plain = not node.style  # plain (libyaml: "", PyYAML: None)
        if tag == _STR_TAG:  # what PyYAML's constructor returns for a string: its text
            if plain and not key and text[:1] in _NUMBER_START:
                why = yaml11_only(text, text)
                if why:
                    raise _Fail(node.start_mark.line + 1, path, "yaml11", why)
            return text
        if tag == _INT_TAG and plain and _DECIMAL.fullmatch(text):  # the same in YAML 1.1 and 1.2
            return int(text)
        line = node.start_mark.line + 1
        if plain and not key and tag in _YAML11_ONLY_TAGS:  # a date, '='
            raise _Fail(line, path, "yaml11", f"{text!r} is a {_YAML11_ONLY_TAGS[tag]} in YAML 1.1 "
                        "(PyYAML) but a string in YAML 1.2: quote it")
        if tag not in _SCALAR_TAGS:
            raise _Fail(line, path, "yaml-tag",
                        f"tag {tag!r} is not allowed (specs hold plain data only)")
        try:
            value = self.loader.construct_object(node, deep=False)
        except (ValueError, KeyError, TypeError, OverflowError):  # `!!int road`: a tag its text does not fit
            raise _Fail(line, path, "yaml-tag", f"{text!r} is not a valid !!{tag.rsplit(':', 1)[-1]} value") from None
        # keys keep their text, so they read the same in both
        if plain and not key:
            why = yaml11_only(text, value)
            if why:
                raise _Fail(line, path, "yaml11", why)
        return value


_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_STR_TAG, _INT_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int"
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")  # int(text) is what PyYAML makes of it
_NUMBER_START = "+-0123456789"  # a string that YAML 1.2 could read as a number starts so


# Plain scalars that YAML 1.1 (PyYAML) and YAML 1.2 read differently. Specs are read as YAML 1.1
# by PyYAML and as 1.2 by most other tools (ruamel, yq, editors' schemas), so a spec must not
# depend on which one reads it: these forms are refused, with both readings in the message.
_INT_OK = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+")  # the same in 1.1 and 1.2
_FLOAT_OK = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
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


def _scan(text: str) -> None:
    """Stream the parser's events once, in constant memory, and refuse a document with more
    than MAX_NODES nodes or nested deeper than MAX_DEPTH before any node tree is built, and
    any alias (as a value or as a mapping key) at its own line and JSON path.
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
                raise _Fail(_event_line(ev), path, "yaml-alias",
                            f"anchors and aliases are not allowed in specs{where}")
            if node_event:
                nodes += 1
                if nodes > MAX_NODES:
                    raise _Fail(_event_line(ev), (), "yaml-too-large",
                                f"more than {MAX_NODES} YAML nodes; specs are limited to that")
            if isinstance(ev, yaml.CollectionStartEvent):
                if len(stack) + 1 > MAX_DEPTH:
                    raise _Fail(_event_line(ev), (), "yaml-too-deep",
                                f"nested more than {MAX_DEPTH} levels deep")
                mapping = isinstance(ev, yaml.MappingStartEvent)
                stack.append([mapping, path, True if mapping else 0, None])
            elif isinstance(ev, yaml.CollectionEndEvent):
                stack.pop()
    finally:
        loader.dispose()


_LEAF_FLOW = re.compile(r"\[[^\[\]{}\"'#\n]*\]")  # [1, 2, 3] on one line: no quote, comment or bracket inside
_LEAF_FLOW_MAP = re.compile(r"{[^\[\]{}\"'#\n]*}")  # {id: 0, name: road} likewise (its [r, g, b] removed first)
_INDENT = re.compile(r"^ *", re.M)
_AFTER_INDICATOR = re.compile(r"^ *[-?:][ \t]+", re.M)
_COMPACT_NESTED = re.compile(r"^ *[-?:][ \t]+[-?:](?:[ \t]|$)|^(?:---|\.\.\.)", re.M)


def _scan_would_pass(text: str) -> bool:
    """True only when ``_scan`` surely finds nothing to refuse, so that parsing may skip it (a
    quarter of the parse): no ``&`` or ``*`` (no anchor, no alias), too short for MAX_NODES nodes,
    and nested less than MAX_DEPTH deep by a bound read off the lines:

    - flow collections: every bracket is part of a one-line ``[...]`` with no quote, comment or
      bracket inside, or of a one-line ``{...}`` holding no quote, comment or bracket but such
      ``[...]``; plain scalars in flow context hold no brackets, so flow depth <= 2;
    - block collections: each starts at a line's indentation or just after a leading ``-``, ``?``
      or ``:`` indicator (no compact ``- - x`` and no ``---``/``...`` line), and down a chain of
      nested block collections the column never falls and rises at least every second step:
      block depth <= 2 x the number of such columns.
    Anything else goes through ``_scan``."""
    if "&" in text or "*" in text or len(text) * 4 >= MAX_NODES or _COMPACT_NESTED.search(text):
        return False
    rest = _LEAF_FLOW_MAP.sub("", _LEAF_FLOW.sub("", text))
    if any(c in rest for c in "[]{}"):
        return False
    columns = {len(m) for m in _INDENT.findall(text)} | {len(m) for m in _AFTER_INDICATOR.findall(text)}
    return 2 * len(columns) + 2 < MAX_DEPTH


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
    tab = _TAB_INDENT.search(text)
    if tab:
        return None, [Problem(file, text.count("\n", 0, tab.start()) + 1, "$", "yaml-tab",
                              "tab used for indentation; use spaces")]
    if not text.strip():
        return None, [Problem(file, 1, "$", "empty-file", "file is empty")]
    last = text.count("\n") + 1  # libyaml puts end-of-stream marks one line past the last
    loader = _Loader(text)
    try:
        if not _scan_would_pass(text):
            _scan(text)  # refuses aliases, too many nodes, too deep: before any tree is built
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(file, 1, "$", "empty-file", "file holds no YAML document")]
        conv = _Converter(loader)
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


SPEC_SUFFIXES = (".yaml", ".yml")
SPEC_FOLDERS = {"datasets": "dataset", "mappings": "mapping"}


def spec_key(name: str) -> str:
    """What a spec file name names, for finding two files of one thing: the name in Unicode NFC,
    case-folded, without its .yaml/.yml extension (``CamVid-11.YML`` -> ``camvid-11``)."""
    key = unicodedata.normalize("NFC", name).casefold()
    for suffix in SPEC_SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


def is_spec_name(name: str) -> bool:
    """Whether a file name has a spec extension (.yaml or .yml, in any case)."""
    return unicodedata.normalize("NFC", name).casefold().endswith(SPEC_SUFFIXES)


def _preference(name: str) -> tuple[bool, bool, bool, str]:
    # Of two files for one thing, the one read: exactly '.yaml', then NFC, then lower case, then sorted.
    return (not name.endswith(".yaml"), unicodedata.normalize("NFC", name) != name, name.casefold() != name, name)


def duplicate_files(names: list[str], folder: str, kind: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Split spec file names into the ones to read and (name, message) for the others.

    Two names that differ only by extension (.yml/.yaml), case or Unicode normalisation name the
    same dataset/mapping; only one is read and every other is refused, naming both files.
    """
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(spec_key(n), []).append(n)
    keep, refused = [], []
    for group in groups.values():
        group.sort(key=_preference)
        keep.append(group[0])
        for other in group[1:]:
            refused.append((other, f"names the same {kind} as {folder}{_quote_file(group[0])} (file names that differ "
                                   "only by .yml/.yaml, case or Unicode normalisation name one spec); keep one file"))
    return sorted(keep), refused


def _quote_file(name: str) -> str:
    """A file name as shown in messages: as is, unless it holds characters that do not show."""
    plain = name.isprintable() and unicodedata.normalize("NFC", name) == name and name.isascii()
    return name if plain else ascii(name)


def _stat(p: Path) -> tuple[os.stat_result | None, str]:
    """stat(p) following links; (None, why) when that fails (missing, loop, permission)."""
    try:
        return os.stat(p), ""
    except FileNotFoundError:
        return None, "missing"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, "is a symlink loop (too many levels of symbolic links)"
        return None, f"cannot be read: {e.strerror or e}"
    except ValueError as e:  # an embedded NUL byte
        return None, f"cannot be read: {e}"


def check_file(p: Path, real_root: str, shown: str) -> Problem | None:
    """Why the spec file ``p`` cannot be read, as a Problem (None if it is a regular file inside
    the root within the size limit). Only stat is used: nothing is opened."""
    st, why = _stat(p)
    if st is None and why == "missing":
        if os.path.islink(p):
            return Problem(shown, 0, "$", "symlink-outside", f"is a link to {os.readlink(p)}, which does not exist")
        return Problem(shown, 0, "$", "missing-file", "required spec file is missing")
    if st is None:
        return Problem(shown, 0, "$", "symlink-loop" if "loop" in why else "unreadable", why)
    real = os.path.realpath(p)
    if os.path.commonpath([real, real_root]) != real_root:
        return Problem(shown, 0, "$", "symlink-outside",
                       f"is a link to {os.readlink(p) if os.path.islink(p) else real}, outside the spec folder")
    if not stat.S_ISREG(st.st_mode):
        kind = describe(st.st_mode)
        return Problem(shown, 0, "$", "not-a-file",
                       "is not a regular file" + ("" if kind == "not a regular file" else f" ({kind})"))
    if st.st_size > MAX_FILE_BYTES:
        return Problem(shown, 0, "$", "file-too-large",
                       f"file is {st.st_size} bytes; specs are limited to {MAX_FILE_BYTES}")
    return None


def read_spec(p: str | os.PathLike[str], shown: str) -> tuple[bytes | None, list[Problem]]:
    """The bytes of one spec file, read as a regular file of at most MAX_FILE_BYTES (+1 to see
    that it is over); (None, [problem]) for anything else, never an exception.

    Opened non-blocking (a FIFO put in its place after the stat does not hang) and checked again
    with fstat on the open descriptor.
    """
    try:
        return read_regular(p, MAX_FILE_BYTES), []
    except FileNotFoundError:
        return None, [Problem(shown, 0, "$", "missing-file", "required spec file is missing")]
    except NotRegularFile as e:
        return None, [Problem(shown, 0, "$", "not-a-file", f"is not a regular file ({e.kind})")]
    except TooLarge as e:
        return None, [Problem(shown, 0, "$", "file-too-large",
                              f"file is {e.size} bytes; specs are limited to {MAX_FILE_BYTES}")]
    except OSError as e:
        rule = "symlink-loop" if e.errno == errno.ELOOP else "unreadable"
        why = "is a symlink loop (too many levels of symbolic links)" if e.errno == errno.ELOOP else \
            f"cannot be read: {e.strerror or e}"
        return None, [Problem(shown, 0, "$", rule, why)]


def _folder(d: Path, shown: str, what: str) -> tuple[list[str] | None, list[Problem]]:
    """The entry names of a spec folder, or (None, [one problem]) when it is not a readable folder."""
    st, why = _stat(d)
    if st is None:
        if why == "missing":
            if os.path.islink(d):
                return None, [Problem(shown, 0, "$", "symlink-outside",
                                      f"is a link to {os.readlink(d)}, which does not exist")]
            return None, [Problem(shown, 0, "$", "missing-file", f"required spec folder is missing ({what})")]
        return None, [Problem(shown, 0, "$", "symlink-loop" if "loop" in why else "unreadable", why)]
    if not stat.S_ISDIR(st.st_mode):
        kind = describe(st.st_mode)
        kind = "a file" if kind in ("a regular file", "not a regular file") else kind
        return None, [Problem(shown, 0, "$", "not-a-folder",
                              f"is {kind}, not a folder; it must be the folder of {what}")]
    try:
        return sorted(os.listdir(d)), []
    except OSError as e:
        return None, [Problem(shown, 0, "$", "unreadable", f"cannot be read: {e.strerror or e}")]


def bad_folders(root: Path) -> set[str]:
    """Which of datasets/ and mappings/ are not usable folders (missing, a file, unreadable, or
    datasets/ without a spec file): the rules that would only repeat that problem per file skip them."""
    out = set()
    for sub in SPEC_FOLDERS:
        names, probs = _folder(Path(root) / sub, "", "")
        if names is None and sub == "mappings" and probs[0].rule == "missing-file":
            continue  # no mappings at all: each dataset that needs one is reported
        real, real_root = os.path.realpath(Path(root) / sub), os.path.realpath(root)
        if (names is None or (sub == "datasets" and not any(is_spec_name(n) for n in names))
                or os.path.commonpath([real, real_root]) != real_root):
            out.add(sub)
    return out


def spec_files(root: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """All spec files under ``root`` (universal.yaml, datasets/*.yaml, mappings/*.yaml), sorted.

    Refuses, each with one Problem and never an exception: a root that is not a folder; a
    datasets/ or mappings/ that is not one (once, not once per file that would then be missing);
    two files for one spec (by extension, case or Unicode normalisation); files whose real path
    leaves ``root``, symlink loops, special files (FIFOs, devices, sockets, folders), unreadable
    and oversized files (from stat alone, before anything is read). Files without a spec
    extension in datasets/ and mappings/ are not read, and warned about ([stray-file]).
    """
    root = Path(root)
    problems: list[Problem] = []
    out: list[tuple[str, Path]] = []
    shown_root = root.as_posix()
    top, probs = _folder(root, shown_root, "universal.yaml, datasets/ and mappings/")
    if top is None:
        p = probs[0]
        if p.rule == "missing-file":
            p = Problem(shown_root, 0, "$", "missing-file",
                        "spec folder does not exist (it holds universal.yaml, datasets/ and mappings/)")
        return [], [p]
    real_root = os.path.realpath(root)
    candidates: list[Path] = [root / "universal.yaml"]
    others = [n for n in top if is_spec_name(n) and spec_key(n) == "universal" and n != "universal.yaml"]
    for n in others:  # universal.yaml is read by that name only
        if "universal.yaml" in top:
            problems.append(Problem((root / n).as_posix(), 0, "$", "duplicate-file",
                                    "names the same universal taxonomy as universal.yaml (file names that differ only "
                                    "by .yml/.yaml, case or Unicode normalisation name one spec); keep one file"))
        else:
            problems.append(Problem((root / n).as_posix(), 0, "$", "file-name",
                                    "is not read: the universal taxonomy must be named universal.yaml exactly"))
    for sub, kind in SPEC_FOLDERS.items():
        d = root / sub
        what = "dataset specs (<dataset>.yaml)" if sub == "datasets" else "mapping specs (<source>_to_<target>.yaml)"
        names, probs = _folder(d, d.as_posix(), what)
        if names is None:
            if not (sub == "mappings" and probs[0].rule == "missing-file"):
                problems += probs
            continue
        real = os.path.realpath(d)
        if os.path.commonpath([real, real_root]) != real_root:  # once for the folder, not per file
            problems.append(Problem(d.as_posix(), 0, "$", "symlink-outside",
                                    f"is a link to {os.readlink(d) if os.path.islink(d) else real}, "
                                    "outside the spec folder"))
            continue
        specs = [n for n in names if is_spec_name(n)]
        stray = [n for n in names if not is_spec_name(n)]
        if stray:  # one warning per folder, on the folder (each file named), not one per file
            listed = ", ".join(_quote_file(n) for n in stray[:10])
            listed += f" and {len(stray) - 10} more" if len(stray) > 10 else ""
            problems.append(Problem(d.as_posix(), 0, "$", "stray-file",
                                    f"{len(stray)} file(s) without a .yaml/.yml extension are not read: {listed}",
                                    "warning"))
        if sub == "datasets" and not specs:
            problems.append(Problem(d.as_posix(), 0, "$", "missing-file", "holds no dataset spec (<dataset>.yaml)"))
            continue
        keep, refused = duplicate_files(specs, f"{sub}/", kind)
        for n, msg in refused:
            problems.append(Problem((d / n).as_posix(), 0, "$", "duplicate-file", msg))
        candidates += [d / n for n in keep]
    for c in candidates:
        rel = c.relative_to(root).as_posix()
        prob = check_file(c, real_root, c.as_posix())
        if prob is not None:
            problems.append(prob)
            continue
        out.append((rel, c))
    return out, problems


def load_specs(root: Path) -> tuple[list[Document], list[Problem]]:
    """Read and parse every spec file under ``root``; returns documents and all problems."""
    files, problems = spec_files(root)
    docs: list[Document] = []
    for rel, p in files:
        raw, probs = read_spec(p, p.as_posix())
        problems += probs
        if raw is None:
            continue
        doc, probs = parse_yaml(raw, p.as_posix(), rel)
        problems += probs
        if doc is not None:
            docs.append(doc)
    return docs, problems
