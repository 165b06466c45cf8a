"""`cq-lsp worker run`: the Huey consumer for one work tree, in the foreground.

Before consuming it recovers (jobs a dead worker left running, queued jobs Huey lost). While it
runs it beats a heartbeat file, and it exits by itself after ``worker.idle_exit_s`` with nothing to
do, so nothing keeps running after the editor closes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cq_lsp.core.runner import JobRunner
from cq_lsp.core.supervisor import (
    HEARTBEAT_EVERY_S,
    find_worker,
    read_worker_json,
    state_identity,
    worker_identity,
    write_worker_json,
)
from cq_lsp.core.transport import import_huey
from cq_lsp.core.workspace import Workspace
from cq_lsp.errors import WorkerError
from cq_lsp.store import documentation as index  # noqa: F401  (imported by every commit)
from cq_lsp.store.db import QUEUE_FREE_SHARE, truncate_wal
from cq_lsp.worker.orphans import die_with_parent

if TYPE_CHECKING:
    from huey.consumer import Consumer

    from cq_lsp.core.runner import JobRunner

log = logging.getLogger("cq_lsp.worker.consumer")

# Empty-queue polling: start at 50 ms, back off to at most 250 ms, so an idle worker picks up new
# work within 0.5 s while costing well under 1 % CPU.
POLL_INITIAL_S = 0.05
POLL_MAX_S = 0.25
# worker.threads parallel workers are forked processes where fork exists: tree-sitter parsing and
# the Python around it hold the GIL, so two threads document barely faster than one (measured on
# CPython's Lib/: 138 files/s with 2 threads, 263 with 2 processes). CQ_LSP_WORKER_TYPE overrides.
DEFAULT_WORKER_TYPE = "process" if hasattr(os, "fork") and sys.platform != "darwin" else "thread"
# How often a running worker looks for queued jobs that never reached the queue.
RECONCILE_EVERY_S = 5.0
# How long the worker's exit waits for its forked workers (a graceful stop lets running jobs
# finish this long), after which they are interrupted and then killed. Below the supervisor's
# STOP_GRACE_S, so `worker stop` normally sees a clean exit. Without a bound a worker whose
# children never saw the stop flag (an exception in its own loop) waited for them forever,
# holding worker.lock with no worker.json: nothing could start, stop or find it.
SHUTDOWN_BOUND_S = 8.0
KILL_AFTER_S = 2.0


class LockFile:
    """worker.lock, held: its content names the holder, so `worker status` and `worker stop`
    find a worker whose worker.json is gone (it is exiting, or stuck)."""

    def __init__(self, fh: IO[str], ws: Workspace) -> None:
        self._fh = fh
        self._ws = ws
        self._info: dict[str, Any] = {}

    def describe(self, **extra: Any) -> None:
        self._info = {**(self._info or worker_identity(self._ws.project)), **extra}
        try:
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.write(json.dumps(self._info))
            self._fh.flush()
        except OSError:  # a full disk: the lock itself still holds
            log.warning("could not write the worker's identity into worker.lock", exc_info=True)


@contextmanager
def worker_lock(ws: Workspace) -> Iterator[LockFile]:
    """One worker per work tree: an exclusive lock on .code-query/worker.lock, held while we run."""
    path = ws.project.worker_lock
    fh: IO[str] = open(path, "a+")
    try:
        try:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            other = find_worker(ws.project)
            raise WorkerError(
                f"another worker already runs for {ws.project.root}"
                + (f" (pid {other[0]['pid']})" if other else ""),
                hint="`cq-lsp worker status` shows it; `cq-lsp worker stop` stops it",
            ) from None
        lock = LockFile(fh, ws)
        lock.describe()
        yield lock
    finally:
        fh.close()


def _beat(ws: Workspace) -> None:
    hb = ws.project.heartbeat_file
    try:
        os.utime(hb)
    except FileNotFoundError:
        hb.touch()


def run_worker(
    ws: Workspace, *, threads: int | None = None, idle_exit_s: float | None = None
) -> int:
    """Run the consumer until a signal, or until idle for ``idle_exit_s`` (0: never)."""

    cfg = ws.config
    import_huey(cfg.queue.backend)
    from huey.consumer import ConsumerStopped

    threads = threads or cfg.worker.threads
    idle_exit_s = cfg.worker.idle_exit_s if idle_exit_s is None else idle_exit_s
    ws.project.ensure_state_dir()
    with worker_lock(ws) as lock:
        home = state_identity(ws.project)
        ws.project.heartbeat_file.unlink(missing_ok=True)
        write_worker_json(ws.project, threads=threads)
        try:
            resent = ws.resend_missing()
            if resent:
                log.info("recovery: re-queued %d job(s) a previous worker left unfinished", resent)
            runner = JobRunner(ws)
            runner.wait_for_storage = True  # a full disk or a locked index.db pauses, not fails
            ws.transport.serve(runner.run_batch)
            _warm_up(runner)
            # Huey logs two INFO lines per task; at ~300 files/s that is most of the log and a
            # measurable share of the time. Its consumer's start and stop lines stay.
            logging.getLogger("huey").setLevel(logging.WARNING)
            logging.getLogger("huey.consumer").setLevel(logging.INFO)
            worker_type = os.environ.get("CQ_LSP_WORKER_TYPE") or DEFAULT_WORKER_TYPE
            if worker_type == "process":
                # Forked workers must not share this process's SQLite connections.
                ws.db.close()
                # Objects that exist now are left out of garbage collection, so the forked
                # workers' collections do not write to (and so copy) every page they share.
                import gc

                gc.collect()
                gc.freeze()

            def after_fork() -> None:
                # The parent keeps using both databases (heartbeat, reconcile, the inline
                # scheduler) and may fork again to replace a dead worker process.
                ws.db.after_fork()
                ws.transport.after_fork()

            consumer = _consumer_class(lambda: _release_memory(ws), after_fork)(
                ws.transport.huey,
                workers=threads,
                worker_type=worker_type,
                periodic=False,
                initial_delay=POLL_INITIAL_S,
                max_delay=POLL_MAX_S,
                backoff=1.5,
                check_worker_health=True,
                health_check_interval=5,
                shutdown_timeout=SHUTDOWN_BOUND_S,
            )
            index_id = _file_identity(ws.project.index_db)
            consumer.start()
            try:
                _beat(ws)
                log.info(
                    "worker %d running for %s with %d thread(s)",
                    os.getpid(),
                    ws.project.root,
                    threads,
                )
                last_beat = last_busy = last_reconcile = time.monotonic()
                health_ts = time.monotonic()
                while True:
                    try:
                        health_ts = consumer.loop(health_ts)
                    except ConsumerStopped:
                        break
                    if isinstance(consumer.scheduler, _InlineScheduler):
                        consumer.scheduler.tick()
                    now = time.monotonic()
                    if now - last_reconcile >= RECONCILE_EVERY_S:
                        last_reconcile = now
                        _reconcile(ws)
                    if now - last_beat >= HEARTBEAT_EVERY_S:
                        moved = _moved_away(ws, home, index_id)
                        if moved:
                            log.warning("%s: this worker exits", moved)
                            lock.describe(stopping=True)
                            consumer.stop(graceful=True)
                            break
                        _beat(ws)
                        last_beat = now
                        if idle_exit_s:
                            if _busy(ws):
                                last_busy = now
                            elif now - last_busy >= idle_exit_s:
                                log.info("idle for %.0f s: exiting", idle_exit_s)
                                lock.describe(stopping=True)
                                consumer.stop(graceful=True)
                                break
                ws.transport.huey.notify_interrupted_tasks()
            except Exception:
                log.exception("the worker stops on an error")
                raise
            finally:
                lock.describe(stopping=True)
                _end_children(consumer)
        finally:
            info = read_worker_json(ws.project)
            if info and info.get("pid") == os.getpid():
                ws.project.worker_json.unlink(missing_ok=True)
            ws.project.heartbeat_file.unlink(missing_ok=True)
    log.info("worker %d stopped", os.getpid())
    return 0


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _moved_away(
    ws: Workspace, home: tuple[int, int] | None, index_id: tuple[int, int] | None
) -> str | None:
    """Why this worker no longer serves its work tree, or None.

    A worker whose .code-query/ was deleted (rm -rf) or replaced would go on polling files no
    one reads, beside the new worker of the new .code-query/; one whose index.db was replaced
    (rebuilt after corruption, restored from a backup) would write into the old file.
    """
    if state_identity(ws.project) != home:
        return f"{ws.project.state_dir} was deleted or replaced"
    if index_id is not None and _file_identity(ws.project.index_db) != index_id:
        return f"{ws.project.index_db} was deleted or replaced"
    return None


def _end_children(consumer: Consumer) -> None:
    """Stop the consumer's workers within a bound, killing those that do not stop.

    Huey's own graceful stop is bounded by ``shutdown_timeout``; this covers every other way
    out of the loop (an exception in it: a corrupt index.db, a lost Redis), where the workers
    never saw the stop flag and Python's exit would wait for them forever.
    """
    consumer.stop_flag.set()
    procs = [p for _, p in consumer.worker_threads]
    deadline = time.monotonic() + KILL_AFTER_S
    for proc in procs:
        proc.join(max(deadline - time.monotonic(), 0))
    for proc in procs:
        kill = getattr(proc, "kill", None)  # processes; threads are daemons and end with us
        if kill is not None and proc.is_alive():
            log.warning("a forked worker (pid %s) did not stop: killing it", proc.pid)
            kill()
            proc.join(KILL_AFTER_S)


def _consumer_class(release: Callable[[], None], after_fork: Callable[[], None]) -> type[Consumer]:
    """Huey's consumer, whose workers call ``release`` when their queue runs dry after work
    and ``after_fork`` first thing in each forked child."""
    from huey.consumer import Consumer, Scheduler, Worker

    class ReleasingWorker(Worker):
        _worked = False

        def loop(self, now: Any = None) -> None:
            before = self.task_count
            super().loop(now)
            if self.task_count != before:
                self._worked = True
            elif self._worked:  # the first empty poll after a busy spell
                self._worked = False
                try:
                    release()
                except Exception:  # only an optimisation
                    log.debug("releasing memory failed", exc_info=True)

    class ReleasingConsumer(Consumer):
        worker_class = ReleasingWorker

        def _create_process(self, process: Any, name: str) -> Any:
            if isinstance(process, Scheduler) and self.environment.forks:
                # Huey would fork a whole process (~27 MB resident) only to move due delayed
                # tasks onto the queue once a second; the worker's own loop does that instead.
                return _InlineScheduler(process)
            # Every forked child ends with this process: a kill -9 of the worker must not
            # leave them polling the queue forever.
            parent = os.getpid()
            initialize = process.initialize

            def initialize_orphan_proof() -> None:
                die_with_parent(parent)
                after_fork()
                initialize()

            process.initialize = initialize_orphan_proof
            return super()._create_process(process, name)

    return ReleasingConsumer


class _InlineScheduler:
    """Huey's scheduler run by the worker's main loop (``tick``) instead of in its own process.

    It quacks like the process Huey would have made (start, join, is_alive), so the consumer's
    start, health check and shutdown need no change. No thread either: the worker forks its
    workers, and a fork while another thread holds a lock can deadlock the child.
    """

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self._next = 0.0

    def start(self) -> None:
        self.scheduler.initialize()

    def join(self, timeout: float | None = None) -> None:
        return None

    def is_alive(self) -> bool:
        # Alive until the stop flag is set, so a graceful stop does not wait out the whole
        # shutdown bound for a "process" that never exits.
        return not self.scheduler.stop_flag.is_set()

    def tick(self) -> None:
        """Move delayed tasks that are due onto the queue (at most once a second)."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.scheduler.interval
        try:
            due = self.scheduler.huey.read_schedule()
        except Exception:
            log.exception("reading the schedule failed")
            return
        for task in due:
            try:
                self.scheduler.huey.enqueue(task)
            except Exception:
                log.exception("moving a delayed task onto the queue failed")


