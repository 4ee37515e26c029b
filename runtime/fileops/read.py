"""A bounded read of a regular file, and the one description of a file that is not one.

:func:`read_regular` opens non-blocking (a FIFO put where a file was expected does not hang the
reader), checks with ``fstat`` on the open descriptor (no race with a swap after a check) that it
is a regular file (:class:`NotRegularFile` otherwise, naming its kind by :func:`describe`) of at
most ``limit`` bytes (:class:`TooLarge`), and reads at most ``limit + 1`` bytes. Any other
failure is the ``OSError`` of ``open``/``read`` (``FileNotFoundError``, ``ELOOP``, ...): callers
turn each into their own message. Standard library only.
"""
from __future__ import annotations

import os
import stat

#: open flags of a read that never blocks, never takes a terminal, never leaks into a child
READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
              | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
CHUNK = 1 << 20


def describe(mode: int) -> str:
    """What a file of ``mode`` (``st_mode``) is, for a message: ``a folder``, ``a FIFO``, ``a character
    device``, ``a block device``, ``a socket``, ``a symbolic link``; ``a regular file``; else ``not a regular file``."""
    for test, what in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return what
    return "not a regular file"


class NotRegularFile(OSError):
    """The path leads to a folder, a FIFO, a device or a socket: never read."""

    def __init__(self, path: str | os.PathLike[str], mode: int):
        self.kind = describe(mode)
        super().__init__(f"{os.fspath(path)}: is {self.kind}, not a regular file")


class TooLarge(OSError):
    """The file holds more than the limit (its size, from ``fstat``, before a byte is read)."""

    def __init__(self, path: str | os.PathLike[str], size: int, limit: int):
        self.size, self.limit = size, limit
        super().__init__(f"{os.fspath(path)}: {size} bytes, more than {limit}")


def read_fd(fd: int, path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """Read the open ``fd`` (of ``path``, for messages) whole and close it: a regular file of at most
    ``limit`` bytes (None: any size), else :class:`NotRegularFile` / :class:`TooLarge`; at most
    ``limit + 1`` bytes are read (a file that grew meanwhile is seen to be over)."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, st.st_mode)
        if limit is not None and st.st_size > limit:
            raise TooLarge(path, st.st_size, limit)
        chunks, left = [], (limit + 1 if limit is not None else -1)
        while left:
            try:
                b = os.read(fd, CHUNK if left < 0 else min(left, CHUNK))
            except BlockingIOError:  # pragma: no cover - regular files never block
                break
            if not b:
                break
            chunks.append(b)
            left = left - len(b) if left > 0 else left
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_regular(path: str | os.PathLike[str], limit: int | None = None, *, dir_fd: int | None = None,
                 follow: bool = True) -> bytes:
    """The bytes of the regular file ``path`` (relative to ``dir_fd`` when given), at most ``limit``;
    ``follow=False`` refuses a link at the last component (``ELOOP``). See the module docstring."""
    flags = READ_FLAGS | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    return read_fd(os.open(path, flags, dir_fd=dir_fd), path, limit)
