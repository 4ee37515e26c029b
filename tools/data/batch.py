"""The batch core of ``unitax remap-dir`` and ``unitax prepare``: a plan's tasks, one step, one output folder.

A batch command is a planner plus a :class:`Step`: the planner walks its sources (:func:`walk`),
decides the tasks still to do (the job's :class:`Store` says what an earlier run of the very same
job finished), and hands a :class:`Work` to :func:`run`, which calls the step on every task in
this process, on a local process pool, or on a Dask cluster, and returns a :class:`Summary`.

The job store of an output folder DST (written by this module only):

- the output-folder rule (:func:`check_dst`): DST must be absent, empty, or an earlier batch job's
  (it holds :data:`STAMP`); anything else (a copy of the source, a folder of other files, a file,
  a symlink loop) is refused untouched, also with ``overwrite``;
- :data:`LOCK`: held (``flock``) for the whole run, so that two runs never write one DST;
- :data:`STAMP`: the job (tables, records, options) as JSON; a rerun with other settings is
  refused unless told to overwrite;
- :data:`LEDGER`: one JSON line per finished task (what the step returned as its identity), under
  the hash of the stamp; rewritten atomically at start with this job's entries only, appended as
  batches come back, a torn last line ignored;
- :data:`FAILED`: the failed tasks, a TSV (csv quoting; a cell a spreadsheet would read as a
  formula is quoted), removed when none failed.

Leftover temporary files (:data:`unitax.fileops.atomic.TMP_MARK`) are swept at start and after a
worker died. A step never raises for bad input: it returns an :class:`Outcome` with its reason;
an exception escaping a step fails that task alone ("internal error").
"""

from __future__ import annotations

import csv
import errno
import fnmatch
import hashlib
import io
import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TextIO, TypeVar

from ...compiler.emit.escape import sheet_cell, sheet_value
from ...fileops import jsonio
from ...fileops.atomic import TMP_MARK, write_atomic
from ...fileops.read import describe
from ...fileops.walk import walk as tree
from ..errors import ToolError

STAMP = ".unitax-remap.json"
LOCK = ".unitax-remap.lock"
FAILED = ".unitax-remap-failed.tsv"
LEDGER = ".unitax-remap-ledger.jsonl"
#: the most a stamp, or one ledger line, may hold when read back (unitax.fileops.jsonio bounds the depth too)
STAMP_LIMIT = 1 << 20
LINE_LIMIT = 1 << 16
BOOKKEEPING = (STAMP, LOCK, FAILED, LEDGER)


class BatchError(ToolError):
    """A batch job cannot start or go on (a refused or locked output folder, a dead worker, no cluster)."""


@dataclass(frozen=True)
class Outcome:
    """What a step did with one task: done (with its identity, for the ledger), or failed with a reason."""

    rel: str
    ok: bool
    reason: str = ""
    ident: dict[str, Any] | None = None  # for the ledger: the sources read and the outputs written


class Task(Protocol):
    """A unit of work: what the step needs for one file or sample, named by ``rel`` in reports."""

    @property
    def rel(self) -> str: ...


T = TypeVar("T", bound=Task)
T_contra = TypeVar("T_contra", bound=Task, contravariant=True)


class Step(Protocol[T_contra]):
    """Does one task (in a worker process: picklable, needs only numpy, Pillow and unitax)."""

    def __call__(self, task: T_contra, /) -> Outcome: ...


@dataclass
class Work(Generic[T]):
    """A planned job: the step, the tasks left, the output folder and the job's stamp, and what
    planning decided already (files found, outputs done before, files refused)."""

    step: Step[T]
    tasks: list[T]
    dst: Path
    stamp: dict[str, Any]
    files: int
    skipped: int
    failed: list[Outcome] = field(default_factory=list)


@dataclass(frozen=True)
class Summary:
    """What a run did: files found, written, skipped (done before), failed (with reasons)."""

    files: int
    written: int
    skipped: int
    failed: list[Outcome]
    seconds: float
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


def job_id(stamp: dict[str, Any]) -> str:
    """The hash that marks a job's ledger entries: of its stamp."""
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()


# ----- the walk ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Walk:
    """Files below a root: those taken, those found but refused (with why), how many others the pattern left out."""

    files: list[str]
    problems: list[Outcome]
    others: int


