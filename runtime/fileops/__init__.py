"""``unitax.fileops``: the one leaf for low-level file work, shared by the three rooms.

Standard library only and nothing else of unitax, so that the compiler, the runtime and the tools
may all import it (tests/test_layout.py: with ``unitax.format``, the only runtime modules the
compiler may import). One job a module:

- :mod:`.read`: a bounded read of a regular file (never blocks on a FIFO, never reads a device
  without end), and the one description of a special file (``a FIFO``, ``a folder``, ...);
- :mod:`.atomic`: an atomic write of a file, of a set of files, and the swap of a whole folder;
- :mod:`.walk`: a sorted walk of a tree, following links or not, reporting what it cannot enter;
- :mod:`.datapath`: a relative path taken from data, confined to its root; lines split on ``\\n``;
- :mod:`.jsonio`: JSON read back from disk, bounded in size and depth.

Nothing is imported here: ``import unitax.fileops.read`` costs only that module.
"""
