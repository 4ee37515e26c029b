"""Native annotation readers, one module per downloaded format.

Every reader is a pure function on decoded arrays (``decode_*``) plus a thin file wrapper
(``read_*``) that reads label images through the project's one label-image reader,
:mod:`unitax.tools.data.labelio` (scipy for ``.mat``, json for polygons). A ``read_*`` given ``data``
(the file's bytes, already read and hashed by the caller) decodes those and opens nothing.
A file that is no usable label image (lossy, mislabelled, wrong mode or depth, truncated, a
special file) raises labelio's :class:`~unitax.tools.data.labelio.LabelFileError`; content that is
not what the dataset's format says raises :class:`unitax.tools.data.prepare.NativeFormatError`.
Both are one line, ``PATH: REASON``.

| module | format |
| --- | --- |
| :mod:`.coco_panoptic` | COCO panoptic 2017 PNG + ``panoptic_{split}2017.json`` -> coco-panoptic-201 |
| :mod:`.ade20k_full` | full ADE20K (``ADE20K_2016_07_26``) ``*_seg.png`` -> ade20k class + instance (challenge size) |
| :mod:`.polygons` | Cityscapes / IDD ``*_polygons.json`` -> cityscapes-34 / idd-40 |
| :mod:`.pascal_context` | PASCAL-Context ``trainval/*.mat`` (``LabelMap``) -> pascal-context-460 (uint16) |
| :mod:`.png_labels` | palette PNGs, RGB colour labels (CamVid), 16-bit instance PNGs (Mapillary) |
"""
from ..errors import NativeFormatError
from . import ade20k_full, coco_panoptic, pascal_context, png_labels, polygons

__all__ = ["NativeFormatError", "ade20k_full", "coco_panoptic", "pascal_context", "png_labels", "polygons"]
