"""Runtime: translate labels and scores between the universal spaces of two taxonomies.

``unitax compare A B -o DIR`` writes, for each direction (source -> target), two tables:

- ``ids``: source universal id -> target universal id, over the source label dtype's whole range
  (the source's ignore id and every class that cannot be translated give the target's ignore id).
  A class has an entry only where every pixel it may hold is certainly the one target class: the
  two classes are *equal*, or the source class is *merged* into a wider target class
  (:mod:`unitax.tools.data.compare` computes the relations from the dataset spaces both share);
- ``sets``: a (n_source, n_target) bool matrix: the target classes a source pixel may be. One True
  where ``ids`` has an entry (they agree, as a compiled build's ``class_sets`` and lookup table do),
  several for a source class *split* into target classes, none for a class that cannot be
  translated (it *overlaps* target classes that also hold other classes, or it is *absent*).

and ``translation.json``: both taxonomies' names and fingerprints, the tables' files, dtypes,
shapes and sha256, and why each untranslatable class is so.

:class:`Translation` applies them: :meth:`~Translation.labels` (ids), :meth:`~Translation.label_sets`
(per-pixel target sets, for union training or :func:`unitax.unions.union_accuracy`), and
:meth:`~Translation.scores` (the scores of the source classes summed into the target class each
translates to: a target class that is a union of source classes gets the probability of the union).
Numpy and the standard library only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import arrays
from . import finite as _finite
from .errors import IntegrityError, LabelError, UnknownDatasetError
from .fileops.read import NotRegularFile, TooLarge, read_regular
from .format import label_dtype, lut_size

#: the index file of a translation folder
INDEX = "translation.json"
#: the version of the translation folder's layout; :func:`load` reads exactly this version
TRANSLATION_FORMAT = 1
#: the most bytes an index may hold
INDEX_LIMIT = 16 << 20
#: the two directions a folder holds
DIRECTIONS = ("a_to_b", "b_to_a")


def table_files(direction: str) -> dict[str, str]:
    """The files of one direction's tables, relative to the folder: ``{"ids": ..., "sets": ...}``."""
    return {"ids": f"{direction}/ids.npy", "sets": f"{direction}/sets.npy"}


def ids_table(ids: dict[int, int], n_source: int, source_ignore: int, target_ignore: int) -> np.ndarray:
    """The ``ids`` look-up table from ``{source id: target id}``: the target's ignore id elsewhere."""
    table = np.full(lut_size(source_ignore), target_ignore, dtype=label_dtype(target_ignore))
    for s, t in ids.items():
        if not 0 <= s < n_source:
            raise ValueError(f"source id {s} outside 0..{n_source - 1}")
        table[s] = t
    return table


@dataclass(frozen=True)
class Translation:
    """One direction of a translation between two taxonomies' universal spaces (see the module).

    ``ids``, ``sets``: the read-only tables; ``untranslatable``: source class name -> why;
    ``source_fingerprint``/``target_fingerprint``: the taxonomies' ``tax.fingerprint``.
    """

    source: str
    target: str
    source_names: tuple[str, ...]
    target_names: tuple[str, ...]
    source_ignore: int
    target_ignore: int
    ids: np.ndarray
    sets: np.ndarray
    untranslatable: dict[str, str]
    source_fingerprint: str
    target_fingerprint: str

    def __repr__(self) -> str:
        return (f"<unitax.translate.Translation {self.source} -> {self.target}: "
                f"{len(self.source_names) - len(self.untranslatable)} of {len(self.source_names)} classes translate>")

    def check(self, source: Any = None, target: Any = None) -> None:
        """Raise :class:`unitax.FingerprintError` unless the loaded taxonomies ``source`` / ``target`` (either
        may be None) are those the tables were written for (their universal ids and names)."""
        from .spaces import FingerprintError

        for tax, want, side in ((source, self.source_fingerprint, self.source),
                                (target, self.target_fingerprint, self.target)):
            if tax is not None and tax.fingerprint != want:
                raise FingerprintError(f"this translation was written for {side}'s universal classes with fingerprint "
                                       f"{want[:12]}...; the taxonomy given has {tax.fingerprint[:12]}...")

    def labels(self, label: Any) -> Any:
        """Source universal ids (any shape, any integer dtype) -> target universal ids; the target's
        ignore id where the class cannot be translated to one target class or is ignore. Ids outside
        the source's classes raise LabelError."""
        def host(arr: np.ndarray) -> np.ndarray:
            arr = arrays.label_array(arr, self.source)
            n = len(self.source_names)
            lab = arr.astype(np.int64, copy=False)
            bad = ((lab < 0) | (lab >= n)) & (lab != self.source_ignore)
            if bad.any():
                shown = ", ".join(str(v) for v in np.unique(lab[bad])[:20])
                raise LabelError(f"label values outside {self.source}'s universal ids 0..{n - 1} "
                                 f"(and ignore {self.source_ignore}): {shown}")
            out: np.ndarray = self.ids[lab]
            return out

        return arrays.run(label, None, host)

    def label_sets(self, label: Any, *, compact: bool = False) -> Any:
        """Per-pixel target sets of source universal labels: a (..., n_target) bool mask (all False where
        ignored or untranslatable), or with ``compact=True`` a :class:`unitax.unions.PartialTargets`.

        A split class gives all its parts: train a target-space model on source labels with a union
        loss, or score target predictions on source ground truth with :func:`unitax.unions.union_accuracy`.
        """
        from . import unions

        arr, _ = arrays.to_numpy(label)
        return unions.partial_targets(arrays.label_array(arr, self.source), self.sets, self.source_ignore,
                                      self.source, compact=compact)

    def scores(self, scores: Any, axis: int = 0, *, from_logits: bool = False, check_finite: bool = True) -> Any:
        """Source universal scores (probabilities, or logits with ``from_logits``) on ``axis`` -> target scores:
        each target class gets the sum of the source classes that translate to it (``ids``), so a target
        class made of several source classes gets the probability of their union. The scores of
        untranslatable source classes go nowhere: the target scores sum to the source's total over the
        translatable classes (to 1 when every class translates). Floats keep their dtype."""
        def host(arr: np.ndarray) -> np.ndarray:
            ax = arrays.class_axis(arr, axis, len(self.source_names))
            if check_finite:
                _finite.check_finite(arr, ax, self.target, logits=from_logits, names=self.source_names,
                                     space=self.source)
            x = np.moveaxis(arr, ax, -1)
            if from_logits:
                with np.errstate(invalid="ignore", over="ignore"):
                    e = np.exp(x - x.max(axis=-1, keepdims=True))
                    x = e / e.sum(axis=-1, keepdims=True)
            w = np.zeros((len(self.source_names), len(self.target_names)), dtype=x.dtype)
            src = np.arange(len(self.source_names))
            tgt = self.ids[src].astype(np.int64)
            ok = tgt != self.target_ignore
            w[src[ok], tgt[ok]] = 1
            return np.moveaxis(x @ w, -1, ax)

        return arrays.run(scores, None, host, keep_dtype=True)


