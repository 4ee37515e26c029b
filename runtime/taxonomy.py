"""Runtime stage 2: the `Taxonomy` object users hold — names, tables and the remap calls.

`Taxonomy` is assembled from one layer per concern, each a module:

- :mod:`unitax.spaces`: label spaces and tables by name (names, roles, colours, look-up
  tables, class sets, back-maps, relabel records, the fingerprint) and the caches;
- :mod:`unitax.label_paths`: label maps between spaces (``to_universal``, ``remap``, routes and
  chains of tables, union target sets, pictures);
- :mod:`unitax.score_paths`: universal scores into dataset classes (``to_test``,
  ``to_test_labels``, ``from_universal``, ``torch_module``, ``union_accuracy``, ``evaluator``);
- :mod:`unitax.arrays`: numpy arrays, CPU and device tensors told apart once for all of them,
  and the one shape check of scores; :mod:`unitax.finite`: the one non-finite check.

Here: :func:`load`, :func:`reorder_rows` (a checkpoint's rows to a new class order), and the
stale-build warning of a development checkout (:mod:`unitax.stale`). Numpy and the standard
library only; torch is imported only when the caller passes a torch tensor (then the result is
a tensor on the same device).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import arrays
from .bundled import DEFAULT, build_path, entry, taxonomies
from .errors import LabelError
from .loader import read_compiled
from .score_paths import ScorePaths
from .spaces import UNIVERSAL, FingerprintError, names_fingerprint
from .stale import STALE_SLACK_S, StaleBuildWarning, warn_if_stale

__all__ = ["STALE_SLACK_S", "UNIVERSAL", "FingerprintError", "StaleBuildWarning", "Taxonomy", "load",
           "names_fingerprint", "read_compiled", "reorder_rows", "taxonomies", "warn_if_stale"]


class Taxonomy(ScorePaths):
    """A compiled taxonomy: class names of every label space and the tables between them.

    Get one with :func:`unitax.load`. Dataset names are those of ``taxonomy/datasets``;
    ``"universal"`` names the universal label space.
    """


def reorder_rows(weights: Any, old_names: Any, new_names: Any, *, axis: int = 0,
                 renamed: dict[str, str] | None = None, missing: str = "raise") -> Any:
    """Reorder a checkpoint's per-class rows (final layer weights or biases) to a new class order.

    Args:
        weights: array (or torch tensor) with one entry per old class along ``axis``.
        old_names: the class names the checkpoint was trained with, in its order.
        new_names: the class names of the new taxonomy, in its order.
        renamed: old name -> new name for classes that were renamed (``unitax diff`` lists them).
        missing: what a new class without an old row gets: ``"raise"`` (default), ``"zeros"``,
            or ``"mean"`` (the mean of the old rows).
    Returns:
        array (tensor on the same device) with ``len(new_names)`` entries along ``axis``.
    """
    def host(arr: np.ndarray) -> np.ndarray:
        old, new = list(old_names), list(new_names)
        ax = axis if axis >= 0 else arr.ndim + axis
        if not 0 <= ax < arr.ndim or arr.shape[ax] != len(old):
            raise LabelError(f"weights have shape {arr.shape}; expected {len(old)} old classes on axis {axis}")
        if missing not in ("raise", "zeros", "mean"):
            raise ValueError(f"missing must be 'raise', 'zeros' or 'mean', got {missing!r}")
        rename = dict(renamed or {})
        where = {rename.get(n, n): i for i, n in enumerate(old)}
        if len(where) != len(old):
            raise LabelError("old class names (after renaming) are not unique")
        lacking = [n for n in new if n not in where]
        if lacking and missing == "raise":
            raise LabelError(f"{len(lacking)} new class(es) have no old row: {', '.join(lacking[:10])}"
                             f"{' ...' if len(lacking) > 10 else ''}; pass missing='zeros' or 'mean', or renamed=")
        moved = np.moveaxis(arr, ax, 0)
        result = np.zeros((len(new),) + moved.shape[1:], dtype=arr.dtype)
        fill = moved.mean(axis=0) if missing == "mean" else None
        for j, n in enumerate(new):
            if n in where:
                result[j] = moved[where[n]]
            elif fill is not None:
                result[j] = fill
        return np.moveaxis(result, 0, ax)

    return arrays.run(weights, None, host)


def load(path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """Load a compiled taxonomy, verifying every file: a bundled one by name (``"mseg"``, the default;
    ``"ut"``, ``"rvc"``: :func:`unitax.taxonomies` lists them), or the build folder at ``path``.

    A string that names a bundled taxonomy is that taxonomy, not a folder of that name in the working
    directory (pass ``Path("ut")`` or ``"./ut"`` for the folder). A bundled build of a development
    checkout warns (:class:`StaleBuildWarning`, once) when the specs it was compiled from have
    changed since (see :func:`warn_if_stale`)."""
    bundled = path is None or (isinstance(path, str) and path in taxonomies())
    if isinstance(path, str) and not bundled and "/" not in path and os.sep not in path and not os.path.exists(path):
        entry(path)  # a bare word that names no folder: say which names there are (UnitaxError)
    if bundled:
        path = build_path(DEFAULT if path is None else str(path))
    compiled = read_compiled(path)
    if bundled:
        warn_if_stale(compiled.path, compiled.manifest)
    return Taxonomy(compiled)