def _release_memory(ws: Workspace) -> None:
    """Give back what documenting a burst of files left allocated in this worker process:
    Python's garbage, SQLite's page cache and glibc's free heap (each worker process held ~18 MB
    of its own after CPython's Lib/, for nothing while idle)."""
    import gc

    gc.collect()
    ws.db.shrink_memory()
    # The -wal files grew with the burst and only a checkpoint gives that space back.
    truncate_wal(ws.db.path)
    truncate_wal(ws.project.queue_db, vacuum_free_share=QUEUE_FREE_SHARE)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def _warm_up(runner: JobRunner) -> None:
    """Import and build what documenting needs (grammars, queries, the index code) once, before
    the consumer forks: each worker process then starts at once and shares those pages."""
    try:
        if runner.selection.uses_llm or runner.selection.refusal is not None:
            return  # never call a program just to warm up
        sample = '"""Warm-up."""\n\nimport os\n\n\ndef f(x: int) -> int:\n    return x\n'
        runner.documenter.document("warm_up.py", sample, "python", runner.context)
    except Exception:  # only an optimisation: the first real job pays instead
        log.debug("warm-up failed", exc_info=True)


def _busy(ws: Workspace) -> bool:
    counts = ws.ledger.counts()
    return bool(counts["queued"] or counts["running"]) or ws.transport.pending_count() > 0


def _reconcile(ws: Workspace) -> None:
    """Re-send jobs that no live process holds and the queue does not carry.

    Jobs a killed worker child left running (Huey forks a new one; the jobs would wait for the
    next worker start), and queued jobs missing from an empty queue (a producer killed between
    its ledger commit and its send). Sending one twice is harmless: the second claim fails.
    """
    try:
        orphans = ws.ledger.requeue_dead()
        if orphans:
            log.info("re-sending %d job(s) whose worker process died", len(orphans))
            ws.transport.send((rel, sha, 0.0) for rel, sha in orphans)
        if ws.transport.pending_count() > 0:
            return
        stranded = ws.ledger.stranded(older_than_s=RECONCILE_EVERY_S)
        if stranded:
            log.info("re-sending %d queued job(s) missing from the queue", len(stranded))
            ws.transport.send((rel, sha, 0.0) for rel, sha in stranded)
    except Exception:  # never let bookkeeping kill the worker
        log.exception("reconciling the ledger with the queue failed")
