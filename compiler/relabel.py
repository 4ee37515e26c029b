"""Stage 4 for relabel records, the model: the data classes the stages hand on for ``taxonomy/relabel/``.

A relabel record moves a list of segments (split, image key, segment id) of one dataset to
another class. The records live in ``taxonomy/relabel/<dataset>.yaml`` (one file per declared
dataset, the records as small YAML mappings) and each record's segment list in a plain text
file beside it, ``taxonomy/relabel/<dataset>/<...>.tsv``: one ``<image key>\\t<segment id>``
per line. They go through the stages of every spec kind:

- load (compiler/load_relabel.py): find the files under relabel/; the relabel files are read,
  parsed and schema-validated the way every spec is (``cache.load_and_validate_relabel``: the
  same reading, parser, schema check and cache, run once the model is built); the segment lists
  (226,413 segments in the MSeg reference) are facts, parsed a folder at a time with a few
  vectorised passes instead of through YAML and JSON Schema;
- rules (compiler/rules_relabel.py): the rules of stage ``relabel`` (compiler/registry.py),
  after the main model is built (they need the universal classes and the datasets); they sort
  each dataset's segments once, for segment-twice, and hand the order on (``Checked``);
- tables (compiler/tables.py, ``relabel_tables``): the arrays (``DatasetRelabel``);
- emit (compiler/emit/relabel.py): ``relabel.json`` plus five arrays per dataset under
  ``tables/relabel/``:

  - ``<ds>.images.npy``: image keys (ASCII bytes), sorted within each split; the splits' ranges
    of rows are in relabel.json;
  - ``<ds>.starts.npy``: uint32, row i's segments are ``segments[starts[i]:starts[i + 1]]``;
  - ``<ds>.segments.npy``: uint32 segment ids, sorted within each image;
  - ``<ds>.classes.npy``: uint8 universal id each segment moves to (255: unlabeled);
  - ``<ds>.records.npy``: uint16 index of the record (in relabel.json) that moves it.

The importer of the MSeg reference's ``relabeled_data/`` (``unitax import-relabel``) is a tool:
``unitax.tools.relabel_import``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the arrays' type only: the compiler imports numpy once the model exists (build.py)
    import numpy as np

RELABEL_DIR = "relabel"
INDEX_FILE = "relabel.json"
TABLE_DIR = "tables/relabel"
MAX_SEGMENT_ID = 2**32 - 1  # COCO panoptic ids (R + 256 G + 256^2 B) reach 2^24


@dataclass(frozen=True)
class Record:
    """One relabel record: the segments of ``segments`` (a file) move from ``src`` to ``dst``."""

    dataset: str
    alias: str
    split: str
    src: str  # universal class name ("from")
    dst: str  # universal class name or "unlabeled" ("to")
    segments: str  # spec-relative path of the segment file
    count: int


@dataclass(frozen=True)
class Checked:
    """One dataset's records after the rules, with its segments in the order of the tables.

    Rows are the segment lines as loaded; ``order`` sorts them by (split, image key, segment id)
    (splits by name) and ``new_image`` marks, in that order, each row that starts a (split, image).
    """

    dataset: str
    aliases: tuple[str, ...]
    records: tuple[Record, ...]
    splits: tuple[str, ...]  # the records' splits, sorted
    keys: np.ndarray  # (width, rows) uint8: byte j of each row's image key, zero-padded
    ids: np.ndarray  # (rows,) uint32 segment ids
    split: np.ndarray  # (rows,) index into ``splits``
    record: np.ndarray  # (rows,) index into ``records``
    order: np.ndarray  # (rows,) row indices, sorted
    new_image: np.ndarray  # (rows,) bool, over the sorted rows


@dataclass(frozen=True)
class DatasetRelabel:
    """Every record of one dataset, compiled (see the module docstring for the arrays)."""

    dataset: str
    aliases: tuple[str, ...]
    records: tuple[Record, ...]
    splits: dict[str, tuple[int, int]]  # split -> rows [start, stop) of images
    images: np.ndarray
    starts: np.ndarray
    segments: np.ndarray
    classes: np.ndarray
    record_index: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {"images": self.images, "starts": self.starts, "segments": self.segments,
                "classes": self.classes, "records": self.record_index}
