"""Hostile-input cases, one module per area (``cases_<area>.py`` with a ``CASES`` list)."""
