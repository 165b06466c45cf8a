"""Restarting a crashed or hung worker, with exponential backoff and a point where it stops trying.

A supervising process (the language server) calls ``WorkerWatchdog.check`` with the worker's
status every so often. A crash schedules a restart after 1, 2, 4 … seconds (capped); after
``max_crashes`` crashes within ``window_s`` the watchdog gives up and says why, pointing at the
log, until ``reset()`` (an explicit start by the user).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cq_lsp.worktree.project import Project

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class WorkerWatchdog:
    def __init__(
        self,
        project: Project,
        *,
        base_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        max_crashes: int = 5,
        window_s: float = 300.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.project = project
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_crashes = max_crashes
        self.window_s = window_s
        self._clock = clock
        self._crashes: list[float] = []
        self._retry_at: float | None = None
        self._seen_pid: int | None = None
        #: restarts made by this watchdog since it was created.
        self.restarts = 0
        #: why it stopped trying; None while it still restarts.
        self.gave_up: str | None = None

    @property
    def holding_off(self) -> bool:
        """True while a restart is scheduled for later or the watchdog gave up: nobody else in
        this process should start a worker meanwhile (that would defeat the backoff)."""
        return self.gave_up is not None or self._retry_at is not None

    def reset(self) -> None:
        """Forget past crashes (the user started the worker on purpose)."""
        self._crashes.clear()
        self._retry_at = None
        self.gave_up = None

    def start_failed(self, reason: str) -> None:
        """Starting a worker failed: counts like a crash."""
        self._record_failure(f"the worker did not start: {reason}")

    def _record_failure(self, what: str) -> bool:
        """Count a failure and schedule the retry; True when it is time to give up."""
        now = self._clock()
        self._crashes = [t for t in self._crashes if now - t < self.window_s] + [now]
        if len(self._crashes) >= self.max_crashes:
            self.gave_up = (
                f"the worker failed {len(self._crashes)} times in {int(self.window_s)} s; "
                f"not restarting it. See {self.project.worker_log}, fix the cause, then start "
                "it again (CQ: Start Worker or `cq-lsp worker start`)"
            )
            self._retry_at = None
            log.error("%s (last: %s)", self.gave_up, what)
            return True
        self._retry_at = now + self._delay()
        log.warning("%s; restarting in %.0f s", what, self._retry_at - now)
        return False

    def _delay(self) -> float:
        n = max(1, len(self._crashes))
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (n - 1)))

    def check(
        self,
        worker: dict[str, Any],
        *,
        work_waiting: bool,
        start: Callable[[], Any],
        stop: Callable[[], Any],
    ) -> str | None:
        """Act on the worker's status; returns what it did ("restarted", "gave up") or None.

        ``start`` and ``stop`` are the supervisor's functions, bound to the project and to the
        environment the caller wants a new worker to have.
        """
        state = worker.get("state")
        pid = worker.get("pid") or worker.get("lastPid")
        now = self._clock()
        if state in ("crashed", "unresponsive") and pid != self._seen_pid:
            # A new failure (each worker process counts once).
            self._seen_pid = pid
            if self._record_failure(f"worker {state} (pid {pid})"):
                return "gave up"
        if self.gave_up is not None:
            return None
        if state == "running":
            self._retry_at = None
            return None
        if self._retry_at is not None and now >= self._retry_at:
            if state == "unresponsive":
                stop()
            if work_waiting:
                self._retry_at = None
                start()
                self.restarts += 1
                return "restarted"
        return None
