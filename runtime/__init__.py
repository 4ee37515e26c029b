"""unitax: remap segmentation labels and predictions between dataset taxonomies.

    import unitax
    tax = unitax.load()                          # the bundled, compiled MSeg taxonomy
    u = tax.to_universal(label, "ade20k-150")    # dataset ids -> universal ids
    p = tax.to_test(probs, "camvid-11", axis=0)  # universal probabilities -> test classes

Imports numpy and the standard library only; reads what `unitax compile` wrote.
"""

from .errors import IntegrityError, LabelError, UnitaxError, UnknownDatasetError
from .evaluate import EvalResult, Evaluator
from .taxonomy import FingerprintError, StaleBuildWarning, Taxonomy, load, names_fingerprint, reorder_rows
from .transforms import RemapLabels

__all__ = ["EvalResult", "Evaluator", "FingerprintError", "IntegrityError", "LabelError", "RemapLabels",
           "StaleBuildWarning", "Taxonomy", "UnitaxError", "UnknownDatasetError", "load", "names_fingerprint",
           "reorder_rows"]
__version__ = "0.1.0"
