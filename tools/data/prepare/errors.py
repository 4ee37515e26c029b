"""The errors of ``unitax prepare``: a corrupt native file (:class:`NativeFormatError`), a job that cannot start."""
from __future__ import annotations

import os


class NativeFormatError(ValueError):
    """A native annotation file is corrupt or not what its reader expects.

    ``path`` is the file (or ``"<array>"`` when the reader was given decoded data), ``reason`` a
    one-line explanation; ``str(err)`` is ``"PATH: REASON"``.
    """

    def __init__(self, path: str | os.PathLike[str] | None, reason: str):
        self.path = "<array>" if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class PrepareError(Exception):
    """prepare cannot start: unknown dataset, unrecognised release, a bad OUT_ROOT."""
