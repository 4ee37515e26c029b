"""Running a `unitax` command under an I/O fault, for the disk-full test and the hostile corpus.

:func:`run_cli` runs the command in a subprocess; with ``fsize`` it sets ``RLIMIT_FSIZE`` to that
many bytes and ignores SIGXFSZ first, so a write past the limit fails with EFBIG ("File too
large"), as a write to a full disk fails with ENOSPC: the same code paths, without root.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def _limit(fsize: int) -> Callable[[], None]:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return preexec


def run_cli(argv: list[str], cwd: Path, *, fsize: int | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m unitax.tools.cli ARGV`` in ``cwd`` (no .pyc written, no colour), optionally under
    ``RLIMIT_FSIZE = fsize`` bytes."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "unitax.tools.cli", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=None if fsize is None else _limit(fsize))


def one_clean_line(r: subprocess.CompletedProcess[str], *, code: int = 2) -> bool:
    """The run ended with exit ``code`` and one `unitax` line naming a full disk, no traceback."""
    lines = r.stderr.strip().splitlines()
    return (r.returncode == code and "Traceback" not in r.stderr + r.stdout and bool(lines)
            and lines[-1].startswith("unitax") and lines[-1].endswith(("File too large", "No space left on device")))
