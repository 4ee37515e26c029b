"""A quick deterministic run of tests/fuzz_native.py (`make fuzz` runs it for a minute)."""

from __future__ import annotations

import fuzz_native
import pytest


@pytest.mark.parametrize("which", ["coco", "polygons", "lists", "names"])
def test_fuzz_native_quick(which):
    tests = dict(zip(["coco", "polygons", "lists", "names"], fuzz_native.property_tests(60, derandomize=True),
                     strict=True))
    tests[which]()
