"""Stage 6 for relabel records: write ``relabel.json`` and the five arrays per dataset under
``tables/relabel/`` (see compiler/relabel.py for what they hold; ``tables.relabel_tables`` builds
them). Bytes depend only on the records."""

from __future__ import annotations

from typing import Any

from unitax.format import table_entry

from ..relabel import INDEX_FILE, TABLE_DIR, DatasetRelabel
from . import HEADER
from .tables import json_bytes, npy_bytes


def index_json(relabels: list[DatasetRelabel]) -> dict[str, Any]:
    """relabel.json: per dataset, its records, split ranges and the table files."""
    datasets = {}
    for r in relabels:
        tables = {}
        for part, arr in r.arrays().items():
            tables[part] = table_entry(f"{TABLE_DIR}/{r.dataset}.{part}.npy", arr)
        datasets[r.dataset] = {
            "aliases": list(r.aliases),
            "splits": {s: list(v) for s, v in sorted(r.splits.items())},
            "images": int(len(r.images)),
            "segments": int(len(r.segments)),
            "records": [{"alias": x.alias, "split": x.split, "from": x.src, "to": x.dst, "segments": x.count,
                         "file": x.segments} for x in r.records],
            "tables": tables,
        }
    return {
        "header": HEADER,
        "format": "image keys sorted within each split; segments of row i are segments[starts[i]:starts[i+1]], "
                  "sorted; classes are universal ids (255: unlabeled); records index the records list",
        "datasets": datasets,
    }


def render(relabels: list[DatasetRelabel]) -> dict[str, bytes]:
    """The compiled files (relative to generated/): relabel.json and the arrays; empty without records."""
    if not relabels:
        return {}
    files = {INDEX_FILE: json_bytes(index_json(relabels))}
    for r in relabels:
        for part, arr in r.arrays().items():
            files[f"{TABLE_DIR}/{r.dataset}.{part}.npy"] = npy_bytes(arr)
    return files
