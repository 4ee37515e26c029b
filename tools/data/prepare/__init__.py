"""``unitax prepare``: turn datasets as downloaded into MSeg's label spaces (``unitax.tools.data.prepare``).

- :mod:`.readers`: one pure reader per native annotation format (numpy + Pillow; scipy for ``.mat``).
- :mod:`.lists`: MSeg's split lists, shipped in ``data/lists/`` (package data) and read back.
- :mod:`.plans`: one declarative row per dataset family (download, folder, reader, chain, segment source).
- :mod:`.engine`: runs any row as a batch job (tools/data/batch.py): plan (MSeg's lists, or :mod:`.derive`'s,
  -> one task per sample), run (the batch runner, ledger and failures TSV, then the lists);
  :mod:`.step`: the step that prepares one sample; :mod:`.verify`: re-reads a prepared OUT_ROOT.
- :mod:`.command`: the ``unitax prepare`` click command.
"""
from .errors import NativeFormatError

__all__ = ["NativeFormatError"]
