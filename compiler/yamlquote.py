"""YAML scalars for spec files the tools and the compiler write (specs, relabel records)."""

from __future__ import annotations

import re

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.()/'\-]*( [A-Za-z0-9_.()/'\-]+)*$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


# What YAML cannot carry raw in a double-quoted scalar: characters outside its printable set
# (C0/C1 controls, DEL, U+FFFE/FFFF) and the line breaks it would fold into a space (NEL, LS, PS).
_YAML_ESCAPE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029\ufeff]")


def q(s: str) -> str:
    """A YAML scalar for ``s``: plain where unambiguous, else a JSON (YAML double-quoted) string."""
    if _PLAIN.fullmatch(s) and s.lower() not in _YAML11_WORDS:  # fullmatch: `$` would also match before a final \n
        return s
    import json

    return _YAML_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) < 0x10000 else
                            f"\\U{ord(m.group()):08x}", json.dumps(s, ensure_ascii=False))
