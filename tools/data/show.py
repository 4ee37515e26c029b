"""Pictures of labels for people: `unitax show` (a label drawn in its colours, with a legend) and
``confusion_picture`` (a row-normalised confusion matrix). Pillow only, with its default font.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import unitax
from unitax import pictures

from ...fileops.atomic import write_atomic
from ..errors import CommandError, known_space
from .labelio import LabelFileError, read_label, read_photo

WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (110, 110, 110)


def font(size: int) -> Any:
    """Pillow's default font at ``size`` pixels (the scalable one where Pillow has FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def _text_w(draw: ImageDraw.ImageDraw, text: str, f: Any) -> int:
    x0, _, x1, _ = draw.textbbox((0, 0), text, font=f)
    return int(math.ceil(x1 - x0))


# ----- legend -------------------------------------------------------------------------------


def legend(entries: Sequence[tuple[str, tuple[int, int, int]]], title: str, height: int, *,
           size: int = 14, max_cols: int = 4) -> Image.Image:
    """A white panel listing ``entries`` (text, colour) as swatch + text, in columns fitting ``height``."""
    f, ft = font(size), font(size + 2)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad, row_h, sw = 10, size + 8, size + 2
    title_h = size + 14
    n = max(len(entries), 1)
    rows = max(1, (height - 2 * pad - title_h) // row_h)
    if math.ceil(n / rows) > max_cols:
        rows = math.ceil(n / max_cols)
    cols = math.ceil(n / rows)
    col_w = sw + 8 + max([_text_w(probe, t, f) for t, _ in entries] or [0]) + 2 * pad
    width = max(pad + cols * col_w, _text_w(probe, title, ft) + 2 * pad)
    panel = Image.new("RGB", (width, 2 * pad + title_h + rows * row_h), WHITE)
    draw = ImageDraw.Draw(panel)
    draw.text((pad, pad), title, fill=BLACK, font=ft)
    for k, (text, color) in enumerate(entries):
        c, r = divmod(k, rows)
        x, y = pad + c * col_w, pad + title_h + r * row_h
        draw.rectangle([x, y, x + sw, y + sw], fill=tuple(int(v) for v in color), outline=GREY)
        draw.text((x + sw + 8, y + sw // 2 + 1), text, fill=BLACK, font=f, anchor="lm")
    return panel


def show_picture(tax: unitax.Taxonomy, label: np.ndarray, space: str, image: np.ndarray | None = None, *,
                 alpha: float = 0.5, min_side: int = 256) -> Image.Image:
    """The colourised label (or its overlay on ``image``) beside a legend of the classes present."""
    if label.ndim != 2:
        raise unitax.LabelError(f"a label image is H x W, got shape {label.shape}")
    pic = tax.colorize(label, space) if image is None else tax.overlay(image, label, space, alpha=alpha)
    img = Image.fromarray(pic, "RGB")
    h, w = label.shape
    if max(h, w) < min_side:  # blow tiny labels up (nearest) so the picture is not a speck beside its legend
        k = math.ceil(min_side / max(h, w))
        img = img.resize((w * k, h * k), Image.Resampling.NEAREST)
    names, colors = tax.names(space), pictures.palette(tax, space)
    ids, counts = np.unique(label, return_counts=True)
    ignore = tax.ignore_index(space)
    total = label.size
    entries = [(f"{int(i)} {names[int(i)]}  {100 * c / total:.1f}%", tuple(colors[int(i)]))
               for i, c in zip(ids, counts, strict=True) if int(i) != ignore]
    if ignore in ids:
        share = 100 * int(counts[ids == ignore][0]) / total
        entries.append((f"{ignore} ignore  {share:.1f}%", (0, 0, 0) if image is None else (255, 255, 255)))
    title = f"{space}: {len(entries) - (ignore in ids)} classes present"
    panel = legend(entries, title, img.height)
    out = Image.new("RGB", (img.width + panel.width, max(img.height, panel.height)), WHITE)
    out.paste(img, (0, 0))
    out.paste(panel, (img.width, 0))
    return out


def confusion_picture(conf: np.ndarray, names: Sequence[str], path: str | Path, *, title: str | None = None,
                      classes: str = "present") -> Path:
    """Draw the confusion matrix ``conf`` (rows: ground truth, columns: prediction) as a PNG at ``path``.

    Each row is normalised to sum 1 (the share of a ground-truth class's pixels predicted as each
    class); the diagonal is blue, confusions red, rows without ground truth grey. Class names
    label both axes. ``classes="present"`` (default) keeps only classes with pixels in the ground
    truth or the prediction, so a 194-class matrix of one dataset stays readable; ``"all"``
    keeps every class. Cells are scaled to the class count; shares are written in the cells
    (percent) when they are large enough.
    """
    conf = np.asarray(conf)
    if conf.ndim != 2 or conf.shape[0] != conf.shape[1] or conf.shape[0] != len(names):
        raise ValueError(f"conf must be square with one row per class ({len(names)}), got shape {conf.shape}")
    if classes not in ("present", "all"):
        raise ValueError(f"classes must be 'present' or 'all', got {classes!r}")
    if not np.issubdtype(conf.dtype, np.number) or (conf.size and conf.min() < 0):
        raise ValueError("conf must hold non-negative counts")
    keep = (np.flatnonzero((conf.sum(0) > 0) | (conf.sum(1) > 0)) if classes == "present"
            else np.arange(len(names)))
    if keep.size == 0:
        raise ValueError("the confusion matrix is empty (no pixel counted)")
    sub = conf[np.ix_(keep, keep)].astype(np.float64)
    rows = sub.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows > 0, sub / np.where(rows > 0, rows, 1), np.nan)
    k = keep.size
    cell = int(max(12, min(36, 1600 // k)))
    size = int(max(10, min(14, cell - 4)))
    f, fsmall, ft = font(size), font(max(9, min(13, int(cell * 0.38)))), font(size + 4)
    labels = [f"{names[int(i)]} ({i})" for i in keep]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lab_w = max(_text_w(probe, t, f) for t in labels) + 12
    pad, title_h = 12, size * 2 + 38
    mx, my = pad + size + 12 + lab_w, pad + title_h + lab_w  # matrix origin
    width, height = mx + k * cell + pad, my + k * cell + pad
    img = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(img)
    head = title or "confusion matrix"
    draw.text((pad, pad), f"{head}: {k} classes", fill=BLACK, font=ft)
    draw.text((pad, pad + size + 10), "rows: ground truth, normalised to 100%; columns: prediction",
              fill=GREY, font=f)
    # cells
    for r in range(k):
        for c in range(k):
            v = share[r, c]
            x, y = mx + c * cell, my + r * cell
            color: tuple[int, ...]
            if np.isnan(v):
                color = (225, 225, 225)
            elif r == c:
                color = tuple(int(round(255 - v * (255 - t))) for t in (8, 69, 148))
            else:
                color = tuple(int(round(255 - min(1.0, v * 1.5) * (255 - t))) for t in (203, 24, 29))
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=color, outline=(235, 235, 235))
            if cell >= 24 and not np.isnan(v) and v >= 0.005:
                draw.text((x + cell / 2, y + cell / 2), f"{100 * v:.0f}", font=fsmall, anchor="mm",
                          fill=WHITE if v > 0.55 else BLACK)
    draw.rectangle([mx - 1, my - 1, mx + k * cell, my + k * cell], outline=GREY)
    # row names (right-aligned against the matrix) and column names (rotated, bottom-aligned)
    for r, t in enumerate(labels):
        draw.text((mx - 6, my + r * cell + cell / 2), t, fill=BLACK, font=f, anchor="rm")
    strip = Image.new("RGB", (lab_w, k * cell), WHITE)  # drawn sideways, then turned
    sd = ImageDraw.Draw(strip)
    for c, t in enumerate(labels):
        sd.text((6, c * cell + cell / 2), t, fill=BLACK, font=f, anchor="lm")
    img.paste(strip.rotate(90, expand=True), (mx, my - lab_w))
    axis = Image.new("RGB", (k * cell, size + 6), WHITE)  # "ground truth" along the rows, turned
    ImageDraw.Draw(axis).text((k * cell / 2, (size + 6) / 2), "ground truth", fill=GREY, font=f, anchor="mm")
    img.paste(axis.rotate(90, expand=True), (pad, my))
    draw.text((mx + k * cell / 2, pad + title_h - 4), "prediction", fill=GREY, font=f, anchor="md")
    out = Path(path)
    write_atomic(out, partial(img.save, format="PNG"))
    return out


def draw_file(label_png: Path, space: str, output: Path, *, image_path: Path | None = None, alpha: float = 0.5,
              compiled: Path | str | None = None, force: bool = False) -> tuple[int, int]:
    """`unitax show`: draw ``label_png`` (in ``space``'s colours, over ``image_path`` if given) to
    ``output``, atomically; returns the picture's (width, height). A bad input is a CommandError."""
    for other in (label_png, image_path):
        if other is not None and output.resolve() == other.resolve():
            raise CommandError(f"{output}: is an input; choose another -o")
    if output.exists() and not force:
        raise CommandError(f"{output}: exists; pass --force to replace it")
    tax = unitax.load(compiled)
    known_space(tax, space)
    try:
        label = read_label(label_png)  # the one label-image reader: ids only, lossless formats only
    except LabelFileError as e:
        raise CommandError(str(e)) from None
    image = None
    if image_path is not None:
        try:
            image = read_photo(image_path)   # labelio: every image read is bounded (decompression bombs)
        except LabelFileError as e:
            raise CommandError(str(e)) from None
    try:
        pic = show_picture(tax, label, space, image, alpha=alpha)
    except unitax.UnitaxError as e:
        raise CommandError(f"{label_png}: {e}") from None
    except ValueError as e:
        raise CommandError(f"{image_path}: {e}") from None
    write_atomic(output, partial(pic.save, format="PNG"))  # a failed write leaves the old picture
    write_atomic(output, partial(pic.save, format="PNG"))  # a failed write leaves the old picture
    return pic.width, pic.height
