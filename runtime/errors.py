"""Errors raised by the unitax runtime."""

from __future__ import annotations


class UnitaxError(Exception):
    """Base class of every error the runtime raises on purpose."""


class IntegrityError(UnitaxError):
    """A compiled file is missing, truncated, tampered with, or of a newer format."""


class UnknownDatasetError(UnitaxError, KeyError):
    """A dataset name that the compiled taxonomy does not know (the message lists the known ones)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class LabelError(UnitaxError, ValueError):
    """A label or score array that cannot be remapped: values outside the dataset's ids, wrong dtype or shape, NaN."""
