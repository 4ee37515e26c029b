"""The runtime kernels under their former module name (kept so that ``unitax.remap.apply_lut``,
``unitax.remap.set_num_threads`` etc. keep working); they live in :mod:`unitax.kernels`, a name
that does not read like ``Taxonomy.remap``."""

from __future__ import annotations

from .kernels import (
    apply_lut,
    get_num_threads,
    invalid_values,
    labels_from_scores,
    scores_to_test,
    set_num_threads,
)

__all__ = [
    "apply_lut",
    "invalid_values",
    "scores_to_test",
    "labels_from_scores",
    "get_num_threads",
    "set_num_threads",
]
