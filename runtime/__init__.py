"""unitax: remap segmentation labels and predictions between dataset taxonomies.

    import unitax
    tax = unitax.load()                          # the bundled, compiled MSeg taxonomy
    ut = unitax.load("ut")                       # another bundled one by name (unitax.taxonomies())
    u = tax.to_universal(label, "ade20k-150")    # dataset ids -> universal ids
    p = tax.to_test(probs, "camvid-11", axis=0)  # universal probabilities -> test classes

Imports numpy and the standard library only; reads what `unitax compile` wrote.

The names below are imported on first use (PEP 562), so ``import unitax.format`` (what the
compiler reads of the runtime) or ``import unitax.compiler`` does not pay for the evaluator,
the kernels and numpy; ``from unitax import load`` and ``unitax.load`` work as always.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the type checker (and a reader) sees: the public API
    from .bundled import taxonomies
    from .errors import IntegrityError, LabelError, UnitaxError, UnknownDatasetError
    from .evaluate import EvalResult, Evaluator
    from .taxonomy import FingerprintError, StaleBuildWarning, Taxonomy, load, names_fingerprint, reorder_rows
    from .transforms import RemapLabels

#: public name -> the module that defines it
_WHERE = {
    "IntegrityError": "errors", "LabelError": "errors", "UnitaxError": "errors", "UnknownDatasetError": "errors",
    "EvalResult": "evaluate", "Evaluator": "evaluate",
    "FingerprintError": "taxonomy", "StaleBuildWarning": "taxonomy", "Taxonomy": "taxonomy", "load": "taxonomy",
    "names_fingerprint": "taxonomy", "reorder_rows": "taxonomy",
    "RemapLabels": "transforms",
    "taxonomies": "bundled",
}

__all__ = ["EvalResult", "Evaluator", "FingerprintError", "IntegrityError", "LabelError", "RemapLabels",
           "StaleBuildWarning", "Taxonomy", "UnitaxError", "UnknownDatasetError", "load", "names_fingerprint",
           "reorder_rows", "taxonomies"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'unitax' has no attribute {name!r}")
    value = getattr(import_module(f".{where}", __name__), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
