"""`unitax evaluate`: score a folder of predicted label PNGs against a folder of ground truth.

The pairing (by relative path below each folder, every ground-truth file needing its prediction)
and the scoring (the runtime's Evaluator, one image at a time) are here; the command prints.
Every bad input is a CommandError naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import unitax

from ..errors import CommandError


def check_picture_target(path: Path, force: bool) -> None:
    """Refuse ``path`` for the confusion picture: a link, something not a regular file, or an
    existing file without ``force``."""
    if os.path.islink(path) or (path.exists() and (not force or not path.is_file())):
        raise CommandError(f"{path}: exists; pass --force to replace it" if path.is_file()
                           and not os.path.islink(path) else f"{path}: is not a regular file")


def pairs(pred_dir: Path, gt_dir: Path) -> list[Path]:
    """The ground-truth PNGs below ``gt_dir`` (relative paths), each with its prediction in ``pred_dir``."""
    from .batch import walk

    walked = walk(gt_dir, "*.png")  # symlinked folders followed once each
    found, problems = walked.files, walked.problems
    if problems:
        raise CommandError("; ".join(f"{gt_dir / o.rel}: {o.reason}" for o in problems[:5])
                           + (f" ... ({len(problems)} in all)" if len(problems) > 5 else ""))
    gts = [Path(r) for r in found]
    if not gts:
        raise CommandError(f"{gt_dir}: no .png files")
    lacking = [rel.as_posix() for rel in gts if not (pred_dir / rel).is_file()]
    if lacking:
        raise CommandError(f"{len(lacking)} ground-truth file(s) have no prediction in {pred_dir}: "
                           + ", ".join(lacking[:10]) + (" ..." if len(lacking) > 10 else ""))
    return gts


def evaluate_dirs(compiled: Path | str | None, pred_dir: Path, gt_dir: Path, dataset: str, pred_space: str,
                  convention: str) -> tuple[Any, int]:
    """(the runtime's evaluation result, the number of images) for the two folders."""
    ev = unitax.load(compiled).evaluator(dataset, convention=convention)
    gts = pairs(pred_dir, gt_dir)
    from .labelio import read_label

    for rel in gts:
        try:
            ev.update(read_label(pred_dir / rel), read_label(gt_dir / rel), pred_space=pred_space)
        except unitax.UnitaxError as e:
            raise CommandError(f"{pred_dir / rel} vs {gt_dir / rel}: {e}") from None
    return ev.result(), len(gts)
