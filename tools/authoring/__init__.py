"""Spec authoring (on the compiler): the importers (import-mseg, import-unions, import-relabel),
new-dataset and its suggestions, add-class, the naive baseline, diff, and the one spec writer."""
