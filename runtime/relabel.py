"""Runtime: the compiled relabel records — which segments of which image move to which class.

``unitax compile`` writes ``relabel.json`` and, per dataset with records, five arrays under
``tables/relabel/`` (image keys sorted within each split, segment offsets, segment ids, the
universal class each segment moves to, the record that moves it). This module reads them,
verified against the manifest like every other table, and applies them to label maps.
Numpy and the standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import IntegrityError, LabelError, UnknownDatasetError
from .format import is_table_entry, label_dtype
from .loader import Compiled, _parse_npy

INDEX_FILE = "relabel.json"
PARTS = ("images", "starts", "segments", "classes", "records")


def read_index(compiled: Compiled) -> dict[str, Any]:
    """relabel.json of a compiled taxonomy, verified (an empty index when it has no records)."""
    files = compiled.manifest["files"]
    if INDEX_FILE not in files:
        return {"datasets": {}}
    try:
        index = json.loads(compiled.read_verified(INDEX_FILE))
    except ValueError as e:
        raise IntegrityError(f"{compiled.path / INDEX_FILE}: not JSON: {e}") from None
    if not isinstance(index, dict) or not isinstance(index.get("datasets"), dict):
        raise IntegrityError(f"{compiled.path / INDEX_FILE}: not a unitax relabel index")
    return index


@dataclass(frozen=True)
class Segments:
    """The segments of one image that records move: ids and the class each moves to."""

    split: str
    key: str
    segment_ids: np.ndarray  # uint32, sorted
    classes: np.ndarray  # ids of the relabeled dataset (its ignore id for 'unlabeled')
    records: np.ndarray  # uint16 index into Relabel.records


class Relabel:
    """The relabel records of one dataset. Get one with ``Taxonomy.relabel(dataset)``.

    Image keys are the image's path below its split folder, without extension and without a
    label or camera suffix (``ADE_train_00000004``, ``hamburg/hamburg_000000_052122``).
    """

    def __init__(self, dataset: str, entry: dict[str, Any], arrays: dict[str, np.ndarray],
                 universal_to_dataset: np.ndarray):
        self.dataset = dataset
        self.aliases: tuple[str, ...] = tuple(entry["aliases"])
        self.records: tuple[dict[str, Any], ...] = tuple(entry["records"])
        self.splits: dict[str, tuple[int, int]] = {s: (int(a), int(b)) for s, (a, b) in entry["splits"].items()}
        self._images = arrays["images"]
        self._starts = arrays["starts"]
        self._segments = arrays["segments"]
        self._classes = universal_to_dataset[arrays["classes"]]
        self._classes.flags.writeable = False
        self._records = arrays["records"]
        #: split -> {image key: row}, built on a split's first lookup (a dict beats a searchsorted per key)
        self._rows: dict[str, dict[bytes, int]] = {}

    def __repr__(self) -> str:
        return (f"<unitax.Relabel {self.dataset}: {len(self.records)} records, {len(self._segments)} segments "
                f"of {len(self._images)} images>")

    def __len__(self) -> int:
        """Number of segments the records move."""
        return int(len(self._segments))

    @property
    def sha256(self) -> str:
        """sha256 over the compiled arrays (images, offsets, segments, classes): what the records say."""
        import hashlib

        h = hashlib.sha256()
        for a in (self._images, self._starts, self._segments, self._classes):
            h.update(str(a.dtype).encode() + b"\0" + np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def keys(self, split: str) -> tuple[str, ...]:
        """Image keys of ``split`` that have records, sorted."""
        a, b = self._split(split)
        return tuple(k.decode("ascii") for k in self._images[a:b])

    def _split(self, split: str) -> tuple[int, int]:
        try:
            return self.splits[split]
        except KeyError:
            raise UnknownDatasetError(
                f"{self.dataset} has no relabel records of split {split!r}; splits: {', '.join(self.splits)}") from None

    def _row(self, split: str, key: bytes) -> int | None:
        rows = self._rows.get(split)
        if rows is None:
            a, b = self._split(split)
            # the first row of a key wins, as a left searchsorted would find it
            rows = {k: a + i for i, k in reversed(list(enumerate(self._images[a:b].tolist())))}
            self._rows[split] = rows
        return rows.get(key)

    def segments(self, key: str, split: str) -> Segments | None:
        """The segments ``split``'s image ``key`` has records for, or None."""
        raw = key.encode("ascii", "replace")
        i = self._row(split, raw)
        if i is None:
            return None
        s, e = int(self._starts[i]), int(self._starts[i + 1])
        return Segments(split, key, self._segments[s:e], self._classes[s:e], self._records[s:e])

    def find(self, key: str) -> list[Segments]:
        """The records of image ``key`` in every split that has it (usually one)."""
        out = []
        for split in self.splits:
            hit = self.segments(key, split)
            if hit is not None:
                out.append(hit)
        return out


