"""Write opencv_nearest.tsv: OpenCV's INTER_NEAREST source indices for a set of size pairs.

Run with OpenCV installed (not a unitax dependency; a scratch venv outside the repository):

    python -m venv /tmp/cvvenv && /tmp/cvvenv/bin/pip install numpy opencv-python-headless
    /tmp/cvvenv/bin/python tests/goldens/nearest/make_table.py > tests/goldens/nearest/opencv_nearest.tsv

Each line is ``src<TAB>dst<TAB>exceptions``: OpenCV resizes an axis of ``src`` pixels to ``dst``
pixels with ``cv2.resize(..., interpolation=cv2.INTER_NEAREST)``; output pixel i takes source
pixel ``i * src // dst`` (the exact rule) except at the ``i:index`` pairs listed (comma
separated; ``-`` when none), where OpenCV's floating-point index differs. The indices are read
back from OpenCV's output (each source pixel holds its own index), along columns and along rows,
and must agree. The pairs: every src, dst in 1..160 where the two rules disagree (the ties), a
fixed sample of those where they agree, and sizes of the ADE20K full release and its challenge
copy (both directions).
"""
from __future__ import annotations

import random
import sys

import cv2
import numpy as np


def opencv_indices(src: int, dst: int) -> np.ndarray:
    line = np.arange(src, dtype=np.uint16)
    cols = cv2.resize(line.reshape(1, src), (dst, 1), interpolation=cv2.INTER_NEAREST)[0]
    rows = cv2.resize(line.reshape(src, 1), (1, dst), interpolation=cv2.INTER_NEAREST)[:, 0]
    assert np.array_equal(cols, rows), (src, dst)
    return cols.astype(np.int64)


def main() -> None:
    pairs: set[tuple[int, int]] = set()
    agree: list[tuple[int, int]] = []
    for src in range(1, 161):
        for dst in range(1, 161):
            exact = np.arange(dst, dtype=np.int64) * src // dst
            if np.array_equal(opencv_indices(src, dst), exact):
                agree.append((src, dst))
            else:
                pairs.add((src, dst))
    pairs.update(random.Random(0).sample(agree, 200))
    full = [256, 384, 480, 512, 600, 640, 683, 768, 960, 1024, 1280, 1536, 2048, 2304, 2448, 3264]
    chal = [256, 341, 384, 427, 512, 640, 683, 768, 910, 1024]
    pairs.update((a, b) for a in full for b in chal)
    pairs.update((b, a) for a in full for b in chal)
    out = sys.stdout
    out.write(f"# OpenCV {cv2.__version__} INTER_NEAREST source indices (tests/goldens/nearest/make_table.py)\n")
    for src, dst in sorted(pairs):
        got = opencv_indices(src, dst)
        exact = np.arange(dst, dtype=np.int64) * src // dst
        diff = np.flatnonzero(got != exact)
        out.write(f"{src}\t{dst}\t{','.join(f'{i}:{got[i]}' for i in diff) or '-'}\n")


if __name__ == "__main__":
    main()
