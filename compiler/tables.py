"""Stage 5: pure functions model -> NumPy arrays. Tables start as all-ignore, never zeros.

``build_tables``: the tables of the mappings and back-maps; ``relabel_tables``: the five arrays
of one dataset's relabel records, laid out in the order the rules sorted them in
(compiler/rules_relabel.py; the arrays are described in compiler/relabel.py)."""

from __future__ import annotations

import numpy as np

from .analysis import back_maps
from .model import LabelSpace, Mapping, Model
from .relabel import Checked, DatasetRelabel


def lookup_table(mapping: Mapping, src: LabelSpace, dst: LabelSpace) -> np.ndarray:
    """Source label value -> target label value, over the source dtype's whole range.

    Every value that is not a mapped source class (ignored classes, unused ids, the source's
    ignore id) yields the target's ignore id.
    """
    lut = np.full(src.table_length, dst.ignore, dtype=np.dtype(dst.label_dtype))
    if mapping.pairs:
        ids = np.array(mapping.pairs, dtype=np.int64)
        lut[ids[:, 0]] = ids[:, 1]
    return lut


def binary_matrix(mapping: Mapping, src: LabelSpace, dst: LabelSpace) -> np.ndarray:
    """(n_target, n_source) uint8 matrix, 1 where the source class counts as the target class."""
    m = np.zeros((len(dst.classes), len(src.classes)), dtype=np.uint8)
    for s, t in mapping.pairs:
        m[t, s] = 1
    return m


def class_set_matrix(mapping: Mapping, src: LabelSpace, dst: LabelSpace) -> np.ndarray:
    """(n_source, n_target) bool matrix, True where the source class covers the target class.

    One row per source id (void, ignored and unused ids: all False). For a one-to-one mapping
    each mapped row holds exactly the lookup table's target; for a union mapping a row holds its
    whole set (the lookup table then gives the target for sets of one, ignore for larger sets).
    """
    m = np.zeros((len(src.classes), len(dst.classes)), dtype=np.bool_)
    for s, targets in mapping.class_sets:
        m[s, list(targets)] = True
    return m


def build_tables(model: Model) -> dict[str, np.ndarray]:
    """Every compiled table, keyed by its path under ``tables/`` without suffix, in a fixed order.

    ``back_map/<dataset>`` (universal -> dataset, derived by ``analysis.back_map``) joins the
    tables written from mappings.
    """
    spaces = model.spaces
    out: dict[str, np.ndarray] = {}
    for m in model.mappings:
        src, dst = spaces[m.source], spaces[m.target]
        if m.kind == "to_universal":
            out[f"to_universal/{m.source}"] = lookup_table(m, src, dst)
            out[f"class_sets/{m.source}"] = class_set_matrix(m, src, dst)
        elif m.kind == "from_universal":
            out[f"from_universal/{m.target}"] = lookup_table(m, src, dst)
            out[f"matrix/{m.target}"] = binary_matrix(m, src, dst)
        else:
            out[f"remap/{m.key}"] = lookup_table(m, src, dst)
    for name, bm in back_maps(model).items():  # universal -> each dataset that maps into it
        out[f"back_map/{name}"] = bm.lut
    return dict(sorted(out.items()))


def relabel_tables(checked: Checked, universal: LabelSpace) -> DatasetRelabel:
    """The arrays of one dataset's relabel records: image keys sorted within each split (splits by
    name), each image's segments sorted, the universal id each moves to and the record moving it."""
    order = checked.order
    first = np.flatnonzero(checked.new_image)  # sorted rows that start an image
    rows = order[first]
    keys = checked.keys[:, rows]  # by byte position
    width = len(keys)
    while width > 1 and not keys[width - 1].any():  # the longest key (keys are zero-padded)
        width -= 1
    split_of = checked.split[rows]  # images come split by split
    bounds = np.searchsorted(split_of, np.arange(len(checked.splits) + 1))
    record = checked.record[order]
    dst = np.array([universal.index.get(r.dst, universal.ignore) for r in checked.records], dtype=np.uint8)
    return DatasetRelabel(
        dataset=checked.dataset,
        aliases=checked.aliases,
        records=checked.records,
        splits={s: (int(bounds[i]), int(bounds[i + 1])) for i, s in enumerate(checked.splits)},
        images=np.ascontiguousarray(keys[:width].T).view(f"S{width}").ravel(),
        starts=np.append(first, len(order)).astype(np.uint32),
        segments=checked.ids[order].astype(np.uint32),
        classes=dst[record].astype(np.uint8),
        record_index=record.astype(np.uint16),
    )
