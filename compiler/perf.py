"""Speed of the build, without changing what it builds: the garbage collector paused for the
length of a compile, and independent emitters rendered in a forked child process.

Both leave the output byte-identical: the child runs the very same render functions on the very
same model (a fork is a copy of the parent) and hands back their bytes; if anything about the
child fails (no fork on this platform, an exception, a crash, a short read) the parent renders
the same thing itself. ``UNITAX_JOBS=1`` in the environment renders everything in the parent, as
does a single CPU or a process with other threads running.
"""

from __future__ import annotations

import gc
import marshal
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees everything).

    A compile allocates a few hundred thousand small containers (YAML nodes, rows, template
    output) and frees them all at the end; CPython would otherwise rescan every live object
    several times over, which was about a quarter of a cold compile's CPU time. A compile makes
    almost no reference cycles (its peak memory is the same either way)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_SENT = "unitax-background-1"


def _parallel() -> bool:
    # Never fork a process that runs other threads: one of them may hold a lock (the import lock,
    # a logging lock) that the child would then wait on for ever.
    return (hasattr(os, "fork") and os.environ.get("UNITAX_JOBS", "") != "1" and (os.cpu_count() or 1) > 1
            and threading.active_count() == 1)


class Background:
    """``fn(*args)`` (plain data that ``marshal`` can carry: dicts, lists, tuples, str, bytes,
    numbers) computed in a forked child while the caller goes on; ``result()`` returns it, or
    computes it in the caller if the child could not."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        self.fn, self.args = fn, args
        self.pid = 0
        self.fd = -1
        if not _parallel():
            return
        try:
            r, w = os.pipe()
        except OSError:
            return
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return
        if pid == 0:  # the child: render, send the bytes, leave without running any cleanup
            code = 1
            try:
                os.close(r)
                data = marshal.dumps((_SENT, fn(*args)))
                with os.fdopen(w, "wb") as f:
                    f.write(len(data).to_bytes(8, "little"))
                    f.write(data)
                code = 0
            except BaseException:  # noqa: BLE001 - the parent renders it instead
                pass
            finally:
                os._exit(code)
        os.close(w)
        self.pid, self.fd = pid, r

    def _collect(self) -> tuple[Any, ...] | None:
        if not self.pid:
            return None
        value: Any = None
        try:
            with os.fdopen(self.fd, "rb") as f:
                self.fd = -1
                head = f.read(8)
                if len(head) == 8:
                    n = int.from_bytes(head, "little")
                    data = f.read(n)
                    if len(data) == n:
                        value = marshal.loads(data)
        except (OSError, ValueError, EOFError, TypeError):
            value = None
        finally:
            self.close()
        return value if isinstance(value, tuple) and len(value) == 2 and value[0] == _SENT else None

    def result(self) -> Any:
        value = self._collect()
        return value[1] if value is not None else self.fn(*self.args)

    def close(self) -> None:
        """Reap the child (ending it first if its result is no longer wanted)."""
        if self.fd >= 0:
            os.close(self.fd)  # a child still writing gets EPIPE and exits
            self.fd = -1
        if self.pid:
            pid, self.pid = self.pid, 0
            try:
                os.kill(pid, signal.SIGKILL)  # done (its result read) or no longer wanted
            except OSError:
                pass
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                pass