def walk(root: Path, pattern: str) -> Walk:
    """Files matching ``pattern`` below ``root``, as POSIX paths relative to it, sorted per folder.

    Symlinked folders are followed, each real folder once (:func:`unitax.fileops.walk.walk`); a link
    back to a folder already walked (a loop), a broken link, a FIFO or other special file matching
    the pattern, and a folder that cannot be read are problems, never skipped silently. Temporary
    files are passed over."""
    out: list[str] = []
    problems: list[Outcome] = []
    others = 0
    for e in tree(root, follow_links=True):
        why = e.error.strerror or e.error if e.error is not None else ""
        if e.unlisted:
            problems.append(Outcome(e.rel, False, f"folder cannot be read: {why}; its files were not processed"))
        elif e.folder:
            if e.st is None:
                problems.append(Outcome(e.rel, False, f"folder cannot be entered: {why}"))
            elif e.walked_as is not None:
                problems.append(Outcome(e.rel, False, f"symlinked folder leads to {e.walked_as}, walked already "
                                                      "(a symlink loop or a second link); not followed"))
        elif TMP_MARK in os.path.basename(e.path):
            continue
        elif not fnmatch.fnmatch(os.path.basename(e.path), pattern):
            others += 1
        elif e.st is None:
            problems.append(Outcome(e.rel, False, f"{'broken symlink' if os.path.islink(e.path) else 'cannot stat'}: "
                                                  f"{why}"))
        elif stat.S_ISREG(e.st.st_mode):
            out.append(e.rel)
        elif not stat.S_ISDIR(e.st.st_mode):
            problems.append(Outcome(e.rel, False, f"is {describe(e.st.st_mode)}, not an image file; not read"))
    return Walk(out, problems, others)


# ----- the job store ----------------------------------------------------------------------------