def load_relabel(compiled: Compiled, index: dict[str, Any], dataset: str,
                 names: tuple[str, ...], universal_names: tuple[str, ...], ignore: int) -> Relabel:
    """Read and verify one dataset's arrays; map the universal ids they hold to ``dataset``'s ids."""
    entry = index["datasets"].get(dataset)
    if entry is None:
        have = ", ".join(sorted(index["datasets"])) or "none"
        raise UnknownDatasetError(f"{dataset!r} has no relabel records; datasets with records: {have}")
    files = compiled.manifest["files"]
    arrays = {}
    for part in PARTS:
        t = entry.get("tables", {}).get(part) if isinstance(entry, dict) else None
        if not is_table_entry(t):
            raise IntegrityError(f"{compiled.path / INDEX_FILE}: the {part} table of {dataset} is missing or malformed")
        if t["file"] not in files:
            raise IntegrityError(f"{compiled.path / 'manifest.json'}: does not list {t['file']}")
        data = compiled.read_verified(t["file"])
        arrays[part] = _parse_npy(data, compiled.path / t["file"], t["dtype"], t["shape"])
    n_img, n_seg = len(arrays["images"]), len(arrays["segments"])
    st = arrays["starts"]
    if (len(st) != n_img + 1 or st[0] != 0 or st[-1] != n_seg or np.any(st[1:] < st[:-1])
            or len(arrays["classes"]) != n_seg or len(arrays["records"]) != n_seg
            or (n_seg and int(arrays["records"].max()) >= len(entry["records"]))):
        raise IntegrityError(f"{compiled.path / entry['tables']['starts']['file']}: relabel tables of {dataset} "
                             "do not fit together")
    # Records name universal classes; the relabeled dataset's classes carry the same names.
    index_of = {n: i for i, n in enumerate(names)}
    lut = np.full(256, ignore, dtype=label_dtype(ignore))
    for u, n in enumerate(universal_names):
        if n in index_of:
            lut[u] = index_of[n]
    used = np.unique(arrays["classes"])
    missing = [universal_names[u] for u in used if u < len(universal_names) and universal_names[u] not in index_of]
    if missing:
        raise IntegrityError(f"relabel records of {dataset} move segments to {missing}, not classes of {dataset}")
    return Relabel(dataset, entry, arrays, lut)


def relabel_segments(label: np.ndarray, segment_map: np.ndarray, segment_ids: np.ndarray,
                     classes: np.ndarray) -> np.ndarray:
    """Set every pixel of segment ``segment_ids[i]`` (in ``segment_map``) to ``classes[i]``, in place.

    Args:
        label: integer label map, modified in place.
        segment_map: integer segment ids, same shape as ``label``.
        segment_ids: sorted segment ids to move.
        classes: the class each moves to (``label``'s id space).
    Returns:
        the segment ids of ``segment_ids`` that ``segment_map`` does not hold (nothing moved for them).
    """
    for what, a in (("label", label), ("segment map", segment_map)):
        if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu":
            raise LabelError(f"the {what} must be an integer array, got {getattr(a, 'dtype', type(a).__name__)}"
                             + (" (bool: a mask, not ids)" if getattr(a, "dtype", None) == np.bool_ else ""))
    if not label.flags.writeable:
        raise LabelError("the label is read-only (relabel_segments changes it in place)")
    if label.shape != segment_map.shape:
        raise LabelError(f"segment map of shape {segment_map.shape} does not match the label's {label.shape}")
    if len(segment_ids) == 0:
        return np.zeros(0, np.uint32)
    seg = segment_map.reshape(-1) if segment_map.flags.c_contiguous else segment_map.ravel()
    pos = np.searchsorted(segment_ids, seg)
    np.minimum(pos, len(segment_ids) - 1, out=pos)
    hit = segment_ids[pos] == seg
    flat = label.reshape(-1) if label.flags.c_contiguous else None
    if flat is None:
        label[hit.reshape(label.shape)] = classes[pos[hit]]
    else:
        flat[hit] = classes[pos[hit]]
    present = np.zeros(len(segment_ids), bool)
    present[pos[hit]] = True
    return segment_ids[~present]
