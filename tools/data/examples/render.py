"""``unitax examples``, phase 3: draw the picks (a batch :class:`~..batch.Step`), one task per page section.

Pictures (JPEG, fixed encoder settings: quality, no optimisation pass, baseline, 4:2:0, no
metadata; the bytes then depend only on the pixels and on the JPEG library Pillow bundles):

- a class pick: a crop around the class's pixels, the class tinted and outlined in its universal
  colour, the rest dimmed; ``full``: the whole image with its label overlay beside it;
- a relabel pair: the crop of the moved segment twice, left in the universal colours before the
  relabeling, right after it, the segment outlined in white, the rest dimmed;
- a dataset overlay: the whole image with its label in the dataset's colours, half transparent.

A sample without its image (``unitax prepare --images none``) is drawn on its label's colours.
Each task writes its pictures, then its part file (``parts/<task>.json``: each picture's bytes),
all atomically; the ledger trusts a part only while it and its sources are unchanged.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..batch import Outcome, same_file
from .scan import write_file

#: the thumbnail's longer side, a dataset overlay's and a full overlay's (pixels)
THUMB = 160
OVERLAY = 320
FULL = 480
QUALITY = 80


@dataclass(frozen=True)
class Item:
    """One picture of a task: what to read, what to draw, where to write it."""

    kind: str                  # class | relabel | union | dataset
    file: str                  # relative to the examples folder
    label: str                 # absolute; for relabel: the label before
    image: str | None          # absolute, None when the tree has no image
    space: str
    cid: int
    box: tuple[int, int, int, int]
    label2: str | None = None  # relabel: the label after (of space2)
    space2: str = ""
    cid2: int = -1
    full: bool = False         # also the whole image with its overlay (<file>-full.jpg)


@dataclass(frozen=True)
class RenderTask:
    rel: str
    items: tuple[Item, ...]
    part: str                  # absolute path of the part file
    dst: str                   # the examples folder


@dataclass(frozen=True)
class RenderJob:
    """The colours and tables every worker needs; the encoder settings."""

    ucolors: np.ndarray                    # (n universal, 3) uint8
    colors: dict[str, np.ndarray]          # space -> (n, 3) uint8 dataset colours
    luts: dict[str, np.ndarray]            # space -> table to universal
    uignore: int
    thumb: int = THUMB
    quality: int = QUALITY

    def __call__(self, t: RenderTask) -> Outcome:
        from ..labelio import LabelFileError

        files: dict[str, int] = {}
        sources: dict[str, dict[str, Any]] = {}
        errors: list[list[str]] = []
        for it in t.items:
            try:
                out = self.draw(it, sources)
            except LabelFileError as e:
                errors.append([it.file, str(e)])
                continue
            for rel, data in out.items():
                write_file(os.path.join(t.dst, rel), data)
                files[rel] = len(data)
        part = json.dumps({"files": files, "errors": errors}, sort_keys=True, separators=(",", ":")) + "\n"
        write_file(t.part, part)
        st = os.stat(t.part)
        ident = {"part": {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                          "sha256": hashlib.sha256(part.encode()).hexdigest()},
                 "items": items_hash(t.items), "sources": [sources[k] for k in sorted(sources)]}
        return Outcome(t.rel, True, ident=ident)

    # ----- drawing

    def draw(self, it: Item, sources: dict[str, dict[str, Any]]) -> dict[str, bytes]:
        from ..labelio import read_label

        lab = read_label(it.label)
        _note(sources, it.label)
        photo = None
        if it.image is not None and os.path.exists(it.image):
            photo = _photo(it.image, lab.shape)
            _note(sources, it.image)
        if it.kind == "dataset":
            return {it.file: self.jpeg(_fit(self.overlay(lab, photo, it.space), OVERLAY))}
        if it.kind == "relabel":
            assert it.label2 is not None
            after = read_label(it.label2)
            _note(sources, it.label2)
            return {it.file: self.jpeg(self.pair(lab, after, photo, it))}
        base = photo if photo is not None else self.paint(lab, it.space) // 2 + 64
        mask = lab == it.cid
        color = (self.ucolors[int(self.luts[it.space][it.cid])] if it.kind == "class"
                 else self.colors[it.space][it.cid])
        x0, y0, x1, y1 = crop_box(it.box, lab.shape)
        out = {it.file: self.jpeg(_highlight(_fit(base[y0:y1, x0:x1], self.thumb),
                                             _fit_mask(mask[y0:y1, x0:x1], self.thumb), color))}
        if it.full:
            out[full_name(it.file)] = self.jpeg(_fit(self.overlay(lab, photo, it.space), FULL))
        return out

    def paint(self, lab: np.ndarray, space: str) -> np.ndarray:
        """The label in the dataset's colours (ignored pixels grey)."""
        cols = np.vstack([self.colors[space], np.full((1, 3), 128, np.uint8)])
        idx = np.minimum(lab.astype(np.int64), len(cols) - 1)
        return cols[idx]

    def overlay(self, lab: np.ndarray, photo: np.ndarray | None, space: str) -> np.ndarray:
        painted = self.paint(lab, space)
        if photo is None:
            return painted
        mix: np.ndarray = ((photo.astype(np.uint16) + painted) // 2).astype(np.uint8)
        keep = lab >= len(self.colors[space])
        mix[keep] = photo[keep]
        return mix

    def pair(self, before: np.ndarray, after: np.ndarray, photo: np.ndarray | None, it: Item) -> np.ndarray:
        """Before | after: the crop of the moved segment in universal colours, the segment outlined."""
        x0, y0, x1, y1 = crop_box(it.box, before.shape)
        moved = (before == it.cid) & (after == it.cid2)
        sides = []
        for lab, space in ((before, it.space), (after, it.space2)):
            u = np.asarray(self.luts[space])[lab[y0:y1, x0:x1]]
            cols = np.vstack([self.ucolors, np.full((max(0, 256 - len(self.ucolors)), 3), 128, np.uint8)])
            painted = cols[np.minimum(u.astype(np.int64), len(cols) - 1)]
            if photo is not None:
                p = photo[y0:y1, x0:x1]
                painted = ((p.astype(np.uint16) + painted) // 2).astype(np.uint8)
                ign = u == self.uignore
                painted[ign] = p[ign]
            sides.append(_highlight(_fit(painted, self.thumb), _fit_mask(moved[y0:y1, x0:x1], self.thumb),
                                    np.array([255, 255, 255], np.uint8), tint=False))
        gap = np.full((sides[0].shape[0], 4, 3), 255, np.uint8)
        return np.hstack([sides[0], gap, sides[1]])

    def jpeg(self, rgb: np.ndarray) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, "JPEG", quality=self.quality, optimize=False,
                                                               progressive=False, subsampling=2)
        return buf.getvalue()


def full_name(file: str) -> str:
    return file[: -len(".jpg")] + "-full.jpg"


def items_hash(items: tuple[Item, ...]) -> str:
    return hashlib.sha256(repr(items).encode()).hexdigest()


def render_done(t: RenderTask, entry: dict[str, Any] | None) -> bool:
    """The ledger says this job drew ``t``'s very items from these very files, and its part is unchanged."""
    if not entry or entry.get("items") != items_hash(t.items):
        return False
    part = entry.get("part")
    if not isinstance(part, dict) or not same_file(t.part, part):
        return False
    srcs = entry.get("sources")
    return isinstance(srcs, list) and all(isinstance(s, dict) and isinstance(s.get("path"), str)
                                          and same_file(s["path"], s, content=False) for s in srcs)


def _note(sources: dict[str, dict[str, Any]], path: str) -> None:
    if path not in sources:
        st = os.stat(path)
        sources[path] = {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _photo(path: str, shape: tuple[int, ...]) -> np.ndarray:
    from PIL import Image

    from ..labelio import read_photo

    arr = read_photo(path)
    if arr.shape[:2] != shape[:2]:
        arr = np.asarray(Image.fromarray(arr).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    return arr


def crop_box(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A square-ish crop around ``box`` with a margin of a third of its side, shifted to lie in the image."""
    h, w = shape[0], shape[1]
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    side = side + 2 * (side // 3) + 8
    cw, ch = min(side, w), min(side, h)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    left = min(max(0, cx - cw // 2), w - cw)
    top = min(max(0, cy - ch // 2), h - ch)
    return left, top, left + cw, top + ch


def _size(h: int, w: int, limit: int) -> tuple[int, int]:
    scale = min(limit / max(h, w), 4.0)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _fit(rgb: np.ndarray, limit: int) -> np.ndarray:
    from PIL import Image

    size = _size(rgb.shape[0], rgb.shape[1], limit)
    if size == (rgb.shape[1], rgb.shape[0]):
        return rgb
    method = Image.Resampling.BILINEAR if size[0] < rgb.shape[1] else Image.Resampling.NEAREST
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(size, method))


def _fit_mask(mask: np.ndarray, limit: int) -> np.ndarray:
    from PIL import Image

    size = _size(mask.shape[0], mask.shape[1], limit)
    m = Image.fromarray(np.ascontiguousarray(mask.astype(np.uint8) * 255))
    return np.asarray(m.resize(size, Image.Resampling.NEAREST)) > 127


def _highlight(rgb: np.ndarray, mask: np.ndarray, color: np.ndarray, tint: bool = True) -> np.ndarray:
    """The rest dimmed, the mask tinted with ``color`` (unless not ``tint``) and outlined in it (2 px)."""
    out = (rgb.astype(np.uint16) * 2 // 5).astype(np.uint8)
    c = np.asarray(color, np.uint16)
    inside = (rgb.astype(np.uint16) * 7 + c * 3) // 10 if tint else rgb.astype(np.uint16)
    out[mask] = inside[mask].astype(np.uint8)
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    edge = mask & ~inner
    thick = edge.copy()
    thick[1:, :] |= edge[:-1, :]
    thick[:-1, :] |= edge[1:, :]
    thick[:, 1:] |= edge[:, :-1]
    thick[:, :-1] |= edge[:, 1:]
    out[thick] = np.asarray(color, np.uint8)
    return out