def overlaps(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one folder, or one lies inside the other (links resolved)."""
    a, b = a.resolve(), b.resolve()
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def check_dst(dst: Path) -> str:
    """Refuse a DST a batch job may not write into: anything but absent, empty, or its own earlier job."""
    try:
        st = os.stat(dst)
    except FileNotFoundError:
        if os.path.islink(dst):
            raise BatchError(f"{dst} is a dangling symlink; give a folder") from None
        return "new"
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise BatchError(f"{dst} is a symlink loop; give a folder") from None
        raise BatchError(f"{dst}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise BatchError(f"{dst} exists and is not a folder; give a new or empty folder")
    try:
        names = set(os.listdir(dst))
    except OSError as e:
        raise BatchError(f"{dst} cannot be read: {e.strerror or e}") from None
    if not os.access(dst, os.W_OK | os.X_OK):
        raise BatchError(f"{dst} is not writable")
    if not names:
        return "empty"
    if STAMP in names or names <= set(BOOKKEEPING):
        return "ours"
    raise BatchError(f"{dst} is not empty and holds no remap-dir job ({STAMP}); refusing to write into it: "
                     "give a new or empty folder (remap-dir writes only where it wrote before)")


def read_ledger(dst: Path, job: str) -> dict[str, dict[str, Any]]:
    """The tasks job ``job`` (:func:`job_id`) finished: rel -> the identity its step recorded (last entry wins).

    A line torn by a kill is ignored; entries of another job are ignored."""
    out: dict[str, dict[str, Any]] = {}
    try:
        text = (Path(dst) / LEDGER).read_text("utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            e = jsonio.loads(line, max_bytes=LINE_LIMIT)  # a damaged line (even 100,000 '[') is skipped
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("job") == job and isinstance(e.get("rel"), str):
            out[e["rel"]] = e
    return out


def same_file(path: str | None, ident: dict[str, Any] | None, content: bool = True, *, follow: bool = True) -> bool:
    """``path`` still has the size and mtime_ns (and, with ``content``, the sha256) of a ledger identity;
    two absent ones (None, None) agree. ``follow=False``: the path itself (a link), not what it names."""
    if path is None or not isinstance(ident, dict):
        return path is None and ident is None
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return False
    if st.st_size != ident.get("size") or st.st_mtime_ns != ident.get("mtime_ns"):
        return False
    if not content:
        return True
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest() == ident.get("sha256")
    except OSError:
        return False


def sweep(dst: Path) -> None:
    """Remove the temporary files a killed writer left under ``dst`` (only while none is writing)."""
    for e in tree(dst, stats=False):
        if not e.folder and TMP_MARK in os.path.basename(e.path):
            try:
                os.unlink(e.path)
            except OSError:
                pass


class Store:
    """Holds DST's lock for a run, checks/writes the job stamp, keeps the ledger, sweeps leftover temporaries."""

    def __init__(self, dst: Path, stamp: dict[str, Any], overwrite: bool):
        self.dst, self.stamp, self.overwrite = dst, stamp, overwrite
        self.job = job_id(stamp)
        self.fd: int | None = None
        self.ledger: TextIO | None = None

    def __enter__(self) -> Store:
        import fcntl

        dst = self.dst
        check_dst(dst)
        try:
            dst.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(dst / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise BatchError(f"cannot write {dst}: {e.strerror or e}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            self.fd = None
            raise BatchError(f"another remap-dir is writing {dst} (it holds {dst / LOCK})") from None
        stamp_path = dst / STAMP
        if stamp_path.exists() and not self.overwrite:
            try:
                old = jsonio.load(stamp_path, max_bytes=STAMP_LIMIT)
            except (OSError, ValueError):   # damaged, or not a file (never read): not this job's
                old = None
            if old != self.stamp:
                self.__exit__(None, None, None)
                diff = "" if not isinstance(old, dict) else ", ".join(
                    f"{k}: {old.get(k)!r} then, {v!r} now" for k, v in self.stamp.items() if old.get(k) != v)
                raise BatchError(f"{dst} holds the output of a different job ({diff or 'unreadable stamp'}); "
                                 "write to another folder, or pass --overwrite to redo every file")
        write_atomic(stamp_path, json.dumps(self.stamp, indent=1, sort_keys=True) + "\n")
        # the ledger keeps only this job's entries (rewritten atomically); finished tasks are appended
        kept = {} if self.overwrite else read_ledger(dst, self.job)
        write_atomic(dst / LEDGER, "".join(json.dumps(e, sort_keys=True) + "\n" for e in kept.values()))
        self.ledger = open(dst / LEDGER, "a", encoding="utf-8")
        sweep(dst)
        return self

    def record(self, outcomes: list[Outcome]) -> None:
        """Append the tasks just finished to the ledger (one flushed line each; a torn line is ignored)."""
        lines = "".join(json.dumps({"job": self.job, "rel": o.rel, **o.ident}, sort_keys=True) + "\n"
                        for o in outcomes if o.ok and o.ident is not None)
        if lines and self.ledger is not None:
            self.ledger.write(lines)
            self.ledger.flush()

    def write_failures(self, failed: list[Outcome]) -> None:
        """The failures TSV: one row per failed task, sorted (removed when none failed)."""
        p = self.dst / FAILED
        if not failed:
            p.unlink(missing_ok=True)
            return
        text = io.StringIO(newline="")
        w = csv.writer(text, delimiter="\t", lineterminator="\n")
        for o in sorted(failed, key=lambda o: o.rel):
            w.writerow([sheet_cell(o.rel), sheet_cell(o.reason)])  # a name starting '=' is no formula
        # a file name that is not UTF-8 (undecodable bytes, held as surrogates) is written as its own bytes
        write_atomic(p, text.getvalue().encode("utf-8", "surrogateescape"))

    def __exit__(self, *exc: object) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None


def output_files(dst: Path) -> Iterable[Path]:
    """The output files of a job's folder (its bookkeeping files left out)."""
    for p in sorted(Path(dst).rglob("*")):
        if p.is_file() and p.name not in BOOKKEEPING and TMP_MARK not in p.name:
            yield p


def read_failures(dst: Path) -> list[tuple[str, str]]:
    """The failed-files TSV as (rel, reason) pairs (csv quoting: names with tabs/newlines round-trip;
    a name that is not UTF-8 comes back as the same surrogate-escaped str)."""
    with open(Path(dst) / FAILED, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return [(sheet_value(r[0]), sheet_value(r[1])) for r in csv.reader(f, delimiter="\t")]


# ----- the progress bar -------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a terminal (rate, ETA); on a pipe, a line every ``every`` seconds."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True, every: float = 10.0,
                 name: str = "remap-dir"):
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled and total > 0
        self.name = name
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.1 if self.tty else every
        self.start = self.last = time.monotonic()
        self.done = self.failed = 0
        self._drawn: tuple[int, int] | None = None

    def update(self, done: int, failed: int) -> None:
        self.done, self.failed = done, failed
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every or done == self.total):
            self.last = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        width = 24
        fill = int(width * self.done / self.total) if self.total else width
        bar = "#" * fill + "-" * (width - fill)
        eta_s = "--:--" if eta == float("inf") else _clock(eta)
        fail = f"  {self.failed} failed" if self.failed else ""
        return (f"{self.name} [{bar}] {self.done}/{self.total} {100 * self.done / max(self.total, 1):5.1f}%  "
                f"{rate:7.1f} files/s  elapsed {_clock(elapsed)}  ETA {eta_s}{fail}")

    def _draw(self, now: float) -> None:
        self._drawn = (self.done, self.failed)
        text = self.line(now)
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            if self._drawn != (self.done, self.failed):
                self._draw(time.monotonic())
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# ----- the runner -------------------------------------------------------------------------------


def run_batch(step: Step[T], tasks: list[T]) -> list[Outcome]:
    """Do a batch of tasks (the unit of work of the pool and of the cluster)."""
    out = []
    for t in tasks:
        try:
            out.append(step(t))
        except Exception as e:  # a bug or an odd file must not take the batch down with it
            out.append(Outcome(t.rel, False, f"internal error: {type(e).__name__}: {e}"))
    return out


_STEP: Step[Any] | None = None


def _init_worker(step: Step[Any]) -> None:
    import signal

    global _STEP
    _STEP = step
    os.environ.setdefault("UNITAX_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops handing out work


def _run_batch_here(tasks: list[Any]) -> list[Outcome]:
    assert _STEP is not None
    return run_batch(_STEP, tasks)


def _batches(tasks: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(tasks), size):
        yield tasks[i: i + size]


def run(work: Work[T], *, workers: int | None = None, scheduler: str | None = None,
        progress: Progress | None = None, batch_size: int | None = None, overwrite: bool = False,
        on_batch: Callable[[list[Outcome]], None] | None = None) -> Summary:
    """Run a planned job: in this process (``workers=1``), on a local process pool (default: all cores),
    or on the Dask cluster whose scheduler listens at ``scheduler``; ``on_batch`` sees every batch's outcomes.

    A KeyboardInterrupt stops the run (pending work cancelled, finished outputs kept) and is
    reported as ``Summary.interrupted``; a dead worker raises :class:`BatchError` (the finished
    work is kept in the ledger).
    """
    start = time.monotonic()
    tasks = work.tasks
    workers = workers or os.cpu_count() or 1
    failed = list(work.failed)
    written = 0
    interrupted = False
    with Store(work.dst, work.stamp, overwrite) as store:
        if batch_size is None:
            slots = workers if scheduler is None else 64
            batch_size = max(1, min(64, len(tasks) // (slots * 8) or 1))
        batches = list(_batches(tasks, batch_size))

        def take(outcomes: list[Outcome]) -> None:
            nonlocal written
            store.record(outcomes)
            for o in outcomes:
                if o.ok:
                    written += 1
                else:
                    failed.append(o)
            if progress is not None:
                progress.update(written + len(failed) - len(work.failed), len(failed))
            if on_batch is not None:
                on_batch(outcomes)

        try:
            if scheduler is not None:
                _run_dask(work.step, batches, scheduler, take)
            elif workers == 1 or len(batches) <= 1:
                for b in batches:
                    take(run_batch(work.step, b))
            else:
                _run_pool(work.step, batches, workers, take, work.dst)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if progress is not None:
                progress.close()
        store.write_failures(failed)
    return Summary(work.files, written, work.skipped, failed, time.monotonic() - start, interrupted)


def _run_pool(step: Step[T], batches: list[list[T]], workers: int, take: Callable[[list[Outcome]], None],
              dst: Path) -> None:
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=min(workers, len(batches)), initializer=_init_worker, initargs=(step,))
    pending: set[Future[list[Outcome]]] = set()
    try:
        # a bounded number of batches in flight, so that an interrupt has little to wait for
        it = iter(batches)
        for b in it:
            pending.add(pool.submit(_run_batch_here, b))
            if len(pending) >= workers * 2:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                take(f.result())
                more = next(it, None)
                if more is not None:
                    pending.add(pool.submit(_run_batch_here, more))
    except KeyboardInterrupt:
        # Ctrl-C: workers ignore it and finish the batch in hand; count what they finish
        # (a second Ctrl-C stops waiting)
        pool.shutdown(wait=True, cancel_futures=True)
        for f in pending:
            if f.done() and not f.cancelled() and f.exception() is None:
                take(f.result())
        raise
    except BrokenProcessPool:
        # a worker was killed (SIGKILL from the out-of-memory killer) or crashed: the pool ended
        # every worker; what the ledger holds is finished, the rest is redone by a rerun
        pool.shutdown(wait=True, cancel_futures=True)
        sweep(dst)  # the dead worker's temporary file
        raise BatchError("a worker process died (killed by a signal, e.g. by the out-of-memory killer, or "
                         "crashed); the files finished so far are kept: rerun the same command to resume"
                         + ("" if workers <= 1 else ", with fewer workers (-j) if memory ran out")) from None
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(step: Step[T], batches: list[list[T]], address: str, take: Callable[[list[Outcome]], None]) -> None:
    import importlib

    try:  # untyped: reached through Any
        distributed: Any = importlib.import_module("distributed")
        Client, as_completed = distributed.Client, distributed.as_completed
    except ImportError:
        raise BatchError("--scheduler needs Dask distributed: pip install 'unitax[cluster]'") from None
    try:
        client = Client(address, timeout="30s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise BatchError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    futures: list[Any] = []
    try:
        step_f = client.scatter(step, broadcast=True, hash=False)
        futures = [client.submit(run_batch, step_f, b, pure=False) for b in batches]
        by_future = dict(zip(futures, batches, strict=True))
        for fut in as_completed(futures, loop=client.loop):
            try:
                outcomes = fut.result()
            except Exception as e:  # a worker died or could not import unitax
                outcomes = [Outcome(t.rel, False, f"cluster task failed: {type(e).__name__}: {e}")
                            for t in by_future[fut]]
            take(outcomes)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        client.close()