def _read(folder: Path, rel: str, limit: int) -> bytes:
    p = folder / rel
    try:
        return read_regular(p, limit)
    except (NotRegularFile, TooLarge) as e:
        raise IntegrityError(f"{p}: {e}") from None
    except FileNotFoundError:
        raise IntegrityError(f"{p}: missing (not a folder written by `unitax compare -o`?)") from None


def _array(folder: Path, entry: Any, direction: str, part: str) -> np.ndarray:
    rel = table_files(direction)[part]
    if not (isinstance(entry, dict) and entry.get("file") == rel and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size"), int) and isinstance(entry.get("shape"), list)
            and isinstance(entry.get("dtype"), str)):
        raise IntegrityError(f"{folder / INDEX}: the entry of {rel} is malformed")
    data = _read(folder, rel, entry["size"])
    if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise IntegrityError(f"{folder / rel}: size or sha256 differs from {INDEX}")
    try:
        arr: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as e:
        raise IntegrityError(f"{folder / rel}: not a plain .npy array ({e})") from None
    if str(arr.dtype) != entry["dtype"] or list(arr.shape) != entry["shape"]:
        raise IntegrityError(f"{folder / rel}: holds {arr.dtype} {list(arr.shape)}, {INDEX} says "
                             f"{entry['dtype']} {entry['shape']}")
    arr.setflags(write=False)
    return arr


def load(folder: str | os.PathLike[str], source: str, target: str) -> Translation:
    """The translation ``source`` -> ``target`` from a folder ``unitax compare A B -o DIR`` wrote (either
    direction: ``source`` and ``target`` are the names the comparison gave A and B), every table
    verified against the index (size, sha256, dtype, shape)."""
    folder = Path(folder)
    try:
        index = json.loads(_read(folder, INDEX, INDEX_LIMIT))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IntegrityError(f"{folder / INDEX}: not JSON ({e})") from None
    if not isinstance(index, dict) or index.get("unitax") != "compare":
        raise IntegrityError(f"{folder / INDEX}: not written by `unitax compare`")
    if index.get("format") != TRANSLATION_FORMAT:
        raise IntegrityError(f"{folder / INDEX}: format {index.get('format')!r}, this unitax reads "
                             f"{TRANSLATION_FORMAT}; write it again with this unitax")
    try:
        a, b = index["a"], index["b"]
        sides = {(a["name"], b["name"]): ("a_to_b", a, b), (b["name"], a["name"]): ("b_to_a", b, a)}
    except (KeyError, TypeError) as e:
        raise IntegrityError(f"{folder / INDEX}: malformed ({type(e).__name__}: {e})") from None
    if (source, target) not in sides:
        raise UnknownDatasetError(f"{folder / INDEX} translates between {a['name']!r} and {b['name']!r}, "
                                  f"not {source!r} -> {target!r}")
    direction, src, tgt = sides[(source, target)]
    try:
        d = index["directions"][direction]
        ids = _array(folder, d["ids"], direction, "ids")
        sets = _array(folder, d["sets"], direction, "sets")
        tr = Translation(source, target, tuple(src["names"]), tuple(tgt["names"]), int(src["ignore"]),
                         int(tgt["ignore"]), ids, sets, dict(d["untranslatable"]), str(src["fingerprint"]),
                         str(tgt["fingerprint"]))
    except (KeyError, TypeError, ValueError) as e:
        raise IntegrityError(f"{folder / INDEX}: malformed ({type(e).__name__}: {e})") from None
    n_s, n_t = len(tr.source_names), len(tr.target_names)
    if (ids.shape != (lut_size(tr.source_ignore),) or str(ids.dtype) != label_dtype(tr.target_ignore)
            or sets.shape != (n_s, n_t) or sets.dtype != np.bool_):
        raise IntegrityError(f"{folder / INDEX}: tables do not fit {n_s} source and {n_t} target classes")
    inside = (ids[:n_s] < n_t) | (ids[:n_s] == tr.target_ignore)
    if not inside.all():
        raise IntegrityError(f"{folder}: {direction} ids name target classes that do not exist")
    return tr
