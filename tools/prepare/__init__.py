"""``unitax prepare``: turn datasets as downloaded into MSeg's label spaces (import package ``unitax.tools.prepare``).

- :mod:`.readers`: one pure reader per native annotation format (numpy + Pillow; scipy for ``.mat``).
- :mod:`.lists`: MSeg's split lists, shipped in ``data/lists/`` (package data) and read back.
- :mod:`.plans`: one declarative row per dataset family (download, folder, reader, chain, segment source).
- :mod:`.engine`: runs any row: plan (MSeg's lists -> one task per sample), run (remap-dir's runner,
  ledger and failures TSV), verify. :mod:`.command`: the ``unitax prepare`` click command.
- :mod:`.ade20k`: the first ADE20K-only plan as a library (kept for its tests; :mod:`.engine` supersedes it).
"""
from .errors import NativeFormatError

__all__ = ["NativeFormatError"]
