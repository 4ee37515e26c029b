"""How many examples a property test draws: the hypothesis profile says (tests/conftest.py loads it).

``make test`` runs the ``full`` profile, each test at the count it names; ``make test-fast``
(``pytest -m "not slow"``) the ``fast`` profile, a fifth of it (at least 10, or the count itself
where it is lower). What a test asserts is the same in both: only how many inputs it draws.
"""
from __future__ import annotations

from hypothesis import settings

FULL = 100   # the profile's max_examples a test's count is relative to
# deadline=None: a property test asserts what holds, never how fast (hypothesis's default 200 ms deadline
# failed tests/test_compare.py under two xdist workers on a loaded 2-core machine)
settings.register_profile("full", max_examples=FULL, deadline=None)
settings.register_profile("fast", max_examples=FULL // 5, deadline=None)


def examples(n: int) -> int:
    """``n`` under the full profile, scaled to the loaded one (never below ``min(n, 10)``)."""
    return max(min(n, 10), n * settings.default.max_examples // FULL)
