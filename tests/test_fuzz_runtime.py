"""A quick deterministic run of tests/fuzz_runtime.py (`make fuzz` runs it for a minute)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("which", ["labels", "scores"])
def test_fuzz_runtime_quick(which):
    import fuzz_runtime  # here, not at collection: it imports torch (~1.7 s of CPU in every pytest worker)

    labels, scores = fuzz_runtime.property_tests(40, derandomize=True)
    (labels if which == "labels" else scores)()
