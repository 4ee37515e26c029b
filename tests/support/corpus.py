"""Spec copies for the corpus of broken specs (tests/specs/invalid/) and the tests that build one.

:func:`make_specs` copies BASE (a closed subset of the real specs) and applies a case's edits
(the format is in tests/specs/invalid/README.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .paths import SPECS

# A closed subset of the real specs that validates on its own: a test dataset with a source
# remapped into it, and two train datasets, one remapped into the other. Each case adds files
# it needs (`files:`). Checking it takes ~0.1 s where the whole taxonomy takes ~0.7 s.
BASE = (
    "universal.yaml",
    "datasets/camvid-11.yaml",
    "datasets/camvid-32.yaml",
    "datasets/cityscapes-19.yaml",
    "datasets/cityscapes-34.yaml",
    "mappings/universal_to_camvid-11.yaml",
    "mappings/camvid-32_to_camvid-11.yaml",
    "mappings/cityscapes-19_to_universal.yaml",
    "mappings/cityscapes-34_to_universal.yaml",
    "mappings/cityscapes-34_to_cityscapes-19.yaml",
)

EDIT_KEYS = {"file", "replace", "with", "count", "each", "lines", "encoding", "write", "append", "times", "copy",
             "delete", "symlink", "mkdir"}


def make_specs(tmp: Path, case: dict) -> Path:
    """A copy of BASE (plus the case's extra real files) under ``tmp/taxonomy``, with the edits applied."""
    specs = tmp / "taxonomy"
    for rel in BASE + tuple(case.get("files", ())):
        (specs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SPECS / rel, specs / rel)
    (specs / "datasets").mkdir(exist_ok=True)
    (specs / "mappings").mkdir(exist_ok=True)
    for e in case["edits"]:
        apply_edit(specs, e)
    return specs


def apply_edit(specs: Path, e: dict) -> None:
    """Apply one edit (see tests/specs/invalid/README.md) to the spec copy under ``specs``."""
    p = specs / e["file"]
    # `each: [first, last]` with `lines`: that template once per i (`$i` replaced), after `with`/`append`.
    each = range(e["each"][0], e["each"][1] + 1) if "each" in e else range(0)
    more = "".join(e["lines"].replace("$i", str(i)) for i in each)
    encoding = e.get("encoding", "utf-8")
    if "replace" in e:
        text = p.read_text("utf-8")
        n = text.count(e["replace"])
        assert n == e.get("count", 1), (f"{e['replace']!r} occurs {n} times in {e['file']}, the case expects "
                                        f"{e.get('count', 1)}: did the real specs change?")
        p.write_bytes(text.replace(e["replace"], e["with"] + more).encode(encoding))
    elif "write" in e:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(e["write"].encode(encoding))
    elif "append" in e:
        with open(p, "ab") as f:
            f.write((e["append"] + more).encode(encoding) * e.get("times", 1))
    elif "copy" in e:
        shutil.copyfile(specs / e["copy"], p)
    elif "delete" in e:
        p.unlink()
    elif "symlink" in e:
        p.unlink(missing_ok=True)
        p.symlink_to(e["symlink"])
    elif "mkdir" in e:
        p.unlink(missing_ok=True)
        p.mkdir()
    else:
        raise AssertionError(f"edit does nothing: {e}")
