"""Split lists ``unitax prepare`` builds where MSeg's do not serve: ``--lists derive``, COCO-Panoptic's train lists.

A list is (space, split) -> MSeg-style lines ``<image path> <label path>`` (:data:`Lists`); the
paths written are checked as MSeg's are (:func:`.lists.list_path`), so a name no line can hold is
refused, never written.
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ....fileops.datapath import DataPathError, bad_char
from .errors import NativeFormatError, PrepareError
from .plans import Family

Lists = dict[tuple[str, str], list[str]]   # (space, split) -> the lines of MSeg's list


def coco_train_lists(lists: Lists, base: Path, spaces: list[str]) -> list[str]:
    """COCO-Panoptic's train lists, which the MSeg reference lacks: derived from panoptic_train2017.json
    in its annotation order, with the val lists' folder names."""
    jp = base / "annotations" / "panoptic_train2017.json"
    if not jp.is_file():
        return []
    from .readers.coco_panoptic import load_annotations
    try:
        names = sorted(load_annotations(jp))
    except NativeFormatError as e:
        raise PrepareError(str(e)) from None
    done = []
    for space in spaces:
        if (space, "train") in lists or (space, "val") not in lists:
            continue
        first = lists[(space, "val")][0].split(" ")
        img_dir = str(PurePosixPath(first[0]).parent).replace("val2017", "train2017")
        lab_dir = str(PurePosixPath(first[1]).parent).replace("val2017", "train2017")
        lists[(space, "train")] = [f"{img_dir}/{n[:-4]}.jpg {lab_dir}/{n}" for n in names]
        done.append(space)
    return done


def derive_lists(fam: Family, base: Path) -> tuple[dict[tuple[str, str], list[str]], list[str]]:
    """``--lists derive``: (space, split) -> lines built from the native files under ``base``, and notes.

    Per split of ``fam.derive``: every native label file its glob finds whose image exists, sorted by
    path, written as MSeg's lists write that family's paths. Labels without an image (and images
    without a label, where the row gives an image glob) are counted in the notes, never dropped silently.
    """
    if not fam.derive:
        raise PrepareError(f"{fam.name}: its plan has no rule to derive split lists; use --lists mseg")
    from .lists import list_path

    lists: dict[tuple[str, str], list[str]] = {}
    notes: list[str] = []
    counts = []
    unwritable: list[str] = []   # file names a list line cannot hold: "NAME: why"
    for split, (label_glob, image_glob) in sorted(fam.derive.items()):
        lines, lonely, odd, images = [], [], [], set()
        for f in sorted(p.relative_to(base).as_posix() for p in base.glob(label_glob) if p.is_file()):
            try:
                list_path(f, "file")
            except DataPathError as e:
                unwritable.append(str(e))
                continue
            label, n1 = re.subn(fam.derive_label[0], fam.derive_label[1], f, count=1)
            image, n2 = re.subn(fam.derive_image[0], fam.derive_image[1], label, count=1)
            if not (n1 and n2) or image == label:      # a name the rule does not know: no image path for it
                odd.append(f)
                continue
            images.add(image)
            if not (base / image).is_file():
                lonely.append(f)
                continue
            try:
                list_path(image, "image path")
                list_path(label, "label path")
            except DataPathError as e:
                unwritable.append(str(e))
                continue
            lines.append((image, label))
        for space in [*fam.all_spaces, *fam.copies]:
            pat, rep = fam.derive_paths.get(space, (r"^", ""))
            lists[(space, split)] = [f"{i} {re.sub(pat, rep, lab, count=1)}" for i, lab in lines]
        counts.append(f"{split} {len(lines)}")
        if odd:
            notes.append(f"{split}: {len(odd)} file(s) named unlike {fam.name}'s labels, left out "
                         f"(first: {_shown(odd[0])})")
        if lonely:
            notes.append(f"{split}: {len(lonely)} label file(s) without an image, left out (first: {lonely[0]})")
        if image_glob:
            unlabelled = sorted(q for q in (p.relative_to(base).as_posix() for p in base.glob(image_glob))
                                if q not in images)
            if unlabelled:
                notes.append(f"{split}: {len(unlabelled)} image(s) without a label file, left out "
                             f"(first: {_shown(unlabelled[0])})")
    if unwritable:
        raise PrepareError(f"--lists derive: {len(unwritable)} file name(s) under {base} cannot be written in a split "
                           f"list (one line '<image> <label>' per sample); rename them (first: {unwritable[0]})")
    notes.insert(0, f"split lists derived from the files in {base}: {', '.join(counts)} samples")
    return lists, notes


def _shown(name: str) -> str:
    """A file name as a message may print it: as is, or escaped when it holds a control character or
    bytes that are not UTF-8."""
    return ascii(name) if bad_char(name) else name
