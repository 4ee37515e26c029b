"""The default class colours: the PASCAL VOC colour map (universal colours, and legends of
datasets without colours of their own)."""

from __future__ import annotations


def voc_palette(i: int) -> tuple[int, int, int]:
    """The bit-interleaved PASCAL VOC colour map, entry i + 1 (entry 0 is black)."""
    c, r, g, b = i + 1, 0, 0, 0
    for shift in range(7, -1, -1):
        r |= ((c >> 0) & 1) << shift
        g |= ((c >> 1) & 1) << shift
        b |= ((c >> 2) & 1) << shift
        c >>= 3
    return r, g, b
