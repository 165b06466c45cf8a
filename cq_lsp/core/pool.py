"""The worker pool on other machines: one Huey queue on Redis, shared by every user of the pool.

A request carries everything the pool needs, because a pool worker has no checkout: the key the
requester computed, the path, the language, the sha256 of the content and the content itself
(Huey stores the task's arguments in Redis; a result expires with ``RESULT_TTL_S``). The pool
documents with its own documenter settings and answers ``{"fingerprint", "key", "record"}``; the
requester stores the record only under the key IT computes from that fingerprint and the content it
hashed itself, so a pool with other settings can never put a record under a wrong key.

Pool workers announce themselves every few seconds (``cq:pool:worker:<id>``, expiring), with their
documenter fingerprint: a requester only asks a pool whose workers are alive.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cq_lsp.store.team import connect, redacted

log = logging.getLogger(__name__)

QUEUE_NAME = "cq-lsp-pool"
TASK_NAME = "cq.pool.document"
WORKER_PREFIX = "cq:pool:worker:"
# A pool worker renews its announcement this often; it expires after WORKER_TTL_S.
ANNOUNCE_EVERY_S = 3.0
WORKER_TTL_S = 10
# How long a requester trusts its last look at the pool's workers.
SEEN_CACHE_S = 5.0
RESULT_TTL_S = 3600
# A requester's single wait for an answer (below the connection's 10 s socket timeout).
WAIT_STEP_S = 5.0

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def make_huey(url: str, handler: Handler | None = None) -> tuple[Any, Any]:
    """The pool's Huey and its task; ``handler`` (the pool worker's) answers a request."""
    from cq_lsp.core.transport import _enable_redis, import_huey

    import_huey("redis")
    _enable_redis()
    # Imported here: huey and redis-py cost ~140 ms that a user without a pool never pays.
    import redis
    from huey import RedisExpireHuey

    # Bounded: a Redis that stopped answering must not hang a requester or `status`; above
    # huey's 1 s blocking read so an idle pool worker's wait is not an error.
    pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    huey = RedisExpireHuey(QUEUE_NAME, connection_pool=pool, results=True, expire_time=RESULT_TTL_S)

    @huey.task(name=TASK_NAME)
    def document(request: dict[str, Any]) -> dict[str, Any]:
        if handler is None:  # pragma: no cover - requesters never run tasks
            raise RuntimeError("a pool request ran outside a pool worker")
        return handler(request)

    return huey, document


class PoolClient:
    """Sends cache misses to the pool and waits (bounded) for the answer."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._huey: Any = None
        self._task: Any = None
        self._redis: Any = None
        self._lock = threading.Lock()
        self._seen: tuple[float, list[dict[str, Any]]] = (0.0, [])
        self.in_flight = 0
        self.problem: str | None = None

    def _setup(self) -> None:
        if self._huey is None:
            self._huey, self._task = make_huey(self.url)
            self._redis = connect(self.url)

    def workers(self) -> list[dict[str, Any]]:
        """The pool workers alive now (cached for a few seconds); [] when Redis is unreachable."""
        now = time.monotonic()
        at, seen = self._seen
        if now - at < SEEN_CACHE_S:
            return seen
        try:
            with self._lock:
                self._setup()
            seen = live_workers(self._redis)
            self.problem = None
        except Exception as exc:
            seen = []
            if self.problem is None:
                log.warning("pool %s unreachable: %s; documenting locally", redacted(self.url), exc)
            self.problem = f"pool {redacted(self.url)} unreachable; documenting locally"
        self._seen = (now, seen)
        return seen

    def request(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The pool's answer, or None when no worker is alive or none answered in time."""
        if not self.workers():
            return None
        with self._lock:
            self.in_flight += 1
        from huey.exceptions import ResultTimeout

        deadline = time.monotonic() + self.timeout_s
        try:
            result = self._task(request)
            while True:
                # Waits shorter than the socket timeout; a pool that answers nothing within
                # timeout_s has its request revoked (if not yet taken) and the file is ours.
                left = deadline - time.monotonic()
                try:
                    answer = result.get(
                        blocking=True,
                        timeout=max(0.1, min(WAIT_STEP_S, left)),
                        revoke_on_timeout=left <= WAIT_STEP_S,
                    )
                    break
                except ResultTimeout:
                    if left <= WAIT_STEP_S:
                        raise
        except Exception as exc:  # ResultTimeout, redis errors, a failed task
            log.info("pool did not answer for %s (%s); documenting locally", request["path"], exc)
            return None
        finally:
            with self._lock:
                self.in_flight -= 1
        return answer if isinstance(answer, dict) else None


def live_workers(redis: Any) -> list[dict[str, Any]]:
    out = []
    for name in redis.scan_iter(match=WORKER_PREFIX + "*", count=100):
        raw = redis.get(name)
        if raw is None:
            continue
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        if isinstance(info, dict):
            out.append(info)
    return out


_SUMMARIES: dict[str, tuple[float, dict[str, Any]]] = {}
_HUEYS: dict[str, Any] = {}


def pool_summary(url: str) -> dict[str, Any]:
    """For status and doctor: workers seen, requests waiting; time-bounded, and cached for a
    few seconds (the editor asks for the status often)."""
    now = time.monotonic()
    cached = _SUMMARIES.get(url)
    if cached is not None and now - cached[0] < SEEN_CACHE_S:
        return cached[1]
    try:
        huey = _HUEYS.get(url)
        if huey is None:
            huey = _HUEYS[url] = make_huey(url)[0]
        workers = live_workers(connect(url))
        waiting = int(huey.pending_count())
        out = {"url": redacted(url), "workers": len(workers), "waiting": waiting, "error": None}
    except Exception as exc:
        text = " ".join(str(exc).split())[:200]
        out = {"url": redacted(url), "workers": 0, "waiting": None, "error": text}
    _SUMMARIES[url] = (now, out)
    return out
