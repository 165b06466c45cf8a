"""Huey as the transport: tasks carry only (path, sha); the ledger holds the truth.

Imported lazily (``import huey`` costs ~50 ms, ~140 ms with redis-py installed), so commands that
only read the index never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from cq_lsp.errors import ConfigError

if TYPE_CHECKING:
    from huey import Huey

    from cq_lsp.config import Config
    from cq_lsp.project import Project

TASK_NAME = "cq.document"
# Handler called in the worker: (rel, sha, retries_left) -> None.
Handler = Callable[[str, str, int], None]


def _make_huey(project: Project, config: Config) -> Huey:
    if config.queue.backend == "redis":
        try:
            from huey import RedisHuey
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                "queue.backend is redis but redis-py is not installed",
                hint="pip install 'cq-lsp[redis]'",
            ) from exc
        # One queue per work tree on a shared server: the name carries the root.
        import hashlib

        tag = hashlib.sha1(str(project.root).encode()).hexdigest()[:12]
        return RedisHuey(f"cq-lsp-{tag}", url=config.queue.url, results=False)
    from huey import SqliteHuey

    # An absolute filename: each process's cwd differs (hooks, editor, CLI). fsync=False: the
    # queue need not survive a power cut, because the ledger (index.db) is the truth and every
    # worker re-sends queued jobs the queue lost; an fsync per enqueue and dequeue costs ~4x.
    return SqliteHuey(
        "cq-lsp", filename=str(project.queue_db), results=False, timeout=30, fsync=False
    )


class Transport:
    """The queue between producers and the worker."""

    def __init__(self, project: Project, config: Config, handler: Handler | None = None) -> None:
        self.huey = _make_huey(project, config)
        self._handler = handler
        retries = config.processing.max_retries
        delay = config.processing.retry_delay_s

        @self.huey.task(name=TASK_NAME, retries=retries, retry_delay=delay, context=True)
        def document(rel: str, sha: str, task: Any = None) -> None:
            if self._handler is None:  # pragma: no cover - a producer never runs tasks
                raise RuntimeError("cq.document ran outside a worker")
            self._handler(rel, sha, task.retries if task is not None else 0)

        self._task = document

    def serve(self, handler: Handler) -> None:
        """Make this process a worker: tasks taken off the queue go to ``handler``."""
        self._handler = handler

    def send(self, items: Iterable[tuple[str, str, float]]) -> int:
        """Put (rel, sha, delay_s) jobs on the queue; delayed ones go to Huey's schedule."""
        n = 0
        for rel, sha, delay in items:
            if delay > 0:
                self._task.schedule(args=(rel, sha), delay=delay)
            else:
                self._task(rel, sha)
            n += 1
        return n

    def pending_jobs(self) -> set[tuple[str, str]]:
        """(rel, sha) of every task waiting on the queue or on the schedule."""
        found: set[tuple[str, str]] = set()
        for task in [*self.huey.pending(), *self.huey.scheduled()]:
            if getattr(task, "name", None) == TASK_NAME and len(task.args) >= 2:
                found.add((task.args[0], task.args[1]))
        return found

    def pending_count(self) -> int:
        return int(self.huey.pending_count()) + int(self.huey.scheduled_count())
