"""Runtime: the label spaces of a loaded build — names, roles, colours, tables and fingerprint.

The first layer of :class:`unitax.Taxonomy` (the remap calls build on it: :mod:`unitax.label_paths`,
:mod:`unitax.score_paths`): what the compiled build holds, looked up by name, with a clear error
(and a did-you-mean) for a name it does not hold. Numpy and the standard library only.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IntegrityError, UnitaxError, UnknownDatasetError
from .loader import Compiled

UNIVERSAL = "universal"


class Spaces:
    """Names and tables of a compiled taxonomy (the base of :class:`unitax.Taxonomy`).

    Caches (filled on first use, one per loaded build): ``_groups`` (dataset -> universal ids of
    each class), ``_read`` (dataset -> the universal channels its classes read), ``_relabels``
    (dataset -> its verified relabel records), ``_padded`` (table key -> a 256-entry table widened
    to uint16 input) and ``_device_cache`` (table key, part, device, dtype -> tensor).
    """

    def __init__(self, compiled: Compiled):
        self._c = compiled
        t = compiled.taxonomy
        self._spaces: dict[str, dict[str, Any]] = dict(t["datasets"])
        self._spaces[UNIVERSAL] = t["universal"]
        self._tables = compiled.tables
        self._remaps = {(e["source"], e["target"]): k for k, e in t["tables"].items() if k.startswith("remap/")}
        self._groups: dict[str, tuple[np.ndarray, ...]] = {}
        self._read: dict[str, np.ndarray] = {}
        self._relabels: dict[str, Any] = {}
        self._padded: dict[str, np.ndarray] = {}
        self._device_cache: dict[tuple[Any, ...], Any] = {}

    def __repr__(self) -> str:
        return (f"<unitax.Taxonomy {len(self.universal_names)} universal classes, {len(self.datasets)} datasets "
                f"from {self._c.path}>")

    # ----- names ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The compiled folder this taxonomy was loaded from."""
        return self._c.path

    @property
    def specs_sha256(self) -> str:
        """sha256 of the specs this build was compiled from."""
        sha: str = self._c.manifest["specs_sha256"]
        return sha

    @cached_property
    def universal_names(self) -> tuple[str, ...]:
        """Universal class names in id order."""
        return tuple(self._spaces[UNIVERSAL]["names"])

    @cached_property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset name, sorted."""
        return tuple(sorted(k for k in self._spaces if k != UNIVERSAL))

    def _by_role(self, role: str) -> tuple[str, ...]:
        return tuple(d for d in self.datasets if self._spaces[d]["role"] == role)

    @property
    def train_datasets(self) -> tuple[str, ...]:
        """Datasets mapped into the universal taxonomy for training."""
        return self._by_role("train")

    @property
    def test_datasets(self) -> tuple[str, ...]:
        """Datasets the universal taxonomy is mapped into, for zero-shot evaluation."""
        return self._by_role("test")

    @property
    def source_datasets(self) -> tuple[str, ...]:
        """Raw dataset variants that are only remapped into other datasets."""
        return self._by_role("source")

    @property
    def remaps(self) -> tuple[tuple[str, str], ...]:
        """Every compiled dataset -> dataset table, as (source, target) pairs."""
        return tuple(sorted(self._remaps))

    def _space(self, dataset: str) -> dict[str, Any]:
        try:
            return self._spaces[dataset]
        except (KeyError, TypeError):
            import difflib

            close = difflib.get_close_matches(dataset, [UNIVERSAL, *self.datasets], n=1) \
                if isinstance(dataset, str) else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownDatasetError(
                f"unknown dataset {dataset!r}; known: universal, {', '.join(self.datasets)}{hint}") from None

    def names(self, dataset: str) -> tuple[str, ...]:
        """Class names of ``dataset`` (or ``"universal"``) in id order."""
        return tuple(self._space(dataset)["names"])

    def colors(self, dataset: str) -> np.ndarray:
        """(n, 3) uint8 RGB colours unitax draws ``dataset``'s classes with (``colorize``, ``overlay``,
        ``unitax show``, the docs' legends): the dataset's own, else the PASCAL VOC colour map
        shifted by one (:func:`unitax.pictures.voc_colormap`). Whether they are the dataset's own
        (the colours its RGB label images use): :meth:`own_colors`."""
        own = self.own_colors(dataset)
        if own is not None:
            return own
        from .pictures import voc_colormap

        return voc_colormap(len(self.names(dataset)))

    def own_colors(self, dataset: str) -> np.ndarray | None:
        """(n, 3) uint8 RGB colours ``dataset``'s specs give its classes (black for a class without
        one), or None where it defines none: the colours of its RGB label images, if it has any."""
        cols = self._space(dataset).get("colors")
        return None if cols is None else np.array([c if c else (0, 0, 0) for c in cols], dtype=np.uint8)

    def unscored(self, dataset: str) -> tuple[str, ...]:
        """Names of the classes of ``dataset`` that its own benchmark does not score (the spec's
        ``unscored``: e.g. UT's ``class_to_eval`` false), in id order; empty where every class is scored."""
        names = self.names(dataset)
        ids = self._space(dataset).get("unscored") or []
        return tuple(names[i] for i in ids if isinstance(i, int) and 0 <= i < len(names))

    def same_classes_as(self, dataset: str) -> tuple[str, str, tuple[str, ...]] | None:
        """``(space, by, unpaired)`` where the spec declares ``dataset`` the same label space as ``space``
        class for class (``same_classes_as``: each class pairs with the class of the same id, ``by ==
        "id"``, or name, ``"name"``, in ``space``, except the ``unpaired`` classes): e.g. UT's
        ``ut-ade20k-151`` is ``("ade20k-151", "id", ())``; None where it declares none. ``space`` may be a
        label space of another taxonomy (`unitax compare` pairs the two through it)."""
        d = self._space(dataset).get("same_classes_as")
        if not isinstance(d, dict):
            return None
        return str(d["space"]), str(d["by"]), tuple(str(u) for u in d.get("unpaired") or ())

    def role(self, dataset: str) -> str:
        """``train``, ``test``, ``source`` (or ``universal``)."""
        role: str = self._space(dataset)["role"]
        return role

    def ignore_index(self, dataset: str) -> int:
        """The label value of unlabeled pixels in ``dataset`` (255, or 65535 for uint16 label spaces)."""
        return int(self._space(dataset)["ignore"])

    # ----- tables --------------------------------------------------------------------------

    def _table(self, key: str, what: str, dataset: str) -> np.ndarray:
        self._space(dataset)
        try:
            return self._tables[key]
        except KeyError:
            raise UnknownDatasetError(f"{dataset!r} has no {what}") from None

    def lut(self, dataset: str) -> np.ndarray:
        """Read-only lookup table ``dataset`` id -> universal id, over the label dtype's range."""
        return self._table(f"to_universal/{dataset}", "mapping to universal", dataset)

    def matrix(self, test_dataset: str) -> np.ndarray:
        """Read-only binary (n_test, n_universal) uint8 matrix: 1 where a universal class counts as a test class."""
        return self._table(f"matrix/{test_dataset}", "mapping from universal", test_dataset)

    def test_lut(self, test_dataset: str) -> np.ndarray:
        """Read-only lookup table universal id -> ``test_dataset`` id (unmapped -> 255)."""
        return self._table(f"from_universal/{test_dataset}", "mapping from universal", test_dataset)

    def remap_lut(self, src: str, dst: str) -> np.ndarray:
        """Read-only lookup table ``src`` id -> ``dst`` id for a compiled dataset -> dataset remap."""
        self._space(src), self._space(dst)
        try:
            return self._tables[self._remaps[(src, dst)]]
        except KeyError:
            have = ", ".join(f"{a}->{b}" for a, b in self.remaps)
            raise UnknownDatasetError(f"no compiled remap {src} -> {dst}; compiled: {have}") from None

    # ----- unions (dataset classes as sets of universal classes) -----------------------------

    def class_sets(self, dataset: str) -> np.ndarray:
        """Read-only (n_dataset_classes, n_universal) bool matrix: which universal classes each class of
        ``dataset`` covers (one per mapped class for one-to-one mappings, a set for union mappings)."""
        return self._table(f"class_sets/{dataset}", "mapping to universal", dataset)

    def is_union(self, dataset: str) -> bool:
        """Whether ``dataset`` maps to universal through a union mapping (some class covers several classes)."""
        self.class_sets(dataset)
        form: str | None = self._c.taxonomy["tables"][f"class_sets/{dataset}"].get("form")
        return form == "union"

    def groups(self, test_dataset: str) -> tuple[np.ndarray, ...]:
        """For each test class, the universal ids that sum into it."""
        g = self._groups.get(test_dataset)
        if g is None:
            m = self.matrix(test_dataset)
            g = tuple(np.flatnonzero(row).astype(np.intp) for row in m)
            self._groups[test_dataset] = g
        return g

    @cached_property
    def _relabel_index(self) -> dict[str, Any]:
        from .relabel import read_index

        return read_index(self._c)

    @property
    def relabel_datasets(self) -> tuple[str, ...]:
        """Datasets with compiled relabel records (segment-level relabelings), sorted."""
        return tuple(sorted(self._relabel_index["datasets"]))

    def relabel(self, dataset: str) -> Any:
        """The relabel records of ``dataset`` as a :class:`unitax.relabel.Relabel` (read and verified on first use)."""
        from .relabel import load_relabel

        if dataset not in self._relabels:
            self._relabels[dataset] = load_relabel(self._c, self._relabel_index, dataset, self.names(dataset),
                                                   self.universal_names, self.ignore_index(dataset))
        return self._relabels[dataset]

    # ----- back-maps, score groups, fingerprint -------------------------------------------

    def back_map(self, dataset: str) -> np.ndarray:
        """Read-only lookup table universal id -> ``dataset`` id, for a dataset with a mapping to universal.

        Where several ``dataset`` classes merge into one universal class the lowest id stands
        for them (see :meth:`back_map_info`); universal classes ``dataset`` lacks give its ignore id.
        """
        return self._table(f"back_map/{dataset}", "mapping to universal, hence no back-map", dataset)

    def back_map_info(self, dataset: str) -> dict[str, Any]:
        """``{"lossless": bool, "merged": {universal name: [dataset names]}, "dropped": [dataset names]}``.

        Lossless means every ``dataset`` class survives dataset -> universal -> dataset: none is
        merged with another and none is ignored on the way in (``dropped``).
        """
        self.back_map(dataset)
        e = self._c.taxonomy["tables"][f"back_map/{dataset}"]
        return {"lossless": bool(e["lossless"]), "merged": {k: list(v) for k, v in e["merged"].items()},
                "dropped": list(e["dropped"])}

    def _label_lut(self, dataset: str) -> np.ndarray:
        """universal id -> ``dataset`` id: the test mapping of a test dataset, else the back-map."""
        self._space(dataset)
        key = f"from_universal/{dataset}"
        return self._tables[key] if key in self._tables else self.back_map(dataset)

    def _score_groups(self, dataset: str) -> tuple[np.ndarray, ...]:
        if f"matrix/{dataset}" in self._tables:
            return self.groups(dataset)
        g = self._groups.get(dataset)
        if g is None:
            back = self.back_map(dataset)[: len(self.universal_names)]
            g = tuple(np.flatnonzero(back == c).astype(np.intp) for c in range(len(self.names(dataset))))
            self._groups[dataset] = g
        return g

    def _read_channels(self, dataset: str, groups: Any) -> np.ndarray:
        """The universal channels the groups of ``dataset`` read (cached)."""
        ch = self._read.get(dataset)
        if ch is None:
            parts = [np.asarray(g, np.intp) for g in groups] + [np.zeros(0, np.intp)]
            ch = self._read[dataset] = np.unique(np.concatenate(parts))
        return ch

    @cached_property
    def fingerprint(self) -> str:
        """sha256 (hex) of the universal ids and names: store it with a checkpoint, verify with
        :meth:`check_fingerprint` (:func:`unitax.names_fingerprint` computes it from names)."""
        mine = names_fingerprint(self.universal_names)
        compiled = self._c.taxonomy.get("fingerprint", mine)
        if compiled != mine:
            raise IntegrityError(f"{self.path}: the compiled fingerprint does not match the universal class names")
        return mine

    def check_fingerprint(self, fingerprint: str, names: Any = None) -> None:
        """Raise :class:`FingerprintError` unless ``fingerprint`` is this taxonomy's.

        Args:
            fingerprint: the value a training script stored (``tax.fingerprint``).
            names: optionally the checkpoint's universal class names, to say what moved.
        """
        if fingerprint == self.fingerprint:
            return
        msg = (f"checkpoint fingerprint {str(fingerprint)[:12]}... differs from this taxonomy's "
               f"{self.fingerprint[:12]}...")
        if names is not None:
            old, new = list(names), list(self.universal_names)
            moved = sum(1 for i, n in enumerate(old) if n in new and new.index(n) != i)
            gone = sorted(set(old) - set(new))
            added = sorted(set(new) - set(old))
            msg += (f": {moved} class(es) moved, "
                    f"{len(gone)} gone ({', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''}), "
                    f"{len(added)} new ({', '.join(added[:5])}{' ...' if len(added) > 5 else ''})")
        msg += "; `unitax diff` shows the changes, unitax.reorder_rows() moves a final layer's rows to the new order"
        raise FingerprintError(msg)


class FingerprintError(UnitaxError):
    """A checkpoint's taxonomy fingerprint differs from the loaded taxonomy's (class ids changed meaning)."""


def names_fingerprint(names: Any) -> str:
    """sha256 (hex) of one line ``<id> TAB <name>`` per class of ``names`` in id order (``tax.fingerprint``)."""
    text = "".join(f"{i}\t{n}\n" for i, n in enumerate(names))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
