"""``unitax prepare``: turn datasets as downloaded into MSeg's label spaces (import package ``unitax.tools.prepare``).

- :mod:`.readers`: one pure reader per native annotation format (numpy + Pillow; scipy for ``.mat``).
- :mod:`.lists`: MSeg's split lists, shipped in ``data/lists/`` (package data) and read back.
- :mod:`.ade20k`: a plan for the ADE20K family end to end (challenge + full format -> ade20k-151 / 150 / 150-relabeled).
"""
from .errors import NativeFormatError

__all__ = ["NativeFormatError"]
