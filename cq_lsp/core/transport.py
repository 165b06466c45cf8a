"""Huey as the transport: tasks carry only (path, sha); the ledger holds the truth.

Imported lazily (``import huey`` costs ~50 ms, ~140 ms with redis-py installed), so commands that
only read the index never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cq_lsp.errors import ConfigError, CqLspError
from cq_lsp.store.db import _INHERITED

if TYPE_CHECKING:
    from huey import Huey

    from cq_lsp.config.schema import Config
    from cq_lsp.worktree.project import Project

TASK_NAME = "cq.document"  # args (rel, sha): one job
BATCH_TASK_NAME = "cq.document_batch"  # args ([[rel, sha], ...],): several jobs, one claim/commit
# Each retry of a failed job waits this many times longer than the one before.
RETRY_BACKOFF = 2
# Handler called in the worker with the (rel, sha) jobs of one task.
Handler = Callable[[list[tuple[str, str]]], None]
Job = tuple[str, str]


def retry_delay(base_s: float, attempts: int) -> float:
    """Delay before the next attempt of a job that failed ``attempts`` times: base, 2×, 4× ..."""
    return float(base_s) * RETRY_BACKOFF ** max(0, attempts - 1)


def chunks(jobs: Sequence[Job], batch_size: int, workers: int) -> list[list[Job]]:
    """Split jobs into tasks of at most ``batch_size``, and into at least ``workers`` tasks when
    there are that many jobs, so a few files are still documented in parallel."""
    if not jobs:
        return []
    size = max(1, min(batch_size, -(-len(jobs) // max(1, workers))))
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


def import_huey(backend: str) -> None:
    """Import huey, without redis-py unless the Redis backend needs it.

    huey.storage try-imports redis-py when it is imported: ~100 ms on every `cq-lsp index`,
    hook and worker start, for a backend they do not use. If neither is imported yet, that
    import is made to fail (huey then leaves its Redis names None); :func:`_enable_redis`
    fills them in should this process need Redis after all (a server with two work trees).
    """
    import sys

    if backend == "redis" or "huey" in sys.modules or "redis" in sys.modules:
        return
    sys.modules["redis"] = None  # type: ignore[assignment]  # `import redis` now raises
    try:
        import huey  # noqa: F401
    finally:
        del sys.modules["redis"]


def _enable_redis() -> None:
    import huey.storage as storage

    if storage.Redis is not None:
        return
    try:
        import redis
        from redis.exceptions import ConnectionError, TimeoutError
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "queue.backend is redis but redis-py is not installed",
            hint="pip install 'cq-lsp[redis]'",
        ) from exc
    # The names huey.storage binds when redis-py imports (3.x), and the client class its
    # RedisStorage took from them; tests/core/test_queue_contract.py checks both backends in one
    # process.
    storage.ConnectionPool = redis.ConnectionPool
    storage.Redis = redis.Redis
    storage.ConnectionError = ConnectionError
    storage.TimeoutError = TimeoutError
    if storage.RedisStorage.redis_client is None:
        storage.RedisStorage.redis_client = redis.Redis


def _make_huey(project: Project, config: Config) -> Huey:
    import_huey(config.queue.backend)
    if config.queue.backend == "redis":
        _enable_redis()
        # One queue per work tree on a shared server: the name carries the root.
        import hashlib

        from huey import RedisHuey

        tag = hashlib.sha1(str(project.root).encode()).hexdigest()[:12]
        return RedisHuey(f"cq-lsp-{tag}", url=config.queue.url, results=False)
    from huey import SqliteHuey

    # An absolute filename: each process's cwd differs (hooks, editor, CLI). fsync=False: the
    # queue need not survive a power cut, because the ledger (index.db) is the truth and every
    # worker re-sends queued jobs the queue lost; an fsync per enqueue and dequeue costs ~4x.
    return SqliteHuey(
        "cq-lsp", filename=str(project.queue_db), results=False, timeout=30, fsync=False
    )


class QueueUnavailable(CqLspError):
    """The queue (queue.db or the Redis server) could not be read or written.

    Jobs are recorded in the ledger before they are sent, so none is lost: a worker re-sends
    queued jobs the queue does not hold when it starts, and every few seconds while it runs.
    """


class Transport:
    """The queue between producers and the worker.

    Jobs travel in batches of up to ``processing.batch_size``: the worker claims and commits a
    batch in one index.db transaction each, and the queue handles a fifth of the tasks. Retries
    are the ledger's business (attempts are counted there and survive a kill -9), so the Huey
    tasks themselves never retry.
    """

    def __init__(self, project: Project, config: Config, handler: Handler | None = None) -> None:
        self.where = config.queue.url if config.queue.backend == "redis" else str(project.queue_db)
        self.backend = config.queue.backend
        with self.errors():
            self.huey = _make_huey(project, config)
        self._handler = handler
        self.batch_size = config.processing.batch_size
        self.workers = config.worker.threads

        @self.huey.task(name=TASK_NAME)
        def document(rel: str, sha: str) -> None:
            self._run([(rel, sha)])

        @self.huey.task(name=BATCH_TASK_NAME)
        def document_batch(jobs: list[list[str]]) -> None:
            self._run([(rel, sha) for rel, sha in jobs])

        self._task = document
        self._batch_task = document_batch

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn the backend's connection and storage errors into a QueueUnavailable that says
        what is wrong, what to do, and that no job was lost."""
        import sqlite3

        kinds: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
        if self.backend == "redis":
            from redis.exceptions import ConnectionError, TimeoutError

            kinds = (ConnectionError, TimeoutError)
        try:
            yield
        except kinds as exc:
            text = " ".join(str(exc).split())
            if self.backend == "redis":
                hint = (
                    "start the Redis server or fix queue.url (`cq-lsp config set queue.url "
                    "redis://HOST:PORT/DB`); no job was lost: the jobs stay queued in the ledger "
                    "and are sent when a worker starts"
                )
                what = f"the Redis queue at {self.where} is unreachable: {text}"
            else:
                hint = (
                    "free some disk space, or make .code-query/ writable, or end the program "
                    "that locks queue.db; no job was lost: the jobs stay queued in the ledger "
                    "and are sent when a worker starts"
                )
                what = f"the queue {self.where} cannot be used: {text}"
            raise QueueUnavailable(what, hint=hint) from exc

    def _run(self, jobs: list[Job]) -> None:
        if self._handler is None:  # pragma: no cover - a producer never runs tasks
            raise RuntimeError("cq.document ran outside a worker")
        self._handler(jobs)

    def after_fork(self) -> None:
        """In a forked child: a new queue connection instead of the parent's copy (SQLite).

        Redis needs nothing: redis-py's pool notices the new pid and reconnects by itself.
        """
        import threading

        storage = self.huey.storage
        conn = getattr(storage, "_conn", None)
        if conn is not None:
            _INHERITED.append(conn)  # never closed by the child: that could disturb the parent
            storage._conn = None
        if hasattr(storage, "lock"):
            storage.lock = threading.Lock()  # another thread of the parent may have held it

    def serve(self, handler: Handler) -> None:
        """Make this process a worker: tasks taken off the queue go to ``handler``."""
        self._handler = handler

    def send(self, items: Iterable[tuple[str, str, float]]) -> int:
        """Put (rel, sha, delay_s) jobs on the queue in batches; delayed ones wait in Huey's
        schedule. All tasks of one call are written in one queue transaction."""
        by_delay: dict[float, list[Job]] = {}
        for rel, sha, delay in items:
            by_delay.setdefault(max(0.0, float(delay)), []).append((rel, sha))
        tasks: list[Any] = []
        for delay, jobs in by_delay.items():
            extra = {"delay": delay} if delay > 0 else {}
            for chunk in chunks(jobs, self.batch_size, self.workers):
                if len(chunk) == 1:
                    tasks.append(self._task.s(*chunk[0], **extra))
                else:
                    tasks.append(self._batch_task.s([list(j) for j in chunk], **extra))
        with self.errors():
            self._enqueue_all(tasks)
        return sum(len(jobs) for jobs in by_delay.values())

    def _enqueue_all(self, tasks: Sequence[Any]) -> None:
        """One write for many tasks. Huey enqueues one task per transaction (SQLite) or round
        trip (Redis): 1,800 files cost 0.2 s that way. The rows written are exactly the ones
        ``Storage.enqueue`` writes (Huey 3.x), so its consumer reads them as usual."""
        if not tasks:
            return
        from huey.storage import RedisStorage, SqliteStorage

        huey = self.huey
        storage = huey.storage
        if len(tasks) == 1 or not isinstance(storage, SqliteStorage | RedisStorage):
            for task in tasks:
                huey.enqueue(task)
            return
        data = [huey.serialize_task(t) for t in tasks]
        if isinstance(storage, SqliteStorage):
            with storage.db(commit=True) as curs:
                curs.executemany(
                    "insert into task (queue, data, priority) values (?, ?, ?)",
                    [(storage.name, storage.to_blob(d), 0) for d in data],
                )
        else:
            # LPUSH of several values keeps FIFO: the consumer pops from the other end.
            storage.conn.lpush(storage.queue_key, *data)

    def pending_list(self) -> list[Job]:
        """(rel, sha) of every job waiting on the queue or the schedule, duplicates included."""
        found: list[Job] = []
        with self.errors():
            tasks = [*self.huey.pending(), *self.huey.scheduled()]
        for task in tasks:
            found.extend(task_jobs(task))
        return found

    def pending_jobs(self) -> set[Job]:
        """(rel, sha) of every job waiting on the queue or on the schedule."""
        return set(self.pending_list())

    def pending_count(self) -> int:
        """Tasks (not jobs) waiting: 0 means the queue holds nothing at all."""
        with self.errors():
            return int(self.huey.pending_count()) + int(self.huey.scheduled_count())


def task_jobs(task: Any) -> list[Job]:
    """The (rel, sha) jobs a queued Huey task carries; none for a task that is not ours."""
    name = getattr(task, "name", None)
    args: Sequence[Any] = getattr(task, "args", None) or ()
    if name == TASK_NAME and len(args) >= 2:
        return [(args[0], args[1])]
    if name == BATCH_TASK_NAME and args:
        return [(j[0], j[1]) for j in args[0] if len(j) >= 2]
    return []
