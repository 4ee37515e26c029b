"""Suspicious class names: characters that do not show, and names that only look alike.

A class name is a key of every mapping, a cell of ``master.tsv`` and a word in the docs, so a
name must read as what it is. ``odd_characters`` lists what makes a name unsafe (control and
format characters, zero-width and bidirectional marks, a BOM, separators other than the space,
combining marks that are not composed, Cyrillic/Greek look-alikes inside a Latin name);
``skeleton`` folds case, white space, Unicode compatibility forms and common Latin look-alikes,
so two names with one skeleton are one name to a reader; ``quote`` shows a name in a message with
every odd code point escaped (``'c\\u0430r'``), where ``repr`` would print a look-alike as is.
"""

from __future__ import annotations

import unicodedata

# Cyrillic and Greek letters that look like Latin ones (a small hand table of the common ones;
# see Unicode TR39 confusables for the whole list).
CONFUSABLES: dict[str, str] = {
    # Cyrillic lower case
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y", "\u0445": "x",
    "\u0456": "i", "\u0458": "j", "\u0455": "s", "\u0501": "d", "\u051b": "q", "\u051d": "w", "\u04bb": "h",
    "\u04cf": "l", "\u0491": "r", "\u0432": "b", "\u043a": "k", "\u043c": "m", "\u043d": "h", "\u0442": "t",
    # Cyrillic upper case
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O",
    "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0423": "Y", "\u0406": "I", "\u0408": "J",
    "\u0405": "S", "\u04c0": "I",
    # Greek
    "\u03b1": "a", "\u03bf": "o", "\u03c1": "p", "\u03bd": "v", "\u03b9": "i", "\u03ba": "k", "\u03c5": "u",
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I", "\u039a": "K",
    "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X",
    # Latin letters that pass for others
    "\u0131": "i", "\u0237": "j", "\u0251": "a", "\u0261": "g",
}


def _is_odd(c: str) -> bool:
    """Whether a character is shown escaped in messages."""
    if c == " ":
        return False
    if c in CONFUSABLES or not c.isprintable():  # Cc, Cf (zero-width, bidi, BOM), Zl, Zp, Zs, unassigned
        return True
    if c.isascii():
        return False
    return unicodedata.category(c) in ("Mn", "Me", "Zs") or unicodedata.normalize("NFKC", c) != c


def quote(name: str) -> str:
    """``repr(name)``, but with every odd code point escaped, so a message shows what is there."""
    if not any(_is_odd(c) for c in name):
        return repr(name)
    q = '"' if "'" in name and '"' not in name else "'"
    out = []
    for c in name:
        if c == "\\" or c == q:
            out.append("\\" + c)
        elif c in "\n\r\t":
            out.append(repr(c)[1:-1])
        elif _is_odd(c):
            n = ord(c)
            out.append(f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}")
        else:
            out.append(c)
    return q + "".join(out) + q


def _describe(c: str) -> str:
    name = unicodedata.name(c, "")
    if not name:
        name = {"Cc": "a control character", "Co": "a private-use character", "Cs": "a surrogate"}.get(
            unicodedata.category(c), "an unassigned code point")
    return f"U+{ord(c):04X} {name}"


def odd_characters(name: str) -> str | None:
    """Why ``name`` is unsafe as a class name, or None: the first offending characters, named."""
    hidden = ("Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cs", "Cn")
    bad = [c for c in name if c != " " and (not c.isprintable() or unicodedata.category(c) in hidden)]
    if bad:
        shown = ", ".join(dict.fromkeys(_describe(c) for c in bad[:3]))
        return f"holds characters that do not show ({shown}); a name must read as what it is"
    if unicodedata.normalize("NFC", name) != name:
        return (f"is not in Unicode NFC form (it reads as {quote(unicodedata.normalize('NFC', name))}); "
                "write the composed characters")
    latin = any(c.isascii() and c.isalpha() for c in name)
    looks = [c for c in name if c in CONFUSABLES]
    if latin and looks:
        shown = ", ".join(dict.fromkeys(f"{_describe(c)} (looks like {CONFUSABLES[c]!r})" for c in looks[:3]))
        return f"mixes Latin letters with look-alikes from another script: {shown}"
    return None


def fold(name: str, *, separators: bool = False) -> str:
    """The one loose comparison of names: case folded, white space trimmed and each run of it one space.

    With ``separators``, ``_`` and ``-`` count as white space too (``traffic_sign`` meets
    ``Traffic Sign``): how the analyses match class names across datasets. (MSeg's naive
    taxonomy is not a fold: it is MSeg's own rule, ``str.lower()``, kept in tools/authoring/naive.py.)
    """
    text = name.casefold()
    if separators:
        text = text.replace("_", " ").replace("-", " ")
    return " ".join(text.split())


def skeleton(name: str) -> str:
    """What a name looks like: NFKC, look-alikes to Latin, then :func:`fold`."""
    text = unicodedata.normalize("NFKC", name)
    return fold("".join(CONFUSABLES.get(c, c) for c in text))
