"""Hostile inputs about colours two classes share (MSeg's ade20k-150 gives `awning` and `curtain`
the same colour (140, 140, 140)): an RGB label in that colour is ambiguous, not unknown, and RGB
output that would write both classes is refused. These cases pin that MSeg fact and skip when the
bundled taxonomy no longer has such a pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from support.hostile import Case

ADE = "ade20k-150"


def _pair() -> tuple[int, int] | None:
    import unitax

    tax = unitax.load()
    cols = tax.colors(ADE)
    names = tax.names(ADE)
    if cols is None or "awning" not in names or "curtain" not in names:
        return None
    a, c = names.index("awning"), names.index("curtain")
    return (a, c) if tuple(cols[a]) == tuple(cols[c]) else None


def _no_pair() -> str | None:
    return None if _pair() else ("the compiled ade20k-150 no longer has awning and curtain sharing one colour "
                                 "(MSeg fact)")


def _rgb_label(t: Path, ambiguous: bool) -> None:
    import unitax

    tax = unitax.load()
    cols = tax.colors(ADE)
    arr = np.zeros((4, 6, 3), np.uint8)
    arr[:] = cols[2]  # sky
    if ambiguous:
        arr[1, 2] = cols[_pair()[0]]
    (t / "src").mkdir()
    Image.fromarray(arr, "RGB").save(t / "src" / "scene.png")


def _argv(*extra: str):
    return lambda t: ["remap-dir", str(t / "src"), str(t / "dst"), "-j", "1", "--no-progress", *extra]


CASES = [
    Case("colours/rgb-label-in-a-shared-colour", "colour-clash", lambda t: _rgb_label(t, True),
         _argv("--from", ADE, "--to", "universal"), exit_code=1, outputs=("dst",), skip_if=_no_pair,
         expect=("scene.png", "colour #8c8c8c is ambiguous in ade20k-150", "'awning' and 'curtain' share it")),
    Case("colours/rgb-label-without-the-shared-colour-is-fine", "colour-clash", lambda t: _rgb_label(t, False),
         _argv("--from", ADE, "--to", "universal"), exit_code=0, outputs=("dst",), skip_if=_no_pair,
         expect=("1 written",)),
    Case("colours/rgb-output-writing-both-classes", "colour-clash",
         lambda t: (t / "src").mkdir(), _argv("--from", "ade20k-151", "--to", ADE, "--output", "rgb"),
         exit_code=2, skip_if=_no_pair,
         expect=("--output rgb: ade20k-150 classes 'awning' and 'curtain' share colour #8c8c8c",)),
]
