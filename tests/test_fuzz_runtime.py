"""A quick deterministic run of tests/fuzz_runtime.py (`make fuzz` runs it for a minute)."""

from __future__ import annotations

import fuzz_runtime
import pytest


@pytest.mark.parametrize("which", ["labels", "scores"])
def test_fuzz_runtime_quick(which):
    labels, scores = fuzz_runtime.property_tests(40, derandomize=True)
    (labels if which == "labels" else scores)()
